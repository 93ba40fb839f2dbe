-- Roles. The owner role owns every table (and is itself subject to FORCE ROW LEVEL SECURITY);
-- the api and worker roles read and write through RLS with app.user_id set per transaction;
-- the ops role reads job metadata and events across users but never document content.
-- None of them is a superuser or has BYPASSRLS. Passwords are set by the operator (README).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'docintake_owner') THEN
        CREATE ROLE docintake_owner NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'docintake_api') THEN
        CREATE ROLE docintake_api LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'docintake_worker') THEN
        CREATE ROLE docintake_worker LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'docintake_ops') THEN
        CREATE ROLE docintake_ops LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
END
$$;

-- The migrating user creates objects as the owner role (SET ROLE in later migrations).
GRANT docintake_owner TO CURRENT_USER;

CREATE EXTENSION IF NOT EXISTS vector;

-- PostgreSQL 15+ no longer lets PUBLIC create in schema public; only the owner may.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO docintake_owner;
GRANT USAGE ON SCHEMA public TO docintake_api, docintake_worker, docintake_ops;
