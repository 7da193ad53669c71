//! Sampling plans: create (one or the two defaults), preview, list, draw, samples, progress
//! and the proof anyone can check the draw with.

use std::collections::HashMap;

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
use crate::domain::month::Month;
use crate::domain::org::Role;
use crate::domain::sampling::{self, PlanSpec, Stratum};
use crate::error::{AppError, AppResult};
use crate::sampling::{self as draw, PlanError};
use crate::store::sampling::{self as store, PlanRow, StratumRow};
use crate::store::users::User;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/plans", get(list).post(create))
        .route("/plans/defaults", post(create_defaults))
        .route("/plans/preview", post(preview))
        .route("/plans/{id}", get(detail))
        .route("/plans/{id}/draw", post(run_draw))
        .route("/plans/{id}/samples", get(samples))
        .route("/plans/{id}/progress", get(progress))
        .route("/plans/{id}/proof", get(proof))
}

fn require_supervisor(user: &User) -> AppResult<()> {
    if user.role == Role::Supervisor {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only supervisors manage sampling plans",
        ))
    }
}

/// Plans are staff business: agents learn about samples through their results (and the
/// proof, once the month is published).
fn require_staff(user: &User) -> AppResult<()> {
    if user.role == Role::Agent {
        Err(AppError::forbidden(
            "sampling plans are not shown to agents",
        ))
    } else {
        Ok(())
    }
}

fn plan_error(e: PlanError) -> AppError {
    match e {
        PlanError::Invalid(m) => AppError::unprocessable("invalid_plan", m.en).zh(m.zh),
        PlanError::Exists => AppError::new(
            StatusCode::CONFLICT,
            "plan_exists",
            "a plan with this name already exists for the month",
        ),
        PlanError::Internal(e) => AppError::Internal(e),
    }
}

fn stratum_view(st: &Stratum, tz: chrono_tz::Tz) -> Value {
    json!({
        "index": st.index,
        "start": time(st.start_ms, tz),
        "end": time(st.end_ms, tz),
        "deadline": time(st.deadline_ms, tz),
        "days": st.days,
    })
}

pub fn plan_view(p: &PlanRow, strata: &[StratumRow], tz: chrono_tz::Tz) -> Value {
    let s = &p.spec;
    let strata: Vec<Value> = strata
        .iter()
        .map(|r| {
            let mut v = stratum_view(&r.stratum, tz);
            v["frozen"] = json!(r.frozen_at_ms.is_some());
            v["frozen_at"] = json!(r.frozen_at_ms.map(|t| time(t, tz)));
            v["eligible_count"] = json!(r.eligible_count);
            v["eligible_digest"] = json!(r.eligible_digest);
            v
        })
        .collect();
    json!({
        "id": p.id,
        "name": s.name,
        "month": s.month,
        "time_zone": p.time_zone,
        "per_agent": s.per_agent,
        "graders": s.graders,
        "population": s.population,
        "filters": s.filters,
        "focus": s.focus,
        "grace_hours": s.grace_hours,
        "grading_days": s.grading_days,
        "counts": s.counts(),
        "seed_hash": p.seed_hash,
        // The commitment is public from the start; the seed only once the month's results
        // are published, so nobody can steer the draw but anyone can check it afterwards.
        "seed": p.published_at_ms.map(|_| &p.seed),
        "published": p.published_at_ms.is_some(),
        "created_at": time(p.created_at_ms, tz),
        "created_by": p.created_by,
        "last_drawn_at": p.last_drawn_at_ms.map(|t| time(t, tz)),
        "strata": strata,
    })
}

async fn load_plan(state: &AppState, id: i64) -> AppResult<(PlanRow, Vec<StratumRow>)> {
    let plan = store::get_plan(&state.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("sampling plan"))?;
    let strata = store::strata(&state.db, id).await?;
    Ok((plan, strata))
}

/// The plan as `viewer` may know it. Its seed lets anyone who sees an agent's calls work out
/// that agent's sample, so it is revealed to a viewer only once the month is published for
/// every agent of the plan they can see (an agent: their own month); a first publication of
/// some teams reveals nothing about the others.
async fn as_seen_by(state: &AppState, viewer: &User, mut plan: PlanRow) -> AppResult<PlanRow> {
    if plan.published_at_ms.is_some() {
        let v = viewer.viewer();
        let hidden = store::unpublished_plan_agents(&state.db, plan.id, &plan.spec.month)
            .await?
            .iter()
            .any(|&(agent, team)| v.can_see_agent(agent, team));
        if hidden {
            plan.published_at_ms = None;
        }
    }
    Ok(plan)
}

