-- The OpenSIPS janus table, for PostgreSQL. Apply with:
--   psql "postgres://user@host/db" -v ON_ERROR_STOP=1 -f deploy/sql/postgres.sql
-- An OpenSIPS database already has the version table; it is created here only when missing.
CREATE TABLE IF NOT EXISTS version (
    table_name VARCHAR(32) NOT NULL,
    table_version INTEGER DEFAULT 0 NOT NULL,
    CONSTRAINT version_t_name_idx UNIQUE (table_name)
);

INSERT INTO version (table_name, table_version) VALUES ('janus', 1);

CREATE TABLE janus (
    id SERIAL PRIMARY KEY NOT NULL,
    janus_id TEXT NOT NULL,
    janus_url TEXT NOT NULL
);

ALTER SEQUENCE janus_id_seq MAXVALUE 2147483647 CYCLE;
