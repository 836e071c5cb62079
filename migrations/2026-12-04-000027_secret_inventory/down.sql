DROP FUNCTION public.salus_clinic_key_ages();
DROP TABLE secret_inventory;
