//! Recordings: the row that describes a stored call.

use sqlx::Row;

use super::users::{SCOPE_FILTER, scope_params};
use super::{Db, Tx, is_unique_violation};
use crate::audio::AudioInfo;
use crate::domain::access::Viewer;
use crate::domain::call::CallMeta;

pub struct NewRecording<'a> {
    pub meta: &'a CallMeta,
    pub agent_id: i64,
    pub channel_layout: &'a str,
    pub audio: &'a AudioInfo,
    pub short_call: bool,
    pub blob_key: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a str,
    /// `api:<token name>`, `api:<username>`, `import` or `demo`.
    pub source: &'a str,
    pub created_at_ms: i64,
    /// The name the file was uploaded or imported under (without folders).
    pub original_filename: Option<&'a str>,
    /// For a headerless file: the raw format (`audio::raw`) it decodes as.
    pub raw_format: Option<&'a str>,
}

#[derive(Clone, Debug)]
pub struct Recording {
    pub id: i64,
    pub call_id: String,
    pub agent_id: i64,
    pub agent: String,
    pub agent_name: String,
    pub team_id: Option<i64>,
    pub team: Option<String>,
    pub started_at_ms: i64,
    pub direction: String,
    pub queue: String,
    pub customer_number: Option<String>,
    pub channel_layout: String,
    pub container: String,
    pub codec: String,
    pub sample_rate: i64,
    pub channels: i64,
    pub frames: i64,
    pub duration_ms: i64,
    pub damaged: bool,
    pub damage_reason: Option<String>,
    pub short_call: bool,
    pub blob_key: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub source: String,
    pub created_at_ms: i64,
    pub original_filename: Option<String>,
    pub raw_format: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    #[error("call id already exists")]
    Duplicate,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub async fn insert(tx: &mut Tx, r: &NewRecording<'_>) -> Result<i64, InsertError> {
    let res = sqlx::query(
        "INSERT INTO recordings (call_id, agent_id, started_at_ms, direction, queue, customer_number, \
         channel_layout, container, codec, sample_rate, channels, frames, duration_ms, damaged, \
         damage_reason, short_call, blob_key, size_bytes, sha256, source, created_at_ms, \
         original_filename, raw_format) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, $22, $23) RETURNING id",
    )
    .bind(&r.meta.call_id)
    .bind(r.agent_id)
    .bind(r.meta.started_at_ms)
    .bind(r.meta.direction.as_str())
    .bind(&r.meta.queue)
    .bind(r.meta.customer_number.as_deref())
    .bind(r.channel_layout)
    .bind(&r.audio.container)
    .bind(&r.audio.codec)
    .bind(i64::from(r.audio.sample_rate))
    .bind(i64::from(r.audio.channels))
    .bind(r.audio.frames as i64)
    .bind(r.audio.duration_ms as i64)
    .bind(i64::from(r.audio.damaged))
    .bind(r.audio.damage_reason.as_deref())
    .bind(i64::from(r.short_call))
    .bind(r.blob_key)
    .bind(r.size_bytes)
    .bind(r.sha256)
    .bind(r.source)
    .bind(r.created_at_ms)
    .bind(r.original_filename)
    .bind(r.raw_format)
    .fetch_one(&mut **tx)
    .await;
    match res {
        Ok(row) => Ok(row.try_get("id")?),
        Err(e) if is_unique_violation(&e) => Err(InsertError::Duplicate),
        Err(e) => Err(e.into()),
    }
}

pub async fn call_id_exists(db: &Db, call_id: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT 1 AS one FROM recordings WHERE call_id = $1")
            .bind(call_id)
            .fetch_optional(&db.pool)
            .await?
            .is_some(),
    )
}

const COLUMNS: &str = "r.id, r.call_id, r.agent_id, u.username AS agent, u.name AS agent_name, \
    u.team_id, t.name AS team, r.started_at_ms, r.direction, r.queue, r.customer_number, \
    r.channel_layout, r.container, r.codec, r.sample_rate, r.channels, r.frames, r.duration_ms, \
    r.damaged, r.damage_reason, r.short_call, r.blob_key, r.size_bytes, r.sha256, r.source, \
    r.created_at_ms, r.original_filename, r.raw_format";

const FROM: &str =
    "FROM recordings r JOIN users u ON u.id = r.agent_id LEFT JOIN teams t ON t.id = u.team_id";

