//! Two real server processes on one PostgreSQL database and one data folder, as a center
//! runs several nodes behind a load balancer: background work (webhook delivery, draws) is
//! done once whichever node does it, the failed-login throttle is one for all, and a
//! recording pushed to one node plays from the other.
//!
//! PostgreSQL only: SQLite is one file for one machine, so there is no second node there.

use std::collections::HashMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Datelike, TimeZone};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, TestDb, client, code, fixture, get_json, meta, password_of};
use crate::sampling::{call, insert, post};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_the_work_without_doing_anything_twice() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    two_nodes(db).await;
}

/// A `callgrade serve` process, killed when dropped (before the scratch database goes).
struct Node {
    child: Child,
    base: String,
    // Kept open: the process may still write to its stdout.
    _stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Node {
    fn start(app: &TestApp, webhook_url: &str) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_callgrade"))
            .arg("--data-dir")
            .arg(app.data_dir.path())
            .arg("--database-url")
            .arg(app.config.database_url.as_deref().unwrap())
            .args(["--webhook-url", webhook_url])
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("CALLGRADE_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let base = line
            .trim()
            .trim_start_matches("callgrade listening on ")
            .trim_end_matches('/')
            .to_string();
        assert!(base.starts_with("http://"), "{line}");
        Node {
            child,
            base,
            _stdout: stdout,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn login(&self, username: &str) -> reqwest::Client {
        let c = client();
        let resp = c
            .post(self.url("/api/login"))
            .json(&json!({ "username": username, "password": password_of(username) }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "login as {username}");
        c
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A webhook receiver on port 0 that counts each delivery id it is sent. It answers a little
/// slowly, so both nodes are delivering at the same time.
async fn receiver() -> (String, Arc<Mutex<HashMap<String, usize>>>) {
    let seen = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
    let counts = seen.clone();
    let route = axum::routing::post(move |headers: axum::http::HeaderMap| {
        let counts = counts.clone();
        async move {
            let id = headers
                .get("x-callgrade-delivery")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("<none>")
                .to_string();
            *counts.lock().unwrap().entry(id).or_default() += 1;
            tokio::time::sleep(Duration::from_millis(15)).await;
            StatusCode::NO_CONTENT
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, axum::Router::new().route("/hook", route)).await;
    });
    (url, seen)
}

/// The first local midnight of the month `days_ago` days back, and that month as `YYYY-MM`.
fn month_back(days_ago: i64) -> (i64, String) {
    let tz = chrono_tz::Asia::Shanghai;
    let then = chrono::Utc::now().with_timezone(&tz) - chrono::Duration::days(days_ago);
    let start = tz
        .with_ymd_and_hms(then.year(), then.month(), 1, 0, 0, 0)
        .unwrap();
    (
        start.timestamp_millis(),
        format!("{}-{:02}", then.year(), then.month()),
    )
}

async fn two_nodes(db: TestDb) {
    const EVENTS: usize = 40;
    // The in-process app makes the database and the roster; its clock stands before the
    // month drawn below, so the plan made through it freezes nothing yet.
    let (month_start, month) = month_back(40);
    let app = TestApp::spawn_with(db, |c| {
        c.clock = callgrade::clock::Clock::manual(month_start - 24 * 3_600_000);
        c.draw_interval = None;
    })
    .await;

    // Webhook events queued before the nodes start: both deliver at start-up.
    let now = callgrade::store::now_ms();
    let mut tx = app.state.db.begin_write().await.unwrap();
    for i in 0..EVENTS {
        callgrade::store::notifications::enqueue_webhook(
            &mut tx,
            "test.event",
            &json!({ "n": i }).to_string(),
            &format!("nodes-test-{i}"),
            now - 1_000,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let (hook, seen) = receiver().await;
    let started = Instant::now();
    let a = Node::start(&app, &hook);
    let b = Node::start(&app, &hook);

    // Each event reaches the receiver exactly once.
    while seen.lock().unwrap().len() < EVENTS {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "only {} of {EVENTS} events delivered",
            seen.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Time for a late duplicate to arrive, had a node posted one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), EVENTS, "{seen:?}");
        assert!(seen.values().all(|&n| n == 1), "posted twice: {seen:?}");
    }
    let pending = callgrade::store::notifications::due_webhooks(&app.state.db, i64::MAX, 100)
        .await
        .unwrap();
    assert!(pending.is_empty(), "{pending:?}");

    // Failures on node A lock the name on node B (same address); the right password does
    // not get through either, until the lock ends.
    let wrong = |node: &Node| {
        client()
            .post(node.url("/api/login"))
            .json(&json!({ "username": "agent-b1", "password": "a wrong guess" }))
            .send()
    };
    for _ in 0..callgrade::domain::login::NAME_AT_ADDRESS.free {
        assert_eq!(wrong(&a).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    let locked = client()
        .post(b.url("/api/login"))
        .json(&json!({ "username": "agent-b1", "password": password_of("agent-b1") }))
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(code(&locked.json().await.unwrap()), "too_many_attempts");

    // A draw forced on both nodes at once writes one draw: the month's weeks are all past
    // their deadline on the nodes' (system) clocks.
    let sup_app = app.login("sup").await;
    let (status, body) = post(
        &sup_app,
        app.url("/api/plans"),
        json!({"name": "Two nodes", "month": month, "per_agent": 5, "graders": "inspectors",
               "population": {"kind": "agents", "agents": ["agent-a1"]}, "focus": null}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let plan = body["id"].as_i64().unwrap();
    let calls: Vec<_> = (0..28)
        .flat_map(|d| {
            (0..3).map(move |i| {
                let started = month_start + 9 * 3_600_000 + d * 24 * 3_600_000 + i * 1_200_000;
                call(format!("N-{d}-{i}"), "agent-a1", started)
            })
        })
        .collect();
    insert(&app, &calls).await;
    let (sup_a, sup_b) = (a.login("sup").await, b.login("sup").await);
    let draw_url = format!("/api/plans/{plan}/draw");
    let (on_a, on_b) = tokio::join!(
        post(&sup_a, a.url(&draw_url), json!({})),
        post(&sup_b, b.url(&draw_url), json!({})),
    );
    assert_eq!(on_a.0, StatusCode::OK, "{}", on_a.1);
    assert_eq!(on_b.0, StatusCode::OK, "{}", on_b.1);
    let frozen = |v: &serde_json::Value| v["report"]["frozen"].as_array().unwrap().len();
    // One of them froze the four weeks; the other found them frozen.
    assert_eq!(
        frozen(&on_a.1) + frozen(&on_b.1),
        4,
        "{} {}",
        on_a.1,
        on_b.1
    );
    let (status, body) = get_json(&sup_b, &b.url(&format!("/api/plans/{plan}/samples"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let samples = body["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 5, "{body}");
    assert!(samples.iter().all(|s| s["provisional"] == false), "{body}");
    let distinct: std::collections::HashSet<_> =
        samples.iter().map(|s| s["recording_id"].clone()).collect();
    assert_eq!(distinct.len(), 5, "{body}");
    let proof = callgrade::sampling::verify(&app.state.db, plan, None)
        .await
        .unwrap();
    assert!(proof.ok);

    // A recording pushed to node A streams from node B, byte for byte as from A.
    let token = app.token("recorder").await;
    let pushed = fixture("mulaw_8k_mono.wav");
    let form = reqwest::multipart::Form::new()
        .text("metadata", meta("NODES-1", "agent-a1").to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(pushed).file_name("n.wav"),
        );
    let resp = client()
        .post(a.url("/api/recordings"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = resp.json::<serde_json::Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let audio = format!("/api/recordings/{id}/audio");
    let from_b = sup_b.get(b.url(&audio)).send().await.unwrap();
    assert_eq!(from_b.status(), StatusCode::OK);
    let from_b = from_b.bytes().await.unwrap();
    let from_a = sup_a.get(a.url(&audio)).send().await.unwrap();
    assert_eq!(from_a.status(), StatusCode::OK);
    assert!(from_b.starts_with(b"RIFF") && from_b.len() > 44);
    assert_eq!(from_b, from_a.bytes().await.unwrap());

    assert!(started.elapsed() < Duration::from_secs(20));
    drop((a, b));
}
