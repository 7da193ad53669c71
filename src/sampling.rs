//! The draw: turns a plan and the calls in the store into samples, week by week.
//!
//! A run (background task, `POST /api/plans/{id}/draw` or `callgrade sample draw`) does, in
//! order: add agents who joined the population; freeze every week whose deadline has passed
//! (exact: all eligible calls created before the deadline, smallest keys first, shortfalls
//! carried to the next week, after the last week filled from the others); refresh the open
//! weeks' provisional picks (only calls that arrived since the previous run, unless a
//! freeze or a new agent calls for a full rescan); hand the frozen samples to graders; and,
//! once the grading period is over, settle the plan (team leads' missing spot-checks).
//! Every run is idempotent, and a run that loses a race with another writes nothing.
//!
//! `verify` re-derives every frozen week from the seed and the eligible calls with the same
//! rules and compares with what is stored.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::Context;
use chrono::NaiveDate;
use chrono_tz::Tz;
use futures::{StreamExt, TryStreamExt};

use crate::domain::access::Viewer;
use crate::domain::month::Month;
use crate::domain::sampling::{
    self, Graders, Key, Keyer, LEAD_PENALTY_CENTI_PER_MISSING, PlanSpec, Seed, Stratum,
    agent_digest, agent_target, quotas, stratum_digest, take_for_cell,
};
use crate::store::Db;
use crate::store::sampling::{
    self as store, AgentInfo, Cell, DrawWrite, FrozenStratum, NewAssignment, NewPlan, Pick,
    PlanAgent, PlanRow, ProvisionalCell, Scan, StratumRow,
};

/// Calls created this long before the previous run's watermark are read again: a
/// transaction that took its `created_at_ms` earlier may have committed after that run read.
/// Merging is idempotent, so reading a call twice changes nothing.
const WATERMARK_OVERLAP_MS: i64 = 60_000;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{0}")]
    Invalid(crate::domain::said::Said),
    #[error("a plan with this name already exists for the month")]
    Exists,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Creates a plan with a fresh seed; only the seed's hash is shown until publication.
pub async fn create_plan(
    db: &Db,
    spec: &PlanSpec,
    tz: Tz,
    created_by: i64,
    now_ms: i64,
) -> Result<i64, PlanError> {
    let ids = create_plans(db, std::slice::from_ref(spec), tz, created_by, now_ms).await?;
    ids.first()
        .copied()
        .ok_or_else(|| PlanError::Internal(anyhow::anyhow!("no plan was created")))
}

/// The domain's two standing plans for a month: 10 calls per agent for the QA inspectors
/// and 60 for each agent's team lead, drawn with independent seeds. Both or neither.
pub async fn create_default_plans(
    db: &Db,
    month: Month,
    tz: Tz,
    created_by: i64,
    now_ms: i64,
) -> Result<Vec<i64>, PlanError> {
    let specs = [PlanSpec::default_qa(month), PlanSpec::default_lead(month)];
    create_plans(db, &specs, tz, created_by, now_ms).await
}

/// A plan as given, validated and normalised, whose population names only known teams and
/// agents.
async fn checked_spec(db: &Db, spec: &PlanSpec) -> Result<(PlanSpec, Month), PlanError> {
    let mut spec = spec.clone();
    let month = spec.validate().map_err(PlanError::Invalid)?;
    let unknown = store::unknown_names(db, &spec.population)
        .await
        .context("checking the population")?;
    if !unknown.is_empty() {
        return Err(PlanError::Invalid(crate::domain::said::Said::new(
            format!(
                "the population names unknown teams or agents: {}",
                unknown.join(", ")
            ),
            format!("抽样范围中有不存在的团队或坐席：{}", unknown.join("、")),
        )));
    }
    Ok((spec, month))
}

/// Creates plans in one transaction, each with its own seed from the OS generator.
async fn create_plans(
    db: &Db,
    specs: &[PlanSpec],
    tz: Tz,
    created_by: i64,
    now_ms: i64,
) -> Result<Vec<i64>, PlanError> {
    let mut checked = Vec::with_capacity(specs.len());
    for spec in specs {
        checked.push(checked_spec(db, spec).await?);
    }
    let mut tx = db.begin_write().await.context("starting a transaction")?;
    let mut ids = Vec::with_capacity(checked.len());
    for (spec, month) in &checked {
        let seed = sampling::new_seed();
        let strata = sampling::strata(*month, tz, spec.grace_ms());
        let id = store::insert_plan(
            &mut tx,
            &NewPlan {
                spec,
                time_zone: tz.name(),
                strata: &strata,
                seed_hex: &hex::encode(seed),
                seed_hash: &sampling::seed_hash(&seed),
                created_by,
                now_ms,
            },
        )
        .await
        .map_err(|e| match e {
            store::InsertPlanError::Exists => PlanError::Exists,
            store::InsertPlanError::Db(e) => PlanError::Internal(e.into()),
        })?;
        ids.push(id);
    }
    tx.commit().await.context("committing the plans")?;
    Ok(ids)
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DrawReport {
    /// Weeks frozen by this run.
    pub frozen: Vec<u32>,
    /// Provisional picks of open weeks after this run.
    pub provisional: usize,
    /// Samples handed to graders by this run.
    pub assigned: usize,
    /// Whether the plan is settled (all weeks frozen, grading period over).
    pub settled: bool,
}

/// Runs the draw for one plan at `now_ms`. Retries when another run commits first.
pub async fn draw(db: &Db, plan_id: i64, now_ms: i64) -> anyhow::Result<DrawReport> {
    for _ in 0..5 {
        if let Some(report) = draw_once(db, plan_id, now_ms).await? {
            return Ok(report);
        }
    }
    anyhow::bail!("plan {plan_id}: other draws kept committing first; try again")
}

/// Draws every plan that is not settled yet (the background task).
pub async fn draw_all(db: &Db, now_ms: i64) -> anyhow::Result<usize> {
    let ids = store::plans_to_draw(db).await?;
    for &id in &ids {
        draw(db, id, now_ms)
            .await
            .with_context(|| format!("drawing plan {id}"))?;
    }
    Ok(ids.len())
}

/// What a run needs to know about a plan.
struct Ctx {
    plan: PlanRow,
    month: Month,
    keyer: Keyer,
    strata: Vec<StratumRow>,
}

async fn load(db: &Db, plan_id: i64, seed: Option<Seed>) -> anyhow::Result<Ctx> {
    let (plan, strata) =
        futures::try_join!(store::get_plan(db, plan_id), store::strata(db, plan_id))?;
    let plan = plan.with_context(|| format!("no sampling plan {plan_id}"))?;
    let month: Month = plan
        .spec
        .month
        .parse()
        .map_err(|e: String| anyhow::anyhow!(e))?;
    let keyer = match seed {
        Some(s) => Keyer::new(&s),
        None => plan_keyer(&plan)?,
    };
    Ok(Ctx {
        plan,
        month,
        keyer,
        strata,
    })
}

/// A provisional pick as the samples view shows it, with its key.
pub struct ProvisionalSample {
    pub view: store::ProvisionalView,
    /// Hex, as frozen samples show theirs.
    pub key: String,
}

/// The provisional picks `viewer` may see (of one agent, if given), per agent and week in
/// key order. They are stored without keys, which are computed again from the plan's seed.
pub async fn provisional_samples(
    db: &Db,
    plan: &store::PlanRow,
    viewer: &Viewer,
    agent: Option<&str>,
) -> anyhow::Result<Vec<ProvisionalSample>> {
    let keyer = plan_keyer(plan)?;
    let mut out: Vec<ProvisionalSample> = store::provisional_view(db, plan.id, viewer, agent)
        .await?
        .into_iter()
        .map(|view| ProvisionalSample {
            key: hex::encode(keyer.key(&view.call_id)),
            view,
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.view.agent, a.view.stratum, &a.key).cmp(&(&b.view.agent, b.view.stratum, &b.key))
    });
    Ok(out)
}

/// Keys calls with the plan's own seed.
pub fn plan_keyer(plan: &store::PlanRow) -> anyhow::Result<Keyer> {
    let seed =
        sampling::parse_seed(&plan.seed).map_err(|e| anyhow::anyhow!("plan {}: {e}", plan.id))?;
    Ok(Keyer::new(&seed))
}

fn parse_tz(name: &str) -> anyhow::Result<Tz> {
    name.parse()
        .map_err(|_| anyhow::anyhow!("unknown time zone {name:?}"))
}

