//! Recordings: push (multipart), list, detail.

use axum::Router;
use axum::extract::multipart::{Field, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::TimeZone;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest;
use tokio::io::AsyncWriteExt;

use super::auth::{CurrentUser, Uploader};
use super::extract::{Path, Query};
use crate::app::AppState;
use crate::domain::call::{CallMeta, RawCallMeta, mask_customer_number};
use crate::domain::month::Month;
use crate::domain::org::Role;
use crate::error::{AppError, AppResult};
use crate::ingest::Staged;
use crate::store::recordings::{self, ListFilter, Recording};
use crate::store::users;

/// Room for the multipart framing and the metadata part on top of the file itself.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

pub fn router(state: &AppState) -> Router<AppState> {
    let limit = state
        .config
        .max_upload_bytes
        .saturating_add(MULTIPART_OVERHEAD);
    Router::new()
        .route(
            "/recordings",
            get(list).post(upload).layer(DefaultBodyLimit::max(
                usize::try_from(limit).unwrap_or(usize::MAX),
            )),
        )
        .route("/recordings/{id}", get(detail))
}

/// The JSON form of a recording. Customer numbers are masked unless the caller may see
/// them in full (supervisors, and the recorder that sent them).
pub fn view(r: &Recording, tz: chrono_tz::Tz, full_number: bool) -> Value {
    let started_at = tz
        .timestamp_millis_opt(r.started_at_ms)
        .single()
        .map(|t| t.to_rfc3339());
    let created_at = tz
        .timestamp_millis_opt(r.created_at_ms)
        .single()
        .map(|t| t.to_rfc3339());
    let mut v = json!({
        "id": r.id,
        "call_id": r.call_id,
        "agent": r.agent,
        "agent_name": r.agent_name,
        "team": r.team,
        "started_at": started_at,
        "direction": r.direction,
        "queue": r.queue,
        "customer_number_masked": r.customer_number.as_deref().map(mask_customer_number),
        "channel_layout": r.channel_layout,
        "container": r.container,
        "codec": r.codec,
        "sample_rate": r.sample_rate,
        "channels": r.channels,
        "frames": r.frames,
        "duration_ms": r.duration_ms,
        "damaged": r.damaged,
        "damage_reason": r.damage_reason,
        "original_filename": r.original_filename,
        "raw_format": r.raw_format,
        "short_call": r.short_call,
        "size_bytes": r.size_bytes,
        "sha256": r.sha256,
        "created_at": created_at,
    });
    if full_number {
        v["customer_number"] = json!(r.customer_number);
    }
    v
}

async fn upload(
    State(state): State<AppState>,
    uploader: Uploader,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<impl IntoResponse> {
    // Refuse an oversized upload from its declared length, before reading the body.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.config.max_upload_bytes + MULTIPART_OVERHEAD) {
        return Err(too_large(state.config.max_upload_bytes));
    }
    let mut multipart = multipart.map_err(|r| {
        AppError::bad_request(
            "invalid_multipart",
            format!(
                "expected multipart/form-data with parts 'metadata' and 'file': {}",
                r.body_text()
            ),
        )
    })?;

    let mut meta: Option<CallMeta> = None;
    let mut staged: Option<Staged> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_error(e, state.config.max_upload_bytes))?
    {
        match field.name() {
            Some("metadata") => {
                let text = field
                    .text()
                    .await
                    .map_err(|e| multipart_error(e, state.config.max_upload_bytes))?;
                let raw: RawCallMeta = serde_json::from_str(&text).map_err(|e| {
                    AppError::unprocessable(
                        "invalid_metadata",
                        format!("metadata is not valid: {e}"),
                    )
                })?;
                meta = Some(
                    CallMeta::parse(&raw)
                        .map_err(|e| AppError::unprocessable("invalid_metadata", e))?,
                );
            }
            Some("file") => staged = Some(stage(&state, field).await?),
            // A misspelt part would otherwise vanish silently and the upload be refused
            // for a "missing" one; naming it tells the recorder's integrator what is wrong.
            other => {
                return Err(AppError::bad_request(
                    "unknown_part",
                    format!(
                        "unknown part {:?}: send only 'metadata' and 'file'",
                        other.unwrap_or("")
                    ),
                ));
            }
        }
    }
    let meta = meta.ok_or_else(|| {
        AppError::bad_request("missing_part", "the multipart body has no 'metadata' part")
    })?;
    let staged = staged.ok_or_else(|| {
        AppError::bad_request("missing_part", "the multipart body has no 'file' part")
    })?;
    let recording = state
        .ingestor
        .ingest(&meta, staged, &uploader.source)
        .await?;
    tracing::info!(
        call_id = recording.call_id,
        id = recording.id,
        source = uploader.source,
        "recording ingested"
    );
    Ok((
        StatusCode::CREATED,
        axum::Json(view(&recording, state.config.time_zone, true)),
    ))
}

