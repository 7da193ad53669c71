//! The player's data: waveform peaks, call analysis, listen coverage and comments, and who
//! may see them.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{
    Auth, TestApp, TestDb, client, code, fixture, get_json, meta, upload, upload_named,
};

both_backends!(
    peaks_draw_each_channel_with_its_label_and_are_cached,
    analysis_finds_turn_taking_on_the_stereo_call,
    coverage_merges_what_each_person_played,
    coverage_posts_from_many_tabs_all_land,
    comments_are_pinned_to_moments_and_not_for_agents,
    player_data_follows_who_may_see_the_call,
    a_recording_without_stored_media_answers_not_found,
    every_format_gets_a_waveform_and_an_analysis,
);

const STEREO: &str = "stereo_mulaw_8k.wav";
const STEREO_AGENT_RIGHT: &str = "stereo_agent_right_mulaw_8k.wav";
const MONO: &str = "mulaw_8k_mono.wav";
/// Duration of the fixtures above, in milliseconds.
const DURATION_MS: i64 = 8607;

/// Pushes a fixture for `agent` and returns the recording id.
async fn push(app: &TestApp, call_id: &str, agent: &str, file: &str, layout: &str) -> i64 {
    let token = app.token(&format!("rec-{call_id}")).await;
    let mut m = meta(call_id, agent);
    m["channel_layout"] = layout.into();
    let (status, body) = upload(app, &Auth::Token(&token), &m, fixture(file)).await;
    assert_eq!(status, StatusCode::CREATED, "{file}: {body}");
    body["id"].as_i64().unwrap()
}

fn lanes(peaks: &Value) -> Vec<Vec<i64>> {
    peaks["peaks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|lane| {
            lane.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect()
        })
        .collect()
}

/// The loudest excursion of each pixel of a lane.
fn amplitudes(lane: &[i64]) -> Vec<i64> {
    lane.chunks(2).map(|p| p[0].abs().max(p[1].abs())).collect()
}

fn intervals(v: &Value) -> Vec<(i64, i64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| (i[0].as_i64().unwrap(), i[1].as_i64().unwrap()))
        .collect()
}

