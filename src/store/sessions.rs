//! Server-side login sessions. The cookie carries a random token; the table keeps only its
//! SHA-256, so logging out (deleting the row) really ends the session everywhere.

use super::users::{USER_COLUMNS, user_from_row};
use super::{Db, now_ms};
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
    // One query: every API request starts here.
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id \
         LEFT JOIN teams t ON t.id = u.team_id \
         WHERE s.token_hash = $1 AND s.expires_at_ms > $2 AND u.active = 1"
    ));
    let row = sqlx::query(sql)
        .bind(hash_token(token))
        .bind(now_ms())
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub async fn delete(db: &Db, token: &str) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(hash_token(token))
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
