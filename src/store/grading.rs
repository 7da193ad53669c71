//! Rubric versions and evaluations (drafts and submissions). Submitting is one transaction:
//! the evaluation, its assignment marked done and, for a poor or severe grade, the flag to
//! the team lead.

use sqlx::Row;

use super::users::{SCOPE_FILTER, scope_params};
use super::{Db, Tx, is_unique_violation};
use crate::domain::access::{Scope, Viewer};
use crate::domain::org::Role;

#[derive(Clone, Debug)]
pub struct RubricRow {
    pub id: i64,
    pub version: i64,
    /// JSON of `domain::grading::Rubric`.
    pub spec: String,
    pub created_by: Option<String>,
    /// `None` for a built-in version.
    pub created_by_id: Option<i64>,
    pub created_at_ms: i64,
}

const RUBRIC_SELECT: &str = "SELECT r.id, r.version, r.spec, u.username AS created_by, \
    r.created_by AS created_by_id, r.created_at_ms FROM rubrics r \
    LEFT JOIN users u ON u.id = r.created_by";

fn rubric_from_row(r: &sqlx::any::AnyRow) -> Result<RubricRow, sqlx::Error> {
    Ok(RubricRow {
        id: r.try_get("id")?,
        version: r.try_get("version")?,
        spec: r.try_get("spec")?,
        created_by: r.try_get("created_by")?,
        created_by_id: r.try_get("created_by_id")?,
        created_at_ms: r.try_get("created_at_ms")?,
    })
}

/// The newest version, if any exists yet.
pub async fn current_rubric(db: &Db) -> Result<Option<RubricRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!("{RUBRIC_SELECT} ORDER BY r.version DESC LIMIT 1"));
    let row = sqlx::query(sql).fetch_optional(&db.pool).await?;
    row.as_ref().map(rubric_from_row).transpose()
}

pub async fn get_rubric(db: &Db, id: i64) -> Result<Option<RubricRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!("{RUBRIC_SELECT} WHERE r.id = $1"));
    let row = sqlx::query(sql).bind(id).fetch_optional(&db.pool).await?;
    row.as_ref().map(rubric_from_row).transpose()
}

pub async fn list_rubrics(db: &Db) -> Result<Vec<RubricRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!("{RUBRIC_SELECT} ORDER BY r.version DESC"));
    let rows = sqlx::query(sql).fetch_all(&db.pool).await?;
    rows.iter().map(rubric_from_row).collect()
}

