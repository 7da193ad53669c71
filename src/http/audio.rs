//! `GET`/`HEAD /api/recordings/{id}/audio`: the recording decoded to a 16-bit PCM WAV for
//! the grader's player, whole or by byte range.
//!
//! The WAV is never built in memory: its length comes from the stored row, a range maps to a
//! frame (`audio::wavout`), the decoder seeks there, and the body is decoded chunk by chunk
//! on the blocking pool while hyper sends it with a fixed `Content-Length`. Access is
//! checked before the `Range` header is even looked at.
//!
//! What a stream really sends is recorded as served to its listener (`store::listening`),
//! which is what listen coverage is credited against: a write when the last byte of the
//! range is ready (before it goes out, so a client that has the whole range finds it
//! recorded), and while a long stream runs at most one every [`FLUSH_EVERY`], plus one when
//! a client stops reading early.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;

use super::auth::CurrentUser;
use super::extract::Path;
use crate::app::AppState;
use crate::audio::decode::{self, PcmStream};
use crate::audio::raw;
use crate::audio::wavout::{self, ByteRange, DataCursor, RangeRequest, WavLayout};
use crate::clock::Clock;
use crate::domain::listening::data_bytes_ms;
use crate::error::{AppError, AppResult, error_body};
use crate::store::recordings::{self, Recording};
use crate::store::{Db, listening};

/// Bytes decoded per step on the blocking pool: memory per stream stays around this.
const CHUNK: usize = 48 * 1024;
/// How often a running stream records what it has sent (a player reading ahead is far
/// ahead of what it plays, so this lag never holds back its coverage).
const FLUSH_EVERY: Duration = Duration::from_secs(2);

pub fn router() -> Router<AppState> {
    // `get` also answers HEAD (axum drops the body); the handler skips decoding for it.
    Router::new().route("/recordings/{id}/audio", get(audio))
}

async fn audio(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<i64>,
    method: Method,
    headers: HeaderMap,
) -> AppResult<Response> {
    // Access first: a call outside the viewer's scope is 404 whatever the Range says.
    let rec = recordings::get_visible(&state.db, &user.viewer(), id)
        .await?
        .ok_or_else(|| AppError::not_found("recording"))?;
    let layout = layout_of(&rec)?;
    let path = state.ingestor.blobs.path(&rec.blob_key)?;
    match tokio::fs::metadata(&path).await {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(missing(&rec, &path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing(&rec, &path)),
        Err(e) => {
            return Err(anyhow::Error::from(e)
                .context(format!("reading {}", path.display()))
                .into());
        }
    }

    let total = layout.total_len();
    let etag = wavout::etag(&rec.sha256);
    let (status, range) = match requested_range(&headers, total, &etag) {
        RangeRequest::Full => (StatusCode::OK, ByteRange::full(total)),
        RangeRequest::Partial(r) => (StatusCode::PARTIAL_CONTENT, r),
        RangeRequest::Unsatisfiable => return Ok(unsatisfiable(total, &etag)),
    };

    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        stream_body(&state, user.id, &rec, layout, path, range).await?
    };
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    common_headers(h, &etag);
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(range.byte_len()));
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(
            header::CONTENT_RANGE,
            header_value(&range.content_range(total))?,
        );
    }
    Ok(response)
}

/// The served WAV's shape, from the stored row alone.
fn layout_of(rec: &Recording) -> AppResult<WavLayout> {
    let rate = u32::try_from(rec.sample_rate).ok();
    let channels = u16::try_from(rec.channels).ok();
    let frames = u64::try_from(rec.frames).ok();
    let (Some(rate), Some(channels), Some(frames)) = (rate, channels, frames) else {
        return Err(anyhow!(
            "recording {}: stored rate {}, channels {}, frames {} are out of range",
            rec.id,
            rec.sample_rate,
            rec.channels,
            rec.frames
        )
        .into());
    };
    WavLayout::new(rate, channels, frames).map_err(|e| {
        AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "audio_too_long",
            format!("the recording cannot be served as a WAV file: {e}"),
        )
    })
}

fn missing(rec: &Recording, path: &std::path::Path) -> AppError {
    tracing::error!(
        id = rec.id,
        call_id = rec.call_id,
        path = %path.display(),
        "recording file missing from storage"
    );
    AppError::new(
        StatusCode::GONE,
        "audio_missing",
        "the audio of this recording is missing from storage",
    )
}

