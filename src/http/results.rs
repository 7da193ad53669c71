//! An agent's own published results: the months, each month's evaluations with their
//! appeals, and the sign-off (acknowledgement).

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::auth::CurrentUser;
use super::extract::Path;
use super::time;
use crate::app::AppState;
use crate::appeals::month_status;
use crate::domain::month::Month;
use crate::domain::org::Role;
use crate::domain::publication as rules;
use crate::error::{AppError, AppResult};
use crate::store::appeals as appeal_store;
use crate::store::flags;
use crate::store::grading::{self as grading_store, ListFilter};
use crate::store::publication::{self as store, AgentMonth};
use crate::store::users::User;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me/months", get(months))
        .route("/me/months/{month}", get(month))
        .route("/me/months/{month}/acknowledge", post(acknowledge))
        .route("/me/coaching", get(coaching))
        .route("/me/coaching/{id}/acknowledge", post(acknowledge_coaching))
}

fn month_view(state: &AppState, m: &AgentMonth, now_ms: i64) -> Value {
    let tz = state.config.time_zone;
    let policy: rules::Policy = serde_json::from_str(&m.policy).unwrap_or_default();
    json!({
        "month": m.month,
        "published_at": time(m.published_at_ms, tz),
        "appeal_closes_at": time(m.appeal_closes_at_ms, tz),
        "appeal_open": rules::appeal_open(now_ms, m.appeal_closes_at_ms),
        "acknowledge_due_at": time(m.acknowledge_due_at_ms, tz),
        "acknowledged_at": m.acknowledged_at_ms.and_then(|ms| time(ms, tz)),
        "acknowledge_overdue": m.acknowledged_at_ms.is_none() && now_ms >= m.acknowledge_due_at_ms,
        // Set when a result changed after the agent's sign-off: the month asks again.
        "previously_acknowledged_at": m.previous_ack_at_ms.and_then(|ms| time(ms, tz)),
        "changed_after_acknowledgement_at": m.changed_after_ack_at_ms.and_then(|ms| time(ms, tz)),
        "status": month_status(m, now_ms).0.as_str(),
        "evaluations": m.evaluations,
        // Those that feed score and pay, and their mean; an agent with none has nothing to
        // acknowledge.
        "evaluations_counted": m.counted,
        "mean_score": m.mean_score.map(|s| (s * 100.0).round() / 100.0),
        "ack_required": m.ack_required,
        "appeals_used": m.appeals_filed,
        "appeals_allowed": policy.max_appeals_per_month,
    })
}