fn from_row(row: &sqlx::any::AnyRow) -> Result<Recording, sqlx::Error> {
    Ok(Recording {
        id: row.try_get("id")?,
        call_id: row.try_get("call_id")?,
        agent_id: row.try_get("agent_id")?,
        agent: row.try_get("agent")?,
        agent_name: row.try_get("agent_name")?,
        team_id: row.try_get("team_id")?,
        team: row.try_get("team")?,
        started_at_ms: row.try_get("started_at_ms")?,
        direction: row.try_get("direction")?,
        queue: row.try_get("queue")?,
        customer_number: row.try_get("customer_number")?,
        channel_layout: row.try_get("channel_layout")?,
        container: row.try_get("container")?,
        codec: row.try_get("codec")?,
        sample_rate: row.try_get("sample_rate")?,
        channels: row.try_get("channels")?,
        frames: row.try_get("frames")?,
        duration_ms: row.try_get("duration_ms")?,
        damaged: row.try_get::<i64, _>("damaged")? != 0,
        damage_reason: row.try_get("damage_reason")?,
        short_call: row.try_get::<i64, _>("short_call")? != 0,
        blob_key: row.try_get("blob_key")?,
        size_bytes: row.try_get("size_bytes")?,
        sha256: row.try_get("sha256")?,
        source: row.try_get("source")?,
        created_at_ms: row.try_get("created_at_ms")?,
        original_filename: row.try_get("original_filename")?,
        raw_format: row.try_get("raw_format")?,
    })
}

/// A recording the viewer may see; `None` both when it does not exist and when it is not
/// theirs, so the answer reveals nothing.
pub async fn get_visible(
    db: &Db,
    viewer: &Viewer,
    id: i64,
) -> Result<Option<Recording>, sqlx::Error> {
    let (kind, scope_id) = scope_params(viewer.scope());
    // Besides their scope, a person may open a call they were given to grade: a calibration
    // call can be another team's.
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE r.id = $3 AND ({SCOPE_FILTER} OR EXISTS \
             (SELECT 1 FROM evaluations e WHERE e.recording_id = r.id AND e.grader_id = $4))"
    ));
    let row = sqlx::query(sql)
        .bind(kind)
        .bind(scope_id)
        .bind(id)
        .bind(viewer.user_id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn get_by_call_id(db: &Db, call_id: &str) -> Result<Option<Recording>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} {FROM} WHERE r.call_id = $1"));
    let row = sqlx::query(sql)
        .bind(call_id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Whether a recording row refers to these stored bytes.
pub async fn blob_key_exists(db: &Db, key: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT 1 AS one FROM recordings WHERE blob_key = $1 LIMIT 1")
            .bind(key)
            .fetch_optional(&db.pool)
            .await?
            .is_some(),
    )
}

/// Those of `keys` that some recording row refers to.
pub async fn referenced_blob_keys(
    db: &Db,
    keys: &[String],
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    let mut found = std::collections::HashSet::new();
    // A few hundred placeholders per query: well under either backend's limit.
    for chunk in keys.chunks(500) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT DISTINCT blob_key FROM recordings WHERE blob_key IN ({})",
            marks.join(", ")
        ));
        let mut query = sqlx::query(sql);
        for key in chunk {
            query = query.bind(key);
        }
        for row in query.fetch_all(&db.pool).await? {
            found.insert(row.try_get("blob_key")?);
        }
    }
    Ok(found)
}

#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub agent_id: Option<i64>,
    /// `[start, end)` in epoch milliseconds.
    pub range_ms: Option<(i64, i64)>,
    /// Continue after this `(started_at_ms, id)`, newest first.
    pub after: Option<(i64, i64)>,
    /// Exact call id, or exact customer number (finding a complained-about call).
    pub call_id: Option<String>,
    pub customer_number: Option<String>,
    pub limit: i64,
}

/// Newest first, keyset-paginated (stable while new calls arrive).
pub async fn list_visible(
    db: &Db,
    viewer: &Viewer,
    f: &ListFilter,
) -> Result<Vec<Recording>, sqlx::Error> {
    let (kind, scope_id) = scope_params(viewer.scope());
    let (from, to) = f.range_ms.unwrap_or((i64::MIN, i64::MAX));
    let (after_ts, after_id) = f.after.unwrap_or((i64::MAX, i64::MAX));
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE {SCOPE_FILTER} \
         AND ($3 = 0 OR r.agent_id = $4) \
         AND r.started_at_ms >= $5 AND r.started_at_ms < $6 \
         AND (r.started_at_ms < $7 OR (r.started_at_ms = $7 AND r.id < $8)) \
         AND ($10 = '' OR r.call_id = $10) AND ($11 = '' OR r.customer_number = $11) \
         ORDER BY r.started_at_ms DESC, r.id DESC LIMIT $9"
    ));
    let rows = sqlx::query(sql)
        .bind(kind)
        .bind(scope_id)
        .bind(i64::from(f.agent_id.is_some()))
        .bind(f.agent_id.unwrap_or(0))
        .bind(from)
        .bind(to)
        .bind(after_ts)
        .bind(after_id)
        .bind(f.limit)
        .bind(f.call_id.as_deref().unwrap_or(""))
        .bind(f.customer_number.as_deref().unwrap_or(""))
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(from_row).collect()
}

pub async fn count(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM recordings")
        .fetch_one(&db.pool)
        .await?
        .try_get("n")
}

/// Demo only: recordings with source `demo` "arrived" `delay_ms` after their start (or now,
/// if that is still in the future).
pub async fn backdate_demo_arrivals(db: &Db, delay_ms: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE recordings SET created_at_ms = started_at_ms + $1 \
         WHERE source = 'demo' AND started_at_ms + $1 < created_at_ms",
    )
    .bind(delay_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}
