-- What a delete decision will tell, kept with its log entries: the project's title and leader
-- as found before the Project service was asked to delete.
ALTER TABLE report_actions ADD COLUMN subject_title VARCHAR(200) NULL;
ALTER TABLE report_actions ADD COLUMN subject_leader CHAR(36) NULL;
-- When the token a socket connected with (or last refreshed with) expires.
ALTER TABLE ws_connections ADD COLUMN token_expires_at DATETIME(3) NULL;
