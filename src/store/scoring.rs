//! What a month's scores are computed from (published evaluations, imported components,
//! commendations, leads' missing spot-checks, earlier months' results) and the runs that
//! keep every computation.

use std::collections::HashMap;

use sqlx::Row;

use super::sampling::counts_sql;
use super::users::{SCOPE_FILTER, scope_params};
use super::{Db, Tx};
use crate::domain::access::Scope;

/// A published agent of the month.
#[derive(Clone, Debug)]
pub struct ScoredAgent {
    pub agent_id: i64,
    pub username: String,
    pub name: String,
    pub team_id: Option<i64>,
    pub team: Option<String>,
}

/// Everything one month's computation reads, in a few bulk queries.
#[derive(Clone, Debug, Default)]
pub struct MonthInputs {
    pub agents: Vec<ScoredAgent>,
    /// (agent, score, grade, counts) of the month's published evaluations (re-grades
    /// aside); only those that count feed score and pay, the others are counted as such.
    pub evaluations: Vec<(i64, i64, String, bool)>,
    /// (agent, component, value).
    pub components: Vec<(i64, String, f64)>,
    /// (agent, kind).
    pub commendations: Vec<(i64, String)>,
    /// Active team leads: (lead, team).
    pub leads: Vec<(i64, Option<i64>)>,
    /// Missing spot-checks per lead, summed over the month's plans.
    pub lead_missing: HashMap<i64, i64>,
}

pub async fn month_inputs(db: &Db, month: &str) -> Result<MonthInputs, sqlx::Error> {
    let mut inputs = MonthInputs::default();
    let rows = sqlx::query(
        "SELECT u.id, u.username, u.name, u.team_id, t.name AS team FROM agent_months am \
         JOIN users u ON u.id = am.agent_id LEFT JOIN teams t ON t.id = u.team_id \
         WHERE am.month = $1 ORDER BY u.id",
    )
    .bind(month)
    .fetch_all(&db.pool)
    .await?;
    for r in &rows {
        inputs.agents.push(ScoredAgent {
            agent_id: r.try_get("id")?,
            username: r.try_get("username")?,
            name: r.try_get("name")?,
            team_id: r.try_get("team_id")?,
            team: r.try_get("team")?,
        });
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT e.agent_id, e.score, e.grade, {} AS counts {}",
        counts_sql!(),
        month_evaluations(Counting::All)
    ));
    let rows = month_evaluations_query(&sql, month, Scope::Center)
        .fetch_all(&db.pool)
        .await?;
    for r in &rows {
        inputs.evaluations.push((
            r.try_get("agent_id")?,
            r.try_get::<Option<i64>, _>("score")?.unwrap_or(0),
            r.try_get::<Option<String>, _>("grade")?.unwrap_or_default(),
            r.try_get::<i64, _>("counts")? != 0,
        ));
    }
    let rows =
        sqlx::query("SELECT agent_id, component, value FROM component_values WHERE month = $1")
            .bind(month)
            .fetch_all(&db.pool)
            .await?;
    for r in &rows {
        inputs.components.push((
            r.try_get("agent_id")?,
            r.try_get("component")?,
            r.try_get("value")?,
        ));
    }
    let rows = sqlx::query("SELECT agent_id, kind FROM commendations WHERE month = $1")
        .bind(month)
        .fetch_all(&db.pool)
        .await?;
    for r in &rows {
        inputs
            .commendations
            .push((r.try_get("agent_id")?, r.try_get("kind")?));
    }
    let rows = sqlx::query(
        "SELECT id, team_id FROM users WHERE role = 'team_lead' AND active = 1 ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await?;
    for r in &rows {
        inputs.leads.push((r.try_get("id")?, r.try_get("team_id")?));
    }
    let rows = sqlx::query(
        "SELECT lead_id, CAST(SUM(missing) AS BIGINT) AS missing FROM lead_penalties WHERE month = $1 \
         GROUP BY lead_id",
    )
    .bind(month)
    .fetch_all(&db.pool)
    .await?;
    for r in &rows {
        inputs
            .lead_missing
            .insert(r.try_get("lead_id")?, r.try_get("missing")?);
    }
    Ok(inputs)
}

