//! What people did while listening to a call: the audio the server streamed to each person
//! (served), the parts of it their player really played as the server credited them
//! (coverage, required before a grader may submit), and comments pinned to a moment.
//!
//! Served audio and coverage are each kept as one row per (recording, person): merged,
//! sorted intervals in milliseconds as JSON text (served stretches with the time they were
//! first served; coverage with its total).

use sqlx::Row;

use super::{Db, now_ms};
pub use crate::domain::listening::{Credit, Interval, Served, merge};
use crate::domain::listening::{credit, merge_served};

/// A stored union never grows past this many separate intervals (a real player produces a
/// handful; this bounds what a misbehaving client can make the server store).
pub const MAX_STORED_INTERVALS: usize = 10_000;

/// What one person has listened to of one recording.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Merged (disjoint, not touching) and sorted.
    pub intervals: Vec<Interval>,
    pub listened_ms: i64,
}

impl Coverage {
    pub fn from_intervals(intervals: Vec<Interval>) -> Coverage {
        let listened_ms = intervals.iter().map(|[s, e]| e - s).sum();
        Coverage {
            intervals,
            listened_ms,
        }
    }

    /// The share of the recording listened to, 0.0..=1.0. A recording too short to hold a
    /// millisecond counts as fully heard: nothing could be played, and nothing is missed.
    pub fn fraction(&self, duration_ms: i64) -> f64 {
        if duration_ms <= 0 {
            return 1.0;
        }
        (self.listened_ms as f64 / duration_ms as f64).clamp(0.0, 1.0)
    }
}

/// The union would hold more than [`MAX_STORED_INTERVALS`] separate intervals.
#[derive(Debug, PartialEq, Eq)]
pub struct TooManyIntervals;

pub async fn coverage(db: &Db, recording_id: i64, user_id: i64) -> Result<Coverage, sqlx::Error> {
    let row = sqlx::query(
        "SELECT intervals FROM listen_coverage WHERE recording_id = $1 AND user_id = $2",
    )
    .bind(recording_id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    match row {
        Some(row) => Ok(Coverage::from_intervals(decode_intervals(
            &row.try_get::<String, _>("intervals")?,
        )?)),
        None => Ok(Coverage::default()),
    }
}

/// What a coverage post led to: the person's coverage now, and what the post earned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posted {
    pub coverage: Coverage,
    pub credit: Credit,
}

/// Credits played intervals to a person's coverage of a recording as far as the audio served
/// to them allows at `now_ms` (`domain::listening::credit`), in one write transaction:
/// concurrent posts from several tabs all land (none overwrites another).
pub async fn add_coverage(
    db: &Db,
    recording_id: i64,
    user_id: i64,
    duration_ms: i64,
    claimed: &[Interval],
    now_ms: i64,
) -> Result<Result<Posted, TooManyIntervals>, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    // Creating or touching the row first locks it on PostgreSQL (SQLite's BEGIN IMMEDIATE
    // already holds the write lock), so the read below sees every earlier commit and no
    // other writer can slip in between the read and the write.
    sqlx::query(
        "INSERT INTO listen_coverage (recording_id, user_id, intervals, listened_ms, updated_at_ms) \
         VALUES ($1, $2, '[]', 0, $3) \
         ON CONFLICT (recording_id, user_id) DO UPDATE SET updated_at_ms = excluded.updated_at_ms",
    )
    .bind(recording_id)
    .bind(user_id)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    let stored: String = sqlx::query(
        "SELECT intervals FROM listen_coverage WHERE recording_id = $1 AND user_id = $2",
    )
    .bind(recording_id)
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?
    .try_get("intervals")?;
    let covered = decode_intervals(&stored)?;
    let served = read_served(&mut tx, recording_id, user_id).await?;
    let claimed = merge(&[], claimed, duration_ms);
    let earned = credit(&served, &covered, &claimed, now_ms);
    let merged = merge(&covered, &earned.credited, duration_ms);
    if merged.len() > MAX_STORED_INTERVALS {
        tx.rollback().await?;
        return Ok(Err(TooManyIntervals));
    }
    let coverage = Coverage::from_intervals(merged);
    let text =
        serde_json::to_string(&coverage.intervals).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "UPDATE listen_coverage SET intervals = $1, listened_ms = $2, updated_at_ms = $3 \
         WHERE recording_id = $4 AND user_id = $5",
    )
    .bind(text)
    .bind(coverage.listened_ms)
    .bind(now_ms)
    .bind(recording_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(Posted {
        coverage,
        credit: earned,
    }))
}

async fn read_served(
    conn: &mut sqlx::AnyConnection,
    recording_id: i64,
    user_id: i64,
) -> Result<Vec<Served>, sqlx::Error> {
    let row =
        sqlx::query("SELECT spans FROM served_audio WHERE recording_id = $1 AND user_id = $2")
            .bind(recording_id)
            .bind(user_id)
            .fetch_optional(conn)
            .await?;
    match row {
        Some(row) => decode_served(&row.try_get::<String, _>("spans")?),
        None => Ok(Vec::new()),
    }
}

/// The stretches of a recording served to a person so far.
pub async fn served(db: &Db, recording_id: i64, user_id: i64) -> Result<Vec<Served>, sqlx::Error> {
    let mut conn = db.pool.acquire().await?;
    read_served(&mut conn, recording_id, user_id).await
}