/// Targets for agents new to the plan: N, or more for focus agents.
async fn targets(
    db: &Db,
    spec: &PlanSpec,
    month: Month,
    tz: Tz,
    agents: &[AgentInfo],
) -> anyhow::Result<Vec<(u32, Option<sampling::FocusReason>)>> {
    let problems = match &spec.focus {
        Some(rule) if rule.problem_agents => {
            let (from, to) = month.prev().range_ms(tz);
            store::problem_agents(db, from, to).await?
        }
        _ => HashSet::new(),
    };
    Ok(agents
        .iter()
        .map(|a| {
            let hired = a
                .hire_date
                .as_deref()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
            agent_target(
                spec.per_agent,
                spec.focus.as_ref(),
                month,
                hired,
                problems.contains(&a.id),
            )
        })
        .collect())
}

/// Calls in key order (ties, which a 256-bit key never has in practice, by recording). The
/// keys' first 8 bytes as a number settle almost every comparison without comparing 32 bytes
/// (a few percent of a month's draw).
fn key_order(a: &Call, b: &Call) -> std::cmp::Ordering {
    let head = |c: &Call| u64::from_be_bytes(c.key[..8].try_into().unwrap_or_default());
    head(a)
        .cmp(&head(b))
        .then_with(|| a.key.cmp(&b.key))
        .then(a.recording_id.cmp(&b.recording_id))
}

/// One agent's eligible calls in one scan: the concatenated text from the database and, per
/// call, where its id sits in that text, sorted by key.
pub struct AgentCalls {
    text: String,
    calls: Vec<Call>,
}

#[derive(Clone, Copy, Debug)]
pub struct Call {
    pub key: Key,
    pub recording_id: i64,
    pub started_at_ms: i64,
    id_at: u32,
    id_len: u32,
}

impl AgentCalls {
    /// Parses one agent's row of a scan: the recording ids and (with `starts`) the start
    /// times, both space-separated, and the call ids, one per line, all in the same order.
    /// Without starts (a scan of one week) every call gets `started_at_ms` 0: nobody asks.
    fn parse(rows: store::AgentScan, keyer: &Keyer) -> anyhow::Result<AgentCalls> {
        let text = rows.call_ids;
        let mut calls = Vec::with_capacity(text.len() / 16);
        let mut ids = rows.ids.split(' ');
        let mut starts = rows.starts.as_deref().map(|s| s.split(' '));
        let mut at = 0usize;
        for call_id in text.split('\n') {
            let id = ids.next().context("fewer recording ids than calls")?;
            let started = match starts.as_mut() {
                Some(s) => s
                    .next()
                    .context("fewer start times than calls")?
                    .parse()
                    .context("start time")?,
                None => 0,
            };
            calls.push(Call {
                key: keyer.key(call_id),
                recording_id: id.parse().context("recording id")?,
                started_at_ms: started,
                id_at: u32::try_from(at).context("eligible list too long")?,
                id_len: u32::try_from(call_id.len()).context("call id too long")?,
            });
            at += call_id.len() + 1;
        }
        anyhow::ensure!(
            ids.next().is_none() && starts.as_mut().is_none_or(|s| s.next().is_none()),
            "more recording ids or start times than calls"
        );
        calls.sort_unstable_by(key_order);
        Ok(AgentCalls { text, calls })
    }

    /// Parses an ungrouped scan ([`store::scan_flat`]) into each agent's calls, keyed and in
    /// key order, keeping only the agents in `keep` (all without it).
    fn from_flat(
        flat: store::FlatScan,
        keyer: &Keyer,
        keep: Option<&HashSet<i64>>,
    ) -> anyhow::Result<HashMap<i64, AgentCalls>> {
        if flat.agent_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut out: HashMap<i64, Option<AgentCalls>> = HashMap::new();
        let mut ids = flat.ids.split(' ');
        let mut starts = flat.starts.as_deref().map(|s| s.split(' '));
        let mut call_ids = flat.call_ids.split('\n');
        for agent in flat.agent_ids.split(' ').filter(|a| !a.is_empty()) {
            let agent: i64 = agent.parse().context("agent id")?;
            let id = ids.next().context("fewer recording ids than agents")?;
            let started = match starts.as_mut() {
                Some(s) => s.next().context("fewer start times than agents")?,
                None => "0",
            };
            let call_id = call_ids.next().context("fewer call ids than agents")?;
            // One lookup per call: an agent outside the plan is remembered as `None`.
            let Some(mine) = out.entry(agent).or_insert_with(|| {
                keep.is_none_or(|k| k.contains(&agent))
                    .then(AgentCalls::empty)
            }) else {
                continue;
            };
            if !mine.calls.is_empty() {
                mine.text.push('\n');
            }
            let at = u32::try_from(mine.text.len()).context("eligible list too long")?;
            mine.text.push_str(call_id);
            mine.calls.push(Call {
                key: keyer.key(call_id),
                recording_id: id.parse().context("recording id")?,
                started_at_ms: started.parse().context("start time")?,
                id_at: at,
                id_len: u32::try_from(call_id.len()).context("call id too long")?,
            });
        }
        anyhow::ensure!(
            ids.next().is_none()
                && call_ids.next().is_none()
                && starts.as_mut().is_none_or(|s| s.next().is_none()),
            "more recording ids, start times or call ids than agents"
        );
        Ok(out
            .into_iter()
            .filter_map(|(agent, calls)| {
                let mut calls = calls?;
                calls.calls.sort_unstable_by(key_order);
                Some((agent, calls))
            })
            .collect())
    }

    /// One agent's calls from two scans, still in key order.
    fn join(self, other: AgentCalls) -> anyhow::Result<AgentCalls> {
        let shift = u32::try_from(self.text.len() + 1).context("eligible list too long")?;
        let mut text = self.text;
        text.push('\n');
        text.push_str(&other.text);
        u32::try_from(text.len()).context("eligible list too long")?;
        let mut calls = Vec::with_capacity(self.calls.len() + other.calls.len());
        let (mut a, mut b) = (
            self.calls.into_iter().peekable(),
            other.calls.into_iter().map(|c| Call {
                id_at: c.id_at + shift,
                ..c
            }),
        );
        for c in b.by_ref() {
            while let Some(first) = a.next_if(|x| key_order(x, &c).is_lt()) {
                calls.push(first);
            }
            calls.push(c);
        }
        calls.extend(a);
        Ok(AgentCalls { text, calls })
    }

    fn empty() -> AgentCalls {
        AgentCalls {
            text: String::new(),
            calls: Vec::new(),
        }
    }

    pub fn call_id(&self, c: &Call) -> &str {
        let start = c.id_at as usize;
        self.text
            .get(start..start + c.id_len as usize)
            .unwrap_or_default()
    }

    fn digest(&self) -> String {
        agent_digest(self.calls.iter().map(|c| self.call_id(c)))
    }

    fn in_stratum(&self, st: &Stratum) -> impl Iterator<Item = &Call> {
        self.calls
            .iter()
            .filter(move |c| c.started_at_ms >= st.start_ms && c.started_at_ms < st.end_ms)
    }
}

/// Reads and keys eligible calls, hashing on all cores (off the async runtime).
async fn scan_keyed(
    db: &Db,
    scan: &Scan<'_>,
    keyer: &Keyer,
) -> anyhow::Result<HashMap<i64, AgentCalls>> {
    let started = std::time::Instant::now();
    let rows = store::scan(db, scan)
        .await
        .context("reading eligible calls")?;
    let read_s = started.elapsed().as_secs_f64();
    let keyer = keyer.clone();
    let keyed = tokio::task::spawn_blocking(move || key_rows(rows, &keyer))
        .await
        .context("keying task")??;
    let keyed_s = started.elapsed().as_secs_f64() - read_s;
    tracing::debug!(agents = keyed.len(), read_s, keyed_s, "scanned");
    Ok(keyed)
}

