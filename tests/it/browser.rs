//! The web app in a real Chromium: `tests/browser/smoke.mjs` (Playwright) drives login,
//! the recordings list, the language switch and logout against a server started here;
//! `tests/browser/player.mjs` drives the grader's recording player (play, seek, speed,
//! comments, listen coverage) on a mu-law WAV and an MP3 call; `tests/browser/sampling.mjs`
//! drives sampling plans (preview, create, draw), the graders' queues and a pull;
//! `tests/browser/grading.mjs` drives the grader's evaluation page (player beside the form,
//! deductions stamped at the playing time, autosave, submit), the lead's review queue and
//! who may open an evaluation; `tests/browser/appeals.mjs` drives an agent's published
//! results (a deduction's time plays the call there, acknowledging, filing an appeal), the
//! panel's appeal queue and decision, and the agent reading the new grade and its reason;
//! `tests/browser/scores.mjs` drives a published month's scores (the interval beside the
//! score, pay cancelled by a severe grade, "Recompute" and the version history), the reports'
//! charts and their CSV/XLSX exports, the scoring settings, and the agent's own row and trend;
//! `tests/browser/publication.mjs` publishes a month with unfinished work (the page then says
//! what the publication closed) and shows the grader's queue keeping the closed item apart.
//!
//! Needs Node.js, `/usr/bin/chromium` and `npm ci --prefix tests/browser`. Without them the
//! test is skipped, except under `CI=true`, where it fails instead.

use std::path::Path;
use std::process::Command;

use reqwest::StatusCode;

use crate::helpers::{Auth, TestApp, TestDb, fixture, meta, password_of, upload};

const CHROMIUM: &str = "/usr/bin/chromium";

/// What is missing to run the browser test, as "what to install" hints.
fn missing_prerequisites(browser_dir: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    let node_runs = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !node_runs {
        missing.push("Node.js (`node` on PATH; e.g. `apt-get install -y nodejs npm`)".to_string());
    }
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!(
            "Chromium at {CHROMIUM} (`apt-get install -y chromium`)"
        ));
    }
    if !browser_dir.join("node_modules/playwright-core").is_dir() {
        missing.push("playwright-core (`npm ci --prefix tests/browser`)".to_string());
    }
    missing
}

/// Whether the browser tests can run here. Outside CI a missing prerequisite skips them
/// (false); under `CI=true` it fails the test instead.
fn can_run_browser_tests() -> bool {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let missing = missing_prerequisites(&root.join("tests/browser"));
    if missing.is_empty() {
        return true;
    }
    let what = missing.join("; ");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but the browser test cannot run; install: {what}");
    }
    eprintln!("skipping the browser test; to run it, install: {what}");
    false
}

