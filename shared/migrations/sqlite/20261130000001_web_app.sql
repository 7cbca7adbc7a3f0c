-- What the web app and the admin tools send (see migrations/mysql for the why). SQLite runs a
-- migration in one transaction, so it applies whole or not at all.

ALTER TABLE events ADD COLUMN start_at TEXT NULL;
ALTER TABLE events ADD COLUMN end_at TEXT NULL;
ALTER TABLE events ADD COLUMN all_day BOOLEAN NOT NULL DEFAULT TRUE;
-- Rows from before: each spans its whole KST day (+09:00), in the RFC 3339 form sqlx writes.
UPDATE events
   SET start_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', start_date, '-540 minutes'),
       end_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', end_date, '+1 day', '-540 minutes', '-0.001 seconds')
 WHERE start_at IS NULL OR end_at IS NULL;
CREATE INDEX IF NOT EXISTS idx_events_start_at ON events (start_at, event_id);

-- Banners: image_url becomes optional (SQLite changes a column by rebuilding the table).
CREATE TABLE banners_rebuilt (
    banner_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    title      TEXT NOT NULL,
    link       TEXT NULL,
    image_url  TEXT NULL,
    is_active  BOOLEAN NOT NULL DEFAULT TRUE,
    sort_order INTEGER NOT NULL DEFAULT 0,
    start_at   TEXT NULL,
    end_at     TEXT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO banners_rebuilt (banner_id, title, link, image_url, is_active, sort_order, start_at, end_at, created_at, updated_at)
    SELECT banner_id, title, link, image_url, is_active, sort_order, start_at, end_at, created_at, updated_at FROM banners;
DROP TABLE banners;
ALTER TABLE banners_rebuilt RENAME TO banners;
CREATE INDEX IF NOT EXISTS idx_banners_order ON banners (sort_order, created_at, banner_id);

ALTER TABLE ws_connections ADD COLUMN notifications BOOLEAN NOT NULL DEFAULT FALSE;
