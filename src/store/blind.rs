//! Blind tasks: while a person has one on a call, nobody else's comments, evaluations or
//! drafts of that call reach them, whatever their role. A blind task is a blind re-grade for
//! an appeal (an assignment with `appeal_id`) not yet completed, or a calibration session
//! they grade in and have not submitted their grading for.

use std::collections::HashSet;

use sqlx::Row;

use super::Db;

/// SQL condition: the person `$user` (a placeholder such as `$3`) has a blind task on the
/// recording `recording` (a column such as `e.recording_id`). Both arms use the graders'
/// indexes (`assignments_grader`, `evaluations_grader`).
pub fn blind_on(user: &str, recording: &str) -> String {
    format!(
        "(EXISTS (SELECT 1 FROM assignments ba WHERE ba.grader_id = {user} \
            AND ba.completed_at_ms IS NULL AND ba.appeal_id IS NOT NULL \
            AND ba.recording_id = {recording}) \
         OR EXISTS (SELECT 1 FROM evaluations be WHERE be.grader_id = {user} \
            AND be.status = 'draft' AND be.calibration_id IS NOT NULL \
            AND be.recording_id = {recording}))"
    )
}

/// The recordings a person has a blind task on (a handful at most).
pub async fn recordings(db: &Db, user_id: i64) -> Result<HashSet<i64>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT recording_id FROM assignments WHERE grader_id = $1 \
             AND completed_at_ms IS NULL AND appeal_id IS NOT NULL \
         UNION SELECT recording_id FROM evaluations WHERE grader_id = $1 \
             AND status = 'draft' AND calibration_id IS NOT NULL",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(|r| r.try_get("recording_id")).collect()
}

/// Whether a person has a blind task on a recording.
pub async fn is_blind(db: &Db, user_id: i64, recording_id: i64) -> Result<bool, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT 1 AS one WHERE {}", blind_on("$1", "$2")));
    let row = sqlx::query(sql)
        .bind(user_id)
        .bind(recording_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.is_some())
}
