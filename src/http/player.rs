//! What the player shows beside the audio of one recording: the waveform (peaks), the call
//! analysis (talk, silences, overtalk), what the caller has listened to (coverage) and the
//! comments pinned to moments of the call.
//!
//! Every route first checks that the caller may see the recording: someone else's recording
//! answers 404 exactly like one that does not exist. Comments are for the people who assess
//! calls: agents get 403 on their own calls' comments (reading and writing).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::TimeZone;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::auth::CurrentUser;
use super::extract::{Json, Path};
use crate::app::AppState;
use crate::audio::analysis::{Interval, Span};
use crate::domain::call::ChannelLayout;
use crate::domain::org::Role;
use crate::error::{AppError, AppResult};
use crate::store::blind;
use crate::store::listening::{self, Comment, Coverage, Posted, TooManyIntervals};
use crate::store::media::{self, Media};
use crate::store::recordings::{self, Recording};
use crate::store::users::User;

/// Peaks and analysis never change once computed; the ETag follows their content anyway.
const CACHE_CONTROL: &str = "private, max-age=86400";
/// Most intervals one coverage post may carry.
pub const MAX_POSTED_INTERVALS: usize = 10_000;
/// Longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 2000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/recordings/{id}/peaks", get(peaks))
        .route("/recordings/{id}/analysis", get(analysis))
        .route(
            "/recordings/{id}/coverage",
            get(get_coverage).post(post_coverage),
        )
        .route(
            "/recordings/{id}/comments",
            get(list_comments).post(post_comment),
        )
}

async fn visible(state: &AppState, user: &User, id: i64) -> AppResult<Recording> {
    recordings::get_visible(&state.db, &user.viewer(), id)
        .await?
        .ok_or_else(|| AppError::not_found("recording"))
}

async fn stored_media(state: &AppState, recording_id: i64) -> AppResult<Media> {
    media::get(&state.db, recording_id).await?.ok_or_else(|| {
        AppError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "this recording has no stored waveform or analysis (it was ingested before they \
             were computed)",
        )
    })
}

/// Names of the channels in file order, from the recording's channel layout.
pub fn channel_labels(layout: &str, channels: usize) -> Vec<&'static str> {
    match (ChannelLayout::parse(layout), channels) {
        (Ok(ChannelLayout::Mono), 1) => vec!["mono"],
        (Ok(ChannelLayout::AgentLeft), 2) => vec!["agent", "customer"],
        (Ok(ChannelLayout::AgentRight), 2) => vec!["customer", "agent"],
        // Ingest never stores a layout that does not fit the file; should one appear, name
        // the channels by position rather than guess who is who.
        (_, n) => ["channel_1", "channel_2"].into_iter().take(n).collect(),
    }
}

/// True when the request's `If-None-Match` names `etag` (or `*`).
fn not_modified_since(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// A JSON body with a strong ETag and private caching, or 304 when the client has it.
fn cacheable(headers: &HeaderMap, etag: &str, body: &impl Serialize) -> AppResult<Response> {
    let etag_value = HeaderValue::from_str(etag).map_err(anyhow::Error::from)?;
    let cache = HeaderValue::from_static(CACHE_CONTROL);
    if not_modified_since(headers, etag) {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag_value), (header::CACHE_CONTROL, cache)],
        )
            .into_response());
    }
    let bytes = serde_json::to_vec(body).map_err(anyhow::Error::from)?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, etag_value),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response())
}

fn etag(kind: &str, digest: &str) -> String {
    format!("\"{kind}-{}\"", digest.get(..32).unwrap_or(digest))
}

#[derive(Serialize)]
struct PeaksView<'a> {
    samples_per_pixel: u32,
    sample_rate: i64,
    channels: usize,
    frames: i64,
    channel_labels: Vec<&'static str>,
    peaks: &'a [Vec<i8>],
}

async fn peaks(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let rec = visible(&state, &user, id).await?;
    let media = stored_media(&state, rec.id).await?;
    let channels = media.peaks.channels();
    let view = PeaksView {
        samples_per_pixel: media.peaks.samples_per_pixel,
        sample_rate: rec.sample_rate,
        channels,
        frames: rec.frames,
        channel_labels: channel_labels(&rec.channel_layout, channels),
        peaks: &media.peaks.lanes,
    };
    cacheable(&headers, &etag("peaks", &media.digest), &view)
}

#[derive(Serialize)]
struct ChannelView<'a> {
    label: &'static str,
    talk: &'a [Interval],
    talk_ms: u64,
    longest_silence: Option<Span>,
}

#[derive(Serialize)]
struct AnalysisView<'a> {
    channels: Vec<ChannelView<'a>>,
    longest_silence: Option<Span>,
    overtalk_ms: Option<u64>,
    overtalk: Option<&'a [Interval]>,
}

