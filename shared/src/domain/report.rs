//! Reports on projects, users and chat messages, and the admin decisions on them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use serde::ser::SerializeMap;

use super::{
    BoundedText, FieldError, MessageId, ProjectId, ReportId, UserId, Validator,
    chat::ChatMessage,
    ids::LooseId,
    time::{format_iso, iso_ms},
};

pub const CONTENT_MAX_CHARS: usize = 2_000;
pub const NOTE_MAX_CHARS: usize = 2_000;
/// A ticket's optional title (the web app's footer sends `[광고/제휴 문의] 푸터 문의 접수`).
pub const TITLE_MAX_CHARS: usize = 100;
pub const REPLY_MAX_CHARS: usize = 2_000;
/// Replies one report holds at most: a conversation, not a chat.
pub const REPLIES_MAX: i64 = 200;

/// What a user files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReportType {
    /// The project breaks the rules.
    Report,
    /// A question about the project.
    Inquiry,
    /// Something on the project's page does not work.
    Bug,
}

impl ReportType {
    pub const ALL: [Self; 3] = [Self::Report, Self::Inquiry, Self::Bug];

    pub fn code(self) -> &'static str {
        match self {
            Self::Report => "REPORT",
            Self::Inquiry => "INQUIRY",
            Self::Bug => "BUG",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.code().eq_ignore_ascii_case(raw.trim()))
            .ok_or_else(|| "must be one of REPORT, INQUIRY, BUG".into())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReportStatus {
    Pending,
    InProgress,
    Resolved,
    Dismissed,
}

impl ReportStatus {
    pub const ALL: [Self; 4] = [Self::Pending, Self::InProgress, Self::Resolved, Self::Dismissed];

    pub fn code(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::InProgress => "IN_PROGRESS",
            Self::Resolved => "RESOLVED",
            Self::Dismissed => "DISMISSED",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.code().eq_ignore_ascii_case(raw.trim()))
            .ok_or_else(|| "must be one of PENDING, IN_PROGRESS, RESOLVED, DISMISSED".into())
    }

    /// Still waiting for (or under) a decision: a reporter has at most one open report per project.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::InProgress)
    }
}

/// What a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TargetKind {
    Project,
    User,
    /// A message of a project's chat.
    Message,
    /// Nothing: an inquiry or a bug report to the support team (a ticket).
    None,
}

impl TargetKind {
    pub const ALL: [Self; 4] = [Self::Project, Self::User, Self::Message, Self::None];

    pub fn code(self) -> &'static str {
        match self {
            Self::Project => "PROJECT",
            Self::User => "USER",
            Self::Message => "MESSAGE",
            Self::None => "NONE",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.code().eq_ignore_ascii_case(raw.trim()))
            .ok_or_else(|| "must be one of PROJECT, USER, MESSAGE, NONE".into())
    }

    /// Why a decision does not fit a target of this kind: a user cannot be deleted here, a
    /// ticket about nothing can be neither warned nor deleted.
    pub fn refuses(self, decision: Decision) -> Option<&'static str> {
        match (self, decision) {
            (Self::User, Decision::Delete) => {
                Some("a reported user cannot be deleted here; warn them, dismiss or resolve the report")
            }
            (Self::None, Decision::Warn | Decision::Delete) => Some(
                "a ticket about no project has nobody to warn and nothing to delete; answer and resolve it, or dismiss it",
            ),
            _ => None,
        }
    }
}

/// A reported chat message as the report keeps it: the evidence, whatever its author or an
/// administrator does to the message afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEvidence {
    pub project_id: ProjectId,
    pub message_id: MessageId,
    pub author: UserId,
    pub sender_name: String,
    pub text: String,
    pub sent_at: DateTime<Utc>,
}

impl MessageEvidence {
    pub fn of(message: &ChatMessage) -> Self {
        Self {
            project_id: message.project_id,
            message_id: message.message_id.clone(),
            author: message.user_id.clone(),
            sender_name: message.sender_name.clone(),
            text: message.message.clone(),
            sent_at: message.timestamp,
        }
    }
}

/// What a report is about, with what a decision needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportTarget {
    Project(ProjectId),
    /// A user, with the project the report was made from, if any.
    User {
        user_id: UserId,
        project_id: Option<ProjectId>,
    },
    Message(MessageEvidence),
    /// A ticket (an inquiry or a bug report) about no project, user or message.
    None,
}

