//! Sampling plans, their weeks, per-agent cells, provisional picks and assignments (the
//! graders' work: samples and pulls).

use std::collections::{HashMap, HashSet};

use sqlx::Row;

use super::users::{SCOPE_FILTER, scope_params};
use super::{Backend, Db, Tx, is_unique_violation};
use crate::domain::access::Viewer;
use crate::domain::sampling::{Filters, Key, PlanSpec, Population, Stratum};

#[derive(Clone, Debug)]
pub struct PlanRow {
    pub id: i64,
    pub spec: PlanSpec,
    pub time_zone: String,
    pub seed: String,
    pub seed_hash: String,
    pub watermark_ms: i64,
    pub draw_version: i64,
    pub last_drawn_at_ms: Option<i64>,
    pub created_by: String,
    pub created_at_ms: i64,
    pub published_at_ms: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct StratumRow {
    pub stratum: Stratum,
    pub frozen_at_ms: Option<i64>,
    pub eligible_count: Option<i64>,
    pub eligible_digest: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum InsertPlanError {
    #[error("a plan with this name already exists for the month")]
    Exists,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn json_err(e: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}

pub struct NewPlan<'a> {
    pub spec: &'a PlanSpec,
    pub time_zone: &'a str,
    pub strata: &'a [Stratum],
    pub seed_hex: &'a str,
    pub seed_hash: &'a str,
    pub created_by: i64,
    pub now_ms: i64,
}

pub async fn insert_plan(tx: &mut Tx, p: &NewPlan<'_>) -> Result<i64, InsertPlanError> {
    let s = p.spec;
    let res = sqlx::query(
        "INSERT INTO sampling_plans (name, month, time_zone, population, per_agent, graders, \
         filters, focus, grace_ms, seed, seed_hash, created_by, created_at_ms, counts) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(&s.name)
    .bind(&s.month)
    .bind(p.time_zone)
    .bind(serde_json::to_string(&s.population).map_err(json_err)?)
    .bind(i64::from(s.per_agent))
    .bind(s.graders.as_str())
    .bind(filters_json(s).map_err(json_err)?)
    .bind(
        s.focus
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(json_err)?,
    )
    .bind(s.grace_ms())
    .bind(p.seed_hex)
    .bind(p.seed_hash)
    .bind(p.created_by)
    .bind(p.now_ms)
    .bind(i64::from(s.counts()))
    .fetch_one(&mut **tx)
    .await;
    let id: i64 = match res {
        Ok(row) => row.try_get("id")?,
        Err(e) if is_unique_violation(&e) => return Err(InsertPlanError::Exists),
        Err(e) => return Err(e.into()),
    };
    for st in p.strata {
        sqlx::query(
            "INSERT INTO plan_strata (plan_id, stratum, start_ms, end_ms, deadline_ms, days) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(i64::from(st.index))
        .bind(st.start_ms)
        .bind(st.end_ms)
        .bind(st.deadline_ms)
        .bind(i64::from(st.days))
        .execute(&mut **tx)
        .await?;
    }
    Ok(id)
}

/// The filters column also keeps the grading period, which has no column of its own.
fn filters_json(s: &PlanSpec) -> Result<String, serde_json::Error> {
    let mut v = serde_json::to_value(&s.filters)?;
    v["grading_days"] = serde_json::json!(s.grading_days);
    serde_json::to_string(&v)
}

const PLAN_COLUMNS: &str = "p.id, p.name, p.month, p.time_zone, p.population, p.per_agent, \
    p.graders, p.filters, p.focus, p.grace_ms, p.seed, p.seed_hash, p.watermark_ms, \
    p.draw_version, p.last_drawn_at_ms, u.username AS created_by, p.created_at_ms, \
    mp.published_at_ms, p.counts";
const PLAN_FROM: &str = "FROM sampling_plans p JOIN users u ON u.id = p.created_by \
    LEFT JOIN month_publications mp ON mp.month = p.month";

fn plan_from_row(row: &sqlx::any::AnyRow) -> Result<PlanRow, sqlx::Error> {
    let population: Population =
        serde_json::from_str(&row.try_get::<String, _>("population")?).map_err(json_err)?;
    let filters_v: serde_json::Value =
        serde_json::from_str(&row.try_get::<String, _>("filters")?).map_err(json_err)?;
    let grading_days = filters_v
        .get("grading_days")
        .and_then(serde_json::Value::as_u64)
        .and_then(|d| u32::try_from(d).ok())
        .unwrap_or(crate::domain::sampling::DEFAULT_GRADING_DAYS);
    let mut filters_v = filters_v;
    if let Some(obj) = filters_v.as_object_mut() {
        obj.remove("grading_days");
    }
    let filters: Filters = serde_json::from_value(filters_v).map_err(json_err)?;
    let focus = row
        .try_get::<Option<String>, _>("focus")?
        .map(|f| serde_json::from_str(&f))
        .transpose()
        .map_err(json_err)?;
    let graders = crate::domain::sampling::Graders::parse(&row.try_get::<String, _>("graders")?)
        .map_err(|e| sqlx::Error::Decode(e.into()))?;
    let grace_ms: i64 = row.try_get("grace_ms")?;
    Ok(PlanRow {
        id: row.try_get("id")?,
        spec: PlanSpec {
            name: row.try_get("name")?,
            month: row.try_get("month")?,
            per_agent: u32::try_from(row.try_get::<i64, _>("per_agent")?).unwrap_or(0),
            graders,
            population,
            filters,
            focus,
            grace_hours: u32::try_from(grace_ms / 3_600_000).unwrap_or(0),
            grading_days,
            counts: Some(row.try_get::<i64, _>("counts")? != 0),
        },
        time_zone: row.try_get("time_zone")?,
        seed: row.try_get("seed")?,
        seed_hash: row.try_get("seed_hash")?,
        watermark_ms: row.try_get("watermark_ms")?,
        draw_version: row.try_get("draw_version")?,
        last_drawn_at_ms: row.try_get("last_drawn_at_ms")?,
        created_by: row.try_get("created_by")?,
        created_at_ms: row.try_get("created_at_ms")?,
        published_at_ms: row.try_get("published_at_ms")?,
    })
}

pub async fn get_plan(db: &Db, id: i64) -> Result<Option<PlanRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {PLAN_COLUMNS} {PLAN_FROM} WHERE p.id = $1"));
    let row = sqlx::query(sql).bind(id).fetch_optional(&db.pool).await?;
    row.as_ref().map(plan_from_row).transpose()
}

pub async fn list_plans(db: &Db, month: Option<&str>) -> Result<Vec<PlanRow>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {PLAN_COLUMNS} {PLAN_FROM} WHERE ($1 = '' OR p.month = $1) \
         ORDER BY p.month DESC, p.id"
    ));
    let rows = sqlx::query(sql)
        .bind(month.unwrap_or(""))
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(plan_from_row).collect()
}

/// Plans the background draw still has work on (not settled).
pub async fn plans_to_draw(db: &Db) -> Result<Vec<i64>, sqlx::Error> {
    let rows = sqlx::query("SELECT id FROM sampling_plans WHERE settled_at_ms IS NULL ORDER BY id")
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| r.try_get("id")).collect()
}

pub async fn strata(db: &Db, plan_id: i64) -> Result<Vec<StratumRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT stratum, start_ms, end_ms, deadline_ms, days, frozen_at_ms, eligible_count, \
         eligible_digest FROM plan_strata WHERE plan_id = $1 ORDER BY stratum",
    )
    .bind(plan_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StratumRow {
                stratum: Stratum {
                    index: u32::try_from(r.try_get::<i64, _>("stratum")?).unwrap_or(0),
                    start_ms: r.try_get("start_ms")?,
                    end_ms: r.try_get("end_ms")?,
                    deadline_ms: r.try_get("deadline_ms")?,
                    days: u32::try_from(r.try_get::<i64, _>("days")?).unwrap_or(0),
                },
                frozen_at_ms: r.try_get("frozen_at_ms")?,
                eligible_count: r.try_get("eligible_count")?,
                eligible_digest: r.try_get("eligible_digest")?,
            })
        })
        .collect()
}

/// An agent as the draw needs them.
#[derive(Clone, Debug)]
pub struct AgentInfo {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub team_id: Option<i64>,
    pub team: Option<String>,
    pub hire_date: Option<String>,
}

fn agent_from_row(r: &sqlx::any::AnyRow) -> Result<AgentInfo, sqlx::Error> {
    Ok(AgentInfo {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        name: r.try_get("name")?,
        team_id: r.try_get("team_id")?,
        team: r.try_get("team")?,
        hire_date: r.try_get("hire_date")?,
    })
}

/// The active agents a population names today.
pub async fn population(db: &Db, population: &Population) -> Result<Vec<AgentInfo>, sqlx::Error> {
    population_where(db, population, None).await
}

/// The active agents a population names today who are not in the plan yet: usually none,
/// so a draw learns of new agents without reading the whole roster.
pub async fn population_not_in_plan(
    db: &Db,
    population: &Population,
    plan_id: i64,
) -> Result<Vec<AgentInfo>, sqlx::Error> {
    population_where(db, population, Some(plan_id)).await
}

