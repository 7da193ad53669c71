//! Appeals: an agent files one on a published evaluation; the panel works through its
//! queue, may ask an inspector for a blind re-grade, and decides with a written reason.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::CurrentUser;
use super::evaluations::{full_view, readable};
use super::extract::{Json, Path, Query};
use super::time;
use crate::app::AppState;
use crate::appeals::{self as service, DecisionInput, Disputed};
use crate::domain::audit::{Decision, EvaluationState};
use crate::domain::grading::{Deduction, Form, Grade};
use crate::domain::org::Role;
use crate::error::{AppError, AppResult};
use crate::store::appeals::{self as store, AppealRow};
use crate::store::blind;
use crate::store::grading as evaluations;
use crate::store::users::{self, User};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/evaluations/{id}/appeals", post(file))
        .route("/appeals", get(list))
        .route("/appeals/{id}", get(detail))
        .route("/appeals/{id}/regrade", get(regraders).post(regrade))
        .route("/appeals/{id}/decision", post(decide))
}

/// The disputed deductions by id, each as the evaluation now has it (`present`, with its
/// position) or `removed` since the appeal was filed (with what it was, when the decision's
/// revision still shows it), so an amendment never makes the appeal name another one.
fn disputed(a: &AppealRow, ids: &[u32]) -> Vec<Value> {
    // Both were written by us; an unreadable one shows the ids alone.
    let form = serde_json::from_str::<Form>(&a.form)
        .map(Form::with_derived_ids)
        .unwrap_or_default();
    let before = a
        .decision_old
        .as_deref()
        .and_then(|j| serde_json::from_str::<EvaluationState>(j).ok())
        .map(|s| s.normalized().form);
    ids.iter()
        .map(
            |&id| match form.deductions.iter().position(|d| d.id == Some(id)) {
                Some(index) => json!({
                    "id": id, "status": "present", "index": index,
                    "deduction": form.deductions[index],
                }),
                None => json!({
                    "id": id, "status": "removed", "index": null,
                    "deduction": before.as_ref().and_then(|f| f.deduction(id)),
                }),
            },
        )
        .collect()
}

pub fn appeal_view(state: &AppState, a: &AppealRow, now_ms: i64) -> Value {
    let tz = state.config.time_zone;
    let ids: Vec<u32> = serde_json::from_str(&a.deductions).unwrap_or_default();
    let disputed = disputed(a, &ids);
    // Positions of the disputed deductions still in the form, for older clients.
    let positions: Vec<&Value> = disputed
        .iter()
        .filter(|d| !d["index"].is_null())
        .map(|d| &d["index"])
        .collect();
    json!({
        "id": a.id,
        "evaluation_id": a.evaluation_id,
        "call_id": a.call_id,
        "recording_id": a.recording_id,
        "agent": { "username": a.agent, "name": a.agent_name, "team": a.team },
        "month": a.month,
        "reason": a.reason,
        "deduction_ids": ids,
        "disputed": disputed,
        "deductions": positions,
        "status": a.status,
        "filed_at": time(a.filed_at_ms, tz),
        "due_at": time(a.due_at_ms, tz),
        "overdue": a.status == "open" && now_ms >= a.due_at_ms,
        "regrade": a.regrader.as_ref().map(|g| json!({
            "grader": { "username": g, "name": a.regrader_name },
            "status": if a.regrade_status.as_deref() == Some("submitted") { "submitted" } else { "pending" },
            "evaluation_id": a.regrade_evaluation_id,
        })),
        "decision": a.decision.as_ref().map(|d| {
            // Before and after as the decision's revision recorded them; an upheld
            // appeal changed nothing, so both are the current grade and score.
            let state = |json: Option<&String>| -> Value {
                json.and_then(|j| serde_json::from_str(j).ok()).unwrap_or(Value::Null)
            };
            let (old, new) = (state(a.decision_old.as_ref()), state(a.decision_new.as_ref()));
            let unchanged = old.is_null();
            json!({
                "outcome": d,
                "reason": a.decision_reason,
                "by": { "username": a.decided_by, "name": a.decided_by_name },
                "at": a.decided_at_ms.and_then(|ms| time(ms, tz)),
                "old_grade": if unchanged { json!(a.grade) } else { old["grade"].clone() },
                "new_grade": if unchanged { json!(a.grade) } else { new["grade"].clone() },
                "old_score": if unchanged { json!(a.score) } else { old["score"].clone() },
                "new_score": if unchanged { json!(a.score) } else { new["score"].clone() },
            })
        }),
        "grade": a.grade,
        "score": a.score,
    })
}

