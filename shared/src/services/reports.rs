//! Reports and moderation: users report projects, users and chat messages; admins warn, delete
//! (a project through the Project service, a message in the chat store) or dismiss, and the
//! reporter and the one concerned (the project's leader, the reported user, the message's
//! author) are told.
//!
//! A decision holds a short lease on the report, so two admins cannot decide it at once; for a
//! project it asks the Project service for the title and the Team service for the leader;
//! deletes when asked to; then, in one transaction, changes the report, logs the action and
//! stores the notifications, which are pushed live afterwards. Nothing is written as done unless
//! it was: a delete the Project service did not confirm leaves the report as it was and tells
//! nobody; a message deleted before a later step failed stays deleted, and the retry completes.

use std::sync::Arc;

use chrono::Duration;
use serde::Serialize;

use crate::domain::{
    BoundedText, Cursor, FieldError, Limit, Link, Page, ProjectId, ReportId, UserId,
    notification::NewNotification,
    report::{
        ActionKind, CreateReportBody, DecideBody, Decision, DecisionSubject, MessageEvidence, NewAction, NewReply,
        Outcome, REPLIES_MAX, REPLY_MAX_CHARS, ReplyAuthor, ReplyBody, Report, ReportAction, ReportFilter, ReportReply,
        ReportSummary, ReportTarget, ReportType, TICKET_DISMISSED_TEXT, TargetKind, TargetRequest, answer_text,
        decision_texts, leader_link, person_link, person_texts, reporter_link,
    },
    text::clean_sibling_text,
    time::now_ms,
};
use crate::error::{AppError, AppResult};
use crate::identity::{Admin, Identity};
use crate::services::{chat::ChatService, notifications::NotificationService};
use crate::siblings::{
    CallContext, Deletion, PROJECT_SERVICE, ProjectDirectory, ProjectInfo, SiblingError, TeamDirectory,
};
use crate::store::{Claim, Replied, ReportChange, ReportStore};

/// How long one admin holds a report while deciding it: longer than the sibling calls a decision
/// makes can take, short enough that a crashed decision frees the report soon.
const DECISION_LEASE: Duration = Duration::seconds(30);

/// Whom a decision told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notified {
    pub reporter: bool,
    /// The project's leader (always `false` for a user or a message).
    pub leader: bool,
    /// Why the leader was not told, when they were not (a project report).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader_problem: Option<String>,
    /// Whether the reported user was told (a user report only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_user: Option<bool>,
    /// Whether the message's author was told (a message report only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<bool>,
}

impl Notified {
    fn nobody() -> Self {
        Self { reporter: false, leader: false, leader_problem: None, reported_user: None, author: None }
    }
}

/// What `PATCH /admin/reports/{id}` answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionOutcome {
    pub report: Report,
    pub outcome: Outcome,
    pub notified: Notified,
}

/// Proof that the caller takes part in a report's conversation, and on which side.
#[derive(Debug, Clone, PartialEq)]
pub struct Party {
    pub report: Report,
    pub side: ReplyAuthor,
    pub user: UserId,
}

/// What `DELETE /admin/projects/{id}` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectDeleted {
    pub project_id: ProjectId,
    pub deleted: bool,
}

#[derive(Clone)]
pub struct ReportService {
    reports: Arc<dyn ReportStore>,
    projects: Arc<dyn ProjectDirectory>,
    teams: Arc<dyn TeamDirectory>,
    notifications: NotificationService,
    /// Who may read a project's chat (to report a message there), and the messages themselves.
    chat: ChatService,
}

/// Builds the log entry of an attempt from its outcome.
type LogEntry<'a> = dyn Fn(Outcome) -> NewAction + Send + Sync + 'a;

/// The target as a decision needs it: a project's title for the texts; the one concerned (the
/// project's leader if one is found, the reported user, the message's author).
struct Subject {
    /// Cleaned: fit to compose into a notification (a project's only).
    title: String,
    leader: Result<UserId, String>,
    /// An earlier delete of this report removed the project (or may have): this decision only
    /// completes it.
    already_deleted: bool,
}