/// Which of a month's evaluations a query reads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Only those that feed score and pay (the QA plan's, pulls a supervisor chose to count).
    Only,
    /// All of them (the scores row says how many did not count).
    All,
}

/// `FROM ... WHERE ...` of a month's published evaluations (re-grades aside) of agents in a
/// scope (`$1`, `$2`), `$3` the month, `$4`..`$5` the span of its calls. It starts from the
/// month's calls (an index range), not from the agents' evaluations of every month, so its
/// cost follows one month however much history is stored.
fn month_evaluations(which: Counting) -> String {
    let counting = match which {
        Counting::Only => format!(" AND {} = 1", counts_sql!()),
        Counting::All => String::new(),
    };
    format!(
        "FROM recordings r \
         JOIN evaluations e ON e.recording_id = r.id AND e.status = 'submitted' \
         JOIN agent_months am ON am.agent_id = e.agent_id AND am.month = $3 \
         JOIN assignments a ON a.id = e.assignment_id \
         LEFT JOIN sampling_plans p ON p.id = a.plan_id \
         JOIN users u ON u.id = e.agent_id LEFT JOIN teams t ON t.id = u.team_id \
         WHERE {SCOPE_FILTER} AND r.started_at_ms >= $4 AND r.started_at_ms < $5 \
           AND a.appeal_id IS NULL \
           AND r.started_at_ms >= am.starts_at_ms AND r.started_at_ms < am.ends_at_ms{counting}"
    )
}

/// `sql` (built on [`month_evaluations`]) with its parameters bound.
fn month_evaluations_query<'q>(
    sql: &'q sqlx::AssertSqlSafe<String>,
    month: &'q str,
    scope: Scope,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    let (kind, id) = scope_params(scope);
    let (from, to) = month_range(month);
    sqlx::query(sqlx::AssertSqlSafe(sql.0.as_str()))
        .bind(kind)
        .bind(id)
        .bind(month)
        .bind(from)
        .bind(to)
}

/// A span surely holding the month's calls whatever the center's zone (a zone is less than
/// a day from UTC); the exact bounds are each agent's stored ones.
fn month_range(month: &str) -> (i64, i64) {
    const DAY_MS: i64 = 86_400_000;
    match month.parse::<crate::domain::month::Month>() {
        Ok(m) => {
            let (from, to) = m.range_ms(chrono_tz::UTC);
            (from - DAY_MS, to + DAY_MS)
        }
        Err(_) => (i64::MIN, i64::MAX),
    }
}

/// The overall scores of the newest run of each of `months` that were complete (every
/// component in): (month, agent, overall). An incomplete month has no level, so it breaks a
/// run of months rather than count with what was missing.
pub async fn overall_of_months(
    db: &Db,
    months: &[String],
) -> Result<Vec<(String, i64, f64)>, sqlx::Error> {
    let mut out = Vec::new();
    for month in months {
        let rows = sqlx::query(
            "SELECT s.agent_id, s.overall FROM agent_scores s \
             WHERE s.run_id = (SELECT MAX(id) FROM score_runs WHERE month = $1) \
               AND s.complete = 1",
        )
        .bind(month)
        .fetch_all(&db.pool)
        .await?;
        for r in &rows {
            out.push((month.clone(), r.try_get("agent_id")?, r.try_get("overall")?));
        }
    }
    Ok(out)
}

/// One agent's result as a run stores it.
#[derive(Clone, Debug)]
pub struct AgentScore {
    pub agent_id: i64,
    pub team_id: Option<i64>,
    /// Evaluations that fed score and pay.
    pub evaluations: i64,
    /// Evaluations of the month that did not (spot-checks, pulls not chosen to count).
    pub uncounted: i64,
    pub sq_score: Option<f64>,
    pub sq_low: Option<f64>,
    pub sq_high: Option<f64>,
    pub pay: i64,
    pub pay_cancelled: bool,
    /// What the known parts add up to; the overall score only when `complete`.
    pub overall: f64,
    /// Every part of the overall score was in (service quality and each component).
    pub complete: bool,
    /// `None` while incomplete: a level is never given from missing data.
    pub level: Option<String>,
    /// JSON.
    pub detail: String,
}

