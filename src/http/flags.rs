//! The team lead's review queue: poor and severe calls flagged at submission, the 1:1
//! coaching the lead records, and its outcome. Overdue when not coached in time.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::CurrentUser;
use super::extract::{Json, Path, Query};
use super::time;
use crate::app::AppState;
use crate::domain::org::Role;
use crate::error::{AppError, AppResult};
use crate::store::blind;
use crate::store::flags::{self as store, FlagRow, NewCoaching};
use crate::store::users::User;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/flags", get(list))
        .route("/flags/{id}", get(detail))
        .route("/flags/{id}/coaching", post(coach))
        .route("/flags/{id}/outcome", post(outcome))
}

/// Flags are the lead's and the supervisor's work; agents hear about coaching in person.
fn require_reviewer(user: &User) -> AppResult<()> {
    if matches!(user.role, Role::TeamLead | Role::Supervisor) {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "the review queue is for team leads and supervisors",
        ))
    }
}

fn view(state: &AppState, f: &FlagRow, now_ms: i64) -> Value {
    let tz = state.config.time_zone;
    json!({
        "id": f.id,
        "evaluation_id": f.evaluation_id,
        "recording_id": f.recording_id,
        "call_id": f.call_id,
        "started_at": time(f.started_at_ms, tz),
        "agent": { "username": f.agent, "name": f.agent_name, "team": f.team },
        "grader": f.grader,
        "grade": f.grade,
        "score": f.score,
        "status": f.status,
        "created_at": time(f.created_at_ms, tz),
        "due_at": time(f.due_at_ms, tz),
        "overdue": f.status == "open" && f.due_at_ms < now_ms,
        "outcome": f.outcome,
        "outcome_note": f.outcome_note,
        "outcome_by": f.outcome_by,
        "outcome_at": f.outcome_at_ms.and_then(|ms| time(ms, tz)),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// open, coached, closed, overdue or all (default: what still needs work, open and coached).
    status: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(q): Query<ListQuery>,
) -> AppResult<axum::Json<Value>> {
    require_reviewer(&user)?;
    let now = state.config.clock.now_ms();
    let wanted = q.status.as_deref().unwrap_or("pending");
    let stored = match wanted {
        "open" | "overdue" => "open",
        "coached" => "coached",
        "closed" => "closed",
        "all" | "pending" => "",
        other => {
            return Err(AppError::bad_request(
                "invalid_query",
                format!("unknown status {other:?}: open, coached, closed, overdue, pending or all"),
            ));
        }
    };
    // A flag tells its call's grade: not to someone grading the call blind.
    let blind_calls = blind::recordings(&state.db, user.id).await?;
    let items: Vec<Value> = store::list(&state.db, &user.viewer(), stored)
        .await?
        .iter()
        .filter(|f| !blind_calls.contains(&f.recording_id))
        .filter(|f| match wanted {
            "overdue" => f.due_at_ms < now,
            "pending" => f.status != "closed",
            _ => true,
        })
        .map(|f| view(&state, f, now))
        .collect();
    let overdue = items.iter().filter(|f| f["overdue"] == true).count();
    Ok(axum::Json(json!({ "items": items, "overdue": overdue })))
}

async fn visible(state: &AppState, user: &User, id: i64) -> AppResult<FlagRow> {
    require_reviewer(user)?;
    let f = store::get_visible(&state.db, &user.viewer(), id)
        .await?
        .ok_or_else(|| AppError::not_found("flag"))?;
    if blind::is_blind(&state.db, user.id, f.recording_id).await? {
        return Err(AppError::not_found("flag"));
    }
    Ok(f)
}

async fn detail_view(state: &AppState, f: &FlagRow) -> AppResult<Value> {
    let mut v = view(state, f, state.config.clock.now_ms());
    let coaching: Vec<Value> = store::coaching(&state.db, f.id)
        .await?
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "held_on": c.held_on,
                "discussed": c.discussed,
                "action": c.action,
                "coach": c.coach,
                "recorded_at": time(c.created_at_ms, state.config.time_zone),
            })
        })
        .collect();
    v["coaching"] = json!(coaching);
    Ok(v)
}

async fn detail(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Value>> {
    let f = visible(&state, &user, id).await?;
    Ok(axum::Json(detail_view(&state, &f).await?))
}

fn text(field: &str, value: &str, max: usize) -> AppResult<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(AppError::unprocessable(
            "invalid_coaching",
            format!("{field} is required (1 to {max} characters)"),
        )
        .zh(format!(
            "请填写{}（1 到 {max} 个字符）",
            match field {
                "discussed" => "沟通内容",
                "action" => "改进措施",
                _ => "备注",
            }
        )));
    }
    Ok(v.to_string())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CoachingBody {
    /// The day the session took place, YYYY-MM-DD.
    held_on: String,
    discussed: String,
    action: String,
}

async fn coach(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(body): Json<CoachingBody>,
) -> AppResult<(StatusCode, axum::Json<Value>)> {
    let f = visible(&state, &user, id).await?;
    let held_on =
        chrono::NaiveDate::parse_from_str(body.held_on.trim(), "%Y-%m-%d").map_err(|_| {
            AppError::unprocessable("invalid_coaching", "held_on is a date, YYYY-MM-DD")
                .zh("辅导日期格式应为“年-月-日”（YYYY-MM-DD）")
        })?;
    let now = state.config.clock.now_ms();
    let today = crate::grading::local_date(now, state.config.time_zone);
    if held_on > today {
        return Err(AppError::unprocessable(
            "invalid_coaching",
            "a coaching session is recorded after it took place (held_on is in the future)",
        )
        .zh("辅导须在进行之后记录（辅导日期不能是将来）"));
    }
    let recorded = store::add_coaching(
        &state.db,
        &NewCoaching {
            flag_id: f.id,
            held_on: &held_on.format("%Y-%m-%d").to_string(),
            discussed: &text("discussed", &body.discussed, 4000)?,
            action: &text("action", &body.action, 4000)?,
            coach_id: user.id,
            now_ms: now,
        },
    )
    .await?;
    if !recorded {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "flag_closed",
            "this flag is closed: its outcome is recorded",
        ));
    }
    let f = visible(&state, &user, id).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(detail_view(&state, &f).await?),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeBody {
    /// improved or not_improved
    outcome: String,
    #[serde(default)]
    note: String,
}

async fn outcome(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(body): Json<OutcomeBody>,
) -> AppResult<axum::Json<Value>> {
    let f = visible(&state, &user, id).await?;
    if !matches!(body.outcome.as_str(), "improved" | "not_improved") {
        return Err(AppError::unprocessable(
            "invalid_outcome",
            "outcome is improved or not_improved",
        ));
    }
    if body.note.chars().count() > 4000 {
        return Err(AppError::unprocessable(
            "invalid_outcome",
            "the note is at most 4000 characters",
        ));
    }
    let now = state.config.clock.now_ms();
    let closed = store::close(
        &state.db,
        f.id,
        &body.outcome,
        body.note.trim(),
        user.id,
        now,
    )
    .await?;
    if !closed {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            "not_coached",
            if f.status == "closed" {
                "this flag is already closed"
            } else {
                "record the coaching session first; its outcome comes after it"
            },
        ));
    }
    let f = visible(&state, &user, id).await?;
    Ok(axum::Json(detail_view(&state, &f).await?))
}
