//! The rubric: the current version, all versions, and a supervisor's edit (a new version;
//! evaluations keep the version they were opened with).

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
use crate::domain::grading::Rubric;
use crate::domain::org::Role;
use crate::error::{AppError, AppResult};
use crate::grading as service;
use crate::store::grading::{self as store, RubricRow};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/rubrics", get(list).post(create))
        .route("/rubrics/current", get(current))
        .route("/rubrics/{id}", get(detail))
}

fn view(state: &AppState, row: &RubricRow, rubric: &Rubric) -> Value {
    json!({
        "id": row.id,
        "version": row.version,
        "created_by": row.created_by,
        "created_at": time(row.created_at_ms, state.config.time_zone),
        "rubric": rubric,
    })
}

/// Everybody signed in may read the rubric: agents are graded by it.
async fn current(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
) -> AppResult<axum::Json<Value>> {
    let (row, rubric) = service::current_rubric(&state.db, state.config.clock.now_ms()).await?;
    Ok(axum::Json(view(&state, &row, &rubric)))
}

async fn detail(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Value>> {
    let row = store::get_rubric(&state.db, id)
        .await?
        .ok_or_else(|| AppError::not_found("rubric"))?;
    let rubric = service::parse_rubric(&row)?;
    Ok(axum::Json(view(&state, &row, &rubric)))
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
) -> AppResult<axum::Json<Value>> {
    // Make sure version 1 exists before listing.
    service::current_rubric(&state.db, state.config.clock.now_ms()).await?;
    let items: Vec<Value> = store::list_rubrics(&state.db)
        .await?
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "version": r.version,
                "created_by": r.created_by,
                "created_at": time(r.created_at_ms, state.config.time_zone),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    rubric: Rubric,
}

async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(body): Json<CreateBody>,
) -> AppResult<(StatusCode, axum::Json<Value>)> {
    if user.role != Role::Supervisor {
        return Err(AppError::forbidden("only supervisors edit the rubric"));
    }
    body.rubric
        .validate()
        .map_err(|problems| AppError::problems("invalid_rubric", &problems))?;
    let now = state.config.clock.now_ms();
    // Version 1 (the default) first, so an edit is always a later version.
    service::current_rubric(&state.db, now).await?;
    let spec = serde_json::to_string(&body.rubric).map_err(anyhow::Error::from)?;
    store::insert_rubric(&state.db, &spec, Some(user.id), now, None).await?;
    let (row, rubric) = service::current_rubric(&state.db, now).await?;
    tracing::info!(version = row.version, by = user.username, "rubric edited");
    Ok((StatusCode::CREATED, axum::Json(view(&state, &row, &rubric))))
}