impl Subject {
    /// What a delete keeps in its log entries for a retry.
    fn kept(&self) -> DecisionSubject {
        DecisionSubject { title: self.title.clone(), leader: self.leader.as_ref().ok().cloned() }
    }
}

/// The title a decision's texts show: the Project service's, cleaned of what a notification
/// refuses; the project's id when nothing is left.
fn shown_title(raw: &str, project: ProjectId) -> String {
    let title = clean_sibling_text(raw);
    if title.is_empty() { format!("#{project}") } else { title }
}

/// Whom a decision tells and what: composed (and validated) before it acts.
struct Told {
    notifications: Vec<NewNotification>,
    notified: Notified,
}

impl Told {
    fn compose(report: &Report, decision: Decision, note: Option<&str>, subject: &Subject) -> AppResult<Self> {
        let reporter = |text: &str| notification(&report.user_id, text, &reporter_link(report.report_id));
        let project_id = match &report.target {
            ReportTarget::Project(project_id) => project_id,
            ReportTarget::None => return Self::compose_for_ticket(decision, note, reporter),
            _ => return Self::compose_for_person(report, decision, subject, reporter),
        };
        let (reporter_text, leader_text) = decision_texts(decision, &subject.title);
        let mut notifications = vec![reporter(&reporter_text)?];
        let (leader, leader_problem) = match &subject.leader {
            // A reporter who leads the project hears once, as the reporter.
            Ok(leader) if *leader == report.user_id => (false, Some("the leader is the reporter, told once".into())),
            Ok(leader) => {
                notifications.push(notification(leader, &leader_text, &leader_link(decision, *project_id))?);
                (true, None)
            }
            Err(problem) => (false, Some(problem.clone())),
        };
        let notified = Notified { reporter: true, leader, leader_problem, ..Notified::nobody() };
        Ok(Self { notifications, notified })
    }

    /// A ticket about nothing: the reporter hears the answer it was resolved with (its first
    /// words), or that it was closed.
    fn compose_for_ticket(
        decision: Decision,
        note: Option<&str>,
        reporter: impl Fn(&str) -> AppResult<NewNotification>,
    ) -> AppResult<Self> {
        let text = match (decision, note) {
            (Decision::Resolve, Some(answer)) => answer_text(answer, true),
            _ => TICKET_DISMISSED_TEXT.to_owned(),
        };
        Ok(Self { notifications: vec![reporter(&text)?], notified: Notified { reporter: true, ..Notified::nobody() } })
    }

    /// A user or a message: the reported person hears of a warning or a deletion only.
    fn compose_for_person(
        report: &Report,
        decision: Decision,
        subject: &Subject,
        reporter: impl Fn(&str) -> AppResult<NewNotification>,
    ) -> AppResult<Self> {
        let kind = report.target.kind();
        let (reporter_text, person_text) = person_texts(kind, decision);
        let mut notifications = vec![reporter(&reporter_text)?];
        let told = match (&subject.leader, person_text) {
            (Ok(person), Some(text)) if *person != report.user_id => {
                notifications.push(notification(person, &text, &person_link(&report.target))?);
                true
            }
            _ => false,
        };
        let notified = Notified {
            reporter: true,
            reported_user: (kind == TargetKind::User).then_some(told),
            author: (kind == TargetKind::Message).then_some(told),
            ..Notified::nobody()
        };
        Ok(Self { notifications, notified })
    }
}

impl ReportService {
    pub fn new(
        reports: Arc<dyn ReportStore>,
        projects: Arc<dyn ProjectDirectory>,
        teams: Arc<dyn TeamDirectory>,
        notifications: NotificationService,
        chat: ChatService,
    ) -> Self {
        Self { reports, projects, teams, notifications, chat }
    }

