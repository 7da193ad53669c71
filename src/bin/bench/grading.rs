//! `bench grading`: evaluations submitted over HTTP on loopback by concurrent graders, each
//! with its own session, against a server in this process. Every submission goes the whole
//! way: session, access, rubric, listening check, score and grade, one write transaction
//! (evaluation, assignment done, a flag for poor calls) and the answer.
//!
//! The evaluations to submit are prepared beforehand as the product would leave them:
//! pulled calls in the graders' queues, drafts opened, the whole call listened to.

use std::time::Instant;

use anyhow::Context;
use callgrade::app::{AppState, serve};
use serde_json::json;
use sqlx::Row;

use crate::round3;

const GOAL_PER_S: f64 = 500.0;
const GOAL_P99_MS: f64 = 20.0;
const AGENTS: usize = 200;
const TEAM_SIZE: usize = 20;
const CALL_MS: i64 = 180_000;

pub async fn run(
    database_url: Option<String>,
    submits: usize,
    clients: usize,
) -> anyhow::Result<()> {
    anyhow::ensure!(submits > 0 && clients > 0, "nothing to measure");
    let (_dir, scratch, state) = crate::fresh_state(database_url).await?;
    let backend = format!("{:?}", state.db.backend).to_lowercase();
    let started = Instant::now();
    let evaluations = prepare(&state, submits, clients).await?;
    let prepare_s = started.elapsed().as_secs_f64();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async {
        let _ = stopped.await;
    }));

    // One client (connection pool, cookie) per grader, logged in before the clock starts.
    let mut sessions = Vec::new();
    for g in 0..clients {
        let client = reqwest::Client::builder().cookie_store(true).build()?;
        let resp = client
            .post(format!("{base}/api/login"))
            .json(&json!({ "username": grader_name(g), "password": PASSWORD }))
            .send()
            .await?;
        anyhow::ensure!(resp.status() == 200, "login {g}: {}", resp.status());
        sessions.push(client);
    }

    let started = Instant::now();
    let per_client: Vec<anyhow::Result<Vec<f64>>> =
        futures::future::join_all(sessions.iter().enumerate().map(|(g, client)| {
            let mine: Vec<i64> = evaluations
                .iter()
                .filter(|(grader, _)| *grader == g)
                .map(|(_, id)| *id)
                .collect();
            let base = base.clone();
            async move {
                let mut latencies = Vec::with_capacity(mine.len());
                for (n, id) in mine.into_iter().enumerate() {
                    let t = Instant::now();
                    let resp = client
                        .post(format!("{base}/api/evaluations/{id}/submit"))
                        .json(&json!({ "form": form(n) }))
                        .send()
                        .await?;
                    let status = resp.status();
                    let body = resp.bytes().await?;
                    latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                    anyhow::ensure!(
                        status == 200,
                        "submit {id}: {status} {}",
                        String::from_utf8_lossy(&body)
                    );
                }
                Ok(latencies)
            }
        }))
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies: Vec<f64> = Vec::new();
    for l in per_client {
        latencies.extend(l?);
    }
    let _ = stop.send(());
    server.await??;
    drop(scratch);

    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    let per_s = latencies.len() as f64 / elapsed;
    let (p50, p99, max) = (pct(0.50), pct(0.99), pct(1.0));
    println!(
        "grading ({backend}): {} evaluations prepared in {prepare_s:.1} s (not measured)",
        latencies.len()
    );
    println!(
        "{} submits by {clients} concurrent graders in {elapsed:.2} s = {per_s:.0} submits/s ({:.2}x the goal of {GOAL_PER_S}); latency p50 {p50:.2} ms, p99 {p99:.2} ms ({:.2}x the goal of {GOAL_P99_MS} ms), max {max:.1} ms",
        latencies.len(),
        per_s / GOAL_PER_S,
        p99 / GOAL_P99_MS
    );
    println!(
        "{}",
        json!({
            "bench": "grading",
            "backend": backend,
            "submits": latencies.len(),
            "clients": clients,
            "elapsed_s": round3(elapsed),
            "submits_per_s": round3(per_s),
            "p50_ms": round3(p50),
            "p99_ms": round3(p99),
            "max_ms": round3(max),
            "goal_submits_per_s": GOAL_PER_S,
            "goal_p99_ms": GOAL_P99_MS,
            "per_s_to_goal": round3(per_s / GOAL_PER_S),
            "p99_to_goal": round3(p99 / GOAL_P99_MS),
        })
    );
    Ok(())
}