async fn population_where(
    db: &Db,
    population: &Population,
    not_in_plan: Option<i64>,
) -> Result<Vec<AgentInfo>, sqlx::Error> {
    let base = "SELECT u.id, u.username, u.name, u.team_id, t.name AS team, u.hire_date \
        FROM users u LEFT JOIN teams t ON t.id = u.team_id WHERE u.role = 'agent' AND u.active = 1";
    let (cond, names): (&str, &[String]) = match population {
        Population::All {} => ("", &[]),
        Population::Teams { teams } => ("t.name", teams),
        Population::Agents { agents } => ("u.username", agents),
    };
    let mut sql = base.to_string();
    if !cond.is_empty() {
        let params: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        sql.push_str(&format!(" AND {cond} IN ({})", params.join(", ")));
    }
    if not_in_plan.is_some() {
        sql.push_str(&format!(
            " AND NOT EXISTS (SELECT 1 FROM plan_agents pa WHERE pa.plan_id = ${} \
             AND pa.agent_id = u.id)",
            names.len() + 1
        ));
    }
    sql.push_str(" ORDER BY u.username");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for n in names {
        q = q.bind(n);
    }
    if let Some(plan_id) = not_in_plan {
        q = q.bind(plan_id);
    }
    let rows = q.fetch_all(&db.pool).await?;
    rows.iter().map(agent_from_row).collect()
}

/// Names in a population that match no active agent or team (typos), for a clear error.
pub async fn unknown_names(db: &Db, population: &Population) -> Result<Vec<String>, sqlx::Error> {
    let (sql, names) = match population {
        Population::All {} => return Ok(Vec::new()),
        Population::Teams { teams } => ("SELECT name AS n FROM teams", teams),
        Population::Agents { agents } => (
            "SELECT username AS n FROM users WHERE role = 'agent' AND active = 1",
            agents,
        ),
    };
    let known: HashSet<String> = sqlx::query(sql)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| r.try_get("n"))
        .collect::<Result<_, _>>()?;
    Ok(names
        .iter()
        .filter(|n| !known.contains(*n))
        .cloned()
        .collect())
}

#[derive(Clone, Debug)]
pub struct PlanAgent {
    pub info: AgentInfo,
    pub target: u32,
    pub focus_reason: Option<String>,
}

/// The plan's agents whose month is not published yet: (agent, team).
pub async fn unpublished_plan_agents(
    db: &Db,
    plan_id: i64,
    month: &str,
) -> Result<Vec<(i64, Option<i64>)>, sqlx::Error> {
    sqlx::query(
        "SELECT u.id, u.team_id FROM plan_agents pa JOIN users u ON u.id = pa.agent_id \
         WHERE pa.plan_id = $1 AND NOT EXISTS (SELECT 1 FROM agent_months am \
           WHERE am.agent_id = pa.agent_id AND am.month = $2)",
    )
    .bind(plan_id)
    .bind(month)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("id")?, r.try_get("team_id")?)))
    .collect()
}

pub async fn plan_agents(db: &Db, plan_id: i64) -> Result<Vec<PlanAgent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT u.id, u.username, u.name, u.team_id, t.name AS team, u.hire_date, pa.target, \
         pa.focus_reason FROM plan_agents pa JOIN users u ON u.id = pa.agent_id \
         LEFT JOIN teams t ON t.id = u.team_id WHERE pa.plan_id = $1 ORDER BY u.username",
    )
    .bind(plan_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PlanAgent {
                info: agent_from_row(r)?,
                target: u32::try_from(r.try_get::<i64, _>("target")?).unwrap_or(0),
                focus_reason: r.try_get("focus_reason")?,
            })
        })
        .collect()
}

/// Agents with a complaint pull, or a submitted poor or severe grade, on a call of
/// `[from_ms, to_ms)`: "problem agents" for the next month's focus monitoring.
pub async fn problem_agents(
    db: &Db,
    from_ms: i64,
    to_ms: i64,
) -> Result<HashSet<i64>, sqlx::Error> {
    // Calibration gradings are exercises, not findings about the agent: only evaluations of
    // assignments count.
    let rows = sqlx::query(
        "SELECT a.agent_id FROM assignments a JOIN recordings r ON r.id = a.recording_id \
         WHERE a.kind = 'pull' AND a.complaint = 1 AND r.started_at_ms >= $1 AND r.started_at_ms < $2 \
         UNION \
         SELECT e.agent_id FROM evaluations e JOIN recordings r ON r.id = e.recording_id \
         WHERE e.assignment_id IS NOT NULL AND e.status = 'submitted' \
           AND e.grade IN ('poor', 'severe') AND r.started_at_ms >= $1 AND r.started_at_ms < $2",
    )
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(|r| r.try_get("agent_id")).collect()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    pub agent_id: i64,
    pub stratum: u32,
    pub quota: u32,
    pub carry_in: u32,
    pub eligible: u32,
    pub taken: u32,
    pub filled: u32,
    pub digest: String,
    pub late_join: bool,
}

/// The plan's cells, by agent and week.
pub async fn cells(db: &Db, plan_id: i64) -> Result<Vec<Cell>, sqlx::Error> {
    cells_where(db, plan_id, None).await
}

/// The plan's cells of one week.
pub async fn cells_of_stratum(
    db: &Db,
    plan_id: i64,
    stratum: u32,
) -> Result<Vec<Cell>, sqlx::Error> {
    cells_where(db, plan_id, Some(stratum)).await
}

/// Cells are read as one text of space-separated fields (all integers, the digest hex): a
/// row per cell costs several times more through the driver.
async fn cells_where(
    db: &Db,
    plan_id: i64,
    stratum: Option<u32>,
) -> Result<Vec<Cell>, sqlx::Error> {
    let agg = match db.backend {
        Backend::Sqlite => "group_concat",
        Backend::Postgres => "string_agg",
    };
    let sql = format!(
        "SELECT {agg}(CAST(agent_id AS TEXT) || ' ' || CAST(stratum AS TEXT) || ' ' \
         || CAST(quota AS TEXT) || ' ' || CAST(carry_in AS TEXT) || ' ' \
         || CAST(eligible AS TEXT) || ' ' || CAST(taken AS TEXT) || ' ' \
         || CAST(filled AS TEXT) || ' ' || CAST(late_join AS TEXT) || ' ' || digest, ' ') \
         AS cells FROM plan_cells WHERE plan_id = $1 AND ($2 < 0 OR stratum = $2)"
    );
    let text: Option<String> = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(plan_id)
        .bind(stratum.map_or(-1, i64::from))
        .fetch_one(&db.pool)
        .await?
        .try_get("cells")?;
    let text = text.unwrap_or_default();
    let mut fields = text.split(' ').filter(|f| !f.is_empty());
    let mut out = Vec::new();
    while let Some(agent_id) = fields.next() {
        let cell = parse_cell(agent_id, &mut fields)
            .ok_or_else(|| sqlx::Error::Decode("malformed plan cells".into()))?;
        out.push(cell);
    }
    out.sort_unstable_by_key(|c| (c.agent_id, c.stratum));
    Ok(out)
}

/// One cell's fields after its agent id, in the order [`cells_where`] writes them.
fn parse_cell<'a>(agent_id: &str, fields: &mut impl Iterator<Item = &'a str>) -> Option<Cell> {
    let mut int = || fields.next()?.parse::<u32>().ok();
    Some(Cell {
        agent_id: agent_id.parse().ok()?,
        stratum: int()?,
        quota: int()?,
        carry_in: int()?,
        eligible: int()?,
        taken: int()?,
        filled: int()?,
        late_join: int()? != 0,
        digest: fields.next()?.to_string(),
    })
}

/// A pick of the draw: provisional (open week) or frozen (an assignment of the plan).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pick {
    pub agent_id: i64,
    pub stratum: u32,
    pub recording_id: i64,
    pub key: Key,
    /// `sample` or `fill` (always `sample` for provisional picks).
    pub kind: String,
}

fn key_from_hex(s: &str) -> Result<Key, sqlx::Error> {
    crate::domain::sampling::key_from_hex(s)
        .ok_or_else(|| sqlx::Error::Decode("sample key is not 32 bytes of hex".into()))
}

/// The plan's provisional picks, read as one text: a line per cell, `agent stratum ` and
/// the cell's picks (see [`ProvisionalCell`]).
pub async fn provisional_cells(db: &Db, plan_id: i64) -> Result<Vec<ProvisionalCell>, sqlx::Error> {
    let agg = match db.backend {
        Backend::Sqlite => "group_concat",
        Backend::Postgres => "string_agg",
    };
    let sql = format!(
        "SELECT {agg}(CAST(agent_id AS TEXT) || ' ' || CAST(stratum AS TEXT) || ' ' || picks, $2) \
         AS picks FROM provisional_cells WHERE plan_id = $1"
    );
    let text: Option<String> = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(plan_id)
        .bind("\n")
        .fetch_one(&db.pool)
        .await?
        .try_get("picks")?;
    let text = text.unwrap_or_default();
    let bad = || sqlx::Error::Decode("malformed provisional picks".into());
    let mut out = Vec::new();
    for line in text.lines() {
        let mut fields = line.splitn(3, ' ');
        let (Some(agent_id), Some(stratum), Some(picks)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(bad());
        };
        out.push(ProvisionalCell {
            agent_id: agent_id.parse().map_err(|_| bad())?,
            stratum: stratum.parse().map_err(|_| bad())?,
            picks: parse_picks(picks).ok_or_else(bad)?,
        });
    }
    Ok(out)
}

/// One agent's provisional picks in one open week, stored as one row: all of them, as the
/// row is replaced whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvisionalCell {
    pub agent_id: i64,
    pub stratum: u32,
    /// Recording ids with their call ids. Keys are not stored: the draw computes them again
    /// from the call ids (the team-lead plan's 30 000 picks: about 0.015 s of merging), and
    /// a cell is a third of the size it was with 64 hex digits per pick (the daily draw
    /// rewrites every agent's cells: 0.011 s instead of 0.048 s on SQLite).
    pub picks: Vec<(i64, String)>,
}