/// Reads and keys new arrivals in two halves at once (two connections keep two cores busy),
/// each keyed as soon as it is in. The halves split the arrival range at about its median
/// (see [`store::arrival_midpoint`]), so each reads half the range; halves by agent each
/// had to walk the whole range. The database sends the calls ungrouped, and they are put
/// together by agent here.
async fn scan_arrivals(
    db: &Db,
    scan: &Scan<'_>,
    keyer: &Keyer,
) -> anyhow::Result<HashMap<i64, AgentCalls>> {
    let keep: Option<Arc<HashSet<i64>>> = scan
        .agents
        .map(|agents| Arc::new(agents.iter().copied().collect()));
    let whole = Scan {
        agents: scan
            .agents
            .filter(|a| a.len() <= store::ARRIVAL_AGENTS_IN_SQL),
        ..*scan
    };
    let halves = match store::arrival_midpoint(db, scan.created_from, scan.created_to).await? {
        Some(mid) => vec![
            Scan {
                created_to: mid,
                ..whole
            },
            Scan {
                created_from: mid,
                ..whole
            },
        ],
        None => vec![whole],
    };
    let keyed = futures::future::try_join_all(halves.iter().map(|half| {
        let keep = keep.clone();
        let keyer = keyer.clone();
        async move {
            let started = std::time::Instant::now();
            let flat = store::scan_flat(db, half)
                .await
                .context("reading new calls")?;
            let read_s = started.elapsed().as_secs_f64();
            let calls = tokio::task::spawn_blocking(move || {
                AgentCalls::from_flat(flat, &keyer, keep.as_deref())
            })
            .await
            .context("keying task")??;
            let keyed_s = started.elapsed().as_secs_f64() - read_s;
            tracing::debug!(agents = calls.len(), read_s, keyed_s, "arrivals scanned");
            anyhow::Ok(calls)
        }
    }))
    .await?;
    let mut all: HashMap<i64, AgentCalls> = HashMap::new();
    for half in keyed {
        for (agent, calls) in half {
            let joined = match all.remove(&agent) {
                Some(before) => before.join(calls)?,
                None => calls,
            };
            all.insert(agent, joined);
        }
    }
    Ok(all)
}

fn key_rows(
    rows: Vec<store::AgentScan>,
    keyer: &Keyer,
) -> anyhow::Result<HashMap<i64, AgentCalls>> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = rows.len().div_ceil(workers).max(1);
    let mut chunks: Vec<Vec<store::AgentScan>> = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        chunks.push(rows.by_ref().take(per).collect());
    }
    let results: Vec<anyhow::Result<Vec<(i64, AgentCalls)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|rows| Ok((rows.agent_id, AgentCalls::parse(rows, keyer)?)))
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("keying thread panicked")))
            })
            .collect()
    });
    let mut out = HashMap::new();
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

/// The scan of one week's eligible calls as they stood at its deadline.
fn week_scan<'a>(spec: &'a PlanSpec, agents: &'a [i64], st: &Stratum) -> Scan<'a> {
    Scan {
        started_from: st.start_ms,
        started_to: st.end_ms,
        created_from: i64::MIN,
        created_to: st.deadline_ms,
        filters: &spec.filters,
        // Always by agent: the database then seeks each agent's range in the covering index
        // instead of reading every call of the week and sorting them by agent.
        agents: Some(agents),
        with_started: false,
        by_arrival: false,
    }
}

/// How many weeks are read at once: two scans keep two cores busy (SQLite's write-ahead
/// log lets readers run side by side) while the weeks before are derived; more would only
/// hold more weeks in memory.
const WEEKS_AT_ONCE: usize = 2;

/// Reads and keys the given weeks whole, [`WEEKS_AT_ONCE`] at a time, and yields them in
/// order.
fn keyed_weeks<'a>(
    db: &'a Db,
    ctx: &'a Ctx,
    agents: &'a [i64],
    weeks: Vec<Stratum>,
) -> impl futures::Stream<Item = anyhow::Result<(Stratum, HashMap<i64, AgentCalls>)>> + 'a {
    keyed_parts(db, ctx, agents, weeks, 1).map_ok(|(st, _, calls)| (st, calls))
}

/// A freeze reads each week in this many parts (consecutive runs of the plan's agents in
/// username order), so that a part's samples are written while the next parts are read:
/// when the reading ends, only the last part's writing is left (a month's draw of the
/// team-lead plan otherwise ended writing a whole week of 40 000 samples alone).
const FREEZE_PARTS: usize = 4;

/// The ranges `n` agents split into, at most `parts` of them; one (empty) range when there
/// are none, so that a week without agents is still read (and freezes).
fn agent_parts(n: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let k = parts.min(n).max(1);
    (0..k).map(|i| i * n / k..(i + 1) * n / k).collect()
}

/// Reads and keys the given weeks in `parts` parts each ([`agent_parts`] of `agents`),
/// [`WEEKS_AT_ONCE`] parts at a time, and yields them in order with their range.
fn keyed_parts<'a>(
    db: &'a Db,
    ctx: &'a Ctx,
    agents: &'a [i64],
    weeks: Vec<Stratum>,
    parts: usize,
) -> impl futures::Stream<
    Item = anyhow::Result<(Stratum, std::ops::Range<usize>, HashMap<i64, AgentCalls>)>,
> + 'a {
    let units: Vec<(Stratum, std::ops::Range<usize>)> = weeks
        .into_iter()
        .flat_map(|st| {
            agent_parts(agents.len(), parts)
                .into_iter()
                .map(move |r| (st, r))
        })
        .collect();
    futures::stream::iter(units)
        .map(move |(st, r)| async move {
            let scan = week_scan(&ctx.plan.spec, &agents[r.clone()], &st);
            let calls = scan_keyed(db, &scan, &ctx.keyer).await?;
            Ok((st, r, calls))
        })
        .buffered(WEEKS_AT_ONCE)
}

/// The cell of one agent in one week, derived from the week's calls: the same function
/// freezes and verifies.
struct Derived {
    cell: Cell,
    picks: Vec<Call>,
}

fn derive_cell(
    agent_id: i64,
    st: &Stratum,
    quota: u32,
    carry_in: u32,
    calls: &AgentCalls,
) -> Derived {
    let take = take_for_cell(quota, carry_in, calls.calls.len());
    Derived {
        cell: Cell {
            agent_id,
            stratum: st.index,
            quota,
            carry_in,
            eligible: u32::try_from(calls.calls.len()).unwrap_or(u32::MAX),
            taken: take.take as u32,
            filled: 0,
            digest: calls.digest(),
            late_join: false,
        },
        picks: calls.calls[..take.take].to_vec(),
    }
}

fn carry_out(c: &Cell) -> u32 {
    (c.quota + c.carry_in).saturating_sub(c.taken)
}

fn late_cell(agent_id: i64, st: &Stratum, quota: u32, carry_in: u32) -> Cell {
    Cell {
        agent_id,
        stratum: st.index,
        quota,
        carry_in,
        eligible: 0,
        taken: 0,
        filled: 0,
        digest: agent_digest(std::iter::empty()),
        late_join: true,
    }
}

/// One week derived for every agent of the plan: cells with their picks, the number of
/// eligible calls and the week's digest. Freezing and verifying both go through here.
struct Week {
    cells: Vec<Derived>,
    eligible: i64,
    digest: String,
}

/// Derives each agent's cell from the week's eligible calls (arrived before its deadline,
/// see [`week_scan`]), with the carry from their cell of the week before (in `earlier`).
/// Agents in `late` joined after the week froze: their whole quota carries on and they are
/// not in the digest.
fn derive_week(
    agents: &[PlanAgent],
    quota_of: &HashMap<i64, Vec<u32>>,
    st: &Stratum,
    calls: &HashMap<i64, AgentCalls>,
    earlier: &HashMap<(i64, u32), Cell>,
    late: &HashSet<i64>,
) -> Week {
    let empty = AgentCalls::empty();
    let mut week = Week {
        cells: Vec::with_capacity(agents.len()),
        eligible: 0,
        digest: String::new(),
    };
    let mut digests = Vec::with_capacity(agents.len());
    for a in agents {
        let id = a.info.id;
        let carry_in = match st.index {
            0 => 0,
            i => earlier.get(&(id, i - 1)).map_or(0, carry_out),
        };
        let quota = quota_of.get(&id).map_or(0, |q| q[st.index as usize]);
        let d = if late.contains(&id) {
            Derived {
                cell: late_cell(id, st, quota, carry_in),
                picks: Vec::new(),
            }
        } else {
            let d = derive_cell(id, st, quota, carry_in, calls.get(&id).unwrap_or(&empty));
            digests.push((a.info.username.as_str(), d.cell.digest.clone()));
            d
        };
        week.eligible += i64::from(d.cell.eligible);
        week.cells.push(d);
    }
    week.digest = stratum_digest(digests.iter().map(|(u, d)| (*u, d.as_str())));
    week
}

