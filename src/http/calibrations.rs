//! Calibration: a supervisor has several graders (and optionally an expert, the reference)
//! grade one call blind; the report shows how far apart they were, and agreement over all
//! sessions is measured per grader group (Krippendorff's alpha on the ordinal grades).

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::CurrentUser;
use super::extract::{Json, Path};
use super::time;
use crate::app::AppState;
use crate::domain::grading::{self, Grade, Grading};
use crate::domain::org::Role;
use crate::error::{AppError, AppResult};
use crate::grading as service;
use crate::store::blind;
use crate::store::calibration::{self as store, NewSession, SessionRow};
use crate::store::grading::EvaluationRow;
use crate::store::recordings;
use crate::store::users::{self, User};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/calibrations", get(list).post(create))
        .route("/calibrations/agreement", get(agreement))
        .route("/calibrations/graders", get(graders))
        .route("/calibrations/{id}", get(detail))
        .route("/calibrations/{id}/report", get(report))
}

fn require_supervisor(user: &User) -> AppResult<()> {
    if user.role == Role::Supervisor {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only supervisors run calibration sessions",
        ))
    }
}

fn session_view(state: &AppState, s: &SessionRow) -> Value {
    json!({
        "id": s.id,
        "title": s.title,
        "recording_id": s.recording_id,
        "call_id": s.call_id,
        "rubric_id": s.rubric_id,
        "expert": s.expert,
        "created_by": s.created_by,
        "created_at": time(s.created_at_ms, state.config.time_zone),
        "participants": s.participants,
        "submitted": s.submitted,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    title: String,
    recording_id: Option<i64>,
    call_id: Option<String>,
    /// Usernames of the graders (QA inspectors, team leads, supervisors).
    graders: Vec<String>,
    /// Username of the expert whose grading is the reference (also grades).
    expert: Option<String>,
}

/// Who a supervisor may put in a calibration session: QA inspectors, team leads and
/// supervisors.
async fn graders(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<axum::Json<Value>> {
    require_supervisor(&user)?;
    let people = users::list_with_roles(
        &state.db,
        &[Role::Inspector, Role::TeamLead, Role::Supervisor],
    )
    .await?;
    Ok(axum::Json(super::agents::people_json(&people)))
}

async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(body): Json<CreateBody>,
) -> AppResult<(StatusCode, axum::Json<Value>)> {
    require_supervisor(&user)?;
    let invalid =
        |en: String, zh: String| AppError::unprocessable("invalid_calibration", en).zh(zh);
    let title = body.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(invalid(
            "a title (1 to 200 characters) is required".into(),
            "请填写标题（1 到 200 个字符）".into(),
        ));
    }
    let recording = match (body.recording_id, body.call_id.as_deref().map(str::trim)) {
        (Some(id), None) => recordings::get_visible(&state.db, &user.viewer(), id).await?,
        (None, Some(call_id)) if !call_id.is_empty() => {
            recordings::get_by_call_id(&state.db, call_id).await?
        }
        _ => {
            return Err(invalid(
                "give exactly one of recording_id or call_id".into(),
                "请只给出一通电话".into(),
            ));
        }
    }
    .ok_or_else(|| AppError::not_found("recording"))?;

    let mut names: Vec<&str> = body.graders.iter().map(|g| g.trim()).collect();
    let expert_name = body
        .expert
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    names.extend(expert_name);
    names.sort_unstable();
    names.dedup();
    if names.len() < 2 || names.len() > 50 {
        return Err(invalid(
            "a session needs 2 to 50 graders".into(),
            "一次校准需要 2 到 50 名评分人".into(),
        ));
    }
    let mut graders = Vec::new();
    let mut expert_id = None;
    for name in names {
        let grader = users::find_active(&state.db, name).await?.ok_or_else(|| {
            invalid(
                format!("no active user {name:?}"),
                format!("没有在职用户“{name}”"),
            )
        })?;
        if !matches!(
            grader.role,
            Role::Inspector | Role::TeamLead | Role::Supervisor
        ) {
            return Err(invalid(
                format!(
                    "{name} cannot grade: graders are QA inspectors, team leads or supervisors"
                ),
                format!("{} 不能参与评分：评分人须为质检员、班长或主管", grader.name),
            ));
        }
        if Some(name) == expert_name {
            expert_id = Some(grader.id);
        }
        graders.push(grader.id);
    }
    let now = state.config.clock.now_ms();
    let (rubric, _) = service::current_rubric(&state.db, now).await?;
    let id = store::create(
        &state.db,
        &NewSession {
            title,
            recording_id: recording.id,
            agent_id: recording.agent_id,
            rubric_id: rubric.id,
            expert_id,
            graders: &graders,
            created_by: user.id,
            now_ms: now,
        },
    )
    .await?;
    let s = store::get(&state.db, id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("new session vanished")))?;
    Ok((StatusCode::CREATED, axum::Json(session_view(&state, &s))))
}

/// Supervisors see every session; graders the sessions they take part in.
async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<axum::Json<Value>> {
    let participant = (user.role != Role::Supervisor).then_some(user.id);
    let items: Vec<Value> = store::list(&state.db, participant)
        .await?
        .iter()
        .map(|s| session_view(&state, s))
        .collect();
    Ok(axum::Json(json!({ "items": items })))
}