/// Adds the next version. With `only_after`, adds it only while that version is the newest
/// (0: while none exists), so two servers adding the built-in at once add it once.
pub async fn insert_rubric(
    db: &Db,
    spec: &str,
    created_by: Option<i64>,
    now_ms: i64,
    only_after: Option<i64>,
) -> Result<(), sqlx::Error> {
    // The write lock (SQLite) or the unique version (PostgreSQL) orders concurrent edits;
    // a lost race on PostgreSQL is retried once with the next number.
    for attempt in 0..3 {
        let mut tx = db.begin_write().await?;
        let latest: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM rubrics")
            .fetch_one(&mut *tx)
            .await?
            .try_get("v")?;
        if only_after.is_some_and(|v| v != latest.unwrap_or(0)) {
            return Ok(());
        }
        let inserted = sqlx::query(
            "INSERT INTO rubrics (version, spec, created_by, created_at_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(latest.unwrap_or(0) + 1)
        .bind(spec)
        .bind(created_by)
        .bind(now_ms)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => return tx.commit().await,
            Err(e) if is_unique_violation(&e) && attempt < 2 => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// An evaluation with what its pages show about the call and the people.
#[derive(Clone, Debug)]
pub struct EvaluationRow {
    pub id: i64,
    pub assignment_id: Option<i64>,
    pub assignment_kind: Option<String>,
    /// The appeal this is a blind re-grade for (not one of the agent's results).
    pub regrade_for: Option<i64>,
    pub plan_name: Option<String>,
    /// Whether it feeds the agent's score and pay (its pull's or its plan's choice); never
    /// for calibrations and re-grades.
    pub counts: bool,
    pub calibration_id: Option<i64>,
    pub recording_id: i64,
    pub call_id: String,
    pub started_at_ms: i64,
    pub duration_ms: i64,
    /// The call's queue (its service time limit is the queue's).
    pub queue: String,
    pub agent_id: i64,
    pub agent: String,
    pub agent_name: String,
    pub team_id: Option<i64>,
    pub team: Option<String>,
    pub grader_id: i64,
    pub grader: String,
    pub grader_name: String,
    pub rubric_id: i64,
    pub status: String,
    /// JSON of `domain::grading::Form`.
    pub form: String,
    pub score: Option<i64>,
    pub grade: Option<String>,
    pub computed_grade: Option<String>,
    pub override_reason: Option<String>,
    pub revision: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub submitted_at_ms: Option<i64>,
}

impl EvaluationRow {
    pub fn submitted(&self) -> bool {
        self.status == "submitted"
    }
}

pub(super) const EVALUATION_SELECT: &str = concat!(
    "SELECT e.id, e.assignment_id, a.kind AS assignment_kind, \
    a.appeal_id AS regrade_for, p.name AS plan_name, \
    CASE WHEN a.appeal_id IS NULL THEN ",
    super::sampling::counts_sql!(),
    " ELSE 0 END AS counts, \
    e.calibration_id, e.recording_id, r.call_id, r.started_at_ms, \
    r.duration_ms, r.queue, e.agent_id, u.username AS agent, u.name AS agent_name, u.team_id, \
    t.name AS team, e.grader_id, g.username AS grader, g.name AS grader_name, e.rubric_id, \
    e.status, e.form, e.score, e.grade, e.computed_grade, e.override_reason, e.revision, \
    e.created_at_ms, e.updated_at_ms, e.submitted_at_ms \
    FROM evaluations e JOIN recordings r ON r.id = e.recording_id \
    JOIN users u ON u.id = e.agent_id LEFT JOIN teams t ON t.id = u.team_id \
    JOIN users g ON g.id = e.grader_id LEFT JOIN assignments a ON a.id = e.assignment_id \
    LEFT JOIN sampling_plans p ON p.id = a.plan_id"
);

pub(super) fn evaluation_from_row(r: &sqlx::any::AnyRow) -> Result<EvaluationRow, sqlx::Error> {
    Ok(EvaluationRow {
        id: r.try_get("id")?,
        assignment_id: r.try_get("assignment_id")?,
        assignment_kind: r.try_get("assignment_kind")?,
        regrade_for: r.try_get("regrade_for")?,
        plan_name: r.try_get("plan_name")?,
        counts: r.try_get::<i64, _>("counts")? != 0,
        calibration_id: r.try_get("calibration_id")?,
        recording_id: r.try_get("recording_id")?,
        call_id: r.try_get("call_id")?,
        started_at_ms: r.try_get("started_at_ms")?,
        duration_ms: r.try_get("duration_ms")?,
        queue: r.try_get("queue")?,
        agent_id: r.try_get("agent_id")?,
        agent: r.try_get("agent")?,
        agent_name: r.try_get("agent_name")?,
        team_id: r.try_get("team_id")?,
        team: r.try_get("team")?,
        grader_id: r.try_get("grader_id")?,
        grader: r.try_get("grader")?,
        grader_name: r.try_get("grader_name")?,
        rubric_id: r.try_get("rubric_id")?,
        status: r.try_get("status")?,
        form: r.try_get("form")?,
        score: r.try_get("score")?,
        grade: r.try_get("grade")?,
        computed_grade: r.try_get("computed_grade")?,
        override_reason: r.try_get("override_reason")?,
        revision: r.try_get("revision")?,
        created_at_ms: r.try_get("created_at_ms")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
        submitted_at_ms: r.try_get("submitted_at_ms")?,
    })
}

pub async fn get_evaluation(db: &Db, id: i64) -> Result<Option<EvaluationRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!("{EVALUATION_SELECT} WHERE e.id = $1"));
    let row = sqlx::query(sql).bind(id).fetch_optional(&db.pool).await?;
    row.as_ref().map(evaluation_from_row).transpose()
}

/// The evaluation of an assignment, created as an empty draft on first open (idempotent:
/// two tabs opening the same assignment get the same draft).
pub async fn open_for_assignment(
    db: &Db,
    assignment_id: i64,
    rubric_id: i64,
    now_ms: i64,
) -> Result<i64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO evaluations (assignment_id, recording_id, agent_id, grader_id, rubric_id, \
             status, form, created_at_ms, updated_at_ms) \
         SELECT a.id, a.recording_id, a.agent_id, a.grader_id, $2, 'draft', '{}', $3, $3 \
         FROM assignments a WHERE a.id = $1 AND a.grader_id IS NOT NULL \
         ON CONFLICT (assignment_id) DO NOTHING",
    )
    .bind(assignment_id)
    .bind(rubric_id)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    let id: i64 = sqlx::query("SELECT id FROM evaluations WHERE assignment_id = $1")
        .bind(assignment_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
    tx.commit().await?;
    Ok(id)
}

