//! A grader's work: their queue of samples and pulls, and pulling a call into a queue at
//! once (a customer complaint cannot wait for next month's sample).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::CurrentUser;
use super::extract::{Json, Query};
use super::time;
use crate::app::AppState;
use crate::domain::org::Role;
use crate::domain::sampling::PULL_DUE_DAYS;
use crate::error::{AppError, AppResult};
use crate::store::sampling::{self as store, Assignment, NewPull, PullError};
use crate::store::{recordings, users};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me/queue", get(queue))
        .route("/pulls", post(pull))
        .route("/pulls/graders", get(pull_graders))
}

/// 409 `month_published`: the only ways into a published month are the audited ones.
pub fn month_published_error() -> AppError {
    AppError::new(
        StatusCode::CONFLICT,
        "month_published",
        "this call's month is published for its agent: nothing more is graded into it \
         (it changes only by an appeal decision, a supervisor's override before the lock or \
         a correction after it)",
    )
}

pub fn assignment_view(a: &Assignment, now_ms: i64, tz: chrono_tz::Tz) -> Value {
    let closed = a.closed_by_publication();
    json!({
        "assignment_id": a.id,
        "kind": a.kind,
        "plan_id": a.plan_id,
        "plan_name": a.plan_name,
        "stratum": a.stratum,
        "recording_id": a.recording_id,
        "call_id": a.call_id,
        "agent": a.agent,
        "agent_name": a.agent_name,
        "team": a.team,
        "started_at": time(a.started_at_ms, tz),
        "duration_ms": a.duration_ms,
        "grader": a.grader,
        "grader_name": a.grader_name,
        "reason": a.reason,
        "complaint": a.complaint,
        "created_at": time(a.created_at_ms, tz),
        "due_at": time(a.due_at_ms, tz),
        "overdue": a.completed_at_ms.is_none() && closed.is_none() && a.due_at_ms < now_ms,
        "completed": a.completed_at_ms.is_some(),
        "counts": a.counts,
        // Publishing the agent's month closed it ungraded: kept, shown, not workable.
        "closed_by_publication": closed.is_some(),
        "closed_at": closed.map(|t| time(t, tz)),
    })
}