impl ReportTarget {
    pub fn kind(&self) -> TargetKind {
        match self {
            Self::Project(_) => TargetKind::Project,
            Self::User { .. } => TargetKind::User,
            Self::Message(_) => TargetKind::Message,
            Self::None => TargetKind::None,
        }
    }

    /// The project reported, or the one the report was made from.
    pub fn project_id(&self) -> Option<ProjectId> {
        match self {
            Self::Project(project_id) => Some(*project_id),
            Self::User { project_id, .. } => *project_id,
            Self::Message(evidence) => Some(evidence.project_id),
            Self::None => None,
        }
    }

    /// Names the target: a reporter has at most one open report per key. Tickets about nothing
    /// each get a key of their own: a user may have several questions open at once.
    pub fn key(&self) -> String {
        match self {
            Self::Project(project_id) => format!("project:{project_id}"),
            Self::User { user_id, .. } => format!("user:{user_id}"),
            Self::Message(evidence) => format!("message:{}:{}", evidence.project_id, evidence.message_id),
            Self::None => format!("ticket:{}", uuid::Uuid::new_v4()),
        }
    }

    /// The person a decision may tell besides the reporter, when the target names one (a
    /// project's leader is asked of the Team service).
    pub fn person(&self) -> Option<&UserId> {
        match self {
            Self::Project(_) | Self::None => None,
            Self::User { user_id, .. } => Some(user_id),
            Self::Message(evidence) => Some(&evidence.author),
        }
    }
}

/// `{"kind": "PROJECT", "project_id"}`, `{"kind": "USER", "user_id", "project_id"}` or
/// `{"kind": "MESSAGE", "project_id", "message_id", "user_id", "sender_name", "message", "sent_at"}`
/// (the message as it was reported; `user_id` is its author).
impl Serialize for ReportTarget {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_map(None)?;
        out.serialize_entry("kind", &self.kind())?;
        match self {
            Self::Project(project_id) => out.serialize_entry("project_id", project_id)?,
            Self::User { user_id, project_id } => {
                out.serialize_entry("user_id", user_id)?;
                out.serialize_entry("project_id", project_id)?;
            }
            Self::None => {}
            Self::Message(evidence) => {
                out.serialize_entry("project_id", &evidence.project_id)?;
                out.serialize_entry("message_id", &evidence.message_id)?;
                out.serialize_entry("user_id", &evidence.author)?;
                out.serialize_entry("sender_name", &evidence.sender_name)?;
                out.serialize_entry("message", &evidence.text)?;
                out.serialize_entry("sent_at", &format_iso(&evidence.sent_at))?;
            }
        }
        out.end()
    }
}

/// What an admin decides about a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// The leader (the reported user, the message's author) is warned; the report stays open
    /// (`IN_PROGRESS`) for a later decision.
    Warn,
    /// The Project service deletes the project (the message is deleted); only its confirmation
    /// resolves the report. Refused for a user.
    Delete,
    /// No violation found.
    Dismiss,
    /// Closes the report without touching the project, with a note: for a project that is
    /// already gone, or a report handled another way.
    Resolve,
}

impl Decision {
    pub const ALL: [Self; 4] = [Self::Warn, Self::Delete, Self::Dismiss, Self::Resolve];

    pub fn code(self) -> &'static str {
        match self {
            Self::Warn => "warn",
            Self::Delete => "delete",
            Self::Dismiss => "dismiss",
            Self::Resolve => "resolve",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|d| d.code().eq_ignore_ascii_case(raw.trim()))
            .ok_or_else(|| "must be one of warn, delete, dismiss, resolve".into())
    }

    /// The status a report has once this decision is carried out.
    pub fn status(self) -> ReportStatus {
        match self {
            Self::Warn => ReportStatus::InProgress,
            Self::Delete | Self::Resolve => ReportStatus::Resolved,
            Self::Dismiss => ReportStatus::Dismissed,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub report_id: ReportId,
    /// The reporter.
    pub user_id: UserId,
    /// The project reported, or the one the report was made from (the target's).
    pub project_id: Option<ProjectId>,
    pub target: ReportTarget,
    /// A ticket's title, when the reporter gave one.
    pub title: Option<String>,
    /// Replies in its conversation.
    pub reply_count: i64,
    /// Since when it waits for the administrators, while pending: filed, or sent back by its
    /// reporter (orders `sort=waiting`).
    #[serde(skip)]
    pub waiting_since: DateTime<Utc>,
    #[serde(rename = "type")]
    pub report_type: ReportType,
    pub content: String,
    pub status: ReportStatus,
    pub resolution_note: Option<String>,
    /// The decision that set the status (none while pending).
    pub decision: Option<Decision>,
    #[serde(with = "iso_ms")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "iso_ms")]
    pub updated_at: DateTime<Utc>,
}

/// A report in the admins' list, with how many users have an open report on its target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportSummary {
    #[serde(flatten)]
    pub report: Report,
    pub open_reporters: i64,
}

