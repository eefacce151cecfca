-- How many more connections the server can give: its limit, the slots it keeps
-- for superusers, and the client connections already open (this one included).
SELECT current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS superuser_reserved,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS in_use
