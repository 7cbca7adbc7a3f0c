-- Moderation of people and chat, as migrations/mysql declares it. sqlx runs a migration in one
-- transaction: nothing is left half-done if a step fails.

ALTER TABLE chat_messages ADD COLUMN edited_at TEXT NULL;
ALTER TABLE chat_messages ADD COLUMN deleted_at TEXT NULL;
ALTER TABLE chat_messages ADD COLUMN deleted_by TEXT NULL;
ALTER TABLE chat_messages ADD COLUMN moderated BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX IF NOT EXISTS idx_chat_messages_id ON chat_messages (project_id, message_id);

CREATE TABLE IF NOT EXISTS chat_removals (
    removal_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id  INTEGER NOT NULL,
    message_id  TEXT NOT NULL,
    author      TEXT NOT NULL,
    sender_name TEXT NOT NULL,
    message     TEXT NOT NULL,
    sent_at     TEXT NOT NULL,
    removed_by  TEXT NOT NULL,
    removed_at  TEXT NOT NULL,
    report_id   INTEGER NULL
);
CREATE INDEX IF NOT EXISTS idx_chat_removals_time ON chat_removals (removed_at, removal_id);

-- SQLite cannot relax project_id's NOT NULL in place: the reports table is rebuilt.
CREATE TABLE project_reports_rebuilt (
    report_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id          TEXT NOT NULL,
    project_id       INTEGER NULL,
    type             TEXT NOT NULL,
    content          TEXT NOT NULL,
    status           TEXT NOT NULL,
    resolution_note  TEXT NULL,
    decision         TEXT NULL,
    open_slot        INTEGER NULL,
    decision_token   TEXT NULL,
    decision_until   TEXT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    target_kind      TEXT NOT NULL DEFAULT 'PROJECT',
    target_ref       TEXT NULL,
    target_key       TEXT GENERATED ALWAYS AS (COALESCE(target_ref, 'project:' || project_id)) STORED,
    reported_user_id TEXT NULL,
    message_id       TEXT NULL,
    message_sk       TEXT NULL,
    message_author   TEXT NULL,
    message_sender   TEXT NULL,
    message_text     TEXT NULL,
    message_sent_at  TEXT NULL
);
INSERT INTO project_reports_rebuilt
    (report_id, user_id, project_id, type, content, status, resolution_note, decision, open_slot,
     decision_token, decision_until, created_at, updated_at, target_kind)
SELECT report_id, user_id, project_id, type, content, status, resolution_note, decision, open_slot,
       decision_token, decision_until, created_at, updated_at, 'PROJECT'
FROM project_reports;
DROP TABLE project_reports;
ALTER TABLE project_reports_rebuilt RENAME TO project_reports;
CREATE UNIQUE INDEX IF NOT EXISTS uq_project_reports_open_target ON project_reports (user_id, target_key, open_slot);
CREATE INDEX IF NOT EXISTS idx_project_reports_target_open ON project_reports (target_key, open_slot);
CREATE INDEX IF NOT EXISTS idx_project_reports_kind_time ON project_reports (target_kind, created_at, report_id);
CREATE INDEX IF NOT EXISTS idx_project_reports_time ON project_reports (created_at, report_id);
CREATE INDEX IF NOT EXISTS idx_project_reports_status_time ON project_reports (status, created_at, report_id);
CREATE INDEX IF NOT EXISTS idx_project_reports_project_open ON project_reports (project_id, open_slot);
CREATE INDEX IF NOT EXISTS idx_project_reports_user_time ON project_reports (user_id, created_at, report_id);

CREATE TABLE report_actions_rebuilt (
    action_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id      INTEGER NULL,
    project_id     INTEGER NULL,
    admin_id       TEXT NOT NULL,
    action         TEXT NOT NULL,
    note           TEXT NULL,
    outcome        TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    subject_title  TEXT NULL,
    subject_leader TEXT NULL
);
INSERT INTO report_actions_rebuilt
    (action_id, report_id, project_id, admin_id, action, note, outcome, created_at, subject_title, subject_leader)
SELECT action_id, report_id, project_id, admin_id, action, note, outcome, created_at, subject_title, subject_leader
FROM report_actions;
DROP TABLE report_actions;
ALTER TABLE report_actions_rebuilt RENAME TO report_actions;
CREATE INDEX IF NOT EXISTS idx_report_actions_report ON report_actions (report_id, action_id);
CREATE INDEX IF NOT EXISTS idx_report_actions_project ON report_actions (project_id, action_id);
