//! Settings, publications of a month's results, each agent's published month and its
//! acknowledgement.

use sqlx::Row;

use super::users::{SCOPE_FILTER, scope_params};
use super::{Db, Tx};
use crate::domain::access::Scope;

pub async fn get_setting(db: &Db, name: &str) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
        .bind(name)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| r.try_get("value")).transpose()
}

pub async fn put_setting(
    db: &Db,
    name: &str,
    value: &str,
    by: i64,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO settings (name, value, updated_by, updated_at_ms) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET value = $2, updated_by = $3, updated_at_ms = $4",
    )
    .bind(name)
    .bind(value)
    .bind(by)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// A publication with its progress, as the supervisor's month page shows it.
#[derive(Clone, Debug)]
pub struct PublicationRow {
    pub id: i64,
    pub month: String,
    /// JSON list of team names; `None` for every agent.
    pub teams: Option<String>,
    pub published_by: String,
    pub published_by_name: String,
    pub published_at_ms: i64,
    pub appeal_closes_at_ms: i64,
    pub acknowledge_due_at_ms: i64,
    /// Agents in it (within the viewer's scope), how many have a result to acknowledge
    /// (a counting evaluation), how many acknowledged.
    pub agents: i64,
    pub to_acknowledge: i64,
    pub acknowledged: i64,
    pub open_appeals: i64,
    pub last_decision_ms: Option<i64>,
}

fn publication_from_row(r: &sqlx::any::AnyRow) -> Result<PublicationRow, sqlx::Error> {
    Ok(PublicationRow {
        id: r.try_get("id")?,
        month: r.try_get("month")?,
        teams: r.try_get("teams")?,
        published_by: r.try_get("published_by")?,
        published_by_name: r.try_get("published_by_name")?,
        published_at_ms: r.try_get("published_at_ms")?,
        appeal_closes_at_ms: r.try_get("appeal_closes_at_ms")?,
        acknowledge_due_at_ms: r.try_get("acknowledge_due_at_ms")?,
        agents: r.try_get("agents")?,
        to_acknowledge: r.try_get("to_acknowledge")?,
        acknowledged: r.try_get("acknowledged")?,
        open_appeals: r.try_get("open_appeals")?,
        last_decision_ms: r.try_get("last_decision_ms")?,
    })
}

// `$1`/`$2` are the viewer's scope (agents counted), `u` the agent.
const PUBLICATION_SELECT: &str = "SELECT p.id, p.month, p.teams, b.username AS published_by, \
    b.name AS published_by_name, p.published_at_ms, p.appeal_closes_at_ms, \
    p.acknowledge_due_at_ms, \
    (SELECT COUNT(*) FROM agent_months am JOIN users u ON u.id = am.agent_id \
       WHERE am.publication_id = p.id AND {SCOPE}) AS agents, \
    (SELECT COUNT(*) FROM agent_months am JOIN users u ON u.id = am.agent_id \
       WHERE am.publication_id = p.id AND am.ack_required = 1 AND {SCOPE}) AS to_acknowledge, \
    (SELECT COUNT(*) FROM agent_months am JOIN users u ON u.id = am.agent_id \
       WHERE am.publication_id = p.id AND am.acknowledged_at_ms IS NOT NULL AND {SCOPE}) AS acknowledged, \
    (SELECT COUNT(*) FROM appeals ap WHERE ap.publication_id = p.id AND ap.status = 'open') AS open_appeals, \
    (SELECT MAX(ap.decided_at_ms) FROM appeals ap WHERE ap.publication_id = p.id) AS last_decision_ms \
    FROM publications p JOIN users b ON b.id = p.published_by";

fn publication_select() -> String {
    PUBLICATION_SELECT.replace("{SCOPE}", SCOPE_FILTER)
}

