//! Taking in one recording: the same path for the HTTP push, the bulk import and the demo.
//!
//! Order matters for durability and for cost: cheap checks first (agent, duplicate call id),
//! then the full decode (off the async runtime, bounded, panics caught), then the bytes are
//! made durable, and only then is the row committed. The caller acknowledges after that.
//!
//! The one decode pass also yields what the player shows (waveform peaks, call analysis);
//! they are committed in the same transaction as the recording row.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use axum::http::StatusCode;
use sha2::Digest;
use tokio::sync::Semaphore;

use crate::audio::analysis::{Analysis, AnalysisBuilder};
use crate::audio::peaks::{Peaks, PeaksBuilder};
use crate::audio::probe::inspect_as;
use crate::audio::raw::{self, RawFormat};
use crate::audio::{AudioError, AudioInfo, DecodeLimits, decode};
use crate::blobs::BlobStore;
use crate::clock::Clock;
use crate::domain::call::{CallMeta, ChannelLayout};
use crate::error::AppError;
use crate::store::recordings::{self, InsertError, NewRecording, Recording};
use crate::store::{Db, media, users};

/// An upload written to a temporary file, with what was learnt while writing it.
pub struct Staged {
    pub temp: tempfile::NamedTempFile,
    pub size: u64,
    pub sha256: String,
    /// The name the file came under (multipart filename, imported file's name): the only
    /// thing that says what a headerless recording is.
    pub file_name: Option<String>,
}

/// Longest original file name kept; longer ones are cut (at a character boundary).
const MAX_FILE_NAME_CHARS: usize = 255;

/// The last component of a client-supplied file name (clients may send a whole path, with
/// either separator), at most `MAX_FILE_NAME_CHARS` characters, without control characters.
pub fn base_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    last.chars()
        .filter(|c| !c.is_control())
        .take(MAX_FILE_NAME_CHARS)
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    BadMetadata(String),
    #[error("no agent with username {0:?}")]
    UnknownAgent(String),
    #[error("call id {0:?} was already ingested")]
    Duplicate(String),
    #[error("{0}")]
    InvalidAudio(String),
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl IngestError {
    /// Short reason used in the bulk-import summary.
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::BadMetadata(_) => "invalid_metadata",
            IngestError::UnknownAgent(_) => "unknown_agent",
            IngestError::Duplicate(_) => "duplicate_call",
            IngestError::InvalidAudio(_) => "invalid_audio",
            IngestError::Unsupported(_) => "unsupported_codec",
            IngestError::Internal(_) => "internal",
        }
    }
}

impl From<IngestError> for AppError {
    fn from(e: IngestError) -> AppError {
        let status = match &e {
            IngestError::Duplicate(_) => StatusCode::CONFLICT,
            IngestError::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IngestError::BadMetadata(_)
            | IngestError::UnknownAgent(_)
            | IngestError::InvalidAudio(_) => StatusCode::UNPROCESSABLE_ENTITY,
            IngestError::Internal(_) => {
                let IngestError::Internal(err) = e else {
                    unreachable!()
                };
                return AppError::Internal(err);
            }
        };
        let not_recognised =
            matches!(&e, IngestError::InvalidAudio(m) if m == decode::NOT_RECOGNISED);
        let error = AppError::new(status, e.code(), e.to_string());
        if not_recognised {
            // The one refusal a person uploading by hand meets most: said in Chinese too.
            error.with("message_zh", decode::NOT_RECOGNISED_ZH.into())
        } else {
            error
        }
    }
}

/// An insert that did not commit, or may not have: `definite` when it certainly did not.
struct InsertFailed {
    error: InsertError,
    definite: bool,
}

