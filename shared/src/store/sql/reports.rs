//! Reports and their action log. A reporter has at most one open report per target: `open_slot`
//! is 1 while a report is open and NULL once it is closed, and a unique key over (reporter,
//! target_key, open_slot) holds the rule on both engines (NULLs never collide), even under races.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{SqlDb, Statement, Step};
use crate::domain::{
    BoundedText, Cursor, Limit, MessageId, NotificationId, Page, ProjectId, ReportId, UserId,
    notification::{NewNotification, Notification},
    report::{
        ActionKind, Decision, DecisionSubject, MessageEvidence, NewAction, NewReply, NewReport, Outcome, REPLIES_MAX,
        ReplyAuthor, Report, ReportAction, ReportFilter, ReportReply, ReportStatus, ReportSummary, ReportTarget,
        ReportType, TargetKind,
    },
};
use crate::store::{Claim, Replied, ReportChange, ReportStore, StoreError};

const REPORT_COLUMNS: &str = "SELECT r.report_id, r.user_id, r.project_id, r.type, r.content, r.status, \
     r.resolution_note, r.decision, r.created_at, r.updated_at, r.target_kind, r.reported_user_id, \
     CAST(r.message_id AS CHAR(64)) AS message_id, r.message_author, r.message_sender, r.message_text, \
     r.message_sent_at, r.title, r.reply_count, COALESCE(r.waiting_since, r.created_at) AS waiting_since";
const REPLY_COLUMNS: &str = "SELECT reply_id, report_id, author, author_id, message, created_at FROM report_replies";