async fn draw_once(db: &Db, plan_id: i64, now_ms: i64) -> anyhow::Result<Option<DrawReport>> {
    let mut phases = Phases::start();
    let ctx = load(db, plan_id, None).await?;
    let mut dtx = None;
    let run = draw_run(db, &ctx, now_ms, &mut dtx, &mut phases).await;
    let (report, w) = match run {
        Ok(Some(done)) => done,
        Ok(None) | Err(_) => {
            if let Some(tx) = dtx.take() {
                tx.abort().await;
            }
            return run.map(|_| None);
        }
    };
    let tx = match dtx {
        Some(tx) => tx,
        None => match store::DrawTx::begin(db, plan_id, ctx.plan.draw_version, now_ms).await? {
            Some(tx) => tx,
            None => return Ok(None),
        },
    };
    tx.finish(&w).await?;
    phases.mark("write");
    tracing::debug!(plan_id, phases = %phases, "draw");

    // Settle once every week is frozen and the grading period is over.
    let spec = &ctx.plan.spec;
    let all_frozen = ctx
        .strata
        .iter()
        .all(|s| s.frozen_at_ms.is_some() || report.frozen.contains(&s.stratum.index));
    if let Some(last) = ctx.strata.last().map(|s| s.stratum)
        && all_frozen
        && now_ms >= last.deadline_ms + spec.grading_ms()
    {
        let penalty = (spec.graders == Graders::TeamLead).then_some(LEAD_PENALTY_CENTI_PER_MISSING);
        store::settle(db, plan_id, &spec.month, penalty, now_ms).await?;
        return Ok(Some(DrawReport {
            settled: true,
            ..report
        }));
    }
    Ok(Some(report))
}

/// The run's write transaction, opened on first use (`None` when another run has claimed
/// the plan since this one loaded it).
async fn open_tx<'a>(
    dtx: &'a mut Option<store::DrawTx>,
    db: &Db,
    ctx: &Ctx,
    now_ms: i64,
) -> anyhow::Result<Option<&'a mut store::DrawTx>> {
    if dtx.is_none() {
        *dtx = store::DrawTx::begin(db, ctx.plan.id, ctx.plan.draw_version, now_ms).await?;
    }
    Ok(dtx.as_mut())
}

/// One draw run up to its last write: freezes due weeks (their samples go into `dtx` as
/// each week is derived), fills, and merges new arrivals into the open weeks. Returns what
/// is left to write, or `None` when another run claimed the plan first.
async fn draw_run(
    db: &Db,
    ctx: &Ctx,
    now_ms: i64,
    dtx: &mut Option<store::DrawTx>,
    phases: &mut Phases,
) -> anyhow::Result<Option<(DrawReport, DrawWrite)>> {
    let plan_id = ctx.plan.id;
    let tz = parse_tz(&ctx.plan.time_zone)?;
    let spec = &ctx.plan.spec;
    let days: Vec<u32> = ctx.strata.iter().map(|s| s.stratum.days).collect();
    let mut report = DrawReport::default();
    let mut w = DrawWrite::default();

    let to_freeze: Vec<Stratum> = ctx
        .strata
        .iter()
        .filter(|s| s.frozen_at_ms.is_none() && s.stratum.deadline_ms <= now_ms)
        .map(|s| s.stratum)
        .collect();
    // Freezing carries from week to week and fills after the last week look at every cell;
    // otherwise only the last frozen week's cells matter (what they carry into the open one).
    let last_frozen = ctx
        .strata
        .iter()
        .filter(|s| s.frozen_at_ms.is_some())
        .map(|s| s.stratum.index)
        .max();
    let all_frozen_before = ctx.strata.iter().all(|s| s.frozen_at_ms.is_some());
    // The plan's agents, the cells that matter and who joined since, read side by side.
    let (mut agents, stored_cells, fresh) = futures::try_join!(
        store::plan_agents(db, plan_id),
        async {
            match (to_freeze.is_empty(), last_frozen) {
                (false, _) => store::cells(db, plan_id).await,
                (true, Some(week)) => store::cells_of_stratum(db, plan_id, week).await,
                (true, None) => Ok(Vec::new()),
            }
        },
        async {
            if all_frozen_before {
                Ok(Vec::new())
            } else {
                store::population_not_in_plan(db, &spec.population, plan_id).await
            }
        }
    )?;
    let mut cells: HashMap<(i64, u32), Cell> = stored_cells
        .into_iter()
        .map(|c| ((c.agent_id, c.stratum), c))
        .collect();
    phases.mark("load");

    // Agents who joined the population since the last run (all of them on the first run).
    // Weeks that froze before they joined get a "late join" cell: their quota carries on.
    let mut new_agents = false;
    if !all_frozen_before {
        let fresh_targets = if fresh.is_empty() {
            Vec::new()
        } else {
            targets(db, spec, ctx.month, tz, &fresh).await?
        };
        for (a, (target, reason)) in fresh.into_iter().zip(fresh_targets) {
            new_agents = true;
            w.new_agents
                .push((a.id, target, reason.map(sampling::FocusReason::as_str)));
            let q = quotas(target, &days);
            let mut carry = 0;
            for s in ctx.strata.iter().filter(|s| s.frozen_at_ms.is_some()) {
                let cell = late_cell(a.id, &s.stratum, q[s.stratum.index as usize], carry);
                carry = carry_out(&cell);
                cells.insert((a.id, s.stratum.index), cell.clone());
                w.cells.push(cell);
            }
            agents.push(PlanAgent {
                info: a,
                target,
                focus_reason: reason.map(|r| r.as_str().to_string()),
            });
        }
    }
    agents.sort_by(|a, b| a.info.username.cmp(&b.info.username));
    let agent_ids: Vec<i64> = agents.iter().map(|a| a.info.id).collect();
    let quota_of: HashMap<i64, Vec<u32>> = agents
        .iter()
        .map(|a| (a.info.id, quotas(a.target, &days)))
        .collect();

    // Freeze the weeks whose deadline has passed, in order (each carries into the next),
    // part by part. Each part's samples go to graders and into the write transaction at
    // once, and are written while the next parts are read.
    let mut graders = if to_freeze.is_empty() {
        None
    } else {
        Some(GraderPicker::new(db, spec.graders, &agents).await?)
    };
    let mut taken: HashSet<i64> = HashSet::new();
    // The part derived last, not written yet: its cells and samples.
    let mut pending: (Vec<Cell>, Vec<NewAssignment>) = (Vec::new(), Vec::new());
    // The week being frozen, part by part: its eligible calls and its agents' digests.
    let (mut eligible, mut digests) = (0i64, Vec::<(String, String)>::new());
    let mut parts = std::pin::pin!(keyed_parts(db, ctx, &agent_ids, to_freeze, FREEZE_PARTS));
    loop {
        let next = if pending.0.is_empty() {
            parts.next().await
        } else {
            let Some(tx) = open_tx(dtx, db, ctx, now_ms).await? else {
                return Ok(None);
            };
            let (next, written) =
                futures::join!(parts.next(), tx.insert_week(&pending.0, &pending.1));
            written.context("writing a frozen week")?;
            pending = (Vec::new(), Vec::new());
            next
        };
        let Some((st, range, calls)) = next.transpose()? else {
            break;
        };
        let part = &agents[range.clone()];
        let derived = derive_week(part, &quota_of, &st, &calls, &cells, &HashSet::new());
        drop(calls);
        eligible += derived.eligible;
        digests.extend(
            part.iter()
                .zip(&derived.cells)
                .map(|(a, d)| (a.info.username.clone(), d.cell.digest.clone())),
        );
        let mut picks = Vec::new();
        for d in derived.cells {
            for c in &d.picks {
                taken.insert(c.recording_id);
                picks.push((
                    Pick {
                        agent_id: d.cell.agent_id,
                        stratum: st.index,
                        recording_id: c.recording_id,
                        key: c.key,
                        kind: "sample".into(),
                    },
                    st.deadline_ms + spec.grading_ms(),
                ));
            }
            cells.insert((d.cell.agent_id, st.index), d.cell.clone());
            pending.0.push(d.cell);
        }
        report.assigned += picks.len();
        if let Some(g) = graders.as_mut() {
            pending.1 = g.assign(picks);
        }
        if range.end == agents.len() {
            // The week's last part: the whole week is derived.
            w.frozen.push(FrozenStratum {
                stratum: st.index,
                eligible_count: std::mem::take(&mut eligible),
                digest: stratum_digest(digests.iter().map(|(u, d)| (u.as_str(), d.as_str()))),
            });
            digests.clear();
            report.frozen.push(st.index);
        }
    }
    // Every part was written in the loop: the last one beside the stream's end.
    phases.mark("freeze");

    // After the last week: make up shortfalls from the other weeks' unpicked calls.
    let last = ctx.strata.last().map(|s| s.stratum);
    if let Some(last) = last
        && report.frozen.contains(&last.index)
    {
        let fills = fill_shortfalls(db, ctx, &agents, &cells, &taken).await?;
        let mut filled: HashSet<(i64, u32)> = HashSet::new();
        let mut fill_picks = Vec::with_capacity(fills.len());
        for pick in fills {
            if let Some(cell) = cells.get_mut(&(pick.agent_id, pick.stratum)) {
                cell.filled += 1;
                filled.insert((pick.agent_id, pick.stratum));
            }
            fill_picks.push((pick, last.deadline_ms + spec.grading_ms()));
        }
        report.assigned += fill_picks.len();
        if let Some(g) = graders.as_mut() {
            w.assignments.extend(g.assign(fill_picks));
        }
        // The cells are written by this run either way; keep one copy, with the fills.
        w.cells
            .retain(|c| !filled.contains(&(c.agent_id, c.stratum)));
        w.cells
            .extend(filled.iter().filter_map(|k| cells.get(k).cloned()));
        phases.mark("fill");
    }

    // Provisional picks of the weeks still open.
    let open: Vec<Stratum> = ctx
        .strata
        .iter()
        .filter(|s| s.frozen_at_ms.is_none() && !report.frozen.contains(&s.stratum.index))
        .map(|s| s.stratum)
        .collect();
    let full = ctx.plan.watermark_ms == 0 || !report.frozen.is_empty() || new_agents;
    if let (Some(first), Some(last_open)) = (open.first(), open.last()) {
        let created_from = if full {
            i64::MIN
        } else {
            ctx.plan.watermark_ms - WATERMARK_OVERLAP_MS
        };
        let scan = Scan {
            started_from: first.start_ms,
            started_to: last_open.end_ms,
            created_from,
            created_to: now_ms,
            filters: &spec.filters,
            agents: Some(&agent_ids),
            with_started: true,
            by_arrival: !full,
        };
        // The stored picks are read while the new calls are (a third connection).
        let (calls, existing) = if full {
            (scan_keyed(db, &scan, &ctx.keyer).await?, Vec::new())
        } else {
            futures::try_join!(scan_arrivals(db, &scan, &ctx.keyer), async {
                anyhow::Ok(store::provisional_cells(db, plan_id).await?)
            })?
        };
        phases.mark("scan");
        let (changed, kept) = merge_provisional(
            &agents, &open, &cells, &quota_of, &calls, existing, &ctx.keyer,
        );
        w.clear_provisional = full;
        w.provisional = changed;
        report.provisional = kept;
        phases.mark("merge");
    } else {
        w.clear_provisional = true;
    }
    Ok(Some((report, w)))
}

