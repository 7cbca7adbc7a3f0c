//! Notices and banners: anyone reads, administrators write.

use crate::domain::{
    Cursor, Limit, Page,
    content::{Banner, CreateBannerBody, CreateNoticeBody, Notice, PatchBannerBody, PatchNoticeBody},
    time::now_ms,
};
use crate::error::{AppError, AppResult};
use crate::identity::Identity;
use crate::store::{BannerStore, NoticeStore};

use super::patch_guarded;

pub async fn list_notices(store: &dyn NoticeStore, limit: Limit, after: Option<Cursor>) -> AppResult<Page<Notice>> {
    Ok(store.list(limit, after).await?)
}

pub async fn get_notice(store: &dyn NoticeStore, id: i64) -> AppResult<Notice> {
    store.get(id).await?.ok_or_else(|| AppError::not_found("notice", id))
}

pub async fn latest_notice(store: &dyn NoticeStore) -> AppResult<Option<Notice>> {
    Ok(store.latest().await?)
}

pub async fn create_notice(store: &dyn NoticeStore, caller: &Identity, body: CreateNoticeBody) -> AppResult<Notice> {
    caller.require_admin()?;
    let draft = body.validate().map_err(AppError::Validation)?;
    Ok(store.create(&draft, now_ms()).await?)
}

pub async fn patch_notice(
    store: &dyn NoticeStore,
    caller: &Identity,
    id: i64,
    body: PatchNoticeBody,
) -> AppResult<Notice> {
    caller.require_admin()?;
    patch_guarded(
        "notice",
        id,
        |n: &Notice| n.updated_at,
        || store.get(id),
        |current| body.apply(current),
        |draft, version, at| async move { store.update(id, &draft, version, at).await },
    )
    .await
}

pub async fn delete_notice(store: &dyn NoticeStore, caller: &Identity, id: i64) -> AppResult<()> {
    caller.require_admin()?;
    if store.delete(id).await? { Ok(()) } else { Err(AppError::not_found("notice", id)) }
}

pub async fn visible_banners(store: &dyn BannerStore) -> AppResult<Vec<Banner>> {
    Ok(store.list_visible(now_ms()).await?)
}

pub async fn all_banners(store: &dyn BannerStore, caller: &Identity) -> AppResult<Vec<Banner>> {
    caller.require_admin()?;
    Ok(store.list_all().await?)
}

pub async fn create_banner(store: &dyn BannerStore, caller: &Identity, body: CreateBannerBody) -> AppResult<Banner> {
    caller.require_admin()?;
    let draft = body.validate().map_err(AppError::Validation)?;
    Ok(store.create(&draft, now_ms()).await?)
}

pub async fn patch_banner(
    store: &dyn BannerStore,
    caller: &Identity,
    id: i64,
    body: PatchBannerBody,
) -> AppResult<Banner> {
    caller.require_admin()?;
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

pub async fn delete_banner(store: &dyn BannerStore, caller: &Identity, id: i64) -> AppResult<()> {
    caller.require_admin()?;
    if store.delete(id).await? { Ok(()) } else { Err(AppError::not_found("banner", id)) }
}