/// The month's publications, with agent counts within `scope`.
pub async fn list_publications(
    db: &Db,
    month: &str,
    scope: Scope,
) -> Result<Vec<PublicationRow>, sqlx::Error> {
    let (kind, scope_id) = scope_params(scope);
    let sql = sqlx::AssertSqlSafe(format!(
        "{} WHERE p.month = $3 ORDER BY p.published_at_ms, p.id",
        publication_select()
    ));
    let rows = sqlx::query(sql)
        .bind(kind)
        .bind(scope_id)
        .bind(month)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(publication_from_row).collect()
}

pub async fn get_publication(db: &Db, id: i64) -> Result<Option<PublicationRow>, sqlx::Error> {
    let (kind, scope_id) = scope_params(Scope::Center);
    let sql = sqlx::AssertSqlSafe(format!("{} WHERE p.id = $3", publication_select()));
    let row = sqlx::query(sql)
        .bind(kind)
        .bind(scope_id)
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(publication_from_row).transpose()
}

/// `AND u.team_id IN (...)` for a list of teams starting at placeholder `$first`; empty
/// for every team.
fn team_condition(team_ids: Option<&[i64]>, first: usize) -> String {
    match team_ids {
        None => String::new(),
        Some([]) => " AND 1 = 0".into(),
        Some(ids) => {
            let params: Vec<String> = (0..ids.len()).map(|i| format!("${}", first + i)).collect();
            format!(" AND u.team_id IN ({})", params.join(", "))
        }
    }
}

/// Active agents of the population (every agent, or the given teams) whose month is not
/// published yet.
pub async fn unpublished_agents(
    db: &Db,
    month: &str,
    team_ids: Option<&[i64]>,
) -> Result<i64, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) AS n FROM users u WHERE u.role = 'agent' AND u.active = 1 \
         AND NOT EXISTS (SELECT 1 FROM agent_months am WHERE am.agent_id = u.id AND am.month = $1){}",
        team_condition(team_ids, 2)
    ));
    let mut q = sqlx::query(sql).bind(month);
    for id in team_ids.unwrap_or_default() {
        q = q.bind(*id);
    }
    q.fetch_one(&db.pool).await?.try_get("n")
}

/// A queue item of the month not graded yet, which publishing would leave out.
#[derive(Clone, Debug)]
pub struct Unfinished {
    pub assignment_id: i64,
    pub call_id: String,
    pub agent: String,
    pub agent_name: String,
    pub grader: Option<String>,
    pub grader_name: Option<String>,
    pub kind: String,
    pub plan_name: Option<String>,
    pub draft: bool,
}

/// Which ungraded queue items of a month [`unfinished`] lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ungraded {
    /// Of agents not published yet: publishing would close them.
    Open,
    /// Of agents already published: closed by the publication, kept for the record.
    ClosedByPublication,
}

