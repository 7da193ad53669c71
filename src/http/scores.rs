//! Scores: a month's results (service quality with its interval, pay, overall score, level)
//! and the leads' assessments, their versions, an agent's trend, recomputing, the scoring
//! configuration, component imports and commendations.

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
use crate::domain::access::Scope;
use crate::domain::month::Month;
use crate::domain::org::Role;
use crate::domain::scoring::{Commendation, ScoringConfig};
use crate::error::{AppError, AppResult};
use crate::scoring::{self as service, Cause};
use crate::store::scoring::{self as store, AgentScoreRow, LeadScoreRow, RunRow};
use crate::store::users::{self, User};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/months/{month}/scores", get(month_scores))
        .route("/months/{month}/scores/recompute", post(recompute))
        .route("/months/{month}/scores/runs", get(runs))
        .route("/agents/{username}/scores", get(trend))
        // A center's month of components for thousands of agents is a few MB of CSV.
        .route(
            "/components/import",
            post(import).layer(axum::extract::DefaultBodyLimit::max(IMPORT_MAX_BYTES)),
        )
        .route("/settings/scoring", get(config).put(set_config))
        .route("/commendations", get(commendations).post(commend))
}

const IMPORT_MAX_BYTES: usize = 32 * 1024 * 1024;

pub fn parse_month(month: &str) -> AppResult<Month> {
    month
        .parse()
        .map_err(|e: String| AppError::bad_request("invalid_month", e))
}

/// Whose scores a person may see: supervisors all, team leads their team, agents their own.
pub fn score_scope(user: &User) -> AppResult<Scope> {
    match user.role {
        Role::Supervisor | Role::TeamLead | Role::Agent => Ok(user.viewer().scope()),
        Role::Inspector | Role::Panel => Err(AppError::forbidden(
            "scores are for supervisors, team leads and the agents themselves",
        )),
    }
}

/// A version of the month. Its cause, detail and author tell of other people's appeals and
/// corrections ("appeal #12 amended"): only supervisors see them; everyone else sees that
/// the month was recomputed, and when.
fn run_view(state: &AppState, r: &RunRow, viewer: &User) -> Value {
    let full = viewer.role == Role::Supervisor;
    let cause = match r.cause.as_str() {
        "appeal_decided" | "correction" if !full => "recomputed",
        other => other,
    };
    json!({
        "version": r.id,
        "month": r.month,
        "cause": cause,
        "detail": if full { r.detail.as_deref() } else { None },
        "by": if full { r.by.as_deref() } else { None },
        "at": time(r.at_ms, state.config.time_zone),
    })
}

pub fn score_view(s: &AgentScoreRow) -> Value {
    let detail: Value = serde_json::from_str(&s.score.detail).unwrap_or(Value::Null);
    json!({
        "month": s.month,
        "agent": { "username": s.agent, "name": s.agent_name, "team": s.team },
        // Those that fed score and pay, and those that did not (spot-checks, pulls).
        "evaluations": s.score.evaluations,
        "evaluations_not_counted": s.score.uncounted,
        "service_quality": s.score.sq_score,
        "interval": s.score.sq_low.zip(s.score.sq_high).map(|(lo, hi)| json!({ "low": lo, "high": hi })),
        "pay": s.score.pay,
        "pay_cancelled_by_severe": s.score.pay_cancelled,
        // While a part of the overall score is missing there is no overall score and no
        // level, only what the known parts add up to and what is missing.
        "complete": s.score.complete,
        "overall": s.score.complete.then_some(s.score.overall),
        "overall_so_far": s.score.overall,
        "level": s.score.level,
        "missing": detail["missing"],
        "detail": detail,
    })
}

fn lead_view(l: &LeadScoreRow) -> Value {
    json!({
        "lead": { "username": l.lead, "name": l.lead_name, "team": l.team },
        "missing_spot_checks": l.score.missing,
        "penalty": l.score.penalty,
        "team_service_quality_points": l.score.team_sq_points,
    })
}

/// The month's newest version within the caller's scope, with the leads' assessments
/// (supervisors: all; a lead: their own).
async fn month_scores(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(month): Path<String>,
) -> AppResult<axum::Json<Value>> {
    let scope = score_scope(&user)?;
    let month = parse_month(&month)?;
    let runs = store::runs(&state.db, &month.to_string()).await?;
    let Some(run) = runs.first() else {
        return Ok(axum::Json(json!({
            "month": month.to_string(), "version": null, "items": [], "leads": [],
        })));
    };
    let items = store::agent_scores(&state.db, run.id, scope).await?;
    let leads = match user.role {
        Role::Supervisor => store::lead_scores(&state.db, run.id, None).await?,
        Role::TeamLead => store::lead_scores(&state.db, run.id, Some(user.id)).await?,
        _ => Vec::new(),
    };
    let mut answer = run_view(&state, run, &user);
    answer["items"] = json!(items.iter().map(score_view).collect::<Vec<_>>());
    answer["leads"] = json!(leads.iter().map(lead_view).collect::<Vec<_>>());
    answer["versions"] = json!(runs.len());
    Ok(axum::Json(answer))
}

async fn runs(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(month): Path<String>,
) -> AppResult<axum::Json<Value>> {
    score_scope(&user)?;
    let month = parse_month(&month)?;
    let runs = store::runs(&state.db, &month.to_string()).await?;
    Ok(axum::Json(json!({
        "items": runs.iter().map(|r| run_view(&state, r, &user)).collect::<Vec<_>>(),
    })))
}

