//! Flags of poor and severe calls to the agent's team lead, and the coaching that follows.

use sqlx::Row;

use super::Db;
use super::users::{SCOPE_FILTER, scope_params};
use crate::domain::access::Viewer;

#[derive(Clone, Debug)]
pub struct FlagRow {
    pub id: i64,
    pub evaluation_id: i64,
    pub recording_id: i64,
    pub call_id: String,
    pub started_at_ms: i64,
    pub agent_id: i64,
    pub agent: String,
    pub agent_name: String,
    pub team_id: Option<i64>,
    pub team: Option<String>,
    pub grader: String,
    pub grade: String,
    pub score: Option<i64>,
    pub status: String,
    pub created_at_ms: i64,
    pub due_at_ms: i64,
    pub outcome: Option<String>,
    pub outcome_note: Option<String>,
    pub outcome_by: Option<String>,
    pub outcome_at_ms: Option<i64>,
}

const FLAG_SELECT: &str = "SELECT f.id, f.evaluation_id, e.recording_id, r.call_id, \
    r.started_at_ms, f.agent_id, u.username AS agent, u.name AS agent_name, u.team_id, \
    t.name AS team, g.username AS grader, f.grade, e.score, f.status, f.created_at_ms, \
    f.due_at_ms, f.outcome, f.outcome_note, o.username AS outcome_by, f.outcome_at_ms \
    FROM flags f JOIN evaluations e ON e.id = f.evaluation_id \
    JOIN recordings r ON r.id = e.recording_id JOIN users u ON u.id = f.agent_id \
    LEFT JOIN teams t ON t.id = u.team_id JOIN users g ON g.id = e.grader_id \
    LEFT JOIN users o ON o.id = f.outcome_by";

fn flag_from_row(r: &sqlx::any::AnyRow) -> Result<FlagRow, sqlx::Error> {
    Ok(FlagRow {
        id: r.try_get("id")?,
        evaluation_id: r.try_get("evaluation_id")?,
        recording_id: r.try_get("recording_id")?,
        call_id: r.try_get("call_id")?,
        started_at_ms: r.try_get("started_at_ms")?,
        agent_id: r.try_get("agent_id")?,
        agent: r.try_get("agent")?,
        agent_name: r.try_get("agent_name")?,
        team_id: r.try_get("team_id")?,
        team: r.try_get("team")?,
        grader: r.try_get("grader")?,
        grade: r.try_get("grade")?,
        score: r.try_get("score")?,
        status: r.try_get("status")?,
        created_at_ms: r.try_get("created_at_ms")?,
        due_at_ms: r.try_get("due_at_ms")?,
        outcome: r.try_get("outcome")?,
        outcome_note: r.try_get("outcome_note")?,
        outcome_by: r.try_get("outcome_by")?,
        outcome_at_ms: r.try_get("outcome_at_ms")?,
    })
}

/// Flags of the agents in the viewer's scope (a lead: their team), oldest first; `status`
/// empty for all.
pub async fn list(db: &Db, viewer: &Viewer, status: &str) -> Result<Vec<FlagRow>, sqlx::Error> {
    let (kind, scope_id) = scope_params(viewer.scope());
    let sql = sqlx::AssertSqlSafe(format!(
        "{FLAG_SELECT} WHERE {SCOPE_FILTER} AND ($3 = '' OR f.status = $3) \
         ORDER BY f.due_at_ms, f.id"
    ));
    let rows = sqlx::query(sql)
        .bind(kind)
        .bind(scope_id)
        .bind(status)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(flag_from_row).collect()
}

/// One flag if it is in the viewer's scope.
pub async fn get_visible(
    db: &Db,
    viewer: &Viewer,
    id: i64,
) -> Result<Option<FlagRow>, sqlx::Error> {
    let (kind, scope_id) = scope_params(viewer.scope());
    let sql = sqlx::AssertSqlSafe(format!("{FLAG_SELECT} WHERE {SCOPE_FILTER} AND f.id = $3"));
    let row = sqlx::query(sql)
        .bind(kind)
        .bind(scope_id)
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(flag_from_row).transpose()
}

#[derive(Clone, Debug)]
pub struct Coaching {
    pub id: i64,
    pub flag_id: i64,
    pub held_on: String,
    pub discussed: String,
    pub action: String,
    pub coach: String,
    pub created_at_ms: i64,
}