/// Ungraded queue items (blind re-grades aside) of calls in `[from, to)` of the
/// population's agents, unpublished or published ones: how many, and the first `limit`.
pub async fn unfinished(
    db: &Db,
    month: &str,
    (from, to): (i64, i64),
    team_ids: Option<&[i64]>,
    limit: i64,
    which: Ungraded,
) -> Result<(i64, Vec<Unfinished>), sqlx::Error> {
    let published = match which {
        Ungraded::Open => "NOT EXISTS",
        Ungraded::ClosedByPublication => "EXISTS",
    };
    let base = |first_team: usize| {
        format!(
            "FROM assignments a JOIN recordings r ON r.id = a.recording_id \
             JOIN users u ON u.id = a.agent_id LEFT JOIN users g ON g.id = a.grader_id \
             LEFT JOIN sampling_plans p ON p.id = a.plan_id \
             LEFT JOIN evaluations e ON e.assignment_id = a.id \
             WHERE a.completed_at_ms IS NULL AND a.appeal_id IS NULL \
               AND r.started_at_ms >= $1 AND r.started_at_ms < $2 \
               AND {published} (SELECT 1 FROM agent_months am \
                               WHERE am.agent_id = u.id AND am.month = $3){}",
            team_condition(team_ids, first_team)
        )
    };
    let count_sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) AS n {}", base(4)));
    let mut q = sqlx::query(count_sql).bind(from).bind(to).bind(month);
    for id in team_ids.unwrap_or_default() {
        q = q.bind(*id);
    }
    let count: i64 = q.fetch_one(&db.pool).await?.try_get("n")?;
    let list_sql = sqlx::AssertSqlSafe(format!(
        "SELECT a.id, r.call_id, u.username AS agent, u.name AS agent_name, \
         g.username AS grader, g.name AS grader_name, a.kind, p.name AS plan_name, \
         e.id AS evaluation_id {} ORDER BY u.username, r.started_at_ms, a.id LIMIT $4",
        base(5)
    ));
    let mut q = sqlx::query(list_sql)
        .bind(from)
        .bind(to)
        .bind(month)
        .bind(limit);
    for id in team_ids.unwrap_or_default() {
        q = q.bind(*id);
    }
    let rows = q.fetch_all(&db.pool).await?;
    let items = rows
        .iter()
        .map(|r| {
            Ok(Unfinished {
                assignment_id: r.try_get("id")?,
                call_id: r.try_get("call_id")?,
                agent: r.try_get("agent")?,
                agent_name: r.try_get("agent_name")?,
                grader: r.try_get("grader")?,
                grader_name: r.try_get("grader_name")?,
                kind: r.try_get("kind")?,
                plan_name: r.try_get("plan_name")?,
                draft: r.try_get::<Option<i64>, _>("evaluation_id")?.is_some(),
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((count, items))
}

pub struct NewPublication<'a> {
    pub month: &'a str,
    pub range_ms: (i64, i64),
    pub teams: Option<&'a str>,
    pub team_ids: Option<&'a [i64]>,
    pub by: i64,
    pub now_ms: i64,
    pub appeal_closes_at_ms: i64,
    pub acknowledge_due_at_ms: i64,
    pub policy: &'a str,
}

/// Publishes the month for the population's agents not published yet, all or nothing, in
/// `tx` (the caller adds the notifications to the same transaction). Returns the
/// publication and its agents, each with whether they have a result to acknowledge; `None`
/// (nothing written) when every agent was published.
pub async fn insert_publication(
    tx: &mut Tx,
    p: &NewPublication<'_>,
) -> Result<Option<(i64, Vec<(i64, bool)>)>, sqlx::Error> {
    tx.hold_agents_for_publication(p.team_ids).await?;
    let id: i64 = sqlx::query(
        "INSERT INTO publications (month, teams, published_by, published_at_ms, \
         appeal_closes_at_ms, acknowledge_due_at_ms, policy) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(p.month)
    .bind(p.teams)
    .bind(p.by)
    .bind(p.now_ms)
    .bind(p.appeal_closes_at_ms)
    .bind(p.acknowledge_due_at_ms)
    .bind(p.policy)
    .fetch_one(&mut **tx)
    .await?
    .try_get("id")?;
    // Only an agent with a counting evaluation has a result to acknowledge; nothing can be
    // submitted into the month once published, so this stays true.
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO agent_months (agent_id, month, starts_at_ms, ends_at_ms, publication_id, \
         ack_required) \
         SELECT u.id, $1, $2, $3, $4, \
           CASE WHEN EXISTS (SELECT 1 FROM evaluations e \
             JOIN assignments a ON a.id = e.assignment_id \
             JOIN recordings r ON r.id = e.recording_id \
             LEFT JOIN sampling_plans sp ON sp.id = a.plan_id \
             WHERE e.agent_id = u.id AND e.status = 'submitted' AND a.appeal_id IS NULL \
               AND {counts} = 1 \
               AND r.started_at_ms >= $2 AND r.started_at_ms < $3) THEN 1 ELSE 0 END \
         FROM users u WHERE u.role = 'agent' AND u.active = 1 \
         AND NOT EXISTS (SELECT 1 FROM agent_months am WHERE am.agent_id = u.id AND am.month = $1){} \
         RETURNING agent_id, ack_required",
        team_condition(p.team_ids, 5),
        counts = super::sampling::counts_sql!(sp),
    ));
    let mut q = sqlx::query(sql)
        .bind(p.month)
        .bind(p.range_ms.0)
        .bind(p.range_ms.1)
        .bind(id);
    for team in p.team_ids.unwrap_or_default() {
        q = q.bind(*team);
    }
    let agents = q
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("agent_id")?,
                r.try_get::<i64, _>("ack_required")? != 0,
            ))
        })
        .collect::<Result<Vec<(i64, bool)>, sqlx::Error>>()?;
    if agents.is_empty() {
        return Ok(None);
    }
    // The first publication of a month reveals its sampling seeds.
    sqlx::query(
        "INSERT INTO month_publications (month, published_at_ms, published_by) VALUES ($1, $2, $3) \
         ON CONFLICT (month) DO NOTHING",
    )
    .bind(p.month)
    .bind(p.now_ms)
    .bind(p.by)
    .execute(&mut **tx)
    .await?;
    Ok(Some((id, agents)))
}

