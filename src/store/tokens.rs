//! API tokens for call recorders (`Authorization: Bearer ...`): created, listed, revoked,
//! optionally expiring.

use sqlx::Row;

use super::sessions::{hash_token, new_token};
use super::{Db, is_unique_violation, now_ms};

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token named {0:?} already exists")]
    NameTaken(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Creates a token and returns it; only its hash is kept, so it is shown once. Without
/// `expires_at_ms` it lasts until revoked.
pub async fn create_expiring(
    db: &Db,
    name: &str,
    expires_at_ms: Option<i64>,
    created_by: Option<i64>,
) -> Result<String, TokenError> {
    let token = format!("cgt_{}", new_token());
    let mut tx = db.begin_write().await?;
    let res = sqlx::query(
        "INSERT INTO api_tokens (name, token_hash, created_at_ms, expires_at_ms, created_by) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(name)
    .bind(hash_token(&token))
    .bind(now_ms())
    .bind(expires_at_ms)
    .bind(created_by)
    .execute(&mut *tx)
    .await;
    match res {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Err(TokenError::NameTaken(name.into())),
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    Ok(token)
}

/// A token that lasts until revoked.
pub async fn create(db: &Db, name: &str) -> Result<String, TokenError> {
    create_expiring(db, name, None, None).await
}

/// The name of the live token (not revoked, not expired), if this is one.
pub async fn verify(db: &Db, token: &str) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT name FROM api_tokens WHERE token_hash = $1 AND revoked_at_ms IS NULL \
         AND (expires_at_ms IS NULL OR expires_at_ms > $2)",
    )
    .bind(hash_token(token))
    .bind(now_ms())
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| r.try_get("name")).transpose()
}

/// A token as its list shows it (never the token itself).
#[derive(Clone, Debug, serde::Serialize)]
pub struct TokenRow {
    pub name: String,
    pub created_at_ms: i64,
    pub created_by: Option<String>,
    pub expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
}

pub async fn list(db: &Db) -> Result<Vec<TokenRow>, sqlx::Error> {
    sqlx::query(
        "SELECT t.name, t.created_at_ms, u.username AS created_by, t.expires_at_ms, \
         t.revoked_at_ms FROM api_tokens t LEFT JOIN users u ON u.id = t.created_by \
         ORDER BY t.name",
    )
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| {
        Ok(TokenRow {
            name: r.try_get("name")?,
            created_at_ms: r.try_get("created_at_ms")?,
            created_by: r.try_get("created_by")?,
            expires_at_ms: r.try_get("expires_at_ms")?,
            revoked_at_ms: r.try_get("revoked_at_ms")?,
        })
    })
    .collect()
}

/// Revokes a token by name (the first revocation counts). False when there is no such token.
pub async fn revoke(db: &Db, name: &str, now_ms: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at_ms = COALESCE(revoked_at_ms, $1) WHERE name = $2",
    )
    .bind(now_ms)
    .bind(name)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}
