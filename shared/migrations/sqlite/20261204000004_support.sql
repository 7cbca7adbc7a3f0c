-- Support tickets answered in a thread, as migrations/mysql declares them.

ALTER TABLE project_reports ADD COLUMN title TEXT NULL;
ALTER TABLE project_reports ADD COLUMN reply_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE project_reports ADD COLUMN waiting_since TEXT NULL;
CREATE INDEX IF NOT EXISTS idx_project_reports_waiting ON project_reports (status, waiting_since, report_id);

CREATE TABLE IF NOT EXISTS report_replies (
    reply_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id       INTEGER NOT NULL,
    author          TEXT NOT NULL,
    author_id       TEXT NOT NULL,
    message         TEXT NOT NULL,
    idempotency_key TEXT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_report_replies_report ON report_replies (report_id, reply_id);
CREATE UNIQUE INDEX IF NOT EXISTS uq_report_replies_key ON report_replies (report_id, author_id, idempotency_key);