/// An agent's published month with its publication's deadlines.
#[derive(Clone, Debug)]
pub struct AgentMonth {
    pub agent_id: i64,
    pub agent: String,
    pub agent_name: String,
    pub team_id: Option<i64>,
    pub team: Option<String>,
    pub month: String,
    pub starts_at_ms: i64,
    pub ends_at_ms: i64,
    pub publication_id: i64,
    pub published_at_ms: i64,
    pub appeal_closes_at_ms: i64,
    pub acknowledge_due_at_ms: i64,
    pub acknowledged_at_ms: Option<i64>,
    /// The sign-off a later change of a result set aside, and when that change came: the
    /// month then waits for a new acknowledgement.
    pub previous_ack_at_ms: Option<i64>,
    pub changed_after_ack_at_ms: Option<i64>,
    pub appeals_filed: i64,
    /// The policy in force at publication (JSON of `domain::publication::Policy`).
    pub policy: String,
    pub open_appeals: i64,
    pub last_decision_ms: Option<i64>,
    /// The agent's submitted evaluations of the month (re-grades and calibrations aside).
    pub evaluations: i64,
    /// Those of them that feed score and pay, and their mean.
    pub counted: i64,
    pub mean_score: Option<f64>,
    /// False when the agent had no counting evaluation: nothing to acknowledge.
    pub ack_required: bool,
}

const AGENT_MONTH_SELECT: &str = concat!(
    "SELECT am.agent_id, u.username AS agent, u.name AS agent_name, \
    u.team_id, t.name AS team, am.month, am.starts_at_ms, am.ends_at_ms, am.publication_id, \
    p.published_at_ms, p.appeal_closes_at_ms, p.acknowledge_due_at_ms, am.acknowledged_at_ms, \
    am.previous_ack_at_ms, am.changed_after_ack_at_ms, am.appeals_filed, p.policy, \
    (SELECT COUNT(*) FROM appeals ap WHERE ap.publication_id = p.id AND ap.status = 'open') AS open_appeals, \
    (SELECT MAX(ap.decided_at_ms) FROM appeals ap WHERE ap.publication_id = p.id) AS last_decision_ms, \
    (SELECT COUNT(*) FROM evaluations e JOIN recordings r ON r.id = e.recording_id \
       JOIN assignments a ON a.id = e.assignment_id \
       WHERE e.agent_id = am.agent_id AND e.status = 'submitted' AND a.appeal_id IS NULL \
         AND r.started_at_ms >= am.starts_at_ms AND r.started_at_ms < am.ends_at_ms) AS evaluations, \
    (SELECT COUNT(*) FROM evaluations e JOIN recordings r ON r.id = e.recording_id \
       JOIN assignments a ON a.id = e.assignment_id LEFT JOIN sampling_plans sp ON sp.id = a.plan_id \
       WHERE e.agent_id = am.agent_id AND e.status = 'submitted' AND a.appeal_id IS NULL \
         AND ",
    super::sampling::counts_sql!(sp),
    " = 1 \
         AND r.started_at_ms >= am.starts_at_ms AND r.started_at_ms < am.ends_at_ms) AS counted, \
    (SELECT AVG(CAST(e.score AS DOUBLE PRECISION)) FROM evaluations e JOIN recordings r ON r.id = e.recording_id \
       JOIN assignments a ON a.id = e.assignment_id LEFT JOIN sampling_plans sp ON sp.id = a.plan_id \
       WHERE e.agent_id = am.agent_id AND e.status = 'submitted' AND a.appeal_id IS NULL \
         AND ",
    super::sampling::counts_sql!(sp),
    " = 1 \
         AND r.started_at_ms >= am.starts_at_ms AND r.started_at_ms < am.ends_at_ms) AS mean_score, \
    am.ack_required \
    FROM agent_months am JOIN publications p ON p.id = am.publication_id \
    JOIN users u ON u.id = am.agent_id LEFT JOIN teams t ON t.id = u.team_id"
);

