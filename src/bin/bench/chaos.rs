//! `bench chaos`: the server, in its own process, is killed with SIGKILL at random moments
//! while many clients upload recordings, submit grades, file appeals and decide them. After
//! each restart every write that was acknowledged (a 2xx answer reached its client) must be
//! there, whole and consistent: `chaos_check` says what that means.
//!
//! A write that got no answer is sent again in the next round, as a recorder or a browser
//! would retry it; its retry must then either land or be told that the first attempt did
//! (a conflict), never fail because the first attempt left something half done.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use callgrade::domain::month::Month;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::audio::spawn_server;
use crate::chaos_check::{self, AckedAppeal, AckedDecision, AckedSubmit, AckedUpload, Ledger};
use crate::grading::{ListenedCall, queue_listened_call};
use crate::{Rng, round3};

pub struct Options {
    pub database_url: Option<String>,
    pub rounds: usize,
    pub clients: usize,
    pub seed: u64,
    pub max_uptime_ms: u64,
}

/// A server lives at least this long, so every round has load running when it dies.
const MIN_UPTIME_MS: u64 = 300;

/// How the clients split: half upload; of the rest, most grade, some appeal, a few decide.
struct Cast {
    uploaders: usize,
    graders: usize,
    agents: usize,
    panel: usize,
}

impl Cast {
    fn of(clients: usize) -> Cast {
        let graders = (clients * 3 / 10).max(1);
        let agents = (clients * 3 / 20).max(1);
        let panel = (clients / 20).max(1);
        let uploaders = clients.saturating_sub(graders + agents + panel).max(1);
        Cast {
            uploaders,
            graders,
            agents,
            panel,
        }
    }
}

/// What the clients work through, prepared in the database before the first round.
struct Setup {
    token: String,
    graders: Vec<(String, Vec<i64>)>,
    agents: Vec<(String, Vec<i64>)>,
    panel: Vec<String>,
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    anyhow::ensure!(o.rounds > 0 && o.clients > 0, "nothing to do");
    anyhow::ensure!(
        o.max_uptime_ms >= MIN_UPTIME_MS,
        "--max-uptime-ms is at least {MIN_UPTIME_MS}"
    );
    let dir = tempfile::tempdir()?;
    let data_dir = dir.path().join("server");
    let scratch = match &o.database_url {
        Some(url) => {
            Some(callgrade::store::scratch::ScratchPostgres::create(url, "cg_chaos").await?)
        }
        None => None,
    };
    let url = scratch.as_ref().map(|s| s.url.clone());
    let backend = if url.is_some() { "postgres" } else { "sqlite" };
    let cast = Cast::of(o.clients);
    let started = Instant::now();
    let setup = prepare(&data_dir, url.as_deref(), &cast, o.rounds).await?;
    let prepare_s = started.elapsed().as_secs_f64();
    println!(
        "chaos ({backend}): {} uploaders, {} graders, {} agents appealing, {} panel members; prepared in {prepare_s:.1} s",
        cast.uploaders, cast.graders, cast.agents, cast.panel
    );