/// Separates the fields of a cell's picks: call ids hold no control characters, and may
/// hold spaces.
const PICK_SEPARATOR: char = '\t';

impl ProvisionalCell {
    /// `id TAB call id TAB id TAB call id ...`; a call id holding the separator (which
    /// validated input never does) is refused rather than stored unreadable.
    fn picks_text(&self) -> Result<String, sqlx::Error> {
        use std::fmt::Write;
        let mut out = String::with_capacity(self.picks.len() * 32);
        for (i, (id, call_id)) in self.picks.iter().enumerate() {
            if call_id.contains(PICK_SEPARATOR) {
                return Err(sqlx::Error::Encode(
                    format!("call id {call_id:?} holds a tab").into(),
                ));
            }
            if i > 0 {
                out.push(PICK_SEPARATOR);
            }
            // Writing to a String cannot fail.
            let _ = write!(out, "{id}{PICK_SEPARATOR}{call_id}");
        }
        Ok(out)
    }
}

/// The picks of [`ProvisionalCell::picks_text`]; `None` if malformed.
fn parse_picks(text: &str) -> Option<Vec<(i64, String)>> {
    let mut picks = Vec::new();
    if text.is_empty() {
        return Some(picks);
    }
    let mut fields = text.split(PICK_SEPARATOR);
    while let Some(id) = fields.next() {
        picks.push((id.parse().ok()?, fields.next()?.to_string()));
    }
    Some(picks)
}

pub async fn frozen_picks(db: &Db, plan_id: i64) -> Result<Vec<Pick>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT agent_id, stratum, recording_id, sample_key, kind FROM assignments \
         WHERE plan_id = $1 ORDER BY agent_id, stratum, sample_key",
    )
    .bind(plan_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Pick {
                agent_id: r.try_get("agent_id")?,
                stratum: u32::try_from(r.try_get::<Option<i64>, _>("stratum")?.unwrap_or(0))
                    .unwrap_or(0),
                recording_id: r.try_get("recording_id")?,
                key: key_from_hex(
                    &r.try_get::<Option<String>, _>("sample_key")?
                        .unwrap_or_default(),
                )?,
                kind: r.try_get("kind")?,
            })
        })
        .collect()
}

/// Which calls a scan reads: started in `[started_from, started_to)`, created in
/// `[created_from, created_to)`, passing the plan's filters, of the listed agents (all when
/// `None`).
#[derive(Clone, Copy)]
pub struct Scan<'a> {
    pub started_from: i64,
    pub started_to: i64,
    pub created_from: i64,
    pub created_to: i64,
    pub filters: &'a Filters,
    pub agents: Option<&'a [i64]>,
    /// Whether each line carries the call's start (needed only when the scan spans several
    /// weeks): turning an integer into text is a good part of the database's work per call.
    pub with_started: bool,
    /// The created range is narrow (new arrivals since the last run): find the calls by
    /// arrival (`recordings_created`) instead of every agent's weeks (`recordings_sampling`).
    pub by_arrival: bool,
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// A plan's filters as SQL conditions on `r`, numbered from `$first`; [`bind_filters`]
/// binds their values in the same order. Misdials (`short_call`) are never eligible.
fn filter_conditions(f: &Filters, first: usize) -> String {
    let mut next = first;
    let mut param = || {
        next += 1;
        format!("${}", next - 1)
    };
    let mut sql = format!("r.duration_ms >= {} AND r.short_call = 0", param());
    if f.max_duration_s.is_some() {
        sql.push_str(&format!(" AND r.duration_ms <= {}", param()));
    }
    if f.direction.is_some() {
        sql.push_str(&format!(" AND r.direction = {}", param()));
    }
    if !f.queues.is_empty() {
        let params: Vec<String> = f.queues.iter().map(|_| param()).collect();
        sql.push_str(&format!(" AND r.queue IN ({})", params.join(", ")));
    }
    if f.skip_damaged {
        sql.push_str(" AND r.damaged = 0");
    }
    sql
}

fn bind_filters<'q>(mut q: AnyQuery<'q>, f: &'q Filters) -> AnyQuery<'q> {
    q = q.bind(i64::from(f.min_duration_s) * 1000);
    if let Some(max) = f.max_duration_s {
        q = q.bind(i64::from(max) * 1000);
    }
    if let Some(d) = f.direction {
        q = q.bind(d.as_str());
    }
    for queue in &f.queues {
        q = q.bind(queue.as_str());
    }
    q
}

/// One agent's eligible calls from a [`scan`]: the recording ids and the start times (when
/// asked for), space-separated, and the call ids, one per line, all in the same order.
pub struct AgentScan {
    pub agent_id: i64,
    pub ids: String,
    pub starts: Option<String>,
    pub call_ids: String,
}

/// Scans of new arrivals name their agents in the SQL only up to this many: checking each of
/// a day's 117 000 calls against a list of 2 000 agents took SQLite 0.036 s, half as long as
/// concatenating every call; past this size the caller drops the calls of agents outside
/// the plan instead.
pub const ARRIVAL_AGENTS_IN_SQL: usize = 200;

/// The SQL of a scan: the aggregates of `r`'s columns in one order, grouped by agent or
/// (with `grouped` false) over the whole scan, and the conditions from `$2` on. `$1` is the
/// separator of call ids.
fn scan_sql(backend: Backend, s: &Scan<'_>, grouped: bool) -> String {
    let agg = match backend {
        Backend::Sqlite => "group_concat",
        Backend::Postgres => "string_agg",
    };
    let starts = if s.with_started {
        format!("{agg}(CAST(r.started_at_ms AS TEXT), ' ')")
    } else {
        "NULL".to_string()
    };
    let agent = if grouped {
        "r.agent_id".to_string()
    } else {
        format!("{agg}(CAST(r.agent_id AS TEXT), ' ')")
    };
    // A unary plus keeps a column's condition from choosing the index (on both databases),
    // so that new arrivals are found through `recordings_created`, which covers the scan.
    let plus = if s.by_arrival { "+" } else { "" };
    let mut sql = format!(
        "SELECT {agent} AS agent_id, {agg}(CAST(r.id AS TEXT), ' ') AS ids, {starts} AS starts, \
         {agg}(r.call_id, $1) AS call_ids FROM recordings r \
         WHERE {plus}r.started_at_ms >= $2 AND {plus}r.started_at_ms < $3 \
         AND r.created_at_ms >= $4 AND r.created_at_ms < $5 AND {}",
        filter_conditions(s.filters, 6)
    );
    if let Some(agents) = s.agents {
        // Ids are integers from our own rows: safe to inline, and far cheaper than
        // thousands of bind parameters.
        let ids: Vec<String> = agents.iter().map(i64::to_string).collect();
        sql.push_str(&format!(" AND {plus}r.agent_id IN ({})", ids.join(",")));
    }
    if grouped {
        sql.push_str(" GROUP BY r.agent_id");
    }
    sql
}

fn bind_scan<'q>(sql: String, s: &'q Scan<'q>) -> AnyQuery<'q> {
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind("\n")
        .bind(s.started_from)
        .bind(s.started_to)
        .bind(s.created_from)
        .bind(s.created_to);
    bind_filters(q, s.filters)
}

/// One row per agent with their eligible calls. The database concatenates, so millions of
/// calls cross the driver as a few thousand rows; and it does so a column at a time, because
/// gluing each call's fields into one line first costs more than everything else per call
/// (a day's arrivals on SQLite: 0.06 s instead of 0.15 s; a week of a month: 0.25 s instead
/// of 0.31 s). The aggregates of one group see its rows in the same order.
pub async fn scan(db: &Db, s: &Scan<'_>) -> Result<Vec<AgentScan>, sqlx::Error> {
    if s.agents.is_some_and(<[i64]>::is_empty) {
        return Ok(Vec::new());
    }
    let rows = bind_scan(scan_sql(db.backend, s, true), s)
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(AgentScan {
                agent_id: r.try_get("agent_id")?,
                ids: r.try_get("ids")?,
                starts: r.try_get("starts")?,
                call_ids: r.try_get("call_ids")?,
            })
        })
        .collect()
}

/// The eligible calls of a scan as one list, not grouped: the agent ids as a fourth
/// column. New arrivals come out of the index in arrival order, and grouping them by agent
/// means sorting them first (a day's calls in the sqlite3 shell: 0.16 s grouped and checked
/// against 2 000 agents, 0.08 s ungrouped and unchecked). Empty when nothing is eligible.
pub struct FlatScan {
    pub agent_ids: String,
    pub ids: String,
    pub starts: Option<String>,
    pub call_ids: String,
}

pub async fn scan_flat(db: &Db, s: &Scan<'_>) -> Result<FlatScan, sqlx::Error> {
    let empty = FlatScan {
        agent_ids: String::new(),
        ids: String::new(),
        starts: None,
        call_ids: String::new(),
    };
    if s.agents.is_some_and(<[i64]>::is_empty) {
        return Ok(empty);
    }
    let row = bind_scan(scan_sql(db.backend, s, false), s)
        .fetch_one(&db.pool)
        .await?;
    // Without rows, every aggregate is NULL.
    let Some(agent_ids) = row.try_get::<Option<String>, _>("agent_id")? else {
        return Ok(empty);
    };
    Ok(FlatScan {
        agent_ids,
        ids: row.try_get("ids")?,
        starts: row.try_get("starts")?,
        call_ids: row.try_get("call_ids")?,
    })
}

