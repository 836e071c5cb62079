DROP FUNCTION public.salus_destroy_clinic(uuid);
SET LOCAL ROLE salus_audit;
DROP FUNCTION audit.destroy_chain(uuid);
RESET ROLE;
DROP TABLE clinic_closures;
