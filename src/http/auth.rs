//! Who is calling: the session cookie of a person, or a recorder's bearer token.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use crate::app::AppState;
use crate::error::AppError;
use crate::store::users::User;
use crate::store::{sessions, tokens};

pub const SESSION_COOKIE: &str = "callgrade_session";
/// Over HTTPS the cookie carries the `__Host-` prefix: browsers then accept it only from
/// this exact host over a secure connection, so a neighbouring subdomain cannot plant one.
pub const SECURE_SESSION_COOKIE: &str = "__Host-callgrade_session";

/// The session cookie's name for a deployment (secure: behind HTTPS).
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The value of our session cookie, if the request carries one.
pub fn session_token(headers: &HeaderMap, secure: bool) -> Option<String> {
    let wanted = cookie_name(secure);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

pub fn session_cookie(token: &str, max_age_secs: u64, secure: bool) -> String {
    format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{}",
        cookie_name(secure),
        if secure { "; Secure" } else { "" }
    )
}

pub fn clear_session_cookie(secure: bool) -> String {
    session_cookie("", 0, secure)
}

/// A signed-in person. Rejects with 401 when the session is missing, unknown or ended.
pub struct CurrentUser(pub User);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = session_token(&parts.headers, state.config.secure_cookie)
            .ok_or_else(AppError::unauthenticated)?;
        let user = sessions::lookup(&state.db, &token)
            .await?
            .ok_or_else(AppError::unauthenticated)?;
        Ok(CurrentUser(user))
    }
}

/// Who may push recordings: a recorder's token, or a supervisor's session.
pub struct Uploader {
    /// Recorded with each recording: `token:<name>` or `user:<username>`.
    pub source: String,
    /// Supervisors may see full customer numbers; recorders sent them in the first place.
    pub user: Option<User>,
}

impl FromRequestParts<AppState> for Uploader {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
            let token = auth
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty() && t.len() <= 128)
                .ok_or_else(|| {
                    AppError::new(
                        axum::http::StatusCode::UNAUTHORIZED,
                        "invalid_token",
                        "the Authorization header must be 'Bearer <token>'",
                    )
                })?;
            return match tokens::verify(&state.db, token).await? {
                Some(name) => Ok(Uploader {
                    source: format!("token:{name}"),
                    user: None,
                }),
                None => Err(AppError::new(
                    axum::http::StatusCode::UNAUTHORIZED,
                    "invalid_token",
                    "unknown or revoked API token",
                )),
            };
        }
        let CurrentUser(user) = CurrentUser::from_request_parts(parts, state).await?;
        if !user.viewer().can_upload_recordings() {
            return Err(AppError::forbidden(
                "only supervisors and call recorders (with an API token) may upload recordings",
            ));
        }
        Ok(Uploader {
            source: format!("user:{}", user.username),
            user: Some(user),
        })
    }
}
