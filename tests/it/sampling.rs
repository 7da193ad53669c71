//! Sampling plans: the weekly draw, freezing, late uploads, filters, shortfalls and fills,
//! focus rules, pulls, queues, access, the proof and `sample verify`.
//!
//! Calls are inserted as rows (metadata only) with a chosen arrival time: the draw reads
//! metadata, and the manual clock decides which weeks have closed.

use std::collections::{HashMap, HashSet};

use callgrade::audio::AudioInfo;
use callgrade::clock::Clock;
use callgrade::domain::call::{CallMeta, Direction};
use callgrade::store::recordings::{self, NewRecording};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::cli::callgrade;
use crate::helpers::{TestApp, TestDb, code, get_json};

both_backends!(
    weeks_freeze_at_their_deadline_and_feed_the_queues,
    late_uploads_count_only_before_the_deadline,
    concurrent_draws_write_once,
    filters_decide_eligibility,
    shortfalls_carry_forward_and_are_filled_from_other_weeks,
    agents_without_calls_are_reported_with_zero,
    focus_rules_double_new_hires_and_complained_about_agents,
    plans_draw_independently,
    pulls_go_straight_into_a_queue_and_never_count_as_samples,
    leads_and_agents_see_only_their_part,
    verify_passes_after_publication_and_catches_tampering,
    preview_shows_eligible_calls_and_shortfalls,
    bad_plans_get_clear_errors,
    an_agent_hired_mid_month_joins_from_the_next_week,
    sampled_recordings_are_kept,
);

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Epoch ms of a local (Asia/Shanghai) time like "2026-11-05 14:00".
pub fn at(local: &str) -> i64 {
    chrono::DateTime::parse_from_str(&format!("{local} +0800"), "%Y-%m-%d %H:%M %z")
        .unwrap()
        .timestamp_millis()
}

async fn spawn(db: TestDb, now: &str) -> TestApp {
    let clock = Clock::manual(at(now));
    TestApp::spawn_with(db, |c| {
        c.clock = clock;
        // The tests draw explicitly; the background task should stay out of the way.
        c.draw_interval = None;
    })
    .await
}

#[derive(Clone)]
pub struct Call {
    pub call_id: String,
    pub agent: &'static str,
    pub started_ms: i64,
    pub duration_s: u64,
    pub created_ms: i64,
    pub direction: Direction,
    pub queue: &'static str,
    pub damaged: bool,
}

pub fn call(call_id: impl Into<String>, agent: &'static str, started_ms: i64) -> Call {
    Call {
        call_id: call_id.into(),
        agent,
        started_ms,
        duration_s: 120,
        created_ms: started_ms + 10 * 60_000,
        direction: Direction::Inbound,
        queue: "billing",
        damaged: false,
    }
}

/// `per_day` two-minute calls a day for `agent` from `from` (local date) for `days` days,
/// each arriving ten minutes after it started.
fn daily(agent: &'static str, from: &str, days: i64, per_day: i64) -> Vec<Call> {
    let start = at(&format!("{from} 09:00"));
    (0..days)
        .flat_map(|d| {
            (0..per_day).map(move |i| {
                call(
                    format!("{agent}-{from}-{d}-{i}"),
                    agent,
                    start + d * DAY + i * 20 * 60_000,
                )
            })
        })
        .collect()
}

/// Customer numbers, unique across the test binary.
static NUMBERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub async fn insert(app: &TestApp, calls: &[Call]) -> HashMap<String, i64> {
    let mut ids = HashMap::new();
    let mut agents = HashMap::new();
    let mut tx = app.state.db.begin_write().await.unwrap();
    for c in calls {
        let agent_id = match agents.get(c.agent) {
            Some(id) => *id,
            None => {
                let a = callgrade::store::users::find_agent(&app.state.db, c.agent)
                    .await
                    .unwrap()
                    .unwrap();
                agents.insert(c.agent, a.id);
                a.id
            }
        };
        let meta = CallMeta {
            call_id: c.call_id.clone(),
            agent: c.agent.to_string(),
            started_at_ms: c.started_ms,
            direction: c.direction,
            queue: c.queue.to_string(),
            customer_number: Some(format!(
                "138{:08}",
                NUMBERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            )),
            channel_layout: None,
        };
        let audio = AudioInfo {
            container: "wave".into(),
            codec: "pcm_mulaw".into(),
            sample_rate: 8000,
            channels: 1,
            frames: c.duration_s * 8000,
            duration_ms: c.duration_s * 1000,
            damaged: c.damaged,
            damage_reason: c.damaged.then(|| "truncated".to_string()),
        };
        let id = recordings::insert(
            &mut tx,
            &NewRecording {
                meta: &meta,
                agent_id,
                channel_layout: "mono",
                audio: &audio,
                short_call: c.duration_s < 5,
                blob_key: "none",
                size_bytes: 0,
                sha256: "0",
                source: "test",
                created_at_ms: c.created_ms,
                original_filename: None,
                raw_format: None,
            },
        )
        .await
        .unwrap();
        ids.insert(c.call_id.clone(), id);
    }
    tx.commit().await.unwrap();
    ids
}