/// Only agents have results of their own; everyone else gets an empty list.
async fn months(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<axum::Json<Value>> {
    if user.role != Role::Agent {
        return Ok(axum::Json(json!({ "items": [] })));
    }
    let now = state.config.clock.now_ms();
    let rows = store::agent_months_of(&state.db, user.id).await?;
    Ok(axum::Json(json!({
        "items": rows.iter().map(|m| month_view(&state, m, now)).collect::<Vec<_>>(),
    })))
}

fn coaching_view(state: &AppState, c: &flags::AgentCoaching) -> Value {
    let tz = state.config.time_zone;
    json!({
        "id": c.id,
        "call_id": c.call_id,
        "recording_id": c.recording_id,
        "held_on": c.held_on,
        "discussed": c.discussed,
        "action": c.action,
        "coach": c.coach_name,
        "recorded_at": time(c.created_at_ms, tz),
        "acknowledged_at": c.acknowledged_at_ms.and_then(|ms| time(ms, tz)),
    })
}

/// The record of each coaching session about the agent's calls, to read and acknowledge.
async fn coaching(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<axum::Json<Value>> {
    if user.role != Role::Agent {
        return Err(AppError::forbidden(
            "coaching records are read by the agent they are about",
        ));
    }
    let rows = flags::coaching_of_agent(&state.db, user.id).await?;
    let pending = rows
        .iter()
        .filter(|c| c.acknowledged_at_ms.is_none())
        .count();
    Ok(axum::Json(json!({
        "items": rows.iter().map(|c| coaching_view(&state, c)).collect::<Vec<_>>(),
        "unacknowledged": pending,
    })))
}

async fn acknowledge_coaching(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Value>> {
    if user.role != Role::Agent {
        return Err(AppError::forbidden(
            "coaching records are acknowledged by the agent they are about",
        ));
    }
    let now = state.config.clock.now_ms();
    if !flags::acknowledge_coaching(&state.db, user.id, id, now).await? {
        return Err(AppError::not_found("coaching session"));
    }
    let rows = flags::coaching_of_agent(&state.db, user.id).await?;
    let c = rows
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| AppError::not_found("coaching session"))?;
    Ok(axum::Json(coaching_view(&state, c)))
}

async fn own_month(state: &AppState, user: &User, month: &str) -> AppResult<AgentMonth> {
    let month: Month = month
        .parse()
        .map_err(|e: String| AppError::bad_request("invalid_month", e))?;
    if user.role != Role::Agent {
        return Err(AppError::not_found("published month"));
    }
    store::agent_month(&state.db, user.id, &month.to_string())
        .await?
        .ok_or_else(|| AppError::not_found("published month"))
}

async fn month_detail(state: &AppState, user: &User, m: &AgentMonth) -> AppResult<Value> {
    let tz = state.config.time_zone;
    let now = state.config.clock.now_ms();
    let range = (m.starts_at_ms, m.ends_at_ms);
    let rows = grading_store::list(
        &state.db,
        &user.viewer(),
        &ListFilter {
            agent_id: Some(user.id),
            status: Some("submitted".into()),
            started: Some(range),
            limit: 1000,
            ..ListFilter::default()
        },
    )
    .await?;
    let corrections: std::collections::HashMap<i64, i64> =
        appeal_store::post_lock_counts(&state.db, user.id, range)
            .await?
            .into_iter()
            .collect();
    let mut evaluations = Vec::new();
    for e in &rows {
        let appeals = appeal_store::of_evaluation(&state.db, e.id).await?;
        let rubric_version = grading_store::get_rubric(&state.db, e.rubric_id)
            .await?
            .map(|r| r.version);
        evaluations.push(json!({
            "id": e.id,
            "call_id": e.call_id,
            "recording_id": e.recording_id,
            "started_at": time(e.started_at_ms, tz),
            "duration_ms": e.duration_ms,
            "score": e.score,
            "grade": e.grade,
            "counts": e.counts,
            "kind": e.assignment_kind,
            "plan_name": e.plan_name,
            "rubric_version": rubric_version,
            "post_lock_corrections": corrections.get(&e.id).copied().unwrap_or(0),
            "appeal": appeals.last().map(|a| json!({
                "id": a.id, "status": a.status, "decision": a.decision,
            })),
        }));
    }
    let mut view = month_view(state, m, now);
    view["evaluations"] = json!(evaluations);
    view["evaluation_count"] = json!(m.evaluations);
    Ok(view)
}

async fn month(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(month): Path<String>,
) -> AppResult<axum::Json<Value>> {
    let m = own_month(&state, &user, &month).await?;
    Ok(axum::Json(month_detail(&state, &user, &m).await?))
}

/// The agent signs off the month (again is harmless: the first sign-off counts).
async fn acknowledge(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(month): Path<String>,
) -> AppResult<axum::Json<Value>> {
    let m = own_month(&state, &user, &month).await?;
    if !m.ack_required {
        return Err(AppError::new(
            axum::http::StatusCode::CONFLICT,
            "nothing_to_acknowledge",
            format!(
                "no evaluation of {} counts towards your score and pay: there is nothing to acknowledge",
                m.month
            ),
        ));
    }
    store::acknowledge(&state.db, user.id, &m.month, state.config.clock.now_ms()).await?;
    tracing::info!(month = m.month, agent = user.username, "month acknowledged");
    let m = own_month(&state, &user, &m.month).await?;
    Ok(axum::Json(month_detail(&state, &user, &m).await?))
}
