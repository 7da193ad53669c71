//! Center settings a supervisor edits: the publication policy (appeal window, the panel's
//! deadline, the acknowledgement deadline, the appeal limit and the working-day calendar).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::Value;

use super::auth::CurrentUser;
use super::extract::Json;
use crate::app::AppState;
use crate::domain::org::Role;
use crate::domain::publication::Policy;
use crate::error::{AppError, AppResult};
use crate::publication as service;

pub fn router() -> Router<AppState> {
    Router::new().route("/settings/publication", get(policy).put(set_policy))
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
