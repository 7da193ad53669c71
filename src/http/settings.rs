//! Center settings a supervisor edits: the publication policy (appeal window, the panel's
//! deadline, the acknowledgement deadline, the appeal limit and the working-day calendar)
//! and the queues' service time limits.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::Value;

use super::auth::CurrentUser;
use super::extract::Json;
use crate::app::AppState;
use crate::domain::org::Role;
use crate::domain::publication::Policy;
use crate::domain::queues::QueueLimits;
use crate::error::{AppError, AppResult};
use crate::publication as service;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/publication", get(policy).put(set_policy))
        .route("/settings/queues", get(queues).put(set_queues))
}

/// Everybody signed in may read them: graders are shown the limit of the call they grade.
async fn queues(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
) -> AppResult<axum::Json<Value>> {
    let limits = crate::grading::queue_limits(&state.db).await?;
    Ok(axum::Json(
        serde_json::to_value(limits).map_err(anyhow::Error::from)?,
    ))
}

/// Replaces every queue's limit (a queue left out has none). Only suggestions follow from
/// it: evaluations opened later and earlier alike show the limit now in force.
async fn set_queues(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(limits): Json<QueueLimits>,
) -> AppResult<axum::Json<Value>> {
    if user.role != Role::Supervisor {
        return Err(AppError::forbidden(
            "only supervisors change the queues' time limits",
        ));
    }
    limits
        .validate()
        .map_err(|problems| AppError::problems("invalid_queue_limits", &problems))?;
    let limits = limits.trimmed();
    crate::grading::set_queue_limits(&state.db, &limits, user.id, state.config.clock.now_ms())
        .await?;
    tracing::info!(
        by = user.username,
        queues = limits.queues.len(),
        "queue time limits changed"
    );
    Ok(axum::Json(
        serde_json::to_value(limits).map_err(anyhow::Error::from)?,
    ))
}

/// Everybody signed in may read it: agents are bound by its windows.
async fn policy(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
) -> AppResult<axum::Json<Value>> {
    let p = service::policy(&state.db).await?;
    Ok(axum::Json(
        serde_json::to_value(p).map_err(anyhow::Error::from)?,
    ))
}

/// Takes effect for publications from now on; running windows keep the policy they
/// started with.
async fn set_policy(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Json(p): Json<Policy>,
) -> AppResult<axum::Json<Value>> {
    if user.role != Role::Supervisor {
        return Err(AppError::forbidden(
            "only supervisors change the publication policy",
        ));
    }
    p.validate()
        .map_err(|e| AppError::unprocessable("invalid_policy", e))?;
    service::set_policy(&state.db, &p, user.id, state.config.clock.now_ms()).await?;
    tracing::info!(by = user.username, "publication policy changed");
    Ok(axum::Json(
        serde_json::to_value(p).map_err(anyhow::Error::from)?,
    ))
}
