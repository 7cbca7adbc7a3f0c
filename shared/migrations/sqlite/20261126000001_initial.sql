-- The embedded (local) schema: the same tables and indexes as migrations/mysql in SQLite's
-- dialect. Times are stored as RFC 3339 UTC text, which sorts chronologically.

CREATE TABLE IF NOT EXISTS notifications (
    notification_id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         TEXT NOT NULL,
    message         TEXT NOT NULL,
    link            TEXT NULL,
    is_read         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TEXT NOT NULL,
    read_at         TEXT NULL
);
CREATE INDEX IF NOT EXISTS idx_notifications_user_time ON notifications (user_id, created_at, notification_id);
CREATE INDEX IF NOT EXISTS idx_notifications_user_unread ON notifications (user_id, is_read);

CREATE TABLE IF NOT EXISTS notices (
    notice_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    title      TEXT NOT NULL,
    content    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_notices_time ON notices (created_at, notice_id);

CREATE TABLE IF NOT EXISTS banners (
    banner_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    title      TEXT NOT NULL,
    link       TEXT NULL,
    image_url  TEXT NOT NULL,
    is_active  BOOLEAN NOT NULL DEFAULT TRUE,
    sort_order INTEGER NOT NULL DEFAULT 0,
    start_at   TEXT NULL,
    end_at     TEXT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_banners_order ON banners (sort_order, created_at, banner_id);

CREATE TABLE IF NOT EXISTS events (
    event_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    title       TEXT NOT NULL,
    category    TEXT NOT NULL,
    description TEXT NULL,
    image_url   TEXT NULL,
    method      TEXT NULL,
    location    TEXT NULL,
    link        TEXT NULL,
    start_date  TEXT NOT NULL,
    end_date    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_events_start ON events (start_date, event_id);
CREATE INDEX IF NOT EXISTS idx_events_category_start ON events (category, start_date, event_id);