const PASSWORD: &str = "bench-password-1";

fn grader_name(g: usize) -> String {
    format!("inspector-{g:03}")
}

/// What a grader submits: one to three deductions with their times; every tenth call is
/// poor (four impatient moments), which also writes a flag for the team lead.
pub fn form(n: usize) -> serde_json::Value {
    if n % 10 == 9 {
        return json!({ "deductions": [{ "item": "commanding_tone", "occurrences": 4,
            "times_ms": [5_000, 40_000, 90_000, 150_000], "note": "raised voice" }] });
    }
    let mut deductions = vec![json!({ "item": "no_service_phrases", "occurrences": 1,
        "times_ms": [12_000], "note": "no greeting" })];
    if n.is_multiple_of(3) {
        deductions.push(json!({ "item": "no_busy_apology", "occurrences": 1,
            "times_ms": [61_500], "note": "" }));
    }
    json!({ "deductions": deductions, "comment": "整体良好" })
}

/// Staff and agents, one pulled call per evaluation (round-robin over the graders), each
/// draft opened and listened to in full. Returns (grader index, evaluation id).
async fn prepare(
    state: &AppState,
    submits: usize,
    clients: usize,
) -> anyhow::Result<Vec<(usize, i64)>> {
    let mut csv = String::from("username,name,role,team,hire_date,password\n");
    for i in 0..AGENTS {
        csv.push_str(&format!(
            "agent-{i:04},Agent {i},agent,team-{:02},2024-03-01,\n",
            i / TEAM_SIZE
        ));
    }
    for t in 0..AGENTS.div_ceil(TEAM_SIZE) {
        csv.push_str(&format!(
            "lead-{t:02},Lead {t},team_lead,team-{t:02},2023-01-01,\n"
        ));
    }
    for g in 0..clients {
        csv.push_str(&format!(
            "{},Inspector {g},inspector,,2023-01-01,{PASSWORD}\n",
            grader_name(g)
        ));
    }
    csv.push_str("supervisor,Supervisor,supervisor,,2022-01-01,\n");
    let people = callgrade::org::parse_roster(csv.as_bytes())?;
    callgrade::org::import_roster(&state.db, &people).await?;
    let db = &state.db;
    let now = callgrade::store::now_ms();
    let (rubric, _) = callgrade::grading::current_rubric(db, now).await?;
    let id_of = |sql: &'static str| async move {
        let rows = sqlx::query(sql).fetch_all(&db.pool).await?;
        rows.iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<Result<Vec<i64>, _>>()
    };
    let agents = id_of("SELECT id FROM users WHERE role = 'agent' ORDER BY id").await?;
    let graders = id_of("SELECT id FROM users WHERE role = 'inspector' ORDER BY username").await?;
    anyhow::ensure!(graders.len() == clients, "graders missing");

    // Yesterday's calls, one per evaluation, spread over the agents; each pulled into a
    // grader's queue (round-robin), its draft opened and the whole call listened to.
    let day0 = now - 86_400_000;
    let mut tx = db.begin_write().await?;
    for n in 0..submits {
        let call = ListenedCall {
            call_id: format!("GRADE-{n:06}"),
            agent_id: agents[n % agents.len()],
            grader_id: graders[n % clients],
            started_at_ms: day0 + (n as i64) * 1_000,
        };
        queue_listened_call(&mut tx, &call, rubric.id, now).await?;
    }
    tx.commit().await?;

    let rows = sqlx::query(
        "SELECT e.id, g.username FROM evaluations e JOIN users g ON g.id = e.grader_id \
         ORDER BY e.id",
    )
    .fetch_all(&db.pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let username: String = r.try_get("username")?;
        let g = (0..clients)
            .find(|&g| grader_name(g) == username)
            .context("an evaluation of an unknown grader")?;
        out.push((g, r.try_get("id")?));
    }
    anyhow::ensure!(out.len() == submits, "prepared {} of {submits}", out.len());
    Ok(out)
}

