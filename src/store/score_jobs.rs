//! Durable recomputations of a month's scores: written in the transaction of the change
//! that needs them (publication, an appeal decision, an override, a correction), claimed by
//! one node at a time, retried with a growing pause until one succeeds.

use sqlx::Row;

use super::{Db, Tx};

/// How long a claim holds: a node that dies while computing leaves the job to the next
/// node (or itself, restarted) after this. A month of 2 000 agents computes in about a
/// second, so this is ample.
pub const CLAIM_MS: i64 = 5 * 60_000;

pub struct NewJob<'a> {
    pub month: &'a str,
    pub cause: &'a str,
    pub detail: Option<&'a str>,
    pub by: Option<i64>,
    pub now_ms: i64,
}

/// Asks for the month to be computed, in the change's own transaction: if the change
/// commits, so does the request.
pub async fn enqueue(tx: &mut Tx, j: &NewJob<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO score_jobs (month, cause, detail, requested_by, requested_at_ms, \
         next_attempt_at_ms) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(j.month)
    .bind(j.cause)
    .bind(j.detail)
    .bind(j.by)
    .bind(j.now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct Job {
    pub id: i64,
    pub month: String,
    pub cause: String,
    pub detail: Option<String>,
    pub requested_by: Option<i64>,
    pub attempts: i64,
}

/// Claims the oldest due job nobody holds. Of two nodes claiming at once, the guarded
/// update lets one win (the other finds the row held and claims nothing this time).
pub async fn claim(db: &Db, now_ms: i64) -> Result<Option<Job>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE score_jobs SET claimed_until_ms = $1, attempts = attempts + 1 \
         WHERE id = (SELECT id FROM score_jobs WHERE done_at_ms IS NULL \
                     AND next_attempt_at_ms <= $2 AND claimed_until_ms <= $2 \
                     ORDER BY id LIMIT 1) \
           AND done_at_ms IS NULL AND claimed_until_ms <= $2 \
         RETURNING id, month, cause, detail, requested_by, attempts",
    )
    .bind(now_ms + CLAIM_MS)
    .bind(now_ms)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok(Job {
            id: r.try_get("id")?,
            month: r.try_get("month")?,
            cause: r.try_get("cause")?,
            detail: r.try_get("detail")?,
            requested_by: r.try_get("requested_by")?,
            attempts: r.try_get("attempts")?,
        })
    })
    .transpose()
}

/// The pending jobs of a month, read before computing it: a run that starts reading after
/// they committed covers them too.
pub async fn pending_of_month(db: &Db, month: &str) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query("SELECT id FROM score_jobs WHERE month = $1 AND done_at_ms IS NULL")
        .bind(month)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect()
}

/// Marks jobs done by `run_id`. Ids are integers of our own rows.
pub async fn done(db: &Db, ids: &[i64], run_id: i64, now_ms: i64) -> Result<(), sqlx::Error> {
    for chunk in ids.chunks(500) {
        let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
        let sql = format!(
            "UPDATE score_jobs SET done_at_ms = $1, run_id = $2, last_error = NULL \
             WHERE done_at_ms IS NULL AND id IN ({})",
            list.join(",")
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now_ms)
            .bind(run_id)
            .execute(&db.pool)
            .await?;
    }
    Ok(())
}

/// A failed attempt: released for a retry at `retry_at_ms`, with its error kept.
pub async fn failed(db: &Db, id: i64, error: &str, retry_at_ms: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE score_jobs SET claimed_until_ms = 0, next_attempt_at_ms = $1, last_error = $2 \
         WHERE id = $3",
    )
    .bind(retry_at_ms)
    .bind(error)
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Jobs not done yet (for the operator's view and tests): (month, attempts, last error).
pub async fn pending(db: &Db) -> Result<Vec<(String, i64, Option<String>)>, sqlx::Error> {
    sqlx::query(
        "SELECT month, attempts, last_error FROM score_jobs WHERE done_at_ms IS NULL ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("month")?,
            r.try_get("attempts")?,
            r.try_get("last_error")?,
        ))
    })
    .collect()
}