/// The range to serve: one `Range` header, honoured only if `If-Range` (when present)
/// names our current ETag.
fn requested_range(headers: &HeaderMap, total: u64, etag: &str) -> RangeRequest {
    let mut ranges = headers.get_all(header::RANGE).iter();
    let (Some(range), None) = (ranges.next(), ranges.next()) else {
        return RangeRequest::Full;
    };
    let Ok(range) = range.to_str() else {
        return RangeRequest::Full;
    };
    let mut if_ranges = headers.get_all(header::IF_RANGE).iter();
    let if_range = match (if_ranges.next(), if_ranges.next()) {
        (None, _) => None,
        (Some(v), None) => match v.to_str() {
            Ok(v) => Some(v),
            Err(_) => return RangeRequest::Full,
        },
        (Some(_), Some(_)) => return RangeRequest::Full,
    };
    if !wavout::if_range_allows(if_range, etag) {
        return RangeRequest::Full;
    }
    wavout::parse_range(range, total)
}

fn common_headers(h: &mut HeaderMap, etag: &str) {
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
}

fn header_value(s: &str) -> AppResult<HeaderValue> {
    HeaderValue::from_str(s)
        .with_context(|| format!("header value {s:?}"))
        .map_err(AppError::from)
}

fn unsatisfiable(total: u64, etag: &str) -> Response {
    let mut response = error_body(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "range_not_satisfiable",
        &format!("the requested range starts past the end of the {total}-byte audio"),
    );
    let h = response.headers_mut();
    common_headers(h, etag);
    if let Ok(v) = HeaderValue::from_str(&wavout::unsatisfied_content_range(total)) {
        h.insert(header::CONTENT_RANGE, v);
    }
    response
}

/// The body for `range`: the header bytes it covers, then decoded data produced a chunk at a
/// time on the blocking pool. The decoder is opened and positioned before the answer starts,
/// so a file that cannot be opened is still an error status, not a broken body.
async fn stream_body(
    state: &AppState,
    user_id: i64,
    rec: &Recording,
    layout: WavLayout,
    path: PathBuf,
    range: ByteRange,
) -> AppResult<Body> {
    let span = layout.span(range);
    let head = Bytes::copy_from_slice(&layout.header()[span.header.clone()]);
    let head = futures::stream::iter((!head.is_empty()).then_some(Ok::<_, std::io::Error>(head)));
    let Some(data) = span.data else {
        return Ok(Body::from_stream(head));
    };
    let id = rec.id;
    let want_channels = usize::from(layout.channels());
    let first_frame = data.first_frame;
    let raw = rec.raw_format.as_deref().and_then(raw::format_named);
    let opened = tokio::task::spawn_blocking(move || {
        // A headerless recording decodes as the raw format it was ingested as.
        let (mut stream, _) = decode::open_as(&path, raw)?;
        stream.seek(first_frame)?;
        Ok::<_, crate::audio::AudioError>(stream)
    })
    .await
    .map_err(|e| anyhow!("decoder panicked opening recording {id}: {e}"))?
    .with_context(|| format!("opening recording {id} at frame {first_frame}"))?;
    if opened.channels() != want_channels {
        return Err(anyhow!(
            "recording {id} decodes to {} channels, the row says {want_channels}",
            opened.channels()
        )
        .into());
    }
    if i64::from(opened.sample_rate()) != rec.sample_rate {
        tracing::warn!(
            id,
            decoded = opened.sample_rate(),
            stored = rec.sample_rate,
            "recording decodes at another rate than stored; serving the stored one"
        );
    }
    let emitter = Emitter {
        id,
        stream: Some(opened),
        channels: want_channels,
        cursor: DataCursor::new(&data),
        samples: Vec::new(),
    };
    let log = Arc::new(ServedLog {
        db: state.db.clone(),
        clock: state.config.clock.clone(),
        recording_id: id,
        user_id,
        layout,
        duration_ms: rec.duration_ms,
        pending: Mutex::new(Pending::at(
            data.first_frame * layout.block_align() + data.skip,
        )),
    });
    let done = log.clone().keep_flushing();
    let data = futures::stream::try_unfold(
        (emitter, log, done),
        move |(emitter, log, done)| async move {
            if emitter.cursor.is_done() {
                return Ok(None);
            }
            let (emitter, chunk) = tokio::task::spawn_blocking(move || {
                let mut emitter = emitter;
                let chunk = emitter.next_chunk();
                (emitter, chunk)
            })
            .await
            .map_err(|e| {
                tracing::error!(id, error = %e, "decoder panicked while streaming; body cut short");
                std::io::Error::other("decoder panicked")
            })?;
            match chunk {
                Ok(bytes) => {
                    log.sent(bytes.len() as u64);
                    if emitter.cursor.is_done() {
                        log.flush().await;
                    }
                    Ok(Some((Bytes::from(bytes), (emitter, log, done))))
                }
                Err(e) => {
                    tracing::error!(
                        id = emitter.id,
                        error = e,
                        left = emitter.cursor.remaining(),
                        "decoding failed while streaming; body cut short"
                    );
                    Err(std::io::Error::other(e))
                }
            }
        },
    );
    Ok(Body::from_stream(head.chain(data)))
}

