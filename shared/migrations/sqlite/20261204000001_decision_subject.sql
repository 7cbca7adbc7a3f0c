-- What a delete decision will tell, kept with its log entries: the project's title and leader
-- as found before the Project service was asked to delete.
ALTER TABLE report_actions ADD COLUMN subject_title VARCHAR(200) NULL;
ALTER TABLE report_actions ADD COLUMN subject_leader CHAR(36) NULL;