/// Whether a failed COMMIT certainly rolled back. PostgreSQL: the server answered with an
/// ERROR (a constraint checked at commit, a serialization failure), which ends the transaction
/// unapplied; FATAL or PANIC (the server shutting down) and anything not from the server (the
/// connection lost, a timeout) may have come after it committed. SQLite: a constraint, or the
/// database busy or locked (nothing was written); an I/O error may have left the commit
/// record in the journal.
fn refused_commit(e: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return matches!(pg.severity(), sqlx::postgres::PgSeverity::Error);
    }
    let busy_or_locked = db
        .code()
        .and_then(|c| c.parse::<i64>().ok())
        .is_some_and(|c| matches!(c & 0xff, 5 | 6));
    !matches!(db.kind(), sqlx::error::ErrorKind::Other) || busy_or_locked
}

/// What the full decode of a recording yields.
pub struct Decoded {
    pub audio: AudioInfo,
    /// Waveform and analysis; `None` only when the audio could not give them (more than two
    /// channels, which ingest refuses anyway).
    pub media: Option<(Peaks, Analysis)>,
}

pub struct Ingestor {
    pub db: Db,
    pub blobs: Arc<dyn BlobStore>,
    pub limits: DecodeLimits,
    pub short_call_ms: u64,
    /// Stamps `created_at_ms`: sampling weeks take only calls that arrived before they froze.
    pub clock: Clock,
    /// Owned permits travel into the blocking decode, so a slot is held until the decode
    /// itself ends, even when the client that asked for it has gone.
    decode_slots: Arc<Semaphore>,
    /// Decodes running now and the most ever running at once (a metric, and what shows that
    /// abandoned uploads cannot pile up decodes beyond `decode_workers`).
    decodes: Arc<DecodeGauge>,
}

/// Counts decodes while they run on their blocking thread.
#[derive(Default)]
struct DecodeGauge {
    running: AtomicUsize,
    peak: AtomicUsize,
    started: AtomicUsize,
}

/// Marks one decode as running for as long as it lives (unwinding included).
struct Running(Arc<DecodeGauge>);