/// An arrival time that splits the calls that arrived in `[from, to)` into two halves of
/// about the same size, to read them side by side: the arrival of the recording whose id is
/// halfway between the first and the last arrival's. Ids are handed out as calls arrive, so
/// this is close to the median, found by three index lookups instead of counting the
/// range. `None` when the range holds too few calls to split.
pub async fn arrival_midpoint(db: &Db, from: i64, to: i64) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT created_at_ms FROM recordings WHERE id >= \
         (SELECT id FROM recordings WHERE created_at_ms >= $1 ORDER BY created_at_ms LIMIT 1) / 2 \
         + (SELECT id FROM recordings WHERE created_at_ms < $2 ORDER BY created_at_ms DESC LIMIT 1) / 2 \
         ORDER BY id LIMIT 1",
    )
    .bind(from)
    .bind(to)
    .fetch_optional(&db.pool)
    .await?;
    let mid: Option<i64> = match row {
        Some(r) => r.try_get(0)?,
        None => None,
    };
    Ok(mid.filter(|&m| m > from && m < to))
}

/// Per stratum and agent, how many calls pass the filters (the preview; no keys needed).
pub async fn eligible_counts(
    db: &Db,
    strata: &[Stratum],
    created_to: i64,
    filters: &Filters,
) -> Result<HashMap<(i64, u32), u32>, sqlx::Error> {
    let mut out = HashMap::new();
    for st in strata {
        let rows = scan_counts(db, st, created_to.min(st.deadline_ms), filters).await?;
        for (agent, n) in rows {
            out.insert((agent, st.index), n);
        }
    }
    Ok(out)
}

async fn scan_counts(
    db: &Db,
    st: &Stratum,
    created_to: i64,
    f: &Filters,
) -> Result<Vec<(i64, u32)>, sqlx::Error> {
    let sql = format!(
        "SELECT r.agent_id, COUNT(*) AS n FROM recordings r \
         WHERE r.started_at_ms >= $1 AND r.started_at_ms < $2 AND r.created_at_ms < $3 AND {} \
         GROUP BY r.agent_id",
        filter_conditions(f, 4)
    );
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(st.start_ms)
        .bind(st.end_ms)
        .bind(created_to);
    let q = bind_filters(q, f);
    let rows = q.fetch_all(&db.pool).await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("agent_id")?,
                u32::try_from(r.try_get::<i64, _>("n")?).unwrap_or(u32::MAX),
            ))
        })
        .collect()
}

/// Active QA inspectors with their open (ungraded) work, across all plans and pulls.
pub async fn inspector_loads(db: &Db) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT u.id, (SELECT COUNT(*) FROM assignments a WHERE a.grader_id = u.id \
         AND a.completed_at_ms IS NULL) AS open FROM users u \
         WHERE u.role = 'inspector' AND u.active = 1 ORDER BY u.id",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("open")?)))
        .collect()
}

/// Each team's lead (the longest-serving active one when a team has several).
pub async fn team_leads(db: &Db) -> Result<HashMap<i64, i64>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT team_id, MIN(id) AS lead FROM users WHERE role = 'team_lead' AND active = 1 \
         AND team_id IS NOT NULL GROUP BY team_id",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("team_id")?, r.try_get("lead")?)))
        .collect()
}

/// A value for a multi-row insert.
#[derive(Clone, Debug)]
pub enum Val {
    I(i64),
    N,
    S(String),
}

/// Column types for [`insert_many`] (SQLite casts numbers out of text; PostgreSQL types NULLs).
#[derive(Clone, Copy)]
enum Ty {
    Int,
    Text,
}