async fn view_of(state: &AppState, viewer: &User, id: i64) -> AppResult<Value> {
    let (plan, strata) = load_plan(state, id).await?;
    let plan = as_seen_by(state, viewer, plan).await?;
    Ok(plan_view(&plan, &strata, state.config.time_zone))
}

async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(spec): Json<PlanSpec>,
) -> AppResult<(StatusCode, axum::Json<Value>)> {
    require_supervisor(&user)?;
    let now = state.config.clock.now_ms();
    let id = draw::create_plan(&state.db, &spec, state.config.time_zone, user.id, now)
        .await
        .map_err(plan_error)?;
    first_draw(&state, id, now).await;
    Ok((
        StatusCode::CREATED,
        axum::Json(view_of(&state, &user, id).await?),
    ))
}

/// A new plan is drawn at once (so its preview of picks is there); a failure is only
/// logged, since the background task will draw it again.
async fn first_draw(state: &AppState, id: i64, now: i64) {
    if let Err(e) = draw::draw(&state.db, id, now).await {
        tracing::error!(plan = id, error = format!("{e:#}"), "first draw failed");
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultsBody {
    month: String,
}

async fn create_defaults(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(body): Json<DefaultsBody>,
) -> AppResult<(StatusCode, axum::Json<Value>)> {
    require_supervisor(&user)?;
    let month: Month = body
        .month
        .parse()
        .map_err(|e: String| AppError::unprocessable("invalid_plan", e))?;
    let now = state.config.clock.now_ms();
    let ids = draw::create_default_plans(&state.db, month, state.config.time_zone, user.id, now)
        .await
        .map_err(plan_error)?;
    let mut plans = Vec::new();
    for id in ids {
        first_draw(&state, id, now).await;
        plans.push(view_of(&state, &user, id).await?);
    }
    Ok((StatusCode::CREATED, axum::Json(json!({ "plans": plans }))))
}

async fn preview(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(spec): Json<PlanSpec>,
) -> AppResult<axum::Json<Value>> {
    require_supervisor(&user)?;
    let tz = state.config.time_zone;
    let (strata, agents) = draw::preview(&state.db, &spec, tz, state.config.clock.now_ms())
        .await
        .map_err(plan_error)?;
    let sum = |f: &dyn Fn(&draw::PreviewAgent) -> u32| agents.iter().map(f).sum::<u32>();
    let totals = json!({
        "agents": agents.len(),
        "target": sum(&|a| a.target),
        "eligible": sum(&|a| a.eligible.iter().sum()),
        "shortfall": sum(&|a| a.total_shortfall),
    });
    Ok(axum::Json(json!({
        "strata": strata.iter().map(|s| stratum_view(s, tz)).collect::<Vec<_>>(),
        "agents": agents,
        "totals": totals,
    })))
}

#[derive(Deserialize)]
struct ListQuery {
    month: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(q): Query<ListQuery>,
) -> AppResult<axum::Json<Value>> {
    require_staff(&user)?;
    let month = match q.month.as_deref() {
        Some(m) => Some(
            m.parse::<Month>()
                .map_err(|e| AppError::bad_request("invalid_query", e))?
                .to_string(),
        ),
        None => None,
    };
    let plans = store::list_plans(&state.db, month.as_deref()).await?;
    // For one month: whether "create the two default plans" has been used (or a plan took
    // one of their names), so the page offers it only while it can succeed.
    let defaults_created = month.is_some().then(|| {
        plans.iter().any(|p| {
            [sampling::QA_PLAN_NAME, sampling::LEAD_PLAN_NAME].contains(&p.spec.name.as_str())
        })
    });
    let mut out = Vec::with_capacity(plans.len());
    for p in plans {
        let strata = store::strata(&state.db, p.id).await?;
        let p = as_seen_by(&state, &user, p).await?;
        out.push(plan_view(&p, &strata, state.config.time_zone));
    }
    let mut body = json!({ "plans": out });
    if let Some(created) = defaults_created {
        body["defaults_created"] = json!(created);
    }
    Ok(axum::Json(body))
}

async fn detail(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Value>> {
    require_staff(&user)?;
    Ok(axum::Json(view_of(&state, &user, id).await?))
}

async fn run_draw(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Value>> {
    require_supervisor(&user)?;
    load_plan(&state, id).await?;
    let report = draw::draw(&state.db, id, state.config.clock.now_ms()).await?;
    Ok(axum::Json(json!({
        "plan": view_of(&state, &user, id).await?,
        "report": report,
    })))
}

#[derive(Deserialize)]
struct SamplesQuery {
    agent: Option<String>,
}

async fn samples(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<SamplesQuery>,
) -> AppResult<axum::Json<Value>> {
    require_staff(&user)?;
    let (plan, _) = load_plan(&state, id).await?;
    let tz = state.config.time_zone;
    let viewer = user.viewer();
    let agent = q.agent.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let frozen = store::plan_assignments(&state.db, id, &viewer, agent).await?;
    let provisional = draw::provisional_samples(&state.db, &plan, &viewer, agent).await?;
    let mut items: Vec<Value> = frozen
        .iter()
        .map(|a| {
            json!({
                "assignment_id": a.id,
                "recording_id": a.recording_id,
                "call_id": a.call_id,
                "agent": a.agent,
                "agent_name": a.agent_name,
                "team": a.team,
                "started_at": time(a.started_at_ms, tz),
                "duration_ms": a.duration_ms,
                "stratum": a.stratum,
                "kind": a.kind,
                "provisional": false,
                "key": a.sample_key,
                "grader": a.grader,
                "grader_name": a.grader_name,
                "graded": a.completed_at_ms.is_some(),
                "due_at": time(a.due_at_ms, tz),
            })
        })
        .collect();
    items.extend(provisional.iter().map(|s| {
        let p = &s.view;
        json!({
            "assignment_id": null,
            "recording_id": p.recording_id,
            "call_id": p.call_id,
            "agent": p.agent,
            "agent_name": p.agent_name,
            "team": p.team,
            "started_at": time(p.started_at_ms, tz),
            "duration_ms": p.duration_ms,
            "stratum": p.stratum,
            "kind": "sample",
            "provisional": true,
            "key": s.key,
            "grader": null,
            "grader_name": null,
            "graded": false,
            "due_at": null,
        })
    }));
    Ok(axum::Json(json!({ "samples": items })))
}

async fn progress(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Value>> {
    require_staff(&user)?;
    let (plan, strata) = load_plan(&state, id).await?;
    let plan = as_seen_by(&state, &user, plan).await?;
    let tz = state.config.time_zone;
    let now = state.config.clock.now_ms();
    let viewer = user.viewer();
    let db = &state.db;
    let agents = store::plan_agents(db, id).await?;
    let cells = store::cells(db, id).await?;
    let per_agent = store::agent_progress(db, id, now).await?;
    let mut by_agent: HashMap<i64, Vec<&store::Cell>> = HashMap::new();
    for c in &cells {
        by_agent.entry(c.agent_id).or_default().push(c);
    }
    let days: Vec<u32> = strata.iter().map(|s| s.stratum.days).collect();
    let agent_rows: Vec<Value> = agents
        .iter()
        .filter(|a| viewer.can_see_agent(a.info.id, a.info.team_id))
        .map(|a| {
            let (drawn, graded, overdue, provisional) =
                per_agent.get(&a.info.id).copied().unwrap_or_default();
            let mine = by_agent.get(&a.info.id).cloned().unwrap_or_default();
            let quotas = sampling::quotas(a.target, &days);
            let weeks: Vec<Value> = strata
                .iter()
                .map(|s| {
                    let i = s.stratum.index;
                    match mine.iter().find(|c| c.stratum == i) {
                        Some(c) => json!({
                            "index": i, "quota": c.quota, "carry_in": c.carry_in,
                            "eligible": c.eligible, "taken": c.taken, "filled": c.filled,
                            "shortfall": c.quota.saturating_sub(c.eligible),
                            "late_join": c.late_join, "frozen": true,
                        }),
                        None => json!({
                            "index": i, "quota": quotas[i as usize], "carry_in": null,
                            "eligible": null, "taken": null, "filled": 0,
                            "shortfall": null, "late_join": false, "frozen": false,
                        }),
                    }
                })
                .collect();
            let all_frozen = mine.len() == strata.len() && !strata.is_empty();
            let shortfall = if all_frozen {
                let got: u32 = mine.iter().map(|c| c.taken + c.filled).sum();
                json!(a.target.saturating_sub(got))
            } else {
                Value::Null
            };
            json!({
                "agent": a.info.username,
                "agent_name": a.info.name,
                "team": a.info.team,
                "target": a.target,
                "focus_reason": a.focus_reason,
                "drawn": drawn,
                "provisional": provisional,
                "graded": graded,
                "remaining": drawn - graded,
                "overdue": overdue,
                "shortfall": shortfall,
                "strata": weeks,
                "status": sampling::pace(overdue as u64),
            })
        })
        .collect();
    let graders: Vec<Value> = store::grader_progress(db, id, now)
        .await?
        .into_iter()
        .filter(|(grader, ..)| match user.role {
            // A lead sees their own pace, not their peers'.
            Role::TeamLead => grader.as_deref() == Some(user.username.as_str()),
            _ => grader.is_some(),
        })
        .map(|(grader, name, drawn, graded, overdue)| {
            json!({
                "grader": grader, "grader_name": name, "drawn": drawn, "graded": graded,
                "remaining": drawn - graded, "overdue": overdue,
                "status": sampling::pace(overdue as u64),
            })
        })
        .collect();
    let unassigned = store::grader_progress(db, id, now)
        .await?
        .iter()
        .filter(|(g, ..)| g.is_none())
        .map(|(_, _, drawn, graded, _)| drawn - graded)
        .sum::<i64>();
    let penalties: Vec<store::LeadPenalty> = store::lead_penalties(db, id)
        .await?
        .into_iter()
        .filter(|p| user.role != Role::TeamLead || p.lead == user.username)
        .collect();
    Ok(axum::Json(json!({
        "plan": plan_view(&plan, &strata, tz),
        "graders": graders,
        "agents": agent_rows,
        "unassigned": unassigned,
        "lead_penalties": penalties,
    })))
}

#[derive(Deserialize)]
struct ProofQuery {
    agent: Option<String>,
}

/// Everything needed to re-derive the sample: the commitment and (after publication) the
/// seed, each week's eligible digest, and per agent the cells and picks; with `agent=` also
/// that agent's eligible call ids, week by week in key order.
async fn proof(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Query(q): Query<ProofQuery>,
) -> AppResult<axum::Json<Value>> {
    let (plan, strata) = load_plan(&state, id).await?;
    let plan = as_seen_by(&state, &user, plan).await?;
    // Agents may check their own part, but only once their month is out.
    if user.role == Role::Agent && plan.published_at_ms.is_none() {
        return Err(AppError::not_found("sampling plan"));
    }
    let tz = state.config.time_zone;
    let viewer = user.viewer();
    let db = &state.db;
    let agents = store::plan_agents(db, id).await?;
    let cells = store::cells(db, id).await?;
    let picks = store::frozen_picks(db, id).await?;
    let call_ids = store::call_ids_of_plan(db, id).await?;
    let wanted = q.agent.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let mut out = Vec::new();
    for a in agents
        .iter()
        .filter(|a| viewer.can_see_agent(a.info.id, a.info.team_id))
        .filter(|a| wanted.is_none_or(|w| w == a.info.username))
    {
        let weeks: Vec<Value> = cells
            .iter()
            .filter(|c| c.agent_id == a.info.id)
            .map(|c| {
                let of_kind = |kind: &str| -> Vec<&str> {
                    picks
                        .iter()
                        .filter(|p| {
                            p.agent_id == a.info.id && p.stratum == c.stratum && p.kind == kind
                        })
                        .filter_map(|p| call_ids.get(&p.recording_id).map(String::as_str))
                        .collect()
                };
                json!({
                    "index": c.stratum, "quota": c.quota, "carry_in": c.carry_in,
                    "eligible": c.eligible, "taken": c.taken, "filled": c.filled,
                    "digest": c.digest, "late_join": c.late_join,
                    "sample": of_kind("sample"), "fill": of_kind("fill"),
                })
            })
            .collect();
        let mut entry = json!({
            "agent": a.info.username,
            "target": a.target,
            "focus_reason": a.focus_reason,
            "weeks": weeks,
        });
        if wanted.is_some() {
            let eligible = draw::eligible_call_ids(db, id, a.info.id).await?;
            entry["eligible"] = json!(eligible);
        }
        out.push(entry);
    }
    if wanted.is_some() && out.is_empty() {
        return Err(AppError::not_found("agent in this plan"));
    }
    Ok(axum::Json(json!({
        "plan": plan_view(&plan, &strata, tz),
        "algorithm": "key(call) = HMAC-SHA256(key = seed bytes, message = call_id as UTF-8); \
            seed_hash = SHA-256(seed bytes). Weeks: days 1-7, 8-14, 15-21, 22-end in the plan's \
            time zone; a week's eligible calls are those that started in it, passed the \
            filters and were created before its deadline. Per agent and week, quota = the \
            target split over weeks by days (largest remainder, ties to the longer then \
            earlier week); the quota plus what earlier weeks lacked is taken from the smallest \
            keys; after the last week, what is still missing is filled from the unpicked calls \
            of all weeks, smallest keys first. Agent digest = SHA-256 of 'call_id\\n' in key \
            order; week digest = SHA-256 of 'username agent_digest\\n' over the plan's agents when the week froze, in username order.",
        "seed_hash": plan.seed_hash,
        "seed": plan.published_at_ms.map(|_| &plan.seed),
        "revealed": plan.published_at_ms.is_some(),
        "agents": out,
    })))
}
