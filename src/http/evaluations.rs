//! Evaluations: opening one from a queue item, the draft the grader saves as they work,
//! submitting it, and reading and listing them within each person's rights.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::CurrentUser;
use super::extract::{Json, OptionalJson, Path, Query};
use super::time;
use crate::app::AppState;
use crate::domain::audit::EvaluationState;
use crate::domain::grading::{self, Form, Problem};
use crate::domain::month::Month;
use crate::domain::rubric::OVER_TIME_LIMIT;
use crate::error::{AppError, AppResult};
use crate::grading::{self as service, SubmitError};
use crate::store::appeals as appeal_store;
use crate::store::blind;
use crate::store::grading::{self as store, EvaluationRow, ListFilter, SaveError};
use crate::store::publication as months;
use crate::store::sampling as assignments;
use crate::store::users::{self, User};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assignments/{id}/evaluation", post(open))
        .route("/evaluations", get(list))
        .route("/evaluations/{id}", get(detail).put(save))
        .route("/evaluations/{id}/submit", post(submit))
        .route("/evaluations/{id}/revisions", get(revisions).post(revise))
}

/// The evaluation as its pages show it. The live outcome of a draft is what the form scores
/// so far; a submitted one shows what was stored at submission.
pub fn evaluation_view(
    state: &AppState,
    e: &EvaluationRow,
    form: &Form,
    rubric: &grading::Rubric,
) -> Value {
    let tz = state.config.time_zone;
    let outcome = grading::outcome(rubric, form);
    // What still stands between the draft and a submission (listening aside).
    let problems = if e.submitted() {
        Vec::new()
    } else {
        grading::check_submit(rubric, form, e.duration_ms)
            .err()
            .unwrap_or_default()
    };
    json!({
        "id": e.id,
        "assignment_id": e.assignment_id,
        "kind": e.assignment_kind.as_deref().unwrap_or("calibration"),
        "plan_name": e.plan_name,
        "counts": e.counts,
        "calibration_id": e.calibration_id,
        "recording_id": e.recording_id,
        "call_id": e.call_id,
        "started_at": time(e.started_at_ms, tz),
        "duration_ms": e.duration_ms,
        "agent": { "username": e.agent, "name": e.agent_name, "team": e.team },
        "grader": { "username": e.grader, "name": e.grader_name },
        "rubric_id": e.rubric_id,
        "status": e.status,
        "form": form,
        "outcome": if e.submitted() {
            json!({
                "score": e.score,
                "grade": e.grade,
                "computed_grade": e.computed_grade,
                "overridden": e.grade != e.computed_grade,
                "critical": outcome.critical,
                "deducted": outcome.deducted,
                // The rubric version is the evaluation's own, so these are what they
                // were at submission.
                "band_grade": outcome.band_grade,
                "ceilings": outcome.ceilings,
                "capped_by": outcome.capped_by,
            })
        } else {
            serde_json::to_value(&outcome).unwrap_or(Value::Null)
        },
        "override_reason": e.override_reason,
        "problems": problems,
        "revision": e.revision,
        "created_at": time(e.created_at_ms, tz),
        "updated_at": time(e.updated_at_ms, tz),
        "submitted_at": e.submitted_at_ms.and_then(|ms| time(ms, tz)),
    })
}

async fn published(state: &AppState, e: &EvaluationRow) -> AppResult<bool> {
    Ok(store::published_for_agent(&state.db, e.agent_id, e.started_at_ms).await?)
}

/// The evaluation if the caller may read it; 404 otherwise (its existence is not told, nor
/// is another's work on a call the caller grades blind).
pub(super) async fn readable(state: &AppState, user: &User, id: i64) -> AppResult<EvaluationRow> {
    let e = store::get_evaluation(&state.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("evaluation"))?;
    let published = user.role == crate::domain::org::Role::Agent && published(state, &e).await?;
    let blind =
        e.grader_id != user.id && blind::is_blind(&state.db, user.id, e.recording_id).await?;
    if service::may_read(&user.viewer(), &e, published, blind) {
        Ok(e)
    } else {
        Err(AppError::not_found("evaluation"))
    }
}

/// The evaluation if the caller is its grader (only they write it).
async fn own(state: &AppState, user: &User, id: i64) -> AppResult<EvaluationRow> {
    let e = readable(state, user, id).await?;
    if e.grader_id != user.id {
        return Err(AppError::forbidden(
            "only the evaluation's grader can change it",
        ));
    }
    Ok(e)
}

