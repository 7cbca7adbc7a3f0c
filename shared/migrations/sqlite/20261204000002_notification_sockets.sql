-- A socket may be opened for the user's notifications only, without a project: its row has no
-- project_id. SQLite cannot relax a NOT NULL column in place, so the table is rebuilt (sqlx runs
-- a migration in one transaction: nothing is lost if a step fails).
CREATE TABLE ws_connections_rebuilt (
    connection_id    TEXT NOT NULL PRIMARY KEY,
    user_id          TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    project_id       INTEGER NULL,
    connected_at     TEXT NOT NULL,
    expires_at       TEXT NOT NULL,
    notifications    BOOLEAN NOT NULL DEFAULT FALSE,
    admin            BOOLEAN NOT NULL DEFAULT FALSE,
    token_expires_at DATETIME(3) NULL
);
INSERT INTO ws_connections_rebuilt
    (connection_id, user_id, display_name, project_id, connected_at, expires_at, notifications, admin, token_expires_at)
SELECT connection_id, user_id, display_name, project_id, connected_at, expires_at, notifications, admin, token_expires_at
FROM ws_connections;
DROP TABLE ws_connections;
ALTER TABLE ws_connections_rebuilt RENAME TO ws_connections;
CREATE INDEX IF NOT EXISTS idx_ws_connections_project ON ws_connections (project_id);
CREATE INDEX IF NOT EXISTS idx_ws_connections_user ON ws_connections (user_id);
