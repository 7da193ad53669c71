//! `bench scoring`: recomputing a published month's scores on a full-size center. 2000
//! agents with 70 published evaluations each (140 000) and 8 imported components each, the
//! month 2026-11 computed by hand (`scoring::recompute`, cause "manual") like a supervisor
//! would: read everything, apply the rules, store a new run.
//!
//! The data is generated beforehand (not measured): the roster, the calls of November and
//! of `--earlier-months` months before it (October by default; metadata only), a completed
//! pull and a submitted evaluation for every call, every month published, components
//! imported, a few commendations, a scoring configuration with an eighth component, and
//! the earlier months computed once each, oldest first, so that November has a history
//! for the levels. Bulk rows are written with `INSERT ... SELECT` over a generated series
//! or multi-row `INSERT`s, in write transactions.
//!
//! After the timed runs, the reads and the write of a run are timed on their own, so the
//! figures say where the time goes.

use std::time::Instant;

use anyhow::Context;
use callgrade::domain::access::Scope;
use callgrade::domain::month::Month;
use callgrade::domain::publication::Policy;
use callgrade::domain::scoring::{ComponentDef, LinearRule, ScoringConfig};
use callgrade::scoring::{Cause, HISTORY_MONTHS};
use callgrade::store::publication::{NewPublication, insert_publication};
use callgrade::store::scoring::{self as store, NewRun};
use callgrade::store::{Backend, Db};
use chrono_tz::Tz;
use serde_json::json;
use sqlx::{AssertSqlSafe, Row};

use crate::{peak_rss_mb, reset_peak_rss, round3};

const TZ: Tz = chrono_tz::Asia::Shanghai;
const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
/// Office hours: calls start between 08:00 and 20:00 local time.
const OFFICE_START_MS: i64 = 8 * HOUR_MS;
const OFFICE_SPAN_MS: i64 = 12 * HOUR_MS;
const TEAM_SIZE: usize = 50;
const RUNS: usize = 3;
const GOAL_S: f64 = 1.0;
/// The month measured.
const MONTH: &str = "2026-11";
/// Rows per multi-row insert. Kept small: sqlx's SQLite driver looks each `$n` up with
/// `sqlite3_bind_parameter_name`, a linear scan, so binding a statement costs the square of
/// its parameter count.
const CHUNK: usize = 100;

