-- Relational data of the Support & Communication service (MySQL 8 / MariaDB 10.11).
-- Every statement is idempotent so a migration interrupted midway can simply run again.
-- utf8mb4_unicode_ci exists on both engines and stores Korean and emoji.

CREATE TABLE IF NOT EXISTS notifications (
    notification_id BIGINT NOT NULL AUTO_INCREMENT,
    user_id         CHAR(36) NOT NULL,
    message         VARCHAR(500) NOT NULL,
    link            VARCHAR(2048) NULL,
    is_read         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      DATETIME(3) NOT NULL,
    read_at         DATETIME(3) NULL,
    PRIMARY KEY (notification_id),
    KEY idx_notifications_user_time (user_id, created_at, notification_id),
    KEY idx_notifications_user_unread (user_id, is_read)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS notices (
    notice_id  BIGINT NOT NULL AUTO_INCREMENT,
    title      VARCHAR(100) NOT NULL,
    content    MEDIUMTEXT NOT NULL,
    created_at DATETIME(3) NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    PRIMARY KEY (notice_id),
    KEY idx_notices_time (created_at, notice_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS banners (
    banner_id  BIGINT NOT NULL AUTO_INCREMENT,
    title      VARCHAR(100) NOT NULL,
    link       VARCHAR(2048) NULL,
    image_url  VARCHAR(2048) NOT NULL,
    is_active  BOOLEAN NOT NULL DEFAULT TRUE,
    sort_order INT NOT NULL DEFAULT 0,
    start_at   DATETIME(3) NULL,
    end_at     DATETIME(3) NULL,
    created_at DATETIME(3) NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    PRIMARY KEY (banner_id),
    KEY idx_banners_order (sort_order, created_at, banner_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS events (
    event_id    BIGINT NOT NULL AUTO_INCREMENT,
    title       VARCHAR(200) NOT NULL,
    category    VARCHAR(20) NOT NULL,
    description TEXT NULL,
    image_url   VARCHAR(2048) NULL,
    method      VARCHAR(50) NULL,
    location    VARCHAR(200) NULL,
    link        VARCHAR(2048) NULL,
    start_date  DATE NOT NULL,
    end_date    DATE NOT NULL,
    created_at  DATETIME(3) NOT NULL,
    updated_at  DATETIME(3) NOT NULL,
    PRIMARY KEY (event_id),
    KEY idx_events_start (start_date, event_id),
    KEY idx_events_category_start (category, start_date, event_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
