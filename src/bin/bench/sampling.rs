//! `bench sampling`: the monthly draw on a full-size center (2000 agents, 1750 calls each,
//! 3.5 million recordings), against the naive per-agent `ORDER BY random()` it replaces, the
//! incremental daily draw of a month in progress, and the process's peak memory.
//!
//! Recordings are metadata only (nothing reads audio), generated inside the database so that
//! seeding takes seconds, not hours; seeding is timed separately and is not part of the
//! figures.

use std::time::Instant;

use anyhow::Context;
use callgrade::domain::month::Month;
use callgrade::store::scratch::ScratchPostgres;
use callgrade::store::{Backend, Db};
use chrono::TimeZone;
use chrono_tz::Tz;
use serde_json::json;
use sqlx::{AssertSqlSafe, Row};

use crate::{cpu_s, peak_rss_mb, reset_peak_rss, round3};

const TZ: Tz = chrono_tz::Asia::Shanghai;
const DAY_MS: i64 = 86_400_000;
/// Office hours: calls start between 08:00 and 20:00 local time.
const OFFICE_START_MS: i64 = 8 * 3_600_000;
const OFFICE_SPAN_MS: i64 = 12 * 3_600_000;
const MIN_DURATION_MS: i64 = 30_000;
const TEAM_SIZE: usize = 20;
const INSPECTORS: usize = 20;

/// A day's volume is a thirtieth of a month's.
const DAYS_PER_MONTH: i64 = 30;

const GOAL_DRAW_S: f64 = 2.0;
const GOAL_DAILY_S: f64 = 0.1;
const GOAL_RSS_MB: f64 = 500.0;