/// Wall time of a draw's phases, for the debug log (where a slow draw spends its time).
struct Phases {
    last: std::time::Instant,
    spent: Vec<(&'static str, f64)>,
}

impl Phases {
    fn start() -> Phases {
        Phases {
            last: std::time::Instant::now(),
            spent: Vec::new(),
        }
    }

    fn mark(&mut self, phase: &'static str) {
        let now = std::time::Instant::now();
        self.spent
            .push((phase, now.duration_since(self.last).as_secs_f64()));
        self.last = now;
    }
}

impl std::fmt::Display for Phases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (phase, s)) in self.spent.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{phase} {s:.3} s")?;
        }
        Ok(())
    }
}

/// For agents still short after the last week, the unpicked calls of all weeks (each read as
/// it was at its own deadline) with the smallest keys.
async fn fill_shortfalls(
    db: &Db,
    ctx: &Ctx,
    agents: &[PlanAgent],
    cells: &HashMap<(i64, u32), Cell>,
    this_run: &HashSet<i64>,
) -> anyhow::Result<Vec<Pick>> {
    let Some(last) = ctx.strata.last().map(|s| s.stratum) else {
        return Ok(Vec::new());
    };
    let mut filled: HashMap<i64, u32> = HashMap::new();
    for c in cells.values() {
        *filled.entry(c.agent_id).or_default() += c.filled;
    }
    let short: HashMap<i64, u32> = agents
        .iter()
        .filter_map(|a| {
            let c = cells.get(&(a.info.id, last.index))?;
            let done = filled.get(&a.info.id).copied().unwrap_or(0);
            let missing = carry_out(c).saturating_sub(done);
            (missing > 0).then_some((a.info.id, missing))
        })
        .collect();
    if short.is_empty() {
        return Ok(Vec::new());
    }
    let candidates = fill_candidates(db, ctx, cells, &short).await?;
    let mut taken: HashSet<i64> = store::frozen_picks(db, ctx.plan.id)
        .await?
        .into_iter()
        .map(|p| p.recording_id)
        .collect();
    taken.extend(this_run);
    Ok(choose_fills(&short, candidates, &taken))
}

/// Every eligible call of the short agents, week by week at each week's deadline (late-join
/// weeks excluded: their calls were never part of the draw).
async fn fill_candidates(
    db: &Db,
    ctx: &Ctx,
    cells: &HashMap<(i64, u32), Cell>,
    short: &HashMap<i64, u32>,
) -> anyhow::Result<Vec<Pick>> {
    let mut ids: Vec<i64> = short.keys().copied().collect();
    ids.sort_unstable();
    let mut out = Vec::new();
    let all: Vec<Stratum> = ctx.strata.iter().map(|s| s.stratum).collect();
    let mut weeks = std::pin::pin!(keyed_weeks(db, ctx, &ids, all));
    while let Some((st, calls)) = weeks.next().await.transpose()? {
        for (agent, calls) in calls {
            if cells.get(&(agent, st.index)).is_some_and(|c| c.late_join) {
                continue;
            }
            out.extend(calls.calls.iter().map(|c| Pick {
                agent_id: agent,
                stratum: st.index,
                recording_id: c.recording_id,
                key: c.key,
                kind: "fill".into(),
            }));
        }
    }
    Ok(out)
}

fn choose_fills(
    short: &HashMap<i64, u32>,
    mut candidates: Vec<Pick>,
    taken: &HashSet<i64>,
) -> Vec<Pick> {
    candidates.retain(|p| !taken.contains(&p.recording_id));
    candidates.sort_unstable_by(|a, b| {
        a.agent_id
            .cmp(&b.agent_id)
            .then(a.key.cmp(&b.key))
            .then(a.recording_id.cmp(&b.recording_id))
    });
    let mut left = short.clone();
    candidates
        .into_iter()
        .filter(|p| match left.get_mut(&p.agent_id) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        })
        .collect()
}

/// Provisional picks per open week: the smallest keys among the calls seen so far, up to
/// the week's quota plus what earlier (frozen) weeks carried in. Returns the cells whose
/// picks changed (to store) and how many picks there are afterwards. Stored picks come
/// without keys; they are keyed again here.
fn merge_provisional(
    agents: &[PlanAgent],
    open: &[Stratum],
    cells: &HashMap<(i64, u32), Cell>,
    quota_of: &HashMap<i64, Vec<u32>>,
    calls: &HashMap<i64, AgentCalls>,
    existing: Vec<ProvisionalCell>,
    keyer: &Keyer,
) -> (Vec<ProvisionalCell>, usize) {
    // A pick in key order: key, then recording id (as [`key_order`]).
    type Keyed = (Key, i64, String);
    let mut current: HashMap<(i64, u32), Vec<Keyed>> = existing
        .into_iter()
        .map(|c| {
            let mut picks: Vec<Keyed> = c
                .picks
                .into_iter()
                .map(|(id, call_id)| (keyer.key(&call_id), id, call_id))
                .collect();
            picks.sort_unstable();
            ((c.agent_id, c.stratum), picks)
        })
        .collect();
    let (mut changed, mut kept) = (Vec::new(), 0);
    for a in agents {
        let id = a.info.id;
        for (i, st) in open.iter().enumerate() {
            let carry_in = if i == 0 && st.index > 0 {
                cells.get(&(id, st.index - 1)).map_or(0, carry_out)
            } else {
                0
            };
            let want = quota_of.get(&id).map_or(0, |q| q[st.index as usize]) + carry_in;
            let old = current.remove(&(id, st.index)).unwrap_or_default();
            let mut all = old.clone();
            if let Some(mine) = calls.get(&id) {
                // Calls come in key order: only the first `want` can be among the picks.
                all.extend(
                    mine.in_stratum(st)
                        .filter(|c| !old.iter().any(|(_, r, _)| *r == c.recording_id))
                        .take(want as usize)
                        .map(|c| (c.key, c.recording_id, mine.call_id(c).to_string())),
                );
            }
            all.sort_unstable();
            all.truncate(want as usize);
            kept += all.len();
            if all != old {
                changed.push(ProvisionalCell {
                    agent_id: id,
                    stratum: st.index,
                    picks: all
                        .into_iter()
                        .map(|(_, id, call_id)| (id, call_id))
                        .collect(),
                });
            }
        }
    }
    (changed, kept)
}