pub async fn run(
    database_url: Option<String>,
    agents: usize,
    evaluations_per_agent: usize,
    earlier_months: usize,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        agents > 0 && evaluations_per_agent > 0,
        "nothing to measure"
    );
    let (_dir, scratch, state) = crate::fresh_state(database_url).await?;
    let db = &state.db;
    let backend = format!("{:?}", db.backend).to_lowercase();
    let month: Month = MONTH.parse().map_err(anyhow::Error::msg)?;
    // Oldest first, the measured month last.
    let mut months: Vec<Month> = std::iter::successors(Some(month), |m| Some(m.prev()))
        .take(earlier_months + 1)
        .collect();
    months.reverse();

    // Set-up, not measured.
    let started = Instant::now();
    let people = seed_people(db, agents).await?;
    let now = callgrade::store::now_ms();
    let (rubric, _) = callgrade::grading::current_rubric(db, now).await?;
    let cfg = config_with_punctuality();
    cfg.validate().map_err(anyhow::Error::msg)?;
    callgrade::scoring::set_config(db, &cfg, people.supervisor, now).await?;
    let components = cfg.components.len();
    let mut seed = Vec::new();
    for &m in &months {
        let t = Instant::now();
        seed_month(db, &people, m, rubric.id, evaluations_per_agent, &cfg).await?;
        seed.push(t.elapsed().as_secs_f64());
    }
    analyze(db).await?;
    let seed_s = started.elapsed().as_secs_f64();
    let mut earlier_s = Vec::new();
    for &m in &months[..earlier_months] {
        let t = Instant::now();
        let published = m.range_ms(TZ).1 + 3 * DAY_MS;
        callgrade::scoring::recompute(db, m, Cause::Published, None, None, published).await?;
        earlier_s.push(t.elapsed().as_secs_f64());
    }
    let setup_s = started.elapsed().as_secs_f64();
    let evaluations = count_evaluations(db, month).await?;
    let expected = (agents * evaluations_per_agent) as i64;
    anyhow::ensure!(
        evaluations == expected,
        "{MONTH}: {evaluations} published evaluations, expected {expected}"
    );
    println!(
        "scoring ({backend}): seeded {agents} agents in {} teams, {} leads, 1 inspector, 1 supervisor; per month {expected} calls, pulls and submitted evaluations, {} component values ({components} components), publication; {} months ({}..={MONTH}) seeded in {seed_s:.1} s (ANALYZE included; per month {}); {earlier_months} earlier month(s) computed in {} s; set-up {setup_s:.1} s in all (not measured)",
        agents.div_ceil(TEAM_SIZE),
        people.leads,
        agents * components,
        months.len(),
        months[0],
        seconds_list(&seed, 1),
        seconds_list(&earlier_s, 2),
    );

    // The measured part: the month computed by hand, RUNS times (each a new run).
    reset_peak_rss();
    let now = month.range_ms(TZ).1 + 5 * DAY_MS;
    let mut times = Vec::with_capacity(RUNS);
    let mut last_run = 0;
    for i in 0..RUNS {
        let t = Instant::now();
        last_run = callgrade::scoring::recompute(
            db,
            month,
            Cause::Manual,
            Some("bench"),
            Some(people.supervisor),
            now + i as i64,
        )
        .await?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "recompute {MONTH} #{}: run {last_run} in {secs:.3} s",
            i + 1
        );
        times.push(secs);
    }
    let peak_rss_mb = peak_rss_mb()?;
    let (min, median, max) = (
        times.iter().copied().fold(f64::INFINITY, f64::min),
        median_of(&times),
        times.iter().copied().fold(0.0, f64::max),
    );

    // What the run holds: every agent, every evaluation, every component.
    let scores = store::agent_scores(db, last_run, Scope::Center).await?;
    let leads = store::lead_scores(db, last_run, None).await?;
    anyhow::ensure!(
        scores.len() == agents,
        "run {last_run}: {} agents scored, expected {agents}",
        scores.len()
    );
    let scored: i64 = scores.iter().map(|s| s.score.evaluations).sum();
    anyhow::ensure!(
        scored == expected,
        "run {last_run}: {scored} evaluations counted, expected {expected}"
    );
    let incomplete = scores
        .iter()
        .filter(|s| !s.score.detail.contains("\"missing\":[]"))
        .count();
    anyhow::ensure!(
        incomplete == 0,
        "{incomplete} agents miss a component or service quality"
    );
    let cancelled = scores.iter().filter(|s| s.score.pay_cancelled).count();
    let mean_overall = scores.iter().map(|s| s.score.overall).sum::<f64>() / agents as f64;
    let mut levels = std::collections::BTreeMap::<String, usize>::new();
    for s in &scores {
        *levels
            .entry(s.score.level.clone().unwrap_or_else(|| "incomplete".into()))
            .or_default() += 1;
    }

    // Where the time goes: the reads and the write on their own, RUNS times each (the same
    // store functions recompute calls; what is left of its time is the configuration read,
    // the rules and building the rows). Per statement: RUST_LOG=sqlx::query=debug.
    let earlier: Vec<String> = std::iter::successors(Some(month.prev()), |m| Some(m.prev()))
        .take(HISTORY_MONTHS - 1)
        .map(|m| m.to_string())
        .collect();
    let config_json = serde_json::to_string(&cfg)?;
    let agent_rows: Vec<store::AgentScore> = scores.into_iter().map(|s| s.score).collect();
    let lead_rows: Vec<store::LeadScore> = leads.into_iter().map(|l| l.score).collect();
    let (mut inputs_t, mut history_t, mut write_t) = (Vec::new(), Vec::new(), Vec::new());
    let mut inputs = store::MonthInputs::default();
    let mut history = Vec::new();
    for i in 0..RUNS {
        let t = Instant::now();
        inputs = store::month_inputs(db, MONTH).await?;
        inputs_t.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        history = store::overall_of_months(db, &earlier).await?;
        history_t.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        store::insert_run(
            db,
            &NewRun {
                month: MONTH,
                cause: Cause::Manual.as_str(),
                detail: Some("bench: the write alone"),
                by: Some(people.supervisor),
                now_ms: now + (RUNS + i) as i64,
                config: &config_json,
            },
            &agent_rows,
            &lead_rows,
        )
        .await?;
        write_t.push(t.elapsed().as_secs_f64());
    }
    let (inputs_s, history_s, write_s) = (
        median_of(&inputs_t),
        median_of(&history_t),
        median_of(&write_t),
    );
    let rest_s = (median - inputs_s - history_s - write_s).max(0.0);
    let detail_bytes: usize = agent_rows.iter().map(|a| a.detail.len()).sum();

    db.close().await;
    drop(scratch);

    println!(
        "run: {} agents, {scored} evaluations, {} component values read, {} history rows, {} leads; {cancelled} agents' pay cancelled by a severe; mean overall {mean_overall:.2}; levels {levels:?}",
        agent_rows.len(),
        inputs.components.len(),
        history.len(),
        lead_rows.len(),
    );
    println!(
        "recompute {MONTH} ({backend}): median {median:.3} s of {RUNS} (min {min:.3} s, max {max:.3} s) against the goal of {GOAL_S} s = {:.2}x the goal; peak RSS {peak_rss_mb:.1} MB",
        median / GOAL_S
    );
    println!(
        "timed on their own (median of {RUNS}): month_inputs {inputs_s:.3} s ({} evaluations), overall_of_months ({} months) {history_s:.3} s, insert_run {write_s:.3} s ({} agent rows, {:.1} MB of detail JSON); the rest of recompute's median (configuration, rules, rows) ~{rest_s:.3} s",
        inputs.evaluations.len(),
        earlier.len(),
        agent_rows.len(),
        detail_bytes as f64 / 1e6,
    );
    println!(
        "{}",
        json!({
            "bench": "scoring",
            "backend": backend,
            "month": MONTH,
            "agents": agents,
            "evaluations": expected,
            "evaluations_per_agent": evaluations_per_agent,
            "components": components,
            "component_values": inputs.components.len(),
            "recompute_s": round3(median),
            "recompute_min_s": round3(min),
            "recompute_max_s": round3(max),
            "recompute_runs_s": times.iter().map(|&s| round3(s)).collect::<Vec<_>>(),
            "month_inputs_s": round3(inputs_s),
            "month_inputs_runs_s": inputs_t.iter().map(|&s| round3(s)).collect::<Vec<_>>(),
            "overall_of_months_s": round3(history_s),
            "insert_run_s": round3(write_s),
            "insert_run_runs_s": write_t.iter().map(|&s| round3(s)).collect::<Vec<_>>(),
            "rest_s": round3(rest_s),
            "peak_rss_mb": round3(peak_rss_mb),
            "setup_s": round3(setup_s),
            "seed_s": round3(seed_s),
            "months_in_database": months.len(),
            "earlier_months_s": earlier_s.iter().map(|&s| round3(s)).collect::<Vec<_>>(),
            "goal_s": GOAL_S,
            "recompute_to_goal": round3(median / GOAL_S),
        })
    );
    Ok(())
}