pub async fn run(
    database_url: Option<String>,
    agents: usize,
    calls_per_agent: usize,
) -> anyhow::Result<()> {
    anyhow::ensure!(agents > 0 && calls_per_agent > 0, "nothing to measure");
    let dir = tempfile::tempdir()?;
    let scratch = match &database_url {
        Some(url) => Some(ScratchPostgres::create(url, "cg_bench").await?),
        None => None,
    };
    let db = Db::open(scratch.as_ref().map(|s| s.url.as_str()), dir.path()).await?;
    let backend = format!("{:?}", db.backend).to_lowercase();
    let a = agents as i64;
    let mut phase_rss = serde_json::Map::new();

    // A past month, complete: 3.5 million calls.
    let started = Instant::now();
    let people = seed_people(&db, agents).await?;
    let october: Month = "2026-10".parse().map_err(anyhow::Error::msg)?;
    let (month_start, month_end) = october.range_ms(TZ);
    let recordings = a * calls_per_agent as i64;
    let batch = Batch {
        prefix: "OCT",
        day0_ms: month_start,
        days: (month_end - month_start) / DAY_MS,
        total: recordings,
        agents: a,
        agent_base: people.agent_base,
    };
    generate(&db, &batch).await?;
    let generate_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    analyze(&db).await?;
    let analyze_s = started.elapsed().as_secs_f64();
    println!(
        "sampling ({backend}): seeded {agents} agents in {} teams, {INSPECTORS} inspectors, 1 supervisor and {recordings} recordings of {october} in {generate_s:.1} s (+ {analyze_s:.1} s ANALYZE; not measured)",
        agents.div_ceil(TEAM_SIZE)
    );
    phase_rss.insert("seed".into(), json!(round3(take_peak_rss_mb()?)));

    // The naive way: per agent, N random eligible calls of the month.
    let mut naive = Vec::new();
    let mut naive_cpu = Vec::new();
    for n in [10i64, 60] {
        let started = Instant::now();
        let cpu_before = cpu_s()?;
        let mut picked = 0usize;
        for agent in people.agent_base..people.agent_base + a {
            let rows = sqlx::query(
                "SELECT id FROM recordings WHERE agent_id = $1 AND started_at_ms >= $2 \
                 AND started_at_ms < $3 AND duration_ms >= $4 AND damaged = 0 \
                 ORDER BY random() LIMIT $5",
            )
            .bind(agent)
            .bind(month_start)
            .bind(month_end)
            .bind(MIN_DURATION_MS)
            .bind(n)
            .fetch_all(&db.pool)
            .await?;
            picked += rows.len();
        }
        let secs = started.elapsed().as_secs_f64();
        let cpu = cpu_s()? - cpu_before;
        println!(
            "naive N={n}: {agents} agents, {picked} calls picked in {secs:.2} s ({cpu:.2} s of this process's CPU)"
        );
        naive.push(secs);
        naive_cpu.push(cpu);
    }
    let naive_s = naive.iter().sum::<f64>() / naive.len() as f64;
    phase_rss.insert("naive".into(), json!(round3(take_peak_rss_mb()?)));

    // The draw of the whole past month: every week freezes in one run.
    let plans_created = month_start - DAY_MS;
    let plans = callgrade::sampling::create_default_plans(
        &db,
        october,
        TZ,
        people.supervisor,
        plans_created,
    )
    .await?;
    let draw_now = local_ms(2026, 11, 3, 12);
    let mut draws = Vec::new();
    let mut draw_cpu = Vec::new();
    for (&plan, n) in plans.iter().zip([10, 60]) {
        let started = Instant::now();
        let cpu_before = cpu_s()?;
        let report = callgrade::sampling::draw(&db, plan, draw_now).await?;
        let secs = started.elapsed().as_secs_f64();
        let cpu = cpu_s()? - cpu_before;
        draw_cpu.push(cpu);
        anyhow::ensure!(
            report.frozen.len() == 4,
            "plan {plan}: expected all 4 weeks to freeze, got {:?}",
            report.frozen
        );
        println!(
            "draw N={n} (plan {plan}): weeks {:?} frozen, {} samples assigned in {secs:.2} s ({cpu:.2} s of this process's CPU)",
            report.frozen, report.assigned
        );
        draws.push((secs, report.assigned));
    }
    let draw_s = draws.iter().map(|d| d.0).fold(0.0, f64::max);
    phase_rss.insert("draw".into(), json!(round3(take_peak_rss_mb()?)));

    // Checked, not measured: a verify re-derives every frozen week.
    let mut verify_s = Vec::new();
    for &plan in &plans {
        let started = Instant::now();
        let report = callgrade::sampling::verify(&db, plan, None).await?;
        verify_s.push(started.elapsed().as_secs_f64());
        anyhow::ensure!(
            report.ok,
            "plan {plan} does not verify: {:?}",
            report.problems
        );
    }
    phase_rss.insert("verify".into(), json!(round3(take_peak_rss_mb()?)));

    // A month in progress: the daily draw that folds one more day into the open week.
    let daily = daily(&db, &people, agents, calls_per_agent).await?;
    phase_rss.insert("daily".into(), json!(round3(take_peak_rss_mb()?)));
    let peak_rss_mb = phase_rss
        .values()
        .filter_map(serde_json::Value::as_f64)
        .fold(0.0, f64::max);

    let total_rows: i64 = sqlx::query("SELECT COUNT(*) FROM recordings")
        .fetch_one(&db.pool)
        .await?
        .try_get(0)?;
    db.close().await;
    drop(scratch);

    println!(
        "naive per plan: N=10 {:.2} s, N=60 {:.2} s (mean {naive_s:.2} s)",
        naive[0], naive[1]
    );
    println!(
        "full draw: N=10 {:.2} s, N=60 {:.2} s; slower {draw_s:.2} s against the goal of {GOAL_DRAW_S} s = {:.2}x the goal, {:.2}x the naive way's time (must be <= 1)",
        draws[0].0,
        draws[1].0,
        draw_s / GOAL_DRAW_S,
        draw_s / naive_s
    );
    println!(
        "daily draw: {} new calls on {}: N=10 {:.3} s, N=60 {:.3} s; slower {:.3} s against the goal of {GOAL_DAILY_S} s = {:.2}x",
        daily.day_calls,
        daily.day,
        daily.times[0],
        daily.times[1],
        daily.slower(),
        daily.slower() / GOAL_DAILY_S
    );
    println!(
        "peak RSS {peak_rss_mb:.1} MB against the goal of {GOAL_RSS_MB} MB = {:.2}x (per phase: {})",
        peak_rss_mb / GOAL_RSS_MB,
        serde_json::Value::Object(phase_rss.clone())
    );
    println!(
        "verify (not measured): N=10 {:.2} s, N=60 {:.2} s; {total_rows} recordings in the database at the end",
        verify_s[0], verify_s[1]
    );

    let out = json!({
        "bench": "sampling",
        "backend": backend,
        "recordings": recordings,
        "agents": agents,
        "calls_per_agent": calls_per_agent,
        "draw_s": round3(draw_s),
        "naive_s": round3(naive_s),
        "daily_s": round3(daily.slower()),
        "peak_rss_mb": round3(peak_rss_mb),
        "draw_n10_s": round3(draws[0].0),
        "draw_n60_s": round3(draws[1].0),
        "assigned_n10": draws[0].1,
        "assigned_n60": draws[1].1,
        "naive_n10_s": round3(naive[0]),
        "naive_n60_s": round3(naive[1]),
        // With SQLite, the database's work too; with PostgreSQL, only the client's.
        "process_cpu_s": {
            "naive_n10": round3(naive_cpu[0]),
            "naive_n60": round3(naive_cpu[1]),
            "draw_n10": round3(draw_cpu[0]),
            "draw_n60": round3(draw_cpu[1]),
        },
        "daily_n10_s": round3(daily.times[0]),
        "daily_n60_s": round3(daily.times[1]),
        "daily_new_calls": daily.day_calls,
        "daily_preloaded_calls": daily.preloaded,
        "daily_first_draw_s": daily.first_draw_s.iter().map(|&s| round3(s)).collect::<Vec<_>>(),
        "verify_s": verify_s.iter().map(|&s| round3(s)).collect::<Vec<_>>(),
        "peak_rss_mb_by_phase": phase_rss,
        "generate_s": round3(generate_s),
        "analyze_s": round3(analyze_s),
        "total_recordings_at_end": total_rows,
        "goal_draw_s": GOAL_DRAW_S,
        "goal_daily_s": GOAL_DAILY_S,
        "goal_rss_mb": GOAL_RSS_MB,
        "draw_to_goal": round3(draw_s / GOAL_DRAW_S),
        "draw_to_naive": round3(draw_s / naive_s),
        "daily_to_goal": round3(daily.slower() / GOAL_DAILY_S),
        "rss_to_goal": round3(peak_rss_mb / GOAL_RSS_MB),
    });
    println!("{out}");
    Ok(())
}

