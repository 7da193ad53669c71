//! In-app notifications and the webhook outbox. Both are written in the transaction of the
//! event they tell about, so an event is never committed without its notice (nor a notice
//! without its event).

use sqlx::Row;

use super::{Db, Tx};

/// Notifies each user once per `dedupe_key` (a repeated check writes nothing new).
pub async fn notify(
    tx: &mut Tx,
    users: &[i64],
    kind: &str,
    payload: &str,
    dedupe_key: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    for user in users {
        sqlx::query(
            "INSERT INTO notifications (user_id, kind, payload, dedupe_key, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, dedupe_key) DO NOTHING",
        )
        .bind(user)
        .bind(kind)
        .bind(payload)
        .bind(dedupe_key)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Queues an event for the webhook (once per `dedupe_key`).
pub async fn enqueue_webhook(
    tx: &mut Tx,
    event: &str,
    payload: &str,
    dedupe_key: &str,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_outbox (event, payload, dedupe_key, created_at_ms, next_attempt_at_ms) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(event)
    .bind(payload)
    .bind(dedupe_key)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct Notification {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub created_at_ms: i64,
    pub read_at_ms: Option<i64>,
}

/// A user's notifications, newest first, and how many are unread.
pub async fn list(
    db: &Db,
    user_id: i64,
    unread_only: bool,
    limit: i64,
) -> Result<(i64, Vec<Notification>), sqlx::Error> {
    let unread: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM notifications WHERE user_id = $1 AND read_at_ms IS NULL",
    )
    .bind(user_id)
    .fetch_one(&db.pool)
    .await?
    .try_get("n")?;
    let rows = sqlx::query(
        "SELECT id, kind, payload, created_at_ms, read_at_ms FROM notifications \
         WHERE user_id = $1 AND ($2 = 0 OR read_at_ms IS NULL) \
         ORDER BY created_at_ms DESC, id DESC LIMIT $3",
    )
    .bind(user_id)
    .bind(i64::from(unread_only))
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(Notification {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                payload: r.try_get("payload")?,
                created_at_ms: r.try_get("created_at_ms")?,
                read_at_ms: r.try_get("read_at_ms")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((unread, items))
}

/// Marks some (`Some(ids)`) or all of a user's notifications read; others' are untouched.
pub async fn mark_read(
    db: &Db,
    user_id: i64,
    ids: Option<&[i64]>,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    match ids {
        None => {
            sqlx::query(
                "UPDATE notifications SET read_at_ms = $1 WHERE user_id = $2 AND read_at_ms IS NULL",
            )
            .bind(now_ms)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        }
        Some(ids) => {
            for id in ids {
                sqlx::query(
                    "UPDATE notifications SET read_at_ms = $1 \
                     WHERE user_id = $2 AND id = $3 AND read_at_ms IS NULL",
                )
                .bind(now_ms)
                .bind(user_id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    tx.commit().await
}

#[derive(Clone, Debug)]
pub struct OutboxItem {
    pub id: i64,
    pub event: String,
    pub payload: String,
    pub attempts: i64,
}

/// Events due for (another) delivery attempt, oldest first.
pub async fn due_webhooks(
    db: &Db,
    now_ms: i64,
    limit: i64,
) -> Result<Vec<OutboxItem>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, event, payload, attempts FROM webhook_outbox \
         WHERE delivered_at_ms IS NULL AND next_attempt_at_ms <= $1 ORDER BY id LIMIT $2",
    )
    .bind(now_ms)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OutboxItem {
                id: r.try_get("id")?,
                event: r.try_get("event")?,
                payload: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect()
}

/// How long a node holds an event it is delivering: longer than a delivery attempt may take
/// (10 s), so two nodes never post the same event at once; a node that dies meanwhile leaves
/// it to another after this.
pub const DELIVERY_CLAIM_MS: i64 = 60_000;

/// Claims a due event for delivery by this node: true if it is ours. Of several nodes
/// claiming at once, the guarded update lets one win.
pub async fn claim_webhook(db: &Db, id: i64, now_ms: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE webhook_outbox SET next_attempt_at_ms = $1 \
         WHERE id = $2 AND delivered_at_ms IS NULL AND next_attempt_at_ms <= $3",
    )
    .bind(now_ms + DELIVERY_CLAIM_MS)
    .bind(id)
    .bind(now_ms)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a delivery attempt: delivered, or failed with the error and the next try.
pub async fn webhook_attempted(
    db: &Db,
    id: i64,
    outcome: Result<(), &str>,
    now_ms: i64,
    next_attempt_at_ms: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    match outcome {
        Ok(()) => {
            sqlx::query(
                "UPDATE webhook_outbox SET delivered_at_ms = $1, attempts = attempts + 1, \
                 last_error = NULL WHERE id = $2",
            )
            .bind(now_ms)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        Err(error) => {
            sqlx::query(
                "UPDATE webhook_outbox SET attempts = attempts + 1, last_error = $1, \
                 next_attempt_at_ms = $2 WHERE id = $3",
            )
            .bind(error)
            .bind(next_attempt_at_ms)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await
}
