DROP FUNCTION public.salus_platform_clinics(uuid);
DROP TABLE operator_sessions;
DROP TABLE operators;