/// Streams the file part into a temporary file, hashing as it goes; memory stays flat
/// whatever the size.
async fn stage(state: &AppState, mut field: Field<'_>) -> AppResult<Staged> {
    let file_name = field.file_name().map(crate::ingest::base_name);
    let temp = state.ingestor.blobs.temp_file()?;
    let std_file = temp.reopen().map_err(anyhow::Error::from)?;
    let mut out =
        tokio::io::BufWriter::with_capacity(256 * 1024, tokio::fs::File::from_std(std_file));
    let mut hasher = sha2::Sha256::new();
    let mut size: u64 = 0;
    let max = state.config.max_upload_bytes;
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, max))? {
        size += chunk.len() as u64;
        if size > max {
            return Err(too_large(max));
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(anyhow::Error::from)?;
    }
    out.flush().await.map_err(anyhow::Error::from)?;
    Ok(Staged {
        temp,
        size,
        sha256: hex::encode(hasher.finalize()),
        file_name,
    })
}

fn too_large(max: u64) -> AppError {
    AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "the recording is larger than the {} MB limit",
            max / (1024 * 1024)
        ),
    )
}

fn multipart_error(e: axum::extract::multipart::MultipartError, max: u64) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(max)
    } else {
        AppError::bad_request("invalid_multipart", e.body_text())
    }
}

#[derive(Deserialize)]
struct ListQuery {
    agent: Option<String>,
    month: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
    call_id: Option<String>,
    customer_number: Option<String>,
    /// RFC 3339 bounds on the call's start (`[from, to)`), narrowing `month` if both given.
    from: Option<String>,
    to: Option<String>,
}

fn parse_instant(name: &str, v: Option<&str>) -> AppResult<Option<i64>> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => chrono::DateTime::parse_from_rfc3339(v)
            .map(|t| Some(t.timestamp_millis()))
            .map_err(|_| {
                AppError::bad_request(
                    "invalid_query",
                    format!("{name} must be an RFC 3339 time such as 2026-11-05T14:30:00+08:00"),
                )
            }),
    }
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Query(q): Query<ListQuery>,
) -> AppResult<axum::Json<Value>> {
    let viewer = user.viewer();
    let tz = state.config.time_zone;
    let limit = super::extract::limit(q.limit, 50, 500)?;
    let range_ms = match q.month.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => Some(
            m.parse::<Month>()
                .map_err(|e| AppError::bad_request("invalid_query", e))?
                .range_ms(tz),
        ),
        None => None,
    };
    // Searching by a full customer number is complaint handling; agents and the panel,
    // who only ever see masked numbers, do not get to test numbers against calls.
    let by_number = q
        .customer_number
        .as_deref()
        .is_some_and(|n| !n.trim().is_empty());
    if by_number && matches!(user.role, Role::Agent | Role::Panel) {
        return Err(AppError::forbidden(
            "searching by customer number is for supervisors, QA inspectors and team leads",
        ));
    }
    let from = parse_instant("from", q.from.as_deref())?;
    let to = parse_instant("to", q.to.as_deref())?;
    let range_ms = match (range_ms, from, to) {
        (r, None, None) => r,
        (r, f, t) => {
            let (a, b) = r.unwrap_or((i64::MIN, i64::MAX));
            Some((a.max(f.unwrap_or(i64::MIN)), b.min(t.unwrap_or(i64::MAX))))
        }
    };
    let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(parse_cursor(c).ok_or_else(|| {
            AppError::bad_request("invalid_query", "cursor is not one this server handed out")
        })?),
        None => None,
    };
    let agent_id = match q.agent.as_deref().filter(|a| !a.is_empty()) {
        Some(username) => match users::find_agent(&state.db, username).await? {
            Some(agent) if viewer.can_see_agent(agent.id, agent.team_id) => Some(agent.id),
            // Someone the caller may not see filters to nothing, exactly like a stranger.
            _ => return Ok(axum::Json(json!({ "items": [], "next_cursor": null }))),
        },
        None => None,
    };
    let filter = ListFilter {
        agent_id,
        range_ms,
        after,
        call_id: q
            .call_id
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty()),
        customer_number: q
            .customer_number
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty()),
        limit: limit + 1,
    };
    let mut rows = recordings::list_visible(&state.db, &viewer, &filter).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|r| format!("{}.{}", r.started_at_ms, r.id)))
        .flatten();
    let full = user.role == Role::Supervisor;
    let items: Vec<Value> = rows.iter().map(|r| view(r, tz, full)).collect();
    Ok(axum::Json(
        json!({ "items": items, "next_cursor": next_cursor }),
    ))
}

fn parse_cursor(c: &str) -> Option<(i64, i64)> {
    let (ts, id) = c.split_once('.')?;
    Some((ts.parse().ok()?, id.parse().ok()?))
}

async fn detail(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Value>> {
    let recording = recordings::get_visible(&state.db, &user.viewer(), id)
        .await?
        .ok_or_else(|| AppError::not_found("recording"))?;
    let full = user.role == Role::Supervisor;
    Ok(axum::Json(view(&recording, state.config.time_zone, full)))
}
