//! The store conformance suite: written once, run against every SQL backend (MariaDB and the
//! embedded SQLite file). An adapter is correct when it passes all of it.

use chrono::{Duration, NaiveDate};
use service_tests::{TestDb, new_user_id};
use shared::{
    domain::{
        BoundedText, Cursor, Limit, Link, UserId,
        content::{BannerDraft, NoticeDraft},
        event::{EventCategory, EventDraft, EventFilter, EventStatus, EventTime},
        notification::{MarkRead, NewNotification},
        time::{Bound, Calendar, now_ms, parse_instant},
    },
    store::{Guarded, Stores},
};

fn text(s: &str) -> BoundedText {
    BoundedText::parse(s, 1, 20_000).unwrap()
}

fn limit(n: u32) -> Limit {
    Limit::parse(Some(&n.to_string())).unwrap()
}

async fn notifications_are_per_user_newest_first_with_stable_ties(stores: Stores) {
    let store = stores.notifications.as_ref();
    let (alice, bob) = (UserId::parse(&new_user_id()).unwrap(), UserId::parse(&new_user_id()).unwrap());
    let at = now_ms();
    let mut ids = Vec::new();
    // Three in the same millisecond, one later: ties fall back to the id.
    for (i, when) in [at, at, at, at + Duration::seconds(1)].into_iter().enumerate() {
        let new = NewNotification {
            user_id: alice.clone(),
            message: text(&format!("m{i} 알림 ✅")),
            link: Some(Link::parse("/p/1").unwrap()),
        };
        ids.push(store.create(&new, when).await.unwrap().notification_id);
    }
    store.create(&NewNotification { user_id: bob.clone(), message: text("bob"), link: None }, at).await.unwrap();

    let first = store.list(&alice, false, limit(2), None).await.unwrap();
    let got: Vec<_> = first.items.iter().map(|n| n.notification_id).collect();
    assert_eq!(got, [ids[3], ids[2]]);
    assert_eq!(first.items[1].message, "m2 알림 ✅");
    assert_eq!(first.items[1].created_at, at, "time survives the round trip exactly");
    let second = store.list(&alice, false, limit(2), first.next_cursor).await.unwrap();
    let got: Vec<_> = second.items.iter().map(|n| n.notification_id).collect();
    assert_eq!(got, [ids[1], ids[0]]);
    assert_eq!(second.next_cursor, None);

    assert_eq!(store.unread_count(&alice).await.unwrap(), 4);
    let bobs_id = store.list(&bob, false, limit(5), None).await.unwrap().items[0].notification_id;
    let changed = store.mark_read(&alice, &MarkRead::Ids(vec![ids[0], ids[1], bobs_id]), now_ms()).await.unwrap();
    assert_eq!(changed, 2, "bob's notification is not alice's to clear");
    assert_eq!(store.unread_count(&bob).await.unwrap(), 1);
    let unread = store.list(&alice, true, limit(10), None).await.unwrap();
    assert_eq!(unread.items.iter().map(|n| n.notification_id).collect::<Vec<_>>(), [ids[3], ids[2]]);
    assert_eq!(store.mark_read(&alice, &MarkRead::All, now_ms()).await.unwrap(), 2);
    assert_eq!(store.unread_count(&alice).await.unwrap(), 0);
}

async fn notices_round_trip_and_guard_updates(stores: Stores) {
    let store = stores.notices.as_ref();
    let at = now_ms();
    let draft = NoticeDraft { title: text("점검 🔧 𝄞"), content: text("본문\n둘째 줄") };
    let notice = store.create(&draft, at).await.unwrap();
    assert_eq!(store.get(notice.notice_id).await.unwrap().as_ref(), Some(&notice));
    assert_eq!(notice.title, "점검 🔧 𝄞");

    let edit = NoticeDraft { title: text("edited"), content: text("new body") };
    let later = at + Duration::milliseconds(5);
    let stale = store.update(notice.notice_id, &edit, at - Duration::milliseconds(1), later).await.unwrap();
    assert_eq!(stale, Guarded::Stale);
    let unknown = shared::domain::NoticeId::new(notice.notice_id.get() + 1000).unwrap();
    let missing = store.update(unknown, &edit, at, later).await.unwrap();
    assert_eq!(missing, Guarded::Missing);
    let Guarded::Updated(updated) = store.update(notice.notice_id, &edit, at, later).await.unwrap() else {
        panic!("update with the current version must apply");
    };
    assert_eq!((updated.title.as_str(), updated.updated_at, updated.created_at), ("edited", later, at));
    assert_eq!(store.update(notice.notice_id, &edit, at, later).await.unwrap(), Guarded::Stale, "old version again");

    let newer = store.create(&draft, at).await.unwrap();
    assert_eq!(store.latest().await.unwrap().unwrap().notice_id, newer.notice_id, "same time: higher id wins");
    assert!(store.delete(notice.notice_id).await.unwrap());
    assert!(!store.delete(notice.notice_id).await.unwrap());
    assert_eq!(store.get(notice.notice_id).await.unwrap(), None);
    let page = store.list(limit(1), Some(Cursor::at_instant(&(at + Duration::days(1)), 0))).await.unwrap();
    assert_eq!(page.items[0].notice_id, newer.notice_id);
}