    let mut rng = Rng(o.seed);
    let bodies = Arc::new(Bodies::new());
    let mut uploaders: Vec<Uploader> = (0..cast.uploaders)
        .map(|index| Uploader {
            index,
            next: 0,
            tried: false,
        })
        .collect();
    let mut graders: Vec<Worker> = setup
        .graders
        .iter()
        .map(|(s, items)| Worker::new(s, items))
        .collect();
    let mut agents: Vec<Worker> = setup
        .agents
        .iter()
        .map(|(s, items)| Worker::new(s, items))
        .collect();
    let open_appeals: Arc<Mutex<Vec<OpenAppeal>>> = Arc::default();
    let mut ledger = Ledger::default();
    let mut tally = Tally::default();
    let mut findings = chaos_check::Findings::default();
    let mut uptimes = Vec::new();
    let mut check_s = 0.0;
    let mut checker = chaos_check::Checker::default();
    // Calls of an hour ago: this month, which is open (last month is published and shut).
    let started_at = Arc::new((chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339());
    let run_started = Instant::now();

    for round in 0..=o.rounds {
        let (mut child, base) = spawn_server(&data_dir, url.as_deref(), None)?;
        // The restart has recovered whatever the kill left: everything acknowledged so far
        // must be there.
        let t = Instant::now();
        let found = checker.verify(&data_dir, url.as_deref(), &ledger).await?;
        check_s += t.elapsed().as_secs_f64();
        if !found.is_clean() {
            println!("after round {round}: {}", found.summary());
        }
        findings.merge(found);
        if round == o.rounds {
            break;
        }

        let (stop_tx, stop) = watch::channel(false);
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(o.clients)
            .build()?;
        let mut tasks = Vec::new();
        for u in std::mem::take(&mut uploaders) {
            let (client, base, token) = (client.clone(), base.clone(), setup.token.clone());
            let (bodies, started_at) = (bodies.clone(), started_at.clone());
            tasks.push(tokio::spawn(async move {
                Job::Upload(u.run(&client, &base, &token, &bodies, &started_at).await)
            }));
        }
        for (g, w) in std::mem::take(&mut graders).into_iter().enumerate() {
            let (client, base, stop) = (client.clone(), base.clone(), stop.clone());
            let seed = o.seed ^ ((round as u64) << 32) ^ g as u64;
            tasks.push(tokio::spawn(async move {
                Job::Submit(w.submit_all(&client, &base, stop, seed).await)
            }));
        }
        for (a, w) in std::mem::take(&mut agents).into_iter().enumerate() {
            let (client, base, stop) = (client.clone(), base.clone(), stop.clone());
            let open = open_appeals.clone();
            let seed = o.seed ^ ((round as u64) << 32) ^ (1 << 20) ^ a as u64;
            tasks.push(tokio::spawn(async move {
                Job::Appeal(w.appeal_all(&client, &base, stop, open, seed).await)
            }));
        }
        for (p, session) in setup.panel.iter().enumerate() {
            let (client, base, stop) = (client.clone(), base.clone(), stop.clone());
            let (open, session) = (open_appeals.clone(), session.clone());
            let seed = o.seed ^ ((round as u64) << 32) ^ (2 << 20) ^ p as u64;
            tasks.push(tokio::spawn(async move {
                Job::Decide(decide_all(&client, &base, &session, stop, open, seed).await)
            }));
        }

        let uptime = MIN_UPTIME_MS + rng.next_u64() % (o.max_uptime_ms - MIN_UPTIME_MS + 1);
        uptimes.push(uptime);
        tokio::time::sleep(Duration::from_millis(uptime)).await;
        child.0.kill().context("killing the server")?;
        child.0.wait()?;
        let _ = stop_tx.send(true);
        for task in tasks {
            match task.await? {
                Job::Upload((u, out)) => {
                    uploaders.push(u);
                    out.into_ledger(&mut ledger, &mut tally);
                }
                Job::Submit((w, out)) | Job::Appeal((w, out)) => {
                    if w.kind == WorkerKind::Grader {
                        graders.push(w);
                    } else {
                        agents.push(w);
                    }
                    out.into_ledger(&mut ledger, &mut tally);
                }
                Job::Decide(out) => out.into_ledger(&mut ledger, &mut tally),
            }
        }
        uploaders.sort_by_key(|u| u.index);
    }
    let total_s = run_started.elapsed().as_secs_f64();
    drop(scratch);

    let unexpected: u64 = tally
        .answers
        .iter()
        .filter(|(k, _)| k.ends_with("unexpected"))
        .map(|(_, n)| n)
        .sum();
    let server_errors: u64 = tally
        .answers
        .iter()
        .filter(|(k, _)| k.contains(" 5"))
        .map(|(_, n)| n)
        .sum();
    let unanswered: u64 = tally
        .answers
        .iter()
        .filter(|(k, _)| k.ends_with("no answer"))
        .map(|(_, n)| n)
        .sum();
    let mean_uptime = uptimes.iter().sum::<u64>() as f64 / uptimes.len().max(1) as f64;
    println!(
        "{} rounds, each server killed after {:.0} ms on average ({}..{} ms), {total_s:.1} s in all ({check_s:.1} s checking)",
        o.rounds, mean_uptime, MIN_UPTIME_MS, o.max_uptime_ms
    );
    println!(
        "acknowledged: {} uploads, {} submits, {} appeals, {} decisions; {unanswered} requests cut off by a kill and retried",
        ledger.uploads.len(),
        ledger.submits.len(),
        ledger.appeals.len(),
        ledger.decisions.len()
    );
    for (k, n) in &tally.answers {
        println!("  {k:<32} {n}");
    }
    for u in &tally.unexpected {
        println!("  unexpected: {u}");
    }
    println!(
        "lost acknowledged writes: {}; inconsistent: {}; integrity check: {}; unexpected answers: {unexpected}",
        findings.lost.len(),
        findings.inconsistent.len(),
        findings.integrity_text()
    );
    for line in findings.lost.iter().chain(&findings.inconsistent).take(20) {
        println!("  {line}");
    }
    let ok = findings.is_clean() && unexpected == 0 && server_errors == 0;
    println!(
        "{}",
        json!({
            "bench": "chaos",
            "backend": backend,
            "rounds": o.rounds,
            "clients": o.clients,
            "seed": o.seed,
            "mean_uptime_ms": round3(mean_uptime),
            "total_s": round3(total_s),
            "check_s": round3(check_s),
            "prepare_s": round3(prepare_s),
            "acknowledged": {
                "uploads": ledger.uploads.len(),
                "submits": ledger.submits.len(),
                "appeals": ledger.appeals.len(),
                "decisions": ledger.decisions.len(),
            },
            "unanswered": unanswered,
            "answers": tally.answers,
            "lost": findings.lost.len(),
            "inconsistent": findings.inconsistent.len(),
            "integrity_failures": findings.integrity_failures,
            "integrity_checks": findings.integrity_checks,
            "unexpected": unexpected,
            "server_errors": server_errors,
            "ok": ok,
        })
    );
    anyhow::ensure!(
        ok,
        "acknowledged writes were lost or the data is inconsistent"
    );
    Ok(())
}

/// Staff, agents and a panel; a month published with evaluations to appeal; drafts listened
/// to in full in this month's queues; sessions and a recorder token.
async fn prepare(
    data_dir: &Path,
    url: Option<&str>,
    cast: &Cast,
    rounds: usize,
) -> anyhow::Result<Setup> {
    use sqlx::Row;
    let config =
        callgrade::config::Config::for_data_dir(data_dir.to_path_buf(), url.map(str::to_string));
    let state = callgrade::app::AppState::open(config).await?;
    let db = &state.db;
    let mut csv = String::from("username,name,role,team,hire_date,password\n");
    for a in 0..cast.agents.max(20) {
        csv.push_str(&format!(
            "chaos-agent-{a:04},Agent {a},agent,chaos,2024-03-01,\n"
        ));
    }
    csv.push_str("chaos-lead,Lead,team_lead,chaos,2023-01-01,\n");
    for g in 0..cast.graders {
        csv.push_str(&format!(
            "chaos-grader-{g:03},Inspector {g},inspector,,2023-01-01,\n"
        ));
    }
    for p in 0..cast.panel {
        csv.push_str(&format!(
            "chaos-panel-{p:03},Panel {p},panel,,2023-01-01,\n"
        ));
    }
    csv.push_str("chaos-sup,Supervisor,supervisor,,2022-01-01,\n");
    let people = callgrade::org::parse_roster(csv.as_bytes())?;
    callgrade::org::import_roster(db, &people).await?;
    let ids = |role: &'static str| async move {
        let rows = sqlx::query("SELECT id FROM users WHERE role = $1 ORDER BY username")
            .bind(role)
            .fetch_all(&db.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<Result<Vec<i64>, _>>()
    };
    let agent_ids = ids("agent").await?;
    let grader_ids = ids("inspector").await?;
    let panel_ids = ids("panel").await?;
    let sup = *ids("supervisor").await?.first().context("no supervisor")?;

    let now = callgrade::store::now_ms();
    let tz = state.config.time_zone;
    let this_month = Month::containing(now, tz);
    let (month_start, _) = this_month.range_ms(tz);
    let last_month = this_month.prev();
    let (last_start, last_end) = last_month.range_ms(tz);
    let (rubric_row, rubric) = callgrade::grading::current_rubric(db, now).await?;

    // Every appeal the agents may file: the policy's most per month.
    let mut policy = callgrade::publication::policy(db).await?;
    policy.max_appeals_per_month = 100;
    callgrade::publication::set_policy(db, &policy, sup, now).await?;

    // Last month: graded and published, each appealing agent with evaluations to appeal,
    // about one a second while the server lives.
    let per_agent = (rounds * 3 + 10).min(100);
    let mut tx = db.begin_write().await?;
    let mut to_submit = Vec::new();
    for (a, &agent) in agent_ids.iter().take(cast.agents).enumerate() {
        for k in 0..per_agent {
            let n = a * per_agent + k;
            let call = ListenedCall {
                call_id: format!("CHAOS-LAST-{n:06}"),
                agent_id: agent,
                grader_id: grader_ids[n % grader_ids.len()],
                started_at_ms: (last_start + n as i64 * 60_000).min(last_end - 1),
            };
            to_submit.push((
                a,
                queue_listened_call(&mut tx, &call, rubric_row.id, now).await?,
            ));
        }
    }
    tx.commit().await?;
    let mut agents: Vec<(String, Vec<i64>)> = Vec::new();
    for (n, (a, id)) in to_submit.into_iter().enumerate() {
        let e = callgrade::store::grading::get_evaluation(db, id)
            .await?
            .context("a prepared draft vanished")?;
        let form = serde_json::from_value(crate::grading::form(n))?;
        callgrade::grading::submit(db, &state.config, &e, &rubric, &form, None, now)
            .await
            .map_err(|e| match e {
                callgrade::grading::SubmitError::Internal(e) => e,
                _ => anyhow::anyhow!("a prepared call was refused its grade"),
            })?;
        if agents.len() <= a {
            let session = session(db, agent_ids[a]).await?;
            agents.push((session, Vec::new()));
        }
        agents[a].1.push(id);
    }
    callgrade::publication::publish(db, &state.config, last_month, None, sup, now)
        .await?
        .context("last month did not publish")?;

    // This month: each grader's queue of listened drafts, more than a grader submits in
    // the rounds at the pace the clients keep.
    let per_grader = rounds * 12 + 20;
    let span = (now - month_start).max(1);
    let mut tx = db.begin_write().await?;
    let mut graders: Vec<(String, Vec<i64>)> = Vec::new();
    for (g, &grader) in grader_ids.iter().enumerate() {
        let mut drafts = Vec::with_capacity(per_grader);
        for k in 0..per_grader {
            let n = g * per_grader + k;
            let call = ListenedCall {
                call_id: format!("CHAOS-NOW-{n:06}"),
                agent_id: agent_ids[n % agent_ids.len()],
                grader_id: grader,
                started_at_ms: month_start + (n as i64 * 1_000) % span,
            };
            drafts.push(queue_listened_call(&mut tx, &call, rubric_row.id, now).await?);
        }
        graders.push((String::new(), drafts));
    }
    tx.commit().await?;
    for (g, &grader) in grader_ids.iter().enumerate() {
        graders[g].0 = session(db, grader).await?;
    }
    let mut panel = Vec::new();
    for &p in &panel_ids {
        panel.push(session(db, p).await?);
    }
    let token = callgrade::store::tokens::create(db, "chaos").await?;
    state.db.close().await;
    Ok(Setup {
        token,
        graders,
        agents,
        panel,
    })
}

/// A session cookie for a user, made the way login makes one (sessions live in the
/// database, so they outlive every restart).
async fn session(db: &callgrade::store::Db, user: i64) -> anyhow::Result<String> {
    let token = callgrade::store::sessions::create(db, user, 7 * 86_400_000).await?;
    Ok(format!("{}={token}", callgrade::http::auth::SESSION_COOKIE))
}

/// The answers of all rounds by kind and status, and some unexpected ones in full.
#[derive(Default)]
struct Tally {
    answers: BTreeMap<String, u64>,
    unexpected: Vec<String>,
}

/// What one client's round produced.
#[derive(Default)]
struct Outcome {
    acked: Ledger,
    answers: BTreeMap<String, u64>,
    /// The first unexpected answers' bodies, to say what went wrong.
    unexpected: Vec<String>,
}

impl Outcome {
    fn count(&mut self, what: &str, status: Option<u16>, expected: bool) {
        let key = match (status, expected) {
            (None, _) => format!("{what} no answer"),
            (Some(s), true) => format!("{what} {s}"),
            (Some(s), false) => format!("{what} {s} unexpected"),
        };
        *self.answers.entry(key).or_default() += 1;
    }