/// What an entry of the action log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionKind {
    Warn,
    Delete,
    Dismiss,
    Resolve,
    /// `DELETE /admin/projects/{id}`, outside any report.
    DeleteProject,
}

impl ActionKind {
    pub const ALL: [Self; 5] = [Self::Warn, Self::Delete, Self::Dismiss, Self::Resolve, Self::DeleteProject];

    pub fn code(self) -> &'static str {
        match self {
            Self::Warn => "WARN",
            Self::Delete => "DELETE",
            Self::Dismiss => "DISMISS",
            Self::Resolve => "RESOLVE",
            Self::DeleteProject => "DELETE_PROJECT",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.code() == raw)
    }
}

impl From<Decision> for ActionKind {
    fn from(d: Decision) -> Self {
        match d {
            Decision::Warn => Self::Warn,
            Decision::Delete => Self::Delete,
            Decision::Dismiss => Self::Dismiss,
            Decision::Resolve => Self::Resolve,
        }
    }
}

/// How an attempted action ended: every attempt is logged, applied or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// Carried out: status changed, project deleted, people told.
    Applied,
    /// The same decision again: nothing changed and nobody was told twice.
    Unchanged,
    /// The Project service says the project does not exist.
    ProjectNotFound,
    /// The Project service answered with an error.
    ProjectServiceRefused,
    /// The Project service did not answer in time, or failed (5xx).
    ProjectServiceUnavailable,
    /// Written just before the Project service is asked to delete, with what the decision will
    /// tell: if nothing follows it (the delete went through and a later step failed), a retry
    /// finds the project gone and completes the decision.
    DeleteRequested,
}

impl Outcome {
    pub const ALL: [Self; 6] = [
        Self::Applied,
        Self::Unchanged,
        Self::ProjectNotFound,
        Self::ProjectServiceRefused,
        Self::ProjectServiceUnavailable,
        Self::DeleteRequested,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Applied => "APPLIED",
            Self::Unchanged => "UNCHANGED",
            Self::ProjectNotFound => "PROJECT_NOT_FOUND",
            Self::ProjectServiceRefused => "PROJECT_SERVICE_REFUSED",
            Self::ProjectServiceUnavailable => "PROJECT_SERVICE_UNAVAILABLE",
            Self::DeleteRequested => "DELETE_REQUESTED",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.code() == raw)
    }
}

/// One entry of the action log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportAction {
    pub action_id: i64,
    pub report_id: Option<ReportId>,
    pub project_id: Option<ProjectId>,
    pub admin_id: UserId,
    pub action: ActionKind,
    pub note: Option<String>,
    pub outcome: Outcome,
    #[serde(with = "iso_ms")]
    pub created_at: DateTime<Utc>,
}

/// What a decision tells, and whom, as found before it acts: kept with a delete's log entries
/// so that a retry after the project is gone can still tell them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionSubject {
    /// The project's title, cleaned ([`super::text::clean_sibling_text`]).
    pub title: String,
    pub leader: Option<UserId>,
}

/// An entry to append to the log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAction {
    pub report_id: Option<ReportId>,
    pub project_id: Option<ProjectId>,
    pub admin_id: UserId,
    pub action: ActionKind,
    pub note: Option<String>,
    pub outcome: Outcome,
    /// For a delete decision's entries: the title and leader it found.
    pub subject: Option<DecisionSubject>,
}

/// A validated report to file.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReport {
    pub reporter: UserId,
    pub target: ReportTarget,
    pub report_type: ReportType,
    pub title: Option<BoundedText>,
    pub content: BoundedText,
}