/// The evaluation's full view for `user`, with what publication adds: the month, the
/// agent's appeal window, the appeals and how many revisions it has.
pub(super) async fn full_view(
    state: &AppState,
    user: &User,
    e: &EvaluationRow,
) -> AppResult<Value> {
    let heard = if e.grader_id == user.id {
        Some(service::listened(&state.db, e, state.config.listen_required).await?)
    } else {
        None
    };
    let rubric = state.rubrics.get(&state.db, e.rubric_id).await?;
    let mut view = view_with(state, e, &rubric, heard.as_ref())?;
    add_time_limit(state, e, &rubric, &mut view).await?;
    add_publication(state, e, &mut view).await?;
    Ok(view)
}

/// The call's queue and its service time limit, if the supervisor set one: whether the
/// call ran over it and, if so, the rubric's over-time-limit item for the form to suggest
/// (the grader confirms it by deducting it; nothing is deducted here).
async fn add_time_limit(
    state: &AppState,
    e: &EvaluationRow,
    rubric: &grading::Rubric,
    view: &mut Value,
) -> AppResult<()> {
    let limits = service::queue_limits(&state.db).await?;
    let limit = limits.time_limit(&e.queue, e.duration_ms);
    view["queue"] = json!(e.queue);
    view["time_limit"] = match limit {
        Some(l) => {
            let suggest =
                (l.exceeded && rubric.item(OVER_TIME_LIMIT).is_some()).then_some(OVER_TIME_LIMIT);
            json!({
                "queue": l.queue,
                "limit_seconds": l.limit_seconds,
                "exceeded": l.exceeded,
                "over_ms": l.over_ms,
                "suggested_item": suggest,
            })
        }
        None => Value::Null,
    };
    Ok(())
}

async fn add_publication(state: &AppState, e: &EvaluationRow, view: &mut Value) -> AppResult<()> {
    let tz = state.config.time_zone;
    let now = state.config.clock.now_ms();
    view["month"] = json!(service::month_of(e.started_at_ms, tz));
    view["rubric_version"] = json!(
        store::get_rubric(&state.db, e.rubric_id)
            .await?
            .map(|r| r.version)
    );
    view["regrade_for"] = json!(e.regrade_for);
    if !e.submitted() || e.calibration_id.is_some() || e.regrade_for.is_some() {
        return Ok(());
    }
    let month = months::agent_month_of_call(&state.db, e.agent_id, e.started_at_ms).await?;
    view["appeal_window"] = match &month {
        Some(m) => json!({
            "closes_at": time(m.appeal_closes_at_ms, tz),
            "open": crate::domain::publication::appeal_open(now, m.appeal_closes_at_ms),
            "status": crate::appeals::month_status(m, now).0.as_str(),
        }),
        None => Value::Null,
    };
    let appeals = appeal_store::of_evaluation(&state.db, e.id).await?;
    view["appeals"] = json!(
        appeals
            .iter()
            .map(|a| super::appeals::appeal_view(state, a, now))
            .collect::<Vec<_>>()
    );
    view["revisions_count"] = json!(appeal_store::revisions(&state.db, e.id).await?.len());
    Ok(())
}

/// The evaluation's view; `heard` (the grader's listening) only for the grader.
fn view_with(
    state: &AppState,
    e: &EvaluationRow,
    rubric: &grading::Rubric,
    heard: Option<&service::Listened>,
) -> AppResult<Value> {
    let form = service::form_of(e)?;
    let mut view = evaluation_view(state, e, &form, rubric);
    if let Some(heard) = heard {
        view["listened"] = json!({
            "listened_ms": heard.listened_ms,
            "duration_ms": heard.duration_ms,
            "share": heard.share,
            "required_share": heard.required,
            "enough": heard.enough(),
        });
    }
    Ok(view)
}

/// Opens (creating on first use) the evaluation of one of the caller's queue items.
async fn open(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(assignment_id): Path<i64>,
) -> AppResult<axum::Json<Value>> {
    let a = assignments::get_assignment(&state.db, assignment_id)
        .await?
        .filter(|a| a.grader.as_deref() == Some(user.username.as_str()))
        .ok_or_else(|| AppError::not_found("assignment"))?;
    if a.closed_by_publication().is_some() {
        return Err(super::assignments::month_published_error());
    }
    let now = state.config.clock.now_ms();
    let (rubric, _) = service::current_rubric(&state.db, now).await?;
    let id = store::open_for_assignment(&state.db, a.id, rubric.id, now).await?;
    let e = own(&state, &user, id).await?;
    Ok(axum::Json(full_view(&state, &user, &e).await?))
}

