//! Appeals, blind re-grades, and the append-only revisions of evaluations.

use sqlx::Row;

use super::users::{SCOPE_FILTER, scope_params};
use super::{Db, Tx, is_unique_violation};
use crate::domain::access::Scope;

#[derive(Clone, Debug)]
pub struct AppealRow {
    pub id: i64,
    pub evaluation_id: i64,
    pub recording_id: i64,
    pub call_id: String,
    pub agent_id: i64,
    pub agent: String,
    pub agent_name: String,
    pub team_id: Option<i64>,
    pub team: Option<String>,
    pub month: String,
    pub publication_id: i64,
    /// JSON list of the disputed deductions' ids (`Deduction::id`); [] for the whole
    /// evaluation.
    pub deductions: String,
    /// JSON of the evaluation's current form (`domain::grading::Form`).
    pub form: String,
    pub reason: String,
    pub status: String,
    pub filed_at_ms: i64,
    pub due_at_ms: i64,
    pub regrader: Option<String>,
    pub regrader_name: Option<String>,
    pub regrade_evaluation_id: Option<i64>,
    pub regrade_status: Option<String>,
    pub decision: Option<String>,
    pub decision_reason: Option<String>,
    pub decided_by: Option<String>,
    pub decided_by_name: Option<String>,
    pub decided_at_ms: Option<i64>,
    pub grade: Option<String>,
    pub score: Option<i64>,
    /// The evaluation before and after the decision (JSON states), when it changed it.
    pub decision_old: Option<String>,
    pub decision_new: Option<String>,
}

// `u` is the agent (for the scope filter).
const APPEAL_SELECT: &str = "SELECT ap.id, ap.evaluation_id, e.recording_id, r.call_id, \
    ap.agent_id, u.username AS agent, u.name AS agent_name, u.team_id, t.name AS team, ap.month, \
    ap.publication_id, ap.deductions, ap.reason, ap.status, ap.filed_at_ms, ap.due_at_ms, \
    rg.username AS regrader, rg.name AS regrader_name, re.id AS regrade_evaluation_id, \
    re.status AS regrade_status, ap.decision, ap.decision_reason, d.username AS decided_by, \
    d.name AS decided_by_name, ap.decided_at_ms, e.grade, e.score, e.form, \
    dv.old_value AS decision_old, dv.new_value AS decision_new \
    FROM appeals ap JOIN evaluations e ON e.id = ap.evaluation_id \
    JOIN recordings r ON r.id = e.recording_id JOIN users u ON u.id = ap.agent_id \
    LEFT JOIN teams t ON t.id = u.team_id LEFT JOIN users rg ON rg.id = ap.regrader_id \
    LEFT JOIN assignments ra ON ra.appeal_id = ap.id \
    LEFT JOIN evaluations re ON re.assignment_id = ra.id \
    LEFT JOIN users d ON d.id = ap.decided_by \
    LEFT JOIN evaluation_revisions dv ON dv.appeal_id = ap.id";

fn appeal_from_row(r: &sqlx::any::AnyRow) -> Result<AppealRow, sqlx::Error> {
    Ok(AppealRow {
        id: r.try_get("id")?,
        evaluation_id: r.try_get("evaluation_id")?,
        recording_id: r.try_get("recording_id")?,
        call_id: r.try_get("call_id")?,
        agent_id: r.try_get("agent_id")?,
        agent: r.try_get("agent")?,
        agent_name: r.try_get("agent_name")?,
        team_id: r.try_get("team_id")?,
        team: r.try_get("team")?,
        month: r.try_get("month")?,
        publication_id: r.try_get("publication_id")?,
        deductions: r.try_get("deductions")?,
        form: r.try_get("form")?,
        reason: r.try_get("reason")?,
        status: r.try_get("status")?,
        filed_at_ms: r.try_get("filed_at_ms")?,
        due_at_ms: r.try_get("due_at_ms")?,
        regrader: r.try_get("regrader")?,
        regrader_name: r.try_get("regrader_name")?,
        regrade_evaluation_id: r.try_get("regrade_evaluation_id")?,
        regrade_status: r.try_get("regrade_status")?,
        decision: r.try_get("decision")?,
        decision_reason: r.try_get("decision_reason")?,
        decided_by: r.try_get("decided_by")?,
        decided_by_name: r.try_get("decided_by_name")?,
        decided_at_ms: r.try_get("decided_at_ms")?,
        grade: r.try_get("grade")?,
        score: r.try_get("score")?,
        decision_old: r.try_get("decision_old")?,
        decision_new: r.try_get("decision_new")?,
    })
}