pub enum SaveError {
    /// Submitted already: drafts only.
    NotDraft,
    /// Saved meanwhile from elsewhere (another tab): the caller's revision is stale.
    Stale {
        current: i64,
    },
    /// The call's month is published for its agent: nothing more is graded into it.
    MonthPublished,
    Db(sqlx::Error),
}

impl From<sqlx::Error> for SaveError {
    fn from(e: sqlx::Error) -> Self {
        SaveError::Db(e)
    }
}

/// Why an update touched no row.
async fn why_not_saved(db: &Db, id: i64) -> Result<SaveError, sqlx::Error> {
    let row = sqlx::query("SELECT status, revision FROM evaluations WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await?;
    let status: String = row.try_get("status")?;
    Ok(if status == "draft" {
        SaveError::Stale {
            current: row.try_get("revision")?,
        }
    } else {
        SaveError::NotDraft
    })
}

/// Saves a draft's form; `expected_revision` (what the client last saw) guards against a
/// stale tab overwriting newer work. Returns the new revision.
pub async fn save_draft(
    db: &Db,
    id: i64,
    form: &str,
    expected_revision: Option<i64>,
    now_ms: i64,
) -> Result<i64, SaveError> {
    let row = sqlx::query(
        "UPDATE evaluations SET form = $1, revision = revision + 1, updated_at_ms = $2 \
         WHERE id = $3 AND status = 'draft' AND ($4 < 0 OR revision = $4) RETURNING revision",
    )
    .bind(form)
    .bind(now_ms)
    .bind(id)
    .bind(expected_revision.unwrap_or(-1))
    .fetch_optional(&db.pool)
    .await?;
    match row {
        Some(row) => Ok(row.try_get("revision")?),
        None => Err(why_not_saved(db, id).await?),
    }
}

/// What a submission stores.
pub struct Submission<'a> {
    pub id: i64,
    pub form: &'a str,
    pub expected_revision: Option<i64>,
    pub score: i64,
    pub grade: &'a str,
    pub computed_grade: &'a str,
    pub override_reason: Option<&'a str>,
    /// The assignment it completes (none for calibration gradings).
    pub assignment_id: Option<i64>,
    /// Flag the call to the team lead, due by then (poor and severe grades).
    pub flag_due_at_ms: Option<i64>,
    pub agent_id: i64,
    /// The call's start when the evaluation is one of the agent's results (not a blind
    /// re-grade, not a calibration): refused if that month is published for the agent.
    pub result_started_at_ms: Option<i64>,
    pub grader_id: i64,
    /// JSON of the submitted `domain::audit::EvaluationState`: the first revision.
    pub state: &'a str,
    pub now_ms: i64,
}

/// Submits a draft: the evaluation, its first revision, its assignment done and its flag,
/// all or nothing. Returns the open transaction (the caller adds the event's notices and
/// commits) and the id of the flag raised, if any.
pub async fn submit(db: &Db, s: &Submission<'_>) -> Result<(Tx, Option<i64>), SaveError> {
    let mut tx = db.begin_write().await?;
    if let Some(started) = s.result_started_at_ms {
        // Checked in the submission's own transaction, holding the agent against a
        // publication that would otherwise slip in between the check and the commit.
        tx.hold_agent(s.agent_id).await?;
        if super::sampling::month_published_for(&mut tx, s.agent_id, started).await? {
            return Err(SaveError::MonthPublished);
        }
    }
    let done = sqlx::query(
        "UPDATE evaluations SET form = $1, status = 'submitted', score = $2, grade = $3, \
             computed_grade = $4, override_reason = $5, revision = revision + 1, \
             updated_at_ms = $6, submitted_at_ms = $6 \
         WHERE id = $7 AND status = 'draft' AND ($8 < 0 OR revision = $8)",
    )
    .bind(s.form)
    .bind(s.score)
    .bind(s.grade)
    .bind(s.computed_grade)
    .bind(s.override_reason)
    .bind(s.now_ms)
    .bind(s.id)
    .bind(s.expected_revision.unwrap_or(-1))
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        drop(tx);
        return Err(why_not_saved(db, s.id).await?);
    }
    super::appeals::insert_revision(
        &mut tx,
        &super::appeals::NewRevision {
            evaluation_id: s.id,
            kind: "submit",
            post_lock: false,
            appeal_id: None,
            actor_id: s.grader_id,
            at_ms: s.now_ms,
            reason: s.override_reason,
            old_value: None,
            new_value: s.state,
        },
    )
    .await?;
    if let Some(assignment) = s.assignment_id {
        sqlx::query("UPDATE assignments SET completed_at_ms = $1 WHERE id = $2")
            .bind(s.now_ms)
            .bind(assignment)
            .execute(&mut *tx)
            .await?;
    }
    let mut flag_id = None;
    if let Some(due) = s.flag_due_at_ms {
        flag_id = Some(
            sqlx::query_scalar(
                "INSERT INTO flags (evaluation_id, agent_id, grade, status, created_at_ms, due_at_ms) \
                 VALUES ($1, $2, $3, 'open', $4, $5) RETURNING id",
            )
            .bind(s.id)
            .bind(s.agent_id)
            .bind(s.grade)
            .bind(s.now_ms)
            .bind(due)
            .fetch_one(&mut *tx)
            .await?,
        );
    }
    Ok((tx, flag_id))
}

