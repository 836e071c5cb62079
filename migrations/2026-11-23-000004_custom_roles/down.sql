DROP TABLE permission_overrides, membership_custom_roles, custom_roles;
