//! Calibration sessions: one call graded blind by several people. Each participant's
//! grading is an evaluation with the session's id (never an agent's result).

use sqlx::Row;

use super::Db;
use super::grading::{EVALUATION_SELECT, EvaluationRow, evaluation_from_row};

#[derive(Clone, Debug)]
pub struct SessionRow {
    pub id: i64,
    pub title: String,
    pub recording_id: i64,
    pub call_id: String,
    pub rubric_id: i64,
    pub expert_id: Option<i64>,
    pub expert: Option<String>,
    pub created_by: String,
    pub created_at_ms: i64,
    pub participants: i64,
    pub submitted: i64,
}

const SESSION_SELECT: &str = "SELECT s.id, s.title, s.recording_id, r.call_id, s.rubric_id, \
    s.expert_id, x.username AS expert, c.username AS created_by, s.created_at_ms, \
    (SELECT COUNT(*) FROM evaluations e WHERE e.calibration_id = s.id) AS participants, \
    (SELECT COUNT(*) FROM evaluations e WHERE e.calibration_id = s.id \
        AND e.status = 'submitted') AS submitted \
    FROM calibration_sessions s JOIN recordings r ON r.id = s.recording_id \
    LEFT JOIN users x ON x.id = s.expert_id JOIN users c ON c.id = s.created_by";

fn session_from_row(r: &sqlx::any::AnyRow) -> Result<SessionRow, sqlx::Error> {
    Ok(SessionRow {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        recording_id: r.try_get("recording_id")?,
        call_id: r.try_get("call_id")?,
        rubric_id: r.try_get("rubric_id")?,
        expert_id: r.try_get("expert_id")?,
        expert: r.try_get("expert")?,
        created_by: r.try_get("created_by")?,
        created_at_ms: r.try_get("created_at_ms")?,
        participants: r.try_get("participants")?,
        submitted: r.try_get("submitted")?,
    })
}

pub struct NewSession<'a> {
    pub title: &'a str,
    pub recording_id: i64,
    pub agent_id: i64,
    pub rubric_id: i64,
    pub expert_id: Option<i64>,
    /// Everybody who grades, the expert included.
    pub graders: &'a [i64],
    pub created_by: i64,
    pub now_ms: i64,
}

/// Creates the session and an empty draft for each participant, in one transaction.
pub async fn create(db: &Db, s: &NewSession<'_>) -> Result<i64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO calibration_sessions (title, recording_id, rubric_id, expert_id, \
             created_by, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(s.title)
    .bind(s.recording_id)
    .bind(s.rubric_id)
    .bind(s.expert_id)
    .bind(s.created_by)
    .bind(s.now_ms)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    for &grader in s.graders {
        sqlx::query(
            "INSERT INTO evaluations (calibration_id, recording_id, agent_id, grader_id, \
                 rubric_id, status, form, created_at_ms, updated_at_ms) \
             VALUES ($1, $2, $3, $4, $5, 'draft', '{}', $6, $6)",
        )
        .bind(id)
        .bind(s.recording_id)
        .bind(s.agent_id)
        .bind(grader)
        .bind(s.rubric_id)
        .bind(s.now_ms)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// Sessions newest first; `participant` limits them to those the person grades in.
pub async fn list(db: &Db, participant: Option<i64>) -> Result<Vec<SessionRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{SESSION_SELECT} WHERE $1 < 0 OR EXISTS (SELECT 1 FROM evaluations e \
             WHERE e.calibration_id = s.id AND e.grader_id = $1) \
         ORDER BY s.created_at_ms DESC, s.id DESC"
    ));
    let rows = sqlx::query(sql)
        .bind(participant.unwrap_or(-1))
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(session_from_row).collect()
}

pub async fn get(db: &Db, id: i64) -> Result<Option<SessionRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!("{SESSION_SELECT} WHERE s.id = $1"));
    let row = sqlx::query(sql).bind(id).fetch_optional(&db.pool).await?;
    row.as_ref().map(session_from_row).transpose()
}

/// The participants' evaluations of a session.
pub async fn evaluations(db: &Db, session_id: i64) -> Result<Vec<EvaluationRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{EVALUATION_SELECT} WHERE e.calibration_id = $1 ORDER BY e.id"
    ));
    let rows = sqlx::query(sql)
        .bind(session_id)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(evaluation_from_row).collect()
}

/// Every submitted calibration grading: (session, grader role, whether the grader was the
/// session's expert, grade), for agreement over all sessions.
pub async fn all_grades(db: &Db) -> Result<Vec<(i64, String, bool, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT e.calibration_id, g.role, \
             CASE WHEN s.expert_id = e.grader_id THEN 1 ELSE 0 END AS expert, e.grade \
         FROM evaluations e JOIN calibration_sessions s ON s.id = e.calibration_id \
         JOIN users g ON g.id = e.grader_id \
         WHERE e.status = 'submitted' AND e.grade IS NOT NULL ORDER BY e.calibration_id, e.id",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("calibration_id")?,
                r.try_get("role")?,
                r.try_get::<i64, _>("expert")? != 0,
                r.try_get("grade")?,
            ))
        })
        .collect()
}
