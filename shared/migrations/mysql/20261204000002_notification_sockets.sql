-- A socket may be opened for the user's notifications only, without a project (MySQL 8 /
-- MariaDB 10.11): its row has no project_id. Safe to run again.
ALTER TABLE ws_connections MODIFY project_id BIGINT NULL;
