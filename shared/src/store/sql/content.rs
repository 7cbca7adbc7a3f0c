use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{SqlDb, Statement};
use crate::domain::{
    BannerId, Cursor, Limit, NoticeId, Page,
    content::{Banner, BannerDraft, Notice, NoticeDraft},
};
use crate::store::{BANNER_LIST_CAP, BannerStore, Guarded, NoticeStore, StoreError};

const NOTICE_COLUMNS: &str = "SELECT notice_id, title, content, created_at, updated_at FROM notices";
const BANNER_COLUMNS: &str = "SELECT banner_id, title, link, image_url, is_active, sort_order, start_at, end_at, created_at, updated_at FROM banners";
const BANNER_ORDER: &str = "ORDER BY sort_order ASC, created_at DESC, banner_id DESC LIMIT ?";

#[derive(sqlx::FromRow)]
struct NoticeRow {
    notice_id: i64,
    title: String,
    content: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<NoticeRow> for Notice {
    fn from(r: NoticeRow) -> Self {
        Self {
            notice_id: NoticeId::from_stored(r.notice_id),
            title: r.title,
            content: r.content,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct BannerRow {
    banner_id: i64,
    title: String,
    link: Option<String>,
    image_url: Option<String>,
    is_active: bool,
    sort_order: i32,
    start_at: Option<DateTime<Utc>>,
    end_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<BannerRow> for Banner {
    fn from(r: BannerRow) -> Self {
        Self {
            banner_id: BannerId::from_stored(r.banner_id),
            title: r.title,
            link: r.link,
            image_url: r.image_url,
            is_active: r.is_active,
            sort_order: r.sort_order,
            start_at: r.start_at,
            end_at: r.end_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[async_trait]
impl NoticeStore for SqlDb {
    async fn create(&self, draft: &NoticeDraft, at: DateTime<Utc>) -> Result<Notice, StoreError> {
        let done = self
            .execute(
                &Statement::new("INSERT INTO notices (title, content, created_at, updated_at) VALUES (?, ?, ?, ?)")
                    .bind(draft.title.as_str())
                    .bind(draft.content.as_str())
                    .bind(at)
                    .bind(at),
            )
            .await?;
        Ok(Notice {
            notice_id: NoticeId::from_stored(done.last_insert_id),
            title: draft.title.as_str().to_owned(),
            content: draft.content.as_str().to_owned(),
            created_at: at,
            updated_at: at,
        })
    }

    async fn get(&self, id: NoticeId) -> Result<Option<Notice>, StoreError> {
        let row: Option<NoticeRow> =
            self.fetch_optional(&Statement::new(NOTICE_COLUMNS).push("WHERE notice_id = ?").bind(id)).await?;
        Ok(row.map(Into::into))
    }

    async fn list(&self, limit: Limit, after: Option<Cursor>) -> Result<Page<Notice>, StoreError> {
        let mut stmt = Statement::new(NOTICE_COLUMNS);
        if let Some(cursor) = after {
            let at = cursor.instant().ok_or_else(|| StoreError::Internal("cursor outside the time range".into()))?;
            stmt = stmt
                .push("WHERE created_at < ? OR (created_at = ? AND notice_id < ?)")
                .bind(at)
                .bind(at)
                .bind(cursor.id);
        }
        let stmt = stmt.push("ORDER BY created_at DESC, notice_id DESC LIMIT ?").bind(limit.probe());
        let rows: Vec<NoticeRow> = self.fetch_all(&stmt).await?;
        Ok(Page::from_probe(rows, limit, |r| Cursor::at_instant(&r.created_at, r.notice_id)).map(Into::into))
    }

    async fn latest(&self) -> Result<Option<Notice>, StoreError> {
        let row: Option<NoticeRow> = self
            .fetch_optional(&Statement::new(NOTICE_COLUMNS).push("ORDER BY created_at DESC, notice_id DESC LIMIT 1"))
            .await?;
        Ok(row.map(Into::into))
    }

    async fn update(
        &self,
        id: NoticeId,
        draft: &NoticeDraft,
        read_at_version: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Guarded<Notice>, StoreError> {
        let done = self
            .execute(
                &Statement::new(
                    "UPDATE notices SET title = ?, content = ?, updated_at = ? WHERE notice_id = ? AND updated_at = ?",
                )
                .bind(draft.title.as_str())
                .bind(draft.content.as_str())
                .bind(at)
                .bind(id)
                .bind(read_at_version),
            )
            .await?;
        self.guarded(done.rows_affected, NoticeStore::get(self, id)).await
    }

    async fn delete(&self, id: NoticeId) -> Result<bool, StoreError> {
        let done = self.execute(&Statement::new("DELETE FROM notices WHERE notice_id = ?").bind(id)).await?;
        Ok(done.rows_affected > 0)
    }
}

#[async_trait]
impl BannerStore for SqlDb {
    async fn create(&self, draft: &BannerDraft, at: DateTime<Utc>) -> Result<Banner, StoreError> {
        let done = self
            .execute(
                &Statement::new(
                    "INSERT INTO banners (title, link, image_url, is_active, sort_order, start_at, end_at, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(draft.title.as_str())
                .bind(draft.link.as_ref().map(|l| l.as_str()))
                .bind(draft.image_url.as_ref().map(|l| l.as_str()))
                .bind(draft.is_active)
                .bind(draft.sort_order)
                .bind(draft.start_at)
                .bind(draft.end_at)
                .bind(at)
                .bind(at),
            )
            .await?;
        Ok(Banner {
            banner_id: BannerId::from_stored(done.last_insert_id),
            title: draft.title.as_str().to_owned(),
            link: draft.link.as_ref().map(|l| l.as_str().to_owned()),
            image_url: draft.image_url.as_ref().map(|l| l.as_str().to_owned()),
            is_active: draft.is_active,
            sort_order: draft.sort_order,
            start_at: draft.start_at,
            end_at: draft.end_at,
            created_at: at,
            updated_at: at,
        })
    }

    async fn get(&self, id: BannerId) -> Result<Option<Banner>, StoreError> {
        let row: Option<BannerRow> =
            self.fetch_optional(&Statement::new(BANNER_COLUMNS).push("WHERE banner_id = ?").bind(id)).await?;
        Ok(row.map(Into::into))
    }

    async fn list_all(&self) -> Result<Vec<Banner>, StoreError> {
        let rows: Vec<BannerRow> =
            self.fetch_all(&Statement::new(BANNER_COLUMNS).push(BANNER_ORDER).bind(BANNER_LIST_CAP)).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn list_visible(&self, now: DateTime<Utc>) -> Result<Vec<Banner>, StoreError> {
        let stmt = Statement::new(BANNER_COLUMNS)
            .push("WHERE is_active = ? AND (start_at IS NULL OR start_at <= ?) AND (end_at IS NULL OR end_at > ?)")
            .bind(true)
            .bind(now)
            .bind(now)
            .push(BANNER_ORDER)
            .bind(BANNER_LIST_CAP);
        let rows: Vec<BannerRow> = self.fetch_all(&stmt).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn update(
        &self,
        id: BannerId,
        draft: &BannerDraft,
        read_at_version: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Guarded<Banner>, StoreError> {
        let done = self
            .execute(
                &Statement::new(
                    "UPDATE banners SET title = ?, link = ?, image_url = ?, is_active = ?, sort_order = ?, \
                     start_at = ?, end_at = ?, updated_at = ? WHERE banner_id = ? AND updated_at = ?",
                )
                .bind(draft.title.as_str())
                .bind(draft.link.as_ref().map(|l| l.as_str()))
                .bind(draft.image_url.as_ref().map(|l| l.as_str()))
                .bind(draft.is_active)
                .bind(draft.sort_order)
                .bind(draft.start_at)
                .bind(draft.end_at)
                .bind(at)
                .bind(id)
                .bind(read_at_version),
            )
            .await?;
        self.guarded(done.rows_affected, BannerStore::get(self, id)).await
    }

    async fn delete(&self, id: BannerId) -> Result<bool, StoreError> {
        let done = self.execute(&Statement::new("DELETE FROM banners WHERE banner_id = ?").bind(id)).await?;
        Ok(done.rows_affected > 0)
    }
}
