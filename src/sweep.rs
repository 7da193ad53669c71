//! Removing stored bytes nothing refers to: upload temporary files left by a crash or a
//! killed request, and orphan blobs (bytes whose recording row never committed, or whose
//! COMMIT failed without saying whether it happened: ingest keeps those, see
//! `Ingestor::ingest`).
//!
//! Only what was last written more than [`MIN_AGE`] ago is looked at. An upload's row commits
//! within moments of its bytes being written (a decode is bounded), so a day later the
//! database's answer is final: a blob no row refers to then never will be. Bytes a row refers
//! to are never removed. Every node may sweep at the same time: removing a file another node
//! removed already is not an error.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;

use crate::blobs::BlobStore;
use crate::store::{Db, recordings};

/// How old a file must be before it may go.
pub const MIN_AGE: Duration = Duration::from_secs(24 * 3600);

/// How often the background task sweeps (each pass lists every stored blob).
pub const EVERY: Duration = Duration::from_secs(6 * 3600);

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub temp_files: usize,
    pub orphan_blobs: usize,
}

/// Removes temporary files and orphan blobs last written before `now` − [`MIN_AGE`]. File
/// times are the file system's, so `now` is the system clock's, not the service's.
pub async fn sweep(db: &Db, blobs: Arc<dyn BlobStore>, now: SystemTime) -> anyhow::Result<Swept> {
    let before = now.checked_sub(MIN_AGE).unwrap_or(SystemTime::UNIX_EPOCH);
    let mut swept = Swept {
        temp_files: blocking(&blobs, move |b| b.remove_temp_files_before(before)).await?,
        orphan_blobs: 0,
    };
    for group in blocking(&blobs, |b| b.key_groups()).await? {
        let old = blocking(&blobs, move |b| b.keys_written_before(&group, before)).await?;
        if old.is_empty() {
            continue;
        }
        let referenced = recordings::referenced_blob_keys(db, &old)
            .await
            .context("looking up which stored bytes recordings refer to")?;
        let orphans: Vec<String> = old
            .into_iter()
            .filter(|k| !referenced.contains(k))
            .collect();
        for key in &orphans {
            tracing::info!(key, "removing orphan recording bytes");
        }
        swept.orphan_blobs += orphans.len();
        blocking(&blobs, move |b| {
            orphans.iter().try_for_each(|k| b.delete(k))
        })
        .await?;
    }
    Ok(swept)
}

/// File system work on the blocking pool.
async fn blocking<T: Send + 'static>(
    blobs: &Arc<dyn BlobStore>,
    work: impl FnOnce(&dyn BlobStore) -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let blobs = blobs.clone();
    tokio::task::spawn_blocking(move || work(blobs.as_ref()))
        .await
        .context("sweep task")?
}

/// One sweep from the background task: what it removed is logged, and so is a failure (the
/// next sweep tries again).
pub async fn sweep_logged(db: &Db, blobs: Arc<dyn BlobStore>) {
    match sweep(db, blobs, SystemTime::now()).await {
        Ok(s) if s != Swept::default() => tracing::info!(
            temp_files = s.temp_files,
            orphan_blobs = s.orphan_blobs,
            "swept stored bytes nothing refers to"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(error = format!("{e:#}"), "sweeping stored bytes failed"),
    }
}
