//! API tokens for call recorders (`Authorization: Bearer ...`).

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

/// Creates a token and returns it; only its hash is kept, so it is shown once.
pub async fn create(db: &Db, name: &str) -> Result<String, TokenError> {
    let token = format!("cgt_{}", new_token());
    let mut tx = db.begin_write().await?;
    let res =
        sqlx::query("INSERT INTO api_tokens (name, token_hash, created_at_ms) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(hash_token(&token))
            .bind(now_ms())
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

/// The name of the live token, if this is one.
pub async fn verify(db: &Db, token: &str) -> Result<Option<String>, sqlx::Error> {
    let row =
        sqlx::query("SELECT name FROM api_tokens WHERE token_hash = $1 AND revoked_at_ms IS NULL")
            .bind(hash_token(token))
            .fetch_optional(&db.pool)
            .await?;
    row.map(|r| r.try_get("name")).transpose()
}