/// Inserts many rows, thousands per statement.
///
/// - SQLite gets one blob of rows, each row the same number of bytes with the fields at
///   fixed places (see [`SqliteRows`]), and a recursive count that steps through it: two
///   bound values instead of thousands, as compiling a statement of thousands of rows of
///   values costs SQLite more than the rows. (A JSON array of rows for `json_each` cost more:
///   in Python's sqlite3, 126 000 samples went in in 0.60-0.70 s that way, 0.50 s from a
///   blob; a JSON array per row more still.)
/// - PostgreSQL gets one text per column, split on the server (see [`insert_columns`]).
///
/// `on_conflict` (may be empty) follows the rows.
async fn insert_many(
    tx: &mut Tx,
    backend: Backend,
    table: &str,
    columns: &[(&str, Ty)],
    rows: &[Vec<Val>],
    on_conflict: &str,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let names = columns.iter().map(|c| c.0).collect::<Vec<_>>().join(", ");
    if backend == Backend::Postgres {
        insert_columns(tx, table, &names, columns, rows, on_conflict).await?;
    } else {
        for chunk in rows.chunks(INSERT_CHUNK_ROWS) {
            let layout = SqliteRows::layout(columns, chunk);
            let values = (0..columns.len())
                .map(|i| layout.field_sql(i, columns[i].1))
                .collect::<Vec<_>>()
                .join(", ");
            // SQLite reads `ON` after `FROM r` as the start of a join unless a WHERE comes
            // first.
            let sql = format!(
                "WITH RECURSIVE r(at) AS (SELECT 0 UNION ALL SELECT at + {width} FROM r \
                 WHERE at + {width} < $2) \
                 INSERT INTO {table} ({names}) SELECT {values} FROM r WHERE true {on_conflict}",
                width = layout.width
            );
            let mut blob = Vec::with_capacity(chunk.len() * layout.width);
            for row in chunk {
                layout.encode(row, &mut blob);
            }
            let len = i64::try_from(blob.len()).unwrap_or(i64::MAX);
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(blob)
                .bind(len)
                .execute(&mut **tx)
                .await?;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    tracing::debug!(table, rows = rows.len(), secs, "inserted");
    Ok(())
}

/// PostgreSQL: each column of a chunk as one text, its values joined by a separator that
/// no stored value holds, split and typed on the server (`string_to_array`, then `unnest`
/// in step). Rows of bound values cost the server far more: it plans every row of a long
/// `VALUES` list (a month's 126 000 samples in psql: 2.5 s as `VALUES` lists of 5 000 rows,
/// 0.66 s through `unnest`, 0.67 s generated by `INSERT ... SELECT`). A text field is not
/// quoted or escaped, which array literals would need (and parsing those made a day's
/// 2 000 provisional cells of 1 KB each slow).
async fn insert_columns(
    tx: &mut Tx,
    table: &str,
    names: &str,
    columns: &[(&str, Ty)],
    rows: &[Vec<Val>],
    on_conflict: &str,
) -> Result<(), sqlx::Error> {
    // Each text starts with a separator (an empty text must still be one element), which
    // the `[2:]` drops again; a NULL is the NULL marker alone between two separators.
    let arrays = columns
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| {
            let split = format!("(string_to_array(${}, chr(31), chr(30)))[2:]", i + 1);
            match ty {
                Ty::Int => format!("{split}::bigint[]"),
                Ty::Text => split,
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {on_conflict}");
    for chunk in rows.chunks(INSERT_CHUNK_ROWS) {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
        for i in 0..columns.len() {
            q = q.bind(column_text(chunk, i)?);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Rows per statement of [`insert_many`]: bounds the texts held at once (a month's samples
/// are about 9 MB of text in all, and about 15 MB as SQLite's rows).
const INSERT_CHUNK_ROWS: usize = 20_000;

/// Field separator and NULL marker of [`insert_columns`]: control characters, which no
/// validated input holds (call ids, names and reasons refuse them) and no value the draw
/// makes (numbers, hex digests and keys) does.
const SEPARATOR: char = '\u{1f}';
const NULL_MARK: char = '\u{1e}';

/// Column `i` of `rows` as [`insert_columns`] sends it.
fn column_text(rows: &[Vec<Val>], i: usize) -> Result<String, sqlx::Error> {
    use std::fmt::Write;
    let mut out = String::with_capacity(rows.len() * 8);
    for row in rows {
        out.push(SEPARATOR);
        match row.get(i) {
            Some(Val::I(n)) => {
                // Writing to a String cannot fail.
                let _ = write!(out, "{n}");
            }
            Some(Val::S(text)) => {
                if text.contains([SEPARATOR, NULL_MARK]) {
                    return Err(sqlx::Error::Encode(
                        "a bulk-inserted text holds a control character".into(),
                    ));
                }
                out.push_str(text);
            }
            Some(Val::N) | None => out.push(NULL_MARK),
        }
    }
    Ok(out)
}

/// Rows for SQLite as one blob, every row the same width: each field a flag (`+` a value,
/// `-` NULL) and then, for a number, its digits right-aligned in the column's width
/// (SQLite's cast skips the leading spaces); for a text, its length in bytes right-aligned
/// in the width of the longest length, then its bytes, padded to the longest text. `substr`
/// counts bytes in a blob, so a field is found without reading the row before it.
struct SqliteRows {
    fields: Vec<Field>,
    /// Bytes per row.
    width: usize,
}

#[derive(Clone, Copy)]
struct Field {
    /// Where the field starts in its row (1-based, for `substr`).
    at: usize,
    /// The width of a text's length (0 for numbers) and of the value.
    len_width: usize,
    width: usize,
    /// Whether any row has NULL here (if not, the SQL need not look at the flag).
    nullable: bool,
}

/// How many characters `n` takes in decimal.
fn decimal_len(n: i64) -> usize {
    let digits = n
        .unsigned_abs()
        .checked_ilog10()
        .map_or(1, |d| d as usize + 1);
    digits + usize::from(n < 0)
}

impl SqliteRows {
    fn layout(columns: &[(&str, Ty)], rows: &[Vec<Val>]) -> SqliteRows {
        let mut fields = Vec::with_capacity(columns.len());
        let mut at = 1;
        for (i, (_, ty)) in columns.iter().enumerate() {
            let (mut widest, mut nullable) = (1, false);
            for row in rows {
                match row.get(i) {
                    Some(Val::I(n)) => widest = widest.max(decimal_len(*n)),
                    Some(Val::S(s)) => widest = widest.max(s.len()),
                    Some(Val::N) | None => nullable = true,
                }
            }
            let len_width = match ty {
                Ty::Int => 0,
                Ty::Text => decimal_len(widest as i64),
            };
            fields.push(Field {
                at,
                len_width,
                width: widest,
                nullable,
            });
            at += 1 + len_width + widest;
        }
        SqliteRows {
            fields,
            width: at - 1,
        }
    }

    /// The SQL that takes column `i` out of the row starting `at` bytes into blob `$1`.
    fn field_sql(&self, i: usize, ty: Ty) -> String {
        let Some(&Field {
            at,
            len_width,
            width,
            nullable,
        }) = self.fields.get(i)
        else {
            return "NULL".into();
        };
        let value = match ty {
            Ty::Int => format!("CAST(substr($1, at + {}, {width}) AS INTEGER)", at + 1),
            Ty::Text => format!(
                "CAST(substr($1, at + {}, CAST(substr($1, at + {}, {len_width}) AS INTEGER)) AS TEXT)",
                at + 1 + len_width,
                at + 1
            ),
        };
        if nullable {
            // A blob equals only a blob: the flag is compared with the byte `+`.
            format!("CASE substr($1, at + {at}, 1) WHEN x'2b' THEN {value} END")
        } else {
            value
        }
    }

    fn encode(&self, row: &[Val], out: &mut Vec<u8>) {
        use std::io::Write;
        for (i, f) in self.fields.iter().enumerate() {
            let (len_width, width) = (f.len_width, f.width);
            // Writing to a Vec cannot fail.
            let _ = match row.get(i) {
                Some(Val::I(n)) => write!(out, "+{n:>width$}"),
                Some(Val::S(s)) => {
                    let w = write!(out, "+{:>len_width$}", s.len());
                    out.extend_from_slice(s.as_bytes());
                    out.extend(std::iter::repeat_n(b' ', width.saturating_sub(s.len())));
                    w
                }
                Some(Val::N) | None => {
                    out.push(b'-');
                    out.extend(std::iter::repeat_n(b' ', len_width + width));
                    Ok(())
                }
            };
        }
    }
}

#[derive(Clone, Debug)]
pub struct NewAssignment {
    pub recording_id: i64,
    pub agent_id: i64,
    pub kind: &'static str,
    pub stratum: u32,
    pub key: Key,
    pub grader_id: Option<i64>,
    pub due_at_ms: i64,
}

#[derive(Clone, Debug)]
pub struct FrozenStratum {
    pub stratum: u32,
    pub eligible_count: i64,
    pub digest: String,
}

/// Everything one draw run changes besides the frozen weeks it already handed to
/// [`DrawTx::insert_week`], written when the run finishes.
#[derive(Debug, Default)]
pub struct DrawWrite {
    pub new_agents: Vec<(i64, u32, Option<&'static str>)>,
    pub cells: Vec<Cell>,
    pub frozen: Vec<FrozenStratum>,
    /// Whether to drop all of the plan's provisional picks first.
    pub clear_provisional: bool,
    /// Cells whose provisional picks changed, each replacing what was stored.
    pub provisional: Vec<ProvisionalCell>,
    pub assignments: Vec<NewAssignment>,
}

/// SQLite page cache (KiB) while a draw writes.
const WRITE_CACHE_KIB: i64 = 16_384;

/// One draw run's write transaction. It is opened as soon as the run has rows to write, so
/// that a frozen week's samples go in while later weeks are still being read: the database
/// then inserts on one core while the other reads and keys (a month's draw of the
/// team-lead plan wrote its 126 000 samples only after reading every week, with one core
/// idle). Everything the run changes still commits at once, or not at all.
pub struct DrawTx {
    tx: Tx,
    backend: Backend,
    plan_id: i64,
    now_ms: i64,
    cache_before: Option<i64>,
}

impl DrawTx {
    /// Claims the plan for this run: `None` (nothing written) if another run committed
    /// since this one read the plan's `draw_version`. The plan's watermark becomes `now_ms`.
    pub async fn begin(
        db: &Db,
        plan_id: i64,
        expected_version: i64,
        now_ms: i64,
    ) -> Result<Option<DrawTx>, sqlx::Error> {
        let mut tx = db.begin_write().await?;
        let claimed = sqlx::query(
            "UPDATE sampling_plans SET draw_version = draw_version + 1, watermark_ms = $1, \
             last_drawn_at_ms = $1 WHERE id = $2 AND draw_version = $3",
        )
        .bind(now_ms)
        .bind(plan_id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        // A full month's draw inserts over a hundred thousand rows into several indexes:
        // with SQLite's default 2 MB page cache the pages thrash (measured with 126 000
        // assignments in key order: 1.5 s with a larger cache against 2.0 s; 16 MB is as
        // fast as 64 MB in the draw, and keeps the process 180 MB smaller). The connection
        // has it for this transaction only ([`DrawTx::finish`] and [`DrawTx::abort`] put
        // it back).
        let cache_before = if db.backend == Backend::Sqlite {
            let before: i64 = sqlx::query("PRAGMA cache_size")
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "PRAGMA cache_size = -{WRITE_CACHE_KIB}"
            )))
            .execute(&mut *tx)
            .await?;
            Some(before)
        } else {
            None
        };
        Ok(Some(DrawTx {
            tx,
            backend: db.backend,
            plan_id,
            now_ms,
            cache_before,
        }))
    }

    /// Adds a frozen week: its cells and its samples (created now).
    pub async fn insert_week(
        &mut self,
        cells: &[Cell],
        samples: &[NewAssignment],
    ) -> Result<(), sqlx::Error> {
        insert_cells(&mut self.tx, self.backend, self.plan_id, cells).await?;
        insert_assignments(
            &mut self.tx,
            self.backend,
            self.plan_id,
            self.now_ms,
            samples,
        )
        .await
    }

    /// Writes the rest of the run and commits.
    pub async fn finish(mut self, w: &DrawWrite) -> Result<(), sqlx::Error> {
        let written = write_rows(&mut self.tx, self.backend, self.plan_id, self.now_ms, w).await;
        let restored = self.restore_cache().await;
        written?;
        restored?;
        self.tx.commit().await
    }

    /// Gives the run up: nothing it wrote stays.
    pub async fn abort(mut self) {
        // The rollback happens either way when the transaction drops; a failure here only
        // leaves the connection with the larger cache.
        if let Err(e) = self.restore_cache().await {
            tracing::warn!(error = %e, "restoring the page cache after a failed draw");
        }
    }

    async fn restore_cache(&mut self) -> Result<(), sqlx::Error> {
        if let Some(before) = self.cache_before.take() {
            // Pages beyond the old size are freed as the commit releases them.
            sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA cache_size = {before}")))
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }
}

/// The rows of [`DrawTx::finish`], in its transaction.
async fn write_rows(
    tx: &mut Tx,
    backend: Backend,
    plan_id: i64,
    now_ms: i64,
    w: &DrawWrite,
) -> Result<(), sqlx::Error> {
    let rows: Vec<Vec<Val>> = w
        .new_agents
        .iter()
        .map(|(agent, target, reason)| {
            vec![
                Val::I(plan_id),
                Val::I(*agent),
                Val::I(i64::from(*target)),
                reason.map_or(Val::N, |r| Val::S(r.to_string())),
            ]
        })
        .collect();
    insert_many(
        tx,
        backend,
        "plan_agents",
        &[
            ("plan_id", Ty::Int),
            ("agent_id", Ty::Int),
            ("target", Ty::Int),
            ("focus_reason", Ty::Text),
        ],
        &rows,
        "",
    )
    .await?;
    // A fill after the last week updates cells written earlier (by earlier runs, or by
    // this one as its week froze).
    for c in w.cells.iter().filter(|c| c.filled > 0) {
        sqlx::query("DELETE FROM plan_cells WHERE plan_id = $1 AND agent_id = $2 AND stratum = $3")
            .bind(plan_id)
            .bind(c.agent_id)
            .bind(i64::from(c.stratum))
            .execute(&mut **tx)
            .await?;
    }
    insert_cells(tx, backend, plan_id, &w.cells).await?;
    for f in &w.frozen {
        sqlx::query(
            "UPDATE plan_strata SET frozen_at_ms = $1, eligible_count = $2, eligible_digest = $3 \
             WHERE plan_id = $4 AND stratum = $5",
        )
        .bind(now_ms)
        .bind(f.eligible_count)
        .bind(&f.digest)
        .bind(plan_id)
        .bind(i64::from(f.stratum))
        .execute(&mut **tx)
        .await?;
    }
    if w.clear_provisional {
        sqlx::query("DELETE FROM provisional_cells WHERE plan_id = $1")
            .bind(plan_id)
            .execute(&mut **tx)
            .await?;
    }
    write_provisional(tx, backend, plan_id, &w.provisional).await?;
    insert_assignments(tx, backend, plan_id, now_ms, &w.assignments).await
}

async fn insert_cells(
    tx: &mut Tx,
    backend: Backend,
    plan_id: i64,
    cells: &[Cell],
) -> Result<(), sqlx::Error> {
    let rows: Vec<Vec<Val>> = cells
        .iter()
        .map(|c| {
            vec![
                Val::I(plan_id),
                Val::I(c.agent_id),
                Val::I(i64::from(c.stratum)),
                Val::I(i64::from(c.quota)),
                Val::I(i64::from(c.carry_in)),
                Val::I(i64::from(c.eligible)),
                Val::I(i64::from(c.taken)),
                Val::I(i64::from(c.filled)),
                Val::S(c.digest.clone()),
                Val::I(i64::from(c.late_join)),
            ]
        })
        .collect();
    insert_many(
        tx,
        backend,
        "plan_cells",
        &[
            ("plan_id", Ty::Int),
            ("agent_id", Ty::Int),
            ("stratum", Ty::Int),
            ("quota", Ty::Int),
            ("carry_in", Ty::Int),
            ("eligible", Ty::Int),
            ("taken", Ty::Int),
            ("filled", Ty::Int),
            ("digest", Ty::Text),
            ("late_join", Ty::Int),
        ],
        &rows,
        "",
    )
    .await
}

async fn insert_assignments(
    tx: &mut Tx,
    backend: Backend,
    plan_id: i64,
    now_ms: i64,
    assignments: &[NewAssignment],
) -> Result<(), sqlx::Error> {
    // Rows go in by call: the unique (plan, recording) index, the largest, then only
    // appends (measured on SQLite with 126 000 rows: 0.5 s instead of 0.7 s by agent and
    // call, and 1.5 s in key order). Ids thus no longer follow keys: queues order by key.
    let mut assignments: Vec<&NewAssignment> = assignments.iter().collect();
    assignments.sort_unstable_by_key(|a| a.recording_id);
    let rows: Vec<Vec<Val>> = assignments
        .iter()
        .map(|a| {
            vec![
                Val::I(a.recording_id),
                Val::I(a.agent_id),
                Val::S(a.kind.to_string()),
                Val::I(plan_id),
                Val::I(i64::from(a.stratum)),
                Val::S(hex::encode(a.key)),
                a.grader_id.map_or(Val::N, Val::I),
                Val::I(now_ms),
                Val::I(a.due_at_ms),
            ]
        })
        .collect();
    insert_many(
        tx,
        backend,
        "assignments",
        &[
            ("recording_id", Ty::Int),
            ("agent_id", Ty::Int),
            ("kind", Ty::Text),
            ("plan_id", Ty::Int),
            ("stratum", Ty::Int),
            ("sample_key", Ty::Text),
            ("grader_id", Ty::Int),
            ("created_at_ms", Ty::Int),
            ("due_at_ms", Ty::Int),
        ],
        &rows,
        "",
    )
    .await?;
    Ok(())
}

/// Stores changed provisional cells, replacing what was there.
async fn write_provisional(
    tx: &mut Tx,
    backend: Backend,
    plan_id: i64,
    cells: &[ProvisionalCell],
) -> Result<(), sqlx::Error> {
    let rows: Vec<Vec<Val>> = cells
        .iter()
        .map(|c| {
            Ok(vec![
                Val::I(plan_id),
                Val::I(c.agent_id),
                Val::I(i64::from(c.stratum)),
                Val::I(i64::try_from(c.picks.len()).unwrap_or(i64::MAX)),
                Val::S(c.picks_text()?),
            ])
        })
        .collect::<Result<_, sqlx::Error>>()?;
    insert_many(
        tx,
        backend,
        "provisional_cells",
        &[
            ("plan_id", Ty::Int),
            ("agent_id", Ty::Int),
            ("stratum", Ty::Int),
            ("n", Ty::Int),
            ("picks", Ty::Text),
        ],
        &rows,
        "ON CONFLICT (plan_id, agent_id, stratum) DO UPDATE SET n = excluded.n, picks = excluded.picks",
    )
    .await
}

/// Settles a plan whose weeks have all frozen and whose grading period is over: for a
/// team-lead plan, records each lead's missing spot-checks (the lead's assessment keeps what
/// was missing at that moment; later grades do not erase it).
pub async fn settle(
    db: &Db,
    plan_id: i64,
    month: &str,
    lead_centi_per_missing: Option<i64>,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let claimed = sqlx::query(
        "UPDATE sampling_plans SET settled_at_ms = $1 WHERE id = $2 AND settled_at_ms IS NULL",
    )
    .bind(now_ms)
    .bind(plan_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed == 1
        && let Some(centi) = lead_centi_per_missing
    {
        sqlx::query(
            "INSERT INTO lead_penalties (plan_id, lead_id, month, missing, points_centi, computed_at_ms) \
             SELECT $1, a.grader_id, $2, COUNT(*), $3 * COUNT(*), $4 FROM assignments a \
             WHERE a.plan_id = $1 AND a.grader_id IS NOT NULL AND a.completed_at_ms IS NULL \
             GROUP BY a.grader_id",
        )
        .bind(plan_id)
        .bind(month)
        .bind(centi)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct LeadPenalty {
    pub lead: String,
    pub lead_name: String,
    pub missing: i64,
    pub points: f64,
}

pub async fn lead_penalties(db: &Db, plan_id: i64) -> Result<Vec<LeadPenalty>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT u.username, u.name, lp.missing, lp.points_centi FROM lead_penalties lp \
         JOIN users u ON u.id = lp.lead_id WHERE lp.plan_id = $1 ORDER BY u.username",
    )
    .bind(plan_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(LeadPenalty {
                lead: r.try_get("username")?,
                lead_name: r.try_get("name")?,
                missing: r.try_get("missing")?,
                points: r.try_get::<i64, _>("points_centi")? as f64 / 100.0,
            })
        })
        .collect()
}

/// One work item: a sample or a pull, with what a grader needs to see about the call.
#[derive(Clone, Debug)]
pub struct Assignment {
    pub id: i64,
    pub kind: String,
    pub plan_id: Option<i64>,
    pub plan_name: Option<String>,
    pub stratum: Option<i64>,
    pub sample_key: Option<String>,
    pub recording_id: i64,
    pub call_id: String,
    pub agent: String,
    pub agent_name: String,
    pub team: Option<String>,
    pub started_at_ms: i64,
    pub duration_ms: i64,
    pub grader: Option<String>,
    pub grader_name: Option<String>,
    pub reason: Option<String>,
    pub complaint: bool,
    pub created_at_ms: i64,
    pub due_at_ms: i64,
    pub completed_at_ms: Option<i64>,
    /// Whether its evaluation feeds the agent's score and pay: a pull's own choice, a
    /// sample's plan's.
    pub counts: bool,
    /// Set for a blind re-grade of an appeal.
    pub appeal_id: Option<i64>,
    /// When the call's month was published for its agent, if it was.
    pub month_published_at_ms: Option<i64>,
}

impl Assignment {
    /// Publishing an agent's month closes their open queue items for it: nothing more can
    /// be graded into a published month (a blind re-grade is evidence for an appeal, not a
    /// result, and stays open). Derived, never stored, so a sample the draw hands out after
    /// publication is closed too. Returns when it was closed.
    pub fn closed_by_publication(&self) -> Option<i64> {
        if self.completed_at_ms.is_some() || self.appeal_id.is_some() {
            return None;
        }
        self.month_published_at_ms
    }
}

/// SQL: the instant the month of call `r` was published for agent `a.agent_id`, or NULL.
macro_rules! month_published_at {
    () => {
        "(SELECT pb.published_at_ms FROM agent_months am \
         JOIN publications pb ON pb.id = am.publication_id WHERE am.agent_id = a.agent_id \
         AND am.starts_at_ms <= r.started_at_ms AND am.ends_at_ms > r.started_at_ms)"
    };
}

/// SQL: whether assignment `a` (with its plan joined as `p`, or as the alias given) counts
/// towards score and pay: a pull's own choice, else its plan's. The one place this rule is
/// written.
macro_rules! counts_sql {
    () => {
        $crate::store::sampling::counts_sql!(p)
    };
    ($plan:ident) => {
        concat!("COALESCE(a.counts, ", stringify!($plan), ".counts, 0)")
    };
}
pub(super) use counts_sql;

const ASSIGNMENT_SELECT: &str = concat!(
    "SELECT a.id, a.kind, a.plan_id, p.name AS plan_name, a.stratum, \
    a.sample_key, a.recording_id, r.call_id, u.username AS agent, u.name AS agent_name, \
    t.name AS team, r.started_at_ms, r.duration_ms, g.username AS grader, g.name AS grader_name, \
    a.reason, a.complaint, a.created_at_ms, a.due_at_ms, a.completed_at_ms, a.appeal_id, ",
    counts_sql!(),
    " AS counts, ",
    month_published_at!(),
    " AS month_published_at_ms \
    FROM assignments a JOIN recordings r ON r.id = a.recording_id \
    JOIN users u ON u.id = a.agent_id LEFT JOIN teams t ON t.id = u.team_id \
    LEFT JOIN users g ON g.id = a.grader_id LEFT JOIN sampling_plans p ON p.id = a.plan_id"
);

fn assignment_from_row(r: &sqlx::any::AnyRow) -> Result<Assignment, sqlx::Error> {
    Ok(Assignment {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        plan_id: r.try_get("plan_id")?,
        plan_name: r.try_get("plan_name")?,
        stratum: r.try_get("stratum")?,
        sample_key: r.try_get("sample_key")?,
        recording_id: r.try_get("recording_id")?,
        call_id: r.try_get("call_id")?,
        agent: r.try_get("agent")?,
        agent_name: r.try_get("agent_name")?,
        team: r.try_get("team")?,
        started_at_ms: r.try_get("started_at_ms")?,
        duration_ms: r.try_get("duration_ms")?,
        grader: r.try_get("grader")?,
        grader_name: r.try_get("grader_name")?,
        reason: r.try_get("reason")?,
        complaint: r.try_get::<i64, _>("complaint")? != 0,
        created_at_ms: r.try_get("created_at_ms")?,
        due_at_ms: r.try_get("due_at_ms")?,
        completed_at_ms: r.try_get("completed_at_ms")?,
        counts: r.try_get::<i64, _>("counts")? != 0,
        appeal_id: r.try_get("appeal_id")?,
        month_published_at_ms: r.try_get("month_published_at_ms")?,
    })
}

/// A grader's open work, soonest due first; samples due together in the order of their
/// draw and then of their keys (a draw inserts its rows in another order), pulls and the
/// rest in the order they were made.
pub async fn queue(db: &Db, grader_id: i64) -> Result<Vec<Assignment>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{ASSIGNMENT_SELECT} WHERE a.grader_id = $1 AND a.completed_at_ms IS NULL \
         ORDER BY a.due_at_ms, a.created_at_ms, COALESCE(a.plan_id, 0), \
         COALESCE(a.sample_key, ''), a.id"
    ));
    let rows = sqlx::query(sql).bind(grader_id).fetch_all(&db.pool).await?;
    rows.iter().map(assignment_from_row).collect()
}

/// A plan's frozen samples the viewer may see (their scope over the sampled agent).
pub async fn plan_assignments(
    db: &Db,
    plan_id: i64,
    viewer: &Viewer,
    agent: Option<&str>,
) -> Result<Vec<Assignment>, sqlx::Error> {
    let (kind, id) = scope_params(viewer.scope());
    let sql = sqlx::AssertSqlSafe(format!(
        "{ASSIGNMENT_SELECT} WHERE a.plan_id = $3 AND ($4 = '' OR u.username = $4) AND {SCOPE_FILTER} \
         ORDER BY u.username, a.stratum, a.sample_key"
    ));
    let rows = sqlx::query(sql)
        .bind(kind)
        .bind(id)
        .bind(plan_id)
        .bind(agent.unwrap_or(""))
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(assignment_from_row).collect()
}

/// Provisional picks with their call, for the samples view (which computes their keys:
/// see [`crate::sampling::provisional_samples`]).
#[derive(Clone, Debug)]
pub struct ProvisionalView {
    pub recording_id: i64,
    pub call_id: String,
    pub agent: String,
    pub agent_name: String,
    pub team: Option<String>,
    pub started_at_ms: i64,
    pub duration_ms: i64,
    pub stratum: i64,
}

pub async fn provisional_view(
    db: &Db,
    plan_id: i64,
    viewer: &Viewer,
    agent: Option<&str>,
) -> Result<Vec<ProvisionalView>, sqlx::Error> {
    let (kind, id) = scope_params(viewer.scope());
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT u.username AS agent, u.name AS agent_name, t.name AS team, pc.stratum, pc.picks \
         FROM provisional_cells pc JOIN users u ON u.id = pc.agent_id \
         LEFT JOIN teams t ON t.id = u.team_id \
         WHERE pc.plan_id = $3 AND ($4 = '' OR u.username = $4) AND {SCOPE_FILTER}"
    ));
    let rows = sqlx::query(sql)
        .bind(kind)
        .bind(id)
        .bind(plan_id)
        .bind(agent.unwrap_or(""))
        .fetch_all(&db.pool)
        .await?;
    let bad = || sqlx::Error::Decode("malformed provisional picks".into());
    let mut out = Vec::new();
    for r in &rows {
        let (agent, agent_name, team): (String, String, Option<String>) = (
            r.try_get("agent")?,
            r.try_get("agent_name")?,
            r.try_get("team")?,
        );
        let stratum: i64 = r.try_get("stratum")?;
        let picks: String = r.try_get("picks")?;
        for (recording_id, call_id) in parse_picks(&picks).ok_or_else(bad)? {
            out.push(ProvisionalView {
                recording_id,
                call_id,
                agent: agent.clone(),
                agent_name: agent_name.clone(),
                team: team.clone(),
                started_at_ms: 0,
                duration_ms: 0,
                stratum,
            });
        }
    }
    // The calls' times, a thousand at a time (ids are integers from our own rows).
    let mut calls: HashMap<i64, (i64, i64)> = HashMap::new();
    let ids: Vec<i64> = out.iter().map(|p| p.recording_id).collect();
    for chunk in ids.chunks(1000) {
        let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
        let sql = format!(
            "SELECT id, started_at_ms, duration_ms FROM recordings WHERE id IN ({})",
            list.join(",")
        );
        for r in sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&db.pool)
            .await?
        {
            calls.insert(
                r.try_get("id")?,
                (r.try_get("started_at_ms")?, r.try_get("duration_ms")?),
            );
        }
    }
    for p in &mut out {
        let (started, duration) = calls.get(&p.recording_id).copied().ok_or_else(|| {
            sqlx::Error::Decode(
                format!("provisional pick of unknown call {}", p.recording_id).into(),
            )
        })?;
        p.started_at_ms = started;
        p.duration_ms = duration;
    }
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("this call is already in that grader's queue")]
    AlreadyQueued,
    #[error("the call's month is published for its agent")]
    MonthPublished,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// Writing the grader's notice failed.
    #[error(transparent)]
    Notice(#[from] anyhow::Error),
}

pub struct NewPull<'a> {
    pub recording_id: i64,
    /// The call's start: a pull of a month published for its agent is refused.
    pub started_at_ms: i64,
    /// Whether its evaluation feeds the agent's score and pay.
    pub counts: bool,
    pub agent_id: i64,
    pub grader_id: i64,
    pub reason: &'a str,
    pub complaint: bool,
    pub created_by: i64,
    pub now_ms: i64,
    pub due_at_ms: i64,
}

/// Queues a pull in a transaction left open for the caller to add the grader's notice and
/// commit; returns it with the assignment's id.
pub async fn insert_pull(db: &Db, p: &NewPull<'_>) -> Result<(Tx, i64), PullError> {
    let mut tx = db.begin_write().await?;
    tx.hold_agent(p.agent_id).await?;
    if month_published_for(&mut tx, p.agent_id, p.started_at_ms).await? {
        return Err(PullError::MonthPublished);
    }
    let inserted = sqlx::query(
        "INSERT INTO assignments (recording_id, agent_id, kind, grader_id, reason, complaint, \
         created_by, created_at_ms, due_at_ms, counts) \
         VALUES ($1, $2, 'pull', $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(p.recording_id)
    .bind(p.agent_id)
    .bind(p.grader_id)
    .bind(p.reason)
    .bind(i64::from(p.complaint))
    .bind(p.created_by)
    .bind(p.now_ms)
    .bind(p.due_at_ms)
    .bind(i64::from(p.counts))
    .fetch_one(&mut *tx)
    .await;
    // One open pull per call and grader is a constraint (migration 0017): of two at once,
    // the second fails here.
    let id: i64 = match inserted {
        Ok(row) => row.try_get("id")?,
        Err(e) if is_unique_violation(&e) => return Err(PullError::AlreadyQueued),
        Err(e) => return Err(e.into()),
    };
    Ok((tx, id))
}

/// Whether the month of a call that started at `started_at_ms` is published for its agent
/// (read in `tx`, which should hold the agent: [`Tx::hold_agent`]).
pub async fn month_published_for(
    tx: &mut Tx,
    agent_id: i64,
    started_at_ms: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "SELECT 1 AS one FROM agent_months WHERE agent_id = $1 \
         AND starts_at_ms <= $2 AND ends_at_ms > $2",
    )
    .bind(agent_id)
    .bind(started_at_ms)
    .fetch_optional(&mut **tx)
    .await?
    .is_some())
}