pub async fn get(db: &Db, id: i64) -> Result<Option<AppealRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!("{APPEAL_SELECT} WHERE ap.id = $1"));
    let row = sqlx::query(sql).bind(id).fetch_optional(&db.pool).await?;
    row.as_ref().map(appeal_from_row).transpose()
}

/// Appeals within a scope, open first and by deadline; `status` '' for all.
pub async fn list(db: &Db, scope: Scope, status: &str) -> Result<Vec<AppealRow>, sqlx::Error> {
    let (kind, scope_id) = scope_params(scope);
    let sql = sqlx::AssertSqlSafe(format!(
        "{APPEAL_SELECT} WHERE {SCOPE_FILTER} AND ($3 = '' OR ap.status = $3) \
         ORDER BY CASE WHEN ap.status = 'open' THEN 0 ELSE 1 END, ap.due_at_ms, ap.id LIMIT 1000"
    ));
    let rows = sqlx::query(sql)
        .bind(kind)
        .bind(scope_id)
        .bind(status)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(appeal_from_row).collect()
}

/// Appeals of one evaluation, oldest first.
pub async fn of_evaluation(db: &Db, evaluation_id: i64) -> Result<Vec<AppealRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{APPEAL_SELECT} WHERE ap.evaluation_id = $1 ORDER BY ap.filed_at_ms, ap.id"
    ));
    let rows = sqlx::query(sql)
        .bind(evaluation_id)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(appeal_from_row).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("this evaluation already has an open appeal")]
    AlreadyOpen,
    #[error("the month's appeals are used up")]
    Limit,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub struct NewAppeal<'a> {
    pub evaluation_id: i64,
    pub agent_id: i64,
    pub month: &'a str,
    pub publication_id: i64,
    pub deductions: &'a str,
    pub reason: &'a str,
    pub now_ms: i64,
    pub due_at_ms: i64,
    pub max_per_month: i64,
}

/// Files an appeal in `tx`. The month's counter is checked and bumped in one statement (the
/// row lock orders concurrent filings on PostgreSQL; SQLite has one writer), and the unique
/// index on open appeals lets only one of two simultaneous appeals of an evaluation in.
pub async fn insert(tx: &mut Tx, a: &NewAppeal<'_>) -> Result<i64, FileError> {
    let counted = sqlx::query(
        "UPDATE agent_months SET appeals_filed = appeals_filed + 1 \
         WHERE agent_id = $1 AND month = $2 AND appeals_filed < $3",
    )
    .bind(a.agent_id)
    .bind(a.month)
    .bind(a.max_per_month)
    .execute(&mut **tx)
    .await?;
    if counted.rows_affected() == 0 {
        return Err(FileError::Limit);
    }
    let inserted = sqlx::query(
        "INSERT INTO appeals (evaluation_id, agent_id, month, publication_id, deductions, reason, \
         status, filed_at_ms, due_at_ms) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8) \
         RETURNING id",
    )
    .bind(a.evaluation_id)
    .bind(a.agent_id)
    .bind(a.month)
    .bind(a.publication_id)
    .bind(a.deductions)
    .bind(a.reason)
    .bind(a.now_ms)
    .bind(a.due_at_ms)
    .fetch_one(&mut **tx)
    .await;
    match inserted {
        Ok(row) => Ok(row.try_get("id")?),
        Err(e) if is_unique_violation(&e) => Err(FileError::AlreadyOpen),
        Err(e) => Err(e.into()),
    }
}

