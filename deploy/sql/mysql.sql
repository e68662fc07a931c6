-- The OpenSIPS janus table, for MySQL and MariaDB. Apply with:
--   mysql -h host -u user -p db < deploy/sql/mysql.sql
-- An OpenSIPS database already has the version table; it is created here only when missing.
CREATE TABLE IF NOT EXISTS version (
    table_name CHAR(32) NOT NULL,
    table_version INT UNSIGNED DEFAULT 0 NOT NULL,
    CONSTRAINT t_name_idx UNIQUE (table_name)
) ENGINE=InnoDB;

INSERT INTO version (table_name, table_version) VALUES ('janus', '1');

CREATE TABLE janus (
    id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    janus_id TEXT NOT NULL,
    janus_url TEXT NOT NULL
) ENGINE=InnoDB;