    /// Files the caller's report; a second open report by the same user on the same target
    /// returns the first (`false`). A message is reported by someone who can read its chat
    /// (403 otherwise), as it stands (404 when unknown or deleted), never by its author (422).
    pub async fn file(
        &self,
        caller: &Identity,
        body: CreateReportBody,
        ctx: &CallContext,
    ) -> AppResult<(Report, bool)> {
        let request = body.validate(caller.user_id()?).map_err(AppError::Validation)?;
        let target = match &request.target {
            TargetRequest::Project(project_id) => ReportTarget::Project(*project_id),
            TargetRequest::User { user_id, project_id } => {
                ReportTarget::User { user_id: user_id.clone(), project_id: *project_id }
            }
            TargetRequest::None => ReportTarget::None,
            TargetRequest::Message { project_id, message_id } => {
                self.chat.admit(caller, *project_id, ctx).await?;
                let message = self.chat.message(*project_id, message_id).await?;
                if message.is_removed() {
                    return Err(AppError::not_found("message", format!("{message_id} (it was deleted)")));
                }
                if message.user_id == request.reporter {
                    return Err(AppError::Validation(vec![FieldError::new(
                        "message_id",
                        "you cannot report your own message; edit or delete it instead",
                    )]));
                }
                ReportTarget::Message(MessageEvidence::of(&message))
            }
        };
        Ok(self.reports.file(&request.with_target(target), now_ms()).await?)
    }

    pub async fn mine(&self, caller: &Identity, limit: Limit, after: Option<Cursor>) -> AppResult<Page<Report>> {
        Ok(self.reports.mine(&caller.user_id()?, limit, after).await?)
    }

    pub async fn list(
        &self,
        _admin: &Admin,
        filter: &ReportFilter,
        limit: Limit,
        after: Option<Cursor>,
    ) -> AppResult<Page<ReportSummary>> {
        Ok(self.reports.list(filter, limit, after).await?)
    }

    pub async fn detail(
        &self,
        _admin: &Admin,
        id: ReportId,
    ) -> AppResult<(Report, Vec<ReportAction>, Vec<ReportReply>)> {
        let report = self.reports.get(id).await?.ok_or_else(|| AppError::not_found("report", id))?;
        let (actions, replies) = tokio::try_join!(self.reports.actions(id), self.reports.replies(id))?;
        Ok((report, actions, replies))
    }

    /// A report and its conversation, for its reporter or an administrator (`true`: shown as
    /// to an administrator). Anyone else gets 404, as for a report that does not exist.
    pub async fn ticket(&self, party: Party) -> AppResult<(Report, Vec<ReportReply>, bool)> {
        let replies = self.reports.replies(party.report.report_id).await?;
        Ok((party.report, replies, party.side == ReplyAuthor::Admin))
    }

    /// Adds the caller's reply to a report's conversation (see [`ReportStore::reply`]): its
    /// reporter's or an administrator's, whose answer tells the reporter (its first words).
    /// `false`: a retry with the same idempotency key, answered with the reply stored first.
    pub async fn reply(
        &self,
        party: &Party,
        body: ReplyBody,
        idempotency_key: Option<String>,
    ) -> AppResult<(ReportReply, bool, bool)> {
        let (report, author, id) = (&party.report, party.side, party.report.report_id);
        let message = body.validate().map_err(AppError::Validation)?;
        let notify = match author {
            ReplyAuthor::Admin => {
                Some(notification(&report.user_id, &answer_text(message.as_str(), false), &reporter_link(id))?)
            }
            ReplyAuthor::User => None,
        };
        let new = NewReply { report_id: id, author, author_id: party.user.clone(), message, idempotency_key };
        let to_admin = author == ReplyAuthor::Admin;
        match self.reports.reply(&new, notify.as_ref(), now_ms()).await? {
            Replied::Added { reply, notification, .. } => {
                if let Some(notification) = &notification {
                    self.notifications.push(notification).await;
                }
                Ok((reply, true, to_admin))
            }
            Replied::Existing(reply) => Ok((reply, false, to_admin)),
            Replied::Full => Err(full(id)),
            Replied::Missing => Err(AppError::not_found("report", id)),
        }
    }

    /// The caller's side of a report's conversation: its reporter (also an administrator who
    /// filed it) or an administrator; anyone else gets 404, as for a report that does not exist.
    pub async fn party(&self, caller: &Identity, id: ReportId) -> AppResult<Party> {
        let user = caller.user_id()?;
        let report = self.reports.get(id).await?.ok_or_else(|| AppError::not_found("report", id))?;
        let side = if report.user_id == user {
            ReplyAuthor::User
        } else if caller.is_admin {
            ReplyAuthor::Admin
        } else {
            return Err(AppError::not_found("report", id));
        };
        Ok(Party { report, side, user })
    }