impl Running {
    fn start(gauge: &Arc<DecodeGauge>) -> Running {
        gauge.started.fetch_add(1, Ordering::SeqCst);
        let now = gauge.running.fetch_add(1, Ordering::SeqCst) + 1;
        gauge.peak.fetch_max(now, Ordering::SeqCst);
        Running(gauge.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Ingestor {
    pub fn new(
        db: Db,
        blobs: Arc<dyn BlobStore>,
        limits: DecodeLimits,
        short_call_ms: u64,
        decode_workers: usize,
        clock: Clock,
    ) -> Ingestor {
        Ingestor {
            db,
            blobs,
            limits,
            short_call_ms,
            clock,
            decode_slots: Arc::new(Semaphore::new(decode_workers.max(1))),
            decodes: Arc::default(),
        }
    }

    /// Decodes running at this moment.
    pub fn decodes_running(&self) -> usize {
        self.decodes.running.load(Ordering::SeqCst)
    }

    /// Decodes started since start.
    pub fn decodes_started(&self) -> usize {
        self.decodes.started.load(Ordering::SeqCst)
    }

    /// The most decodes that ever ran at once since start.
    pub fn peak_decodes_running(&self) -> usize {
        self.decodes.peak.load(Ordering::SeqCst)
    }

    /// Copies a local file into staging (bulk import, demo).
    pub async fn stage_file(&self, path: &Path) -> Result<Staged, IngestError> {
        let temp = self.blobs.temp_file()?;
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || -> anyhow::Result<Staged> {
            let mut src = std::fs::File::open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            let mut temp = temp;
            let mut hasher = sha2::Sha256::new();
            let mut size = 0u64;
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = src
                    .read(&mut buf)
                    .with_context(|| format!("reading {}", path.display()))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                temp.write_all(&buf[..n]).context("writing staging file")?;
                size += n as u64;
            }
            Ok(Staged {
                temp,
                size,
                sha256: hex::encode(hasher.finalize()),
                file_name: path.file_name().map(|n| base_name(&n.to_string_lossy())),
            })
        })
        .await
        .context("staging task")?
        .map_err(IngestError::Internal)
    }

    pub async fn ingest(
        &self,
        meta: &CallMeta,
        staged: Staged,
        source: &str,
    ) -> Result<Recording, IngestError> {
        let agent = users::find_agent(&self.db, &meta.agent)
            .await
            .context("looking up agent")?
            .ok_or_else(|| IngestError::UnknownAgent(meta.agent.clone()))?;
        // A cheap early answer for the common retry; the unique index decides for real.
        if recordings::call_id_exists(&self.db, &meta.call_id)
            .await
            .context("checking call id")?
        {
            return Err(IngestError::Duplicate(meta.call_id.clone()));
        }

        let raw_hint = staged.file_name.as_deref().and_then(raw::format_for_name);
        let Decoded { audio, media } = self.decode(staged.temp.path(), raw_hint).await?;
        // Only a file that was decoded as headerless needs its format remembered.
        let raw_format = raw_hint
            .filter(|_| audio.container == "raw")
            .map(|f| f.name);
        let layout = match meta.channel_layout {
            Some(layout) => layout,
            None if audio.channels > 2 => {
                return Err(IngestError::InvalidAudio(format!(
                    "recordings must be mono or stereo (agent and customer); this one has {} channels",
                    audio.channels
                )));
            }
            None => ChannelLayout::default_for(audio.channels),
        };
        layout
            .check_fits(audio.channels)
            .map_err(IngestError::BadMetadata)?;

        let blobs = self.blobs.clone();
        let Staged {
            temp,
            size,
            sha256,
            file_name,
        } = staged;
        let key = tokio::task::spawn_blocking(move || blobs.commit(temp))
            .await
            .context("storage task")??;

        let new = NewRecording {
            meta,
            agent_id: agent.id,
            channel_layout: layout.as_str(),
            audio: &audio,
            short_call: audio.duration_ms < self.short_call_ms,
            blob_key: &key,
            size_bytes: size as i64,
            sha256: &sha256,
            source,
            created_at_ms: self.clock.now_ms(),
            original_filename: file_name.as_deref(),
            raw_format,
        };
        if media.is_none() {
            tracing::warn!(
                call_id = meta.call_id,
                "no waveform or analysis could be computed for this recording"
            );
        }
        if let Err(failed) = self.insert(&new, media.as_ref()).await {
            let committed = !failed.definite && self.committed_after_all(&key).await;
            if !committed {
                if failed.definite {
                    // The row certainly did not commit: the stored bytes belong to nothing.
                    if let Err(del) = self.blobs.delete(&key) {
                        tracing::warn!(
                            error = format!("{del:#}"),
                            key,
                            "could not remove orphan blob"
                        );
                    }
                }
                return Err(match failed.error {
                    InsertError::Duplicate => IngestError::Duplicate(meta.call_id.clone()),
                    InsertError::Db(e) => IngestError::Internal(e.into()),
                });
            }
        }
        recordings::get_by_call_id(&self.db, &meta.call_id)
            .await
            .context("reading back the new recording")?
            .ok_or_else(|| IngestError::Internal(anyhow::anyhow!("new recording vanished")))
    }

    /// The recording row and its media, in one transaction: a recording is never visible
    /// without its waveform.
    async fn insert(
        &self,
        new: &NewRecording<'_>,
        computed: Option<&(Peaks, Analysis)>,
    ) -> Result<(), InsertFailed> {
        // Anything failing before COMMIT is sent leaves nothing committed.
        let definite = |error: InsertError| InsertFailed {
            error,
            definite: true,
        };
        let mut tx = self
            .db
            .begin_write()
            .await
            .map_err(|e| definite(e.into()))?;
        let id = recordings::insert(&mut tx, new).await.map_err(definite)?;
        if let Some((peaks, analysis)) = computed {
            media::insert(&mut tx, id, peaks, analysis)
                .await
                .map_err(|e| definite(e.into()))?;
        }
        tx.commit().await.map_err(|e| InsertFailed {
            definite: refused_commit(&e),
            error: e.into(),
        })
    }

    /// After a commit that failed without saying whether it happened: whether the row is
    /// there after all (its blob key is this upload's alone). Then the upload is stored and is
    /// acknowledged like any other. When the row cannot be seen (or the check fails too) the
    /// bytes are kept all the same: a commit still on its way could land after this read, and
    /// a row without its bytes is lost audio, while orphan bytes only cost space until the
    /// sweeper removes them (`crate::sweep`).
    async fn committed_after_all(&self, key: &str) -> bool {
        match recordings::blob_key_exists(&self.db, key).await {
            Ok(true) => {
                tracing::warn!(
                    key,
                    "the commit reported a failure but the recording is stored"
                );
                true
            }
            Ok(false) => {
                tracing::warn!(key, "a commit failed ambiguously; keeping its bytes");
                false
            }
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    key,
                    "a commit failed ambiguously and could not be checked; keeping its bytes"
                );
                false
            }
        }
    }

    /// Full decode on a blocking thread, at most `decode_workers` at a time. A panic inside
    /// a decoder is caught and reported as an invalid file; it never unwinds into the server.
    pub async fn decode(
        &self,
        path: &Path,
        raw: Option<&'static RawFormat>,
    ) -> Result<Decoded, IngestError> {
        let slot = self
            .decode_slots
            .clone()
            .acquire_owned()
            .await
            .context("decode queue closed")?;
        let path = path.to_path_buf();
        let limits = self.limits;
        let gauge = self.decodes.clone();
        let result = tokio::task::spawn_blocking(move || {
            // Both live until the decode returns: dropping this request's future (a client
            // that disconnected) does not stop a blocking task, so it must not free its slot.
            let _slot = slot;
            let _running = Running::start(&gauge);
            std::panic::catch_unwind(|| decode_with_media(&path, raw, limits))
        })
        .await
        .context("decode task")?;
        match result {
            Ok(Ok(decoded)) => Ok(decoded),
            Ok(Err(AudioError::Invalid(msg))) => Err(IngestError::InvalidAudio(msg)),
            Ok(Err(AudioError::Unsupported(msg))) => Err(IngestError::Unsupported(msg)),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(panic = what, "decoder panicked on an uploaded file");
                Err(IngestError::InvalidAudio(
                    "the file is corrupt: the decoder could not make sense of it".into(),
                ))
            }
        }
    }
}

