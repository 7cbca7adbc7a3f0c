-- What the web app and the admin tools send (see README, "Web app"), MySQL 8 / MariaDB 10.11.
-- Every statement can run again after an interruption: column additions are guarded by
-- information_schema (MySQL 8 has no ADD COLUMN IF NOT EXISTS), updates touch only rows not
-- yet migrated, and re-applying a MODIFY changes nothing.

-- Events keep the time an admin gives: start_at/end_at instants beside the dates (the dates on
-- the KST calendar, which filters and paging use). all_day: both bounds were given as dates.
SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'events' AND column_name = 'start_at') = 0,
    'ALTER TABLE events ADD COLUMN start_at DATETIME(3) NULL AFTER end_date, ADD COLUMN end_at DATETIME(3) NULL AFTER start_at, ADD COLUMN all_day BOOLEAN NOT NULL DEFAULT TRUE AFTER end_at',
    'DO 0');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

-- Rows from before carried dates only: each spans its whole KST day (+09:00), to the millisecond;
-- the first and last days DATETIME can hold are clamped to its range.
UPDATE events
   SET start_at = CASE WHEN start_date < '1000-01-02' THEN CAST('1000-01-01 00:00:00' AS DATETIME(3))
                       ELSE TIMESTAMPADD(MINUTE, -540, CAST(start_date AS DATETIME(3))) END,
       end_at = CASE WHEN end_date >= '9999-12-31' THEN CAST('9999-12-31 14:59:59.999' AS DATETIME(3))
                     ELSE TIMESTAMPADD(MICROSECOND, -1000,
                          TIMESTAMPADD(MINUTE, -540, CAST(TIMESTAMPADD(DAY, 1, end_date) AS DATETIME(3)))) END,
       all_day = TRUE
 WHERE start_at IS NULL OR end_at IS NULL;

ALTER TABLE events MODIFY start_at DATETIME(3) NOT NULL, MODIFY end_at DATETIME(3) NOT NULL;

-- Events list by start instant now that they carry one.
SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.statistics
      WHERE table_schema = DATABASE() AND table_name = 'events' AND index_name = 'idx_events_start_at') = 0,
    'CREATE INDEX idx_events_start_at ON events (start_at, event_id)',
    'DO 0');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

-- Banners as the original service stored them: the image is optional.
ALTER TABLE banners MODIFY image_url VARCHAR(2048) NULL;

-- A socket receives notification frames only when it asked for them.
SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'ws_connections' AND column_name = 'notifications') = 0,
    'ALTER TABLE ws_connections ADD COLUMN notifications BOOLEAN NOT NULL DEFAULT FALSE',
    'DO 0');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;