async fn banner_windows_are_half_open(stores: Stores) {
    let store = stores.banners.as_ref();
    let now = now_ms();
    let draft = |title: &str, start: Option<i64>, end: Option<i64>, active: bool, order: i32| BannerDraft {
        title: text(title),
        link: None,
        image_url: Some(Link::parse("https://cdn.example/x.png").unwrap()),
        is_active: active,
        sort_order: order,
        start_at: start.map(|s| now + Duration::milliseconds(s)),
        end_at: end.map(|e| now + Duration::milliseconds(e)),
    };
    store.create(&draft("starts-now", Some(0), None, true, 0), now).await.unwrap();
    store.create(&draft("ends-now", None, Some(0), true, 0), now).await.unwrap();
    store.create(&draft("ends-soon", Some(-10), Some(1), true, -1), now).await.unwrap();
    store.create(&draft("off", None, None, false, 0), now).await.unwrap();
    let visible: Vec<_> = store.list_visible(now).await.unwrap().into_iter().map(|b| b.title).collect();
    assert_eq!(visible, ["ends-soon", "starts-now"]);
    assert_eq!(store.list_all().await.unwrap().len(), 4);
}

async fn events_filter_by_bounds_and_page_by_start(stores: Stores) {
    let store = stores.events.as_ref();
    let d = |day: u32| NaiveDate::from_ymd_opt(2026, 6, day).unwrap();
    let draft = |title: &str, category, start: NaiveDate, end: NaiveDate| EventDraft {
        title: text(title),
        category,
        description: None,
        image_url: None,
        method: Some(text("온라인")),
        location: None,
        link: None,
        start: EventTime::parse(&start.format("%Y-%m-%d").to_string(), Bound::Lower, Calendar::kst()).unwrap(),
        end: EventTime::parse(&end.format("%Y-%m-%d").to_string(), Bound::Upper, Calendar::kst()).unwrap(),
    };
    let at = now_ms();
    store.create(&draft("a", EventCategory::Hackathon, d(1), d(2)), at).await.unwrap();
    store.create(&draft("b", EventCategory::Contest, d(10), d(20)), at).await.unwrap();
    store.create(&draft("c", EventCategory::Hackathon, d(10), d(10)), at).await.unwrap();
    store.create(&draft("d", EventCategory::Bootcamp, d(25), d(28)), at).await.unwrap();

    let titles = |page: &shared::domain::Page<shared::domain::event::Event>| {
        page.items.iter().map(|e| e.title.clone()).collect::<Vec<_>>()
    };
    let ongoing = EventFilter::new(None, Some(EventStatus::Ongoing), None, None, d(10));
    assert_eq!(titles(&store.list(&ongoing, limit(10), None).await.unwrap()), ["b", "c"]);
    let hack = EventFilter::new(Some(EventCategory::Hackathon), None, None, None, d(10));
    assert_eq!(titles(&store.list(&hack, limit(10), None).await.unwrap()), ["a", "c"]);
    let overlap = EventFilter::new(None, None, Some(d(15)), Some(d(26)), d(1));
    assert_eq!(titles(&store.list(&overlap, limit(10), None).await.unwrap()), ["b", "d"]);

    let everything = EventFilter::new(None, None, None, None, d(1));
    let first = store.list(&everything, limit(2), None).await.unwrap();
    assert_eq!(titles(&first), ["a", "b"]);
    let second = store.list(&everything, limit(2), first.next_cursor).await.unwrap();
    assert_eq!(titles(&second), ["c", "d"]);
    assert_eq!(second.next_cursor, None);

    let event = &second.items[0];
    assert_eq!(event.method.as_deref(), Some("온라인"));
    let mut edit = draft("c2", EventCategory::Conference, d(11), d(12));
    edit.location = Some(text("대전"));
    let Guarded::Updated(updated) =
        store.update(event.event_id, &edit, event.updated_at, at + Duration::seconds(1)).await.unwrap()
    else {
        panic!("fresh version applies");
    };
    assert_eq!((updated.category, updated.location.as_deref()), (EventCategory::Conference, Some("대전")));
    assert_eq!((updated.start_at, updated.end_at, updated.all_day), (edit.start.at, edit.end.at, true));

    // A timed event keeps its instants to the millisecond, its days on the calendar.
    let mut timed = draft("t", EventCategory::Hackathon, d(1), d(1));
    timed.start = EventTime::parse("2026-06-01T09:30:00.250+09:00", Bound::Lower, Calendar::kst()).unwrap();
    timed.end = EventTime::parse("2026-06-02T01:00:00Z", Bound::Upper, Calendar::kst()).unwrap();
    let stored = store.create(&timed, at).await.unwrap();
    let read = store.get(stored.event_id).await.unwrap().unwrap();
    assert_eq!(read, stored);
    assert_eq!(read.start_at, parse_instant("2026-06-01T00:30:00.250Z").unwrap());
    assert_eq!((read.start_date, read.end_date, read.all_day), (d(1), d(2), false));
    assert!(store.delete(event.event_id).await.unwrap());
    assert_eq!(store.get(event.event_id).await.unwrap(), None);
}

async fn health_probe_answers(stores: Stores) {
    stores.health.ping().await.unwrap();
}

async fn racing_cold_starts_migrate_once(db: &TestDb) {
    // Six cold starts open the same new database at once.
    let racers: Vec<_> = (0..6).map(|_| db.sql_db()).collect();
    let outcomes = futures::future::join_all(racers.iter().map(|r| r.migrate())).await;
    for outcome in outcomes {
        outcome.unwrap();
    }
    // A later cold start finds nothing to do.
    db.sql_db().migrate().await.unwrap();
    db.stores().health.ping().await.unwrap();
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod mariadb {
            $(#[tokio::test]
            async fn $case() {
                let db = service_tests::TestDb::mariadb().await;
                super::$case(db.stores()).await;
            })*

            #[tokio::test]
            async fn racing_cold_starts_migrate_once() {
                super::racing_cold_starts_migrate_once(&service_tests::TestDb::mariadb().await).await;
            }
        }
        mod sqlite {
            $(#[tokio::test]
            async fn $case() {
                let db = service_tests::TestDb::sqlite();
                super::$case(db.stores()).await;
            })*

            #[tokio::test]
            async fn racing_cold_starts_migrate_once() {
                super::racing_cold_starts_migrate_once(&service_tests::TestDb::sqlite()).await;
            }
        }
    };
}