/// The target a report names, before a message is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetRequest {
    Project(ProjectId),
    User {
        user_id: UserId,
        project_id: Option<ProjectId>,
    },
    Message {
        project_id: ProjectId,
        message_id: MessageId,
    },
    /// An inquiry or a bug report about nothing in particular.
    None,
}

/// A validated `POST /reports`: the message of a message report is still to be found.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRequest {
    pub reporter: UserId,
    pub target: TargetRequest,
    pub report_type: ReportType,
    pub title: Option<BoundedText>,
    pub content: BoundedText,
}

impl ReportRequest {
    /// The report to store, with its target resolved.
    pub fn with_target(self, target: ReportTarget) -> NewReport {
        NewReport {
            reporter: self.reporter,
            target,
            report_type: self.report_type,
            title: self.title,
            content: self.content,
        }
    }
}

/// Body of `POST /reports`: one target, a project (`project_id`), a user (`reported_user_id`,
/// `project_id` optional context) or a chat message (`message_id` with its `project_id`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateReportBody {
    #[serde(default)]
    pub project_id: Option<LooseId>,
    #[serde(default)]
    pub reported_user_id: Option<String>,
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default, rename = "type")]
    pub report_type: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
}

impl CreateReportBody {
    pub fn validate(self, reporter: UserId) -> Result<ReportRequest, Vec<FieldError>> {
        let mut v = Validator::new();
        let project_id = v.check_opt("project_id", self.project_id.as_ref(), LooseId::parse::<ProjectId>);
        let user = v.check_opt("reported_user_id", self.reported_user_id.as_deref(), |raw| {
            let user = UserId::parse(raw)?;
            if user == reporter { Err("you cannot report yourself".into()) } else { Ok(user) }
        });
        let message_id = v.check_opt("message_id", self.message_id.as_deref(), MessageId::parse);
        let ticket = self
            .report_type
            .as_deref()
            .is_some_and(|t| matches!(ReportType::parse(t), Ok(ReportType::Inquiry | ReportType::Bug)));
        let given = (self.reported_user_id.is_some(), self.message_id.is_some(), self.project_id.is_some());
        // Each `Option<Option<_>>` above is `None` when invalid (already reported).
        let target = match given {
            (true, true, _) => {
                v.error("message_id", "give one target: message_id, reported_user_id, or project_id alone");
                None
            }
            (false, true, false) => {
                v.error("project_id", "is required with message_id (the project whose chat it is in)");
                None
            }
            (false, true, true) => match (project_id, message_id) {
                (Some(Some(project_id)), Some(Some(message_id))) => {
                    Some(TargetRequest::Message { project_id, message_id })
                }
                _ => None,
            },
            (true, false, _) => match (user, project_id) {
                (Some(Some(user_id)), Some(project_id)) => Some(TargetRequest::User { user_id, project_id }),
                _ => None,
            },
            (false, false, true) => project_id.flatten().map(TargetRequest::Project),
            // An inquiry or a bug report needs no target; a report of a violation does.
            (false, false, false) if ticket => Some(TargetRequest::None),
            (false, false, false) => {
                v.error(
                    "project_id",
                    "is required (or report a user with reported_user_id, a message with message_id)",
                );
                None
            }
        };
        let report_type = v.required("type", self.report_type.as_deref(), ReportType::parse);
        let title = v.check_opt("title", self.title.as_deref(), |t| BoundedText::parse(t, 1, TITLE_MAX_CHARS));
        let content = v.required("content", self.content.as_deref(), |c| BoundedText::parse(c, 1, CONTENT_MAX_CHARS));
        v.finish(|| {
            Some(ReportRequest {
                reporter,
                target: target?,
                report_type: report_type?,
                title: title?,
                content: content?,
            })
        })
    }
}

/// Who wrote a reply on a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReplyAuthor {
    /// The reporter.
    User,
    /// An administrator (which one, only administrators see).
    Admin,
}

impl ReplyAuthor {
    pub fn code(self) -> &'static str {
        match self {
            Self::User => "USER",
            Self::Admin => "ADMIN",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::User, Self::Admin].into_iter().find(|a| a.code() == raw)
    }
}

/// One message of a report's conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportReply {
    pub reply_id: i64,
    pub report_id: ReportId,
    pub author: ReplyAuthor,
    /// The reporter, or the administrator who answered.
    pub author_id: UserId,
    pub message: String,
    pub created_at: DateTime<Utc>,
}