/// Records that `[start_ms, end_ms)` of a recording was served to a person at
/// `served_at_ms`: one small write transaction merging it into their one row (a stretch
/// served again keeps its first time). Beyond [`MAX_STORED_INTERVALS`] separate stretches
/// the newest is not kept (its audio simply earns no credit).
pub async fn add_served(
    db: &Db,
    recording_id: i64,
    user_id: i64,
    duration_ms: i64,
    span: Served,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    // As in `add_coverage`: create or touch the row first, which locks it on PostgreSQL.
    sqlx::query(
        "INSERT INTO served_audio (recording_id, user_id, spans, updated_at_ms) \
         VALUES ($1, $2, '[]', $3) \
         ON CONFLICT (recording_id, user_id) DO UPDATE SET updated_at_ms = excluded.updated_at_ms",
    )
    .bind(recording_id)
    .bind(user_id)
    .bind(span[2])
    .execute(&mut *tx)
    .await?;
    let existing = read_served(&mut tx, recording_id, user_id).await?;
    let merged = merge_served(&existing, span, duration_ms);
    if merged.len() > MAX_STORED_INTERVALS || merged == existing {
        return tx.commit().await;
    }
    let text = serde_json::to_string(&merged).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query("UPDATE served_audio SET spans = $1 WHERE recording_id = $2 AND user_id = $3")
        .bind(text)
        .bind(recording_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

fn decode_served(text: &str) -> Result<Vec<Served>, sqlx::Error> {
    serde_json::from_str(text)
        .map_err(|e| sqlx::Error::Decode(format!("stored served audio: {e}").into()))
}

fn decode_intervals(text: &str) -> Result<Vec<Interval>, sqlx::Error> {
    serde_json::from_str(text)
        .map_err(|e| sqlx::Error::Decode(format!("stored listen coverage: {e}").into()))
}

/// A comment pinned to a moment of a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub id: i64,
    pub at_ms: i64,
    pub text: String,
    /// Username and display name of the author.
    pub author: String,
    pub author_name: String,
    pub created_at_ms: i64,
}

const COMMENT_COLUMNS: &str = "c.id, c.at_ms, c.body, u.username AS author, u.name AS author_name, \
     c.created_at_ms FROM recording_comments c JOIN users u ON u.id = c.author_id";

fn comment_from_row(row: &sqlx::any::AnyRow) -> Result<Comment, sqlx::Error> {
    Ok(Comment {
        id: row.try_get("id")?,
        at_ms: row.try_get("at_ms")?,
        text: row.try_get("body")?,
        author: row.try_get("author")?,
        author_name: row.try_get("author_name")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

/// The comments on a recording, in call time order (then in the order they were written);
/// with `only_author`, that person's only (someone grading the call blind).
pub async fn comments(
    db: &Db,
    recording_id: i64,
    only_author: Option<i64>,
) -> Result<Vec<Comment>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COMMENT_COLUMNS} WHERE c.recording_id = $1 AND ($2 < 0 OR c.author_id = $2) \
         ORDER BY c.at_ms, c.id"
    ));
    let rows = sqlx::query(sql)
        .bind(recording_id)
        .bind(only_author.unwrap_or(-1))
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(comment_from_row).collect()
}

pub async fn add_comment(
    db: &Db,
    recording_id: i64,
    author_id: i64,
    at_ms: i64,
    text: &str,
) -> Result<Comment, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO recording_comments (recording_id, author_id, at_ms, body, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(recording_id)
    .bind(author_id)
    .bind(at_ms)
    .bind(text)
    .bind(now_ms())
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COMMENT_COLUMNS} WHERE c.id = $1"));
    let comment = comment_from_row(&sqlx::query(sql).bind(id).fetch_one(&mut *tx).await?)?;
    tx.commit().await?;
    Ok(comment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_and_touching_intervals_join() {
        assert_eq!(
            merge(
                &[],
                &[[1000, 3000], [0, 2000], [5000, 6000], [3000, 4000]],
                10_000
            ),
            vec![[0, 4000], [5000, 6000]]
        );
    }

    #[test]
    fn merging_is_idempotent_and_order_free() {
        let a = [[0, 1500], [4000, 4500]];
        let b = [[1000, 2000], [7000, 9000]];
        let once = merge(&[], &a, 8000);
        let both = merge(&once, &b, 8000);
        assert_eq!(both, vec![[0, 2000], [4000, 4500], [7000, 8000]]);
        assert_eq!(merge(&both, &b, 8000), both);
        assert_eq!(merge(&both, &a, 8000), both);
        assert_eq!(merge(&merge(&[], &b, 8000), &a, 8000), both);
    }

    #[test]
    fn intervals_are_clipped_to_the_recording() {
        assert_eq!(
            merge(&[], &[[-500, 100], [7900, 9000], [9000, 9500]], 8000),
            vec![[0, 100], [7900, 8000]]
        );
        assert_eq!(merge(&[], &[[300, 300]], 8000), Vec::<Interval>::new());
    }

    #[test]
    fn listened_time_and_fraction() {
        let c = Coverage::from_intervals(merge(&[], &[[0, 2000], [6000, 8000]], 8000));
        assert_eq!(c.listened_ms, 4000);
        assert_eq!(c.fraction(8000), 0.5);
        assert_eq!(Coverage::default().fraction(8000), 0.0);
        assert_eq!(
            Coverage::from_intervals(vec![[0, 8000]]).fraction(8000),
            1.0
        );
        assert_eq!(Coverage::default().fraction(0), 1.0);
    }
}