fn agent_month_from_row(r: &sqlx::any::AnyRow) -> Result<AgentMonth, sqlx::Error> {
    Ok(AgentMonth {
        agent_id: r.try_get("agent_id")?,
        agent: r.try_get("agent")?,
        agent_name: r.try_get("agent_name")?,
        team_id: r.try_get("team_id")?,
        team: r.try_get("team")?,
        month: r.try_get("month")?,
        starts_at_ms: r.try_get("starts_at_ms")?,
        ends_at_ms: r.try_get("ends_at_ms")?,
        publication_id: r.try_get("publication_id")?,
        published_at_ms: r.try_get("published_at_ms")?,
        appeal_closes_at_ms: r.try_get("appeal_closes_at_ms")?,
        acknowledge_due_at_ms: r.try_get("acknowledge_due_at_ms")?,
        acknowledged_at_ms: r.try_get("acknowledged_at_ms")?,
        previous_ack_at_ms: r.try_get("previous_ack_at_ms")?,
        changed_after_ack_at_ms: r.try_get("changed_after_ack_at_ms")?,
        appeals_filed: r.try_get("appeals_filed")?,
        policy: r.try_get("policy")?,
        open_appeals: r.try_get("open_appeals")?,
        last_decision_ms: r.try_get("last_decision_ms")?,
        evaluations: r.try_get("evaluations")?,
        counted: r.try_get("counted")?,
        mean_score: r.try_get("mean_score")?,
        ack_required: r.try_get::<i64, _>("ack_required")? != 0,
    })
}

pub async fn agent_month(
    db: &Db,
    agent_id: i64,
    month: &str,
) -> Result<Option<AgentMonth>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{AGENT_MONTH_SELECT} WHERE am.agent_id = $1 AND am.month = $2"
    ));
    let row = sqlx::query(sql)
        .bind(agent_id)
        .bind(month)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(agent_month_from_row).transpose()
}

/// The published month a call of `agent_id` at `started_at_ms` belongs to, if published.
pub async fn agent_month_of_call(
    db: &Db,
    agent_id: i64,
    started_at_ms: i64,
) -> Result<Option<AgentMonth>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{AGENT_MONTH_SELECT} WHERE am.agent_id = $1 AND am.starts_at_ms <= $2 AND am.ends_at_ms > $2"
    ));
    let row = sqlx::query(sql)
        .bind(agent_id)
        .bind(started_at_ms)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(agent_month_from_row).transpose()
}

/// An agent's published months, newest first.
pub async fn agent_months_of(db: &Db, agent_id: i64) -> Result<Vec<AgentMonth>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{AGENT_MONTH_SELECT} WHERE am.agent_id = $1 ORDER BY am.month DESC"
    ));
    let rows = sqlx::query(sql).bind(agent_id).fetch_all(&db.pool).await?;
    rows.iter().map(agent_month_from_row).collect()
}