/// The session with its gradings, and whether the caller may see the others' gradings yet:
/// a participant once their own is submitted, a supervisor who does not grade in it unless
/// they grade the same call blind elsewhere (another session, a re-grade).
async fn session_for(
    state: &AppState,
    user: &User,
    id: i64,
) -> AppResult<(SessionRow, Vec<EvaluationRow>, bool)> {
    let s = store::get(&state.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("calibration session"))?;
    let gradings = store::evaluations(&state.db, id).await?;
    let mine = gradings.iter().find(|e| e.grader_id == user.id);
    if mine.is_none() && user.role != Role::Supervisor {
        return Err(AppError::not_found("calibration session"));
    }
    let revealed = match mine {
        Some(e) => e.submitted(),
        None => !blind::is_blind(&state.db, user.id, s.recording_id).await?,
    };
    Ok((s, gradings, revealed))
}

async fn detail(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Value>> {
    let (s, gradings, revealed) = session_for(&state, &user, id).await?;
    let participants: Vec<Value> = gradings
        .iter()
        .map(|e| {
            let own = e.grader_id == user.id;
            let shown = own || (revealed && e.submitted());
            json!({
                "username": e.grader,
                "name": e.grader_name,
                "expert": Some(e.grader_id) == s.expert_id,
                "status": e.status,
                "evaluation_id": own.then_some(e.id),
                "score": if shown { json!(e.score) } else { Value::Null },
                "grade": if shown { json!(e.grade) } else { Value::Null },
            })
        })
        .collect();
    let mut v = session_view(&state, &s);
    v["revealed"] = json!(revealed);
    v["my_evaluation_id"] = json!(
        gradings
            .iter()
            .find(|e| e.grader_id == user.id)
            .map(|e| e.id)
    );
    v["gradings"] = json!(participants);
    Ok(axum::Json(v))
}

fn grading_of(e: &EvaluationRow, expert_id: Option<i64>) -> anyhow::Result<Option<Grading>> {
    let (Some(score), Some(grade)) = (e.score, e.grade.as_deref().and_then(Grade::parse)) else {
        return Ok(None);
    };
    let form = service::form_of(e)?;
    Ok(Some(Grading {
        grader_id: e.grader_id,
        expert: Some(e.grader_id) == expert_id,
        score: u32::try_from(score).unwrap_or(0),
        grade,
        items: form
            .deductions
            .iter()
            .map(|d| (d.item.clone(), d.occurrences))
            .collect(),
    }))
}

async fn report(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Value>> {
    let (s, gradings, revealed) = session_for(&state, &user, id).await?;
    if !revealed {
        return Err(AppError::forbidden(
            "submit your own grading first: calibration is blind until then",
        ));
    }
    let mut submitted = Vec::new();
    let mut names = BTreeMap::new();
    for e in gradings.iter().filter(|e| e.submitted()) {
        if let Some(g) = grading_of(e, s.expert_id)? {
            names.insert(e.grader_id, e.grader.clone());
            submitted.push((g, service::form_of(e)?));
        }
    }
    let plain: Vec<Grading> = submitted.iter().map(|(g, _)| g.clone()).collect();
    let summary = grading::session_report(&plain);
    let deviations: Vec<Value> = summary
        .as_ref()
        .map(|r| {
            r.deviations
                .iter()
                .map(|d| {
                    let mut v = json!(d);
                    v["grader"] = json!(names.get(&d.grader_id));
                    v
                })
                .collect()
        })
        .unwrap_or_default();
    let each: Vec<Value> = submitted
        .iter()
        .map(|(g, form)| {
            json!({
                "grader": names.get(&g.grader_id),
                "expert": g.expert,
                "score": g.score,
                "grade": g.grade,
                "deductions": form.deductions,
                "not_applicable": form.not_applicable,
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "session": session_view(&state, &s),
        "summary": summary,
        "deviations": deviations,
        "gradings": each,
    })))
}

/// Krippendorff's alpha (ordinal) over all calibration sessions, per grader group:
/// (group, sessions with at least two gradings, gradings, alpha).
pub async fn agreement_groups(
    db: &crate::store::Db,
) -> anyhow::Result<Vec<(&'static str, usize, usize, Option<f64>)>> {
    let rows = store::all_grades(db).await?;
    let groups = [
        ("all", None),
        ("inspectors", Some("inspector")),
        ("team_leads", Some("team_lead")),
    ];
    let mut out = Vec::new();
    for (group, role) in groups {
        let mut units: BTreeMap<i64, Vec<Grade>> = BTreeMap::new();
        for (session, grader_role, _expert, grade) in &rows {
            if role.is_some_and(|r| r != grader_role) {
                continue;
            }
            if let Some(g) = Grade::parse(grade) {
                units.entry(*session).or_default().push(g);
            }
        }
        let units: Vec<Vec<Grade>> = units.into_values().filter(|u| u.len() >= 2).collect();
        let gradings: usize = units.iter().map(Vec::len).sum();
        out.push((
            group,
            units.len(),
            gradings,
            grading::krippendorff_alpha_ordinal(&units),
        ));
    }
    Ok(out)
}

/// Krippendorff's alpha (ordinal) over every session, for all graders and per role: how far
/// grading in the center can be trusted to mean the same thing whoever grades.
async fn agreement(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<axum::Json<Value>> {
    require_supervisor(&user)?;
    let out: Vec<Value> = agreement_groups(&state.db)
        .await?
        .into_iter()
        .map(|(group, sessions, gradings, alpha)| {
            json!({ "group": group, "sessions": sessions, "gradings": gradings, "alpha": alpha })
        })
        .collect();
    Ok(axum::Json(
        json!({ "statistic": "krippendorff_alpha_ordinal", "groups": out }),
    ))
}
