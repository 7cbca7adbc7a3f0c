//! Notices and banners: anyone reads, administrators write.

use std::sync::Arc;

use crate::domain::{
    BannerId, Cursor, Limit, NoticeId, Page,
    content::{Banner, CreateBannerBody, CreateNoticeBody, Notice, PatchBannerBody, PatchNoticeBody, ShownNotice},
    time::{Calendar, now_ms},
};
use crate::error::{AppError, AppResult};
use crate::identity::Admin;
use crate::store::{BannerStore, NoticeStore};

use super::patch_guarded;

#[derive(Clone)]
pub struct ContentService {
    notices: Arc<dyn NoticeStore>,
    banners: Arc<dyn BannerStore>,
    calendar: Calendar,
}

impl ContentService {
    /// On the KST calendar unless [`Self::on_calendar`] says otherwise.
    pub fn new(notices: Arc<dyn NoticeStore>, banners: Arc<dyn BannerStore>) -> Self {
        Self { notices, banners, calendar: Calendar::kst() }
    }

    /// The calendar a notice's `date` is shown on.
    pub fn on_calendar(self, calendar: Calendar) -> Self {
        Self { calendar, ..self }
    }

    /// Every notice this service hands out is shown on its calendar.
    fn shown(&self, notice: Notice) -> ShownNotice {
        notice.shown(self.calendar)
    }

    pub async fn list_notices(&self, limit: Limit, after: Option<Cursor>) -> AppResult<Page<ShownNotice>> {
        Ok(self.notices.list(limit, after).await?.map(|n| self.shown(n)))
    }

    pub async fn notice(&self, id: NoticeId) -> AppResult<ShownNotice> {
        let notice = self.notices.get(id).await?.ok_or_else(|| AppError::not_found("notice", id))?;
        Ok(self.shown(notice))
    }

    pub async fn latest_notice(&self) -> AppResult<Option<ShownNotice>> {
        Ok(self.notices.latest().await?.map(|n| self.shown(n)))
    }

    pub async fn create_notice(&self, _admin: &Admin, body: CreateNoticeBody) -> AppResult<ShownNotice> {
        let draft = body.validate().map_err(AppError::Validation)?;
        Ok(self.shown(self.notices.create(&draft, now_ms()).await?))
    }

    pub async fn patch_notice(&self, _admin: &Admin, id: NoticeId, body: PatchNoticeBody) -> AppResult<ShownNotice> {
        let store = self.notices.as_ref();
        let patched = patch_guarded(
            "notice",
            id,
            |n: &Notice| n.updated_at,
            || store.get(id),
            |current| body.apply(current),
            |draft, version, at| async move { store.update(id, &draft, version, at).await },
        )
        .await?;
        Ok(self.shown(patched))
    }

    pub async fn delete_notice(&self, _admin: &Admin, id: NoticeId) -> AppResult<()> {
        if self.notices.delete(id).await? { Ok(()) } else { Err(AppError::not_found("notice", id)) }
    }

    /// Banners the homepage shows now: active and inside their window.
    pub async fn visible_banners(&self) -> AppResult<Vec<Banner>> {
        Ok(self.banners.list_visible(now_ms()).await?)
    }

    pub async fn all_banners(&self, _admin: &Admin) -> AppResult<Vec<Banner>> {
        Ok(self.banners.list_all().await?)
    }

    pub async fn create_banner(&self, _admin: &Admin, body: CreateBannerBody) -> AppResult<Banner> {
        let draft = body.validate().map_err(AppError::Validation)?;
        Ok(self.banners.create(&draft, now_ms()).await?)
    }

    pub async fn patch_banner(&self, _admin: &Admin, id: BannerId, body: PatchBannerBody) -> AppResult<Banner> {
        let store = self.banners.as_ref();
        patch_guarded(
            "banner",
            id,
            |b: &Banner| b.updated_at,
            || store.get(id),
            |current| body.apply(current),
            |draft, version, at| async move { store.update(id, &draft, version, at).await },
        )
        .await
    }

    pub async fn delete_banner(&self, _admin: &Admin, id: BannerId) -> AppResult<()> {
        if self.banners.delete(id).await? { Ok(()) } else { Err(AppError::not_found("banner", id)) }
    }
}