/// domain.md's seven components and an eighth, imported as a raw percentage that a rule
/// turns into points (full marks at 100 %, none at 85 % or below).
fn config_with_punctuality() -> ScoringConfig {
    let mut cfg = ScoringConfig::default();
    cfg.components.push(ComponentDef {
        code: "punctuality".into(),
        name_en: "Punctuality".into(),
        name_zh: "出勤守时".into(),
        max_points: 8.0,
        rule: Some(LinearRule {
            lower: 85.0,
            upper: 100.0,
        }),
        cap: None,
    });
    cfg
}

struct People {
    /// Agents have the ids `agent_base .. agent_base + agents`.
    agent_base: i64,
    agents: i64,
    leads: usize,
    inspector: i64,
    supervisor: i64,
}

/// Teams of 50 agents with a lead each, one inspector who graded everything, one
/// supervisor who publishes and configures.
async fn seed_people(db: &Db, agents: usize) -> anyhow::Result<People> {
    let mut csv = String::from("username,name,role,team,hire_date,password\n");
    for i in 0..agents {
        csv.push_str(&format!(
            "agent-{i:04},Agent {i},agent,team-{:02},2024-03-01,\n",
            i / TEAM_SIZE
        ));
    }
    let leads = agents.div_ceil(TEAM_SIZE);
    for t in 0..leads {
        csv.push_str(&format!(
            "lead-{t:02},Lead {t},team_lead,team-{t:02},2023-01-01,\n"
        ));
    }
    csv.push_str("inspector,Inspector,inspector,,2023-01-01,\n");
    csv.push_str("supervisor,Supervisor,supervisor,,2022-01-01,\n");
    let lo = crate::import_roster(db, &csv, agents).await?;
    let id_of = |role: &'static str| async move {
        sqlx::query("SELECT id FROM users WHERE role = $1")
            .bind(role)
            .fetch_one(&db.pool)
            .await?
            .try_get::<i64, _>(0)
    };
    Ok(People {
        agent_base: lo,
        agents: agents as i64,
        leads,
        inspector: id_of("inspector").await?,
        supervisor: id_of("supervisor").await?,
    })
}