/// Active users with a role (e.g. the panel, to notify).
pub async fn users_with_role(db: &Db, role: &str) -> Result<Vec<i64>, sqlx::Error> {
    let rows = sqlx::query("SELECT id FROM users WHERE role = $1 AND active = 1 ORDER BY id")
        .bind(role)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| r.try_get("id")).collect()
}

/// Names the re-grader of an open appeal without one and puts the call in their queue as
/// a pull that belongs to the appeal, in a transaction left open for the caller to add the
/// re-grader's notice and commit. Returns it with the pull's id and due time; `None` when
/// the appeal is decided or has a re-grader.
pub async fn request_regrade(
    db: &Db,
    appeal_id: i64,
    regrader_id: i64,
    by: i64,
    now_ms: i64,
) -> Result<Option<(Tx, i64, i64)>, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let named = sqlx::query(
        "UPDATE appeals SET regrader_id = $1 \
         WHERE id = $2 AND status = 'open' AND regrader_id IS NULL",
    )
    .bind(regrader_id)
    .bind(appeal_id)
    .execute(&mut *tx)
    .await?;
    if named.rows_affected() == 0 {
        return Ok(None);
    }
    let row = sqlx::query(
        "INSERT INTO assignments (recording_id, agent_id, kind, grader_id, reason, complaint, \
             created_by, created_at_ms, due_at_ms, appeal_id) \
         SELECT e.recording_id, e.agent_id, 'pull', $1, $2, 0, $3, $4, ap.due_at_ms, ap.id \
         FROM appeals ap JOIN evaluations e ON e.id = ap.evaluation_id WHERE ap.id = $5 \
         RETURNING id, due_at_ms",
    )
    .bind(regrader_id)
    .bind(format!("blind re-grade for appeal #{appeal_id}"))
    .bind(by)
    .bind(now_ms)
    .bind(appeal_id)
    .fetch_one(&mut *tx)
    .await?;
    let (id, due) = (row.try_get("id")?, row.try_get("due_at_ms")?);
    Ok(Some((tx, id, due)))
}

/// Closes an open appeal with the panel's decision in `tx` (and takes an unfinished re-grade
/// out of its inspector's queue). False when it was decided meanwhile (by another panel
/// member).
pub async fn decide(
    tx: &mut Tx,
    appeal_id: i64,
    decision: &str,
    reason: &str,
    by: i64,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE appeals SET status = 'decided', decision = $1, decision_reason = $2, \
         decided_by = $3, decided_at_ms = $4 WHERE id = $5 AND status = 'open'",
    )
    .bind(decision)
    .bind(reason)
    .bind(by)
    .bind(now_ms)
    .bind(appeal_id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    // A re-grade not done by now is no longer needed: it leaves the inspector's queue.
    sqlx::query(
        "UPDATE assignments SET completed_at_ms = $1 WHERE appeal_id = $2 AND completed_at_ms IS NULL",
    )
    .bind(now_ms)
    .bind(appeal_id)
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

/// Open appeals past their deadline that the panel has not been told about; marked told.
pub async fn take_overdue(tx: &mut Tx, now_ms: i64) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT ap.id, r.call_id FROM appeals ap JOIN evaluations e ON e.id = ap.evaluation_id \
         JOIN recordings r ON r.id = e.recording_id \
         WHERE ap.status = 'open' AND ap.due_at_ms <= $1 AND ap.overdue_notified_at_ms IS NULL",
    )
    .bind(now_ms)
    .fetch_all(&mut **tx)
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        sqlx::query("UPDATE appeals SET overdue_notified_at_ms = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        out.push((id, r.try_get("call_id")?));
    }
    Ok(out)
}

/// One revision as stored.
#[derive(Clone, Debug)]
pub struct RevisionRow {
    pub seq: i64,
    pub kind: String,
    pub post_lock: bool,
    pub appeal_id: Option<i64>,
    pub actor: String,
    pub actor_name: String,
    pub at_ms: i64,
    pub reason: Option<String>,
    pub old_value: Option<String>,
    pub new_value: String,
}

