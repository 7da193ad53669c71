//! Failed-login counters (see `domain::login` for the rules): shared by every node through
//! the database.

use sqlx::Row;

use super::Db;
use crate::domain::login::{FORGET_AFTER_MS, Rule};

/// The latest lock among `keys` still running at `now_ms`, if any.
pub async fn locked_until(db: &Db, keys: &[&str], now_ms: i64) -> Result<Option<i64>, sqlx::Error> {
    let mut latest = None;
    for key in keys {
        let row = sqlx::query(
            "SELECT locked_until_ms FROM login_failures WHERE key = $1 AND locked_until_ms > $2",
        )
        .bind(key)
        .bind(now_ms)
        .fetch_optional(&db.pool)
        .await?;
        if let Some(r) = row {
            let until: i64 = r.try_get("locked_until_ms")?;
            latest = Some(latest.map_or(until, |l: i64| l.max(until)));
        }
    }
    Ok(latest)
}

/// Counts a failure against `key` and locks it as `rule` says. The count is bumped in one
/// statement, so failures arriving at once from several nodes are all counted.
pub async fn failed(db: &Db, key: &str, rule: Rule, now_ms: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let failures: i64 = sqlx::query(
        "INSERT INTO login_failures (key, failures, last_at_ms) VALUES ($1, 1, $2) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN login_failures.last_at_ms < $3 THEN 1 \
                           ELSE login_failures.failures + 1 END, \
           last_at_ms = $2 \
         RETURNING failures",
    )
    .bind(key)
    .bind(now_ms)
    .bind(now_ms - FORGET_AFTER_MS)
    .fetch_one(&mut *tx)
    .await?
    .try_get("failures")?;
    let lock = rule.lock_ms(failures);
    if lock > 0 {
        sqlx::query("UPDATE login_failures SET locked_until_ms = $1 WHERE key = $2")
            .bind(now_ms + lock)
            .bind(key)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A successful login forgives the name's failures from that address (not the address's
/// own counter: one right password must not reset a machine that tried many names).
pub async fn succeeded(db: &Db, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE key = $1")
        .bind(key)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Removes counters nobody has failed on for a day.
pub async fn sweep(db: &Db, now_ms: i64) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM login_failures WHERE last_at_ms < $1 AND locked_until_ms < $2")
            .bind(now_ms - 86_400_000)
            .bind(now_ms)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}
