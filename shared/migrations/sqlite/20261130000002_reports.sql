-- Reports and their action log, as migrations/mysql declares them.

CREATE TABLE IF NOT EXISTS project_reports (
    report_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         TEXT NOT NULL,
    project_id      INTEGER NOT NULL,
    type            TEXT NOT NULL,
    content         TEXT NOT NULL,
    status          TEXT NOT NULL,
    resolution_note TEXT NULL,
    decision        TEXT NULL,
    open_slot       INTEGER NULL,
    decision_token  TEXT NULL,
    decision_until  TEXT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS uq_project_reports_open ON project_reports (user_id, project_id, open_slot);
CREATE INDEX IF NOT EXISTS idx_project_reports_time ON project_reports (created_at, report_id);
CREATE INDEX IF NOT EXISTS idx_project_reports_status_time ON project_reports (status, created_at, report_id);
CREATE INDEX IF NOT EXISTS idx_project_reports_project_open ON project_reports (project_id, open_slot);
CREATE INDEX IF NOT EXISTS idx_project_reports_user_time ON project_reports (user_id, created_at, report_id);

CREATE TABLE IF NOT EXISTS report_actions (
    action_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id  INTEGER NULL,
    project_id INTEGER NOT NULL,
    admin_id   TEXT NOT NULL,
    action     TEXT NOT NULL,
    note       TEXT NULL,
    outcome    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_report_actions_report ON report_actions (report_id, action_id);
CREATE INDEX IF NOT EXISTS idx_report_actions_project ON report_actions (project_id, action_id);