struct Daily {
    day: &'static str,
    day_calls: i64,
    preloaded: i64,
    first_draw_s: Vec<f64>,
    times: Vec<f64>,
}

impl Daily {
    fn slower(&self) -> f64 {
        self.times.iter().copied().fold(0.0, f64::max)
    }
}

/// November in progress: the month's calls up to the 16th are in and drawn (weeks 1 and 2
/// frozen, week 3 provisional) at midnight; then the 17th's calls arrive (a day's volume,
/// a thirtieth of the month's), and the draw at the end of that day is timed. It reads only
/// what arrived since the previous run.
async fn daily(
    db: &Db,
    people: &People,
    agents: usize,
    calls_per_agent: usize,
) -> anyhow::Result<Daily> {
    let november: Month = "2026-11".parse().map_err(anyhow::Error::msg)?;
    let (month_start, _) = november.range_ms(TZ);
    let a = agents as i64;
    let per_month = a * calls_per_agent as i64;
    let days_before = 16;
    let preloaded = per_month * days_before / DAYS_PER_MONTH;
    let started = Instant::now();
    generate(
        db,
        &Batch {
            prefix: "NOV",
            day0_ms: month_start,
            days: days_before,
            total: preloaded,
            agents: a,
            agent_base: people.agent_base,
        },
    )
    .await?;
    analyze(db).await?;
    let plans = callgrade::sampling::create_default_plans(
        db,
        november,
        TZ,
        people.supervisor,
        month_start - DAY_MS,
    )
    .await?;
    let midnight = local_ms(2026, 11, 17, 0);
    let mut first_draw_s = Vec::new();
    for &plan in &plans {
        let t = Instant::now();
        let report = callgrade::sampling::draw(db, plan, midnight).await?;
        first_draw_s.push(t.elapsed().as_secs_f64());
        anyhow::ensure!(
            report.frozen == [0, 1],
            "plan {plan}: expected weeks 1 and 2 to freeze on the 17th, got {:?}",
            report.frozen
        );
    }
    let day_calls = per_month / DAYS_PER_MONTH;
    generate(
        db,
        &Batch {
            prefix: "NOV17",
            day0_ms: midnight,
            days: 1,
            total: day_calls,
            agents: a,
            agent_base: people.agent_base,
        },
    )
    .await?;
    // The day's calls arrive in many small commits on a live server; after one big insert,
    // write them out as the databases' own checkpoints would have during the day.
    checkpoint(db).await?;
    println!(
        "daily: {preloaded} calls of November 1-16 drawn at midnight (weeks 1-2 frozen) in {:.1} s + {:.1} s; {day_calls} calls of the 17th added in {:.1} s in all (not measured)",
        first_draw_s[0],
        first_draw_s[1],
        started.elapsed().as_secs_f64()
    );
    let end_of_day = local_ms(2026, 11, 18, 0);
    let mut times = Vec::new();
    for (&plan, n) in plans.iter().zip([10, 60]) {
        let t = Instant::now();
        let report = callgrade::sampling::draw(db, plan, end_of_day).await?;
        let secs = t.elapsed().as_secs_f64();
        anyhow::ensure!(
            report.frozen.is_empty(),
            "nothing should freeze on the 18th"
        );
        println!(
            "daily draw N={n} (plan {plan}): {} provisional picks after merging the 17th in {secs:.3} s",
            report.provisional
        );
        times.push(secs);
    }
    Ok(Daily {
        day: "2026-11-17",
        day_calls,
        preloaded,
        first_draw_s,
        times,
    })
}

