DROP INDEX audit.events_platform_operations;