    /// Carries out an admin's decision on a report (see the module's documentation).
    pub async fn decide(
        &self,
        admin: &Admin,
        id: ReportId,
        body: DecideBody,
        ctx: &CallContext,
    ) -> AppResult<DecisionOutcome> {
        let request = body.validate().map_err(AppError::Validation)?;
        admin.identity().user_id()?;
        let token = uuid::Uuid::new_v4().to_string();
        let now = now_ms();
        let report = match self.reports.claim(id, &token, now + DECISION_LEASE, now).await? {
            Claim::Claimed(report) => *report,
            Claim::Missing => return Err(AppError::not_found("report", id)),
            Claim::Busy => {
                return Err(AppError::Conflict(format!(
                    "another administrator is deciding report {id} right now; reload it in a moment"
                )));
            }
        };
        let decided = self.decide_claimed(&report, &token, admin, request.decision, request.note, ctx).await;
        if decided.is_err()
            && let Err(e) = self.reports.release(id, &token).await
        {
            // The lease runs out by itself; the next decision waits at most that long.
            tracing::warn!(report_id = %id, error = %e, "could not give a report's decision lease back");
        }
        decided
    }

    async fn decide_claimed(
        &self,
        report: &Report,
        token: &str,
        admin: &Admin,
        decision: Decision,
        note: Option<BoundedText>,
        ctx: &CallContext,
    ) -> AppResult<DecisionOutcome> {
        if let Some(why) = report.target.kind().refuses(decision) {
            return Err(AppError::Validation(vec![FieldError::new("action", why)]));
        }
        let admin_id = &admin.identity().user_id()?;
        let note = note.map(BoundedText::into_inner);
        let log = |outcome: Outcome| NewAction {
            report_id: Some(report.report_id),
            project_id: report.project_id,
            admin_id: admin_id.clone(),
            action: decision.into(),
            note: note.clone(),
            outcome,
            subject: None,
        };
        if report.decision == Some(decision) && report.status == decision.status() {
            return self.repeat(report, token, decision, note.clone(), &log).await;
        }
        let subject = match &report.target {
            ReportTarget::Project(project_id) => self.subject(report, *project_id, decision, &log, ctx).await?,
            target => Subject {
                title: String::new(),
                leader: target.person().cloned().ok_or_else(|| "nobody to tell".to_owned()),
                already_deleted: false,
            },
        };
        // Everything that can fail without side effects comes before the delete.
        let told = Told::compose(report, decision, note.as_deref(), &subject)?;
        match (&report.target, decision) {
            (ReportTarget::Project(project_id), Decision::Delete) if !subject.already_deleted => {
                let kept = subject.kept();
                let log = |outcome: Outcome| NewAction { subject: Some(kept.clone()), ..log(outcome) };
                // If the delete goes through and a later step fails, a retry finds this entry.
                self.reports.log(&log(Outcome::DeleteRequested), now_ms()).await?;
                self.delete(*project_id, ctx, &log(Outcome::ProjectServiceRefused)).await?;
            }
            (ReportTarget::Message(evidence), Decision::Delete) => {
                self.remove_message(admin, report, evidence, ctx).await?
            }
            _ => {}
        }
        let change = ReportChange {
            status: decision.status(),
            decision,
            note: note.clone(),
            answer: self.answer(report, admin_id, decision, &note)?,
            replies_seen: report.reply_count,
        };
        let (stored, notifications) =
            self.apply(report, token, &change, &log(Outcome::Applied), &told.notifications).await?;
        for notification in &notifications {
            self.notifications.push(notification).await;
        }
        Ok(DecisionOutcome { report: stored, outcome: Outcome::Applied, notified: told.notified })
    }

