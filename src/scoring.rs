//! Computing a month's scores over the store: read everything in bulk, apply the pure rules
//! of [`crate::domain::scoring`], store the result as a new run (the month's history keeps
//! every earlier one). Also the component import shared by the CLI and the API.

use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use crate::domain::grading::Grade;
use crate::domain::month::Month;
use crate::domain::scoring::{self as rules, Commendation, ScoringConfig};
use crate::store::Db;
use crate::store::publication as settings;
use crate::store::score_jobs as jobs;
use crate::store::scoring::{self as store, AgentScore, LeadScore, NewRun};

const CONFIG_SETTING: &str = "scoring";

/// Months of history looked at for level runs (star after three ≥ 95 months, demotion
/// after three level-2 months) and shown in trends.
pub const HISTORY_MONTHS: usize = 12;

pub async fn config(db: &Db) -> anyhow::Result<ScoringConfig> {
    match settings::get_setting(db, CONFIG_SETTING).await? {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| anyhow::anyhow!("stored scoring configuration does not parse: {e}")),
        None => Ok(ScoringConfig::default()),
    }
}

pub async fn set_config(db: &Db, c: &ScoringConfig, by: i64, now_ms: i64) -> anyhow::Result<()> {
    settings::put_setting(db, CONFIG_SETTING, &serde_json::to_string(c)?, by, now_ms).await?;
    Ok(())
}

