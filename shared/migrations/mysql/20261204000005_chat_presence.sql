-- Read markers, presence and typing (MySQL 8 / MariaDB 10.11). Safe to run again.

-- A member's read marker in a project's chat: the sort key of the newest message they marked
-- read (it never moves backwards) and when they did. Rows the previous release writes have none.
SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'chat_rooms' AND column_name = 'read_up_to') = 0,
    'ALTER TABLE chat_rooms
        ADD COLUMN read_up_to VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NULL,
        ADD COLUMN last_read_at DATETIME(3) NULL',
    'DO 0');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

-- Whether a socket counts for its project's presence (its user was in the team when it
-- connected: an administrator reading as one is not shown), and whether it asked for live-chat
-- frames (presence, typing, read). The previous release's rows do neither.
SET @ddl = IF(
    (SELECT COUNT(*) FROM information_schema.columns
      WHERE table_schema = DATABASE() AND table_name = 'ws_connections' AND column_name = 'member') = 0,
    'ALTER TABLE ws_connections
        ADD COLUMN member BOOLEAN NOT NULL DEFAULT FALSE,
        ADD COLUMN live BOOLEAN NOT NULL DEFAULT FALSE',
    'DO 0');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

-- When each member last had a typing frame passed on in a project: at most one every 3 s.
CREATE TABLE IF NOT EXISTS chat_typing (
    user_id    VARCHAR(64) NOT NULL,
    project_id BIGINT NOT NULL,
    typing_at  DATETIME(3) NOT NULL,
    PRIMARY KEY (user_id, project_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