    /// Removes a reported message for a `delete` decision. A message an administrator removed
    /// already (an earlier attempt of this decision whose later step failed, or a removal in the
    /// chat) counts as removed: the decision completes. One its author deleted was not removed
    /// for a violation: 409, to be closed with `resolve`; so is one that is gone altogether.
    async fn remove_message(
        &self,
        admin: &Admin,
        report: &Report,
        evidence: &MessageEvidence,
        ctx: &CallContext,
    ) -> AppResult<()> {
        let resolve_instead = |why: &str| {
            AppError::Conflict(format!(
                "message {} {why}; close the report with {{\"action\": \"resolve\", \"note\": \"…\"}}",
                evidence.message_id
            ))
        };
        let removed = self
            .chat
            .moderate(admin, evidence.project_id, &evidence.message_id, Some(report.report_id), ctx)
            .await
            .map_err(|e| match e {
                AppError::NotFound(_) => resolve_instead("no longer exists in the chat"),
                other => other,
            })?;
        match removed {
            (_, true) => Ok(()),
            (tombstone, false) if tombstone.removed.as_ref().is_some_and(|r| r.moderated) => Ok(()),
            (_, false) => Err(resolve_instead("was deleted by its author")),
        }
    }

    /// An inquiry or a bug report resolved with a note: the note is the administrators' answer,
    /// added to its conversation (409 when that is full).
    fn answer(
        &self,
        report: &Report,
        admin_id: &UserId,
        decision: Decision,
        note: &Option<String>,
    ) -> AppResult<Option<NewReply>> {
        let (Decision::Resolve, Some(note), ReportType::Inquiry | ReportType::Bug) =
            (decision, note, report.report_type)
        else {
            return Ok(None);
        };
        if report.reply_count >= REPLIES_MAX {
            return Err(full(report.report_id));
        }
        let message = BoundedText::parse(note, 1, REPLY_MAX_CHARS)
            .map_err(|m| AppError::Validation(vec![FieldError::new("note", m)]))?;
        Ok(Some(NewReply {
            report_id: report.report_id,
            author: ReplyAuthor::Admin,
            author_id: admin_id.clone(),
            message,
            idempotency_key: None,
        }))
    }

    /// The same decision again: the note may change; nobody is told twice.
    async fn repeat(
        &self,
        report: &Report,
        token: &str,
        decision: Decision,
        note: Option<String>,
        log: &LogEntry<'_>,
    ) -> AppResult<DecisionOutcome> {
        let note = note.or_else(|| report.resolution_note.clone());
        let change =
            ReportChange { status: report.status, decision, note, answer: None, replies_seen: report.reply_count };
        let (report, _) = self.apply(report, token, &change, &log(Outcome::Unchanged), &[]).await?;
        let notified = Notified::nobody();
        Ok(DecisionOutcome { report, outcome: Outcome::Unchanged, notified })
    }

    /// The project's title (Project service) and leader (Team service), asked at once. A project
    /// the Project service does not know can be dismissed or resolved (under its id), not warned
    /// or deleted: 409, logged; unless an earlier delete of this report may have removed it
    /// without finishing, which this one then completes with what that one found. A leader that
    /// cannot be found is said in the answer; it never stops the decision.
    async fn subject(
        &self,
        report: &Report,
        project_id: ProjectId,
        decision: Decision,
        log: &LogEntry<'_>,
        ctx: &CallContext,
    ) -> AppResult<Subject> {
        let (project, team) =
            tokio::join!(self.projects.project(project_id, ctx), self.teams.team_of_project(project_id, ctx));
        let project = match project {
            Ok(project) => project,
            Err(e) => return Err(self.failed(e, log).await),
        };
        let Some(ProjectInfo { title, .. }) = project else {
            return self.subject_of_gone(report, project_id, decision, log).await;
        };
        let leader = match team {
            Ok(Some(team)) => team
                .leader()
                .cloned()
                .ok_or_else(|| format!("team {} has no member whose role is LEADER", team.team_id)),
            Ok(None) => Err("the project has no team".to_owned()),
            Err(e) => Err(e.to_string()),
        };
        Ok(Subject { title: shown_title(&title, project_id), leader, already_deleted: false })
    }

