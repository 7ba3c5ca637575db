-- Runs once, when the postgres volume is first initialised (docker-entrypoint-initdb.d).
-- One database per service: each service owns its schema and runs its own migrations.
CREATE DATABASE auth;
CREATE DATABASE grades;
CREATE DATABASE registry;
CREATE DATABASE audit;
CREATE DATABASE backup;

REVOKE CONNECT ON DATABASE auth, grades, registry, audit, backup FROM PUBLIC;