pub async fn get_assignment(db: &Db, id: i64) -> Result<Option<Assignment>, sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(format!("{ASSIGNMENT_SELECT} WHERE a.id = $1"));
    let row = sqlx::query(sql).bind(id).fetch_optional(&db.pool).await?;
    row.as_ref().map(assignment_from_row).transpose()
}

/// Per grader of a plan: drawn, graded, and open past due (at `now_ms`).
pub async fn grader_progress(
    db: &Db,
    plan_id: i64,
    now_ms: i64,
) -> Result<Vec<(Option<String>, Option<String>, i64, i64, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT g.username, g.name, COUNT(*) AS drawn, \
         SUM(CASE WHEN a.completed_at_ms IS NOT NULL THEN 1 ELSE 0 END) AS graded, \
         SUM(CASE WHEN a.completed_at_ms IS NULL AND a.due_at_ms < $2 THEN 1 ELSE 0 END) AS overdue \
         FROM assignments a LEFT JOIN users g ON g.id = a.grader_id WHERE a.plan_id = $1 \
         GROUP BY g.username, g.name ORDER BY g.username",
    )
    .bind(plan_id)
    .bind(now_ms)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("username")?,
                r.try_get("name")?,
                r.try_get("drawn")?,
                r.try_get("graded")?,
                r.try_get("overdue")?,
            ))
        })
        .collect()
}

