-- Support tickets answered in a thread (MySQL 8 / MariaDB 10.11). Safe to run again.

-- A ticket's optional title; how many replies it holds (bounded, counted in the same
-- transaction as each reply); since when a pending report waits for the administrators (filed,
-- or sent back by its reporter; NULL for rows the previous release writes: their filing counts).
SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'project_reports' AND column_name = 'reply_count') = 0,
    'ALTER TABLE project_reports
        ADD COLUMN title VARCHAR(100) NULL,
        ADD COLUMN reply_count INT NOT NULL DEFAULT 0,
        ADD COLUMN waiting_since DATETIME(3) NULL,
        ADD KEY idx_project_reports_waiting (status, waiting_since, report_id)',
    'DO 0');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

-- The conversation on each report, oldest first. An administrator's reply keeps the
-- administrator's id (the reporter sees only "ADMIN"); a client's Idempotency-Key stores one
-- reply per author and report.
CREATE TABLE IF NOT EXISTS report_replies (
    reply_id        BIGINT NOT NULL AUTO_INCREMENT,
    report_id       BIGINT NOT NULL,
    author          VARCHAR(8) NOT NULL,
    author_id       VARCHAR(64) NOT NULL,
    message         TEXT NOT NULL,
    idempotency_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
    created_at      DATETIME(3) NOT NULL,
    PRIMARY KEY (reply_id),
    KEY idx_report_replies_report (report_id, reply_id),
    UNIQUE KEY uq_report_replies_key (report_id, author_id, idempotency_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
