DROP FUNCTION public.salus_rate_limit_plans(uuid[]);
DROP TABLE request_rate_limits;