/// One month of a center: `per_agent` calls per agent spread over the month's office hours,
/// each pulled by the inspector and graded (submitted), the month published, every
/// component imported, a few commendations.
async fn seed_month(
    db: &Db,
    people: &People,
    month: Month,
    rubric_id: i64,
    per_agent: usize,
    cfg: &ScoringConfig,
) -> anyhow::Result<()> {
    let (start, end) = month.range_ms(TZ);
    let days = (end - start) / DAY_MS;
    let total = people.agents * per_agent as i64;
    let per = per_agent as i64;
    let (agents, base, inspector, supervisor) = (
        people.agents,
        people.agent_base,
        people.inspector,
        people.supervisor,
    );
    let tag = month.to_string().replace('-', "");
    let series = match db.backend {
        Backend::Sqlite => format!(
            "WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n + 1 < {total}) \
             SELECT n FROM s"
        ),
        Backend::Postgres => {
            format!("SELECT n FROM generate_series(0::BIGINT, {total} - 1) AS g(n)")
        }
    };
    let mut tx = db.begin_write().await?;
    // Calls: agent `n % agents`, its `n / agents`-th of the month, evenly over the office
    // hours of the month's days, 30 s to about 15 min long.
    let sql = format!(
        "INSERT INTO recordings (call_id, agent_id, started_at_ms, direction, queue, \
             customer_number, channel_layout, container, codec, sample_rate, channels, frames, \
             duration_ms, damaged, damage_reason, short_call, blob_key, size_bytes, sha256, \
             source, created_at_ms) \
         SELECT 'SC{tag}-' || n, {base} + n % {agents}, started, \
             CASE WHEN h1 % 10 < 7 THEN 'inbound' ELSE 'outbound' END, \
             CASE (h2 / 3) % 4 WHEN 0 THEN 'billing' WHEN 1 THEN 'support' \
                 WHEN 2 THEN 'sales' ELSE 'retention' END, \
             NULL, 'mono', 'wav', 'pcm_mulaw', 8000, 1, duration * 8, duration, 0, NULL, 0, \
             'bench/none', duration * 8 + 58, '0', 'bench', started + duration + 60000 \
         FROM (SELECT n, h1, h2, \
                 {start} + ((n / {agents}) * {days} / {per}) * {DAY_MS} + {OFFICE_START_MS} \
                     + ((n / {agents}) * {days} % {per}) * {OFFICE_SPAN_MS} / {per} \
                     + h1 % 600000 AS started, \
                 30000 + (h2 / 7) % 870000 AS duration \
               FROM (SELECT n, (n * 2654435761 + 97) % 4294967291 AS h1, \
                         (n * 2246822519 + 13) % 4294967291 AS h2 \
                     FROM ({series}) AS s) AS hashed) AS calls"
    );
    sqlx::query(AssertSqlSafe(sql))
        .execute(&mut *tx)
        .await
        .with_context(|| format!("generating the calls of {month}"))?;
    // Each pulled into the inspector's queue and done within the hour after the call.
    let sql = format!(
        "INSERT INTO assignments (recording_id, agent_id, kind, grader_id, reason, complaint, \
             created_by, created_at_ms, due_at_ms, completed_at_ms) \
         SELECT id, agent_id, 'pull', {inspector}, 'bench', 0, {supervisor}, created_at_ms, \
             created_at_ms + 2 * {DAY_MS}, created_at_ms + {HOUR_MS} \
         FROM recordings WHERE started_at_ms >= {start} AND started_at_ms < {end} ORDER BY id"
    );
    sqlx::query(AssertSqlSafe(sql))
        .execute(&mut *tx)
        .await
        .with_context(|| format!("queueing the calls of {month}"))?;
    // And graded: each agent has a level of their own (74 to 92), each call a triangular
    // spread of ±11 around it, kept within 60-100; one call in 2000 is severe (40-59).
    let sql = format!(
        "INSERT INTO evaluations (assignment_id, recording_id, agent_id, grader_id, rubric_id, \
             status, form, score, grade, computed_grade, revision, created_at_ms, \
             updated_at_ms, submitted_at_ms) \
         SELECT id, recording_id, agent_id, grader_id, {rubric_id}, 'submitted', \
             '{{\"deductions\":[]}}', score, grade, grade, 1, done - 600000, done, done \
         FROM (SELECT id, recording_id, agent_id, grader_id, done, score, \
                 CASE WHEN score >= 90 THEN 'excellent' WHEN score >= 80 THEN 'good' \
                     WHEN score >= 70 THEN 'fair' WHEN score >= 60 THEN 'poor' \
                     ELSE 'severe' END AS grade \
               FROM (SELECT id, recording_id, agent_id, grader_id, done, \
                       CASE WHEN h % 2000 = 0 THEN 40 + (h / 2000) % 20 \
                           WHEN raw > 100 THEN 100 WHEN raw < 60 THEN 60 ELSE raw END AS score \
                     FROM (SELECT a.id, a.recording_id, a.agent_id, a.grader_id, \
                             a.completed_at_ms AS done, h, \
                             74 + ((a.agent_id * 2246822519 + 13) % 4294967291) % 19 \
                                 + (h / 7) % 12 + (h / 101) % 12 - 11 AS raw \
                           FROM (SELECT a.*, (a.recording_id * 2654435761 + 97) % 4294967291 AS h \
                                 FROM assignments a JOIN recordings r ON r.id = a.recording_id \
                                 WHERE r.started_at_ms >= {start} AND r.started_at_ms < {end}) \
                               AS a) AS spread) AS scored) AS graded ORDER BY id"
    );
    sqlx::query(AssertSqlSafe(sql))
        .execute(&mut *tx)
        .await
        .with_context(|| format!("grading the calls of {month}"))?;

    // Published three days after the month, for every agent.
    let published = end + 3 * DAY_MS;
    let policy = serde_json::to_string(&Policy::default())?;
    let month_text = month.to_string();
    insert_publication(
        &mut tx,
        &NewPublication {
            month: &month_text,
            range_ms: (start, end),
            teams: None,
            team_ids: None,
            by: supervisor,
            now_ms: published,
            appeal_closes_at_ms: published + 2 * DAY_MS,
            acknowledge_due_at_ms: published + 7 * DAY_MS,
            policy: &policy,
        },
    )
    .await?
    .context("nobody to publish")?;

    // Every component of every agent, imported the day before publication: 60-100 % of
    // the component's full marks (punctuality: 80-100 %, through its rule).
    let imported = published - DAY_MS;
    let mut values = Vec::new();
    for agent in base..base + agents {
        for (c, def) in cfg.components.iter().enumerate() {
            let h = hash(agent * 31 + c as i64 + start / DAY_MS) % 1000;
            let value = match def.rule {
                Some(_) => 80.0 + h as f64 / 50.0,
                None => (def.max_points * (0.6 + 0.4 * h as f64 / 1000.0) * 10.0).round() / 10.0,
            };
            values.push((agent, def.code.as_str(), value));
        }
    }
    for chunk in values.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO component_values (agent_id, month, component, value, imported_by, \
             imported_at_ms) VALUES {}",
            placeholders(chunk.len(), 6)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (agent, code, value) in chunk {
            q = q
                .bind(*agent)
                .bind(month_text.as_str())
                .bind(*code)
                .bind(*value)
                .bind(supervisor)
                .bind(imported);
        }
        q.execute(&mut *tx).await.context("importing components")?;
    }

    // A few commendations: one agent in 37, phone, written or media in turn.
    let praised: Vec<(i64, &str)> = (0..agents)
        .step_by(37)
        .map(|i| {
            (
                base + i,
                ["phone", "written", "media"][(i / 37 % 3) as usize],
            )
        })
        .collect();
    for chunk in praised.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO commendations (agent_id, month, kind, note, created_by, created_at_ms) \
             VALUES {}",
            placeholders(chunk.len(), 6)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (agent, kind) in chunk {
            q = q
                .bind(*agent)
                .bind(month_text.as_str())
                .bind(*kind)
                .bind("a customer called to thank")
                .bind(supervisor)
                .bind(imported);
        }
        q.execute(&mut *tx)
            .await
            .context("recording commendations")?;
    }
    tx.commit().await?;
    Ok(())
}