async fn queue(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<axum::Json<Value>> {
    let now = state.config.clock.now_ms();
    // Items already opened show their draft, so the grader can resume it.
    let drafts: std::collections::HashMap<i64, i64> =
        crate::store::grading::drafts_of_grader(&state.db, user.id)
            .await?
            .into_iter()
            .collect();
    let mut work = store::queue(&state.db, user.id).await?;
    // Open work first; what publication closed follows, for the record.
    work.sort_by_key(|a| a.closed_by_publication().is_some());
    let items: Vec<Value> = work
        .iter()
        .map(|a| {
            let mut v = assignment_view(a, now, state.config.time_zone);
            v["evaluation_id"] = json!(drafts.get(&a.id));
            v
        })
        .collect();
    Ok(axum::Json(json!({ "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PullBody {
    recording_id: Option<i64>,
    call_id: Option<String>,
    reason: String,
    #[serde(default = "yes")]
    complaint: bool,
    /// Username of the grader; by default the caller, when the caller grades.
    grader: Option<String>,
    /// Whether the evaluation feeds the agent's score and pay. By default it does not
    /// (the QA monthly evaluation does); a supervisor may decide that a particular call,
    /// such as a complaint, counts.
    #[serde(default)]
    counts: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PullGradersQuery {
    recording_id: i64,
}

/// Who may grade a pull of this call: QA inspectors and the agent's own team leads.
async fn pull_graders(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(q): Query<PullGradersQuery>,
) -> AppResult<axum::Json<Value>> {
    if !matches!(
        user.role,
        Role::Supervisor | Role::Inspector | Role::TeamLead
    ) {
        return Err(AppError::forbidden(
            "only supervisors, QA inspectors and team leads pull calls",
        ));
    }
    let recording = recordings::get_visible(&state.db, &user.viewer(), q.recording_id)
        .await?
        .ok_or_else(|| AppError::not_found("recording"))?;
    let people = users::list_with_roles(&state.db, &[Role::Inspector, Role::TeamLead]).await?;
    Ok(axum::Json(super::agents::people_json(
        people.iter().filter(|p| {
            p.role == Role::Inspector || (p.team_id.is_some() && p.team_id == recording.team_id)
        }),
    )))
}

fn yes() -> bool {
    true
}

async fn pull(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(body): Json<PullBody>,
) -> AppResult<(StatusCode, axum::Json<Value>)> {
    if !matches!(
        user.role,
        Role::Supervisor | Role::Inspector | Role::TeamLead
    ) {
        return Err(AppError::forbidden(
            "only supervisors, QA inspectors and team leads pull calls",
        ));
    }
    if body.counts && user.role != Role::Supervisor {
        return Err(AppError::forbidden(
            "only a supervisor decides that a pulled call counts towards the agent's score and pay",
        ));
    }
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(AppError::unprocessable(
            "invalid_pull",
            "a reason (1 to 2000 characters) is required: it tells the grader why this call",
        )
        .zh("请填写原因（1 到 2000 个字符）：它告诉评分人为什么要评这通电话"));
    }
    let viewer = user.viewer();
    let recording = match (body.recording_id, body.call_id.as_deref().map(str::trim)) {
        (Some(id), None) => recordings::get_visible(&state.db, &viewer, id).await?,
        (None, Some(call_id)) if !call_id.is_empty() => {
            recordings::get_by_call_id(&state.db, call_id)
                .await?
                .filter(|r| viewer.can_see_agent(r.agent_id, r.team_id))
        }
        _ => {
            return Err(AppError::unprocessable(
                "invalid_pull",
                "give exactly one of recording_id or call_id",
            )
            .zh("请只选择一通电话"));
        }
    }
    .ok_or_else(|| AppError::not_found("recording"))?;

    let grader = match body
        .grader
        .as_deref()
        .map(str::trim)
        .filter(|g| !g.is_empty())
    {
        Some(username) => users::find_active(&state.db, username)
            .await?
            .ok_or_else(|| {
                AppError::unprocessable("invalid_grader", format!("no active user {username:?}"))
                    .zh(format!("没有在职用户“{username}”"))
            })?,
        None if matches!(user.role, Role::Inspector | Role::TeamLead) => user.clone(),
        None => {
            return Err(AppError::unprocessable(
                "invalid_grader",
                "name the grader (a QA inspector or the agent's team lead)",
            )
            .zh("请指定评分人（质检员或该坐席的班长）"));
        }
    };
    let may_grade = match grader.role {
        Role::Inspector => true,
        Role::TeamLead => grader.team_id.is_some() && grader.team_id == recording.team_id,
        _ => false,
    };
    if !may_grade {
        return Err(AppError::unprocessable(
            "invalid_grader",
            format!(
                "{} cannot grade this call: pulls go to a QA inspector or the agent's own team lead",
                grader.username
            ),
        )
        .zh(format!(
            "{} 不能评这通电话：调取的通话只能交给质检员或该坐席自己的班长",
            grader.name
        )));
    }
    let now = state.config.clock.now_ms();
    let id = crate::pulls::pull(
        &state.db,
        &state.config,
        &NewPull {
            recording_id: recording.id,
            started_at_ms: recording.started_at_ms,
            counts: body.counts,
            agent_id: recording.agent_id,
            grader_id: grader.id,
            reason,
            complaint: body.complaint,
            created_by: user.id,
            now_ms: now,
            due_at_ms: now + PULL_DUE_DAYS * 86_400_000,
        },
        &recording.call_id,
        &user.name,
    )
    .await
    .map_err(|e| match e {
        PullError::AlreadyQueued => AppError::new(
            StatusCode::CONFLICT,
            "already_queued",
            "this call is already waiting in that grader's queue",
        ),
        PullError::MonthPublished => month_published_error(),
        PullError::Db(e) => e.into(),
        PullError::Notice(e) => AppError::Internal(e),
    })?;
    tracing::info!(
        assignment = id,
        call_id = recording.call_id,
        grader = grader.username,
        by = user.username,
        "call pulled"
    );
    let a = store::get_assignment(&state.db, id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("new pull vanished")))?;
    Ok((
        StatusCode::CREATED,
        axum::Json(assignment_view(&a, now, state.config.time_zone)),
    ))
}