/// Who grades each new sample: the agent's team lead, or the QA inspector with the least
/// open work at that moment. A run hands its samples over week by week, as a month drawn
/// day by day does.
enum GraderPicker {
    Leads {
        team_of: HashMap<i64, Option<i64>>,
        leads: HashMap<i64, i64>,
    },
    /// Inspectors with their open work, counting what this run has handed out.
    Inspectors { loads: Vec<(i64, i64)> },
}

impl GraderPicker {
    async fn new(db: &Db, graders: Graders, agents: &[PlanAgent]) -> anyhow::Result<GraderPicker> {
        Ok(match graders {
            Graders::TeamLead => GraderPicker::Leads {
                team_of: agents.iter().map(|a| (a.info.id, a.info.team_id)).collect(),
                leads: store::team_leads(db).await?,
            },
            Graders::Inspectors => GraderPicker::Inspectors {
                loads: store::inspector_loads(db).await?,
            },
        })
    }

    /// Samples are taken in key order, so no agent's calls cluster on one inspector.
    fn assign(&mut self, mut picks: Vec<(Pick, i64)>) -> Vec<NewAssignment> {
        picks.sort_unstable_by_key(|p| p.0.key);
        picks
            .into_iter()
            .map(|(p, due)| {
                let grader = match self {
                    GraderPicker::Leads { team_of, leads } => team_of
                        .get(&p.agent_id)
                        .copied()
                        .flatten()
                        .and_then(|t| leads.get(&t).copied()),
                    GraderPicker::Inspectors { loads } => loads
                        .iter_mut()
                        .min_by_key(|(id, open)| (*open, *id))
                        .map(|(id, open)| {
                            *open += 1;
                            *id
                        }),
                };
                new_assignment(p, grader, due)
            })
            .collect()
    }
}

fn new_assignment(p: Pick, grader_id: Option<i64>, due_at_ms: i64) -> NewAssignment {
    NewAssignment {
        recording_id: p.recording_id,
        agent_id: p.agent_id,
        kind: if p.kind == "fill" { "fill" } else { "sample" },
        stratum: p.stratum,
        key: p.key,
        grader_id,
        due_at_ms,
    }
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub seed_matches_commitment: bool,
    pub strata_checked: usize,
    pub agents_checked: usize,
    pub samples_checked: usize,
    pub problems: Vec<String>,
}

/// Re-derives every frozen week of a plan from the seed (the stored one, or one given) and
/// the eligible calls, and compares cells, digests and samples with what is stored.
pub async fn verify(db: &Db, plan_id: i64, seed: Option<Seed>) -> anyhow::Result<VerifyReport> {
    let ctx = load(db, plan_id, seed).await?;
    let mut report = VerifyReport::default();
    let given = seed.map_or_else(|| ctx.plan.seed.clone(), hex::encode);
    report.seed_matches_commitment = sampling::parse_seed(&given)
        .map(|s| sampling::seed_hash(&s) == ctx.plan.seed_hash)
        .unwrap_or(false);
    if !report.seed_matches_commitment {
        report
            .problems
            .push("the seed does not match the plan's commitment (seed_hash)".into());
    }
    let agents = store::plan_agents(db, plan_id).await?;
    let days: Vec<u32> = ctx.strata.iter().map(|s| s.stratum.days).collect();
    let quota_of: HashMap<i64, Vec<u32>> = agents
        .iter()
        .map(|a| (a.info.id, quotas(a.target, &days)))
        .collect();
    let stored_cells: HashMap<(i64, u32), Cell> = store::cells(db, plan_id)
        .await?
        .into_iter()
        .map(|c| ((c.agent_id, c.stratum), c))
        .collect();
    let mut stored: HashMap<(i64, u32, String), HashSet<i64>> = HashMap::new();
    let stored_picks = store::frozen_picks(db, plan_id).await?;
    report.samples_checked = stored_picks.len();
    for p in stored_picks {
        stored
            .entry((p.agent_id, p.stratum, p.kind))
            .or_default()
            .insert(p.recording_id);
    }
    let username: HashMap<i64, &str> = agents
        .iter()
        .map(|a| (a.info.id, a.info.username.as_str()))
        .collect();
    let mut derived_cells: HashMap<(i64, u32), Cell> = HashMap::new();
    let mut expected: HashMap<(i64, u32, String), HashSet<i64>> = HashMap::new();
    let agent_ids: Vec<i64> = agents.iter().map(|a| a.info.id).collect();
    let frozen: Vec<&StratumRow> = ctx
        .strata
        .iter()
        .filter(|s| s.frozen_at_ms.is_some())
        .collect();
    let mut weeks = std::pin::pin!(keyed_weeks(
        db,
        &ctx,
        &agent_ids,
        frozen.iter().map(|s| s.stratum).collect(),
    ));
    for s in frozen {
        let Some((st, calls)) = weeks.next().await.transpose()? else {
            anyhow::bail!("week {} was not read", s.stratum.index + 1);
        };
        report.strata_checked += 1;
        let late: HashSet<i64> = agents
            .iter()
            .map(|a| a.info.id)
            .filter(|id| {
                stored_cells
                    .get(&(*id, st.index))
                    .is_some_and(|c| c.late_join)
            })
            .collect();
        let week = derive_week(&agents, &quota_of, &st, &calls, &derived_cells, &late);
        drop(calls);
        for d in week.cells {
            let id = d.cell.agent_id;
            let mut want = d.cell.clone();
            match stored_cells.get(&(id, st.index)) {
                Some(c) => {
                    want.filled = c.filled;
                    if *c != want {
                        report.problems.push(format!(
                            "{} week {}: stored cell {:?} differs from the derived {:?}",
                            username.get(&id).copied().unwrap_or("?"),
                            st.index + 1,
                            c,
                            want
                        ));
                    }
                }
                None => report.problems.push(format!(
                    "{} week {}: no stored cell",
                    username.get(&id).copied().unwrap_or("?"),
                    st.index + 1
                )),
            }
            expected
                .entry((id, st.index, "sample".into()))
                .or_default()
                .extend(d.picks.iter().map(|c| c.recording_id));
            derived_cells.insert((id, st.index), d.cell);
        }
        let (digest, eligible) = (week.digest, week.eligible);
        if s.eligible_digest.as_deref() != Some(digest.as_str())
            || s.eligible_count != Some(eligible)
        {
            report.problems.push(format!(
                "week {}: eligible set differs (stored {:?} calls, digest {:?}; derived {} calls, digest {})",
                st.index + 1,
                s.eligible_count,
                s.eligible_digest,
                eligible,
                digest
            ));
        }
    }
    // Fills, when the last week is frozen.
    if let Some(last) = ctx.strata.last()
        && last.frozen_at_ms.is_some()
    {
        let short: HashMap<i64, u32> = agents
            .iter()
            .filter_map(|a| {
                let c = derived_cells.get(&(a.info.id, last.stratum.index))?;
                let missing = carry_out(c);
                (missing > 0).then_some((a.info.id, missing))
            })
            .collect();
        if !short.is_empty() {
            let taken: HashSet<i64> = expected.values().flatten().copied().collect();
            let candidates = fill_candidates(db, &ctx, &stored_cells, &short).await?;
            for p in choose_fills(&short, candidates, &taken) {
                expected
                    .entry((p.agent_id, p.stratum, "fill".into()))
                    .or_default()
                    .insert(p.recording_id);
            }
        }
    }
    let keys: HashSet<&(i64, u32, String)> = expected.keys().chain(stored.keys()).collect();
    let none = HashSet::new();
    for k in keys {
        let (e, s) = (
            expected.get(k).unwrap_or(&none),
            stored.get(k).unwrap_or(&none),
        );
        if e != s {
            let missing: Vec<&i64> = e.difference(s).collect();
            let extra: Vec<&i64> = s.difference(e).collect();
            report.problems.push(format!(
                "{} week {} ({}): {} call(s) missing from the stored sample {:?}, {} not derivable {:?}",
                username.get(&k.0).copied().unwrap_or("?"),
                k.1 + 1,
                k.2,
                missing.len(),
                missing,
                extra.len(),
                extra
            ));
        }
    }
    report.agents_checked = agents.len();
    report.ok = report.problems.is_empty();
    Ok(report)
}

