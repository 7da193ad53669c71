//! Server-side login sessions. The cookie carries a random token; the table keeps only its
//! SHA-256, so logging out (deleting the row) really ends the session everywhere.

use sqlx::Row;

use super::{Db, now_ms, users};
use crate::store::users::User;

pub fn hash_token(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Starts a session and returns the cookie value: always a fresh id, so a session id planted
/// before login is worthless after it.
pub async fn create(db: &Db, user_id: i64, ttl_ms: i64) -> Result<String, sqlx::Error> {
    let token = new_token();
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    // Housekeeping on the way: expired sessions of anyone are deleted here.
    sqlx::query("DELETE FROM sessions WHERE expires_at_ms < $1")
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(hash_token(&token))
    .bind(user_id)
    .bind(now)
    .bind(now + ttl_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// The user a live session belongs to.
pub async fn lookup(db: &Db, token: &str) -> Result<Option<User>, sqlx::Error> {
    let row =
        sqlx::query("SELECT user_id FROM sessions WHERE token_hash = $1 AND expires_at_ms > $2")
            .bind(hash_token(token))
            .bind(now_ms())
            .fetch_optional(&db.pool)
            .await?;
    match row {
        Some(row) => users::get(db, row.try_get("user_id")?).await,
        None => Ok(None),
    }
}

pub async fn delete(db: &Db, token: &str) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(hash_token(token))
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
