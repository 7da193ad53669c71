//! A month's lifecycle: the publication preview (who would be published, which queue items
//! are still unfinished), publishing for a population, and who has acknowledged.
//! Publication reveals the month's sampling seeds (so anyone can check the draw) and opens
//! the appeal window.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::CurrentUser;
use super::extract::{OptionalJson, Path, Query};
use super::time;
use crate::app::AppState;
use crate::appeals::month_status;
use crate::domain::access::Scope;
use crate::domain::month::Month;
use crate::domain::org::Role;
use crate::domain::publication as rules;
use crate::error::{AppError, AppResult};
use crate::store::Db;
use crate::store::publication::{self as store, PublicationRow, Unfinished, Ungraded};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/months/{month}/publication", get(preview))
        .route("/months/{month}/publish", post(publish))
        .route("/months/{month}/acknowledgements", get(acknowledgements))
}

/// Unfinished items listed before confirming; the count is always exact.
const UNFINISHED_SHOWN: i64 = 200;

fn parse_month(month: &str) -> AppResult<Month> {
    month
        .parse()
        .map_err(|e: String| AppError::bad_request("invalid_month", e))
}

/// Team names to ids; an unknown name is the caller's mistake.
async fn resolve_teams(db: &Db, names: &[String]) -> AppResult<Vec<i64>> {
    let mut ids = Vec::new();
    for name in names {
        let id = store::team_id(db, name).await?.ok_or_else(|| {
            AppError::unprocessable("unknown_team", format!("there is no team {name:?}"))
        })?;
        ids.push(id);
    }
    Ok(ids)
}

fn publication_view(state: &AppState, p: &PublicationRow, now_ms: i64) -> Value {
    let tz = state.config.time_zone;
    let (status, locked_at) = rules::status(
        now_ms,
        p.appeal_closes_at_ms,
        u64::try_from(p.open_appeals).unwrap_or(0),
        p.last_decision_ms,
    );
    let teams: Option<Vec<String>> = p
        .teams
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok());
    json!({
        "id": p.id,
        "month": p.month,
        "teams": teams,
        "published_at": time(p.published_at_ms, tz),
        "published_by": { "username": p.published_by, "name": p.published_by_name },
        "appeal_closes_at": time(p.appeal_closes_at_ms, tz),
        "acknowledge_due_at": time(p.acknowledge_due_at_ms, tz),
        "status": status.as_str(),
        "locked_at": locked_at.and_then(|ms| time(ms, tz)),
        "agents": p.agents,
        "to_acknowledge": p.to_acknowledge,
        "acknowledged": p.acknowledged,
        "open_appeals": p.open_appeals,
    })
}

fn unfinished_view(count: i64, items: &[Unfinished]) -> Value {
    json!({
        "count": count,
        "items": items.iter().map(|u| json!({
            "assignment_id": u.assignment_id,
            "call_id": u.call_id,
            "agent": { "username": u.agent, "name": u.agent_name },
            "grader": u.grader.as_ref().map(|g| json!({ "username": g, "name": u.grader_name })),
            "kind": u.kind,
            "plan_name": u.plan_name,
            "status": if u.draft { "draft" } else { "not_started" },
        })).collect::<Vec<_>>(),
    })
}

/// The month's ungraded items of the population, of one kind, as the page lists them.
async fn ungraded(
    state: &AppState,
    month: Month,
    team_ids: Option<&[i64]>,
    which: Ungraded,
) -> AppResult<Value> {
    let (count, items) = store::unfinished(
        &state.db,
        &month.to_string(),
        month.range_ms(state.config.time_zone),
        team_ids,
        UNFINISHED_SHOWN,
        which,
    )
    .await?;
    Ok(unfinished_view(count, &items))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewQuery {
    /// Comma-separated team names; none: every agent.
    teams: Option<String>,
}

fn team_list(teams: Option<&str>) -> Option<Vec<String>> {
    teams
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|t| !t.is_empty())
}