async fn recompute(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(month): Path<String>,
) -> AppResult<axum::Json<Value>> {
    if user.role != Role::Supervisor {
        return Err(AppError::forbidden("only supervisors recompute scores"));
    }
    let month = parse_month(&month)?;
    let now = state.config.clock.now_ms();
    let id = service::recompute(&state.db, month, Cause::Manual, None, Some(user.id), now).await?;
    let run = store::get_run(&state.db, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("run {id} vanished"))?;
    Ok(axum::Json(run_view(&state, &run, &user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrendQuery {
    /// The last month shown (default: the current month); 12 months end there.
    to: Option<String>,
}

/// An agent's last 12 months: score, interval, level, pay; and the yearly score of the
/// calendar year of the last month.
async fn trend(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(username): Path<String>,
    Query(q): Query<TrendQuery>,
) -> AppResult<axum::Json<Value>> {
    score_scope(&user)?;
    let agent = users::find_agent(&state.db, &username)
        .await?
        .filter(|a| user.viewer().can_see_agent(a.id, a.team_id))
        .ok_or_else(|| AppError::not_found("agent"))?;
    let to = match q.to.as_deref().filter(|t| !t.is_empty()) {
        Some(t) => parse_month(t)?,
        None => Month::containing(state.config.clock.now_ms(), state.config.time_zone),
    };
    let mut from = to;
    for _ in 1..service::HISTORY_MONTHS {
        from = from.prev();
    }
    let rows = store::agent_trend(&state.db, agent.id, &from.to_string(), &to.to_string()).await?;
    let year = to.to_string()[..4].to_string();
    let year_scores: Vec<f64> = rows
        .iter()
        .filter(|r| r.month.starts_with(&year) && r.score.complete)
        .map(|r| r.score.overall)
        .collect();
    Ok(axum::Json(json!({
        "agent": { "username": agent.username, "name": agent.name, "team": agent.team },
        "from": from.to_string(),
        "to": to.to_string(),
        "items": rows.iter().map(score_view).collect::<Vec<_>>(),
        "year": year,
        "yearly_score": crate::domain::scoring::yearly(&year_scores).map(|y| (y * 100.0).round() / 100.0),
    })))
}

/// `text/csv` body: agent,month,component,points. All or nothing; the published months it
/// touches are recomputed.
async fn import(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    body: axum::body::Bytes,
) -> AppResult<(StatusCode, axum::Json<Value>)> {
    if user.role != Role::Supervisor {
        return Err(AppError::forbidden("only supervisors import components"));
    }
    let now = state.config.clock.now_ms();
    let report = service::import_components(&state.db, &body, Some(user.id), now).await?;
    if !report.errors.is_empty() {
        return Err(AppError::unprocessable(
            "invalid_import",
            format!(
                "nothing imported: {} problem(s); {}",
                report.errors.len(),
                report.errors.join("; ")
            ),
        )
        .with("errors", json!(report.errors)));
    }
    let recomputed = service::recompute_published(
        &state.db,
        &report.months,
        Cause::ComponentsImported,
        Some(user.id),
        now,
    )
    .await?;
    Ok((
        StatusCode::OK,
        axum::Json(json!({
            "imported": report.imported,
            "months": report.months,
            "recomputed": recomputed,
        })),
    ))
}

async fn config(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
) -> AppResult<axum::Json<Value>> {
    let c = service::config(&state.db).await?;
    Ok(axum::Json(
        serde_json::to_value(c).map_err(anyhow::Error::from)?,
    ))
}

/// Applies from the next computation on; earlier versions keep the configuration they used.
async fn set_config(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(c): Json<ScoringConfig>,
) -> AppResult<axum::Json<Value>> {
    if user.role != Role::Supervisor {
        return Err(AppError::forbidden(
            "only supervisors change the scoring configuration",
        ));
    }
    c.validate()
        .map_err(|e| AppError::unprocessable("invalid_scoring_config", e))?;
    service::set_config(&state.db, &c, user.id, state.config.clock.now_ms()).await?;
    Ok(axum::Json(
        serde_json::to_value(c).map_err(anyhow::Error::from)?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommendBody {
    agent: String,
    month: String,
    kind: Commendation,
    #[serde(default)]
    note: String,
}

async fn commend(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(body): Json<CommendBody>,
) -> AppResult<(StatusCode, axum::Json<Value>)> {
    if user.role != Role::Supervisor {
        return Err(AppError::forbidden("only supervisors record commendations"));
    }
    let month = parse_month(&body.month)?;
    let agent = users::find_agent(&state.db, &body.agent)
        .await?
        .ok_or_else(|| {
            AppError::unprocessable("unknown_agent", format!("no agent {:?}", body.agent))
        })?;
    if body.note.chars().count() > 2000 {
        return Err(AppError::unprocessable(
            "invalid_commendation",
            "the note is at most 2000 characters",
        ));
    }
    let now = state.config.clock.now_ms();
    let id = store::insert_commendation(
        &state.db,
        agent.id,
        &month.to_string(),
        body.kind.as_str(),
        body.note.trim(),
        user.id,
        now,
    )
    .await?;
    service::recompute_published(
        &state.db,
        &[month.to_string()],
        Cause::Manual,
        Some(user.id),
        now,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(
            json!({ "id": id, "agent": agent.username, "month": month.to_string(), "kind": body.kind }),
        ),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MonthQuery {
    month: String,
}

async fn commendations(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(q): Query<MonthQuery>,
) -> AppResult<axum::Json<Value>> {
    let scope = score_scope(&user)?;
    let month = parse_month(&q.month)?;
    let tz = state.config.time_zone;
    let rows = store::commendations(&state.db, &month.to_string(), scope).await?;
    Ok(axum::Json(json!({
        "items": rows.iter().map(|(id, agent, name, kind, note, at)| json!({
            "id": id, "agent": { "username": agent, "name": name }, "kind": kind, "note": note,
            "at": time(*at, tz),
        })).collect::<Vec<_>>(),
    })))
}