impl ReportReply {
    /// The reply as one side sees it: the reporter never learns which administrator answered.
    pub fn shown(&self, to_admin: bool) -> ShownReply<'_> {
        ShownReply { reply: self, to_admin }
    }
}

/// `{reply_id, author, message, created_at}`, and `admin_id` for administrators' eyes.
#[derive(Debug)]
pub struct ShownReply<'a> {
    reply: &'a ReportReply,
    to_admin: bool,
}

impl Serialize for ShownReply<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.reply;
        let mut out = s.serialize_map(None)?;
        out.serialize_entry("reply_id", &r.reply_id)?;
        out.serialize_entry("author", &r.author)?;
        if self.to_admin && r.author == ReplyAuthor::Admin {
            out.serialize_entry("admin_id", &r.author_id)?;
        }
        out.serialize_entry("message", &r.message)?;
        out.serialize_entry("created_at", &format_iso(&r.created_at))?;
        out.end()
    }
}

/// A reply to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReply {
    pub report_id: ReportId,
    pub author: ReplyAuthor,
    pub author_id: UserId,
    pub message: BoundedText,
    /// The client's `Idempotency-Key`: a retry with it stores nothing new.
    pub idempotency_key: Option<String>,
}

/// Body of `POST /reports/{id}/replies`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyBody {
    #[serde(default)]
    pub message: Option<String>,
}

impl ReplyBody {
    pub fn validate(self) -> Result<BoundedText, Vec<FieldError>> {
        let mut v = Validator::new();
        let message = v.required("message", self.message.as_deref(), |m| BoundedText::parse(m, 1, REPLY_MAX_CHARS));
        v.finish(|| message)
    }
}

/// What the reporter is told of an administrator's answer: its first words, and whether the
/// ticket was closed with it.
pub fn answer_text(answer: &str, closed: bool) -> String {
    const PREVIEW_CHARS: usize = 40;
    let words = answer.split_whitespace().collect::<Vec<_>>().join(" ");
    let preview = if words.chars().count() > PREVIEW_CHARS {
        format!("{}…", words.chars().take(PREVIEW_CHARS - 1).collect::<String>())
    } else {
        words
    };
    if closed {
        format!("문의하신 내용에 답변이 등록되고 처리가 완료되었습니다: {preview}")
    } else {
        format!("문의하신 내용에 답변이 등록되었습니다: {preview}")
    }
}

/// What the reporter of a ticket about nothing is told when it is closed without an answer.
pub const TICKET_DISMISSED_TEXT: &str = "문의하신 내용이 검토 후 종료되었습니다.";

/// Body of `PATCH /admin/reports/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideBody {
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// A validated decision.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRequest {
    pub decision: Decision,
    pub note: Option<BoundedText>,
}

impl DecideBody {
    pub fn validate(self) -> Result<DecisionRequest, Vec<FieldError>> {
        let mut v = Validator::new();
        let decision = v.required("action", self.action.as_deref(), Decision::parse);
        let note = v.check_opt("note", self.note.as_deref(), |n| BoundedText::parse(n, 1, NOTE_MAX_CHARS));
        if decision == Some(Decision::Resolve) && matches!(note, Some(None)) {
            v.error("note", "is required to resolve a report without deleting its project");
        }
        v.finish(|| Some(DecisionRequest { decision: decision?, note: note? }))
    }
}

/// Which reports the admins' list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportFilter {
    pub status: Option<ReportStatus>,
    pub report_type: Option<ReportType>,
    pub project_id: Option<ProjectId>,
    pub target: Option<TargetKind>,
    /// Only pending reports, waiting longest first (`sort=waiting`).
    pub waiting: bool,
}