/// What publishing would do. Supervisors see the center; team leads their team's
/// publications (to follow acknowledgements).
async fn preview(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(month): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> AppResult<axum::Json<Value>> {
    if !matches!(user.role, Role::Supervisor | Role::TeamLead) {
        return Err(AppError::forbidden(
            "only supervisors and team leads follow a month's publication",
        ));
    }
    let month = parse_month(&month)?;
    let now = state.config.clock.now_ms();
    let scope = user.viewer().scope();
    let publications = store::list_publications(&state.db, &month.to_string(), scope).await?;
    let mut answer = json!({
        "month": month.to_string(),
        "publications": publications.iter().map(|p| publication_view(&state, p, now)).collect::<Vec<_>>(),
    });
    if user.role == Role::Supervisor {
        let names = team_list(q.teams.as_deref());
        let ids = match &names {
            Some(names) => Some(resolve_teams(&state.db, names).await?),
            None => None,
        };
        let m = month.to_string();
        let unpublished = store::unpublished_agents(&state.db, &m, ids.as_deref()).await?;
        answer["unpublished_agents"] = json!(unpublished);
        answer["unfinished"] = ungraded(&state, month, ids.as_deref(), Ungraded::Open).await?;
        // What earlier publications closed ungraded: kept, and said, so the page never
        // claims that every evaluation of a published month was finished.
        answer["closed_by_publication"] =
            ungraded(&state, month, ids.as_deref(), Ungraded::ClosedByPublication).await?;
    }
    Ok(axum::Json(answer))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PublishBody {
    /// Team names; none: every agent.
    teams: Option<Vec<String>>,
    /// Publish although some queue items of the month are not graded yet.
    #[serde(default)]
    confirm: bool,
}

async fn publish(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(month): Path<String>,
    OptionalJson(body): OptionalJson<PublishBody>,
) -> AppResult<(StatusCode, axum::Json<Value>)> {
    if user.role != Role::Supervisor {
        return Err(AppError::forbidden("only supervisors publish a month"));
    }
    let month = parse_month(&month)?;
    let names = body.teams.filter(|t| !t.is_empty());
    let ids = match &names {
        Some(names) => Some(resolve_teams(&state.db, names).await?),
        None => None,
    };
    let m = month.to_string();
    let tz = state.config.time_zone;
    if !body.confirm {
        let unfinished = ungraded(&state, month, ids.as_deref(), Ungraded::Open).await?;
        let count = unfinished["count"].as_i64().unwrap_or(0);
        if count > 0 {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                "unfinished_evaluations",
                format!(
                    "{count} queue items of {m} are not graded yet; publish with \"confirm\": true \
                     to publish and close them (they stay in the queues, marked closed by publication)"
                ),
            )
            .with("unfinished", unfinished));
        }
    }
    let now = state.config.clock.now_ms();
    let teams = ids.as_deref().zip(names.as_deref());
    let published =
        crate::publication::publish(&state.db, &state.config, month, teams, user.id, now)
            .await?
            .ok_or_else(|| {
                AppError::new(
                    StatusCode::CONFLICT,
                    "nothing_to_publish",
                    format!("every agent of this population is published for {m} already"),
                )
            })?;
    let p = store::get_publication(&state.db, published.publication_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("publication {} vanished", published.publication_id))?;
    tracing::info!(
        month = m,
        agents = published.agents,
        by = user.username,
        "month published"
    );
    crate::scoring::run_jobs_now(&state.db, &state.config.clock).await;
    Ok((
        StatusCode::OK,
        axum::Json(json!({
            "month": m,
            "published_at": time(p.published_at_ms, tz),
            "publication": publication_view(&state, &p, now),
            "agents": published.agents,
        })),
    ))
}

/// Who has signed off the month: team leads see their team, supervisors everyone.
async fn acknowledgements(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(month): Path<String>,
) -> AppResult<axum::Json<Value>> {
    if !matches!(user.role, Role::Supervisor | Role::TeamLead) {
        return Err(AppError::forbidden(
            "only supervisors and team leads follow acknowledgements",
        ));
    }
    let month = parse_month(&month)?;
    let scope = user.viewer().scope();
    if scope == Scope::Nothing {
        return Ok(axum::Json(
            json!({ "month": month.to_string(), "items": [] }),
        ));
    }
    let tz = state.config.time_zone;
    let now = state.config.clock.now_ms();
    let rows = store::agent_months_in_scope(&state.db, &month.to_string(), scope).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|m| {
            json!({
                "agent": { "username": m.agent, "name": m.agent_name, "team": m.team },
                "published_at": time(m.published_at_ms, tz),
                "acknowledge_due_at": time(m.acknowledge_due_at_ms, tz),
                "acknowledged_at": m.acknowledged_at_ms.and_then(|ms| time(ms, tz)),
                // Without a counting evaluation there is nothing to sign off.
                "ack_required": m.ack_required,
                "overdue": m.ack_required && m.acknowledged_at_ms.is_none()
                    && now >= m.acknowledge_due_at_ms,
                "status": month_status(m, now).0.as_str(),
            })
        })
        .collect();
    Ok(axum::Json(
        json!({ "month": month.to_string(), "items": items }),
    ))
}
