-- Read markers, presence and typing, as migrations/mysql declares them.

ALTER TABLE chat_rooms ADD COLUMN read_up_to TEXT NULL;
ALTER TABLE chat_rooms ADD COLUMN last_read_at TEXT NULL;
ALTER TABLE ws_connections ADD COLUMN member BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE ws_connections ADD COLUMN live BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE IF NOT EXISTS chat_typing (
    user_id    TEXT NOT NULL,
    project_id INTEGER NOT NULL,
    typing_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, project_id)
);