pub async fn post(client: &reqwest::Client, url: String, body: Value) -> (StatusCode, Value) {
    let resp = client.post(url).json(&body).send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Creates the two default plans for a month; returns (QA plan id, lead plan id).
pub async fn defaults(app: &TestApp, month: &str) -> (i64, i64) {
    let sup = app.login("sup").await;
    let (status, body) = post(
        &sup,
        app.url("/api/plans/defaults"),
        json!({ "month": month }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let plans = body["plans"].as_array().unwrap();
    assert_eq!(plans[0]["name"], "QA monthly evaluation");
    assert_eq!(plans[0]["per_agent"], 10);
    assert_eq!(plans[0]["graders"], "inspectors");
    assert_eq!(plans[1]["name"], "Team-lead spot-check");
    assert_eq!(plans[1]["per_agent"], 60);
    assert_eq!(plans[1]["graders"], "team_lead");
    (
        plans[0]["id"].as_i64().unwrap(),
        plans[1]["id"].as_i64().unwrap(),
    )
}

async fn draw(app: &TestApp, plan: i64) -> Value {
    let sup = app.login("sup").await;
    let (status, body) = post(&sup, app.url(&format!("/api/plans/{plan}/draw")), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn samples(app: &TestApp, user: &str, plan: i64) -> Vec<Value> {
    let client = app.login(user).await;
    let (status, body) = get_json(&client, &app.url(&format!("/api/plans/{plan}/samples"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["samples"].as_array().unwrap().clone()
}

async fn queue(app: &TestApp, user: &str) -> Vec<Value> {
    let client = app.login(user).await;
    let (status, body) = get_json(&client, &app.url("/api/me/queue")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

fn count(items: &[Value], pred: impl Fn(&Value) -> bool) -> usize {
    items.iter().filter(|v| pred(v)).count()
}

async fn verify(app: &TestApp, plan: i64) -> callgrade::sampling::VerifyReport {
    callgrade::sampling::verify(&app.state.db, plan, None)
        .await
        .unwrap()
}

async fn weeks_freeze_at_their_deadline_and_feed_the_queues(db: TestDb) {
    let app = spawn(db, "2026-11-05 12:00").await;
    // November 2026 in Shanghai: weeks 1-7, 8-14, 15-21, 22-30 (quotas for 10: 3, 2, 2, 3).
    let mut calls = daily("agent-a1", "2026-11-01", 4, 8);
    calls.extend(daily("agent-b1", "2026-11-01", 4, 8));
    insert(&app, &calls).await;
    let (qa, lead) = defaults(&app, "2026-11").await;

    // Week 1 is open: picks are provisional and nobody's work yet.
    let s = samples(&app, "sup", qa).await;
    assert!(s.iter().all(|v| v["provisional"] == true), "{s:?}");
    assert_eq!(count(&s, |v| v["agent"] == "agent-a1"), 3);
    // Shown per agent in key order, with the keys the freeze will give them.
    let shown: Vec<(String, String, i64)> = s
        .iter()
        .map(|v| {
            (
                v["agent"].as_str().unwrap().to_string(),
                v["key"].as_str().unwrap().to_string(),
                v["recording_id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(shown.is_sorted(), "{shown:?}");
    assert!(shown.iter().all(|(_, key, _)| key.len() == 64));
    assert!(queue(&app, "insp").await.is_empty());
    let plan = &draw(&app, qa).await["plan"];
    assert!(
        plan["strata"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["frozen"] == false)
    );
    assert_eq!(
        plan["seed"],
        Value::Null,
        "the seed stays secret until publication"
    );
    assert_eq!(plan["seed_hash"].as_str().unwrap().len(), 64);

    // One second before the deadline (week end + 24 h grace) nothing freezes ...
    app.config.clock.set(at("2026-11-09 00:00") - 1000);
    let body = draw(&app, qa).await;
    assert_eq!(body["report"]["frozen"], json!([]));
    // ... at the deadline week 1 freezes into the inspector's queue.
    app.config.clock.set(at("2026-11-09 00:00"));
    let body = draw(&app, qa).await;
    assert_eq!(body["report"]["frozen"], json!([0]));
    let week1 = &body["plan"]["strata"][0];
    assert_eq!(week1["frozen"], true);
    assert_eq!(week1["eligible_count"], 64);
    let q = queue(&app, "insp").await;
    assert_eq!(count(&q, |v| v["agent"] == "agent-a1"), 3);
    // agent-a2 was hired 2026-10-01: a new hire, twice N, but has no calls this week.
    assert_eq!(count(&q, |v| v["agent"] == "agent-b1"), 3);
    assert!(
        q.iter()
            .all(|v| v["kind"] == "sample" && v["plan_id"] == qa)
    );
    assert!(
        q.iter()
            .all(|v| v["due_at"].as_str().unwrap().starts_with("2026-11-16"))
    );
    // Frozen picks are exactly what was provisional (no calls arrived in between).
    let s = samples(&app, "sup", qa).await;
    assert_eq!(count(&s, |v| v["provisional"] == false), 6);
    let mut frozen: Vec<(String, String, i64)> = s
        .iter()
        .filter(|v| v["provisional"] == false)
        .map(|v| {
            (
                v["agent"].as_str().unwrap().to_string(),
                v["key"].as_str().unwrap().to_string(),
                v["recording_id"].as_i64().unwrap(),
            )
        })
        .collect();
    frozen.sort();
    assert_eq!(frozen, shown);

    // The team-lead plan: 60 per agent, week 1 share 14, to each agent's own lead.
    draw(&app, lead).await;
    let qa_lead = queue(&app, "lead-a").await;
    assert_eq!(qa_lead.len(), 14);
    assert!(qa_lead.iter().all(|v| v["agent"] == "agent-a1"));
    let qb = queue(&app, "lead-b").await;
    assert_eq!(qb.len(), 14);
    assert!(qb.iter().all(|v| v["agent"] == "agent-b1"));

    // Drawing again changes nothing.
    let again = draw(&app, qa).await;
    assert_eq!(again["report"]["assigned"], 0);
    assert_eq!(queue(&app, "insp").await.len(), 6);
    let report = verify(&app, qa).await;
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.samples_checked, 6);

    // Progress: drawn, graded, remaining; behind once the batch is past due.
    let sup = app.login("sup").await;
    let (_, p) = get_json(&sup, &app.url(&format!("/api/plans/{qa}/progress"))).await;
    let a1 = p["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "agent-a1")
        .unwrap();
    assert_eq!(a1["drawn"], 3);
    assert_eq!(a1["remaining"], 3);
    assert_eq!(a1["status"], "on_track");
    assert_eq!(a1["strata"][0]["eligible"], 32);
    assert_eq!(p["graders"][0]["grader"], "insp");
    assert_eq!(p["graders"][0]["drawn"], 6);
    app.config.clock.set(at("2026-11-16 00:00") + 1);
    let (_, p) = get_json(&sup, &app.url(&format!("/api/plans/{qa}/progress"))).await;
    assert_eq!(p["graders"][0]["status"], "behind");
    assert_eq!(p["graders"][0]["overdue"], 6);
}

async fn late_uploads_count_only_before_the_deadline(db: TestDb) {
    let app = spawn(db, "2026-11-03 12:00").await;
    insert(&app, &daily("agent-a1", "2026-11-01", 2, 2)).await;
    let (qa, _) = defaults(&app, "2026-11").await;
    // Two late uploads of week-1 calls: one inside the grace period, one after the deadline.
    let mut inside = call("late-inside", "agent-a1", at("2026-11-06 10:00"));
    inside.created_ms = at("2026-11-08 20:00");
    let mut after = call("late-after", "agent-a1", at("2026-11-06 11:00"));
    after.created_ms = at("2026-11-09 00:00") + 60_000;
    insert(&app, &[inside, after]).await;
    app.config.clock.set(at("2026-11-10 00:00"));
    let body = draw(&app, qa).await;
    assert_eq!(body["plan"]["strata"][0]["eligible_count"], 5);
    let proof = app.login("sup").await;
    let (status, p) = get_json(
        &proof,
        &app.url(&format!("/api/plans/{qa}/proof?agent=agent-a1")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    let eligible: Vec<&str> = p["agents"][0]["eligible"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call_id"].as_str().unwrap())
        .collect();
    assert!(eligible.contains(&"late-inside"));
    assert!(!eligible.contains(&"late-after"));
    // 5 eligible, quota 3: taken 3.
    assert_eq!(p["agents"][0]["weeks"][0]["taken"], 3);
    // A frozen week stays frozen: more late calls change neither it nor the proof.
    let mut later = call("later-still", "agent-a1", at("2026-11-02 10:00"));
    later.created_ms = at("2026-11-10 00:00");
    insert(&app, &[later]).await;
    app.config.clock.advance(HOUR);
    draw(&app, qa).await;
    let report = verify(&app, qa).await;
    assert!(report.ok, "{:?}", report.problems);
}

async fn concurrent_draws_write_once(db: TestDb) {
    // The plan is made before the month, so the racing runs below all find every week due:
    // each opens its write transaction while the others still read.
    let app = spawn(db, "2026-10-30 12:00").await;
    let sup = app.login("sup").await;
    let (status, body) = post(
        &sup,
        app.url("/api/plans"),
        json!({"name": "Trainer check", "month": "2026-11", "per_agent": 5,
               "graders": "inspectors", "population": {"kind": "agents", "agents": ["agent-a1"]},
               "focus": null}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().unwrap();
    insert(&app, &daily("agent-a1", "2026-11-01", 30, 3)).await;
    app.config.clock.set(at("2026-12-02 12:00"));
    let db = app.state.db.clone();
    let now = app.config.clock.now_ms();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { callgrade::sampling::draw(&db, id, now).await })
        })
        .collect();
    let mut froze = 0;
    for r in runs {
        froze += r.await.unwrap().unwrap().frozen.len();
    }
    // One run froze the four weeks; the others found them frozen.
    assert_eq!(froze, 4);
    let q = queue(&app, "insp").await;
    assert_eq!(q.len(), 5);
    assert_eq!(
        q.iter()
            .map(|v| v["recording_id"].as_i64().unwrap())
            .collect::<HashSet<_>>()
            .len(),
        5
    );
    assert!(verify(&app, id).await.ok);
}

async fn filters_decide_eligibility(db: TestDb) {
    let app = spawn(db, "2026-12-05 12:00").await;
    let base = at("2026-11-02 09:00");
    let mut calls = Vec::new();
    for i in 0..40 {
        let mut c = call(format!("f-{i}"), "agent-a1", base + i * HOUR);
        match i % 8 {
            0 => c.duration_s = 20,                 // under the 60 s minimum
            1 => c.duration_s = 900,                // over the 600 s maximum
            2 => c.direction = Direction::Outbound, // wrong direction
            3 => c.queue = "sales",                 // other queue
            4 => c.damaged = true,                  // damaged recording
            5 => c.duration_s = 3,                  // a misdial (short call)
            _ => {}                                 // eligible: i % 8 in {6, 7}
        }
        calls.push(c);
    }
    insert(&app, &calls).await;
    let sup = app.login("sup").await;
    let (status, body) = post(
        &sup,
        app.url("/api/plans"),
        json!({"name": "Billing inbound", "month": "2026-11", "per_agent": 40,
               "graders": "inspectors",
               "population": {"kind": "agents", "agents": ["agent-a1"]},
               "filters": {"min_duration_s": 60, "max_duration_s": 600, "direction": "inbound",
                           "queues": ["billing"], "skip_damaged": true},
               "focus": null}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().unwrap();
    let s = samples(&app, "sup", id).await;
    let picked: HashSet<String> = s
        .iter()
        .map(|v| v["call_id"].as_str().unwrap().to_string())
        .collect();
    let expected: HashSet<String> = (0..40)
        .filter(|i| i % 8 >= 6)
        .map(|i| format!("f-{i}"))
        .collect();
    assert_eq!(picked, expected);
    assert!(verify(&app, id).await.ok);
}

async fn shortfalls_carry_forward_and_are_filled_from_other_weeks(db: TestDb) {
    let app = spawn(db, "2026-12-05 12:00").await;
    // agent-a1: 20 calls in week 1, 1 in week 2, none later. Target 10 = 3 + 2 + 2 + 3.
    let mut calls = daily("agent-a1", "2026-11-02", 5, 4);
    calls.push(call("w2-only", "agent-a1", at("2026-11-09 10:00")));
    insert(&app, &calls).await;
    let sup = app.login("sup").await;
    let (status, body) = post(
        &sup,
        app.url("/api/plans"),
        json!({"name": "Shortfall", "month": "2026-11", "per_agent": 10, "graders": "inspectors",
               "population": {"kind": "agents", "agents": ["agent-a1"]}, "focus": null}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().unwrap();
    let (_, p) = get_json(&sup, &app.url(&format!("/api/plans/{id}/progress"))).await;
    let weeks = &p["agents"][0]["strata"];
    // Week 1: 3 taken; week 2: 1 of 2 (1 carried); week 3: 0 of 2 + 1; week 4: 0 of 3 + 3.
    assert_eq!(weeks[0]["taken"], 3);
    assert_eq!(weeks[1]["taken"], 1);
    assert_eq!(weeks[1]["shortfall"], 1);
    assert_eq!(weeks[2]["carry_in"], 1);
    assert_eq!(weeks[3]["carry_in"], 3);
    assert_eq!(weeks[3]["shortfall"], 3);
    // The 6 still missing after week 4 come from week 1's unpicked calls.
    assert_eq!(weeks[0]["filled"], 6);
    assert_eq!(p["agents"][0]["drawn"], 10);
    assert_eq!(p["agents"][0]["shortfall"], 0);
    let s = samples(&app, "sup", id).await;
    assert_eq!(count(&s, |v| v["kind"] == "fill"), 6);
    assert_eq!(count(&s, |v| v["kind"] == "sample"), 4);
    assert!(s.iter().any(|v| v["call_id"] == "w2-only"));
    let report = verify(&app, id).await;
    assert!(report.ok, "{:?}", report.problems);
}

async fn agents_without_calls_are_reported_with_zero(db: TestDb) {
    let app = spawn(db, "2026-12-05 12:00").await;
    insert(&app, &daily("agent-a1", "2026-11-01", 30, 1)).await;
    let (qa, _) = defaults(&app, "2026-11").await;
    let sup = app.login("sup").await;
    let (_, p) = get_json(&sup, &app.url(&format!("/api/plans/{qa}/progress"))).await;
    let agents = p["agents"].as_array().unwrap();
    let names: Vec<&str> = agents
        .iter()
        .map(|a| a["agent"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["agent-a1", "agent-a2", "agent-b1"]);
    let b1 = &agents[2];
    assert_eq!(b1["drawn"], 0);
    assert_eq!(b1["target"], 10);
    assert_eq!(b1["shortfall"], 10);
    assert!(
        b1["strata"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["eligible"] == 0)
    );
    let a2 = &agents[1];
    assert_eq!(a2["target"], 20);
    assert_eq!(a2["shortfall"], 20);
    assert_eq!(agents[0]["shortfall"], 0);
}

async fn focus_rules_double_new_hires_and_complained_about_agents(db: TestDb) {
    let app = spawn(db, "2026-10-20 12:00").await;
    let ids = insert(&app, &[call("oct-b1", "agent-b1", at("2026-10-10 10:00"))]).await;
    // A complaint about agent-b1's October call.
    let insp = app.login("insp").await;
    let (status, body) = post(
        &insp,
        app.url("/api/pulls"),
        json!({"recording_id": ids["oct-b1"], "reason": "customer complaint #4411"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.config.clock.set(at("2026-11-02 12:00"));
    let (qa, lead) = defaults(&app, "2026-11").await;
    let sup = app.login("sup").await;
    for plan in [qa, lead] {
        let (_, p) = get_json(&sup, &app.url(&format!("/api/plans/{plan}/progress"))).await;
        let by: HashMap<&str, &Value> = p["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["agent"].as_str().unwrap(), a))
            .collect();
        let n = if plan == qa { 10 } else { 60 };
        assert_eq!(by["agent-a1"]["target"], n);
        assert_eq!(by["agent-a1"]["focus_reason"], Value::Null);
        assert_eq!(by["agent-a2"]["target"], 2 * n);
        assert_eq!(by["agent-a2"]["focus_reason"], "new_hire");
        assert_eq!(by["agent-b1"]["target"], 2 * n);
        assert_eq!(by["agent-b1"]["focus_reason"], "problem");
    }
    // A plan with its own rule: triple, new hires only.
    let (status, body) = post(
        &sup,
        app.url("/api/plans"),
        json!({"name": "New hires only", "month": "2026-11", "per_agent": 4,
               "graders": "team_lead",
               "focus": {"new_hire_days": 60, "problem_agents": false, "multiplier": 3}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, p) = get_json(
        &sup,
        &app.url(&format!("/api/plans/{}/progress", body["id"])),
    )
    .await;
    let targets: Vec<(String, i64)> = p["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["agent"].as_str().unwrap().to_string(),
                a["target"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        targets,
        [
            ("agent-a1".to_string(), 4),
            ("agent-a2".to_string(), 12),
            ("agent-b1".to_string(), 4)
        ]
    );
}

async fn plans_draw_independently(db: TestDb) {
    let app = spawn(db, "2026-12-05 12:00").await;
    insert(&app, &daily("agent-a1", "2026-11-01", 30, 10)).await;
    let (qa, lead) = defaults(&app, "2026-11").await;
    let of = |s: Vec<Value>| -> HashSet<String> {
        s.iter()
            .filter(|v| v["agent"] == "agent-a1")
            .map(|v| v["call_id"].as_str().unwrap().to_string())
            .collect()
    };
    let ten = of(samples(&app, "sup", qa).await);
    let sixty = of(samples(&app, "sup", lead).await);
    assert_eq!(ten.len(), 10);
    assert_eq!(sixty.len(), 60);
    // With 300 calls, the 10 lying inside the 60 by chance would be ~ (1/5)^10.
    assert!(
        !ten.is_subset(&sixty),
        "the QA sample must not be a prefix of the lead's"
    );
    // Spread over the weeks: 3, 2, 2, 3.
    let s = samples(&app, "sup", qa).await;
    let per_week: Vec<usize> = (0..4)
        .map(|w| count(&s, |v| v["agent"] == "agent-a1" && v["stratum"] == w))
        .collect();
    assert_eq!(per_week, [3, 2, 2, 3]);
}

async fn pulls_go_straight_into_a_queue_and_never_count_as_samples(db: TestDb) {
    let app = spawn(db, "2026-11-05 12:00").await;
    insert(&app, &daily("agent-a1", "2026-11-01", 3, 2)).await;
    insert(&app, &daily("agent-b1", "2026-11-01", 3, 2)).await;
    let (qa, _) = defaults(&app, "2026-11").await;
    let sup = app.login("sup").await;

    // Find the call by customer number, then pull it by call id for the inspector.
    let number: String = sqlx::query_scalar::<_, String>(
        "SELECT customer_number FROM recordings WHERE call_id = 'agent-a1-2026-11-01-1-0'",
    )
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    let (_, found) = get_json(
        &sup,
        &app.url(&format!("/api/recordings?customer_number={number}")),
    )
    .await;
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let call_id = items[0]["call_id"].as_str().unwrap().to_string();
    assert_eq!(call_id, "agent-a1-2026-11-01-1-0");
    let (status, pull) = post(
        &sup,
        app.url("/api/pulls"),
        json!({"call_id": call_id, "reason": "complaint 2026-11-05 about rudeness",
               "grader": "insp"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{pull}");
    assert_eq!(pull["kind"], "pull");
    assert_eq!(pull["complaint"], true);
    let q = queue(&app, "insp").await;
    assert_eq!(q.len(), 1, "week 1 is still open: only the pull is there");
    assert_eq!(q[0]["reason"], "complaint 2026-11-05 about rudeness");
    // The same call again for the same grader: 409.
    let (status, body) = post(
        &sup,
        app.url("/api/pulls"),
        json!({"call_id": call_id, "reason": "again", "grader": "insp"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&body), "already_queued");
    // By time range: the lead finds a team call and pulls it for themselves.
    let lead = app.login("lead-a").await;
    let (_, found) = get_json(
        &lead,
        &app.url("/api/recordings?from=2026-11-02T00:00:00%2B08:00&to=2026-11-03T00:00:00%2B08:00"),
    )
    .await;
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{found}");
    assert!(items.iter().all(|i| i["agent"] == "agent-a1"));
    let (status, _) = post(
        &lead,
        app.url("/api/pulls"),
        json!({"recording_id": items[0]["id"], "reason": "coaching", "complaint": false}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(queue(&app, "lead-a").await.len(), 1);
    // The lead cannot pull another team's call (not found), nor route one to lead-b.
    let other = get_json(&sup, &app.url("/api/recordings?agent=agent-b1"))
        .await
        .1["items"][0]["id"]
        .as_i64()
        .unwrap();
    let (status, _) = post(
        &lead,
        app.url("/api/pulls"),
        json!({"recording_id": other, "reason": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = post(
        &sup,
        app.url("/api/pulls"),
        json!({"recording_id": other, "reason": "x", "grader": "lead-a"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(code(&body), "invalid_grader");
    // Only complaint handlers search by a full customer number.
    for who in ["agent-a1", "panel"] {
        let c = app.login(who).await;
        let (status, _) = get_json(
            &c,
            &app.url(&format!("/api/recordings?customer_number={number}")),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
    }
    // Agents and the panel do not pull; a reason is required.
    let agent = app.login("agent-a1").await;
    let (status, _) = post(
        &agent,
        app.url("/api/pulls"),
        json!({"recording_id": other, "reason": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = post(
        &sup,
        app.url("/api/pulls"),
        json!({"recording_id": other, "reason": " ", "grader": "insp"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(code(&body), "invalid_pull");

    // Pulls never count towards the quota: week 1 still freezes 3 random calls of agent-a1.
    app.config.clock.set(at("2026-11-09 00:00"));
    draw(&app, qa).await;
    let q = queue(&app, "insp").await;
    assert_eq!(
        count(&q, |v| v["kind"] == "sample" && v["agent"] == "agent-a1"),
        3
    );
    assert_eq!(count(&q, |v| v["kind"] == "pull"), 1);
    assert!(verify(&app, qa).await.ok);
}

async fn leads_and_agents_see_only_their_part(db: TestDb) {
    let app = spawn(db, "2026-12-05 12:00").await;
    insert(&app, &daily("agent-a1", "2026-11-01", 30, 2)).await;
    insert(&app, &daily("agent-b1", "2026-11-01", 30, 2)).await;
    let (qa, _) = defaults(&app, "2026-11").await;
    let s = samples(&app, "lead-a", qa).await;
    assert!(!s.is_empty());
    assert!(s.iter().all(|v| v["team"] == "team-a"), "{s:?}");
    let s = samples(&app, "insp", qa).await;
    assert!(s.iter().any(|v| v["team"] == "team-b"));
    let lead = app.login("lead-a").await;
    let (_, p) = get_json(&lead, &app.url(&format!("/api/plans/{qa}/progress"))).await;
    assert!(
        p["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["team"] == "team-a")
    );
    let (_, proof) = get_json(&lead, &app.url(&format!("/api/plans/{qa}/proof"))).await;
    assert!(
        proof["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["agent"] != "agent-b1")
    );
    let (status, _) = get_json(
        &lead,
        &app.url(&format!("/api/plans/{qa}/proof?agent=agent-b1")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Agents: no plans, no samples; the proof only after publication and only their own.
    let agent = app.login("agent-a1").await;
    for path in [
        "/api/plans",
        &format!("/api/plans/{qa}"),
        &format!("/api/plans/{qa}/samples"),
        &format!("/api/plans/{qa}/progress"),
    ] {
        let (status, _) = get_json(&agent, &app.url(path)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _) = get_json(&agent, &app.url(&format!("/api/plans/{qa}/proof"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Only supervisors create, draw and publish.
    let (status, _) = post(
        &lead,
        app.url("/api/plans/defaults"),
        json!({"month": "2026-12"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(&lead, app.url(&format!("/api/plans/{qa}/draw")), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(&lead, app.url("/api/months/2026-11/publish"), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let sup = app.login("sup").await;
    let (status, _) = post(
        &sup,
        app.url("/api/months/2026-11/publish"),
        // Unfinished queue items are expected here: publish without them.
        json!({ "confirm": true }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, proof) = get_json(&agent, &app.url(&format!("/api/plans/{qa}/proof"))).await;
    assert_eq!(status, StatusCode::OK);
    let agents = proof["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0]["agent"], "agent-a1");
    // Nobody's queue shows another grader's work; without a session, nothing.
    let (status, _) = get_json(&crate::helpers::client(), &app.url("/api/me/queue")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(queue(&app, "agent-a1").await.is_empty());
}

async fn verify_passes_after_publication_and_catches_tampering(db: TestDb) {
    let app = spawn(db, "2026-12-05 12:00").await;
    insert(&app, &daily("agent-a1", "2026-11-01", 30, 4)).await;
    insert(&app, &daily("agent-b1", "2026-11-01", 30, 4)).await;
    let (qa, _) = defaults(&app, "2026-11").await;
    let sup = app.login("sup").await;
    let (_, plan) = get_json(&sup, &app.url(&format!("/api/plans/{qa}"))).await;
    assert_eq!(plan["seed"], Value::Null);
    let (status, _) = post(
        &sup,
        app.url("/api/months/2026-11/publish"),
        // Unfinished queue items are expected here: publish without them.
        json!({ "confirm": true }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, proof) = get_json(&sup, &app.url(&format!("/api/plans/{qa}/proof"))).await;
    let seed = proof["seed"].as_str().unwrap().to_string();
    assert_eq!(proof["revealed"], true);
    // The revealed seed matches the commitment shown from the start.
    let parsed = callgrade::domain::sampling::parse_seed(&seed).unwrap();
    assert_eq!(
        callgrade::domain::sampling::seed_hash(&parsed),
        plan["seed_hash"].as_str().unwrap()
    );
    // Anyone can recompute an agent's keys and picks from the proof.
    let (_, mine) = get_json(
        &sup,
        &app.url(&format!("/api/plans/{qa}/proof?agent=agent-a1")),
    )
    .await;
    let keyer = callgrade::domain::sampling::Keyer::new(&parsed);
    let week1 = mine["agents"][0]["eligible"][0].as_array().unwrap();
    for c in week1 {
        assert_eq!(
            hex::encode(keyer.key(c["call_id"].as_str().unwrap())),
            c["key"].as_str().unwrap()
        );
    }
    let mut keys: Vec<(String, String)> = week1
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_string(),
                c["call_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    keys.sort();
    let smallest: HashSet<String> = keys.iter().take(3).map(|k| k.1.clone()).collect();
    let picked: HashSet<String> = mine["agents"][0]["weeks"][0]["sample"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(picked, smallest);

    // The command line: exit 0 with the revealed seed ...
    let (ok, out, err) = callgrade(
        &app,
        &["sample", "verify", &qa.to_string(), "--seed", &seed],
        None,
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("the stored sample is the one the seed gives"),
        "{out}"
    );
    // ... non-zero with a wrong seed ...
    let wrong = hex::encode([9u8; 32]);
    let (ok, out, _) = callgrade(
        &app,
        &["sample", "verify", &qa.to_string(), "--seed", &wrong],
        None,
    );
    assert!(!ok);
    assert!(out.contains("commitment"), "{out}");
    let report = callgrade::sampling::verify(&app.state.db, qa, Some([9u8; 32]))
        .await
        .unwrap();
    assert!(!report.ok && !report.seed_matches_commitment);
    // ... and non-zero once someone swaps a sampled call for one they prefer.
    let picked_id: i64 = sqlx::query_scalar::<_, i64>(
        "SELECT recording_id FROM assignments WHERE plan_id = $1 ORDER BY id LIMIT 1",
    )
    .bind(qa)
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    let other: i64 = sqlx::query_scalar::<_, i64>(
        "SELECT id FROM recordings WHERE agent_id = (SELECT agent_id FROM recordings WHERE id = $1) \
         AND id NOT IN (SELECT recording_id FROM assignments) ORDER BY id LIMIT 1",
    )
    .bind(picked_id)
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE assignments SET recording_id = $1 WHERE plan_id = $2 AND recording_id = $3",
    )
    .bind(other)
    .bind(qa)
    .bind(picked_id)
    .execute(&app.state.db.pool)
    .await
    .unwrap();
    let (ok, out, _) = callgrade(&app, &["sample", "verify", &qa.to_string()], None);
    assert!(!ok, "{out}");
    assert!(out.contains("MISMATCH"), "{out}");
    // The draw command works from the command line too.
    let (ok, out, err) = callgrade(&app, &["sample", "draw", &qa.to_string()], None);
    assert!(ok, "{out}{err}");
}

async fn preview_shows_eligible_calls_and_shortfalls(db: TestDb) {
    let app = spawn(db, "2026-11-20 12:00").await;
    insert(&app, &daily("agent-a1", "2026-11-01", 10, 1)).await;
    let sup = app.login("sup").await;
    let (status, body) = post(
        &sup,
        app.url("/api/plans/preview"),
        json!({"name": "QA", "month": "2026-11", "per_agent": 10, "graders": "inspectors"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["strata"].as_array().unwrap().len(), 4);
    let a1 = body["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "agent-a1")
        .unwrap();
    assert_eq!(a1["quotas"], json!([3, 2, 2, 3]));
    assert_eq!(a1["eligible"], json!([7, 3, 0, 0]));
    assert_eq!(a1["shortfall"], json!([0, 0, 2, 3]));
    // 10 calls in all: the missing weeks are filled from the first two.
    assert_eq!(a1["total_shortfall"], 0);
    assert_eq!(body["totals"]["agents"], 3);
    // A preview needs no name yet (blank or left out); creating the plan does.
    for body in [
        json!({"name": "  ", "month": "2026-11", "per_agent": 10, "graders": "inspectors"}),
        json!({"month": "2026-11", "per_agent": 10, "graders": "inspectors"}),
    ] {
        let (status, out) = post(&sup, app.url("/api/plans/preview"), body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{out}");
        assert_eq!(out["totals"]["agents"], 3, "{out}");
        let (status, out) = post(&sup, app.url("/api/plans"), body).await;
        assert!(status.is_client_error(), "a plan without a name: {out}");
    }
    // Nothing was stored.
    let (_, plans) = get_json(&sup, &app.url("/api/plans?month=2026-11")).await;
    assert!(plans["plans"].as_array().unwrap().is_empty());
}

async fn bad_plans_get_clear_errors(db: TestDb) {
    let app = spawn(db, "2026-11-20 12:00").await;
    let sup = app.login("sup").await;
    let cases = [
        (
            json!({"name": "x", "month": "2026-13", "per_agent": 10, "graders": "inspectors"}),
            "invalid_plan",
        ),
        (
            json!({"name": "x", "month": "2026-11", "per_agent": 0, "graders": "inspectors"}),
            "invalid_plan",
        ),
        (
            json!({"name": "x", "month": "2026-11", "per_agent": 5, "graders": "inspectors",
                "population": {"kind": "agents", "agents": ["nobody"]}}),
            "invalid_plan",
        ),
        (
            json!({"name": "x", "month": "2026-11", "per_agent": 5, "graders": "boss"}),
            "invalid_json",
        ),
        (
            json!({"name": "x", "month": "2026-11", "per_agent": 5, "graders": "inspectors",
                "filters": {"min_duration_s": 60, "max_duration_s": 30}}),
            "invalid_plan",
        ),
    ];
    for (body, want) in cases {
        let (status, resp) = post(&sup, app.url("/api/plans"), body.clone()).await;
        assert!(status.is_client_error(), "{body} -> {status}");
        assert_eq!(code(&resp), want, "{body}: {resp}");
        assert!(!resp["error"]["message"].as_str().unwrap().is_empty());
        // Every rule of the plan says why in Chinese too, for the zh-CN interface.
        if want == "invalid_plan" {
            let zh = resp["message_zh"].as_str().unwrap_or_default();
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{body}: {resp}"
            );
        }
    }
    // The defaults are created both or neither.
    let (status, _) = post(
        &sup,
        app.url("/api/plans"),
        json!({"name": "Team-lead spot-check", "month": "2026-10", "per_agent": 60, "graders": "team_lead"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = post(
        &sup,
        app.url("/api/plans/defaults"),
        json!({"month": "2026-10"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, plans) = get_json(&sup, &app.url("/api/plans?month=2026-10")).await;
    assert_eq!(plans["plans"].as_array().unwrap().len(), 1);
    let (status, body) = post(&sup, app.url("/api/plans"), json!({"name": "nobody"})).await;
    assert!(status.is_client_error(), "{body}");
    let (_, before) = get_json(&sup, &app.url("/api/plans?month=2026-11")).await;
    assert_eq!(before["defaults_created"], false, "{before}");
    let (status, _) = post(
        &sup,
        app.url("/api/plans/defaults"),
        json!({"month": "2026-11"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, after) = get_json(&sup, &app.url("/api/plans?month=2026-11")).await;
    assert_eq!(after["defaults_created"], true, "{after}");
    let (_, all) = get_json(&sup, &app.url("/api/plans")).await;
    assert!(
        all.get("defaults_created").is_none(),
        "only for one month: {all}"
    );
    let (status, body) = post(
        &sup,
        app.url("/api/plans/defaults"),
        json!({"month": "2026-11"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&body), "plan_exists");
    let (status, _) = get_json(&sup, &app.url("/api/plans/999999")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = get_json(&sup, &app.url("/api/plans?month=Nov")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// Same seed and calls, SQLite and PostgreSQL: the same sample.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_sample_on_both_databases() {
    let Some(pg) = TestDb::postgres() else {
        return;
    };
    let mut picked = Vec::new();
    for db in [TestDb::Sqlite, pg] {
        let app = spawn(db, "2026-12-05 12:00").await;
        insert(&app, &daily("agent-a1", "2026-11-01", 30, 5)).await;
        insert(&app, &daily("agent-b1", "2026-11-01", 30, 5)).await;
        let sup = app.login("sup").await;
        let (status, body) = post(
            &sup,
            app.url("/api/plans"),
            json!({"name": "Portable", "month": "2026-11", "per_agent": 10, "graders": "inspectors",
                   "population": {"kind": "agents", "agents": ["agent-a1", "agent-b1"]}, "focus": null}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let id = body["id"].as_i64().unwrap();
        // Force one known seed (normally random), then draw from scratch.
        let seed = [42u8; 32];
        sqlx::query("DELETE FROM assignments WHERE plan_id = $1")
            .bind(id)
            .execute(&app.state.db.pool)
            .await
            .unwrap();
        sqlx::query("DELETE FROM plan_cells WHERE plan_id = $1")
            .bind(id)
            .execute(&app.state.db.pool)
            .await
            .unwrap();
        sqlx::query("DELETE FROM plan_agents WHERE plan_id = $1")
            .bind(id)
            .execute(&app.state.db.pool)
            .await
            .unwrap();
        sqlx::query("UPDATE plan_strata SET frozen_at_ms = NULL, eligible_count = NULL, eligible_digest = NULL WHERE plan_id = $1")
            .bind(id).execute(&app.state.db.pool).await.unwrap();
        sqlx::query(
            "UPDATE sampling_plans SET seed = $1, seed_hash = $2, watermark_ms = 0 WHERE id = $3",
        )
        .bind(hex::encode(seed))
        .bind(callgrade::domain::sampling::seed_hash(&seed))
        .bind(id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
        draw(&app, id).await;
        let mut calls: Vec<String> = samples(&app, "sup", id)
            .await
            .iter()
            .map(|v| v["call_id"].as_str().unwrap().to_string())
            .collect();
        calls.sort();
        let (_, plan) = get_json(&sup, &app.url(&format!("/api/plans/{id}"))).await;
        let digests: Vec<Value> = plan["strata"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["eligible_digest"].clone())
            .collect();
        assert!(verify(&app, id).await.ok);
        picked.push((calls, digests));
    }
    assert_eq!(picked[0].0.len(), 20);
    assert_eq!(picked[0], picked[1]);
}

async fn an_agent_hired_mid_month_joins_from_the_next_week(db: TestDb) {
    let app = spawn(db, "2026-11-09 12:00").await;
    insert(&app, &daily("agent-a1", "2026-11-01", 7, 2)).await;
    let (qa, _) = defaults(&app, "2026-11").await;
    // Week 1 froze at creation. Then a new agent joins team A and takes calls in week 2.
    let roster = "username,name,role,team,hire_date\nagent-a3,Agent Xu,agent,team-a,2026-11-09\n";
    let people = callgrade::org::parse_roster(roster.as_bytes()).unwrap();
    callgrade::org::import_roster(&app.state.db, &people)
        .await
        .unwrap();
    insert(&app, &daily("agent-a3", "2026-11-09", 12, 3)).await;
    app.config.clock.set(at("2026-11-23 00:00"));
    draw(&app, qa).await;
    let sup = app.login("sup").await;
    let (_, p) = get_json(&sup, &app.url(&format!("/api/plans/{qa}/progress"))).await;
    let a3 = p["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "agent-a3")
        .unwrap()
        .clone();
    // A new hire: 20 = 5 + 5 + 4 + 6 over the weeks; week 1 froze before they joined, so
    // its 5 carry into week 2 (5 + 5 = 10 taken there), week 3 takes its 4.
    assert_eq!(a3["target"], 20);
    assert_eq!(a3["strata"][0]["late_join"], true);
    assert_eq!(a3["strata"][0]["taken"], 0);
    assert_eq!(a3["strata"][1]["carry_in"], 5);
    assert_eq!(a3["strata"][1]["taken"], 10);
    assert_eq!(a3["strata"][2]["taken"], 4);
    assert_eq!(a3["drawn"], 14);
    let report = verify(&app, qa).await;
    assert!(report.ok, "{:?}", report.problems);
}

/// Samples refer to their calls, agents, graders and plans without foreign keys (checking
/// them row by row made a month's draw slow): the database instead refuses to delete any
/// of these, so nothing a sample refers to can disappear.
async fn sampled_recordings_are_kept(db: TestDb) {
    let app = spawn(db, "2026-12-05 12:00").await;
    insert(&app, &daily("agent-a1", "2026-11-01", 30, 2)).await;
    let (qa, _) = defaults(&app, "2026-11").await;
    let sampled = samples(&app, "sup", qa).await;
    assert_eq!(sampled.len(), 10);
    let pool = &app.state.db.pool;
    let delete =
        sqlx::query("DELETE FROM recordings WHERE id IN (SELECT recording_id FROM assignments)")
            .execute(pool)
            .await;
    let err = delete
        .expect_err("DELETE on recordings must fail")
        .to_string();
    assert!(err.contains("recordings are kept"), "{err}");
    let unsampled = sqlx::query("DELETE FROM recordings").execute(pool).await;
    assert!(unsampled.is_err(), "no recording may be deleted");
    for table in ["users", "sampling_plans"] {
        let err = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(pool)
            .await
            .expect_err("DELETE must fail")
            .to_string();
        assert!(err.contains(&format!("{table} are kept")), "{err}");
    }
    assert_eq!(samples(&app, "sup", qa).await, sampled);
}