/// Runs `node <script> <args…>` from the crate root and fails the test with its output
/// unless it succeeds.
async fn run_node(script: &'static str, args: Vec<String>) {
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("could not start `node {script}`: {e}"));

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "`node {script}` failed ({}).\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    print!("{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_app_works_in_chromium() {
    if !can_run_browser_tests() {
        return;
    }

    // Browser behaviour does not depend on the backend: SQLite is enough.
    let app = TestApp::spawn(TestDb::Sqlite).await;
    let token = app.token("recorder").await;
    for (call_id, agent) in [
        ("W-1", "agent-a1"),
        ("W-2", "agent-a1"),
        ("W-3", "agent-b1"),
    ] {
        let (status, body) = upload(
            &app,
            &Auth::Token(&token),
            &meta(call_id, agent),
            fixture("mulaw_8k_mono.wav"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "upload {call_id}: {body}");
    }

    run_node("tests/browser/smoke.mjs", vec![app.base.clone()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_player_plays_and_seeks_in_chromium() {
    if !can_run_browser_tests() {
        return;
    }

    let app = TestApp::spawn(TestDb::Sqlite).await;
    let token = app.token("recorder").await;
    let mut ids = Vec::new();
    for (call_id, file, layout) in [
        ("P-MULAW", "mulaw_8k_mono.wav", "mono"),
        ("P-MP3", "mp3_8k_mono.mp3", "mono"),
        ("P-LEFT", "stereo_mulaw_8k.wav", "agent_left"),
        ("P-RIGHT", "stereo_agent_right_mulaw_8k.wav", "agent_right"),
    ] {
        let mut m = meta(call_id, "agent-a1");
        if layout != "mono" {
            m["channel_layout"] = layout.into();
        }
        let (status, body) = upload(&app, &Auth::Token(&token), &m, fixture(file)).await;
        assert_eq!(status, StatusCode::CREATED, "upload {call_id}: {body}");
        let id = body["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("upload {call_id}: no id in {body}"));
        ids.push(id.to_string());
    }

    let mut args = vec![app.base.clone()];
    args.extend(ids);
    run_node("tests/browser/player.mjs", args).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_plans_and_queues_work_in_chromium() {
    if !can_run_browser_tests() {
        return;
    }

    // Calls of November's first week arrive on time (clock on 3 November); then the clock
    // moves past the month's end, so "Draw now" freezes every week.
    let at = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    };
    let clock = callgrade::clock::Clock::manual(at("2026-11-03T12:00:00+08:00"));
    let app = TestApp::spawn_with(TestDb::Sqlite, |c| c.clock = clock.clone()).await;
    let token = app.token("recorder").await;
    for (i, agent) in [
        "agent-a1", "agent-a1", "agent-a2", "agent-a2", "agent-b1", "agent-b1",
    ]
    .iter()
    .enumerate()
    {
        let mut m = meta(&format!("S-{i}"), agent);
        m["started_at"] = format!("2026-11-02T{:02}:15:00+08:00", 9 + i).into();
        let (status, body) =
            upload(&app, &Auth::Token(&token), &m, fixture("mulaw_8k_mono.wav")).await;
        assert_eq!(status, StatusCode::CREATED, "upload {i}: {body}");
    }
    clock.set(at("2026-12-02T12:00:00+08:00"));

    let login = |u: &str| format!("{u}:{}", password_of(u));
    run_node(
        "tests/browser/sampling.mjs",
        vec![
            app.base.clone(),
            "2026-11".into(),
            login("sup"),
            login("insp"),
            login("lead-a"),
            "agent-a1,agent-a2".into(),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grading_path_works_in_chromium() {
    if !can_run_browser_tests() {
        return;
    }

    // Two real 8.6 s calls of lead-a's agent, pulled into the inspector's queue (G-2 is
    // what "Submit and open next" leads to). The page plays G-1 through at 2x, which meets
    // the listening requirement (stated here, not assumed).
    let app = TestApp::spawn_with(TestDb::Sqlite, |c| c.listen_required = 0.9).await;
    let token = app.token("recorder").await;
    let sup = app.login("sup").await;
    for call_id in ["G-1", "G-2"] {
        let (status, body) = upload(
            &app,
            &Auth::Token(&token),
            &meta(call_id, "agent-a1"),
            fixture("mulaw_8k_mono.wav"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "upload: {body}");
        let resp = sup
            .post(app.url("/api/pulls"))
            .json(&serde_json::json!({
                "call_id": call_id,
                "reason": "customer complaint",
                "grader": "insp",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "pull: {}",
            resp.text().await.unwrap_or_default()
        );
    }

    let login = |u: &str| format!("{u}:{}", password_of(u));
    run_node(
        "tests/browser/grading.mjs",
        vec![
            app.base.clone(),
            login("insp"),
            login("lead-a"),
            login("agent-b1"),
            login("sup"),
            "G-1".into(),
            "G-2".into(),
        ],
    )
    .await;
}

/// POSTs `body` as `client` and returns the answer, failing the test unless it is `expected`.
async fn post_expecting(
    client: &reqwest::Client,
    url: String,
    body: serde_json::Value,
    expected: StatusCode,
) -> serde_json::Value {
    let resp = client.post(&url).json(&body).send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(status, expected, "POST {url}: {text}");
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appeal_path_works_in_chromium() {
    if !can_run_browser_tests() {
        return;
    }

    // A real 8.6 s call of agent-a1 on 2 November, graded poor by the inspector (commanding
    // tone four times: score 60), then November is published on 1 December, so the appeal
    // window is open while the browser runs (the server's clock stays there).
    let at = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    };
    let clock = callgrade::clock::Clock::manual(at("2026-11-03T12:00:00+08:00"));
    let app = TestApp::spawn_with(TestDb::Sqlite, |c| {
        c.clock = clock.clone();
        c.listen_required = 0.9;
    })
    .await;
    let token = app.token("recorder").await;
    let (status, body) = upload(
        &app,
        &Auth::Token(&token),
        &meta("A-1", "agent-a1"),
        fixture("mulaw_8k_mono.wav"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "upload: {body}");
    let recording = body["id"].as_i64().unwrap();
    let duration_ms = body["duration_ms"].as_i64().unwrap();

    let sup = app.login("sup").await;
    let pull = post_expecting(
        &sup,
        app.url("/api/pulls"),
        // A complaint the supervisor decided counts towards the agent's pay: the month then
        // has a result to acknowledge.
        serde_json::json!({ "call_id": "A-1", "reason": "customer complaint", "grader": "insp",
                            "counts": true }),
        StatusCode::CREATED,
    )
    .await;
    let assignment = pull["assignment_id"].as_i64().unwrap();

    let insp = app.login("insp").await;
    let evaluation = post_expecting(
        &insp,
        app.url(&format!("/api/assignments/{assignment}/evaluation")),
        serde_json::json!({}),
        StatusCode::OK,
    )
    .await;
    let evaluation = evaluation["id"].as_i64().unwrap();
    // The inspector heard the whole call, as a player does: the audio fetched, time to play
    // it passing, what was played reported.
    let audio = insp
        .get(app.url(&format!("/api/recordings/{recording}/audio")))
        .send()
        .await
        .unwrap();
    assert_eq!(audio.status(), StatusCode::OK);
    audio.bytes().await.unwrap();
    clock.advance(duration_ms);
    post_expecting(
        &insp,
        app.url(&format!("/api/recordings/{recording}/coverage")),
        serde_json::json!({ "intervals": [[0.0, duration_ms as f64 / 1000.0]] }),
        StatusCode::OK,
    )
    .await;
    let form = serde_json::json!({
        "deductions": [{
            "item": "commanding_tone",
            "occurrences": 4,
            "times_ms": [1000, 3000, 5000, 7000],
            "note": "impatient with the customer",
        }],
        "comment": "Impatient throughout the call.",
    });
    let submitted = post_expecting(
        &insp,
        app.url(&format!("/api/evaluations/{evaluation}/submit")),
        serde_json::json!({ "form": form }),
        StatusCode::OK,
    )
    .await;
    assert_eq!(submitted["outcome"]["grade"], "poor", "{submitted}");
    // The lead coaches the agent about the call: the agent reads the record and signs it.
    let lead = app.login("lead-a").await;
    let flags: serde_json::Value = lead
        .get(app.url("/api/flags"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let flag = flags["items"][0]["id"].as_i64().unwrap();
    post_expecting(
        &lead,
        app.url(&format!("/api/flags/{flag}/coaching")),
        serde_json::json!({ "held_on": "2026-11-03", "discussed": "Tone with impatient customers.",
                            "action": "Listen back to two calls a week." }),
        StatusCode::CREATED,
    )
    .await;

    clock.set(at("2026-12-01T10:00:00+08:00"));
    post_expecting(
        &sup,
        app.url("/api/months/2026-11/publish"),
        serde_json::json!({ "teams": null, "confirm": true }),
        StatusCode::OK,
    )
    .await;

    let login = |u: &str| format!("{u}:{}", password_of(u));
    run_node(
        "tests/browser/appeals.mjs",
        vec![
            app.base.clone(),
            login("agent-a1"),
            login("panel"),
            "A-1".into(),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scores_and_reports_work_in_chromium() {
    if !can_run_browser_tests() {
        return;
    }

    // November 2026, graded and published on 1 December: agent-a1 good, good, fair, poor
    // (80, 80, 70, 60: mean 72.5 with a wide interval, pay 30 + 30 + 0 − 10 = 50);
    // agent-b1 excellent and severe (the severe cancels the month's pay); agent-a2 nothing.
    let app = crate::grading::spawn(TestDb::Sqlite).await;
    let tone = |n: usize| {
        serde_json::json!({ "deductions": [{
            "item": "commanding_tone",
            "occurrences": n,
            "times_ms": (0..n).map(|i| 1_000 + i as i64 * 1_000).collect::<Vec<_>>(),
        }] })
    };
    let rude = serde_json::json!({ "deductions": [{
        "item": "rude_attitude", "occurrences": 1, "times_ms": [2_000],
    }] });
    let calls = [
        ("SC-1", "agent-a1", tone(2), "good"),
        ("SC-2", "agent-a1", tone(2), "good"),
        ("SC-3", "agent-a1", tone(3), "fair"),
        ("SC-4", "agent-a1", tone(4), "poor"),
        ("SC-5", "agent-b1", serde_json::json!({}), "excellent"),
        ("SC-6", "agent-b1", rude, "severe"),
    ];
    for (call_id, agent, form, grade) in calls {
        let e = crate::grading::graded(&app, call_id, agent, "insp", form).await;
        assert_eq!(e["outcome"]["grade"], grade, "{call_id}: {e}");
    }
    let at = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    };
    app.config.clock.set(at("2026-12-01T09:00:00+08:00"));
    let sup = app.login("sup").await;
    post_expecting(
        &sup,
        app.url("/api/months/2026-11/publish"),
        serde_json::json!({ "teams": null, "confirm": true }),
        StatusCode::OK,
    )
    .await;
    // agent-a1's imported components make their month complete (an overall score and a
    // level); the others stay incomplete, and the page says what is missing.
    let components: String = [
        "business_exam,27",
        "customer_satisfaction,9",
        "daily_checks,18",
        "peer_review,2",
        "etiquette,7",
        "overall_ability,9",
        "call_volume,10",
    ]
    .iter()
    .map(|c| format!("agent-a1,2026-11,{c}\n"))
    .collect();
    let resp = sup
        .post(app.url("/api/components/import"))
        .body(format!("agent,month,component,points\n{components}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let login = |u: &str| format!("{u}:{}", password_of(u));
    run_node(
        "tests/browser/scores.mjs",
        vec![
            app.base.clone(),
            "2026-11".into(),
            login("sup"),
            login("agent-a1"),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_with_unfinished_work_tells_the_truth_in_chromium() {
    if !can_run_browser_tests() {
        return;
    }

    // November 2026: one pulled call graded, another still waiting in the inspector's
    // queue when the supervisor publishes the month on 1 December.
    let app = crate::grading::spawn(TestDb::Sqlite).await;
    crate::grading::graded(&app, "PB-1", "agent-a1", "insp", serde_json::json!({})).await;
    crate::grading::pulled(&app, "PB-2", "agent-b1", "insp").await;
    app.config
        .clock
        .set(crate::sampling::at("2026-12-01 09:00"));

    let login = |u: &str| format!("{u}:{}", password_of(u));
    run_node(
        "tests/browser/publication.mjs",
        vec![
            app.base.clone(),
            "2026-11".into(),
            login("sup"),
            login("insp"),
            "PB-2".into(),
        ],
    )
    .await;
}
