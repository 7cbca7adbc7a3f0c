-- Moderation of people and chat (MySQL 8 / MariaDB 10.11). Safe to run again: every ALTER is
-- guarded by what it adds, and a single ALTER TABLE is applied whole or not at all.

-- Chat messages their authors edit and delete, and admins remove: a deleted message keeps its row
-- as a tombstone (empty text, who and when). Message ids are compared exactly (ascii_bin), as
-- the idempotency table already does; every id is ASCII, so the conversion keeps them all.
SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'chat_messages' AND column_name = 'deleted_at') = 0,
    'ALTER TABLE chat_messages
        MODIFY message_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
        ADD COLUMN edited_at DATETIME(3) NULL,
        ADD COLUMN deleted_at DATETIME(3) NULL,
        ADD COLUMN deleted_by VARCHAR(64) NULL,
        ADD COLUMN moderated BOOLEAN NOT NULL DEFAULT FALSE,
        ADD KEY idx_chat_messages_id (project_id, message_id)',
    'DO 0');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

-- Administrators' removals: the audit log, with the text each removed.
CREATE TABLE IF NOT EXISTS chat_removals (
    removal_id  BIGINT NOT NULL AUTO_INCREMENT,
    project_id  BIGINT NOT NULL,
    message_id  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    author      VARCHAR(64) NOT NULL,
    sender_name VARCHAR(50) NOT NULL,
    message     TEXT NOT NULL,
    sent_at     DATETIME(3) NOT NULL,
    removed_by  VARCHAR(64) NOT NULL,
    removed_at  DATETIME(3) NOT NULL,
    report_id   BIGINT NULL,
    PRIMARY KEY (removal_id),
    KEY idx_chat_removals_time (removed_at, removal_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Reports on a project, a user or a chat message. `target_key` names the target
-- (`project:<id>`, `user:<id>`, `message:<project>:<id>`): one open report per reporter and
-- target. It is computed from `target_ref` (what this release writes) or, for a row the previous
-- release writes during a deploy or after a rollback (it knows neither column), from its
-- project: so that release's inserts keep working and keep its one-open-report rule. A message
-- report keeps a snapshot of the message (evidence that survives an edit or a deletion).
-- `project_id` is the target or its context, absent for a user reported on their own.
SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'project_reports' AND column_name = 'target_ref') = 0,
    'ALTER TABLE project_reports
        MODIFY project_id BIGINT NULL,
        ADD COLUMN target_kind VARCHAR(16) NOT NULL DEFAULT ''PROJECT'',
        ADD COLUMN target_ref VARCHAR(120) CHARACTER SET ascii COLLATE ascii_bin NULL,
        ADD COLUMN reported_user_id VARCHAR(64) NULL,
        ADD COLUMN message_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
        ADD COLUMN message_sk VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NULL,
        ADD COLUMN message_author VARCHAR(64) NULL,
        ADD COLUMN message_sender VARCHAR(50) NULL,
        ADD COLUMN message_text TEXT NULL,
        ADD COLUMN message_sent_at DATETIME(3) NULL',
    'DO 0');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;
SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'project_reports' AND column_name = 'target_key') = 0,
    'ALTER TABLE project_reports
        ADD COLUMN target_key VARCHAR(120) CHARACTER SET ascii COLLATE ascii_bin
            GENERATED ALWAYS AS (COALESCE(target_ref, CONCAT(''project:'', project_id))) STORED',
    'DO 0');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;
SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.statistics
      WHERE table_schema = DATABASE() AND table_name = 'project_reports' AND index_name = 'uq_project_reports_open_target') = 0,
    'ALTER TABLE project_reports
        DROP INDEX uq_project_reports_open,
        ADD UNIQUE KEY uq_project_reports_open_target (user_id, target_key, open_slot),
        ADD KEY idx_project_reports_target_open (target_key, open_slot),
        ADD KEY idx_project_reports_kind_time (target_kind, created_at, report_id)',
    'DO 0');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

-- A decision on a user reported without a project logs no project.
ALTER TABLE report_actions MODIFY project_id BIGINT NULL;