struct People {
    /// Agents have the ids `agent_base .. agent_base + agents`.
    agent_base: i64,
    supervisor: i64,
}

/// 100 teams of 20 agents with a lead each, the inspectors and one supervisor. One agent in
/// twenty was hired last month (a focus agent of the default plans).
async fn seed_people(db: &Db, agents: usize) -> anyhow::Result<People> {
    let mut csv = String::from("username,name,role,team,hire_date,password\n");
    for i in 0..agents {
        let hired = if i % TEAM_SIZE == 7 {
            "2026-09-14"
        } else {
            "2024-03-01"
        };
        csv.push_str(&format!(
            "agent-{i:04},Agent {i},agent,team-{:03},{hired},\n",
            i / TEAM_SIZE
        ));
    }
    for t in 0..agents.div_ceil(TEAM_SIZE) {
        csv.push_str(&format!(
            "lead-{t:03},Lead {t},team_lead,team-{t:03},2023-01-01,\n"
        ));
    }
    for i in 0..INSPECTORS {
        csv.push_str(&format!(
            "inspector-{i:02},Inspector {i},inspector,,2023-01-01,\n"
        ));
    }
    csv.push_str("supervisor,Supervisor,supervisor,,2022-01-01,\n");
    let lo = crate::import_roster(db, &csv, agents).await?;
    let supervisor: i64 = sqlx::query("SELECT id FROM users WHERE role = 'supervisor'")
        .fetch_one(&db.pool)
        .await?
        .try_get(0)?;
    Ok(People {
        agent_base: lo,
        supervisor,
    })
}

/// Recordings `n` in `0..total`: agent `n % agents`, its `n / agents`-th call, spread evenly
/// over the office hours of `days` days from `day0_ms` (so row order is roughly time order,
/// as with real arrivals).
struct Batch {
    prefix: &'static str,
    day0_ms: i64,
    days: i64,
    total: i64,
    agents: i64,
    agent_base: i64,
}

fn chunks(total: i64, size: i64) -> impl Iterator<Item = (i64, i64)> {
    (0..(total + size - 1) / size).map(move |i| (i * size, ((i + 1) * size).min(total)))
}

/// Inserts rows `lo..hi` of the batch with one `INSERT ... SELECT` over a generated series.
/// All arithmetic stays well inside 64-bit integers (SQLite would turn an overflow into a
/// float), and the pseudo-random fields come from multiplicative hashes of `n`, so that both
/// backends generate the very same rows.
async fn generate(db: &Db, b: &Batch) -> anyhow::Result<()> {
    for (lo, hi) in chunks(b.total, 250_000) {
        generate_rows(db, b, lo, hi).await?;
    }
    Ok(())
}

