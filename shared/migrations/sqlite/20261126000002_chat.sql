-- Chat in the embedded file: the same keys as the DynamoDB tables (see migrations/mysql).

CREATE TABLE IF NOT EXISTS chat_messages (
    project_id    INTEGER NOT NULL,
    sk            TEXT NOT NULL,
    message_id    TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    sender_name   TEXT NOT NULL,
    message       TEXT NOT NULL,
    sent_at       TEXT NOT NULL,
    is_in_meeting BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (project_id, sk)
);

CREATE TABLE IF NOT EXISTS chat_message_ids (
    project_id INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    sk         TEXT NOT NULL,
    PRIMARY KEY (project_id, message_id)
);

CREATE TABLE IF NOT EXISTS chat_rooms (
    user_id    TEXT NOT NULL,
    project_id INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user_id, project_id)
);

CREATE TABLE IF NOT EXISTS ws_connections (
    connection_id TEXT NOT NULL PRIMARY KEY,
    user_id       TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    project_id    INTEGER NOT NULL,
    connected_at  TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_ws_connections_project ON ws_connections (project_id);
CREATE INDEX IF NOT EXISTS idx_ws_connections_user ON ws_connections (user_id);