    /// A project the Project service no longer knows (see [`Self::subject`]).
    async fn subject_of_gone(
        &self,
        report: &Report,
        project_id: ProjectId,
        decision: Decision,
        log: &LogEntry<'_>,
    ) -> AppResult<Subject> {
        match decision {
            Decision::Dismiss | Decision::Resolve => {
                let leader = Err(format!("project {project_id} no longer exists"));
                Ok(Subject { title: format!("#{project_id}"), leader, already_deleted: false })
            }
            Decision::Delete => match self.reports.unfinished_delete(report.report_id).await? {
                Some(DecisionSubject { title, leader }) => Ok(Subject {
                    title,
                    leader: leader.ok_or_else(|| "the leader was not known when the delete was requested".to_owned()),
                    already_deleted: true,
                }),
                None => Err(self.gone(project_id, log).await),
            },
            Decision::Warn => Err(self.gone(project_id, log).await),
        }
    }

    /// Deletes through the Project service; anything but its confirmation stops the decision.
    async fn delete(&self, project_id: ProjectId, ctx: &CallContext, log: &NewAction) -> AppResult<()> {
        match self.projects.delete_project(project_id, ctx).await {
            Ok(Deletion::Deleted) => Ok(()),
            Ok(Deletion::NotFound) => Err(self.gone(project_id, &|outcome| NewAction { outcome, ..log.clone() }).await),
            Err(e) => Err(self.failed(e, &|outcome| NewAction { outcome, ..log.clone() }).await),
        }
    }

    /// Logs an attempt the Project service answered with "no such project", and says so (409).
    async fn gone(&self, project_id: ProjectId, log: &LogEntry<'_>) -> AppError {
        self.log_attempt(&log(Outcome::ProjectNotFound)).await;
        AppError::Conflict(format!(
            "project {project_id} no longer exists in the Project service; close the report with \
             {{\"action\": \"resolve\", \"note\": \"…\"}}"
        ))
    }

    /// Logs an attempt a sibling service failed, and turns the failure into 502 or 503.
    async fn failed(&self, e: SiblingError, log: &LogEntry<'_>) -> AppError {
        let outcome = if e.is_outage() { Outcome::ProjectServiceUnavailable } else { Outcome::ProjectServiceRefused };
        if e.service() == PROJECT_SERVICE {
            self.log_attempt(&log(outcome)).await;
        }
        tracing::warn!(error = %e, "a decision stopped at a sibling service");
        e.into()
    }

    async fn log_attempt(&self, action: &NewAction) {
        if let Err(e) = self.reports.log(action, now_ms()).await {
            tracing::warn!(error = %e, "could not log a failed decision");
        }
    }

    async fn apply(
        &self,
        report: &Report,
        token: &str,
        change: &ReportChange,
        log: &NewAction,
        notify: &[NewNotification],
    ) -> AppResult<(Report, Vec<crate::domain::notification::Notification>)> {
        self.reports.apply(report.report_id, token, change, log, notify, now_ms()).await?.ok_or_else(|| {
            AppError::Conflict(format!(
                "report {} was decided or answered meanwhile (another administrator, or a reply); reload it",
                report.report_id
            ))
        })
    }

    /// `DELETE /admin/projects/{id}`: deletes through the Project service and logs it.
    pub async fn delete_project(
        &self,
        admin: &Admin,
        project_id: ProjectId,
        ctx: &CallContext,
    ) -> AppResult<ProjectDeleted> {
        let log = NewAction {
            report_id: None,
            project_id: Some(project_id),
            admin_id: admin.identity().user_id()?,
            action: ActionKind::DeleteProject,
            note: None,
            outcome: Outcome::Applied,
            subject: None,
        };
        self.delete(project_id, ctx, &log).await?;
        self.reports.log(&log, now_ms()).await?;
        Ok(ProjectDeleted { project_id, deleted: true })
    }
}

fn full(id: ReportId) -> AppError {
    AppError::Conflict(format!("report {id} holds {REPLIES_MAX} replies, the most one holds; file a new one"))
}

fn notification(to: &UserId, text: &str, link: &str) -> AppResult<NewNotification> {
    let message = BoundedText::parse(text, 1, crate::domain::notification::MESSAGE_MAX_CHARS)
        .map_err(|e| AppError::Internal(format!("a decision text is invalid: {e}")))?;
    let link = Link::parse(link).map_err(|e| AppError::Internal(format!("a decision link is invalid: {e}")))?;
    Ok(NewNotification { user_id: to.clone(), message, link: Some(link) })
}