/// What the level column holds while a month is incomplete.
const NO_LEVEL: &str = "incomplete";

#[derive(Clone, Debug)]
pub struct LeadScore {
    pub lead_id: i64,
    pub team_id: Option<i64>,
    pub missing: i64,
    pub penalty: f64,
    pub team_sq_points: Option<f64>,
}

pub struct NewRun<'a> {
    pub month: &'a str,
    pub cause: &'a str,
    pub detail: Option<&'a str>,
    pub by: Option<i64>,
    pub now_ms: i64,
    pub config: &'a str,
}

/// Rows per multi-row insert. Small on purpose: sqlx's SQLite driver finds each `$n` by a
/// linear scan, so binding one statement costs the square of its parameter count (500 rows
/// of 12 took ~45 ms a statement, 50 rows a fraction of a millisecond).
const CHUNK: usize = 50;

/// Stores a run with its results, all or nothing. Returns the run's id.
pub async fn insert_run(
    db: &Db,
    run: &NewRun<'_>,
    agents: &[AgentScore],
    leads: &[LeadScore],
) -> Result<i64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO score_runs (month, cause, detail, triggered_by, at_ms, config) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(run.month)
    .bind(run.cause)
    .bind(run.detail)
    .bind(run.by)
    .bind(run.now_ms)
    .bind(run.config)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    insert_agent_scores(&mut tx, id, agents).await?;
    for l in leads {
        sqlx::query(
            "INSERT INTO lead_scores (run_id, lead_id, team_id, missing, penalty, team_sq_points) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(l.lead_id)
        .bind(l.team_id)
        .bind(l.missing)
        .bind(l.penalty)
        .bind(l.team_sq_points)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(id)
}

async fn insert_agent_scores(
    tx: &mut Tx,
    run_id: i64,
    agents: &[AgentScore],
) -> Result<(), sqlx::Error> {
    const COLS: usize = 14;
    for chunk in agents.chunks(CHUNK) {
        let mut sql = String::from(
            "INSERT INTO agent_scores (run_id, agent_id, team_id, evaluations, sq_score, sq_low, \
             sq_high, pay, pay_cancelled, overall, level, detail, uncounted, complete) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            let params: Vec<String> = (1..=COLS).map(|c| format!("${}", i * COLS + c)).collect();
            sql.push('(');
            sql.push_str(&params.join(", "));
            sql.push(')');
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for a in chunk {
            q = q
                .bind(run_id)
                .bind(a.agent_id)
                .bind(a.team_id)
                .bind(a.evaluations)
                .bind(a.sq_score)
                .bind(a.sq_low)
                .bind(a.sq_high)
                .bind(a.pay)
                .bind(i64::from(a.pay_cancelled))
                .bind(a.overall)
                .bind(
                    a.level
                        .as_deref()
                        .filter(|_| a.complete)
                        .unwrap_or(NO_LEVEL),
                )
                .bind(a.detail.as_str())
                .bind(a.uncounted)
                .bind(i64::from(a.complete));
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

#[derive(Clone, Debug)]
pub struct RunRow {
    pub id: i64,
    pub month: String,
    pub cause: String,
    pub detail: Option<String>,
    pub by: Option<String>,
    pub at_ms: i64,
}

fn run_from_row(r: &sqlx::any::AnyRow) -> Result<RunRow, sqlx::Error> {
    Ok(RunRow {
        id: r.try_get("id")?,
        month: r.try_get("month")?,
        cause: r.try_get("cause")?,
        detail: r.try_get("detail")?,
        by: r.try_get("by_user")?,
        at_ms: r.try_get("at_ms")?,
    })
}

const RUN_SELECT: &str = "SELECT r.id, r.month, r.cause, r.detail, u.username AS by_user, r.at_ms \
    FROM score_runs r LEFT JOIN users u ON u.id = r.triggered_by";

/// A month's runs, newest first.
pub async fn runs(db: &Db, month: &str) -> Result<Vec<RunRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{RUN_SELECT} WHERE r.month = $1 ORDER BY r.id DESC"
    ));
    let rows = sqlx::query(sql).bind(month).fetch_all(&db.pool).await?;
    rows.iter().map(run_from_row).collect()
}

pub async fn get_run(db: &Db, id: i64) -> Result<Option<RunRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!("{RUN_SELECT} WHERE r.id = $1"));
    let row = sqlx::query(sql).bind(id).fetch_optional(&db.pool).await?;
    row.as_ref().map(run_from_row).transpose()
}

