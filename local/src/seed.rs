//! Sample notices, banners and events for a fresh local database.

use chrono::{Days, Duration, Utc};
use serde_json::json;
use shared::{
    domain::{
        Limit,
        content::{CreateBannerBody, CreateNoticeBody},
        event::CreateEventBody,
        time::{Calendar, format_iso, now_ms},
    },
    store::Stores,
};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    pub notices: usize,
    pub banners: usize,
    pub events: usize,
}

/// Loads the samples unless the database already holds notices (seeding twice adds nothing).
pub async fn seed(stores: &Stores) -> anyhow::Result<Seeded> {
    if !stores.notices.list(Limit::default(), None).await?.items.is_empty() {
        return Ok(Seeded::default());
    }
    let invalid = |e: Vec<shared::domain::FieldError>| anyhow::anyhow!("sample data is invalid: {e:?}");
    let now = Utc::now();
    let day = |offset: i64| {
        let today = Calendar::kst().today();
        let date = if offset >= 0 {
            today.checked_add_days(Days::new(offset as u64))
        } else {
            today.checked_sub_days(Days::new(offset.unsigned_abs()))
        };
        date.unwrap_or(today).format("%Y-%m-%d").to_string()
    };
    let notices = [
        ("PortForge 로컬 환경에 오신 것을 환영합니다", "이 공지는 local-gateway seed 명령으로 만들어졌습니다."),
        ("서비스 점검 안내", "매주 화요일 02:00–04:00 (KST)에 정기 점검이 있습니다."),
        ("New: team chat", "Open a project and chat with your team in real time 💬"),
    ];
    let mut seeded = Seeded::default();
    for (title, content) in notices {
        let body: CreateNoticeBody = serde_json::from_value(json!({"title": title, "content": content}))?;
        stores.notices.create(&body.validate().map_err(invalid)?, now_ms()).await?;
        seeded.notices += 1;
    }
    let banners = [
        json!({"title": "겨울 해커톤 참가자 모집", "image_url": "/images/banners/winter-hackathon.png", "link": "/events", "sort_order": 1}),
        json!({"title": "팀원을 찾고 있나요?", "image_url": "/images/banners/find-team.png", "link": "/projects", "sort_order": 2,
               "start_at": format_iso(&(now - Duration::days(1))), "end_at": format_iso(&(now + Duration::days(30)))}),
    ];
    for banner in banners {
        let body: CreateBannerBody = serde_json::from_value(banner)?;
        stores.banners.create(&body.validate().map_err(invalid)?, now_ms()).await?;
        seeded.banners += 1;
    }
    let events = [
        json!({"title": "PortForge 겨울 해커톤", "category": "HACKATHON", "method": "오프라인", "location": "서울 강남구",
               "start_date": day(14), "end_date": day(15), "link": "https://portforge.dev/hackathon"}),
        json!({"title": "Rust & Serverless 컨퍼런스", "category": "CONFERENCE", "method": "온라인",
               "start_date": day(-1), "end_date": day(1)}),
        json!({"title": "공공데이터 활용 공모전", "category": "CONTEST", "start_date": day(-40), "end_date": day(-10)}),
        json!({"title": "프론트엔드 부트캠프 8기", "category": "BOOTCAMP", "method": "온오프라인 병행",
               "start_date": day(30), "end_date": day(120)}),
    ];
    for event in events {
        let body: CreateEventBody = serde_json::from_value(event)?;
        stores.events.create(&body.validate().map_err(invalid)?, now_ms()).await?;
        seeded.events += 1;
    }
    Ok(seeded)
}