#[derive(sqlx::FromRow)]
struct ReportRow {
    report_id: i64,
    user_id: String,
    project_id: Option<i64>,
    #[sqlx(rename = "type")]
    report_type: String,
    content: String,
    status: String,
    resolution_note: Option<String>,
    decision: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    target_kind: String,
    reported_user_id: Option<String>,
    message_id: Option<String>,
    message_author: Option<String>,
    message_sender: Option<String>,
    message_text: Option<String>,
    message_sent_at: Option<DateTime<Utc>>,
    title: Option<String>,
    reply_count: i64,
    waiting_since: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ReplyRow {
    reply_id: i64,
    report_id: i64,
    author: String,
    author_id: String,
    message: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<ReplyRow> for ReportReply {
    type Error = StoreError;

    fn try_from(r: ReplyRow) -> Result<Self, StoreError> {
        Ok(Self {
            reply_id: r.reply_id,
            report_id: ReportId::from_stored(r.report_id),
            author: ReplyAuthor::parse(&r.author).ok_or_else(|| corrupt("reply author", &r.author))?,
            author_id: UserId::from_stored(r.author_id),
            message: r.message,
            created_at: r.created_at,
        })
    }
}

impl ReportRow {
    fn target(&mut self) -> Result<ReportTarget, StoreError> {
        let project_id = self.project_id.map(ProjectId::from_stored);
        let kind = TargetKind::parse(&self.target_kind).map_err(|_| corrupt("target kind", &self.target_kind))?;
        let missing = |what: &str| StoreError::Internal(format!("report {} lacks its {what}", self.report_id));
        Ok(match kind {
            TargetKind::Project => ReportTarget::Project(project_id.ok_or_else(|| missing("project"))?),
            TargetKind::User => ReportTarget::User {
                user_id: UserId::from_stored(self.reported_user_id.take().ok_or_else(|| missing("reported user"))?),
                project_id,
            },
            TargetKind::Message => ReportTarget::Message(MessageEvidence {
                project_id: project_id.ok_or_else(|| missing("project"))?,
                message_id: MessageId::from_stored(self.message_id.take().ok_or_else(|| missing("message id"))?),
                author: UserId::from_stored(self.message_author.take().ok_or_else(|| missing("message author"))?),
                sender_name: self.message_sender.take().unwrap_or_default(),
                text: self.message_text.take().unwrap_or_default(),
                sent_at: self.message_sent_at.ok_or_else(|| missing("message time"))?,
            }),
            TargetKind::None => ReportTarget::None,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    #[sqlx(flatten)]
    report: ReportRow,
    open_reporters: i64,
}

#[derive(sqlx::FromRow)]
struct ActionRow {
    action_id: i64,
    report_id: Option<i64>,
    project_id: Option<i64>,
    admin_id: String,
    action: String,
    note: Option<String>,
    outcome: String,
    created_at: DateTime<Utc>,
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Internal(format!("stored {what} {value:?} is not one this service writes"))
}

impl TryFrom<ReportRow> for Report {
    type Error = StoreError;

    fn try_from(mut r: ReportRow) -> Result<Self, StoreError> {
        let target = r.target()?;
        Ok(Self {
            report_id: ReportId::from_stored(r.report_id),
            user_id: UserId::from_stored(r.user_id),
            project_id: target.project_id(),
            target,
            title: r.title,
            reply_count: r.reply_count,
            waiting_since: r.waiting_since,
            report_type: ReportType::parse(&r.report_type).map_err(|_| corrupt("report type", &r.report_type))?,
            content: r.content,
            status: ReportStatus::parse(&r.status).map_err(|_| corrupt("status", &r.status))?,
            resolution_note: r.resolution_note,
            decision: r
                .decision
                .as_deref()
                .map(|d| Decision::parse(d).map_err(|_| corrupt("decision", d)))
                .transpose()?,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

impl TryFrom<ActionRow> for ReportAction {
    type Error = StoreError;

    fn try_from(r: ActionRow) -> Result<Self, StoreError> {
        Ok(Self {
            action_id: r.action_id,
            report_id: r.report_id.map(ReportId::from_stored),
            project_id: r.project_id.map(ProjectId::from_stored),
            admin_id: UserId::from_stored(r.admin_id),
            action: ActionKind::parse(&r.action).ok_or_else(|| corrupt("action", &r.action))?,
            note: r.note,
            outcome: Outcome::parse(&r.outcome).ok_or_else(|| corrupt("outcome", &r.outcome))?,
            created_at: r.created_at,
        })
    }
}

/// `open_slot` for a status: 1 while open, NULL once closed.
fn open_slot(status: ReportStatus) -> Option<i64> {
    status.is_open().then_some(1)
}

fn insert_action(action: &NewAction, at: DateTime<Utc>) -> Statement {
    let subject = action.subject.as_ref();
    Statement::new(
        "INSERT INTO report_actions \
         (report_id, project_id, admin_id, action, note, outcome, subject_title, subject_leader, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(action.report_id.map(|id| id.get()))
    .bind(action.project_id.map(|id| id.get()))
    .bind(&action.admin_id)
    .bind(action.action.code())
    .bind(action.note.as_deref())
    .bind(action.outcome.code())
    .bind(subject.map(|s| s.title.as_str()))
    .bind(subject.and_then(|s| s.leader.as_ref()).map(UserId::as_str))
    .bind(at)
}

#[derive(sqlx::FromRow)]
struct DeleteAttemptRow {
    outcome: String,
    subject_title: Option<String>,
    subject_leader: Option<String>,
}

fn insert_notification(new: &NewNotification, at: DateTime<Utc>) -> Statement {
    Statement::new("INSERT INTO notifications (user_id, message, link, is_read, created_at) VALUES (?, ?, ?, ?, ?)")
        .bind(&new.user_id)
        .bind(new.message.as_str())
        .bind(new.link.as_ref().map(|l| l.as_str()))
        .bind(false)
        .bind(at)
}

impl SqlDb {
    async fn open_report_of(&self, reporter: &UserId, target_key: &str) -> Result<Option<Report>, StoreError> {
        let row: Option<ReportRow> = self
            .fetch_optional(
                &Statement::new(REPORT_COLUMNS)
                    .push("FROM project_reports r WHERE r.user_id = ? AND r.target_key = ? AND r.open_slot = 1")
                    .bind(reporter)
                    .bind(target_key),
            )
            .await?;
        row.map(Report::try_from).transpose()
    }
}

/// Newest first: `created_at`, then the higher id.
fn newest_first(mut stmt: Statement, after: Option<Cursor>, limit: Limit) -> Result<Statement, StoreError> {
    if let Some(cursor) = after {
        let at = cursor.instant().ok_or_else(|| StoreError::Internal("cursor outside the time range".into()))?;
        stmt = stmt
            .push("AND (r.created_at < ? OR (r.created_at = ? AND r.report_id < ?))")
            .bind(at)
            .bind(at)
            .bind(cursor.id);
    }
    Ok(stmt.push("ORDER BY r.created_at DESC, r.report_id DESC LIMIT ?").bind(limit.probe()))
}

/// Since when a pending report waits: filed, or sent back to the administrators by its reporter
/// (rows the release before wrote have none: their filing).
const WAITING_SINCE: &str = "COALESCE(r.waiting_since, r.created_at)";

/// Waiting longest first ([`WAITING_SINCE`]), then the lower id.
fn oldest_waiting_first(mut stmt: Statement, after: Option<Cursor>, limit: Limit) -> Result<Statement, StoreError> {
    if let Some(cursor) = after {
        let at = cursor.instant().ok_or_else(|| StoreError::Internal("cursor outside the time range".into()))?;
        stmt = stmt
            .push(&format!("AND ({WAITING_SINCE} > ? OR ({WAITING_SINCE} = ? AND r.report_id > ?))"))
            .bind(at)
            .bind(at)
            .bind(cursor.id);
    }
    Ok(stmt.push(&format!("ORDER BY {WAITING_SINCE} ASC, r.report_id ASC LIMIT ?")).bind(limit.probe()))
}

fn insert_reply(new: &NewReply, at: DateTime<Utc>) -> Statement {
    Statement::new(
        "INSERT INTO report_replies (report_id, author, author_id, message, idempotency_key, created_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(new.report_id)
    .bind(new.author.code())
    .bind(&new.author_id)
    .bind(new.message.as_str())
    .bind(new.idempotency_key.as_deref())
    .bind(at)
}

fn stored_reply(new: &NewReply, reply_id: i64, at: DateTime<Utc>) -> ReportReply {
    ReportReply {
        reply_id,
        report_id: new.report_id,
        author: new.author,
        author_id: new.author_id.clone(),
        message: new.message.as_str().to_owned(),
        created_at: at,
    }
}

fn stored_notification(new: &NewNotification, notification_id: i64, at: DateTime<Utc>) -> Notification {
    Notification {
        notification_id: NotificationId::from_stored(notification_id),
        user_id: new.user_id.clone(),
        message: new.message.as_str().to_owned(),
        link: new.link.as_ref().map(|l| l.as_str().to_owned()),
        is_read: false,
        created_at: at,
    }
}

impl SqlDb {
    async fn reply_by_key(&self, new: &NewReply, key: &str) -> Result<Option<ReportReply>, StoreError> {
        let row: Option<ReplyRow> = self
            .fetch_optional(
                &Statement::new(REPLY_COLUMNS)
                    .push("WHERE report_id = ? AND author_id = ? AND idempotency_key = ?")
                    .bind(new.report_id)
                    .bind(&new.author_id)
                    .bind(key),
            )
            .await?;
        row.map(ReportReply::try_from).transpose()
    }

    /// The reply a retry with the same key already stored, if any.
    async fn earlier_reply(&self, new: &NewReply) -> Result<Option<ReportReply>, StoreError> {
        match &new.idempotency_key {
            Some(key) => self.reply_by_key(new, key).await,
            None => Ok(None),
        }
    }
}

#[async_trait]
impl ReportStore for SqlDb {
    async fn file(&self, new: &NewReport, at: DateTime<Utc>) -> Result<(Report, bool), StoreError> {
        let status = ReportStatus::Pending;
        let target_key = new.target.key();
        let evidence = match &new.target {
            ReportTarget::Message(evidence) => Some(evidence),
            _ => None,
        };
        let reported_user = match &new.target {
            ReportTarget::User { user_id, .. } => Some(user_id.as_str()),
            _ => None,
        };
        let insert = Statement::new(
            "INSERT INTO project_reports (user_id, project_id, type, content, status, open_slot, created_at, updated_at, \
             target_kind, target_ref, reported_user_id, message_id, message_author, message_sender, message_text, \
             message_sent_at, title, waiting_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&new.reporter)
        .bind(new.target.project_id().map(|id| id.get()))
        .bind(new.report_type.code())
        .bind(new.content.as_str())
        .bind(status.code())
        .bind(open_slot(status))
        .bind(at)
        .bind(at)
        .bind(new.target.kind().code())
        .bind(target_key.as_str())
        .bind(reported_user)
        .bind(evidence.map(|e| e.message_id.as_str()))
        .bind(evidence.map(|e| e.author.as_str()))
        .bind(evidence.map(|e| e.sender_name.as_str()))
        .bind(evidence.map(|e| e.text.as_str()))
        .bind(evidence.map(|e| e.sent_at))
        .bind(new.title.as_ref().map(BoundedText::as_str))
        .bind(at);
        match self.execute(&insert).await {
            Ok(done) => Ok((
                Report {
                    report_id: ReportId::from_stored(done.last_insert_id),
                    user_id: new.reporter.clone(),
                    project_id: new.target.project_id(),
                    target: new.target.clone(),
                    title: new.title.as_ref().map(|t| t.as_str().to_owned()),
                    reply_count: 0,
                    waiting_since: at,
                    report_type: new.report_type,
                    content: new.content.as_str().to_owned(),
                    status,
                    resolution_note: None,
                    decision: None,
                    created_at: at,
                    updated_at: at,
                },
                true,
            )),
            // The reporter's open report on this target exists (perhaps filed a moment ago by
            // a racing request): that one is the answer.
            Err(StoreError::Conflict(_)) => match self.open_report_of(&new.reporter, &target_key).await? {
                Some(existing) => Ok((existing, false)),
                None => Err(StoreError::Unavailable("the open report was closed meanwhile; try again".into())),
            },
            Err(e) => Err(e),
        }
    }

    async fn get(&self, id: ReportId) -> Result<Option<Report>, StoreError> {
        let row: Option<ReportRow> = self
            .fetch_optional(
                &Statement::new(REPORT_COLUMNS).push("FROM project_reports r WHERE r.report_id = ?").bind(id),
            )
            .await?;
        row.map(Report::try_from).transpose()
    }

    async fn mine(&self, reporter: &UserId, limit: Limit, after: Option<Cursor>) -> Result<Page<Report>, StoreError> {
        let stmt = Statement::new(REPORT_COLUMNS).push("FROM project_reports r WHERE r.user_id = ?").bind(reporter);
        let rows: Vec<ReportRow> = self.fetch_all(&newest_first(stmt, after, limit)?).await?;
        let reports = rows.into_iter().map(Report::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_probe(reports, limit, |r| Cursor::at_instant(&r.created_at, r.report_id.get())))
    }

    async fn list(
        &self,
        filter: &ReportFilter,
        limit: Limit,
        after: Option<Cursor>,
    ) -> Result<Page<ReportSummary>, StoreError> {
        let mut stmt = Statement::new(REPORT_COLUMNS).push(
            ", (SELECT COUNT(DISTINCT o.user_id) FROM project_reports o WHERE o.target_key = r.target_key \
             AND o.open_slot = 1) AS open_reporters FROM project_reports r WHERE 1 = 1",
        );
        if let Some(status) = filter.status {
            stmt = stmt.push("AND r.status = ?").bind(status.code());
        }
        if let Some(report_type) = filter.report_type {
            stmt = stmt.push("AND r.type = ?").bind(report_type.code());
        }
        if let Some(project_id) = filter.project_id {
            stmt = stmt.push("AND r.project_id = ?").bind(project_id);
        }
        if let Some(kind) = filter.target {
            stmt = stmt.push("AND r.target_kind = ?").bind(kind.code());
        }
        let stmt = if filter.waiting {
            oldest_waiting_first(stmt.push("AND r.status = ?").bind(ReportStatus::Pending.code()), after, limit)?
        } else {
            newest_first(stmt, after, limit)?
        };
        let rows: Vec<SummaryRow> = self.fetch_all(&stmt).await?;
        let summaries = rows
            .into_iter()
            .map(|row| Ok(ReportSummary { report: Report::try_from(row.report)?, open_reporters: row.open_reporters }))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let at = |s: &ReportSummary| if filter.waiting { s.report.waiting_since } else { s.report.created_at };
        Ok(Page::from_probe(summaries, limit, |s| Cursor::at_instant(&at(s), s.report.report_id.get())))
    }

    async fn actions(&self, id: ReportId) -> Result<Vec<ReportAction>, StoreError> {
        let rows: Vec<ActionRow> = self
            .fetch_all(
                &Statement::new(
                    "SELECT action_id, report_id, project_id, admin_id, action, note, outcome, created_at \
                     FROM report_actions WHERE report_id = ? ORDER BY action_id",
                )
                .bind(id),
            )
            .await?;
        rows.into_iter().map(ReportAction::try_from).collect()
    }

    async fn claim(
        &self,
        id: ReportId,
        token: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Claim, StoreError> {
        let taken = self
            .execute(
                &Statement::new(
                    "UPDATE project_reports SET decision_token = ?, decision_until = ? \
                     WHERE report_id = ? AND (decision_token IS NULL OR decision_until < ?)",
                )
                .bind(token)
                .bind(until)
                .bind(id)
                .bind(now),
            )
            .await?;
        match (taken.rows_affected, ReportStore::get(self, id).await?) {
            (_, None) => Ok(Claim::Missing),
            (0, Some(_)) => Ok(Claim::Busy),
            (_, Some(report)) => Ok(Claim::Claimed(Box::new(report))),
        }
    }

    async fn release(&self, id: ReportId, token: &str) -> Result<(), StoreError> {
        self.execute(
            &Statement::new(
                "UPDATE project_reports SET decision_token = NULL, decision_until = NULL \
                 WHERE report_id = ? AND decision_token = ?",
            )
            .bind(id)
            .bind(token),
        )
        .await
        .map(|_| ())
    }

    async fn apply(
        &self,
        id: ReportId,
        token: &str,
        change: &ReportChange,
        log: &NewAction,
        notify: &[NewNotification],
        at: DateTime<Utc>,
    ) -> Result<Option<(Report, Vec<Notification>)>, StoreError> {
        let update = Statement::new(
            "UPDATE project_reports SET status = ?, decision = ?, resolution_note = ?, open_slot = ?, updated_at = ?, \
             decision_token = NULL, decision_until = NULL WHERE report_id = ? AND decision_token = ? AND reply_count = ?",
        )
        .bind(change.status.code())
        .bind(change.decision.code())
        .bind(change.note.as_deref())
        .bind(open_slot(change.status))
        .bind(at)
        .bind(id)
        .bind(token)
        // A reply that landed since the decision read the report (a reopening, a question) is
        // not silently closed over: the decision is refused and reloaded.
        .bind(change.replies_seen);
        let log = insert_action(log, at);
        let inserts: Vec<Statement> = notify.iter().map(|n| insert_notification(n, at)).collect();
        // The answer a decision carries (an inquiry resolved with its note) joins the thread.
        let answer = change.answer.as_ref().map(|reply| {
            [
                insert_reply(reply, at),
                Statement::new(
                    "UPDATE project_reports SET reply_count = reply_count + 1 WHERE report_id = ? AND reply_count < ?",
                )
                .bind(id)
                .bind(REPLIES_MAX),
            ]
        });
        let mut steps = vec![Step { statement: &update, guard: true }, Step { statement: &log, guard: false }];
        steps.extend(inserts.iter().map(|statement| Step { statement, guard: false }));
        // The count stays within its bound here too (guarded).
        steps.extend(answer.iter().flat_map(|[reply, count]| {
            [Step { statement: reply, guard: false }, Step { statement: count, guard: true }]
        }));
        let Some(done) = self.transact(&steps).await? else {
            return Ok(None);
        };
        let notifications = notify
            .iter()
            .zip(&done[2..])
            .map(|(new, executed)| stored_notification(new, executed.last_insert_id, at))
            .collect();
        let report =
            ReportStore::get(self, id).await?.ok_or_else(|| StoreError::Internal(format!("report {id} vanished")))?;
        Ok(Some((report, notifications)))
    }

    async fn replies(&self, id: ReportId) -> Result<Vec<ReportReply>, StoreError> {
        let rows: Vec<ReplyRow> = self
            .fetch_all(&Statement::new(REPLY_COLUMNS).push("WHERE report_id = ? ORDER BY reply_id").bind(id))
            .await?;
        rows.into_iter().map(ReportReply::try_from).collect()
    }

    async fn reply(
        &self,
        new: &NewReply,
        notify: Option<&NewNotification>,
        at: DateTime<Utc>,
    ) -> Result<Replied, StoreError> {
        if let Some(earlier) = self.earlier_reply(new).await? {
            return Ok(Replied::Existing(earlier));
        }
        let (pending, in_progress) = (ReportStatus::Pending.code(), ReportStatus::InProgress.code());
        let (resolved, dismissed) = (ReportStatus::Resolved.code(), ReportStatus::Dismissed.code());
        // open_slot is set before status: MySQL evaluates an UPDATE's assignments in order, each
        // seeing the ones before it; SQLite sees the old row throughout.
        let update = match new.author {
            // An answer moves a pending report to in progress.
            ReplyAuthor::Admin => Statement::new(
                "UPDATE project_reports SET reply_count = reply_count + 1, updated_at = ?, \
                 status = CASE WHEN status = ? THEN ? ELSE status END WHERE report_id = ? AND reply_count < ?",
            )
            .bind(at)
            .bind(pending)
            .bind(in_progress),
            // The reporter's reply puts the report back in the administrators' court: a closed
            // one reopens (its decision cleared), one in progress waits again, from now.
            ReplyAuthor::User => Statement::new(
                "UPDATE project_reports SET reply_count = reply_count + 1, updated_at = ?, \
                 open_slot = CASE WHEN status IN (?, ?) THEN 1 ELSE open_slot END, \
                 decision = CASE WHEN status IN (?, ?) THEN NULL ELSE decision END, \
                 waiting_since = CASE WHEN status <> ? THEN ? ELSE waiting_since END, \
                 status = ? WHERE report_id = ? AND reply_count < ?",
            )
            .bind(at)
            .bind(resolved)
            .bind(dismissed)
            .bind(resolved)
            .bind(dismissed)
            .bind(pending)
            .bind(at)
            .bind(pending),
        }
        .bind(new.report_id)
        .bind(REPLIES_MAX);
        let insert = insert_reply(new, at);
        let notification = notify.map(|n| insert_notification(n, at));
        let mut steps = vec![Step { statement: &update, guard: true }, Step { statement: &insert, guard: false }];
        steps.extend(notification.iter().map(|statement| Step { statement, guard: false }));
        let done = match self.transact(&steps).await {
            Ok(done) => done,
            Err(StoreError::Conflict(e)) => {
                // A retry with the same key that raced this one, or a reopened report that would
                // be the reporter's second open one on its target.
                return match self.earlier_reply(new).await? {
                    Some(earlier) => Ok(Replied::Existing(earlier)),
                    None => {
                        tracing::info!(error = %e, "a reply would reopen a second open report on its target");
                        Err(StoreError::Conflict(
                            "you already have another open report on this target; reply there".into(),
                        ))
                    }
                };
            }
            Err(e) => return Err(e),
        };
        let Some(done) = done else {
            return Ok(if ReportStore::get(self, new.report_id).await?.is_some() {
                Replied::Full
            } else {
                Replied::Missing
            });
        };
        let reply = stored_reply(new, done[1].last_insert_id, at);
        let notification =
            notify.zip(done.get(2)).map(|(n, executed)| stored_notification(n, executed.last_insert_id, at));
        let report = ReportStore::get(self, new.report_id)
            .await?
            .ok_or_else(|| StoreError::Internal(format!("report {} vanished", new.report_id)))?;
        Ok(Replied::Added { reply, report: Box::new(report), notification })
    }

    async fn log(&self, action: &NewAction, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.execute(&insert_action(action, at)).await.map(|_| ())
    }

    async fn unfinished_delete(&self, id: ReportId) -> Result<Option<DecisionSubject>, StoreError> {
        let last: Option<DeleteAttemptRow> = self
            .fetch_optional(
                &Statement::new(
                    "SELECT outcome, subject_title, subject_leader FROM report_actions \
                     WHERE report_id = ? AND action = ? ORDER BY action_id DESC LIMIT 1",
                )
                .bind(id)
                .bind(ActionKind::Delete.code()),
            )
            .await?;
        let Some(last) = last else { return Ok(None) };
        let outcome = Outcome::parse(&last.outcome).ok_or_else(|| corrupt("outcome", &last.outcome))?;
        let unfinished = matches!(outcome, Outcome::DeleteRequested | Outcome::ProjectServiceUnavailable);
        Ok(match (unfinished, last.subject_title) {
            (true, Some(title)) => {
                Some(DecisionSubject { title, leader: last.subject_leader.map(UserId::from_stored) })
            }
            _ => None,
        })
    }
}