/// Decodes the whole file once, computing the waveform and the analysis from the same blocks
/// that are counted.
fn decode_with_media(
    path: &Path,
    raw: Option<&'static RawFormat>,
    limits: DecodeLimits,
) -> Result<Decoded, AudioError> {
    // Pixels and analysis frames are lengths of time, and the blocks come without their
    // rate: read it from the header first (a probe, nothing is decoded). A file that does not
    // open gets its error from `inspect_with`, worded as always.
    let rate = decode::open_as(path, raw).map_or(0, |(stream, _)| stream.sample_rate());
    let mut peaks = PeaksBuilder::new(rate);
    let mut analysis = AnalysisBuilder::new(rate);
    let audio = inspect_as(path, raw, limits, |block, channels| {
        peaks.push(block, channels);
        analysis.push(block, channels);
    })?;
    let media = if audio.sample_rate == rate {
        peaks.finish().zip(analysis.finish())
    } else {
        None
    };
    Ok(Decoded { audio, media })
}

#[cfg(test)]
mod tests {
    use super::base_name;

    #[test]
    fn client_file_names_lose_their_folders_and_control_characters() {
        assert_eq!(base_name("call.ulaw"), "call.ulaw");
        assert_eq!(
            base_name("/var/spool/asterisk/monitor/q7.sln16"),
            "q7.sln16"
        );
        assert_eq!(base_name("C:\\rec\\2026\\a.gsm"), "a.gsm");
        assert_eq!(base_name("a\u{0}b\n.al"), "ab.al");
        assert_eq!(base_name(&"x".repeat(1000)).chars().count(), 255);
        assert_eq!(base_name("录音/通话.ulaw"), "通话.ulaw");
    }
}