#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub agent_id: Option<i64>,
    pub grader_id: Option<i64>,
    pub status: Option<String>,
    /// `[start, end)` of the call's start, epoch milliseconds.
    pub started: Option<(i64, i64)>,
    pub limit: i64,
}

/// Agents see their calls' evaluations only in months published for them: a range test
/// against their published months (`e` the evaluation, `r` its recording).
pub(super) const PUBLISHED_FOR_AGENT: &str = "EXISTS (SELECT 1 FROM agent_months am \
    WHERE am.agent_id = e.agent_id AND am.starts_at_ms <= r.started_at_ms \
    AND am.ends_at_ms > r.started_at_ms)";

/// Evaluations of assignments (calibration gradings are not an agent's results) that the
/// viewer may list: their own gradings, and submitted ones of agents in their scope (for an
/// agent, of published months only). Blind re-grades are listed to their grader only, and
/// nobody sees another's evaluation of a call they have a blind task on (`store::blind`).
pub async fn list(
    db: &Db,
    viewer: &Viewer,
    f: &ListFilter,
) -> Result<Vec<EvaluationRow>, sqlx::Error> {
    // QA inspectors see the whole center's calls but only their own gradings.
    let others = match viewer.role {
        Role::Inspector => Scope::Nothing,
        _ => viewer.scope(),
    };
    let (kind, scope_id) = scope_params(others);
    let (from, to) = f.started.unwrap_or((i64::MIN, i64::MAX));
    let blind = super::blind::blind_on("$3", "e.recording_id");
    let sql = sqlx::AssertSqlSafe(format!(
        "{EVALUATION_SELECT} WHERE e.assignment_id IS NOT NULL \
           AND (e.grader_id = $3 OR (e.status = 'submitted' AND a.appeal_id IS NULL \
                AND {SCOPE_FILTER} AND ($10 = 0 OR {PUBLISHED_FOR_AGENT}) AND NOT {blind})) \
           AND ($4 < 0 OR e.agent_id = $4) AND ($5 < 0 OR e.grader_id = $5) \
           AND ($6 = '' OR e.status = $6) AND r.started_at_ms >= $7 AND r.started_at_ms < $8 \
         ORDER BY r.started_at_ms DESC, e.id DESC LIMIT $9"
    ));
    let rows = sqlx::query(sql)
        .bind(kind)
        .bind(scope_id)
        .bind(viewer.user_id)
        .bind(f.agent_id.unwrap_or(-1))
        .bind(f.grader_id.unwrap_or(-1))
        .bind(f.status.clone().unwrap_or_default())
        .bind(from)
        .bind(to)
        .bind(f.limit)
        .bind(i64::from(viewer.role == Role::Agent))
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(evaluation_from_row).collect()
}

/// Whether the agent's month of a call at `started_at_ms` is published for them.
pub async fn published_for_agent(
    db: &Db,
    agent_id: i64,
    started_at_ms: i64,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "SELECT 1 AS one FROM agent_months \
         WHERE agent_id = $1 AND starts_at_ms <= $2 AND ends_at_ms > $2",
    )
    .bind(agent_id)
    .bind(started_at_ms)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.is_some())
}

/// (assignment, evaluation) of a grader's drafts of assignments.
pub async fn drafts_of_grader(db: &Db, grader_id: i64) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT assignment_id, id FROM evaluations \
         WHERE grader_id = $1 AND assignment_id IS NOT NULL AND status = 'draft'",
    )
    .bind(grader_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("assignment_id")?, r.try_get("id")?)))
        .collect()
}