/// The appeal if the caller may see it: the panel and supervisors all, team leads their
/// team's, agents their own, nobody one of a call they grade blind (it tells the grade);
/// 404 otherwise.
async fn visible(state: &AppState, user: &User, id: i64) -> AppResult<AppealRow> {
    let a = store::get(&state.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("appeal"))?;
    if blind::is_blind(&state.db, user.id, a.recording_id).await? {
        return Err(AppError::not_found("appeal"));
    }
    let viewer = user.viewer();
    let ok = match user.role {
        Role::Panel | Role::Supervisor => true,
        Role::TeamLead => viewer.can_see_agent(a.agent_id, a.team_id),
        Role::Agent => a.agent_id == user.id,
        Role::Inspector => false,
    };
    if ok {
        Ok(a)
    } else {
        Err(AppError::not_found("appeal"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBody {
    reason: String,
    /// Ids of the appealed deductions; none (and no `deductions`): the whole evaluation.
    deduction_ids: Option<Vec<u32>>,
    /// Older clients: positions of the appealed deductions in the form, turned into their
    /// ids at filing. Not together with `deduction_ids`.
    deductions: Option<Vec<usize>>,
}

async fn file(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(body): Json<FileBody>,
) -> AppResult<(StatusCode, axum::Json<Value>)> {
    if user.role != Role::Agent {
        return Err(AppError::forbidden(
            "only the graded agent appeals an evaluation",
        ));
    }
    let e = readable(&state, &user, id).await?;
    if e.agent_id != user.id {
        return Err(AppError::not_found("evaluation"));
    }
    let disputed = match (body.deduction_ids, body.deductions) {
        (Some(_), Some(_)) => {
            return Err(AppError::unprocessable(
                "invalid_appeal",
                "name the deductions by deduction_ids or (older clients) by deductions, not both",
            ));
        }
        (Some(ids), None) => Disputed::Ids(ids),
        (None, indexes) => Disputed::Indexes(indexes.unwrap_or_default()),
    };
    let now = state.config.clock.now_ms();
    let appeal_id =
        service::file(&state.db, &state.config, &e, &disputed, &body.reason, now).await?;
    tracing::info!(
        appeal = appeal_id,
        evaluation = id,
        agent = user.username,
        "appeal filed"
    );
    let a = store::get(&state.db, appeal_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("appeal {appeal_id} vanished"))?;
    Ok((
        StatusCode::CREATED,
        axum::Json(appeal_view(&state, &a, now)),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// open (default), decided or all.
    status: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(q): Query<ListQuery>,
) -> AppResult<axum::Json<Value>> {
    let status = match q.status.as_deref().unwrap_or("open") {
        "open" => "open",
        "decided" => "decided",
        "all" | "" => "",
        other => {
            return Err(AppError::bad_request(
                "invalid_query",
                format!("status is open, decided or all, not {other:?}"),
            ));
        }
    };
    if user.role == Role::Inspector {
        return Ok(axum::Json(json!({ "items": [] })));
    }
    let now = state.config.clock.now_ms();
    let rows = store::list(&state.db, user.viewer().scope(), status).await?;
    let blind_calls = blind::recordings(&state.db, user.id).await?;
    Ok(axum::Json(json!({
        "items": rows
            .iter()
            .filter(|a| !blind_calls.contains(&a.recording_id))
            .map(|a| appeal_view(&state, a, now))
            .collect::<Vec<_>>(),
    })))
}

/// The appeal with the evaluation it concerns and, for the panel and supervisors, the
/// blind re-grade beside it once submitted.
async fn detail(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Value>> {
    let a = visible(&state, &user, id).await?;
    let now = state.config.clock.now_ms();
    let mut view = appeal_view(&state, &a, now);
    let e = readable(&state, &user, a.evaluation_id).await?;
    view["evaluation"] = full_view(&state, &user, &e).await?;
    let regrade = match a.regrade_evaluation_id {
        Some(rid) if matches!(user.role, Role::Panel | Role::Supervisor) => {
            match evaluations::get_evaluation(&state.db, rid).await? {
                Some(r) if r.submitted() => Some(full_view(&state, &user, &r).await?),
                _ => None,
            }
        }
        _ => None,
    };
    view["regrade_evaluation"] = regrade.unwrap_or(Value::Null);
    Ok(axum::Json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegradeBody {
    /// Username of the QA inspector who grades the call blind.
    grader: String,
}

/// Who the panel may ask for a blind re-grade: active QA inspectors other than the original
/// grader.
async fn regraders(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Value>> {
    if user.role != Role::Panel {
        return Err(AppError::forbidden(
            "only the appeal panel asks for a re-grade",
        ));
    }
    let a = visible(&state, &user, id).await?;
    let original = evaluations::get_evaluation(&state.db, a.evaluation_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("evaluation {} vanished", a.evaluation_id))?;
    let people = users::list_with_roles(&state.db, &[Role::Inspector]).await?;
    Ok(axum::Json(super::agents::people_json(
        people.iter().filter(|p| p.id != original.grader_id),
    )))
}

async fn regrade(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(body): Json<RegradeBody>,
) -> AppResult<axum::Json<Value>> {
    if user.role != Role::Panel {
        return Err(AppError::forbidden(
            "only the appeal panel asks for a re-grade",
        ));
    }
    let a = visible(&state, &user, id).await?;
    let grader = users::find_active(&state.db, &body.grader)
        .await?
        .filter(|g| g.role == Role::Inspector)
        .ok_or_else(|| {
            AppError::unprocessable(
                "invalid_regrader",
                format!("{:?} is not an active QA inspector", body.grader),
            )
        })?;
    let original = evaluations::get_evaluation(&state.db, a.evaluation_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("evaluation {} vanished", a.evaluation_id))?;
    if original.grader_id == grader.id {
        return Err(AppError::unprocessable(
            "invalid_regrader",
            "a blind re-grade needs someone other than the original grader",
        ));
    }
    let now = state.config.clock.now_ms();
    let asked = crate::appeals::request_regrade(
        &state.db,
        &state.config,
        a.id,
        &original.call_id,
        grader.id,
        user.id,
        now,
    )
    .await?;
    if !asked {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "regrade_not_possible",
            "the appeal is decided or already has a re-grader",
        ));
    }
    tracing::info!(
        appeal = a.id,
        regrader = grader.username,
        "blind re-grade requested"
    );
    let a = visible(&state, &user, id).await?;
    Ok(axum::Json(appeal_view(&state, &a, now)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    outcome: Decision,
    reason: String,
    grade: Option<Grade>,
    deductions: Option<Vec<Deduction>>,
}

async fn decide(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(body): Json<DecisionBody>,
) -> AppResult<axum::Json<Value>> {
    if user.role != Role::Panel {
        return Err(AppError::forbidden("only the appeal panel decides appeals"));
    }
    let a = visible(&state, &user, id).await?;
    let input = DecisionInput::parse(body.outcome, body.grade, body.deductions, &body.reason)?;
    let e = evaluations::get_evaluation(&state.db, a.evaluation_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("evaluation {} vanished", a.evaluation_id))?;
    let rubric = state.rubrics.get(&state.db, e.rubric_id).await?;
    let now = state.config.clock.now_ms();
    service::decide(
        &state.db,
        &state.config,
        &a,
        &e,
        &rubric,
        &input,
        user.id,
        now,
    )
    .await?;
    tracing::info!(
        appeal = a.id,
        outcome = input.outcome.as_str(),
        by = user.username,
        "appeal decided"
    );
    crate::scoring::run_jobs_now(&state.db, &state.config.clock).await;
    let a = visible(&state, &user, id).await?;
    Ok(axum::Json(appeal_view(&state, &a, now)))
}