/// `($1, ..., $cols), (...)` for `rows` rows.
fn placeholders(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The same multiplicative hash the generated rows use.
fn hash(n: i64) -> i64 {
    (n * 2_654_435_761 + 97) % 4_294_967_291
}

/// Published evaluations of the month as `recompute` counts them.
async fn count_evaluations(db: &Db, month: Month) -> anyhow::Result<i64> {
    let (start, end) = month.range_ms(TZ);
    Ok(sqlx::query(
        "SELECT COUNT(*) FROM evaluations e JOIN recordings r ON r.id = e.recording_id \
         WHERE e.status = 'submitted' AND r.started_at_ms >= $1 AND r.started_at_ms < $2",
    )
    .bind(start)
    .bind(end)
    .fetch_one(&db.pool)
    .await?
    .try_get(0)?)
}

/// Statistics, as a live database would have them, and (SQLite) the write-ahead log folded
/// back into the database file after the bulk inserts.
async fn analyze(db: &Db) -> anyhow::Result<()> {
    let sql = match db.backend {
        Backend::Sqlite => "PRAGMA wal_checkpoint(TRUNCATE); ANALYZE",
        // VACUUM also sets the visibility map, which index-only scans need (autovacuum would
        // do it on a live server).
        Backend::Postgres => "VACUUM ANALYZE",
    };
    sqlx::raw_sql(sql).execute(&db.pool).await?;
    Ok(())
}

/// "1.2, 3.4" with `decimals` decimals.
fn seconds_list(values: &[f64], decimals: usize) -> String {
    let items: Vec<String> = values.iter().map(|v| format!("{v:.decimals$}")).collect();
    items.join(", ")
}

/// The middle value (of an odd count; the upper middle of an even one).
fn median_of(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}