    fn unexpected(&mut self, what: &str, status: u16, body: &Value) {
        if self.unexpected.len() < 3 {
            self.unexpected.push(format!("{what} {status}: {body}"));
        }
    }

    fn into_ledger(self, ledger: &mut Ledger, tally: &mut Tally) {
        ledger.append(self.acked);
        for u in self.unexpected {
            if tally.unexpected.len() < 10 {
                tally.unexpected.push(u);
            }
        }
        for (k, n) in self.answers {
            *tally.answers.entry(k).or_default() += n;
        }
    }
}

enum Job {
    Upload((Uploader, Outcome)),
    Submit((Worker, Outcome)),
    Appeal((Worker, Outcome)),
    Decide(Outcome),
}

/// The answer to one request: its status and JSON body, or none (the server died first).
async fn send(req: reqwest::RequestBuilder) -> Option<(u16, Value)> {
    let resp = req.send().await.ok()?;
    let status = resp.status().as_u16();
    // A status whose body was cut off is no answer: the client cannot know what it said.
    let body = resp.bytes().await.ok()?;
    Some((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// A busy server's answer: retried, as the client is told to.
fn busy(status: u16) -> bool {
    status == 429 || status == 503
}

/// Recordings to upload: a few lengths, each upload made unique by its number in the first
/// samples (so no two share bytes and a retry sends the same bytes again).
struct Bodies(Vec<Vec<u8>>);

/// Where the samples start in `mulaw_call`'s WAV.
const DATA_OFFSET: usize = 58;

impl Bodies {
    fn new() -> Bodies {
        Bodies(
            [2, 3, 5, 2, 3, 40]
                .iter()
                .map(|&s| crate::mulaw_call(s))
                .collect(),
        )
    }

    fn get(&self, uploader: usize, n: usize) -> Vec<u8> {
        let mut bytes = self.0[n % self.0.len()].clone();
        let stamp = ((uploader as u64) << 32 | n as u64).to_le_bytes();
        bytes[DATA_OFFSET..DATA_OFFSET + 8].copy_from_slice(&stamp);
        bytes
    }
}

/// A recorder pushing calls one after another, as fast as the server takes them.
struct Uploader {
    index: usize,
    next: usize,
    /// The call `next` was sent without an answer: a conflict now means it landed then.
    tried: bool,
}

impl Uploader {
    async fn run(
        mut self,
        client: &reqwest::Client,
        base: &str,
        token: &str,
        bodies: &Bodies,
        started_at: &str,
    ) -> (Uploader, Outcome) {
        let mut out = Outcome::default();
        loop {
            let call_id = format!("CHAOS-UP-{:03}-{:05}", self.index, self.next);
            let bytes = bodies.get(self.index, self.next);
            let acked = AckedUpload {
                call_id: call_id.clone(),
                sha256: hex::encode(Sha256::digest(&bytes)),
                size: bytes.len() as u64,
            };
            let meta = json!({
                "call_id": call_id, "agent": format!("chaos-agent-{:04}", self.next % 20),
                "started_at": started_at, "direction": "inbound", "queue": "q",
            });
            let form = reqwest::multipart::Form::new()
                .text("metadata", meta.to_string())
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(bytes).file_name("call.wav"),
                );
            let req = client
                .post(format!("{base}/api/recordings"))
                .bearer_auth(token)
                .multipart(form);
            let Some((status, body)) = send(req).await else {
                out.count("upload", None, true);
                self.tried = true;
                return (self, out);
            };
            if busy(status) {
                out.count("upload", Some(status), true);
                continue;
            }
            let landed = status == 201 || (status == 409 && self.tried);
            out.count("upload", Some(status), landed);
            if !landed {
                out.unexpected("upload", status, &body);
            }
            if landed {
                out.acked.uploads.push(acked);
            }
            self.next += 1;
            self.tried = false;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum WorkerKind {
    Grader,
    Agent,
}

/// A grader working through their drafts, or an agent through their evaluations to appeal.
struct Worker {
    kind: WorkerKind,
    cookie: String,
    items: Vec<i64>,
    next: usize,
    tried: bool,
}

impl Worker {
    fn new(cookie: &str, items: &[i64]) -> Worker {
        Worker {
            kind: WorkerKind::Grader,
            cookie: cookie.to_string(),
            items: items.to_vec(),
            next: 0,
            tried: false,
        }
    }

    /// Submits drafts with a short pause between them, until the server dies.
    async fn submit_all(
        mut self,
        client: &reqwest::Client,
        base: &str,
        mut stop: watch::Receiver<bool>,
        seed: u64,
    ) -> (Worker, Outcome) {
        let mut out = Outcome::default();
        let mut rng = Rng(seed);
        while let Some(&id) = self.items.get(self.next) {
            let req = client
                .post(format!("{base}/api/evaluations/{id}/submit"))
                .header("cookie", &self.cookie)
                .json(&json!({ "form": crate::grading::form(self.next) }));
            let Some((status, body)) = send(req).await else {
                out.count("submit", None, true);
                self.tried = true;
                return (self, out);
            };
            if !busy(status) {
                let landed = status == 200 || (status == 409 && self.tried);
                out.count("submit", Some(status), landed);
                if !landed {
                    out.unexpected("submit", status, &body);
                }
                if status == 200 {
                    out.acked.submits.push(AckedSubmit {
                        evaluation_id: id,
                        score: body["outcome"]["score"].as_i64(),
                        grade: body["outcome"]["grade"].as_str().map(str::to_string),
                    });
                }
                self.next += 1;
                self.tried = false;
            } else {
                out.count("submit", Some(status), true);
            }
            if pause(&mut stop, 100 + rng.below(200) as u64).await {
                break;
            }
        }
        (self, out)
    }

    /// Appeals evaluations about once a second, until the server dies.
    async fn appeal_all(
        mut self,
        client: &reqwest::Client,
        base: &str,
        mut stop: watch::Receiver<bool>,
        open: Arc<Mutex<Vec<OpenAppeal>>>,
        seed: u64,
    ) -> (Worker, Outcome) {
        self.kind = WorkerKind::Agent;
        let mut out = Outcome::default();
        let mut rng = Rng(seed);
        if pause(&mut stop, rng.below(1000) as u64).await {
            return (self, out);
        }
        while let Some(&id) = self.items.get(self.next) {
            let req = client
                .post(format!("{base}/api/evaluations/{id}/appeals"))
                .header("cookie", &self.cookie)
                .json(
                    &json!({ "reason": "客户先挂断，不是我的问题 / the customer hung up first" }),
                );
            let Some((status, body)) = send(req).await else {
                out.count("appeal", None, true);
                self.tried = true;
                return (self, out);
            };
            if !busy(status) {
                let landed = status == 201 || (status == 409 && self.tried);
                out.count("appeal", Some(status), landed);
                if !landed {
                    out.unexpected("appeal", status, &body);
                }
                if let (201, Some(appeal_id)) = (status, body["id"].as_i64()) {
                    out.acked.appeals.push(AckedAppeal {
                        appeal_id,
                        evaluation_id: id,
                    });
                    if let Ok(mut open) = open.lock() {
                        open.push(OpenAppeal {
                            appeal_id,
                            evaluation_id: id,
                            tried: false,
                        });
                    }
                }
                self.next += 1;
                self.tried = false;
            } else {
                out.count("appeal", Some(status), true);
            }
            if pause(&mut stop, 500 + rng.below(1000) as u64).await {
                break;
            }
        }
        (self, out)
    }
}

/// An acknowledged appeal waiting for the panel; `tried` when a decision was sent without
/// an answer.
#[derive(Clone, Copy)]
struct OpenAppeal {
    appeal_id: i64,
    evaluation_id: i64,
    tried: bool,
}

/// A panel member deciding acknowledged appeals, one every half second or so, after reading
/// the evaluation: upheld, or overturned to another grade, or amended to no deductions.
async fn decide_all(
    client: &reqwest::Client,
    base: &str,
    cookie: &str,
    mut stop: watch::Receiver<bool>,
    open: Arc<Mutex<Vec<OpenAppeal>>>,
    seed: u64,
) -> Outcome {
    let mut out = Outcome::default();
    let mut rng = Rng(seed);
    loop {
        if pause(&mut stop, 200 + rng.below(600) as u64).await {
            return out;
        }
        let picked = open.lock().ok().and_then(|mut o| {
            let n = o.len();
            (n > 0).then(|| o.swap_remove(rng.below(n)))
        });
        let Some(picked) = picked else {
            continue;
        };
        let (appeal_id, tried) = (picked.appeal_id, picked.tried);
        let put_back = |tried: bool| {
            if let Ok(mut o) = open.lock() {
                o.push(OpenAppeal { tried, ..picked });
            }
        };
        let read = client
            .get(format!("{base}/api/evaluations/{}", picked.evaluation_id))
            .header("cookie", cookie);
        let Some((status, evaluation)) = send(read).await else {
            out.count("read evaluation", None, true);
            put_back(tried);
            return out;
        };
        if status != 200 {
            out.count("read evaluation", Some(status), busy(status));
            out.unexpected("read evaluation", status, &evaluation);
            put_back(tried);
            continue;
        }
        let other_grade = match evaluation["outcome"]["grade"].as_str() {
            Some("fair") => "good",
            _ => "fair",
        };
        let (outcome, body) = match appeal_id % 3 {
            0 => (
                "upheld",
                json!({ "outcome": "upheld", "reason": "录音证实了扣分" }),
            ),
            1 => (
                "overturned",
                json!({ "outcome": "overturned", "grade": other_grade, "reason": "re-graded" }),
            ),
            _ => (
                "amended",
                json!({ "outcome": "amended", "deductions": [], "reason": "no deduction stands" }),
            ),
        };
        let req = client
            .post(format!("{base}/api/appeals/{appeal_id}/decision"))
            .header("cookie", cookie)
            .json(&body);
        let Some((status, answer)) = send(req).await else {
            out.count("decision", None, true);
            put_back(true);
            return out;
        };
        if busy(status) {
            out.count("decision", Some(status), true);
            put_back(tried);
            continue;
        }
        let landed = status == 200 || (status == 409 && tried);
        out.count("decision", Some(status), landed);
        if !landed {
            out.unexpected("decision", status, &answer);
        }
        if status == 200 {
            out.acked.decisions.push(AckedDecision {
                appeal_id,
                outcome: outcome.to_string(),
            });
        }
    }
}

/// Waits `ms`, or less if the round ends first; true when it ended.
async fn pause(stop: &mut watch::Receiver<bool>, ms: u64) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(ms)) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}