async fn detail(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Value>> {
    let e = readable(&state, &user, id).await?;
    Ok(axum::Json(full_view(&state, &user, &e).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SaveBody {
    form: Form,
    /// The revision the client last saw; a save over a newer one is refused (409).
    revision: Option<i64>,
}

fn problems_error(problems: &[Problem]) -> AppError {
    AppError::problems("invalid_evaluation", problems)
}

fn save_error(e: SaveError) -> AppError {
    match e {
        SaveError::NotDraft => AppError::new(
            StatusCode::CONFLICT,
            "already_submitted",
            "this evaluation is submitted; it can no longer be edited as a draft",
        ),
        SaveError::Stale { current } => AppError::new(
            StatusCode::CONFLICT,
            "stale_revision",
            format!(
                "the draft was saved elsewhere meanwhile (now revision {current}); reload it before saving"
            ),
        ),
        SaveError::MonthPublished => super::assignments::month_published_error(),
        SaveError::Db(e) => e.into(),
    }
}

/// Refuses work on an agent's result once its month is published for them.
async fn check_month_open(state: &AppState, e: &EvaluationRow) -> AppResult<()> {
    if service::is_result(e) && published(state, e).await? {
        return Err(save_error(SaveError::MonthPublished));
    }
    Ok(())
}

/// Saves the draft as the grader works. Structural mistakes are refused; incomplete work
/// (a deduction without its time yet) is kept and listed in `problems`.
async fn save(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(body): Json<SaveBody>,
) -> AppResult<axum::Json<Value>> {
    let e = own(&state, &user, id).await?;
    if e.submitted() {
        return Err(save_error(SaveError::NotDraft));
    }
    check_month_open(&state, &e).await?;
    let rubric = state.rubrics.get(&state.db, e.rubric_id).await?;
    let form = service::incoming_form(&e, body.form)?;
    let problems = grading::check_draft(&rubric, &form, e.duration_ms);
    if !problems.is_empty() {
        return Err(problems_error(&problems));
    }
    let form = serde_json::to_string(&form).map_err(anyhow::Error::from)?;
    let now = state.config.clock.now_ms();
    store::save_draft(&state.db, id, &form, body.revision, now)
        .await
        .map_err(save_error)?;
    let e = own(&state, &user, id).await?;
    Ok(axum::Json(full_view(&state, &user, &e).await?))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    /// The form to submit; without it, the saved draft.
    form: Option<Form>,
    revision: Option<i64>,
}

async fn submit(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    // An empty body submits the saved draft.
    OptionalJson(body): OptionalJson<SubmitBody>,
) -> AppResult<axum::Json<Value>> {
    let e = own(&state, &user, id).await?;
    if e.submitted() {
        return Err(save_error(SaveError::NotDraft));
    }
    let form = match body.form {
        Some(form) => service::incoming_form(&e, form)?,
        None => service::form_of(&e)?,
    };
    let rubric = state.rubrics.get(&state.db, e.rubric_id).await?;
    let (stored, outcome, heard) = service::submit(
        &state.db,
        &state.config,
        &e,
        &rubric,
        &form,
        body.revision,
        state.config.clock.now_ms(),
    )
    .await
    .map_err(|err| match err {
        SubmitError::NotListened(heard) => {
            AppError::unprocessable("not_listened", heard.missing_message())
        }
        SubmitError::Invalid(problems) => problems_error(&problems),
        SubmitError::Save(e) => save_error(e),
        SubmitError::Internal(e) => AppError::Internal(e),
    })?;
    tracing::info!(
        evaluation = id,
        call_id = e.call_id,
        grader = user.username,
        score = outcome.score,
        grade = outcome.grade.as_str(),
        "evaluation submitted"
    );
    let mut view = view_with(&state, &stored, &rubric, Some(&heard))?;
    add_time_limit(&state, &stored, &rubric, &mut view).await?;
    Ok(axum::Json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    agent: Option<String>,
    grader: Option<String>,
    status: Option<String>,
    month: Option<String>,
    limit: Option<i64>,
}

/// Evaluations the caller may see: graders their own work, leads their team's submitted
/// ones, agents their own of published months, supervisors and the panel the center's.
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(q): Query<ListQuery>,
) -> AppResult<axum::Json<Value>> {
    let tz = state.config.time_zone;
    let mut filter = ListFilter {
        limit: super::extract::limit(q.limit, 200, 1000)?,
        ..ListFilter::default()
    };
    if let Some(status) = q.status.as_deref().filter(|s| !s.is_empty()) {
        if !matches!(status, "draft" | "submitted") {
            return Err(AppError::bad_request(
                "invalid_query",
                "status is draft or submitted",
            ));
        }
        filter.status = Some(status.to_string());
    }
    if let Some(month) = q.month.as_deref().filter(|m| !m.is_empty()) {
        let month: Month = month
            .parse()
            .map_err(|e: String| AppError::bad_request("invalid_query", e))?;
        filter.started = Some(month.range_ms(tz));
    }
    for (name, slot) in [
        (&q.agent, &mut filter.agent_id),
        (&q.grader, &mut filter.grader_id),
    ] {
        if let Some(username) = name.as_deref().filter(|n| !n.is_empty()) {
            // An unknown name simply matches nothing.
            *slot = Some(
                users::find_active(&state.db, username)
                    .await?
                    .map_or(0, |u| u.id),
            );
        }
    }
    let rows = store::list(&state.db, &user.viewer(), &filter).await?;
    let viewer = user.viewer();
    let blind_calls = blind::recordings(&state.db, user.id).await?;
    let mut items = Vec::new();
    for e in rows {
        let month = service::month_of(e.started_at_ms, tz);
        // The store applied the agents' publication rule and the blind tasks already.
        let blind = blind_calls.contains(&e.recording_id);
        if !service::may_read(&viewer, &e, true, blind) {
            continue;
        }
        items.push(json!({
            "id": e.id,
            "assignment_id": e.assignment_id,
            "kind": e.assignment_kind,
            "plan_name": e.plan_name,
            "recording_id": e.recording_id,
            "call_id": e.call_id,
            "started_at": time(e.started_at_ms, tz),
            "month": month,
            "agent": { "username": e.agent, "name": e.agent_name, "team": e.team },
            "grader": { "username": e.grader, "name": e.grader_name },
            "status": e.status,
            "score": e.score,
            "grade": e.grade,
            "submitted_at": e.submitted_at_ms.and_then(|ms| time(ms, tz)),
        }));
    }
    Ok(axum::Json(json!({ "items": items })))
}

/// The evaluation's audit trail: everyone who may read the evaluation may read how it came
/// to be what it is.
async fn revisions(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Value>> {
    let e = readable(&state, &user, id).await?;
    let tz = state.config.time_zone;
    let rows = appeal_store::revisions(&state.db, e.id).await?;
    // States with their deduction ids (derived for those stored before ids existed), so
    // the trail names deductions as the evaluation and its appeals do.
    let parse = |text: &str| {
        serde_json::from_str::<EvaluationState>(text)
            .map(EvaluationState::normalized)
            .ok()
            .and_then(|s| serde_json::to_value(s).ok())
            .or_else(|| serde_json::from_str::<Value>(text).ok())
            .unwrap_or(Value::Null)
    };
    let items: Vec<Value> = rows
        .iter()
        .map(|v| {
            json!({
                "seq": v.seq,
                "kind": v.kind,
                "post_lock": v.post_lock,
                "appeal_id": v.appeal_id,
                "by": { "username": v.actor, "name": v.actor_name },
                "at": time(v.at_ms, tz),
                "reason": v.reason,
                "old": v.old_value.as_deref().map(parse),
                "new": parse(&v.new_value),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "evaluation_id": e.id, "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviseBody {
    reason: String,
    grade: Option<grading::Grade>,
    deductions: Option<Vec<grading::Deduction>>,
}

/// A supervisor's change of a submitted evaluation: an override before the month is
/// locked, a post-lock correction after. Nobody else edits a submitted evaluation (the
/// panel changes one only by deciding an appeal).
async fn revise(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(body): Json<ReviseBody>,
) -> AppResult<axum::Json<Value>> {
    if user.role != crate::domain::org::Role::Supervisor {
        return Err(AppError::forbidden(
            "only a supervisor revises a submitted evaluation (the panel decides appeals)",
        ));
    }
    let e = readable(&state, &user, id).await?;
    let rubric = state.rubrics.get(&state.db, e.rubric_id).await?;
    let change = crate::domain::audit::Change {
        grade: body.grade,
        deductions: body.deductions,
        reason: body.reason,
    };
    let now = state.config.clock.now_ms();
    let kind =
        crate::appeals::correct(&state.db, &state.config, &e, &rubric, &change, user.id, now)
            .await?;
    tracing::info!(
        evaluation = id,
        kind = kind.as_str(),
        by = user.username,
        "evaluation revised"
    );
    // The change asked for its month's scores in its own transaction; compute them now.
    crate::scoring::run_jobs_now(&state.db, &state.config.clock).await;
    let e = readable(&state, &user, id).await?;
    Ok(axum::Json(full_view(&state, &user, &e).await?))
}