/// An agent's result with who they are, for lists and exports.
#[derive(Clone, Debug)]
pub struct AgentScoreRow {
    pub run_id: i64,
    pub month: String,
    pub agent: String,
    pub agent_name: String,
    pub team: Option<String>,
    pub score: AgentScore,
}

const SCORE_SELECT: &str = "SELECT s.run_id, r.month, u.username, u.name, t.name AS team, \
    s.agent_id, s.team_id, s.evaluations, s.sq_score, s.sq_low, s.sq_high, s.pay, \
    s.pay_cancelled, s.overall, s.level, s.detail, s.uncounted, s.complete \
    FROM agent_scores s JOIN score_runs r ON r.id = s.run_id JOIN users u ON u.id = s.agent_id \
    LEFT JOIN teams t ON t.id = s.team_id";

fn score_from_row(r: &sqlx::any::AnyRow) -> Result<AgentScoreRow, sqlx::Error> {
    Ok(AgentScoreRow {
        run_id: r.try_get("run_id")?,
        month: r.try_get("month")?,
        agent: r.try_get("username")?,
        agent_name: r.try_get("name")?,
        team: r.try_get("team")?,
        score: AgentScore {
            agent_id: r.try_get("agent_id")?,
            team_id: r.try_get("team_id")?,
            evaluations: r.try_get("evaluations")?,
            uncounted: r.try_get("uncounted")?,
            sq_score: r.try_get("sq_score")?,
            sq_low: r.try_get("sq_low")?,
            sq_high: r.try_get("sq_high")?,
            pay: r.try_get("pay")?,
            pay_cancelled: r.try_get::<i64, _>("pay_cancelled")? != 0,
            overall: r.try_get("overall")?,
            complete: r.try_get::<i64, _>("complete")? != 0,
            level: Some(r.try_get::<String, _>("level")?).filter(|l| l != NO_LEVEL),
            detail: r.try_get("detail")?,
        },
    })
}

/// A run's agent results within a viewer's scope (`u` the agent).
pub async fn agent_scores(
    db: &Db,
    run_id: i64,
    scope: Scope,
) -> Result<Vec<AgentScoreRow>, sqlx::Error> {
    let (kind, id) = scope_params(scope);
    let sql = sqlx::AssertSqlSafe(format!(
        "{SCORE_SELECT} WHERE {SCOPE_FILTER} AND s.run_id = $3 ORDER BY t.name, u.username"
    ));
    let rows = sqlx::query(sql)
        .bind(kind)
        .bind(id)
        .bind(run_id)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(score_from_row).collect()
}

/// One agent's results of the newest run of each month in `[from, to]` (`YYYY-MM`).
pub async fn agent_trend(
    db: &Db,
    agent_id: i64,
    from: &str,
    to: &str,
) -> Result<Vec<AgentScoreRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{SCORE_SELECT} WHERE s.agent_id = $1 AND r.month >= $2 AND r.month <= $3 \
         AND s.run_id = (SELECT MAX(r2.id) FROM score_runs r2 WHERE r2.month = r.month) \
         ORDER BY r.month"
    ));
    let rows = sqlx::query(sql)
        .bind(agent_id)
        .bind(from)
        .bind(to)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(score_from_row).collect()
}

#[derive(Clone, Debug)]
pub struct LeadScoreRow {
    pub lead: String,
    pub lead_name: String,
    pub team: Option<String>,
    pub score: LeadScore,
}

