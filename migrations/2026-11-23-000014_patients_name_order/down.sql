DROP INDEX patients_name_order;
