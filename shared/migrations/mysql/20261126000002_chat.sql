-- Chat tables for the embedded/SQL chat adapter (local runs). In AWS chat lives in DynamoDB;
-- these mirror its keys so both adapters pass one conformance suite.
-- Sort keys are ASCII compared byte-wise, as DynamoDB compares them.

CREATE TABLE IF NOT EXISTS chat_messages (
    project_id    BIGINT NOT NULL,
    sk            VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    message_id    VARCHAR(64) NOT NULL,
    user_id       VARCHAR(64) NOT NULL,
    sender_name   VARCHAR(50) NOT NULL,
    message       TEXT NOT NULL,
    sent_at       DATETIME(3) NOT NULL,
    is_in_meeting BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (project_id, sk)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS chat_message_ids (
    project_id BIGINT NOT NULL,
    message_id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    sk         VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (project_id, message_id)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS chat_rooms (
    user_id    VARCHAR(64) NOT NULL,
    project_id BIGINT NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    PRIMARY KEY (user_id, project_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS ws_connections (
    connection_id VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id       VARCHAR(64) NOT NULL,
    display_name  VARCHAR(50) NOT NULL,
    project_id    BIGINT NOT NULL,
    connected_at  DATETIME(3) NOT NULL,
    expires_at    DATETIME(3) NOT NULL,
    PRIMARY KEY (connection_id),
    KEY idx_ws_connections_project (project_id),
    KEY idx_ws_connections_user (user_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