conformance!(
    notifications_are_per_user_newest_first_with_stable_ties,
    notices_round_trip_and_guard_updates,
    banner_windows_are_half_open,
    events_filter_by_bounds_and_page_by_start,
    health_probe_answers,
);

// ---------------------------------------------------------------------------------------------
// Chat ports: DynamoDB (emulator), and the embedded SQL adapter on SQLite and MariaDB.

mod chat {
    use std::collections::HashSet;

    use super::limit;
    use chrono::{Duration, Utc};
    use proptest::prelude::RngExt;
    use proptest::test_runner::{RngAlgorithm, TestRng};
    use service_tests::connection_id;
    use shared::{
        domain::{
            MessageId, ProjectId, ReportId, UserId,
            chat::{Changed, ChatCursor, ChatMessage, Connection, HistoryPosition, HistoryQuery, Marked, Removal},
            time::{now_ms, parse_instant},
        },
        store::{ChatStores, Saved, StoreError, Touched},
    };

    const JIMIN: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
    const MINSU: &str = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d";

    fn p(id: i64) -> ProjectId {
        ProjectId::new(id).unwrap()
    }

    fn u(id: &str) -> UserId {
        UserId::parse(id).unwrap()
    }

    fn message(project_id: i64, id: &str, at: chrono::DateTime<Utc>, text: &str) -> ChatMessage {
        ChatMessage {
            message_id: MessageId::parse(id).unwrap(),
            project_id: p(project_id),
            user_id: u(JIMIN),
            sender_name: "지민".into(),
            message: text.to_owned(),
            timestamp: at,
            is_in_meeting: false,
            edited_at: None,
            removed: None,
        }
    }

    fn ids(messages: &[ChatMessage]) -> Vec<String> {
        messages.iter().map(|m| m.message_id.to_string()).collect()
    }

    async fn same_millisecond_messages_are_both_kept(stores: ChatStores) {
        let at = now_ms();
        for id in ["a", "b"] {
            let saved = stores.messages.save(&message(7, id, at, "동시에 ✌️"), false).await.unwrap();
            assert!(matches!(saved, Saved::Created(_)));
        }
        let page = stores.messages.history(p(7), &HistoryQuery::latest(10)).await.unwrap();
        assert_eq!(ids(&page.messages), ["a", "b"]);
        assert_eq!(page.messages[0].message, "동시에 ✌️");
        assert_eq!(page.messages[0].timestamp, at);
        assert!(!page.has_more);
        // Other projects see nothing.
        assert!(stores.messages.history(p(8), &HistoryQuery::latest(10)).await.unwrap().messages.is_empty());
    }

    async fn client_ids_make_saves_idempotent(stores: ChatStores) {
        let first = message(3, "client-1", now_ms(), "first");
        assert_eq!(stores.messages.save(&first, true).await.unwrap(), Saved::Created(first.clone()));
        let retry = message(3, "client-1", now_ms() + Duration::seconds(2), "retried later");
        assert_eq!(stores.messages.save(&retry, true).await.unwrap(), Saved::Existing(first.clone()));
        // The same id in another project is another message.
        let elsewhere = message(4, "client-1", now_ms(), "other project");
        assert!(matches!(stores.messages.save(&elsewhere, true).await.unwrap(), Saved::Created(_)));
        let page = stores.messages.history(p(3), &HistoryQuery::latest(10)).await.unwrap();
        assert_eq!(ids(&page.messages), ["client-1"]);
        assert_eq!(page.messages[0].message, "first");
    }

    async fn a_thousand_messages_page_both_ways_without_gap_or_duplicate(stores: ChatStores) {
        let start = parse_instant("2026-11-01T00:00:00Z").unwrap();
        let mut expected = Vec::new();
        for i in 0..1000 {
            // Pairs share a millisecond, so ties are exercised throughout.
            let m = message(42, &format!("m{i:04}"), start + Duration::milliseconds(i / 2), "x");
            stores.messages.save(&m, false).await.unwrap();
            expected.push(m.message_id.to_string());
        }
        let mut backwards = Vec::new();
        let mut position = HistoryPosition::Latest;
        loop {
            let q = HistoryQuery { position: position.clone(), from: None, to: None, limit: 100 };
            let page = stores.messages.history(p(42), &q).await.unwrap();
            let mut chunk = ids(&page.messages);
            chunk.extend(backwards);
            backwards = chunk;
            if !page.has_more {
                break;
            }
            position = HistoryPosition::Before(page.messages[0].cursor());
        }
        assert_eq!(backwards, expected, "newest page first, walking older");

        let mut forwards: Vec<String> = Vec::new();
        let oldest = message(42, "m0000", start, "x").cursor();
        forwards.push("m0000".into());
        let mut position = HistoryPosition::After(oldest);
        loop {
            let q = HistoryQuery { position: position.clone(), from: None, to: None, limit: 100 };
            let page = stores.messages.history(p(42), &q).await.unwrap();
            forwards.extend(ids(&page.messages));
            match page.messages.last() {
                Some(last) if page.has_more => position = HistoryPosition::After(last.cursor()),
                _ => break,
            }
        }
        assert_eq!(forwards, expected, "catching up after the oldest");
        assert_eq!(forwards.iter().collect::<HashSet<_>>().len(), 1000);

        // A date range keeps its inclusive bounds.
        let q = HistoryQuery {
            position: HistoryPosition::Latest,
            from: Some(start + Duration::milliseconds(10)),
            to: Some(start + Duration::milliseconds(12)),
            limit: 100,
        };
        let page = stores.messages.history(p(42), &q).await.unwrap();
        assert_eq!(ids(&page.messages), ["m0020", "m0021", "m0022", "m0023", "m0024", "m0025"]);
    }