/// A run's lead assessments: all, or one lead's (`lead_id`).
pub async fn lead_scores(
    db: &Db,
    run_id: i64,
    lead_id: Option<i64>,
) -> Result<Vec<LeadScoreRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT u.username, u.name, t.name AS team, l.lead_id, l.team_id, l.missing, l.penalty, \
         l.team_sq_points FROM lead_scores l JOIN users u ON u.id = l.lead_id \
         LEFT JOIN teams t ON t.id = l.team_id WHERE l.run_id = $1 AND ($2 < 0 OR l.lead_id = $2) \
         ORDER BY t.name, u.username",
    )
    .bind(run_id)
    .bind(lead_id.unwrap_or(-1))
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(LeadScoreRow {
                lead: r.try_get("username")?,
                lead_name: r.try_get("name")?,
                team: r.try_get("team")?,
                score: LeadScore {
                    lead_id: r.try_get("lead_id")?,
                    team_id: r.try_get("team_id")?,
                    missing: r.try_get("missing")?,
                    penalty: r.try_get("penalty")?,
                    team_sq_points: r.try_get("team_sq_points")?,
                },
            })
        })
        .collect()
}

/// Stores imported component values (replacing earlier ones of the same agent, month and
/// component), all or nothing.
pub async fn upsert_components(
    db: &Db,
    rows: &[(i64, String, String, f64)],
    by: Option<i64>,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    for (agent, month, component, value) in rows {
        sqlx::query(
            "INSERT INTO component_values (agent_id, month, component, value, imported_by, imported_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (month, agent_id, component) DO UPDATE SET value = $4, imported_by = $5, \
             imported_at_ms = $6",
        )
        .bind(agent)
        .bind(month.as_str())
        .bind(component.as_str())
        .bind(value)
        .bind(by)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Agent ids by username, for imports.
pub async fn agent_ids(db: &Db) -> Result<HashMap<String, i64>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, username FROM users WHERE role = 'agent'")
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("username")?, r.try_get("id")?)))
        .collect()
}

pub async fn insert_commendation(
    db: &Db,
    agent_id: i64,
    month: &str,
    kind: &str,
    note: &str,
    by: i64,
    now_ms: i64,
) -> Result<i64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let id: i64 = sqlx::query(
        "INSERT INTO commendations (agent_id, month, kind, note, created_by, created_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(agent_id)
    .bind(month)
    .bind(kind)
    .bind(note)
    .bind(by)
    .bind(now_ms)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    tx.commit().await?;
    Ok(id)
}

/// (id, agent username, agent name, kind, note, created_at_ms) of a month within a scope.
pub async fn commendations(
    db: &Db,
    month: &str,
    scope: Scope,
) -> Result<Vec<(i64, String, String, String, String, i64)>, sqlx::Error> {
    let (kind, id) = scope_params(scope);
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT c.id, u.username, u.name, c.kind, c.note, c.created_at_ms FROM commendations c \
         JOIN users u ON u.id = c.agent_id WHERE {SCOPE_FILTER} AND c.month = $3 \
         ORDER BY u.username, c.id"
    ));
    let rows = sqlx::query(sql)
        .bind(kind)
        .bind(id)
        .bind(month)
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get("username")?,
                r.try_get("name")?,
                r.try_get("kind")?,
                r.try_get("note")?,
                r.try_get("created_at_ms")?,
            ))
        })
        .collect()
}

/// (agent's team, rubric version id, form JSON, grade) of the month's published evaluations
/// that count (re-grades aside) within a scope, for the grade and deduction reports.
pub async fn month_forms(
    db: &Db,
    month: &str,
    scope: Scope,
) -> Result<Vec<(Option<String>, i64, String, Option<String>)>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT t.name AS team, e.rubric_id, e.form, e.grade {}",
        month_evaluations(Counting::Only)
    ));
    let rows = month_evaluations_query(&sql, month, scope)
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("team")?,
                r.try_get("rubric_id")?,
                r.try_get("form")?,
                r.try_get("grade")?,
            ))
        })
        .collect()
}