async fn generate_rows(db: &Db, b: &Batch, lo: i64, hi: i64) -> anyhow::Result<()> {
    let series = match db.backend {
        Backend::Sqlite => format!(
            "WITH RECURSIVE s(n) AS (SELECT {lo} UNION ALL SELECT n + 1 FROM s WHERE n + 1 < {hi}) \
             SELECT n FROM s"
        ),
        Backend::Postgres => {
            format!("SELECT n FROM generate_series({lo}::BIGINT, {hi} - 1) AS g(n)")
        }
    };
    let per_agent = (b.total + b.agents - 1) / b.agents;
    let (prefix, agents, base, days, day0) = (b.prefix, b.agents, b.agent_base, b.days, b.day0_ms);
    let sql = format!(
        "INSERT INTO recordings (call_id, agent_id, started_at_ms, direction, queue, \
             customer_number, channel_layout, container, codec, sample_rate, channels, frames, \
             duration_ms, damaged, damage_reason, short_call, blob_key, size_bytes, sha256, \
             source, created_at_ms) \
         SELECT '{prefix}-' || n, {base} + n % {agents}, started, \
             CASE WHEN (h3 / 1100) % 10 < 7 THEN 'inbound' ELSE 'outbound' END, \
             CASE (h4 / 3) % 4 WHEN 0 THEN 'billing' WHEN 1 THEN 'support' \
                 WHEN 2 THEN 'sales' ELSE 'retention' END, \
             '139' || (10000000 + h2 % 90000000), 'mono', 'wav', 'pcm_mulaw', 8000, 1, \
             duration * 8, duration, damaged, \
             CASE WHEN damaged = 1 THEN 'file ends early' ELSE NULL END, 0, \
             'bench/fixture.wav', duration * 8 + 58, \
             'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'bench', \
             started + duration + 60000 + (h4 / 13) % 240000 \
         FROM (SELECT n, h2, h3, h4, \
                 {day0} + ((n / {agents}) * {days} / {per_agent}) * {DAY_MS} + {OFFICE_START_MS} \
                     + ((n / {agents}) * {days} % {per_agent}) * {OFFICE_SPAN_MS} / {per_agent} \
                     + h1 % 600000 AS started, \
                 10000 + ((h2 / 7) % 1000) * ((h2 / 7) % 1000) * 890 / 1000 AS duration, \
                 CASE WHEN (h3 / 11) % 100 = 0 THEN 1 ELSE 0 END AS damaged \
               FROM (SELECT n, \
                       (n * 2654435761 + 97) % 4294967291 AS h1, \
                       (n * 2246822519 + 13) % 4294967291 AS h2, \
                       (n * 3266489917 + 7) % 4294967291 AS h3, \
                       (n * 668265263 + 1) % 4294967291 AS h4 \
                     FROM ({series}) AS s) AS hashed) AS calls"
    );
    sqlx::query(AssertSqlSafe(sql))
        .execute(&db.pool)
        .await
        .with_context(|| format!("generating {prefix} rows {lo}..{hi}"))?;
    Ok(())
}

async fn analyze(db: &Db) -> anyhow::Result<()> {
    match db.backend {
        Backend::Sqlite => {
            checkpoint(db).await?;
            sqlx::raw_sql("ANALYZE").execute(&db.pool).await?;
        }
        Backend::Postgres => {
            // VACUUM also sets the visibility map, which index-only scans need (autovacuum
            // would do it on a live server). Setting it and the hint bits dirties most of
            // the table's pages, hence the checkpoint after it.
            sqlx::raw_sql("VACUUM ANALYZE recordings")
                .execute(&db.pool)
                .await?;
            checkpoint(db).await?;
        }
    }
    Ok(())
}

/// Writes out what seeding left behind, so that the measured runs do not pay for it.
/// SQLite: copies the write-ahead log into the database file and truncates it (after bulk
/// inserts, reads would otherwise look most pages up in a huge log). PostgreSQL: a
/// checkpoint; otherwise the one that seeding's gigabyte of WAL starts runs during the
/// measured runs, and their readers may find pages still dirty that they must write out
/// before reusing the buffer.
async fn checkpoint(db: &Db) -> anyhow::Result<()> {
    let sql = match db.backend {
        Backend::Sqlite => "PRAGMA wal_checkpoint(TRUNCATE)",
        Backend::Postgres => "CHECKPOINT",
    };
    if let Err(e) = sqlx::raw_sql(sql).execute(&db.pool).await {
        // CHECKPOINT needs a superuser or the pg_checkpoint role: measure without it.
        anyhow::ensure!(db.backend == Backend::Postgres, e);
        println!("note: {sql} failed ({e}); the figures may include seeding's writes");
    }
    Ok(())
}

/// The peak resident set since the previous call (or the start), then starts it afresh.
fn take_peak_rss_mb() -> anyhow::Result<f64> {
    let mb = peak_rss_mb()?;
    reset_peak_rss();
    Ok(mb)
}

fn local_ms(y: i32, m: u32, d: u32, h: u32) -> i64 {
    TZ.with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .map_or(0, |t| t.timestamp_millis())
}