/// Why a month was computed: kept with each run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    Published,
    AppealDecided,
    Correction,
    ComponentsImported,
    Commendation,
    Manual,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Published => "published",
            Cause::AppealDecided => "appeal_decided",
            Cause::Correction => "correction",
            Cause::ComponentsImported => "components_imported",
            Cause::Commendation => "commendation",
            Cause::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<Cause> {
        [
            Cause::Published,
            Cause::AppealDecided,
            Cause::Correction,
            Cause::ComponentsImported,
            Cause::Commendation,
            Cause::Manual,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Computes `month` for its published agents and stores the result as a new run. Returns
/// the run's id.
pub async fn recompute(
    db: &Db,
    month: Month,
    cause: Cause,
    detail: Option<&str>,
    by: Option<i64>,
    now_ms: i64,
) -> anyhow::Result<i64> {
    let cfg = config(db).await?;
    let m = month.to_string();
    let inputs = store::month_inputs(db, &m).await?;

    // Earlier months, newest first, for the level runs.
    let mut earlier = Vec::with_capacity(HISTORY_MONTHS - 1);
    let mut cursor = month;
    for _ in 1..HISTORY_MONTHS {
        cursor = cursor.prev();
        earlier.push(cursor.to_string());
    }
    let mut history: HashMap<i64, HashMap<String, f64>> = HashMap::new();
    for (month, agent, overall) in store::overall_of_months(db, &earlier).await? {
        history.entry(agent).or_default().insert(month, overall);
    }

    let mut scores: HashMap<i64, Vec<u32>> = HashMap::new();
    let mut grades: HashMap<i64, Vec<Grade>> = HashMap::new();
    // Evaluations that do not feed score and pay (spot-checks, pulls not chosen to count)
    // are only counted, so the row can say how many there were.
    let mut uncounted: HashMap<i64, i64> = HashMap::new();
    for (agent, score, grade, counts) in &inputs.evaluations {
        if !counts {
            *uncounted.entry(*agent).or_default() += 1;
            continue;
        }
        scores
            .entry(*agent)
            .or_default()
            .push(u32::try_from(*score).unwrap_or(0));
        if let Some(g) = Grade::parse(grade) {
            grades.entry(*agent).or_default().push(g);
        }
    }
    let mut components: HashMap<i64, Vec<(&str, f64)>> = HashMap::new();
    for (agent, code, value) in &inputs.components {
        components
            .entry(*agent)
            .or_default()
            .push((code.as_str(), *value));
    }
    let mut praise: HashMap<i64, Vec<Commendation>> = HashMap::new();
    for (agent, kind) in &inputs.commendations {
        if let Some(c) = Commendation::parse(kind) {
            praise.entry(*agent).or_default().push(c);
        }
    }

    let mut agents = Vec::with_capacity(inputs.agents.len());
    let mut team_sq: HashMap<Option<i64>, Vec<f64>> = HashMap::new();
    for a in &inputs.agents {
        let own_scores = scores.get(&a.agent_id).map_or(&[][..], Vec::as_slice);
        let own_grades = grades.get(&a.agent_id).map_or(&[][..], Vec::as_slice);
        let own_praise = praise.get(&a.agent_id).map_or(&[][..], Vec::as_slice);
        let sq = rules::service_quality(own_scores);
        let pay = rules::pay(own_grades, own_praise, &cfg);
        let overall = rules::overall(
            sq.map(|s| s.mean),
            components.get(&a.agent_id).map_or(&[][..], Vec::as_slice),
            &cfg,
        );
        // The unbroken run of earlier months with a result, oldest first, then this one.
        let mut run = Vec::new();
        if let Some(past) = history.get(&a.agent_id) {
            for month in &earlier {
                match past.get(month) {
                    Some(v) => run.push(*v),
                    None => break,
                }
            }
        }
        run.reverse();
        run.push(overall.total);
        // Until every part of the overall score is in, the month has no level: one computed
        // from a score that counts missing parts as 0 would be wrong and look final.
        let complete = overall.missing.is_empty();
        let level = complete.then(|| {
            rules::levels(&run, &cfg)
                .last()
                .copied()
                .unwrap_or(rules::Level::Ordinary)
        });
        if let Some(s) = &sq {
            team_sq.entry(a.team_id).or_default().push(s.mean);
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for g in own_grades {
            *counts.entry(g.as_str()).or_default() += 1;
        }
        let detail = json!({
            "grades": counts,
            "commendations": own_praise,
            "pay": pay,
            "components": overall.components,
            "service_quality_points": round2(overall.service_quality),
            "missing": overall.missing,
            "sq_half_width": sq.and_then(|s| s.half_width),
        });
        agents.push(AgentScore {
            agent_id: a.agent_id,
            team_id: a.team_id,
            evaluations: i64::try_from(own_scores.len()).unwrap_or(i64::MAX),
            uncounted: uncounted.get(&a.agent_id).copied().unwrap_or(0),
            sq_score: sq.map(|s| round2(s.mean)),
            sq_low: sq.and_then(|s| s.low).map(round2),
            sq_high: sq.and_then(|s| s.high).map(round2),
            pay: pay.total,
            pay_cancelled: pay.cancelled_by_severe,
            overall: round2(overall.total),
            complete,
            level: level.map(|l| l.as_str().to_string()),
            detail: detail.to_string(),
        });
    }
    let leads: Vec<LeadScore> = inputs
        .leads
        .iter()
        .map(|&(lead_id, team_id)| {
            let missing = inputs.lead_missing.get(&lead_id).copied().unwrap_or(0);
            let members = team_sq.get(&team_id).map_or(&[][..], Vec::as_slice);
            LeadScore {
                lead_id,
                team_id,
                missing,
                penalty: rules::lead_penalty(u32::try_from(missing).unwrap_or(u32::MAX), &cfg),
                team_sq_points: team_id
                    .and_then(|_| rules::team_points(members, &cfg))
                    .map(round2),
            }
        })
        .collect();
    let id = store::insert_run(
        db,
        &NewRun {
            month: &m,
            cause: cause.as_str(),
            detail,
            by,
            now_ms,
            config: &serde_json::to_string(&cfg)?,
        },
        &agents,
        &leads,
    )
    .await?;
    tracing::info!(
        month = m,
        cause = cause.as_str(),
        agents = agents.len(),
        run = id,
        "scores computed"
    );
    Ok(id)
}

/// Asks, in the transaction of the change that needs it, for `month` to be computed. The
/// change and the request commit together; [`run_jobs`] then computes the month (right
/// after the commit, and from the background task until it succeeds), so a failed
/// computation is retried, never only logged.
pub async fn request(
    tx: &mut crate::store::Tx,
    month: &str,
    cause: Cause,
    detail: &str,
    by: Option<i64>,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    jobs::enqueue(
        tx,
        &jobs::NewJob {
            month,
            cause: cause.as_str(),
            detail: Some(detail),
            by,
            now_ms,
        },
    )
    .await
}

/// Longest pause between two attempts of one computation.
const MAX_RETRY_MS: i64 = 3_600_000;

/// Computes every requested month that is due, one job at a time; a failure is kept with
/// the job, which is tried again later (1 s, 2 s, 4 s, ... up to an hour). Returns how many
/// jobs were done. Safe on every node at once: each job is claimed first.
pub async fn run_jobs(db: &Db, clock: &crate::clock::Clock) -> anyhow::Result<usize> {
    let mut done = 0;
    while let Some(job) = jobs::claim(db, clock.now_ms()).await? {
        // Jobs of the month already committed are covered by the run that reads after them.
        let covered = jobs::pending_of_month(db, &job.month).await?;
        let result = match job.month.parse::<Month>() {
            Ok(month) => {
                recompute(
                    db,
                    month,
                    Cause::parse(&job.cause).unwrap_or(Cause::Manual),
                    job.detail.as_deref(),
                    job.requested_by,
                    clock.now_ms(),
                )
                .await
            }
            Err(e) => Err(anyhow::anyhow!("month {:?}: {e}", job.month)),
        };
        match result {
            Ok(run) => {
                let mut ids = covered;
                ids.push(job.id);
                jobs::done(db, &ids, run, clock.now_ms()).await?;
                done += 1;
            }
            Err(e) => {
                let pause = (1_000i64 << job.attempts.clamp(0, 20)).min(MAX_RETRY_MS);
                tracing::error!(
                    month = job.month,
                    cause = job.cause,
                    attempts = job.attempts,
                    error = format!("{e:#}"),
                    "score computation failed; it will be retried"
                );
                jobs::failed(db, job.id, &format!("{e:#}"), clock.now_ms() + pause).await?;
                // The others wait for the next round rather than fail the same way now.
                break;
            }
        }
    }
    Ok(done)
}

/// [`run_jobs`] right after a change committed: the caller's answer then shows the new
/// scores. A failure is logged here and the background task retries the job.
pub async fn run_jobs_now(db: &Db, clock: &crate::clock::Clock) {
    if let Err(e) = run_jobs(db, clock).await {
        tracing::error!(
            error = format!("{e:#}"),
            "running score computations failed"
        );
    }
}

/// What an import did.
#[derive(Debug, Default, serde::Serialize)]
pub struct ImportReport {
    pub imported: usize,
    pub months: Vec<String>,
    /// "line N: problem" for every refused line; nothing is stored when there are any.
    pub errors: Vec<String>,
}

/// Imports component values from CSV with the header `agent,month,component,points`. All or
/// nothing: one bad line (unknown agent or component, bad month or number) stores nothing
/// and every problem is reported with its line.
pub async fn import_components(
    db: &Db,
    csv_bytes: &[u8],
    by: Option<i64>,
    now_ms: i64,
) -> anyhow::Result<ImportReport> {
    let cfg = config(db).await?;
    let agents = store::agent_ids(db).await?;
    let mut report = ImportReport::default();
    let mut rows = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(csv_bytes);
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_lowercase).collect(),
        Err(e) => {
            report.errors.push(format!("line 1: {e}"));
            return Ok(report);
        }
    };
    if header != ["agent", "month", "component", "points"] {
        report.errors.push(format!(
            "line 1: the header must be agent,month,component,points (got {})",
            header.join(",")
        ));
        return Ok(report);
    }
    let mut months = std::collections::BTreeSet::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                report.errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let field = |n: usize| record.get(n).unwrap_or("");
        let mut problems = Vec::new();
        let agent = agents.get(field(0)).copied();
        if agent.is_none() {
            problems.push(format!("unknown agent {:?}", field(0)));
        }
        let month = field(1).trim().parse::<Month>().ok();
        if month.is_none() {
            problems.push(format!("month {:?} is not YYYY-MM", field(1)));
        }
        let component = field(2);
        if !cfg.components.iter().any(|c| c.code == component) {
            problems.push(format!("unknown component {component:?}"));
        }
        let value = field(3).parse::<f64>().ok().filter(|v| v.is_finite());
        if value.is_none() {
            problems.push(format!("points {:?} is not a number", field(3)));
        }
        match (agent, month, value) {
            (Some(agent), Some(month), Some(value)) if problems.is_empty() => {
                months.insert(month.to_string());
                rows.push((agent, month.to_string(), component.to_string(), value));
            }
            _ => report
                .errors
                .push(format!("line {line}: {}", problems.join("; "))),
        }
    }
    if !report.errors.is_empty() {
        return Ok(report);
    }
    store::upsert_components(db, &rows, by, now_ms).await?;
    report.imported = rows.len();
    report.months = months.into_iter().collect();
    Ok(report)
}

/// Recomputes those of `months` that have been published (others have no scores yet).
/// Returns the months recomputed.
pub async fn recompute_published(
    db: &Db,
    months: &[String],
    cause: Cause,
    by: Option<i64>,
    now_ms: i64,
) -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    for m in months {
        let Ok(month) = m.parse::<Month>() else {
            continue;
        };
        if settings::list_publications(db, m, crate::domain::access::Scope::Center)
            .await?
            .is_empty()
        {
            continue;
        }
        recompute(db, month, cause, None, by, now_ms).await?;
        done.push(m.clone());
    }
    Ok(done)
}