/// The month's published agents within a viewer's scope (`$1`, `$2`), for the lead's
/// acknowledgement list.
pub async fn agent_months_in_scope(
    db: &Db,
    month: &str,
    scope: Scope,
) -> Result<Vec<AgentMonth>, sqlx::Error> {
    let (kind, scope_id) = scope_params(scope);
    let sql = sqlx::AssertSqlSafe(format!(
        "{AGENT_MONTH_SELECT} WHERE {SCOPE_FILTER} AND am.month = $3 ORDER BY t.name, u.username"
    ));
    let rows = sqlx::query(sql)
        .bind(kind)
        .bind(scope_id)
        .bind(month)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(agent_month_from_row).collect()
}

/// Signs off the month (the first sign-off counts; repeating it changes nothing). False
/// when the month is not published for the agent.
pub async fn acknowledge(
    db: &Db,
    agent_id: i64,
    month: &str,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE agent_months SET acknowledged_at_ms = COALESCE(acknowledged_at_ms, $1) \
         WHERE agent_id = $2 AND month = $3",
    )
    .bind(now_ms)
    .bind(agent_id)
    .bind(month)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected() > 0)
}

/// A result of the agent's month holding `started_at_ms` changed: an acknowledgement given
/// before it no longer covers the month, so it is set aside (kept as the previous one) and
/// the agent is asked again. In `tx`, the change's own transaction.
pub async fn set_aside_acknowledgement(
    tx: &mut Tx,
    agent_id: i64,
    started_at_ms: i64,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE agent_months SET previous_ack_at_ms = acknowledged_at_ms, \
         changed_after_ack_at_ms = $1, acknowledged_at_ms = NULL \
         WHERE agent_id = $2 AND starts_at_ms <= $3 AND ends_at_ms > $3 \
           AND acknowledged_at_ms IS NOT NULL",
    )
    .bind(now_ms)
    .bind(agent_id)
    .bind(started_at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Publications whose acknowledgement deadline has passed and whose leads have not been
/// told yet: (publication, month, [(lead, [agent names missing])]). Marks them told in
/// `tx` so the check runs once per publication.
pub async fn take_missing_acknowledgements(
    tx: &mut Tx,
    now_ms: i64,
) -> Result<Vec<(i64, String, Vec<(i64, i64, String)>)>, sqlx::Error> {
    let pubs = sqlx::query(
        "SELECT id, month FROM publications \
         WHERE acknowledge_due_at_ms <= $1 AND ack_reminded_at_ms IS NULL",
    )
    .bind(now_ms)
    .fetch_all(&mut **tx)
    .await?;
    let mut out = Vec::new();
    for p in &pubs {
        let id: i64 = p.try_get("id")?;
        let month: String = p.try_get("month")?;
        sqlx::query("UPDATE publications SET ack_reminded_at_ms = $1 WHERE id = $2")
            .bind(now_ms)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        // (lead, agent, agent's name) for every agent still missing, by the agent's team.
        let rows = sqlx::query(
            "SELECT l.id AS lead_id, u.id AS agent_id, u.name AS agent_name \
             FROM agent_months am JOIN users u ON u.id = am.agent_id \
             JOIN users l ON l.team_id = u.team_id AND l.role = 'team_lead' AND l.active = 1 \
             WHERE am.publication_id = $1 AND am.acknowledged_at_ms IS NULL \
               AND am.ack_required = 1 \
             ORDER BY l.id, u.username",
        )
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
        let missing = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("lead_id")?,
                    r.try_get("agent_id")?,
                    r.try_get("agent_name")?,
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        out.push((id, month, missing));
    }
    Ok(out)
}

pub async fn team_id(db: &Db, name: &str) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query("SELECT id FROM teams WHERE name = $1")
        .bind(name)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| r.try_get("id")).transpose()
}
