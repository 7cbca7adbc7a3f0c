use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::{SqlDb, Statement};
use crate::domain::{
    Cursor, EventId, Limit, Page,
    event::{Event, EventCategory, EventDraft, EventFilter},
};
use crate::store::{EventStore, Guarded, StoreError};

const EVENT_COLUMNS: &str = "SELECT event_id, title, category, description, image_url, method, location, link, \
     start_date, end_date, start_at, end_at, all_day, created_at, updated_at FROM events";

#[derive(sqlx::FromRow)]
struct Row {
    event_id: i64,
    title: String,
    category: String,
    description: Option<String>,
    image_url: Option<String>,
    method: Option<String>,
    location: Option<String>,
    link: Option<String>,
    start_date: NaiveDate,
    end_date: NaiveDate,
    start_at: DateTime<Utc>,
    end_at: DateTime<Utc>,
    all_day: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<Row> for Event {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<Self, StoreError> {
        let category = EventCategory::parse(&r.category)
            .map_err(|_| StoreError::Internal(format!("event {} has unknown category {:?}", r.event_id, r.category)))?;
        Ok(Self {
            event_id: EventId::from_stored(r.event_id),
            title: r.title,
            category,
            description: r.description,
            image_url: r.image_url,
            method: r.method,
            location: r.location,
            link: r.link,
            start_date: r.start_date,
            end_date: r.end_date,
            start_at: r.start_at,
            end_at: r.end_at,
            all_day: r.all_day,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn opt(text: &Option<impl AsRef<str>>) -> Option<&str> {
    text.as_ref().map(AsRef::as_ref)
}

#[async_trait]
impl EventStore for SqlDb {
    async fn create(&self, d: &EventDraft, at: DateTime<Utc>) -> Result<Event, StoreError> {
        let done = self
            .execute(
                &Statement::new(
                    "INSERT INTO events (title, category, description, image_url, method, location, link, \
                     start_date, end_date, start_at, end_at, all_day, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(d.title.as_str())
                .bind(d.category.code())
                .bind(opt(&d.description))
                .bind(opt(&d.image_url))
                .bind(opt(&d.method))
                .bind(opt(&d.location))
                .bind(opt(&d.link))
                .bind(d.start.date)
                .bind(d.end.date)
                .bind(d.start.at)
                .bind(d.end.at)
                .bind(d.all_day())
                .bind(at)
                .bind(at),
            )
            .await?;
        Ok(Event {
            event_id: EventId::from_stored(done.last_insert_id),
            title: d.title.as_str().to_owned(),
            category: d.category,
            description: opt(&d.description).map(str::to_owned),
            image_url: opt(&d.image_url).map(str::to_owned),
            method: opt(&d.method).map(str::to_owned),
            location: opt(&d.location).map(str::to_owned),
            link: opt(&d.link).map(str::to_owned),
            start_date: d.start.date,
            end_date: d.end.date,
            start_at: d.start.at,
            end_at: d.end.at,
            all_day: d.all_day(),
            created_at: at,
            updated_at: at,
        })
    }

    async fn get(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        let row: Option<Row> =
            self.fetch_optional(&Statement::new(EVENT_COLUMNS).push("WHERE event_id = ?").bind(id)).await?;
        row.map(Event::try_from).transpose()
    }

    async fn list(&self, f: &EventFilter, limit: Limit, after: Option<Cursor>) -> Result<Page<Event>, StoreError> {
        let mut stmt = Statement::new(EVENT_COLUMNS)
            .push("WHERE start_date >= ? AND start_date <= ? AND end_date >= ? AND end_date <= ?")
            .bind(f.start_from)
            .bind(f.start_to)
            .bind(f.end_from)
            .bind(f.end_to);
        if let Some(category) = f.category {
            stmt = stmt.push("AND category = ?").bind(category.code());
        }
        if let Some(cursor) = after {
            let at = cursor.instant().ok_or_else(|| StoreError::Internal("cursor outside the time range".into()))?;
            stmt = stmt.push("AND (start_at > ? OR (start_at = ? AND event_id > ?))").bind(at).bind(at).bind(cursor.id);
        }
        let stmt = stmt.push("ORDER BY start_at ASC, event_id ASC LIMIT ?").bind(limit.probe());
        let rows: Vec<Row> = self.fetch_all(&stmt).await?;
        let events = rows.into_iter().map(Event::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_probe(events, limit, |e| Cursor::at_instant(&e.start_at, e.event_id.get())))
    }

    async fn update(
        &self,
        id: EventId,
        d: &EventDraft,
        read_at_version: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Guarded<Event>, StoreError> {
        let done = self
            .execute(
                &Statement::new(
                    "UPDATE events SET title = ?, category = ?, description = ?, image_url = ?, method = ?, \
                     location = ?, link = ?, start_date = ?, end_date = ?, start_at = ?, end_at = ?, all_day = ?, \
                     updated_at = ? WHERE event_id = ? AND updated_at = ?",
                )
                .bind(d.title.as_str())
                .bind(d.category.code())
                .bind(opt(&d.description))
                .bind(opt(&d.image_url))
                .bind(opt(&d.method))
                .bind(opt(&d.location))
                .bind(opt(&d.link))
                .bind(d.start.date)
                .bind(d.end.date)
                .bind(d.start.at)
                .bind(d.end.at)
                .bind(d.all_day())
                .bind(at)
                .bind(id)
                .bind(read_at_version),
            )
            .await?;
        self.guarded(done.rows_affected, EventStore::get(self, id)).await
    }

    async fn delete(&self, id: EventId) -> Result<bool, StoreError> {
        let done = self.execute(&Statement::new("DELETE FROM events WHERE event_id = ?").bind(id)).await?;
        Ok(done.rows_affected > 0)
    }
}
