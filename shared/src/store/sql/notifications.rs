use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{SqlDb, SqlValue, Statement};
use crate::domain::{
    Cursor, Limit, NotificationId, Page, UserId,
    notification::{MarkRead, NewNotification, Notification},
};
use crate::store::{NotificationStore, StoreError};

#[derive(sqlx::FromRow)]
struct Row {
    notification_id: i64,
    user_id: String,
    message: String,
    link: Option<String>,
    is_read: bool,
    created_at: DateTime<Utc>,
}

impl From<Row> for Notification {
    fn from(r: Row) -> Self {
        Self {
            notification_id: NotificationId::from_stored(r.notification_id),
            user_id: UserId::from_stored(r.user_id),
            message: r.message,
            link: r.link,
            is_read: r.is_read,
            created_at: r.created_at,
        }
    }
}

#[async_trait]
impl NotificationStore for SqlDb {
    async fn create(&self, new: &NewNotification, at: DateTime<Utc>) -> Result<Notification, StoreError> {
        let link = new.link.as_ref().map(|l| l.as_str());
        let done = self
            .execute(
                &Statement::new(
                    "INSERT INTO notifications (user_id, message, link, is_read, created_at) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(&new.user_id)
                .bind(new.message.as_str())
                .bind(link)
                .bind(false)
                .bind(at),
            )
            .await?;
        Ok(Notification {
            notification_id: NotificationId::from_stored(done.last_insert_id),
            user_id: new.user_id.clone(),
            message: new.message.as_str().to_owned(),
            link: link.map(str::to_owned),
            is_read: false,
            created_at: at,
        })
    }

    async fn list(
        &self,
        user: &UserId,
        unread_only: bool,
        limit: Limit,
        after: Option<Cursor>,
    ) -> Result<Page<Notification>, StoreError> {
        let mut stmt = Statement::new(
            "SELECT notification_id, user_id, message, link, is_read, created_at FROM notifications WHERE user_id = ?",
        )
        .bind(user);
        if unread_only {
            stmt = stmt.push("AND is_read = ?").bind(false);
        }
        if let Some(cursor) = after {
            let at = cursor.instant().ok_or_else(|| StoreError::Internal("cursor outside the time range".into()))?;
            stmt = stmt
                .push("AND (created_at < ? OR (created_at = ? AND notification_id < ?))")
                .bind(at)
                .bind(at)
                .bind(cursor.id);
        }
        let stmt = stmt.push("ORDER BY created_at DESC, notification_id DESC LIMIT ?").bind(limit.probe());
        let rows: Vec<Row> = self.fetch_all(&stmt).await?;
        Ok(Page::from_probe(rows, limit, |r| Cursor::at_instant(&r.created_at, r.notification_id)).map(Into::into))
    }

    async fn unread_count(&self, user: &UserId) -> Result<i64, StoreError> {
        self.fetch_count(
            &Statement::new("SELECT COUNT(*) FROM notifications WHERE user_id = ? AND is_read = ?")
                .bind(user)
                .bind(false),
        )
        .await
    }

    async fn mark_read(&self, user: &UserId, which: &MarkRead, at: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut stmt =
            Statement::new("UPDATE notifications SET is_read = ?, read_at = ? WHERE user_id = ? AND is_read = ?")
                .bind(true)
                .bind(at)
                .bind(user)
                .bind(false);
        if let MarkRead::Ids(ids) = which {
            stmt = stmt.push("AND notification_id IN").push_in_list(ids.iter().map(|id| SqlValue::from(*id)));
        }
        Ok(self.execute(&stmt).await?.rows_affected)
    }
}