async fn analysis(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let rec = visible(&state, &user, id).await?;
    let media = stored_media(&state, rec.id).await?;
    let a = &media.analysis;
    let labels = channel_labels(&rec.channel_layout, a.channels.len());
    let view = AnalysisView {
        channels: a
            .channels
            .iter()
            .zip(labels)
            .map(|(c, label)| ChannelView {
                label,
                talk: &c.talk,
                talk_ms: c.talk_ms,
                longest_silence: c.longest_silence,
            })
            .collect(),
        longest_silence: a.longest_silence,
        overtalk_ms: a.overtalk_ms,
        overtalk: a.overtalk.as_deref(),
    };
    cacheable(&headers, &etag("analysis", &media.digest), &view)
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn coverage_view(c: &Coverage, duration_ms: i64) -> Value {
    let intervals: Vec<[f64; 2]> = c
        .intervals
        .iter()
        .map(|&[s, e]| [seconds(s), seconds(e)])
        .collect();
    json!({
        "duration_s": seconds(duration_ms),
        "listened_s": seconds(c.listened_ms),
        "fraction": c.fraction(duration_ms),
        "intervals": intervals,
    })
}

async fn get_coverage(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Value>> {
    let rec = visible(&state, &user, id).await?;
    let coverage = listening::coverage(&state.db, rec.id, user.id).await?;
    Ok(axum::Json(coverage_view(&coverage, rec.duration_ms)))
}

#[derive(Deserialize)]
struct CoveragePost {
    intervals: Vec<[f64; 2]>,
}

/// Played spans in seconds, checked, as milliseconds: finite, `0 <= start < end`, and
/// `end <= duration + 1 s` (a player's clock may run a little past the decoded end).
/// Spans that round to nothing are dropped.
pub fn played_intervals(
    raw: &[[f64; 2]],
    duration_ms: i64,
) -> Result<Vec<listening::Interval>, String> {
    if raw.len() > MAX_POSTED_INTERVALS {
        return Err(format!(
            "at most {MAX_POSTED_INTERVALS} intervals per request (got {})",
            raw.len()
        ));
    }
    let limit_s = seconds(duration_ms) + 1.0;
    let mut out = Vec::with_capacity(raw.len());
    for (i, &[start, end]) in raw.iter().enumerate() {
        if !start.is_finite() || !end.is_finite() {
            return Err(format!(
                "interval {i}: start and end must be finite numbers"
            ));
        }
        if !(0.0 <= start && start < end && end <= limit_s) {
            return Err(format!(
                "interval {i} [{start}, {end}]: need 0 <= start < end <= {limit_s} (the \
                 recording's length in seconds, plus 1)"
            ));
        }
        let (s, e) = (
            (start * 1000.0).round() as i64,
            (end * 1000.0).round() as i64,
        );
        if s < e {
            out.push([s, e]);
        }
    }
    Ok(out)
}

/// Credits what the player says it played, as far as the audio served to this person allows
/// (`domain::listening`): audio never served to them, or more than twice the time since it
/// was served, is not credited. The answer is the coverage as now stored, with what this
/// post earned (`credited`, `credited_s`) and what it did not (`not_served_s`, `too_fast_s`;
/// a too-fast part may earn credit when posted again later). Posting only what is already
/// credited changes nothing and is not an error.
async fn post_coverage(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(body): Json<CoveragePost>,
) -> AppResult<axum::Json<Value>> {
    let rec = visible(&state, &user, id).await?;
    let played = played_intervals(&body.intervals, rec.duration_ms)
        .map_err(|e| AppError::unprocessable("invalid_intervals", e))?;
    let now = state.config.clock.now_ms();
    let posted =
        match listening::add_coverage(&state.db, rec.id, user.id, rec.duration_ms, &played, now)
            .await?
        {
            Ok(p) => p,
            Err(TooManyIntervals) => {
                return Err(AppError::unprocessable(
                    "too_many_intervals",
                    format!(
                        "the listened parts of this call would be more than {} separate \
                         intervals; send the spans the player really played",
                        listening::MAX_STORED_INTERVALS
                    ),
                ));
            }
        };
    Ok(axum::Json(posted_view(&posted, rec.duration_ms)))
}

fn posted_view(p: &Posted, duration_ms: i64) -> Value {
    let mut view = coverage_view(&p.coverage, duration_ms);
    let credited: Vec<[f64; 2]> = p
        .credit
        .credited
        .iter()
        .map(|&[s, e]| [seconds(s), seconds(e)])
        .collect();
    view["credited"] = json!(credited);
    view["credited_s"] = json!(seconds(crate::domain::listening::length(
        &p.credit.credited
    )));
    view["not_served_s"] = json!(seconds(p.credit.not_served_ms));
    view["too_fast_s"] = json!(seconds(p.credit.too_fast_ms));
    view
}

/// Agents may not read or write comments on calls, not even on their own: comments are the
/// assessors' working notes. (Who may see the call at all was checked before.)
fn may_comment(user: &User) -> AppResult<()> {
    if user.role == Role::Agent {
        return Err(AppError::forbidden(
            "agents may not read or write comments on calls",
        ));
    }
    Ok(())
}

/// The comment text, trimmed: 1 to 2000 characters, no control characters other than line
/// breaks and tabs.
pub fn comment_text(text: &str) -> Result<&str, String> {
    let text = text.trim();
    let chars = text.chars().count();
    if chars == 0 {
        return Err("text must not be empty".into());
    }
    if chars > MAX_COMMENT_CHARS {
        return Err(format!(
            "text must be at most {MAX_COMMENT_CHARS} characters (got {chars})"
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err("text must not contain control characters".into());
    }
    Ok(text)
}

fn comment_view(c: &Comment, tz: chrono_tz::Tz) -> Value {
    let created_at = tz
        .timestamp_millis_opt(c.created_at_ms)
        .single()
        .map(|t| t.to_rfc3339());
    json!({
        "id": c.id,
        "at_ms": c.at_ms,
        "text": c.text,
        "author": c.author,
        "author_name": c.author_name,
        "created_at": created_at,
    })
}

async fn list_comments(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Value>> {
    let rec = visible(&state, &user, id).await?;
    may_comment(&user)?;
    let tz = state.config.time_zone;
    // Grading the call blind: the others' notes (and names) would tell their verdict.
    let only_mine = blind::is_blind(&state.db, user.id, rec.id)
        .await?
        .then_some(user.id);
    let items: Vec<Value> = listening::comments(&state.db, rec.id, only_mine)
        .await?
        .iter()
        .map(|c| comment_view(c, tz))
        .collect();
    Ok(axum::Json(json!({ "items": items })))
}

#[derive(Deserialize)]
struct CommentPost {
    at_ms: i64,
    text: String,
}

async fn post_comment(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    Json(body): Json<CommentPost>,
) -> AppResult<impl IntoResponse> {
    let rec = visible(&state, &user, id).await?;
    may_comment(&user)?;
    if !(0..=rec.duration_ms).contains(&body.at_ms) {
        return Err(AppError::unprocessable(
            "invalid_comment",
            format!(
                "at_ms must be between 0 and the recording's length ({} ms)",
                rec.duration_ms
            ),
        ));
    }
    let text =
        comment_text(&body.text).map_err(|e| AppError::unprocessable("invalid_comment", e))?;
    let comment = listening::add_comment(&state.db, rec.id, user.id, body.at_ms, text).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(comment_view(&comment, state.config.time_zone)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_the_layout() {
        assert_eq!(channel_labels("agent_left", 2), vec!["agent", "customer"]);
        assert_eq!(channel_labels("agent_right", 2), vec!["customer", "agent"]);
        assert_eq!(channel_labels("mono", 1), vec!["mono"]);
        assert_eq!(channel_labels("mono", 2), vec!["channel_1", "channel_2"]);
    }

    #[test]
    fn played_intervals_are_checked_and_rounded() {
        assert_eq!(
            played_intervals(&[[0.0, 1.5], [2.0004, 8.9]], 8000),
            Ok(vec![[0, 1500], [2000, 8900]])
        );
        // A span too short to hold a millisecond is dropped, not refused.
        assert_eq!(played_intervals(&[[1.0001, 1.0002]], 8000), Ok(vec![]));
        for bad in [
            [-0.1, 1.0],
            [2.0, 1.0],
            [1.0, 1.0],
            [0.0, 9.01],
            [f64::NAN, 1.0],
            [0.0, f64::INFINITY],
        ] {
            assert!(played_intervals(&[bad], 8000).is_err(), "{bad:?}");
        }
        assert!(played_intervals(&vec![[0.0, 1.0]; MAX_POSTED_INTERVALS], 8000).is_ok());
        assert!(played_intervals(&vec![[0.0, 1.0]; MAX_POSTED_INTERVALS + 1], 8000).is_err());
    }

    #[test]
    fn comment_text_rules() {
        assert_eq!(comment_text("  good greeting \n"), Ok("good greeting"));
        assert_eq!(comment_text("语气很好"), Ok("语气很好"));
        assert!(comment_text("   ").is_err());
        assert!(comment_text(&"字".repeat(2000)).is_ok());
        assert!(comment_text(&"字".repeat(2001)).is_err());
        assert!(comment_text("a\u{0}b").is_err());
        assert!(comment_text("line one\nline two\tend").is_ok());
    }

    #[test]
    fn if_none_match_lists_and_weak_tags() {
        let mut h = HeaderMap::new();
        assert!(!not_modified_since(&h, "\"peaks-ab\""));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", W/\"peaks-ab\""),
        );
        assert!(not_modified_since(&h, "\"peaks-ab\""));
        assert!(!not_modified_since(&h, "\"peaks-cd\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(not_modified_since(&h, "\"peaks-cd\""));
    }
}