/// Per agent of a prospective plan: target, quota per week, eligible calls so far and the
/// shortfall that would follow (nothing is stored).
#[derive(Clone, Debug, serde::Serialize)]
pub struct PreviewAgent {
    pub agent: String,
    pub agent_name: String,
    pub team: Option<String>,
    pub target: u32,
    pub focus_reason: Option<&'static str>,
    pub quotas: Vec<u32>,
    pub eligible: Vec<u32>,
    pub shortfall: Vec<u32>,
    pub total_shortfall: u32,
}

pub async fn preview(
    db: &Db,
    spec: &PlanSpec,
    tz: Tz,
    now_ms: i64,
) -> Result<(Vec<Stratum>, Vec<PreviewAgent>), PlanError> {
    // A preview stores nothing, so it needs no name yet: it is how the plan gets decided.
    let mut spec = spec.clone();
    if spec.name.trim().is_empty() {
        spec.name = "preview".into();
    }
    let (spec, month) = checked_spec(db, &spec).await?;
    let strata = sampling::strata(month, tz, spec.grace_ms());
    let days: Vec<u32> = strata.iter().map(|s| s.days).collect();
    let agents = store::population(db, &spec.population)
        .await
        .context("reading the population")?;
    let t = targets(db, &spec, month, tz, &agents).await?;
    let counts = store::eligible_counts(db, &strata, now_ms, &spec.filters)
        .await
        .context("counting eligible calls")?;
    let out = agents
        .iter()
        .zip(t)
        .map(|(a, (target, reason))| {
            let q = quotas(target, &days);
            let eligible: Vec<u32> = strata
                .iter()
                .map(|s| counts.get(&(a.id, s.index)).copied().unwrap_or(0))
                .collect();
            let shortfall: Vec<u32> = q
                .iter()
                .zip(&eligible)
                .map(|(q, e)| q.saturating_sub(*e))
                .collect();
            // Shortfalls move on and are finally filled from other weeks' spare calls.
            let mut carry = 0;
            let mut spare = 0;
            for (qi, e) in q.iter().zip(&eligible) {
                let take = take_for_cell(*qi, carry, *e as usize);
                spare += e.saturating_sub(take.take as u32);
                carry = take.carry_out;
            }
            PreviewAgent {
                agent: a.username.clone(),
                agent_name: a.name.clone(),
                team: a.team.clone(),
                target,
                focus_reason: reason.map(sampling::FocusReason::as_str),
                quotas: q,
                eligible,
                shortfall,
                total_shortfall: carry.saturating_sub(spare),
            }
        })
        .collect();
    Ok((strata, out))
}

/// One eligible call as the proof lists it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct EligibleCall {
    pub call_id: String,
    pub key: String,
}

