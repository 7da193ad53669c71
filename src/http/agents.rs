//! The agents a caller may see (filters, pickers), and the shape every people picker reads.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use super::auth::CurrentUser;
use crate::app::AppState;
use crate::error::AppResult;
use crate::store::users;

pub fn router() -> Router<AppState> {
    Router::new().route("/agents", get(list))
}

/// People a picker offers: `{ "items": [{username, name, role, team}] }`.
pub fn people_json<'a>(people: impl IntoIterator<Item = &'a users::User>) -> Value {
    let items: Vec<Value> = people
        .into_iter()
        .map(|p| json!({ "username": p.username, "name": p.name, "role": p.role, "team": p.team }))
        .collect();
    json!({ "items": items })
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> AppResult<axum::Json<Value>> {
    let agents = users::list_agents(&state.db, &user.viewer()).await?;
    let items: Vec<Value> = agents
        .iter()
        .map(|a| json!({ "username": a.username, "name": a.name, "team": a.team }))
        .collect();
    Ok(axum::Json(json!({ "items": items })))
}
