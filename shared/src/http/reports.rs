//! Reports: users file them and list their own; admins list, read and decide them, and delete
//! projects through the Project service.

use axum::{
    Router,
    extract::{FromRequestParts, State},
    http::request::Parts,
};
use serde_json::{Value, json};

use super::{
    extract::{AdminCaller, Caller, IdempotencyKey, JsonBody, PathId, QueryParams, RequestId},
    reply::{Reply, ReplyResult},
};
use crate::domain::{
    ProjectId, ReportId,
    report::{
        CreateReportBody, DecideBody, Outcome, ReplyBody, Report, ReportFilter, ReportReply, ReportStatus, ReportType,
        TargetKind,
    },
};
use crate::services::reports::{Party, ReportService};

routes!(ReportService {
    "/reports" => post(file);
    "/reports/mine" => get(mine);
    "/reports/{id}" => get(ticket);
    "/reports/{id}/replies" => post(reply);
    "/admin/reports" => get(list);
    "/admin/reports/{id}" => get(detail).patch(decide);
    "/admin/projects/{id}" => delete(delete_project);
});

pub fn router(service: ReportService) -> Router {
    routes().with_state(service)
}

/// `POST /reports`: 201 with the new report, or 200 with the caller's open report on that
/// project when there is one.
async fn file(
    State(reports): State<ReportService>,
    Caller(caller): Caller,
    request_id: RequestId,
    JsonBody(body): JsonBody<CreateReportBody>,
) -> ReplyResult {
    match reports.file(&caller, body, &request_id.context()).await? {
        (report, true) => Reply::created("REPORT_FILED", "report filed", report),
        (report, false) => {
            Reply::ok("REPORT_ALREADY_OPEN", "you already have an open report on this target; here it is", report)
        }
    }
}

/// `GET /reports/mine?limit&cursor`: the caller's reports, newest first.
async fn mine(State(reports): State<ReportService>, Caller(caller): Caller, query: QueryParams) -> ReplyResult {
    let limit = query.limit()?;
    let cursor = query.time_cursor("cursor")?;
    Reply::page("REPORTS_LISTED", "your reports, newest first", reports.mine(&caller, limit, cursor).await?, limit)
}

/// `GET /admin/reports?status&type&target&project_id&limit&cursor`
async fn list(
    State(reports): State<ReportService>,
    AdminCaller(admin): AdminCaller,
    query: QueryParams,
) -> ReplyResult {
    let filter = ReportFilter {
        status: query.parse("status", ReportStatus::parse)?,
        report_type: query.parse("type", ReportType::parse)?,
        project_id: query.parse("project_id", ProjectId::parse)?,
        target: query.parse("target", TargetKind::parse)?,
        waiting: query
            .parse("sort", |raw| match raw.trim() {
                "waiting" => Ok(true),
                "newest" => Ok(false),
                _ => Err("must be newest (the default) or waiting (pending reports, waiting longest first)".into()),
            })?
            .unwrap_or(false),
    };
    if filter.waiting && filter.status.is_some_and(|s| s != ReportStatus::Pending) {
        return Err(crate::AppError::invalid_query("status", "sort=waiting lists pending reports only"));
    }
    let limit = query.limit()?;
    let cursor = query.time_cursor("cursor")?;
    let page = reports.list(&admin, &filter, limit, cursor).await?;
    Reply::page("REPORTS_LISTED", "reports, newest first, with the open reporters of each target", page, limit)
}

/// `GET /admin/reports/{id}`: the report and its action log.
async fn detail(
    State(reports): State<ReportService>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<ReportId>,
) -> ReplyResult {
    let (report, actions, replies) = reports.detail(&admin, id).await?;
    let mut data = with_replies(&report, &replies, true)?;
    data["actions"] = json!(actions);
    Reply::ok("REPORT_FOUND", "report with its action log and replies, oldest first", data)
}

/// The report with its conversation, oldest first, as one side sees it.
fn with_replies(report: &Report, replies: &[ReportReply], to_admin: bool) -> Result<Value, crate::AppError> {
    let mut data = serde_json::to_value(report).map_err(|e| crate::AppError::Internal(e.to_string()))?;
    data["replies"] = json!(replies.iter().map(|r| r.shown(to_admin)).collect::<Vec<_>>());
    Ok(data)
}

/// The caller's side of the report in the path. As an extractor it runs before the body is
/// read: someone else's report is 404, never a validation report.
struct InReport(Party);

impl FromRequestParts<ReportService> for InReport {
    type Rejection = crate::AppError;

    async fn from_request_parts(parts: &mut Parts, reports: &ReportService) -> Result<Self, crate::AppError> {
        let Caller(caller) = Caller::from_request_parts(parts, reports).await?;
        let PathId(id) = PathId::<ReportId>::from_request_parts(parts, reports).await?;
        Ok(Self(reports.party(&caller, id).await?))
    }
}

/// `GET /reports/{id}`: the caller's report (or any, for an administrator) with its replies.
async fn ticket(State(reports): State<ReportService>, InReport(party): InReport) -> ReplyResult {
    let (report, replies, to_admin) = reports.ticket(party).await?;
    Reply::ok("REPORT_FOUND", "report with its replies, oldest first", with_replies(&report, &replies, to_admin)?)
}

/// `POST /reports/{id}/replies` `{message}`: by the reporter or an administrator; 201, or 200
/// with the reply stored first when the `Idempotency-Key` was used.
async fn reply(
    State(reports): State<ReportService>,
    InReport(party): InReport,
    key: IdempotencyKey,
    JsonBody(body): JsonBody<ReplyBody>,
) -> ReplyResult {
    let key = key.checked()?;
    match reports.reply(&party, body, key).await? {
        (reply, true, to_admin) => Reply::created("REPLY_ADDED", "reply added", reply.shown(to_admin)),
        (reply, false, to_admin) => Reply::ok(
            "REPLY_ALREADY_STORED",
            "this Idempotency-Key was already used; here is that reply",
            reply.shown(to_admin),
        ),
    }
}

/// `PATCH /admin/reports/{id}` with `{"action": "warn"|"delete"|"dismiss"|"resolve", "note"?}`.
async fn decide(
    State(reports): State<ReportService>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<ReportId>,
    request_id: RequestId,
    JsonBody(body): JsonBody<DecideBody>,
) -> ReplyResult {
    let decided = reports.decide(&admin, id, body, &request_id.context()).await?;
    match decided.outcome {
        Outcome::Unchanged => {
            Reply::ok("REPORT_UNCHANGED", "the report already carries this decision; nobody was told again", decided)
        }
        _ => Reply::ok("REPORT_DECIDED", "decision carried out; see notified for whom it told", decided),
    }
}

/// `DELETE /admin/projects/{id}`: through the Project service, logged.
async fn delete_project(
    State(reports): State<ReportService>,
    AdminCaller(admin): AdminCaller,
    PathId(id): PathId<ProjectId>,
    request_id: RequestId,
) -> ReplyResult {
    let deleted = reports.delete_project(&admin, id, &request_id.context()).await?;
    Reply::ok("PROJECT_DELETED", "the Project service deleted the project", deleted)
}