/// An agent's eligible calls in each frozen week (as read at the week's deadline), in key
/// order: with the seed, anyone can recompute the keys and the agent's digests.
pub async fn eligible_call_ids(
    db: &Db,
    plan_id: i64,
    agent_id: i64,
) -> anyhow::Result<Vec<Vec<EligibleCall>>> {
    let ctx = load(db, plan_id, None).await?;
    let late: HashSet<u32> = store::cells(db, plan_id)
        .await?
        .into_iter()
        .filter(|c| c.agent_id == agent_id && c.late_join)
        .map(|c| c.stratum)
        .collect();
    let mut out = Vec::new();
    for s in ctx.strata.iter().filter(|s| s.frozen_at_ms.is_some()) {
        let st = s.stratum;
        if late.contains(&st.index) {
            out.push(Vec::new());
            continue;
        }
        let ids = [agent_id];
        let scan = week_scan(&ctx.plan.spec, &ids, &st);
        let calls = scan_keyed(db, &scan, &ctx.keyer).await?;
        out.push(match calls.get(&agent_id) {
            Some(mine) => mine
                .calls
                .iter()
                .map(|c| EligibleCall {
                    call_id: mine.call_id(c).to_string(),
                    key: hex::encode(c.key),
                })
                .collect(),
            None => Vec::new(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    /// Deterministic seeds: SHA-256 of a counter (the test must not be flaky).
    fn seed(i: u64) -> Seed {
        sha2::Sha256::digest(i.to_le_bytes()).into()
    }

    /// `id started call_id` lines, as the store's scan returns them.
    /// A scan's row for calls `(recording id, start)`, whose call ids are "call {id}".
    fn text(calls: &[(i64, i64)]) -> store::AgentScan {
        let join = |f: &dyn Fn(&(i64, i64)) -> String, sep: &str| {
            calls.iter().map(f).collect::<Vec<_>>().join(sep)
        };
        store::AgentScan {
            agent_id: 1,
            ids: join(&|c| c.0.to_string(), " "),
            starts: Some(join(&|c| c.1.to_string(), " ")),
            call_ids: join(&|c| format!("call {}", c.0), "\n"),
        }
    }

    fn scan_row(ids: &str, starts: Option<&str>, call_ids: &str) -> store::AgentScan {
        store::AgentScan {
            agent_id: 1,
            ids: ids.into(),
            starts: starts.map(Into::into),
            call_ids: call_ids.into(),
        }
    }

    const WEEK: Stratum = Stratum {
        index: 0,
        start_ms: 0,
        end_ms: 1_000,
        deadline_ms: 2_000,
        days: 7,
    };

    #[test]
    fn parse_keeps_call_ids_with_spaces_and_sorts_by_key() {
        let keyer = Keyer::new(&seed(1));
        let calls =
            AgentCalls::parse(scan_row("7 8", Some("100 200"), "A 1\nB"), &keyer).expect("parses");
        let ids: HashSet<&str> = calls.calls.iter().map(|c| calls.call_id(c)).collect();
        assert_eq!(ids, HashSet::from(["A 1", "B"]));
        assert!(calls.calls[0].key < calls.calls[1].key);
        assert_eq!(
            calls.calls[0].key,
            keyer.key(calls.call_id(&calls.calls[0]))
        );
        assert_eq!(
            calls.calls[0].started_at_ms + calls.calls[1].started_at_ms,
            300
        );
        for (ids, starts) in [("7", Some("100 200")), ("7 8", Some("100")), ("7 x", None)] {
            assert!(AgentCalls::parse(scan_row(ids, starts, "A 1\nB"), &keyer).is_err());
        }
        // One week's scan leaves the start out.
        let short = AgentCalls::parse(scan_row("7 8", None, "A 1\nB"), &keyer).expect("parses");
        let ids: HashSet<&str> = short.calls.iter().map(|c| short.call_id(c)).collect();
        assert_eq!(ids, HashSet::from(["A 1", "B"]));
        assert_eq!(short.calls[0].key, calls.calls[0].key);
    }

    /// Two scans' calls of an agent, joined, are what one scan of all of them gives.
    #[test]
    fn joining_two_scans_equals_one_scan() {
        let keyer = Keyer::new(&seed(3));
        let early: Vec<(i64, i64)> = (1..40).map(|i| (i, i * 10)).collect();
        let late: Vec<(i64, i64)> = (40..90).map(|i| (i, i * 10)).collect();
        let parse = |calls: &[(i64, i64)]| AgentCalls::parse(text(calls), &keyer);
        let joined = parse(&early)
            .and_then(|a| a.join(parse(&late)?))
            .expect("joins");
        let whole = parse(&[early, late].concat()).expect("parses");
        let listed = |c: &AgentCalls| -> Vec<(i64, String)> {
            c.calls
                .iter()
                .map(|x| (x.recording_id, c.call_id(x).to_string()))
                .collect()
        };
        assert_eq!(listed(&joined), listed(&whole));
        assert_eq!(joined.digest(), whole.digest());
    }

    #[test]
    fn an_ungrouped_scan_equals_the_scan_by_agent() {
        let keyer = Keyer::new(&seed(5));
        let mine: Vec<(i64, i64)> = (1..30).map(|i| (i, i * 10)).collect();
        // Three agents' calls interleaved as they arrived; agent 9 is not in the plan.
        let mut flat = store::FlatScan {
            agent_ids: String::new(),
            ids: String::new(),
            starts: Some(String::new()),
            call_ids: String::new(),
        };
        for (n, (id, start)) in mine.iter().enumerate() {
            for agent in [1, 9] {
                let sep = if flat.ids.is_empty() { "" } else { " " };
                let id = id + 1000 * (agent - 1);
                flat.agent_ids.push_str(&format!("{sep}{agent}"));
                flat.ids.push_str(&format!("{sep}{id}"));
                if let Some(s) = flat.starts.as_mut() {
                    s.push_str(&format!("{sep}{start}"));
                }
                let nl = if n == 0 && agent == 1 { "" } else { "\n" };
                flat.call_ids.push_str(&format!("{nl}call {id}"));
            }
        }
        let keep = HashSet::from([1, 2]);
        let got = AgentCalls::from_flat(flat, &keyer, Some(&keep)).expect("parses");
        assert_eq!(got.keys().copied().collect::<Vec<_>>(), vec![1]);
        let by_agent = AgentCalls::parse(text(&mine), &keyer).expect("parses");
        let listed = |c: &AgentCalls| -> Vec<(i64, i64, String)> {
            c.calls
                .iter()
                .map(|x| (x.recording_id, x.started_at_ms, c.call_id(x).to_string()))
                .collect()
        };
        assert_eq!(listed(&got[&1]), listed(&by_agent));
        assert_eq!(got[&1].digest(), by_agent.digest());

        let short = store::FlatScan {
            agent_ids: "1 1".into(),
            ids: "1".into(),
            starts: None,
            call_ids: "a\nb".into(),
        };
        assert!(AgentCalls::from_flat(short, &keyer, None).is_err());
        let nothing = store::FlatScan {
            agent_ids: String::new(),
            ids: String::new(),
            starts: None,
            call_ids: String::new(),
        };
        assert!(
            AgentCalls::from_flat(nothing, &keyer, None)
                .expect("parses")
                .is_empty()
        );
    }

    /// Every call of a small population must be picked equally often over many seeds:
    /// chi-square over 12 calls, 3 picked, 6 000 seeds. The 0.1 % critical value for 11
    /// degrees of freedom is 31.26.
    #[test]
    fn the_draw_is_uniform() {
        let population: Vec<(i64, i64)> = (1..=12).map(|i| (i, i * 10)).collect();
        let mut hits = [0u32; 12];
        let rounds = 6_000;
        for r in 0..rounds {
            let keyer = Keyer::new(&seed(r));
            let calls = AgentCalls::parse(text(&population), &keyer).expect("parses");
            let d = derive_cell(1, &WEEK, 3, 0, &calls);
            assert_eq!(d.picks.len(), 3);
            for p in d.picks {
                hits[(p.recording_id - 1) as usize] += 1;
            }
        }
        let expected = f64::from(rounds as u32 * 3) / 12.0;
        let chi2: f64 = hits
            .iter()
            .map(|&h| (f64::from(h) - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 31.26, "chi-square {chi2:.2} over {hits:?}");
        // And the test can fail: a draw that prefers low ids is caught.
        let biased: Vec<u32> = (0..12u32).map(|i| 1500 + 40 * i - 220).collect();
        let chi2_biased: f64 = biased
            .iter()
            .map(|&h| (f64::from(h) - expected).powi(2) / expected)
            .sum();
        assert!(chi2_biased > 31.26);
    }

    #[test]
    fn freeze_parts_cover_every_agent_once_and_always_exist() {
        let freeze_parts = |n| agent_parts(n, FREEZE_PARTS);
        assert_eq!(freeze_parts(0), vec![0..0]);
        assert_eq!(freeze_parts(1), vec![0..1]);
        assert_eq!(freeze_parts(3), vec![0..1, 1..2, 2..3]);
        for n in [4, 5, 2000, 2003] {
            let parts = freeze_parts(n);
            assert_eq!(parts.len(), FREEZE_PARTS);
            assert_eq!(parts.first().map(|r| r.start), Some(0));
            assert_eq!(parts.last().map(|r| r.end), Some(n));
            assert!(parts.windows(2).all(|w| w[0].end == w[1].start));
            assert!(parts.iter().all(|r| r.len() >= n / FREEZE_PARTS));
        }
    }

    #[test]
    fn a_cell_takes_the_smallest_keys_and_reports_what_it_lacks() {
        let keyer = Keyer::new(&seed(7));
        let calls =
            AgentCalls::parse(text(&[(1, 1), (2, 2), (3, 3), (4, 4)]), &keyer).expect("parses");
        let d = derive_cell(9, &WEEK, 2, 1, &calls);
        assert_eq!(d.cell.taken, 3);
        assert_eq!(carry_out(&d.cell), 0);
        let mut keys: Vec<Key> = calls.calls.iter().map(|c| c.key).collect();
        keys.sort();
        assert_eq!(d.picks.iter().map(|c| c.key).collect::<Vec<_>>(), keys[..3]);
        let d = derive_cell(9, &WEEK, 5, 2, &calls);
        assert_eq!((d.cell.taken, carry_out(&d.cell)), (4, 3));
        let none = derive_cell(9, &WEEK, 3, 0, &AgentCalls::empty());
        assert_eq!((none.cell.eligible, carry_out(&none.cell)), (0, 3));
        assert_eq!(none.cell.digest, agent_digest(std::iter::empty()));
    }

    fn agent(id: i64) -> PlanAgent {
        PlanAgent {
            info: AgentInfo {
                id,
                username: format!("a{id}"),
                name: String::new(),
                team_id: None,
                team: None,
                hire_date: None,
            },
            target: 4,
            focus_reason: None,
        }
    }

    /// Merging calls as they arrive, batch by batch, ends with the same provisional picks as
    /// one merge of everything (what the freeze computes).
    #[test]
    fn incremental_provisional_picks_equal_a_full_merge() {
        let keyer = Keyer::new(&seed(3));
        let agents = [agent(1)];
        let quota_of = HashMap::from([(1, vec![4])]);
        let cells = HashMap::new();
        let all: Vec<(i64, i64)> = (1..=40).map(|i| (i, i * 20)).collect();
        for batch in [1usize, 3, 7, 40] {
            let mut picks: Vec<ProvisionalCell> = Vec::new();
            for chunk in all.chunks(batch) {
                let calls =
                    HashMap::from([(1, AgentCalls::parse(text(chunk), &keyer).expect("parses"))]);
                let (changed, kept) = merge_provisional(
                    &agents,
                    &[WEEK],
                    &cells,
                    &quota_of,
                    &calls,
                    picks.clone(),
                    &keyer,
                );
                for cell in changed {
                    picks.retain(|p| (p.agent_id, p.stratum) != (cell.agent_id, cell.stratum));
                    picks.push(cell);
                }
                assert_eq!(picks.iter().map(|c| c.picks.len()).sum::<usize>(), kept);
            }
            let full = AgentCalls::parse(text(&all), &keyer).expect("parses");
            let want: HashSet<i64> = full.calls[..4].iter().map(|c| c.recording_id).collect();
            let got: HashSet<i64> = picks
                .iter()
                .flat_map(|c| c.picks.iter().map(|p| p.0))
                .collect();
            assert_eq!(got, want, "batch size {batch}");
        }
    }

    #[test]
    fn fills_take_each_short_agents_smallest_unpicked_keys() {
        let pick = |agent, id, k: u8| Pick {
            agent_id: agent,
            stratum: 0,
            recording_id: id,
            key: [k; 32],
            kind: "fill".into(),
        };
        let candidates = vec![
            pick(1, 10, 5),
            pick(1, 11, 1),
            pick(1, 12, 3),
            pick(2, 20, 1),
            pick(3, 30, 0),
        ];
        let short = HashMap::from([(1, 2), (2, 5)]);
        let taken = HashSet::from([11]);
        let got: Vec<i64> = choose_fills(&short, candidates, &taken)
            .iter()
            .map(|p| p.recording_id)
            .collect();
        assert_eq!(got, [12, 10, 20]);
    }
}