/// Data bytes sent by one stream and not yet recorded as served.
struct Pending {
    /// Offsets into the WAV's data chunk: recorded up to here, sent up to there.
    recorded_to: u64,
    sent_to: u64,
    /// When the first byte not yet recorded was sent.
    since_ms: Option<i64>,
}

impl Pending {
    fn at(offset: u64) -> Pending {
        Pending {
            recorded_to: offset,
            sent_to: offset,
            since_ms: None,
        }
    }
}

/// Records what one stream sent to its listener as served audio.
struct ServedLog {
    db: Db,
    clock: Clock,
    recording_id: i64,
    user_id: i64,
    layout: WavLayout,
    duration_ms: i64,
    pending: Mutex<Pending>,
}

impl ServedLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        // The guarded numbers are always consistent: a poisoned lock is still usable.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `n` more data bytes are going out.
    fn sent(&self, n: u64) {
        let now = self.clock.now_ms();
        let mut p = self.lock();
        p.since_ms.get_or_insert(now);
        p.sent_to += n;
    }

    /// Records what was sent since the last record (nothing when nothing was).
    async fn flush(&self) {
        let (from, to, since) = {
            let mut p = self.lock();
            let taken = (p.recorded_to, p.sent_to, p.since_ms.take());
            p.recorded_to = p.sent_to;
            taken
        };
        let Some(since) = since.filter(|_| to > from) else {
            return;
        };
        let l = &self.layout;
        let [start, end] = data_bytes_ms(
            from,
            to,
            l.block_align(),
            l.sample_rate(),
            l.frames(),
            self.duration_ms,
        );
        let span = [start, end, since];
        let db = &self.db;
        if let Err(e) =
            listening::add_served(db, self.recording_id, self.user_id, self.duration_ms, span).await
        {
            // The audio still plays; its listening just earns no credit.
            tracing::error!(
                recording = self.recording_id,
                user = self.user_id,
                error = %e,
                "could not record served audio"
            );
        }
    }

    /// Records what was sent every [`FLUSH_EVERY`] while the stream lives, and once more
    /// when it ends or the client goes away (when the returned sender is dropped).
    fn keep_flushing(self: Arc<Self>) -> tokio::sync::oneshot::Sender<()> {
        let (done, mut ended) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            loop {
                let gone = tokio::time::timeout(FLUSH_EVERY, &mut ended).await.is_ok();
                self.flush().await;
                if gone {
                    break;
                }
            }
        });
        done
    }
}

/// One stream's decoding state, moved onto the blocking pool for each chunk.
struct Emitter {
    id: i64,
    /// `None` once the decoder has ended (what is left of the span is silence).
    stream: Option<Box<dyn PcmStream>>,
    channels: usize,
    cursor: DataCursor,
    samples: Vec<i16>,
}

impl Emitter {
    /// The next up-to-about-`CHUNK` bytes of the span (a decoder packet may overshoot).
    fn next_chunk(&mut self) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(CHUNK);
        while out.len() < CHUNK && !self.cursor.is_done() {
            let Some(stream) = self.stream.as_mut() else {
                self.cursor.pad(CHUNK - out.len(), &mut out);
                continue;
            };
            self.samples.clear();
            let frames = stream.read(&mut self.samples).map_err(|e| e.to_string())?;
            if frames == 0 {
                tracing::warn!(
                    id = self.id,
                    missing_bytes = self.cursor.remaining(),
                    "recording decoded shorter than its stored length; padding with silence"
                );
                self.stream = None;
                continue;
            }
            if stream.channels() != self.channels {
                return Err(format!(
                    "the decoder switched to {} channels mid-stream",
                    stream.channels()
                ));
            }
            self.cursor.push(&self.samples, &mut out);
        }
        if self.cursor.is_done() {
            // Free the decoder now rather than when hyper drops the body.
            self.stream = None;
        }
        Ok(out)
    }
}