/// Per agent of a plan: frozen samples, graded, overdue; and provisional picks.
pub async fn agent_progress(
    db: &Db,
    plan_id: i64,
    now_ms: i64,
) -> Result<HashMap<i64, (i64, i64, i64, i64)>, sqlx::Error> {
    let mut out: HashMap<i64, (i64, i64, i64, i64)> = HashMap::new();
    let rows = sqlx::query(
        "SELECT a.agent_id, COUNT(*) AS drawn, \
         SUM(CASE WHEN a.completed_at_ms IS NOT NULL THEN 1 ELSE 0 END) AS graded, \
         SUM(CASE WHEN a.completed_at_ms IS NULL AND a.due_at_ms < $2 THEN 1 ELSE 0 END) AS overdue \
         FROM assignments a WHERE a.plan_id = $1 GROUP BY a.agent_id",
    )
    .bind(plan_id)
    .bind(now_ms)
    .fetch_all(&db.pool)
    .await?;
    for r in &rows {
        let e = out.entry(r.try_get("agent_id")?).or_default();
        e.0 = r.try_get("drawn")?;
        e.1 = r.try_get("graded")?;
        e.2 = r.try_get("overdue")?;
    }
    let rows = sqlx::query(
        "SELECT agent_id, CAST(SUM(n) AS BIGINT) AS n FROM provisional_cells WHERE plan_id = $1 GROUP BY agent_id",
    )
    .bind(plan_id)
    .fetch_all(&db.pool)
    .await?;
    for r in &rows {
        out.entry(r.try_get("agent_id")?).or_default().3 = r.try_get("n")?;
    }
    Ok(out)
}