/// The notification texts of a decision: different words for the reporter and the leader, each
/// naming the project. `title` is the Project service's.
pub fn decision_texts(decision: Decision, title: &str) -> (String, String) {
    // Room for the longest text inside a notification's 500 characters.
    const TITLE_MAX_CHARS: usize = 100;
    let title = title.trim();
    let title = if title.chars().count() > TITLE_MAX_CHARS {
        format!("{}…", title.chars().take(TITLE_MAX_CHARS - 1).collect::<String>())
    } else {
        title.to_owned()
    };
    match decision {
        Decision::Warn => (
            format!("신고하신 프로젝트 '{title}'에 대해 경고 조치가 취해졌습니다."),
            format!(
                "회원님의 프로젝트 '{title}'에 대한 신고가 확인되어 경고 조치가 취해졌습니다. 운영 정책을 확인해 주세요."
            ),
        ),
        Decision::Delete => (
            format!("신고하신 프로젝트 '{title}'에 대한 검토 결과, 해당 프로젝트가 삭제되었습니다."),
            format!(
                "운영 정책 위반 신고가 확인되어 회원님의 프로젝트 '{title}'{} 삭제되었습니다.",
                subject_particle(&title)
            ),
        ),
        Decision::Dismiss => (
            format!("신고하신 프로젝트 '{title}'에 대한 검토 결과, 무혐의로 처리되었습니다."),
            format!("회원님의 프로젝트 '{title}'에 접수된 신고는 검토 결과 무혐의로 처리되었습니다."),
        ),
        Decision::Resolve => (
            format!("신고하신 프로젝트 '{title}'에 대한 신고가 처리 완료되었습니다."),
            format!("회원님의 프로젝트 '{title}'에 접수된 신고가 처리 완료되었습니다."),
        ),
    }
}

/// The notification texts of a decision on a user or a chat message: the reporter's, and the
/// reported person's (the user, the message's author) when they are told: of a warning and of a
/// deleted message, never of a report that came to nothing.
pub fn person_texts(kind: TargetKind, decision: Decision) -> (String, Option<String>) {
    let what = if kind == TargetKind::Message { "채팅 메시지" } else { "사용자" };
    let reporter = match decision {
        Decision::Warn if kind == TargetKind::Message => {
            "신고하신 채팅 메시지의 작성자에게 경고 조치가 취해졌습니다.".to_owned()
        }
        Decision::Warn => format!("신고하신 {what}에 대해 경고 조치가 취해졌습니다."),
        Decision::Delete => format!("신고하신 {what}에 대한 검토 결과, 해당 메시지가 삭제되었습니다."),
        Decision::Dismiss => format!("신고하신 {what}에 대한 검토 결과, 무혐의로 처리되었습니다."),
        Decision::Resolve => format!("신고하신 {what}에 대한 신고가 처리 완료되었습니다."),
    };
    let person = match (kind, decision) {
        (TargetKind::User, Decision::Warn) => {
            Some("회원님에 대한 신고가 확인되어 경고 조치가 취해졌습니다. 운영 정책을 확인해 주세요.".to_owned())
        }
        (TargetKind::Message, Decision::Warn) => Some(
            "회원님이 보낸 채팅 메시지에 대한 신고가 확인되어 경고 조치가 취해졌습니다. 운영 정책을 확인해 주세요."
                .to_owned(),
        ),
        (TargetKind::Message, Decision::Delete) => {
            Some("회원님이 보낸 채팅 메시지가 운영 정책 위반으로 삭제되었습니다.".to_owned())
        }
        _ => None,
    };
    (reporter, person)
}

/// Where the reported person's notification leads: their own page for a warning about them,
/// the project (and its chat) for one about their message.
pub fn person_link(target: &ReportTarget) -> String {
    match target.project_id() {
        Some(project_id) if target.kind() == TargetKind::Message => format!("/projects/{project_id}"),
        _ => "/mypage".into(),
    }
}

/// 이 or 가 after `word`, as Korean picks it: 이 after a final consonant (batchim), 가 after a
/// vowel. Hangul syllables and digits are read; anything else gets the neutral 이(가).
pub fn subject_particle(word: &str) -> &'static str {
    // How digits are read aloud: 영 일 이 삼 사 오 육 칠 팔 구.
    const DIGIT_HAS_BATCHIM: [bool; 10] = [true, true, false, true, false, false, true, true, true, false];
    match word.chars().rev().find(|c| !c.is_whitespace() && !matches!(c, '\'' | '"' | ')' | ']')) {
        Some(c @ '가'..='힣') => {
            if (u32::from(c) - u32::from('가')) % 28 == 0 {
                "가"
            } else {
                "이"
            }
        }
        Some(c @ '0'..='9') => {
            if DIGIT_HAS_BATCHIM[(u32::from(c) - u32::from('0')) as usize] {
                "이"
            } else {
                "가"
            }
        }
        _ => "이(가)",
    }
}