async fn peaks_draw_each_channel_with_its_label_and_are_cached(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let left = push(&app, "P-left", "agent-a1", STEREO, "agent_left").await;
    let right = push(
        &app,
        "P-right",
        "agent-a1",
        STEREO_AGENT_RIGHT,
        "agent_right",
    )
    .await;
    let mono = push(&app, "P-mono", "agent-a1", MONO, "mono").await;
    let sup = app.login("sup").await;

    let url = app.url(&format!("/api/recordings/{left}/peaks"));
    let resp = sup.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(
        resp.headers()["cache-control"],
        "private, max-age=86400",
        "cacheable by the browser only"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["samples_per_pixel"], 128, "16 ms at 8 kHz");
    assert_eq!(body["sample_rate"], 8000);
    assert_eq!(body["channels"], 2);
    assert_eq!(body["frames"], 68858);
    assert_eq!(body["channel_labels"], json!(["agent", "customer"]));
    let stereo = lanes(&body);
    assert_eq!(stereo.len(), 2);
    let pixels = 68858usize.div_ceil(128);
    for lane in &stereo {
        assert_eq!(lane.len(), 2 * pixels);
        for p in lane.chunks(2) {
            assert!(-127 <= p[0] && p[0] <= p[1] && p[1] <= 127, "{p:?}");
        }
    }
    // The speakers take turns, the other channel digitally silent meanwhile: each lane has
    // loud pixels where the other is flat, and the call opens with silence on both.
    let (agent, customer) = (amplitudes(&stereo[0]), amplitudes(&stereo[1]));
    let agent_alone = (0..pixels)
        .filter(|&i| agent[i] >= 10 && customer[i] <= 1)
        .count();
    let customer_alone = (0..pixels)
        .filter(|&i| customer[i] >= 10 && agent[i] <= 1)
        .count();
    assert!(agent_alone > 100, "agent alone in {agent_alone} pixels");
    assert!(
        customer_alone > 50,
        "customer alone in {customer_alone} pixels"
    );
    assert!(agent[..8].iter().chain(&customer[..8]).all(|&a| a == 0));
    assert!(
        agent.iter().max().unwrap() > &60,
        "speech peaks near -4 dBFS"
    );

    // Not changed: 304 without a body, same validators.
    let resp = sup
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(resp.headers()["etag"].to_str().unwrap(), etag);
    assert!(resp.bytes().await.unwrap().is_empty());
    let resp = sup
        .get(&url)
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // Agent on the right: the same two voices, lanes swapped, labels say so.
    let (_, body) = get_json(&sup, &app.url(&format!("/api/recordings/{right}/peaks"))).await;
    assert_eq!(body["channel_labels"], json!(["customer", "agent"]));
    let swapped = lanes(&body);
    assert_eq!(swapped[1], stereo[0]);
    assert_eq!(swapped[0], stereo[1]);

    let (status, body) = get_json(&sup, &app.url(&format!("/api/recordings/{mono}/peaks"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["channels"], 1);
    assert_eq!(body["channel_labels"], json!(["mono"]));
    assert_eq!(lanes(&body).len(), 1);
    assert_eq!(lanes(&body)[0].len(), 2 * pixels);
}

async fn analysis_finds_turn_taking_on_the_stereo_call(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let left = push(&app, "A-left", "agent-a1", STEREO, "agent_left").await;
    let right = push(
        &app,
        "A-right",
        "agent-a1",
        STEREO_AGENT_RIGHT,
        "agent_right",
    )
    .await;
    let mono = push(&app, "A-mono", "agent-a1", MONO, "mono").await;
    let sup = app.login("sup").await;

    let url = app.url(&format!("/api/recordings/{left}/analysis"));
    let (status, a) = get_json(&sup, &url).await;
    assert_eq!(status, StatusCode::OK, "{a}");
    let chans = a["channels"].as_array().unwrap();
    assert_eq!(chans.len(), 2);
    assert_eq!(chans[0]["label"], "agent");
    assert_eq!(chans[1]["label"], "customer");
    let agent = intervals(&chans[0]["talk"]);
    let customer = intervals(&chans[1]["talk"]);
    // Agent, customer, agent: two agent turns around one customer turn.
    assert_eq!(agent.len(), 2, "{agent:?}");
    assert_eq!(customer.len(), 1, "{customer:?}");
    assert!(agent[0].1 <= customer[0].0 && customer[0].1 <= agent[1].0);
    assert!(
        agent[0].0 >= 150 && agent[0].0 <= 300,
        "the call opens with 0.2 s of silence"
    );
    for (c, segs) in [(&chans[0], &agent), (&chans[1], &customer)] {
        let total: i64 = segs.iter().map(|(s, e)| e - s).sum();
        assert_eq!(c["talk_ms"], total);
        assert!(total > 1000);
    }
    // The agent is silent longest while the customer talks.
    let quiet = &chans[0]["longest_silence"];
    let (qs, qe) = (
        quiet["start_ms"].as_i64().unwrap(),
        quiet["end_ms"].as_i64().unwrap(),
    );
    assert!(qs <= customer[0].0 && customer[0].1 <= qe, "{quiet}");
    assert_eq!(a["overtalk_ms"], 0);
    assert_eq!(a["overtalk"], json!([]));
    // Dead air: the gaps between turns and at the ends are short (0.2-0.35 s plus the
    // filter's tails), never longer than a second.
    let dead = &a["longest_silence"];
    let len = dead["end_ms"].as_i64().unwrap() - dead["start_ms"].as_i64().unwrap();
    assert!(len > 100 && len < 1000, "{dead}");
    assert!(dead["end_ms"].as_i64().unwrap() <= DURATION_MS);

    // Cached like the peaks.
    let resp = sup.get(&url).send().await.unwrap();
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    let resp = sup
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);

    // Agent on the right: the same call, channels labelled by the layout.
    let (_, b) = get_json(&sup, &app.url(&format!("/api/recordings/{right}/analysis"))).await;
    assert_eq!(b["channels"][0]["label"], "customer");
    assert_eq!(b["channels"][1]["label"], "agent");
    assert_eq!(b["channels"][1]["talk"], chans[0]["talk"]);
    assert_eq!(b["longest_silence"], a["longest_silence"]);

    // Mono: one lane, no overtalk to speak of.
    let (_, m) = get_json(&sup, &app.url(&format!("/api/recordings/{mono}/analysis"))).await;
    assert_eq!(m["channels"].as_array().unwrap().len(), 1);
    assert_eq!(m["channels"][0]["label"], "mono");
    assert!(m["overtalk_ms"].is_null());
    assert!(m["overtalk"].is_null());
    assert!(intervals(&m["channels"][0]["talk"]).len() >= 2);
}

async fn post_coverage(c: &reqwest::Client, url: &str, body: &Value) -> (StatusCode, Value) {
    let resp = c.post(url).json(body).send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The coverage part of a coverage answer (a post adds what it credited).
fn stored(v: &Value) -> Value {
    json!({
        "duration_s": v["duration_s"],
        "listened_s": v["listened_s"],
        "fraction": v["fraction"],
        "intervals": v["intervals"],
    })
}

fn secs(v: &Value) -> Vec<(f64, f64)> {
    v["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i[0].as_f64().unwrap(), i[1].as_f64().unwrap()))
        .collect()
}

/// A server whose clock tests move (coverage is credited against the time since serving).
async fn spawn_with_clock(db: TestDb) -> TestApp {
    let clock = callgrade::clock::Clock::manual(1_800_000_000_000);
    TestApp::spawn_with(db, |c| c.clock = clock).await
}

/// `c` fetches the whole audio of a recording, as the player does before playing it.
pub async fn fetch_audio(app: &TestApp, c: &reqwest::Client, id: i64) {
    let resp = c
        .get(app.url(&format!("/api/recordings/{id}/audio")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.bytes().await.unwrap();
}

async fn coverage_merges_what_each_person_played(db: TestDb) {
    let app = spawn_with_clock(db).await;
    let id = push(&app, "C-1", "agent-a1", STEREO, "agent_left").await;
    let url = app.url(&format!("/api/recordings/{id}/coverage"));
    let insp = app.login("insp").await;
    // Everything was served long enough ago to have been heard (see `listening.rs` for
    // what is not credited).
    fetch_audio(&app, &insp, id).await;
    app.config.clock.advance(60_000);

    let (status, empty) = get_json(&insp, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        empty,
        json!({ "duration_s": 8.607, "listened_s": 0.0, "fraction": 0.0, "intervals": [] })
    );

    let (status, c) = post_coverage(&insp, &url, &json!({ "intervals": [[0, 2], [1, 3]] })).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(secs(&c), vec![(0.0, 3.0)]);
    assert_eq!(c["listened_s"], 3.0);
    assert_eq!(c["duration_s"], 8.607);
    let fraction = c["fraction"].as_f64().unwrap();
    assert!((fraction - 3.0 / 8.607).abs() < 1e-9, "{fraction}");
    assert_eq!(c["credited"], json!([[0.0, 3.0]]));
    assert_eq!(c["credited_s"], 3.0);
    // The same spans again change nothing.
    let (_, again) = post_coverage(&insp, &url, &json!({ "intervals": [[0, 2], [1, 3]] })).await;
    assert_eq!(stored(&again), stored(&c));
    assert_eq!(again["credited_s"], 0.0);
    // Overlapping and separate spans; seconds need not be whole.
    let (_, c) = post_coverage(&insp, &url, &json!({ "intervals": [[5, 6.25], [2.5, 4]] })).await;
    assert_eq!(secs(&c), vec![(0.0, 4.0), (5.0, 6.25)]);
    // A player's clock may run a little past the end: clipped to the recording.
    let (status, c) = post_coverage(&insp, &url, &json!({ "intervals": [[8.5, 9.2]] })).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(secs(&c), vec![(0.0, 4.0), (5.0, 6.25), (8.5, 8.607)]);
    assert_eq!(c["listened_s"], 5.357);
    let c = stored(&c);
    let (_, got) = get_json(&insp, &url).await;
    assert_eq!(got, c);

    // Refused without touching what is stored.
    let too_many: Vec<[f64; 2]> = (0..10_001).map(|i| [i as f64 * 1e-4, 8.0]).collect();
    for (bad, status, want) in [
        (json!({ "intervals": [[2, 1]] }), 422, "invalid_intervals"),
        (json!({ "intervals": [[1, 1]] }), 422, "invalid_intervals"),
        (json!({ "intervals": [[-1, 1]] }), 422, "invalid_intervals"),
        (json!({ "intervals": [[0, 9.7]] }), 422, "invalid_intervals"),
        (
            json!({ "intervals": [[0, 1e300]] }),
            422,
            "invalid_intervals",
        ),
        (json!({ "intervals": too_many }), 422, "invalid_intervals"),
        (json!({ "intervals": [[0, 1, 2]] }), 400, "invalid_json"),
        (json!({ "intervals": [["0", "1"]] }), 400, "invalid_json"),
        (json!({ "spans": [[0, 1]] }), 400, "invalid_json"),
    ] {
        let (s, body) = post_coverage(&insp, &url, &bad).await;
        assert_eq!(s.as_u16(), status, "{bad}: {body}");
        assert_eq!(code(&body), want, "{bad}");
    }
    let resp = insp
        .post(&url)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&resp.json().await.unwrap()), "invalid_json");
    let (_, got) = get_json(&insp, &url).await;
    assert_eq!(got, c);

    // Each person has their own coverage; listening to all of it is 100 %.
    let lead = app.login("lead-a").await;
    let (_, theirs) = get_json(&lead, &url).await;
    assert_eq!(theirs["intervals"], json!([]));
    fetch_audio(&app, &lead, id).await;
    app.config.clock.advance(60_000);
    let (_, theirs) = post_coverage(&lead, &url, &json!({ "intervals": [[0, 9]] })).await;
    assert_eq!(theirs["fraction"], 1.0);
    assert_eq!(theirs["listened_s"], 8.607);
    let (_, mine) = get_json(&insp, &url).await;
    assert_eq!(mine, c);
}

async fn coverage_posts_from_many_tabs_all_land(db: TestDb) {
    let app = spawn_with_clock(db).await;
    let id = push(&app, "C-2", "agent-a1", STEREO, "agent_left").await;
    let url = app.url(&format!("/api/recordings/{id}/coverage"));
    let sup = app.login("sup").await;
    fetch_audio(&app, &sup, id).await;
    app.config.clock.advance(60_000);
    // 20 disjoint spans posted at once: none may overwrite another.
    let posts =
        (0..20).map(|i| {
            let (sup, url) = (sup.clone(), url.clone());
            let start = f64::from(i) * 0.4;
            async move {
                post_coverage(&sup, &url, &json!({ "intervals": [[start, start + 0.2]] })).await
            }
        });
    for (status, body) in futures::future::join_all(posts).await {
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, c) = get_json(&sup, &url).await;
    assert_eq!(secs(&c).len(), 20, "{c}");
    assert!(
        (c["listened_s"].as_f64().unwrap() - 4.0).abs() < 1e-9,
        "{c}"
    );
}

async fn comments_are_pinned_to_moments_and_not_for_agents(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let id = push(&app, "K-1", "agent-a1", STEREO, "agent_left").await;
    let url = app.url(&format!("/api/recordings/{id}/comments"));
    let sup = app.login("sup").await;
    let insp = app.login("insp").await;
    let lead = app.login("lead-a").await;

    let resp = sup
        .post(&url)
        .json(&json!({ "at_ms": 5000, "text": "  hold without asking  " }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let first: Value = resp.json().await.unwrap();
    assert_eq!(first["at_ms"], 5000);
    assert_eq!(first["text"], "hold without asking");
    assert_eq!(first["author"], "sup");
    assert_eq!(first["author_name"], "Supervisor Chen");
    assert!(first["id"].is_i64());
    assert!(
        first["created_at"].as_str().unwrap().ends_with("+08:00"),
        "{first}"
    );
    for (c, at, text) in [
        (&insp, 800, "问候语规范"),
        (&lead, 5000, "agreed"),
        (&insp, DURATION_MS, "the end"),
    ] {
        let resp = c
            .post(&url)
            .json(&json!({ "at_ms": at, "text": text }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED, "{text}");
    }
    // Call-time order; the same moment in the order written.
    let (status, list) = get_json(&app.login("panel").await, &url).await;
    assert_eq!(status, StatusCode::OK);
    let items = list["items"].as_array().unwrap();
    let got: Vec<(i64, &str, &str)> = items
        .iter()
        .map(|c| {
            (
                c["at_ms"].as_i64().unwrap(),
                c["author"].as_str().unwrap(),
                c["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (800, "insp", "问候语规范"),
            (5000, "sup", "hold without asking"),
            (5000, "lead-a", "agreed"),
            (DURATION_MS, "insp", "the end"),
        ]
    );
    assert_eq!(items[1], first);

    for bad in [
        json!({ "at_ms": -1, "text": "x" }),
        json!({ "at_ms": DURATION_MS + 1, "text": "x" }),
        json!({ "at_ms": 0, "text": "" }),
        json!({ "at_ms": 0, "text": " \n " }),
        json!({ "at_ms": 0, "text": "字".repeat(2001) }),
        json!({ "at_ms": 0, "text": "nul \u{0} inside" }),
    ] {
        let resp = sup.post(&url).json(&bad).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(code(&resp.json().await.unwrap()), "invalid_comment");
    }
    for bad in [
        json!({ "at_ms": 1.5, "text": "x" }),
        json!({ "text": "x" }),
        json!({ "at_ms": 1 }),
    ] {
        let resp = sup.post(&url).json(&bad).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(code(&resp.json().await.unwrap()), "invalid_json");
    }
    let resp = sup
        .post(&url)
        .json(&json!({ "at_ms": 0, "text": "字".repeat(2000) }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);

    // The agent of the call may hear it but not read or write its comments.
    let agent = app.login("agent-a1").await;
    let (status, body) = get_json(&agent, &url).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(code(&body), "forbidden");
    let resp = agent
        .post(&url)
        .json(&json!({ "at_ms": 0, "text": "not fair" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let (_, list) = get_json(&sup, &url).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 5);
}

async fn player_data_follows_who_may_see_the_call(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let id = push(&app, "X-1", "agent-a1", STEREO, "agent_left").await;
    let base = format!("/api/recordings/{id}");
    let gets = ["peaks", "analysis", "coverage", "comments"];
    let posts = [
        ("coverage", json!({ "intervals": [[0, 1]] })),
        ("comments", json!({ "at_ms": 0, "text": "hello" })),
    ];

    // Another agent, and the lead of another team: as if the call did not exist.
    for who in ["agent-b1", "agent-a2", "lead-b"] {
        let c = app.login(who).await;
        for what in gets {
            let (status, body) = get_json(&c, &app.url(&format!("{base}/{what}"))).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{who} GET {what}");
            assert_eq!(code(&body), "not_found");
        }
        for (what, body) in &posts {
            let resp = c
                .post(app.url(&format!("{base}/{what}")))
                .json(body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{who} POST {what}");
        }
    }
    // The call's own agent sees its waveform and analysis and has a coverage of their own.
    let agent = app.login("agent-a1").await;
    for what in ["peaks", "analysis", "coverage"] {
        let (status, _) = get_json(&agent, &app.url(&format!("{base}/{what}"))).await;
        assert_eq!(status, StatusCode::OK, "agent-a1 GET {what}");
    }
    let (status, c) =
        post_coverage(&agent, &app.url(&format!("{base}/coverage")), &posts[0].1).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    // So does the lead of their team.
    let lead = app.login("lead-a").await;
    for what in gets {
        let (status, _) = get_json(&lead, &app.url(&format!("{base}/{what}"))).await;
        assert_eq!(status, StatusCode::OK, "lead-a GET {what}");
    }
    // Nobody signed in: nothing.
    for what in gets {
        let (status, body) = get_json(&client(), &app.url(&format!("{base}/{what}"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "GET {what}");
        assert_eq!(code(&body), "unauthenticated");
    }
    let sup = app.login("sup").await;
    for path in [
        "/api/recordings/999999/peaks",
        "/api/recordings/abc/analysis",
    ] {
        let (status, _) = get_json(&sup, &app.url(path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

async fn a_recording_without_stored_media_answers_not_found(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let id = push(&app, "N-1", "agent-a1", MONO, "mono").await;
    sqlx::query("DELETE FROM recording_media WHERE recording_id = $1")
        .bind(id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let sup = app.login("sup").await;
    for what in ["peaks", "analysis"] {
        let (status, body) =
            get_json(&sup, &app.url(&format!("/api/recordings/{id}/{what}"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{what}");
        assert_eq!(code(&body), "not_found");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no stored waveform"),
            "{body}"
        );
    }
    // The rest of the player does not depend on it.
    let (status, _) = get_json(&sup, &app.url(&format!("/api/recordings/{id}/coverage"))).await;
    assert_eq!(status, StatusCode::OK);

    let (_, spec) = get_json(&client(), &app.url("/api/openapi.json")).await;
    for (path, method) in [
        ("/api/recordings/{id}/peaks", "get"),
        ("/api/recordings/{id}/analysis", "get"),
        ("/api/recordings/{id}/coverage", "get"),
        ("/api/recordings/{id}/coverage", "post"),
        ("/api/recordings/{id}/comments", "get"),
        ("/api/recordings/{id}/comments", "post"),
    ] {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} missing from openapi.json"
        );
    }
}

async fn every_format_gets_a_waveform_and_an_analysis(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token("recorder").await;
    let sup = app.login("sup").await;
    let mut files: Vec<String> = std::fs::read_dir(crate::helpers::fixture_path(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| !f.ends_with(".csv"))
        .collect();
    files.sort();
    let mut drawn = 0;
    for (i, file) in files.iter().enumerate() {
        let mut m = meta(&format!("W-{i}"), "agent-a1");
        if file.starts_with("stereo_agent_right") {
            m["channel_layout"] = "agent_right".into();
        }
        // Under its own name: headerless formats are known by their extension.
        let (status, rec) = upload_named(&app, &Auth::Token(&token), &m, file, fixture(file)).await;
        if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            continue; // a codec without a decoder yet: nothing to draw
        }
        assert_eq!(status, StatusCode::CREATED, "{file}: {rec}");
        let id = rec["id"].as_i64().unwrap();
        let (status, p) = get_json(&sup, &app.url(&format!("/api/recordings/{id}/peaks"))).await;
        assert_eq!(status, StatusCode::OK, "{file}: {p}");
        let rate = rec["sample_rate"].as_i64().unwrap();
        let frames = rec["frames"].as_i64().unwrap();
        // About 16 ms per pixel whatever the rate (768 frames at 48 kHz for Opus).
        let spp = (rate * 16 + 500) / 1000;
        assert_eq!(p["samples_per_pixel"], spp, "{file}");
        assert_eq!(p["sample_rate"], rate, "{file}");
        assert_eq!(p["frames"], frames, "{file}");
        assert_eq!(p["channels"], rec["channels"], "{file}");
        let lanes = lanes(&p);
        assert_eq!(lanes.len() as i64, rec["channels"].as_i64().unwrap());
        for lane in &lanes {
            assert_eq!(lane.len() as i64, 2 * ((frames + spp - 1) / spp), "{file}");
            assert!(
                lane.iter().any(|&v| v.abs() > 20),
                "{file}: speech is drawn"
            );
        }
        let (status, a) = get_json(&sup, &app.url(&format!("/api/recordings/{id}/analysis"))).await;
        assert_eq!(status, StatusCode::OK, "{file}: {a}");
        for c in a["channels"].as_array().unwrap() {
            assert!(!intervals(&c["talk"]).is_empty(), "{file}: talk found");
        }
        drawn += 1;
    }
    assert!(drawn >= 20, "only {drawn} fixtures drawn");
}
