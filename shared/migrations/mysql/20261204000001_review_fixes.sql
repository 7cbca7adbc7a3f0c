-- What a delete decision will tell, kept with its log entries (MySQL 8 / MariaDB 10.11): the
-- project's title and leader as found before the Project service was asked to delete, so that a
-- retry after a later step failed can still tell them. Guarded: safe to run again.
SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'report_actions' AND column_name = 'subject_title') = 0,
    'ALTER TABLE report_actions ADD COLUMN subject_title VARCHAR(200) NULL',
    'DO 0');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;
SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'report_actions' AND column_name = 'subject_leader') = 0,
    'ALTER TABLE report_actions ADD COLUMN subject_leader CHAR(36) NULL',
    'DO 0');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;
-- When the token a socket connected with (or last refreshed with) expires: the socket is closed
-- at its next frame after it, and broadcasts skip it. NULL for rows from before.
SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'ws_connections' AND column_name = 'token_expires_at') = 0,
    'ALTER TABLE ws_connections ADD COLUMN token_expires_at DATETIME(3) NULL',
    'DO 0');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;