pub async fn publish_month(db: &Db, month: &str, by: i64, now_ms: i64) -> Result<i64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO month_publications (month, published_at_ms, published_by) VALUES ($1, $2, $3) \
         ON CONFLICT (month) DO NOTHING",
    )
    .bind(month)
    .bind(now_ms)
    .bind(by)
    .execute(&mut *tx)
    .await?;
    let at: i64 = sqlx::query("SELECT published_at_ms FROM month_publications WHERE month = $1")
        .bind(month)
        .fetch_one(&mut *tx)
        .await?
        .try_get("published_at_ms")?;
    tx.commit().await?;
    Ok(at)
}

/// Call ids of every call a plan picked, by recording id (the proof lists call ids).
pub async fn call_ids_of_plan(db: &Db, plan_id: i64) -> Result<HashMap<i64, String>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT r.id, r.call_id FROM assignments a JOIN recordings r ON r.id = a.recording_id \
         WHERE a.plan_id = $1",
    )
    .bind(plan_id)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("call_id")?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of value survives the trip through [`insert_many`]: NULLs in
    /// both kinds of column, negative and extreme numbers, empty texts, texts with spaces at
    /// either end, quotes, newlines, tabs and Chinese; stored as numbers and texts (SQLite
    /// takes them out of a blob).
    #[tokio::test]
    async fn many_rows_keep_every_value() -> anyhow::Result<()> {
        for db in databases().await? {
            roundtrip(&db.db).await?;
        }
        Ok(())
    }

    /// The check on an assignment's kind (three comparisons since migration 0012) still
    /// takes the three kinds and refuses anything else, on both databases.
    #[tokio::test]
    async fn assignment_kinds_are_checked() -> anyhow::Result<()> {
        for db in databases().await? {
            kinds_checked(&db.db).await?;
        }
        Ok(())
    }

    /// A fresh database of each kind: SQLite, and PostgreSQL when the suite has one.
    struct TestDb {
        db: Db,
        _dir: tempfile::TempDir,
        _scratch: Option<crate::store::scratch::ScratchPostgres>,
    }

    async fn databases() -> anyhow::Result<Vec<TestDb>> {
        let dir = tempfile::tempdir()?;
        let mut out = vec![TestDb {
            db: Db::open(None, dir.path()).await?,
            _dir: dir,
            _scratch: None,
        }];
        if let Ok(url) = std::env::var("CALLGRADE_TEST_DATABASE_URL") {
            let dir = tempfile::tempdir()?;
            let scratch = crate::store::scratch::ScratchPostgres::create(&url, "cg_unit").await?;
            out.push(TestDb {
                db: Db::open(Some(&scratch.url), dir.path()).await?,
                _dir: dir,
                _scratch: Some(scratch),
            });
        }
        Ok(out)
    }

    async fn kinds_checked(db: &Db) -> anyhow::Result<()> {
        let insert = |recording: i64, kind: &'static str| {
            sqlx::query(
                "INSERT INTO assignments (recording_id, agent_id, kind, created_at_ms, due_at_ms) \
                 VALUES ($1, 1, $2, 0, 0)",
            )
            .bind(recording)
            .bind(kind)
            .execute(&db.pool)
        };
        for (recording, kind) in [(1, "sample"), (2, "fill"), (3, "pull")] {
            insert(recording, kind).await?;
        }
        for kind in ["Sample", "samples", ""] {
            assert!(insert(4, kind).await.is_err(), "kind {kind:?} was taken");
        }
        Ok(())
    }

    #[test]
    fn provisional_picks_read_back_whatever_their_call_ids_hold() {
        let cell = ProvisionalCell {
            agent_id: 1,
            stratum: 0,
            picks: vec![
                (7, "CALL 1 ".into()),
                (12, "呼叫-2".into()),
                (-3, "x".into()),
            ],
        };
        let text = cell.picks_text().expect("no tabs");
        assert_eq!(parse_picks(&text), Some(cell.picks.clone()));
        let tabbed = ProvisionalCell {
            picks: vec![(7, "A\tB".into())],
            ..cell
        };
        assert!(tabbed.picks_text().is_err());
        assert_eq!(parse_picks(""), Some(Vec::new()));
        assert_eq!(parse_picks("7"), None);
        assert_eq!(parse_picks("x\tCALL"), None);
    }

    #[test]
    fn decimal_len_counts_digits_and_sign() {
        for n in [0, 9, 10, 99, 100, -1, -10, 1_000_000, i64::MIN, i64::MAX] {
            assert_eq!(decimal_len(n), n.to_string().len(), "{n}");
        }
    }

    async fn roundtrip(db: &Db) -> anyhow::Result<()> {
        sqlx::raw_sql("CREATE TABLE roundtrip (seq BIGINT, n BIGINT, t TEXT, k TEXT)")
            .execute(&db.pool)
            .await?;
        let texts = [
            Val::S(String::new()),
            Val::N,
            Val::S("  padded  ".into()),
            Val::S("引号\"和\\n\n换行,{}\t".into()),
            Val::S("sample".into()),
        ];
        let numbers = [
            Val::I(i64::MIN),
            Val::I(-7),
            Val::N,
            Val::I(0),
            Val::I(i64::MAX),
        ];
        let rows: Vec<Vec<Val>> = numbers
            .iter()
            .zip(&texts)
            .enumerate()
            .map(|(i, (n, t))| {
                let k = ["sample", "fill", "抽检 ", " x"][i % 4];
                vec![Val::I(i as i64), n.clone(), t.clone(), Val::S(k.into())]
            })
            .collect();
        let mut tx = db.begin_write().await?;
        insert_many(
            &mut tx,
            db.backend,
            "roundtrip",
            &[
                ("seq", Ty::Int),
                ("n", Ty::Int),
                ("t", Ty::Text),
                ("k", Ty::Text),
            ],
            &rows,
            "",
        )
        .await?;
        tx.commit().await?;
        let back = sqlx::query("SELECT n, t, k FROM roundtrip ORDER BY seq")
            .fetch_all(&db.pool)
            .await?;
        assert_eq!(back.len(), rows.len());
        for (row, want) in back.iter().zip(&rows) {
            let (n, t) = (&want[1], &want[2]);
            let got_n: Option<i64> = row.try_get("n")?;
            let got_t: Option<String> = row.try_get("t")?;
            let want_n = match n {
                Val::I(i) => Some(*i),
                _ => None,
            };
            let want_t = match t {
                Val::S(s) => Some(s.clone()),
                _ => None,
            };
            assert_eq!((got_n, got_t), (want_n, want_t));
            let got_k: String = row.try_get("k")?;
            assert!(matches!(&want[3], Val::S(k) if *k == got_k), "{got_k:?}");
        }
        if db.backend == Backend::Sqlite {
            let blobs: i64 = sqlx::query(
                "SELECT COUNT(*) FROM roundtrip WHERE typeof(n) = 'blob' OR typeof(t) = 'blob' \
                 OR typeof(k) = 'blob'",
            )
            .fetch_one(&db.pool)
            .await?
            .try_get(0)?;
            assert_eq!(blobs, 0);
        }
        // One row alone whose texts are empty: still one row (PostgreSQL splits an empty
        // text into no elements at all).
        let mut tx = db.begin_write().await?;
        let columns = [("seq", Ty::Int), ("t", Ty::Text), ("k", Ty::Text)];
        let lone = vec![vec![Val::I(99), Val::S(String::new()), Val::N]];
        insert_many(&mut tx, db.backend, "roundtrip", &columns, &lone, "").await?;
        tx.commit().await?;
        let row = sqlx::query("SELECT n, t, k FROM roundtrip WHERE seq = 99")
            .fetch_one(&db.pool)
            .await?;
        let got: (Option<i64>, Option<String>, Option<String>) =
            (row.try_get("n")?, row.try_get("t")?, row.try_get("k")?);
        assert_eq!(got, (None, Some(String::new()), None));
        db.close().await;
        Ok(())
    }
}
