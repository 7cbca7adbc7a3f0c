-- A connection admitted as an administrator rather than a team member (MySQL 8 / MariaDB 10.11).
SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'ws_connections' AND column_name = 'admin') = 0,
    'ALTER TABLE ws_connections ADD COLUMN admin BOOLEAN NOT NULL DEFAULT FALSE',
    'DO 0');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;