/// A call as a grader's pulled assignment leaves it when the grader has listened to it all.
pub struct ListenedCall {
    pub call_id: String,
    pub agent_id: i64,
    pub grader_id: i64,
    pub started_at_ms: i64,
}

/// Inserts a three-minute call (metadata only: no bytes), pulls it into the grader's queue,
/// opens the draft and records the whole call as streamed to and listened by the grader an
/// hour before `now`. Returns the draft's evaluation id.
pub async fn queue_listened_call(
    tx: &mut callgrade::store::Tx,
    call: &ListenedCall,
    rubric_id: i64,
    now: i64,
) -> anyhow::Result<i64> {
    let (started, agent, grader) = (call.started_at_ms, call.agent_id, call.grader_id);
    let recording: i64 = sqlx::query(
        "INSERT INTO recordings (call_id, agent_id, started_at_ms, direction, queue, \
             customer_number, channel_layout, container, codec, sample_rate, channels, \
             frames, duration_ms, damaged, damage_reason, short_call, blob_key, size_bytes, \
             sha256, source, created_at_ms) \
         VALUES ($1, $2, $3, 'inbound', 'billing', NULL, 'mono', 'wav', 'pcm_mulaw', 8000, \
             1, $4, $5, 0, NULL, 0, 'bench/none', 0, '0', 'bench', $6) RETURNING id",
    )
    .bind(&call.call_id)
    .bind(agent)
    .bind(started)
    .bind(CALL_MS * 8)
    .bind(CALL_MS)
    .bind(started + CALL_MS + 60_000)
    .fetch_one(&mut **tx)
    .await
    .context("inserting a call")?
    .try_get(0)?;
    let assignment: i64 = sqlx::query(
        "INSERT INTO assignments (recording_id, agent_id, kind, grader_id, reason, \
             complaint, created_at_ms, due_at_ms) \
         VALUES ($1, $2, 'pull', $3, 'bench', 0, $4, $5) RETURNING id",
    )
    .bind(recording)
    .bind(agent)
    .bind(grader)
    .bind(now)
    .bind(now + 2 * 86_400_000)
    .fetch_one(&mut **tx)
    .await
    .context("queueing a call")?
    .try_get(0)?;
    let evaluation: i64 = sqlx::query(
        "INSERT INTO evaluations (assignment_id, recording_id, agent_id, grader_id, \
             rubric_id, status, form, created_at_ms, updated_at_ms) \
         VALUES ($1, $2, $3, $4, $5, 'draft', '{}', $6, $6) RETURNING id",
    )
    .bind(assignment)
    .bind(recording)
    .bind(agent)
    .bind(grader)
    .bind(rubric_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
    .context("opening a draft")?
    .try_get(0)?;
    sqlx::query(
        "INSERT INTO listen_coverage (recording_id, user_id, intervals, listened_ms, \
             updated_at_ms) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(recording)
    .bind(grader)
    .bind(format!("[[0,{CALL_MS}]]"))
    .bind(CALL_MS)
    .bind(now)
    .execute(&mut **tx)
    .await
    .context("listening")?;
    // What the server credits coverage against: the whole call streamed to the grader
    // an hour before (so the state is the one a real listen leaves).
    sqlx::query(
        "INSERT INTO served_audio (recording_id, user_id, spans, updated_at_ms) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(recording)
    .bind(grader)
    .bind(format!("[[0,{CALL_MS},{}]]", now - 3_600_000))
    .bind(now)
    .execute(&mut **tx)
    .await
    .context("serving the audio")?;
    Ok(evaluation)
}
