//! Sample data for a fresh local database that looks like the real service's: Korean notices,
//! banners that link to pages the web app has, events with images and methods, and a signed-in
//! user with chat history and notifications.

use chrono::{Days, Duration, Utc};
use serde_json::json;
use shared::{
    domain::{
        FieldError, Limit, MessageId, ProjectId, UserId,
        chat::ChatMessage,
        content::{CreateBannerBody, CreateNoticeBody},
        event::CreateEventBody,
        notification::CreateNotificationBody,
        time::{Calendar, format_iso, now_ms},
    },
    store::{ChatStores, Stores},
};

use crate::{sample_images, stand_ins::Directory};

/// The user the samples belong to; `seed` prints a token for them.
pub const SEED_USER: &str = "5eed5eed-0000-4000-8000-000000000001";
pub const SEED_USER_NAME: &str = "지민";
/// A teammate who also wrote in the sample chat.
const TEAMMATE: &str = "5eed5eed-0000-4000-8000-000000000002";
/// The project whose chat holds the sample messages; the sample user leads it.
pub const SEED_PROJECT: i64 = 1;
/// A project the teammate leads and the sample user may report.
pub const OTHER_PROJECT: i64 = 2;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    pub notices: usize,
    pub banners: usize,
    pub events: usize,
    pub messages: usize,
    pub notifications: usize,
}

fn invalid(e: Vec<FieldError>) -> anyhow::Error {
    anyhow::anyhow!("sample data is invalid: {e:?}")
}

/// Loads the samples unless the database already holds notices (seeding twice adds nothing).
/// The stand-ins' projects and teams are (re)written either way.
pub async fn seed(
    stores: &Stores,
    chat: &ChatStores,
    directory: &Directory,
    calendar: Calendar,
) -> anyhow::Result<Seeded> {
    let user = UserId::parse(SEED_USER).map_err(anyhow::Error::msg)?;
    let teammate = UserId::parse(TEAMMATE).map_err(anyhow::Error::msg)?;
    let project = ProjectId::new(SEED_PROJECT).map_err(anyhow::Error::msg)?;
    let other = ProjectId::new(OTHER_PROJECT).map_err(anyhow::Error::msg)?;
    directory.put_project(project, "PortForge 웹").await?;
    directory.put_member(project, &user, "LEADER").await?;
    directory.put_member(project, &teammate, "MEMBER").await?;
    directory.put_project(other, "AI 스터디 모임").await?;
    directory.put_member(other, &teammate, "LEADER").await?;
    if !stores.notices.list(Limit::default(), None).await?.items.is_empty() {
        return Ok(Seeded::default());
    }
    let now = Utc::now();
    let today = calendar.today();
    let day = |offset: i64| {
        let date = if offset >= 0 {
            today.checked_add_days(Days::new(offset as u64))
        } else {
            today.checked_sub_days(Days::new(offset.unsigned_abs()))
        };
        date.unwrap_or(today).format("%Y-%m-%d").to_string()
    };
    let mut seeded = Seeded::default();
    let notices = [
        (
            "PortForge 로컬 환경에 오신 것을 환영합니다",
            "이 공지는 local-gateway seed 명령으로 만들어졌습니다. 팀 프로젝트를 만들고 팀원을 모아 보세요.",
        ),
        (
            "정기 점검 안내",
            "매주 화요일 02:00–04:00 (KST)에 서비스 정기 점검이 진행됩니다. 점검 중에는 채팅이 잠시 끊길 수 있습니다.",
        ),
        ("팀 채팅 기능이 열렸습니다", "프로젝트 페이지에서 팀원들과 실시간으로 대화해 보세요 💬"),
    ];
    for (title, content) in notices {
        let body: CreateNoticeBody = serde_json::from_value(json!({"title": title, "content": content}))?;
        stores.notices.create(&body.validate().map_err(invalid)?, now_ms()).await?;
        seeded.notices += 1;
    }
    let banners = [
        json!({"title": "겨울 해커톤 참가자 모집", "image_url": sample_images::url("banners/winter-hackathon.png"), "link": "/events", "sort_order": 1}),
        json!({"title": "함께할 팀원을 찾고 있나요?", "link": "/", "sort_order": 2,
               "start_at": format_iso(&(now - Duration::days(1))), "end_at": format_iso(&(now + Duration::days(30)))}),
    ];
    for banner in banners {
        let body: CreateBannerBody = serde_json::from_value(banner)?;
        stores.banners.create(&body.validate().map_err(invalid)?, now_ms()).await?;
        seeded.banners += 1;
    }
    let events = [
        json!({"title": "PortForge 겨울 해커톤", "category": "HACKATHON", "method": "오프라인", "location": "서울 강남구",
               "start_date": format!("{}T09:00:00+09:00", day(14)), "end_date": format!("{}T18:00:00+09:00", day(15)),
               "image_url": sample_images::url("events/winter-hackathon.png"), "link": "https://portforge.dev/hackathon",
               "description": "48시간 동안 팀을 이뤄 서비스를 만들어 보세요."}),
        json!({"title": "Rust & Serverless 컨퍼런스", "category": "CONFERENCE", "method": "온라인",
               "start_date": day(-1), "end_date": day(1), "image_url": sample_images::url("events/rust-serverless.png")}),
        json!({"title": "공공데이터 활용 공모전", "category": "CONTEST", "method": "온라인 접수",
               "start_date": day(-40), "end_date": day(-10), "image_url": sample_images::url("events/open-data.png")}),
        json!({"title": "프론트엔드 부트캠프 8기", "category": "BOOTCAMP", "method": "온오프라인 병행", "location": "대전",
               "start_date": day(30), "end_date": day(120), "image_url": sample_images::url("events/frontend-bootcamp.png")}),
    ];
    for event in events {
        let body: CreateEventBody = serde_json::from_value(event)?;
        stores.events.create(&body.validate(calendar).map_err(invalid)?, now_ms()).await?;
        seeded.events += 1;
    }
    let lines = [
        (&teammate, "민수", "안녕하세요! 오늘 회의는 9시에 시작해요 🙌"),
        (&user, SEED_USER_NAME, "네, 자료는 제가 준비해 둘게요."),
        (&teammate, "민수", "좋아요. 배포는 금요일로 잡죠."),
    ];
    let start = now_ms() - Duration::minutes(30);
    for (i, (sender, name, text)) in lines.into_iter().enumerate() {
        let at = start + Duration::minutes(5 * i as i64);
        let message = ChatMessage {
            message_id: MessageId::generate_at(&at),
            project_id: project,
            user_id: sender.clone(),
            sender_name: name.into(),
            message: text.into(),
            timestamp: at,
            is_in_meeting: i == 0,
            edited_at: None,
            removed: None,
        };
        chat.messages.save(&message, false).await?;
        chat.rooms.touch(sender, project, at).await?;
        seeded.messages += 1;
    }
    let notifications = [
        ("'PortForge 웹' 프로젝트에 팀원으로 합류했습니다.", "/projects/1"),
        ("겨울 해커톤 신청이 곧 마감됩니다.", "/events"),
    ];
    for (message, link) in notifications {
        let body: CreateNotificationBody =
            serde_json::from_value(json!({"user_id": SEED_USER, "message": message, "link": link}))?;
        stores.notifications.create(&body.validate().map_err(invalid)?, now_ms()).await?;
        seeded.notifications += 1;
    }
    Ok(seeded)
}