pub async fn revisions(db: &Db, evaluation_id: i64) -> Result<Vec<RevisionRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT v.seq, v.kind, v.post_lock, v.appeal_id, u.username AS actor, u.name AS actor_name, \
         v.at_ms, v.reason, v.old_value, v.new_value FROM evaluation_revisions v \
         JOIN users u ON u.id = v.actor_id WHERE v.evaluation_id = $1 ORDER BY v.seq",
    )
    .bind(evaluation_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RevisionRow {
                seq: r.try_get("seq")?,
                kind: r.try_get("kind")?,
                post_lock: r.try_get::<i64, _>("post_lock")? != 0,
                appeal_id: r.try_get("appeal_id")?,
                actor: r.try_get("actor")?,
                actor_name: r.try_get("actor_name")?,
                at_ms: r.try_get("at_ms")?,
                reason: r.try_get("reason")?,
                old_value: r.try_get("old_value")?,
                new_value: r.try_get("new_value")?,
            })
        })
        .collect()
}

/// Counts of post-lock corrections per evaluation of an agent's month, for the results list.
pub async fn post_lock_counts(
    db: &Db,
    agent_id: i64,
    (from, to): (i64, i64),
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT v.evaluation_id, COUNT(*) AS n FROM evaluation_revisions v \
         JOIN evaluations e ON e.id = v.evaluation_id JOIN recordings r ON r.id = e.recording_id \
         WHERE e.agent_id = $1 AND v.post_lock = 1 AND r.started_at_ms >= $2 AND r.started_at_ms < $3 \
         GROUP BY v.evaluation_id",
    )
    .bind(agent_id)
    .bind(from)
    .bind(to)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("evaluation_id")?, r.try_get("n")?)))
        .collect()
}

pub struct NewRevision<'a> {
    pub evaluation_id: i64,
    pub kind: &'a str,
    pub post_lock: bool,
    pub appeal_id: Option<i64>,
    pub actor_id: i64,
    pub at_ms: i64,
    pub reason: Option<&'a str>,
    pub old_value: Option<&'a str>,
    pub new_value: &'a str,
}

/// Appends a revision in `tx`, numbered after the evaluation's last one.
pub async fn insert_revision(tx: &mut Tx, v: &NewRevision<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO evaluation_revisions (evaluation_id, seq, kind, post_lock, appeal_id, \
             actor_id, at_ms, reason, old_value, new_value) \
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9 \
         FROM evaluation_revisions WHERE evaluation_id = $1",
    )
    .bind(v.evaluation_id)
    .bind(v.kind)
    .bind(i64::from(v.post_lock))
    .bind(v.appeal_id)
    .bind(v.actor_id)
    .bind(v.at_ms)
    .bind(v.reason)
    .bind(v.old_value)
    .bind(v.new_value)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What a change writes to the evaluation row (the cache of its last revision).
pub struct StateUpdate<'a> {
    pub id: i64,
    pub expected_revision: i64,
    pub form: &'a str,
    pub score: Option<i64>,
    pub grade: Option<&'a str>,
    pub computed_grade: Option<&'a str>,
    pub override_reason: Option<&'a str>,
    pub now_ms: i64,
}

/// Writes the new state of a submitted evaluation in `tx`, if nobody changed it since it
/// was read (false otherwise: the caller reports a conflict).
pub async fn update_state(tx: &mut Tx, u: &StateUpdate<'_>) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE evaluations SET form = $1, score = $2, grade = $3, computed_grade = $4, \
         override_reason = $5, revision = revision + 1, updated_at_ms = $6 \
         WHERE id = $7 AND revision = $8 AND status = 'submitted'",
    )
    .bind(u.form)
    .bind(u.score)
    .bind(u.grade)
    .bind(u.computed_grade)
    .bind(u.override_reason)
    .bind(u.now_ms)
    .bind(u.id)
    .bind(u.expected_revision)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() > 0)
}
