//! The listening gate is proven by the server: coverage is credited only for audio that was
//! streamed to that person, no faster than 2× since it was streamed, what was served is kept
//! in the database (several nodes share it), and coverage survives a reload.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::grading::{listen, open, pulled, spawn, with_audio};
use crate::helpers::{TestApp, TestDb, code, get_json};
use crate::sampling::post;

both_backends!(
    coverage_without_served_audio_earns_nothing_and_submit_is_refused,
    coverage_faster_than_twice_the_time_since_serving_is_clipped,
    a_normal_listen_is_credited_and_submits,
    only_the_served_part_of_a_call_is_credited,
    served_audio_and_coverage_survive_a_reload_and_a_restart,
    a_stream_cut_short_records_only_what_it_sent,
);

async fn coverage(app: &TestApp, c: &reqwest::Client, recording: i64, body: Value) -> Value {
    let url = app.url(&format!("/api/recordings/{recording}/coverage"));
    let (status, body) = post(c, url, body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// `c` fetches bytes `range` ("start-end") of a recording's audio, to the end of the answer.
async fn fetch(app: &TestApp, c: &reqwest::Client, recording: i64, range: &str) {
    let resp = c
        .get(app.url(&format!("/api/recordings/{recording}/audio")))
        .header("Range", format!("bytes={range}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    resp.bytes().await.unwrap();
}

async fn submit(app: &TestApp, c: &reqwest::Client, evaluation: i64) -> (StatusCode, Value) {
    post(
        c,
        app.url(&format!("/api/evaluations/{evaluation}/submit")),
        json!({ "form": { "deductions": [] } }),
    )
    .await
}

/// The inspector's opened evaluation of a pulled two-minute call: (recording, evaluation,
/// the inspector's client).
async fn graded_call(app: &TestApp, call_id: &str) -> (i64, i64, reqwest::Client) {
    let (recording, assignment) = pulled(app, call_id, "agent-a1", "insp").await;
    with_audio(app, recording).await;
    let insp = app.login("insp").await;
    let e = open(app, &insp, assignment).await;
    (recording, e["id"].as_i64().unwrap(), insp)
}

async fn coverage_without_served_audio_earns_nothing_and_submit_is_refused(db: TestDb) {
    let app = spawn(db).await;
    let (recording, evaluation, insp) = graded_call(&app, "L-1").await;
    app.config.clock.advance(3_600_000);
    // The whole call claimed, nothing of it ever fetched.
    let c = coverage(&app, &insp, recording, json!({ "intervals": [[0, 120]] })).await;
    assert_eq!(c["credited"], json!([]));
    assert_eq!(c["credited_s"], 0.0);
    assert_eq!(c["not_served_s"], 120.0);
    assert_eq!(c["too_fast_s"], 0.0);
    assert_eq!(c["listened_s"], 0.0);
    let (_, got) = get_json(
        &insp,
        &app.url(&format!("/api/recordings/{recording}/coverage")),
    )
    .await;
    assert_eq!(got["intervals"], json!([]));
    let (status, body) = submit(&app, &insp, evaluation).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "not_listened");
    // Someone else fetching the audio does not serve it to the inspector.
    let sup = app.login("sup").await;
    fetch(&app, &sup, recording, "0-").await;
    app.config.clock.advance(3_600_000);
    let c = coverage(&app, &insp, recording, json!({ "intervals": [[0, 120]] })).await;
    assert_eq!(c["listened_s"], 0.0, "{c}");
    assert_eq!(
        submit(&app, &insp, evaluation).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

async fn coverage_faster_than_twice_the_time_since_serving_is_clipped(db: TestDb) {
    let app = spawn(db).await;
    let (recording, evaluation, insp) = graded_call(&app, "L-2").await;
    fetch(&app, &insp, recording, "0-").await;
    // Right away: nothing can have been heard yet.
    let c = coverage(&app, &insp, recording, json!({ "intervals": [[0, 120]] })).await;
    assert_eq!(
        (c["credited_s"].as_f64(), c["too_fast_s"].as_f64()),
        (Some(0.0), Some(120.0))
    );
    // 10 s later: at most 20 s, from the start of what was claimed.
    app.config.clock.advance(10_000);
    let c = coverage(&app, &insp, recording, json!({ "intervals": [[0, 120]] })).await;
    assert_eq!(c["credited"], json!([[0.0, 20.0]]), "{c}");
    assert_eq!(c["too_fast_s"], 100.0);
    assert_eq!(c["not_served_s"], 0.0);
    assert_eq!(c["listened_s"], 20.0);
    let (status, body) = submit(&app, &insp, evaluation).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "not_listened");
    // Fetching the audio again does not reset its time: 30 s after the first serving, 60 s.
    fetch(&app, &insp, recording, "0-").await;
    app.config.clock.advance(20_000);
    let c = coverage(&app, &insp, recording, json!({ "intervals": [[0, 120]] })).await;
    assert_eq!(c["credited"], json!([[20.0, 60.0]]), "{c}");
    assert_eq!(c["listened_s"], 60.0);
    // After a minute, the whole call could have been heard at 2×: posted again, it counts.
    app.config.clock.advance(30_000);
    let c = coverage(&app, &insp, recording, json!({ "intervals": [[0, 120]] })).await;
    assert_eq!(c["listened_s"], 120.0, "{c}");
    assert_eq!(c["too_fast_s"], 0.0);
    assert_eq!(submit(&app, &insp, evaluation).await.0, StatusCode::OK);
}

async fn a_normal_listen_is_credited_and_submits(db: TestDb) {
    let app = spawn(db).await;
    let (recording, evaluation, insp) = graded_call(&app, "L-3").await;
    // Fetch what is played, let it play, post it: in two sittings, as a player does.
    listen(&app, &insp, recording, 0.0, 50.0).await;
    let (_, e) = get_json(&insp, &app.url(&format!("/api/evaluations/{evaluation}"))).await;
    assert_eq!(e["listened"]["listened_ms"], 50_000);
    assert_eq!(e["listened"]["enough"], false);
    listen(&app, &insp, recording, 50.0, 120.0).await;
    let (_, e) = get_json(&insp, &app.url(&format!("/api/evaluations/{evaluation}"))).await;
    assert_eq!(e["listened"]["share"], 1.0);
    let (status, body) = submit(&app, &insp, evaluation).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["listened"]["enough"], true);
}

async fn only_the_served_part_of_a_call_is_credited(db: TestDb) {
    let app = spawn(db).await;
    let (recording, _, insp) = graded_call(&app, "L-4").await;
    // 8 kHz mono: 16 bytes a millisecond after the 44-byte header; bytes of 30 s..60 s.
    fetch(
        &app,
        &insp,
        recording,
        &format!("{}-{}", 44 + 30 * 16_000, 43 + 60 * 16_000),
    )
    .await;
    app.config.clock.advance(600_000);
    let c = coverage(&app, &insp, recording, json!({ "intervals": [[0, 120]] })).await;
    assert_eq!(c["credited"], json!([[30.0, 60.0]]), "{c}");
    assert_eq!(c["not_served_s"], 90.0);
    // The header alone serves no audio, nor does a HEAD request.
    let (other, _, lead) = {
        let (r, a) = pulled(&app, "L-5", "agent-a1", "lead-a").await;
        with_audio(&app, r).await;
        let lead = app.login("lead-a").await;
        (r, open(&app, &lead, a).await, lead)
    };
    fetch(&app, &lead, other, "0-43").await;
    let head = lead
        .head(app.url(&format!("/api/recordings/{other}/audio")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    app.config.clock.advance(600_000);
    let c = coverage(&app, &lead, other, json!({ "intervals": [[0, 120]] })).await;
    assert_eq!(c["listened_s"], 0.0, "{c}");
}

async fn served_audio_and_coverage_survive_a_reload_and_a_restart(db: TestDb) {
    let app = spawn(db).await;
    let (recording, evaluation, insp) = graded_call(&app, "L-6").await;
    // Heard 10 s of the call (8 %), then the page is closed.
    listen(&app, &insp, recording, 0.0, 10.0).await;
    // The rest is fetched, then the server restarts (or another node answers).
    fetch(&app, &insp, recording, "0-").await;
    let app = app.restart().await;
    // Reopened in a new session: the coverage is the server's, and it stays.
    let insp = app.login("insp").await;
    let url = app.url(&format!("/api/recordings/{recording}/coverage"));
    let (status, got) = get_json(&insp, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["intervals"], json!([[0.0, 10.0]]));
    assert_eq!(got["listened_s"], 10.0);
    // What was served before the restart still counts: after a minute, the rest is credited.
    app.config.clock.advance(60_000);
    let c = coverage(&app, &insp, recording, json!({ "intervals": [[10, 120]] })).await;
    assert_eq!(c["listened_s"], 120.0, "{c}");
    let (_, got) = get_json(&insp, &url).await;
    assert_eq!(got["fraction"], 1.0);
    let (status, body) = submit(&app, &insp, evaluation).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn a_stream_cut_short_records_only_what_it_sent(db: TestDb) {
    use futures::StreamExt;
    let app = spawn(db).await;
    // A long call (30 min, 28.8 MB as served): far more than a socket holds in flight.
    let ids = crate::sampling::insert(
        &app,
        &[{
            let mut c =
                crate::sampling::call("L-7", "agent-a1", crate::sampling::at("2026-11-18 09:30"));
            c.duration_s = 1800;
            c
        }],
    )
    .await;
    let recording = ids["L-7"];
    with_audio(&app, recording).await;
    let sup = app.login("sup").await;
    let resp = sup
        .get(app.url(&format!("/api/recordings/{recording}/audio")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // Read the first megabyte (about 31 s of audio), then go away.
    let mut body = resp.bytes_stream();
    let mut read = 0;
    while read < 1_000_000 {
        read += body.next().await.unwrap().unwrap().len();
    }
    drop(body);
    // The server notices the client gone and records what it had sent.
    let user = callgrade::store::users::find_active(&app.state.db, "sup")
        .await
        .unwrap()
        .unwrap();
    let mut served = Vec::new();
    for _ in 0..100 {
        served = callgrade::store::listening::served(&app.state.db, recording, user.id)
            .await
            .unwrap();
        if !served.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(served.len(), 1, "{served:?}");
    let [start, end, _] = served[0];
    assert_eq!(start, 0);
    assert!(
        (31_000..900_000).contains(&end),
        "served up to {end} ms of 1 800 000"
    );
}