    /// Every bound the API accepts (years 1000–9999, the edges of the sort key's millisecond
    /// field included, and instants drawn at random across the span) selects exactly the
    /// messages it says, read newest first and oldest first; so do cursors at the extremes.
    async fn every_accepted_bound_selects_exactly_what_it_says(stores: ChatStores) {
        let at = |raw: &str| parse_instant(raw).unwrap();
        let stamps = [
            at("1970-01-01T00:00:00.001Z"),
            at("2001-09-09T01:46:40.000Z"),
            at("2026-12-04T00:00:00.000Z"),
            at("2026-12-04T00:00:00.000Z"),
            at("2286-11-20T17:46:39.999Z"),
        ];
        let stored: Vec<ChatMessage> =
            stamps.iter().enumerate().map(|(i, t)| message(61, &format!("e{i}"), *t, "x")).collect();
        for m in &stored {
            stores.messages.save(m, false).await.unwrap();
        }
        let mut bounds: Vec<chrono::DateTime<Utc>> = [
            "1000-01-01T00:00:00.000Z",
            "1969-12-31T23:59:59.999Z",
            "1970-01-01T00:00:00.000Z",
            "1970-01-01T00:00:00.001Z",
            "1970-01-01T00:00:00.002Z",
            "2026-12-03T23:59:59.999Z",
            "2026-12-04T00:00:00.000Z",
            "2286-11-20T17:46:39.998Z",
            "2286-11-20T17:46:39.999Z",
            "2286-11-20T17:46:40.000Z",
            "2287-01-01T00:00:00.000Z",
            "2300-01-01T00:00:00.000Z",
            "9999-12-31T23:59:59.999Z",
        ]
        .iter()
        .map(|raw| at(raw))
        .collect();
        let span = (at("1000-01-01T00:00:00Z").timestamp_millis(), at("9999-12-31T23:59:59.999Z").timestamp_millis());
        let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
        bounds.extend(
            (0..6).map(|_| chrono::DateTime::from_timestamp_millis(rng.random_range(span.0..=span.1)).unwrap()),
        );
        let expected = |from: Option<chrono::DateTime<Utc>>, to: Option<chrono::DateTime<Utc>>| -> Vec<String> {
            let kept: Vec<ChatMessage> = stored
                .iter()
                .filter(|m| from.is_none_or(|f| m.timestamp >= f) && to.is_none_or(|t| m.timestamp <= t))
                .cloned()
                .collect();
            let mut kept = kept;
            kept.sort_by_key(ChatMessage::sort_key);
            ids(&kept)
        };
        let options = std::iter::once(None).chain(bounds.iter().copied().map(Some)).collect::<Vec<_>>();
        for from in &options {
            for to in &options {
                if let (Some(f), Some(t)) = (from, to)
                    && t < f
                {
                    continue;
                }
                let want = expected(*from, *to);
                for position in [HistoryPosition::Latest, HistoryPosition::After(ChatCursor::origin())] {
                    let q = HistoryQuery { position: position.clone(), from: *from, to: *to, limit: 100 };
                    let page = stores.messages.history(p(61), &q).await.unwrap();
                    assert_eq!(ids(&page.messages), want, "{position:?} from {from:?} to {to:?}");
                }
            }
        }
        let newest = stored.last().unwrap().cursor();
        let oldest = stored.first().unwrap().cursor();
        let read = |position| HistoryQuery { position, from: None, to: None, limit: 100 };
        let after_newest = stores.messages.history(p(61), &read(HistoryPosition::After(newest.clone()))).await.unwrap();
        assert!(after_newest.messages.is_empty());
        let before_oldest = stores.messages.history(p(61), &read(HistoryPosition::Before(oldest))).await.unwrap();
        assert!(before_oldest.messages.is_empty());
        let before_newest = stores.messages.history(p(61), &read(HistoryPosition::Before(newest))).await.unwrap();
        assert_eq!(ids(&before_newest.messages), ids(&stored[..4]));
    }

    async fn rooms_follow_the_latest_activity(stores: ChatStores) {
        let user = &u(JIMIN);
        let t0 = parse_instant("2026-11-20T00:00:00Z").unwrap();
        stores.rooms.touch(user, p(1), t0).await.unwrap();
        stores.rooms.touch(user, p(2), t0 + Duration::minutes(5)).await.unwrap();
        stores.rooms.touch(user, p(1), t0 + Duration::minutes(9)).await.unwrap();
        // A late, older touch never moves a room backwards.
        stores.rooms.touch(user, p(1), t0 + Duration::minutes(1)).await.unwrap();
        let rooms = stores.rooms.rooms(user).await.unwrap();
        let got: Vec<_> = rooms.iter().map(|r| (r.project_id.get(), r.updated_at)).collect();
        assert_eq!(got, [(1, t0 + Duration::minutes(9)), (2, t0 + Duration::minutes(5))]);
        assert!(stores.rooms.rooms(&u(MINSU)).await.unwrap().is_empty());

        // A touch whose message was not stored can be taken back, unless the room moved since.
        let t1 = t0 + Duration::minutes(20);
        let touched = stores.rooms.touch(user, p(5), t1).await.unwrap();
        assert_eq!(touched, Touched::Moved { previous: None });
        stores.rooms.undo_touch(user, p(5), touched, t1).await.unwrap();
        let touched = stores.rooms.touch(user, p(1), t1).await.unwrap();
        assert_eq!(touched, Touched::Moved { previous: Some(t0 + Duration::minutes(9)) });
        assert_eq!(stores.rooms.touch(user, p(1), t0).await.unwrap(), Touched::Unchanged);
        stores.rooms.undo_touch(user, p(1), touched, t1).await.unwrap();
        let t2 = t0 + Duration::minutes(30);
        let touched = stores.rooms.touch(user, p(2), t1).await.unwrap();
        stores.rooms.touch(user, p(2), t2).await.unwrap();
        stores.rooms.undo_touch(user, p(2), touched, t1).await.unwrap();
        let rooms = stores.rooms.rooms(user).await.unwrap();
        let got: Vec<_> = rooms.iter().map(|r| (r.project_id.get(), r.updated_at)).collect();
        assert_eq!(got, [(2, t2), (1, t0 + Duration::minutes(9))], "room 5 gone, 1 restored, 2 kept its newer time");
    }

