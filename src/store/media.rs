//! What ingest computes from a recording's audio for the player: waveform peaks and the call
//! analysis. One row per recording, written in the same transaction as the recording row.

use sha2::Digest;
use sqlx::Row;

use super::{Db, Tx, now_ms};
use crate::audio::analysis::Analysis;
use crate::audio::peaks::Peaks;

/// The stored media of one recording.
#[derive(Clone, Debug)]
pub struct Media {
    pub peaks: Peaks,
    pub analysis: Analysis,
    /// SHA-256 (hex) of the stored peaks and analysis; the routes' ETags derive from it.
    pub digest: String,
}

fn digest(peaks_bytes: &[u8], spp: u32, analysis_json: &str) -> String {
    let mut h = sha2::Sha256::new();
    h.update(spp.to_le_bytes());
    h.update((peaks_bytes.len() as u64).to_le_bytes());
    h.update(peaks_bytes);
    h.update(analysis_json.as_bytes());
    hex::encode(h.finalize())
}

pub async fn insert(
    tx: &mut Tx,
    recording_id: i64,
    peaks: &Peaks,
    analysis: &Analysis,
) -> Result<(), sqlx::Error> {
    let bytes = peaks.to_bytes();
    let analysis_json =
        serde_json::to_string(analysis).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let digest = digest(&bytes, peaks.samples_per_pixel, &analysis_json);
    sqlx::query(
        "INSERT INTO recording_media (recording_id, samples_per_pixel, channels, peaks, analysis, \
         digest, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(recording_id)
    .bind(i64::from(peaks.samples_per_pixel))
    .bind(peaks.channels() as i64)
    .bind(bytes)
    .bind(analysis_json)
    .bind(digest)
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The media of a recording; `None` when none was stored. A row that does not read back is
/// a decode error (never silently half a waveform).
pub async fn get(db: &Db, recording_id: i64) -> Result<Option<Media>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT samples_per_pixel, channels, peaks, analysis, digest FROM recording_media \
         WHERE recording_id = $1",
    )
    .bind(recording_id)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let spp: i64 = row.try_get("samples_per_pixel")?;
    let channels: i64 = row.try_get("channels")?;
    let bytes: Vec<u8> = row.try_get("peaks")?;
    let analysis: String = row.try_get("analysis")?;
    let bad = |what: &str| {
        sqlx::Error::Decode(format!("recording_media of recording {recording_id}: {what}").into())
    };
    let peaks = Peaks::from_bytes(
        u32::try_from(spp).map_err(|_| bad("samples_per_pixel out of range"))?,
        usize::try_from(channels).map_err(|_| bad("channels out of range"))?,
        &bytes,
    )
    .ok_or_else(|| bad("peaks do not fit the channel count"))?;
    let analysis: Analysis =
        serde_json::from_str(&analysis).map_err(|e| bad(&format!("analysis: {e}")))?;
    Ok(Some(Media {
        peaks,
        analysis,
        digest: row.try_get("digest")?,
    }))
}