pub async fn coaching(db: &Db, flag_id: i64) -> Result<Vec<Coaching>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.id, c.flag_id, c.held_on, c.discussed, c.action, u.username AS coach, \
             c.created_at_ms FROM coaching_sessions c JOIN users u ON u.id = c.coach_id \
         WHERE c.flag_id = $1 ORDER BY c.held_on, c.id",
    )
    .bind(flag_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Coaching {
                id: r.try_get("id")?,
                flag_id: r.try_get("flag_id")?,
                held_on: r.try_get("held_on")?,
                discussed: r.try_get("discussed")?,
                action: r.try_get("action")?,
                coach: r.try_get("coach")?,
                created_at_ms: r.try_get("created_at_ms")?,
            })
        })
        .collect()
}

/// A coaching session as its agent reads it: the call, what was said and agreed, who
/// coached, and the agent's acknowledgement. No grade: the agent was there, and their
/// grades reach them with the month's publication.
#[derive(Clone, Debug)]
pub struct AgentCoaching {
    pub id: i64,
    pub call_id: String,
    pub recording_id: i64,
    pub held_on: String,
    pub discussed: String,
    pub action: String,
    pub coach_name: String,
    pub created_at_ms: i64,
    pub acknowledged_at_ms: Option<i64>,
}

/// The coaching sessions about an agent's calls, newest first.
pub async fn coaching_of_agent(db: &Db, agent_id: i64) -> Result<Vec<AgentCoaching>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.id, r.call_id, r.id AS recording_id, c.held_on, c.discussed, c.action, \
             u.name AS coach_name, c.created_at_ms, c.agent_ack_at_ms \
         FROM coaching_sessions c JOIN flags f ON f.id = c.flag_id \
         JOIN evaluations e ON e.id = f.evaluation_id JOIN recordings r ON r.id = e.recording_id \
         JOIN users u ON u.id = c.coach_id \
         WHERE f.agent_id = $1 ORDER BY c.held_on DESC, c.id DESC",
    )
    .bind(agent_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AgentCoaching {
                id: r.try_get("id")?,
                call_id: r.try_get("call_id")?,
                recording_id: r.try_get("recording_id")?,
                held_on: r.try_get("held_on")?,
                discussed: r.try_get("discussed")?,
                action: r.try_get("action")?,
                coach_name: r.try_get("coach_name")?,
                created_at_ms: r.try_get("created_at_ms")?,
                acknowledged_at_ms: r.try_get("agent_ack_at_ms")?,
            })
        })
        .collect()
}

/// The agent acknowledges a session about their own call (the first time counts). False
/// when it is not theirs.
pub async fn acknowledge_coaching(
    db: &Db,
    agent_id: i64,
    session_id: i64,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE coaching_sessions SET agent_ack_at_ms = COALESCE(agent_ack_at_ms, $1) \
         WHERE id = $2 AND flag_id IN (SELECT id FROM flags WHERE agent_id = $3)",
    )
    .bind(now_ms)
    .bind(session_id)
    .bind(agent_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}

pub struct NewCoaching<'a> {
    pub flag_id: i64,
    pub held_on: &'a str,
    pub discussed: &'a str,
    pub action: &'a str,
    pub coach_id: i64,
    pub now_ms: i64,
}

/// Records a coaching session; an open flag becomes coached. Refused (false) once the
/// flag is closed.
pub async fn add_coaching(db: &Db, c: &NewCoaching<'_>) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let moved = sqlx::query(
        "UPDATE flags SET status = 'coached' WHERE id = $1 AND status IN ('open', 'coached')",
    )
    .bind(c.flag_id)
    .execute(&mut *tx)
    .await?;
    if moved.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO coaching_sessions (flag_id, held_on, discussed, action, coach_id, \
             created_at_ms) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(c.flag_id)
    .bind(c.held_on)
    .bind(c.discussed)
    .bind(c.action)
    .bind(c.coach_id)
    .bind(c.now_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Records whether the coaching worked and closes the flag. Only a coached flag can be
/// closed (false otherwise).
pub async fn close(
    db: &Db,
    flag_id: i64,
    outcome: &str,
    note: &str,
    by: i64,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE flags SET status = 'closed', outcome = $1, outcome_note = $2, outcome_by = $3, \
             outcome_at_ms = $4 WHERE id = $5 AND status = 'coached'",
    )
    .bind(outcome)
    .bind(note)
    .bind(by)
    .bind(now_ms)
    .bind(flag_id)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
