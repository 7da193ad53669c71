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

/// The active team leads of an agent's team (who coach the agent's flagged calls).
pub async fn team_leads_of(tx: &mut Tx, agent_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT l.id FROM users a JOIN users l ON l.team_id = a.team_id \
         WHERE a.id = $1 AND l.role = 'team_lead' AND l.active = 1 ORDER BY l.id",
    )
    .bind(agent_id)
    .fetch_all(&mut **tx)
    .await
}

/// An open flag whose coaching is overdue.
pub struct OverdueFlag {
    pub flag_id: i64,
    pub call_id: String,
    pub agent_name: String,
    pub due_at_ms: i64,
}

/// Open flags past their due time not yet told about; marks them told, in `tx`.
pub async fn take_overdue_coaching(
    tx: &mut Tx,
    now_ms: i64,
) -> Result<Vec<OverdueFlag>, sqlx::Error> {
    let rows = sqlx::query(
        "UPDATE flags SET overdue_notified_at_ms = $1 \
         WHERE status = 'open' AND due_at_ms <= $1 AND overdue_notified_at_ms IS NULL \
         RETURNING id, evaluation_id, agent_id, due_at_ms",
    )
    .bind(now_ms)
    .fetch_all(&mut **tx)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let names = sqlx::query(
            "SELECT rec.call_id, u.name FROM evaluations e \
             JOIN recordings rec ON rec.id = e.recording_id JOIN users u ON u.id = $2 \
             WHERE e.id = $1",
        )
        .bind(r.try_get::<i64, _>("evaluation_id")?)
        .bind(r.try_get::<i64, _>("agent_id")?)
        .fetch_one(&mut **tx)
        .await?;
        out.push(OverdueFlag {
            flag_id: r.try_get("id")?,
            call_id: names.try_get("call_id")?,
            agent_name: names.try_get("name")?,
            due_at_ms: r.try_get("due_at_ms")?,
        });
    }
    out.sort_by_key(|f| f.flag_id);
    Ok(out)
}

/// Queue items of one plan (or pulls, `plan_id` None) due at one instant and unfinished.
pub struct UnfinishedWork {
    pub plan_id: Option<i64>,
    pub plan_name: Option<String>,
    pub due_at_ms: i64,
    /// (grader's name, or None when nobody was given the item; how many).
    pub by_grader: Vec<(Option<String>, i64)>,
}

/// Queue items past due, unfinished and not yet told about, that are still gradeable (not
/// closed by their month's publication; a blind re-grade is the appeal's deadline, told as
/// such); marks them told, in `tx`. Only items due since `since_ms`: what was overdue long
/// before this check existed is old news.
pub async fn take_unfinished_work(
    tx: &mut Tx,
    now_ms: i64,
    since_ms: i64,
) -> Result<Vec<UnfinishedWork>, sqlx::Error> {
    let rows = sqlx::query(
        "UPDATE assignments SET overdue_notified_at_ms = $1 \
         WHERE completed_at_ms IS NULL AND due_at_ms <= $1 AND due_at_ms > $2 \
           AND overdue_notified_at_ms IS NULL AND appeal_id IS NULL \
           AND NOT EXISTS (SELECT 1 FROM agent_months am JOIN recordings r ON r.id = assignments.recording_id \
                           WHERE am.agent_id = assignments.agent_id \
                             AND am.starts_at_ms <= r.started_at_ms AND am.ends_at_ms > r.started_at_ms) \
         RETURNING plan_id, grader_id, due_at_ms",
    )
    .bind(now_ms)
    .bind(since_ms)
    .fetch_all(&mut **tx)
    .await?;
    let mut groups: std::collections::BTreeMap<(Option<i64>, i64), Vec<Option<i64>>> =
        Default::default();
    for r in &rows {
        groups
            .entry((r.try_get("plan_id")?, r.try_get("due_at_ms")?))
            .or_default()
            .push(r.try_get("grader_id")?);
    }
    let mut out = Vec::with_capacity(groups.len());
    for ((plan_id, due_at_ms), graders) in groups {
        let plan_name = match plan_id {
            Some(id) => {
                sqlx::query_scalar("SELECT name FROM sampling_plans WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?
            }
            None => None,
        };
        let mut counts: std::collections::BTreeMap<Option<i64>, i64> = Default::default();
        for g in graders {
            *counts.entry(g).or_default() += 1;
        }
        let mut by_grader = Vec::with_capacity(counts.len());
        for (grader, n) in counts {
            let name = match grader {
                Some(id) => {
                    sqlx::query_scalar("SELECT name FROM users WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut **tx)
                        .await?
                }
                None => None,
            };
            by_grader.push((name, n));
        }
        out.push(UnfinishedWork {
            plan_id,
            plan_name,
            due_at_ms,
            by_grader,
        });
    }
    Ok(out)
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
