-- Reports on projects and the log of every decision on them (MySQL 8 / MariaDB 10.11).
-- CREATE TABLE IF NOT EXISTS makes each statement safe to run again after an interruption.

CREATE TABLE IF NOT EXISTS project_reports (
    report_id       BIGINT NOT NULL AUTO_INCREMENT,
    user_id         CHAR(36) NOT NULL,
    project_id      BIGINT NOT NULL,
    type            VARCHAR(16) NOT NULL,
    content         TEXT NOT NULL,
    status          VARCHAR(16) NOT NULL,
    resolution_note TEXT NULL,
    decision        VARCHAR(16) NULL,
    -- 1 while open, NULL once closed: one open report per reporter and project (NULLs never collide).
    open_slot       TINYINT NULL,
    -- Who is deciding right now, and until when (a lease, so two admins cannot decide at once).
    decision_token  CHAR(36) NULL,
    decision_until  DATETIME(3) NULL,
    created_at      DATETIME(3) NOT NULL,
    updated_at      DATETIME(3) NOT NULL,
    PRIMARY KEY (report_id),
    UNIQUE KEY uq_project_reports_open (user_id, project_id, open_slot),
    KEY idx_project_reports_time (created_at, report_id),
    KEY idx_project_reports_status_time (status, created_at, report_id),
    KEY idx_project_reports_project_open (project_id, open_slot),
    KEY idx_project_reports_user_time (user_id, created_at, report_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS report_actions (
    action_id  BIGINT NOT NULL AUTO_INCREMENT,
    report_id  BIGINT NULL,
    project_id BIGINT NOT NULL,
    admin_id   CHAR(36) NOT NULL,
    action     VARCHAR(16) NOT NULL,
    note       TEXT NULL,
    outcome    VARCHAR(32) NOT NULL,
    created_at DATETIME(3) NOT NULL,
    PRIMARY KEY (action_id),
    KEY idx_report_actions_report (report_id, action_id),
    KEY idx_report_actions_project (project_id, action_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