/// Where each notification of a decision leads.
pub fn reporter_link(report_id: ReportId) -> String {
    format!("/mypage/reports/{report_id}")
}

pub fn leader_link(decision: Decision, project_id: ProjectId) -> String {
    match decision {
        // The project is gone: the leader's own list of projects.
        Decision::Delete => "/mypage/projects".into(),
        _ => format!("/projects/{project_id}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn decisions_map_to_statuses() {
        assert_eq!(Decision::Warn.status(), ReportStatus::InProgress);
        assert_eq!(Decision::Delete.status(), ReportStatus::Resolved);
        assert_eq!(Decision::Dismiss.status(), ReportStatus::Dismissed);
        assert!(ReportStatus::InProgress.is_open() && !ReportStatus::Dismissed.is_open());
        assert_eq!(Decision::parse("WARN"), Ok(Decision::Warn));
        assert!(Decision::parse("ban").is_err());
    }

    #[test]
    fn particles_follow_the_last_sound() {
        assert_eq!(subject_particle("포트폴리오"), "가");
        assert_eq!(subject_particle("팀 프로젝트"), "가");
        assert_eq!(subject_particle("해커톤"), "이");
        assert_eq!(subject_particle("2026"), "이", "육");
        assert_eq!(subject_particle("Web 2"), "가", "이");
        assert_eq!(subject_particle("PortForge"), "이(가)");
        let (_, leader) = decision_texts(Decision::Delete, "해커톤 팀");
        assert!(leader.ends_with("'해커톤 팀'이 삭제되었습니다."), "{leader}");
    }

    #[test]
    fn bodies_report_every_field() {
        let reporter = UserId::parse("3f2504e0-4f89-11d3-9a0c-0305e82c3301").unwrap();
        let body: CreateReportBody = serde_json::from_value(json!({"project_id": "0", "type": "SPAM"})).unwrap();
        let errors = body.validate(reporter.clone()).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["project_id", "type", "content"]);
        let body: CreateReportBody =
            serde_json::from_value(json!({"project_id": 42, "type": "report", "content": "  스팸 게시물  "})).unwrap();
        let new = body.validate(reporter.clone()).unwrap();
        assert_eq!(
            (new.target, new.report_type, new.content.as_str()),
            (TargetRequest::Project(ProjectId::new(42).unwrap()), ReportType::Report, "스팸 게시물")
        );
        let targets = |body: serde_json::Value| {
            let body: CreateReportBody = serde_json::from_value(body).unwrap();
            body.validate(reporter.clone()).map(|r| r.target).map_err(|e| e[0].field.clone())
        };
        let other = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let base = |extra: serde_json::Value| {
            let mut body = json!({"type": "REPORT", "content": "욕설"});
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            body
        };
        assert_eq!(
            targets(base(json!({"reported_user_id": other}))),
            Ok(TargetRequest::User { user_id: UserId::parse(other).unwrap(), project_id: None })
        );
        assert_eq!(targets(base(json!({"reported_user_id": reporter.as_str()}))), Err("reported_user_id".into()));
        assert_eq!(targets(base(json!({"message_id": "m-1"}))), Err("project_id".into()));
        assert_eq!(targets(base(json!({"message_id": "m-1", "reported_user_id": other}))), Err("message_id".into()));
        assert_eq!(
            targets(base(json!({"message_id": "m-1", "project_id": "7"}))),
            Ok(TargetRequest::Message {
                project_id: ProjectId::new(7).unwrap(),
                message_id: MessageId::parse("m-1").unwrap()
            })
        );
        assert!(TargetKind::User.refuses(Decision::Delete).is_some());
        assert!(TargetKind::Message.refuses(Decision::Delete).is_none());
        assert!(
            TargetKind::None.refuses(Decision::Warn).is_some() && TargetKind::None.refuses(Decision::Resolve).is_none()
        );
        assert_eq!(targets(json!({"type": "INQUIRY", "content": "광고 제휴 문의드립니다"})), Ok(TargetRequest::None));
        assert_eq!(targets(json!({"type": "REPORT", "content": "x"})), Err("project_id".into()));
        let resolve: DecideBody = serde_json::from_value(json!({"action": "resolve"})).unwrap();
        assert_eq!(resolve.validate().unwrap_err()[0].field, "note");
    }
}