    async fn connections_are_found_by_project_and_user(stores: ChatStores) {
        let now = now_ms();
        let conn = |id: &str, user: &str, project: i64, expires_in: i64| Connection {
            connection_id: connection_id(id),
            user_id: u(user),
            display_name: "민수".into(),
            project_id: Some(p(project)),
            notifications: user == JIMIN,
            admin: false,
            connected_at: now,
            expires_at: now + Duration::minutes(expires_in),
            token_expires_at: None,
            member: true,
            live: user == MINSU,
        };
        // A socket for notifications only: the user's, in no project.
        let bell = Connection { project_id: None, ..conn("bell=", JIMIN, 10, 120) };
        for c in [
            conn("c1=", JIMIN, 10, 120),
            conn("c2=", MINSU, 10, 120),
            conn("c3=", JIMIN, 11, 120),
            conn("stale", JIMIN, 10, -1),
            bell.clone(),
        ] {
            stores.connections.put(&c).await.unwrap();
        }
        let stored_bell = stores.connections.get(&bell.connection_id).await.unwrap().unwrap();
        assert_eq!((stored_bell.project_id, stored_bell.notifications), (None, true), "round-trips");
        let watcher = Connection { admin: true, member: false, ..conn("admin=", MINSU, 12, 120) };
        stores.connections.put(&watcher).await.unwrap();
        let stored = stores.connections.get(&watcher.connection_id).await.unwrap().unwrap();
        let flags = (stored.admin, stored.member, stored.live);
        assert_eq!(flags, (true, false, true), "an administrator reading as one is not a member");
        let c1 = connection_id("c1=");
        let stored = stores.connections.get(&c1).await.unwrap().unwrap();
        assert_eq!((stored.member, stored.live), (true, false));
        assert!(stores.connections.set_live(&c1, true).await.unwrap());
        assert!(stores.connections.get(&c1).await.unwrap().unwrap().live, "live frames turned on");
        assert!(!stores.connections.set_live(&connection_id("nobody="), true).await.unwrap());
        let mut in_project: Vec<_> = stores
            .connections
            .by_project(p(10), now)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.connection_id.to_string())
            .collect();
        in_project.sort();
        assert_eq!(in_project, ["c1=", "c2="], "expired rows are skipped before TTL removes them");
        let mut of_user: Vec<_> = stores
            .connections
            .by_user(&u(JIMIN), now)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.connection_id.to_string())
            .collect();
        of_user.sort();
        assert_eq!(of_user, ["bell=", "c1=", "c3="]);
        let c2 = connection_id("c2=");
        assert_eq!(stores.connections.get(&c2).await.unwrap().unwrap().display_name, "민수");
        let c1 = stores.connections.get(&connection_id("c1=")).await.unwrap().unwrap();
        assert!(c1.notifications, "the flag round-trips");
        assert!(!stores.connections.get(&c2).await.unwrap().unwrap().notifications);
        assert!(stores.connections.set_notifications(&c2, true).await.unwrap());
        assert!(stores.connections.set_notifications(&c2, true).await.unwrap(), "setting it again still finds the row");
        assert!(stores.connections.get(&c2).await.unwrap().unwrap().notifications);
        assert!(!stores.connections.set_notifications(&connection_id("nobody="), true).await.unwrap());
        assert_eq!(stores.connections.remove(&c2).await.unwrap().map(|c| c.user_id), Some(u(MINSU)));
        assert_eq!(stores.connections.remove(&c2).await.unwrap(), None);
        assert_eq!(stores.connections.get(&c2).await.unwrap(), None);
    }

    /// Edits set the text and `edited_at`; a removal leaves a tombstone in place (no text, who
    /// and when), idempotently; a moderated one is in the audit log with the text it removed;
    /// messages are found by id (a client's id too); ids are compared exactly.
    async fn messages_are_edited_and_deleted_with_tombstones_and_moderation_is_audited(stores: ChatStores) {
        let store = &stores.messages;
        let at = now_ms() - Duration::seconds(5);
        let first = message(21, "edit-me", at, "오타가 있습니닷");
        let second = message(21, "Edit-Me", at + Duration::milliseconds(1), "두 번째");
        store.save(&first, false).await.unwrap();
        store.save(&second, true).await.unwrap();
        let found = store.by_id(p(21), &first.message_id).await.unwrap().unwrap();
        assert_eq!(found, first);
        assert_eq!(store.by_id(p(21), &second.message_id).await.unwrap().unwrap().message, "두 번째", "case counts");
        assert_eq!(store.by_id(p(22), &first.message_id).await.unwrap(), None, "another project's");
        assert_eq!(store.by_id(p(21), &MessageId::parse("nope").unwrap()).await.unwrap(), None);

        let edited_at = now_ms();
        let Changed::Done(edited) = store.edit(p(21), &first.sort_key(), "오타가 있습니다", edited_at).await.unwrap()
        else {
            panic!("an edit of a live message applies")
        };
        assert_eq!((edited.message.as_str(), edited.edited_at), ("오타가 있습니다", Some(edited_at)));
        assert_eq!((edited.timestamp, edited.sort_key()), (first.timestamp, first.sort_key()), "it keeps its place");
        assert_eq!(store.edit(p(21), "m#0000000000001#ghost", "x", edited_at).await.unwrap(), Changed::Missing);

        let by_author = Removal { at: now_ms(), by: u(JIMIN), moderated: false };
        let Changed::Done(tombstone) = store.remove(p(21), &first.sort_key(), &by_author, None).await.unwrap() else {
            panic!("a removal of a live message applies")
        };
        assert_eq!((tombstone.message.as_str(), tombstone.removed.as_ref()), ("", Some(&by_author)));
        assert_eq!(tombstone.message_id, first.message_id);
        let again = Removal { at: now_ms() + Duration::seconds(1), by: u(MINSU), moderated: true };
        assert_eq!(
            store.remove(p(21), &first.sort_key(), &again, None).await.unwrap(),
            Changed::Removed(tombstone.clone()),
            "a tombstone stays as first removed"
        );
        assert_eq!(
            store.edit(p(21), &first.sort_key(), "되살리기", now_ms()).await.unwrap(),
            Changed::Removed(tombstone.clone())
        );
        let page = store.history(p(21), &HistoryQuery::latest(10)).await.unwrap();
        assert_eq!(page.messages, [tombstone.clone(), second.clone()], "the tombstone keeps its place in history");
        assert_eq!(store.removals(limit(10), None).await.unwrap().items, [], "an author's own deletion is not audited");

        // Moderated removals are audited, newest first, with the text each removed.
        let report = ReportId::new(9).unwrap();
        for (i, (id, text)) in [("mod-1", "광고입니다"), ("mod-2", "욕설"), ("mod-3", "도배")].into_iter().enumerate()
        {
            let m = message(23, id, at + Duration::milliseconds(i as i64), text);
            store.save(&m, false).await.unwrap();
            let removal = Removal { at: now_ms() + Duration::milliseconds(i as i64), by: u(MINSU), moderated: true };
            let report = (i == 1).then_some(report);
            assert!(matches!(store.remove(p(23), &m.sort_key(), &removal, report).await.unwrap(), Changed::Done(_)));
        }
        let first_page = store.removals(limit(2), None).await.unwrap();
        let texts: Vec<_> = first_page.items.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(texts, ["도배", "욕설"]);
        assert_eq!(first_page.items[1].report_id, Some(report));
        assert_eq!((first_page.items[0].author.clone(), first_page.items[0].removed_by.clone()), (u(JIMIN), u(MINSU)));
        assert_eq!(first_page.items[0].project_id, p(23));
        let rest = store.removals(limit(2), first_page.next_cursor).await.unwrap();
        assert_eq!(rest.items.iter().map(|r| r.message.as_str()).collect::<Vec<_>>(), ["광고입니다"]);
        assert_eq!(rest.next_cursor, None);
    }

    /// An edit and a delete racing on one message end in one state on every store: a tombstone
    /// (never an edited one), and a moderated removal's record holds the text it actually
    /// removed, whichever of the two landed first.
    async fn racing_edits_and_deletes_end_in_one_consistent_state(stores: ChatStores) {
        let store = &stores.messages;
        for round in 0..12 {
            let m = message(24, &format!("race-{round}"), now_ms(), "처음");
            store.save(&m, false).await.unwrap();
            let key = m.sort_key();
            let removal = Removal { at: now_ms(), by: u(MINSU), moderated: true };
            let (edited, removed) =
                tokio::join!(store.edit(p(24), &key, "고친 글", now_ms()), store.remove(p(24), &key, &removal, None),);
            let (edited, removed) = (edited.unwrap(), removed.unwrap());
            assert!(matches!(removed, Changed::Done(_)), "the delete always applies: {removed:?}");
            let end = store.find(p(24), &key).await.unwrap().unwrap();
            assert!(end.is_removed() && end.message.is_empty(), "round {round}: {end:?}");
            let record = store
                .removals(limit(100), None)
                .await
                .unwrap()
                .items
                .into_iter()
                .find(|r| r.message_id == m.message_id)
                .expect("the removal is audited");
            match edited {
                // The edit landed first: the record holds the edited text.
                Changed::Done(_) => assert_eq!(record.message, "고친 글", "round {round}"),
                // The delete landed first: the edit found a tombstone.
                Changed::Removed(_) => assert_eq!(record.message, "처음", "round {round}"),
                Changed::Missing => panic!("round {round}: the message vanished"),
            }
        }
    }

    fn from(user: &str, m: ChatMessage) -> ChatMessage {
        ChatMessage { user_id: u(user), ..m }
    }

    /// A read marker only moves forward (a repeat or an older message changes nothing, racing
    /// marks end at the furthest), makes a room, and unread counts are exact: after the marker,
    /// by others, not deleted, bounded by the cap.
    async fn read_markers_move_forward_and_unread_counts_are_exact(stores: ChatStores) {
        let (jimin, minsu) = (u(JIMIN), u(MINSU));
        let at = now_ms() - Duration::seconds(60);
        // Minsu's view of project 31: Jimin's messages 0..10, Minsu's own every third one.
        let mut sent = Vec::new();
        for i in 0..10 {
            let author = if i % 3 == 0 { MINSU } else { JIMIN };
            let m = from(author, message(31, &format!("r{i}"), at + Duration::milliseconds(i), "읽었나요?"));
            stores.messages.save(&m, false).await.unwrap();
            sent.push(m);
        }
        let others = |after: usize| (after..10).filter(|i| i % 3 != 0).count() as u32;
        assert_eq!(stores.messages.unread(p(31), &minsu, None, 100).await.unwrap(), others(0), "no marker: all");
        assert_eq!(stores.messages.unread(p(31), &jimin, None, 100).await.unwrap(), 4, "own messages never count");
        assert_eq!(stores.messages.unread(p(31), &minsu, None, 3).await.unwrap(), 3, "the cap holds");
        assert_eq!(stores.messages.unread(p(32), &minsu, None, 100).await.unwrap(), 0, "another project's");

        let read_at = now_ms();
        let marked = stores.rooms.mark_read(&minsu, p(31), &sent[4].sort_key(), sent[4].timestamp, read_at).await;
        let Marked::Moved(marker) = marked.unwrap() else { panic!("a first mark moves") };
        assert_eq!((marker.up_to.as_str(), marker.at), (sent[4].sort_key().as_str(), read_at));
        let after = Some(marker.up_to.as_str());
        assert_eq!(stores.messages.unread(p(31), &minsu, after, 100).await.unwrap(), others(5), "after it only");
        let rooms = stores.rooms.rooms(&minsu).await.unwrap();
        assert_eq!(rooms.len(), 1, "marking makes the room");
        assert_eq!((rooms[0].updated_at, rooms[0].read.clone()), (sent[4].timestamp, Some(marker.clone())));
        for (older, i) in [("a repeat", 4), ("an older message", 2)] {
            let again = stores.rooms.mark_read(&minsu, p(31), &sent[i].sort_key(), sent[i].timestamp, now_ms()).await;
            assert_eq!(again.unwrap(), Marked::Unchanged(marker.clone()), "{older} changes nothing");
        }
        // A deleted message is not unread; one deleted before the marker changes nothing.
        let removal = Removal { at: now_ms(), by: jimin.clone(), moderated: false };
        stores.messages.remove(p(31), &sent[8].sort_key(), &removal, None).await.unwrap();
        assert_eq!(stores.messages.unread(p(31), &minsu, after, 100).await.unwrap(), others(5) - 1);
        // The marker's own message, when someone else's, is read.
        let at_jimins = stores.rooms.mark_read(&minsu, p(31), &sent[5].sort_key(), sent[5].timestamp, now_ms()).await;
        assert!(matches!(at_jimins.unwrap(), Marked::Moved(_)));
        let after = sent[5].sort_key();
        assert_eq!(stores.messages.unread(p(31), &minsu, Some(&after), 100).await.unwrap(), others(6) - 1);

        // Racing marks end at the furthest, whatever order they land in.
        let marks = (0..10).rev().map(|i| {
            let rooms = stores.rooms.clone();
            let (key, stamp) = (sent[i].sort_key(), sent[i].timestamp);
            async move { rooms.mark_read(&u(JIMIN), p(31), &key, stamp, now_ms()).await }
        });
        for marked in futures::future::join_all(marks).await {
            marked.unwrap();
        }
        let jimins = stores.rooms.rooms(&jimin).await.unwrap();
        assert_eq!(jimins[0].read.as_ref().map(|r| r.up_to.clone()), Some(sent[9].sort_key()));
        assert_eq!(stores.messages.unread(p(31), &jimin, Some(&sent[9].sort_key()), 100).await.unwrap(), 0);
    }

    /// Counting walks past the first page a store reads (DynamoDB's 1 MB): 150 messages of
    /// 8 KB each, exact and bounded.
    async fn unread_counts_span_pages(stores: ChatStores) {
        let at = now_ms() - Duration::seconds(30);
        let long = "😀".repeat(2_000);
        for i in 0..150 {
            let m = message(33, &format!("big-{i:03}"), at + Duration::milliseconds(i), &long);
            stores.messages.save(&m, false).await.unwrap();
        }
        assert_eq!(stores.messages.unread(p(33), &u(MINSU), None, 1_001).await.unwrap(), 150);
        assert_eq!(stores.messages.unread(p(33), &u(MINSU), None, 140).await.unwrap(), 140);
    }

    /// One typing frame per member every interval: racing frames pass exactly once, the gate
    /// opens again after the interval, members and projects are apart, and a gate is not a room.
    async fn typing_passes_once_per_member_and_interval(stores: ChatStores) {
        let every = Duration::seconds(3);
        let at = now_ms();
        let jimin = u(JIMIN);
        let racing = (0..6).map(|_| stores.rooms.typing(&jimin, p(41), at, every));
        let passed = futures::future::join_all(racing).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
        assert_eq!(passed, 1, "racing frames: one passes");
        assert!(!stores.rooms.typing(&u(JIMIN), p(41), at + Duration::milliseconds(2_999), every).await.unwrap());
        assert!(stores.rooms.typing(&u(JIMIN), p(41), at + every, every).await.unwrap(), "open again after 3 s");
        assert!(stores.rooms.typing(&u(MINSU), p(41), at, every).await.unwrap(), "another member");
        assert!(stores.rooms.typing(&u(JIMIN), p(42), at, every).await.unwrap(), "another project");
        assert!(stores.rooms.rooms(&u(JIMIN)).await.unwrap().is_empty(), "typing makes no room");
        // A first message after typing makes the room as any first message does.
        let touched = stores.rooms.touch(&jimin, p(41), at).await.unwrap();
        assert_eq!(touched, Touched::Moved { previous: None });
        let rooms = stores.rooms.rooms(&jimin).await.unwrap();
        assert_eq!(rooms.iter().map(|r| (r.project_id, r.updated_at)).collect::<Vec<_>>(), [(p(41), at)]);
        // Taken back (the message was not stored), it is no room again.
        stores.rooms.undo_touch(&jimin, p(41), touched, at).await.unwrap();
        assert!(stores.rooms.rooms(&jimin).await.unwrap().is_empty());
    }

    async fn chat_health_answers(stores: ChatStores) {
        stores.health.ping().await.unwrap();
    }

    macro_rules! chat_conformance {
        ($($case:ident),* $(,)?) => {
            mod dynamodb {
                $(#[tokio::test]
                async fn $case() {
                    super::$case(service_tests::TestDynamo::new().await.stores()).await;
                })*
            }
            mod sqlite {
                $(#[tokio::test]
                async fn $case() {
                    let db = service_tests::TestDb::sqlite();
                    super::$case(shared::store::ChatStores::sql(std::sync::Arc::new(db.sql_db()))).await;
                })*
            }
            mod mariadb {
                $(#[tokio::test]
                async fn $case() {
                    let db = service_tests::TestDb::mariadb().await;
                    super::$case(shared::store::ChatStores::sql(std::sync::Arc::new(db.sql_db()))).await;
                })*
            }
        };
    }

    chat_conformance!(
        same_millisecond_messages_are_both_kept,
        client_ids_make_saves_idempotent,
        a_thousand_messages_page_both_ways_without_gap_or_duplicate,
        every_accepted_bound_selects_exactly_what_it_says,
        rooms_follow_the_latest_activity,
        connections_are_found_by_project_and_user,
        messages_are_edited_and_deleted_with_tombstones_and_moderation_is_audited,
        racing_edits_and_deletes_end_in_one_consistent_state,
        read_markers_move_forward_and_unread_counts_are_exact,
        unread_counts_span_pages,
        typing_passes_once_per_member_and_interval,
        chat_health_answers,
    );

    #[tokio::test]
    async fn an_unreachable_emulator_is_unavailable_not_a_crash() {
        let mut config = service_tests::emulator_config();
        config.ddb_endpoint_url = Some("http://127.0.0.1:9".into());
        let aws = shared::aws::AwsContext::new(&config).expect("emulator credentials");
        let store = shared::aws::dynamo_store(&aws, &config);
        let stores = ChatStores::dynamo(store);
        let err = stores.messages.history(p(1), &HistoryQuery::latest(5)).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Data written before the web-app migration (20261130000001) migrates: dates become whole KST
// days with their instants, banners keep their images.

mod migrations {
    use chrono::NaiveDate;
    use service_tests::TestDb;
    use shared::{
        config::DatabaseSettings,
        domain::{BannerId, EventId, time::parse_instant},
        store::Stores,
    };
    use sqlx::Connection;

    /// Runs the migrations of the previous release by hand (sqlx's bookkeeping table stays
    /// absent, as before any migration ran) and inserts rows in their shape.
    async fn previous_release(db: &TestDb) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/migrations");
        let older = ["20261126000001_initial.sql", "20261126000002_chat.sql"];
        match &db.settings {
            DatabaseSettings::MySql { url } => {
                let mut conn = sqlx::MySqlConnection::connect(url).await.unwrap();
                for file in older {
                    let sql = std::fs::read_to_string(dir.join("mysql").join(file)).unwrap();
                    sqlx::raw_sql(&sql).execute(&mut conn).await.unwrap();
                }
                sqlx::raw_sql(
                    "INSERT INTO events (title, category, start_date, end_date, created_at, updated_at) \
                     VALUES ('old', 'HACKATHON', '2026-05-01', '2026-05-02', '2026-04-01 00:00:00', '2026-04-01 00:00:00'); \
                     INSERT INTO banners (title, image_url, is_active, sort_order, created_at, updated_at) \
                     VALUES ('old', 'https://cdn.portforge.dev/old.png', TRUE, 0, '2026-04-01 00:00:00', '2026-04-01 00:00:00');",
                )
                .execute(&mut conn)
                .await
                .unwrap();
            }
            DatabaseSettings::Sqlite { path } => {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                let url = format!("sqlite://{}?mode=rwc", path.display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                for file in older {
                    let sql = std::fs::read_to_string(dir.join("sqlite").join(file)).unwrap();
                    sqlx::raw_sql(&sql).execute(&mut conn).await.unwrap();
                }
                sqlx::raw_sql(
                    "INSERT INTO events (title, category, start_date, end_date, created_at, updated_at) \
                     VALUES ('old', 'HACKATHON', '2026-05-01', '2026-05-02', '2026-04-01T00:00:00.000+00:00', '2026-04-01T00:00:00.000+00:00'); \
                     INSERT INTO banners (title, image_url, is_active, sort_order, created_at, updated_at) \
                     VALUES ('old', 'https://cdn.portforge.dev/old.png', TRUE, 0, '2026-04-01T00:00:00.000+00:00', '2026-04-01T00:00:00.000+00:00');",
                )
                .execute(&mut conn)
                .await
                .unwrap();
            }
            DatabaseSettings::MySqlSecret(_) => unreachable!("test databases are given by URL"),
        }
    }

    async fn old_rows_migrate(db: TestDb) {
        previous_release(&db).await;
        let stores: Stores = db.stores();
        let event = stores.events.get(EventId::new(1).unwrap()).await.unwrap().expect("the old event");
        assert_eq!(event.start_at, parse_instant("2026-04-30T15:00:00Z").unwrap(), "00:00 KST");
        assert_eq!(event.end_at, parse_instant("2026-05-02T14:59:59.999Z").unwrap(), "the end of the last day");
        assert_eq!((event.start_date, event.all_day), (NaiveDate::from_ymd_opt(2026, 5, 1).unwrap(), true));
        let banner = stores.banners.get(BannerId::new(1).unwrap()).await.unwrap().expect("the old banner");
        assert_eq!(banner.image_url.as_deref(), Some("https://cdn.portforge.dev/old.png"));
        // Running the migrations again finds nothing to do.
        db.sql_db().migrate().await.unwrap();
    }

    #[tokio::test]
    async fn old_rows_migrate_on_mariadb() {
        old_rows_migrate(TestDb::mariadb().await).await;
    }

    #[tokio::test]
    async fn old_rows_migrate_on_sqlite() {
        old_rows_migrate(TestDb::sqlite()).await;
    }
}
