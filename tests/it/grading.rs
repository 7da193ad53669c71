//! Grading: drafts, submission (listening required, score and grade from the rubric),
//! rubric versions, flags to the right team lead and their coaching, access rules, and blind
//! calibration sessions.
//!
//! Calls are inserted as rows (metadata only): grading reads metadata and the grader's listen
//! coverage, which the tests earn as a player would (`listen`: the audio, silent here, is
//! fetched, the clock passes, the played part is posted).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{TestApp, TestDb, code, get_json};
use crate::sampling::{at, call, defaults, insert, post};

both_backends!(
    drafts_save_as_the_grader_works_and_stay_private,
    submitting_needs_the_call_heard,
    scores_and_grades_follow_the_rubric,
    poor_and_severe_calls_reach_the_agents_own_lead,
    agents_see_their_evaluations_only_once_published,
    rubric_edits_make_new_versions,
    calibration_is_blind_until_each_has_submitted,
    a_poor_grade_puts_the_agent_under_focus_next_month,
    pickers_offer_only_who_may_take_the_work,
);

const DAY: i64 = 86_400_000;

pub async fn spawn(db: TestDb) -> TestApp {
    let clock = callgrade::clock::Clock::manual(at("2026-11-20 10:00"));
    TestApp::spawn_with(db, |c| {
        c.clock = clock;
        c.draw_interval = None;
    })
    .await
}

async fn put(client: &reqwest::Client, url: String, body: Value) -> (StatusCode, Value) {
    let resp = client.put(url).json(&body).send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A two-minute call of `agent` on 2026-11-18, pulled into `grader`'s queue by the
/// supervisor; returns (recording id, assignment id).
pub async fn pulled(app: &TestApp, call_id: &str, agent: &'static str, grader: &str) -> (i64, i64) {
    pulled_with(app, call_id, agent, grader, true).await
}

/// [`pulled`], saying whether the pull counts towards score and pay (the supervisor who
/// pulls decides; [`pulled`] counts it, so grades made with it feed the month's pay).
pub async fn pulled_with(
    app: &TestApp,
    call_id: &str,
    agent: &'static str,
    grader: &str,
    counts: bool,
) -> (i64, i64) {
    let ids = insert(app, &[call(call_id, agent, at("2026-11-18 09:30"))]).await;
    let sup = app.login("sup").await;
    let (status, body) = post(
        &sup,
        app.url("/api/pulls"),
        json!({ "call_id": call_id, "reason": "customer complaint", "grader": grader,
                "counts": counts }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (ids[call_id], body["assignment_id"].as_i64().unwrap())
}

/// Opens the evaluation of an assignment as `grader`; returns it.
pub async fn open(app: &TestApp, grader: &reqwest::Client, assignment: i64) -> Value {
    let url = app.url(&format!("/api/assignments/{assignment}/evaluation"));
    let (status, body) = post(grader, url, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// `client` listens to `[from_s, to_s)` of a recording as a real player does: fetches that
/// part of the audio, lets the (manual) clock pass for playing it at 2x, then posts what it
/// played, which must all be credited.
pub async fn listen(
    app: &TestApp,
    client: &reqwest::Client,
    recording: i64,
    from_s: f64,
    to_s: f64,
) {
    let (rate, block_align) = with_audio(app, recording).await;
    let first = (from_s * rate).floor() as u64 * block_align;
    let last = (to_s * rate).ceil() as u64 * block_align + 43; // 44 header bytes, inclusive
    let audio = client
        .get(app.url(&format!("/api/recordings/{recording}/audio")))
        .header("Range", format!("bytes={}-{last}", first + 44))
        .send()
        .await
        .unwrap();
    assert_eq!(audio.status(), StatusCode::PARTIAL_CONTENT);
    audio.bytes().await.unwrap();
    app.config
        .clock
        .advance(((to_s - from_s) * 1000.0 / 2.0).ceil() as i64);
    let url = app.url(&format!("/api/recordings/{recording}/coverage"));
    let (status, body) = post(client, url, json!({ "intervals": [[from_s, to_s]] })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["too_fast_s"], 0.0, "{body}");
    assert_eq!(body["not_served_s"], 0.0, "{body}");
}

/// Gives a recording inserted as a row only (no bytes) a silent WAV of its stored length, so
/// its audio can be streamed; returns its (sample rate, bytes per frame) as streamed.
pub async fn with_audio(app: &TestApp, recording: i64) -> (f64, u64) {
    use callgrade::audio::wavout::WavLayout;
    use sqlx::Row;
    use std::io::Write;
    let db = &app.state.db;
    let row =
        sqlx::query("SELECT blob_key, sample_rate, channels, frames FROM recordings WHERE id = $1")
            .bind(recording)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let rate: i64 = row.get("sample_rate");
    let channels: i64 = row.get("channels");
    let layout = WavLayout::new(
        rate as u32,
        channels as u16,
        row.get::<i64, _>("frames") as u64,
    )
    .unwrap();
    let blobs = &app.state.ingestor.blobs;
    let key: String = row.get("blob_key");
    if blobs.path(&key).is_ok_and(|p| p.exists()) {
        return (rate as f64, layout.block_align());
    }
    let mut file = blobs.temp_file().unwrap();
    file.write_all(&layout.header()).unwrap();
    file.write_all(&vec![0u8; layout.data_len() as usize])
        .unwrap();
    let key = blobs.commit(file).unwrap();
    sqlx::query("UPDATE recordings SET blob_key = $1 WHERE id = $2")
        .bind(key)
        .bind(recording)
        .execute(&db.pool)
        .await
        .unwrap();
    (rate as f64, layout.block_align())
}

pub fn deduction(item: &str, times_ms: &[i64]) -> Value {
    json!({ "item": item, "occurrences": times_ms.len().max(1), "times_ms": times_ms, "note": "heard it" })
}

async fn submit(
    app: &TestApp,
    client: &reqwest::Client,
    id: i64,
    form: Value,
) -> (StatusCode, Value) {
    post(
        client,
        app.url(&format!("/api/evaluations/{id}/submit")),
        json!({ "form": form }),
    )
    .await
}

/// Pulls, opens, listens to the whole call and submits `form`; returns the evaluation.
pub async fn graded(
    app: &TestApp,
    call_id: &str,
    agent: &'static str,
    grader: &str,
    form: Value,
) -> Value {
    let (recording, assignment) = pulled(app, call_id, agent, grader).await;
    let client = app.login(grader).await;
    let e = open(app, &client, assignment).await;
    listen(app, &client, recording, 0.0, 120.0).await;
    let (status, body) = submit(app, &client, e["id"].as_i64().unwrap(), form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn drafts_save_as_the_grader_works_and_stay_private(db: TestDb) {
    let app = spawn(db).await;
    let (_, assignment) = pulled(&app, "D-1", "agent-a1", "insp").await;
    let insp = app.login("insp").await;
    let e = open(&app, &insp, assignment).await;
    assert_eq!(e["status"], "draft");
    assert_eq!(e["revision"], 0);
    assert_eq!(e["outcome"]["score"], 100);
    assert_eq!(e["outcome"]["grade"], "excellent");
    assert_eq!(e["listened"]["enough"], false);
    let id = e["id"].as_i64().unwrap();
    // Opening again resumes the same draft, and the queue shows it.
    assert_eq!(open(&app, &insp, assignment).await["id"], id);
    let (_, queue) = get_json(&insp, &app.url("/api/me/queue")).await;
    assert_eq!(queue["items"][0]["evaluation_id"], id);

    // Work in progress is kept even when not yet submittable (no time stamped yet).
    let url = app.url(&format!("/api/evaluations/{id}"));
    let form = json!({ "deductions": [deduction("commanding_tone", &[])], "comment": "草稿" });
    let (status, saved) = put(&insp, url.clone(), json!({ "form": form, "revision": 0 })).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["revision"], 1);
    assert_eq!(saved["outcome"]["score"], 90);
    assert_eq!(saved["form"]["comment"], "草稿");
    assert!(
        saved["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["field"].as_str().unwrap().contains("times_ms"))
    );

    // A stale tab cannot overwrite newer work.
    let (status, body) = put(&insp, url.clone(), json!({ "form": {}, "revision": 0 })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), "stale_revision");
    // Nonsense is refused with what is wrong.
    let bad = json!({ "deductions": [deduction("no_such_item", &[1000])] });
    let (status, body) = put(&insp, url.clone(), json!({ "form": bad })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no_such_item")
    );
    // Said in Chinese too, for the zh-CN form: each problem and the whole.
    assert_eq!(
        body["problems"][0]["message_zh"],
        "“no_such_item”不是评分表中的项目"
    );
    assert!(
        body["message_zh"]
            .as_str()
            .unwrap()
            .contains("no_such_item"),
        "{body}"
    );
    let beyond = json!({ "deductions": [deduction("commanding_tone", &[999_000])] });
    let (status, _) = put(&insp, url.clone(), json!({ "form": beyond })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = put(&insp, url.clone(), json!({ "form": "not a form" })).await;
    assert!(status.is_client_error(), "{body}");

    let (status, again) = get_json(&insp, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["form"]["comment"], "草稿");

    // Drafts are the grader's: not the agent's, not the lead's, not another grader's.
    for who in ["agent-a1", "lead-a", "panel", "agent-b1"] {
        let c = app.login(who).await;
        let (status, _) = get_json(&c, &url).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{who} must not see a draft");
        let (status, _) = put(&c, url.clone(), json!({ "form": {} })).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{who} must not write a draft"
        );
    }
    // Nobody opens someone else's queue item.
    let lead = app.login("lead-a").await;
    let (status, _) = post(
        &lead,
        app.url(&format!("/api/assignments/{assignment}/evaluation")),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get_json(&insp, &app.url("/api/evaluations/99999")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn submitting_needs_the_call_heard(db: TestDb) {
    let app = spawn(db).await;
    let (recording, assignment) = pulled(&app, "L-1", "agent-a1", "insp").await;
    let insp = app.login("insp").await;
    let id = open(&app, &insp, assignment).await["id"].as_i64().unwrap();
    let form = json!({ "deductions": [deduction("no_service_phrases", &[30_000])] });

    let (status, body) = submit(&app, &insp, id, form.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "not_listened");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("0%") && message.contains("90%"),
        "{message}"
    );

    // Half the call (the same minute twice counts once) is still not enough.
    listen(&app, &insp, recording, 0.0, 60.0).await;
    listen(&app, &insp, recording, 0.0, 60.0).await;
    let (status, body) = submit(&app, &insp, id, form.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("50%") && message.contains("0:48"),
        "{message}"
    );
    // Someone else's listening is not the grader's.
    let sup = app.login("sup").await;
    listen(&app, &sup, recording, 0.0, 120.0).await;
    assert_eq!(
        submit(&app, &insp, id, form.clone()).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    listen(&app, &insp, recording, 60.0, 110.0).await; // 110 of 120 s: 91.7 %
    let (status, done) = submit(&app, &insp, id, form.clone()).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["status"], "submitted");
    assert_eq!(done["outcome"]["score"], 98);
    // One missed service phrase: at most fair, whatever the band (tests/it/ceilings.rs).
    assert_eq!(done["outcome"]["grade"], "fair");
    assert!(done["submitted_at"].is_string());

    // Submitted is final here (corrections are audited revisions, not draft edits).
    let (status, body) = submit(&app, &insp, id, form.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&body), "already_submitted");
    let (status, _) = put(
        &insp,
        app.url(&format!("/api/evaluations/{id}")),
        json!({ "form": {} }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // The queue item is done.
    let (_, queue) = get_json(&insp, &app.url("/api/me/queue")).await;
    assert!(queue["items"].as_array().unwrap().is_empty(), "{queue}");
    let (_, list) = get_json(&insp, &app.url("/api/evaluations?status=submitted")).await;
    assert_eq!(list["items"][0]["id"], id);
    assert_eq!(list["items"][0]["score"], 98);
}

async fn scores_and_grades_follow_the_rubric(db: TestDb) {
    let app = spawn(db).await;
    let (recording, assignment) = pulled(&app, "R-1", "agent-a1", "insp").await;
    let insp = app.login("insp").await;
    let id = open(&app, &insp, assignment).await["id"].as_i64().unwrap();
    listen(&app, &insp, recording, 0.0, 120.0).await;

    // Every deduction needs its moment in the call: that is what the agent will hear.
    let no_time = json!({ "deductions": [deduction("commanding_tone", &[])] });
    let (status, body) = submit(&app, &insp, id, no_time).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("times_ms")
    );
    // A grade other than the computed one needs a written reason.
    let no_reason =
        json!({ "deductions": [deduction("commanding_tone", &[5000])], "grade": "poor" });
    let (status, body) = submit(&app, &insp, id, no_reason).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("override_reason")
    );
    // N/A items cannot also be deducted.
    let na = json!({ "deductions": [deduction("commanding_tone", &[5000])], "not_applicable": ["commanding_tone"] });
    assert_eq!(
        submit(&app, &insp, id, na).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // 2 × 10 + 2 = 22 points: 78, fair; overridden to good with a reason, which is kept.
    let form = json!({
        "deductions": [deduction("commanding_tone", &[5000, 70_000]), deduction("no_service_phrases", &[9000])],
        "not_applicable": ["no_busy_apology"],
        "grade": "good",
        "override_reason": "the customer was abusive first",
    });
    let (status, done) = submit(&app, &insp, id, form).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["outcome"]["score"], 78);
    assert_eq!(done["outcome"]["computed_grade"], "fair");
    assert_eq!(done["outcome"]["grade"], "good");
    assert_eq!(done["outcome"]["overridden"], true);
    assert_eq!(done["override_reason"], "the customer was abusive first");

    // A critical item forces severe whatever the score.
    let rubric = get_json(&insp, &app.url("/api/rubrics/current")).await.1;
    let critical = rubric["rubric"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["critical"] == true)
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string();
    let e = graded(
        &app,
        "R-2",
        "agent-a1",
        "insp",
        json!({ "deductions": [deduction(&critical, &[1000])] }),
    )
    .await;
    assert_eq!(e["outcome"]["grade"], "severe");
    assert_eq!(e["outcome"]["critical"], true);
    assert!(e["outcome"]["score"].as_i64().unwrap() >= 60);
}

async fn poor_and_severe_calls_reach_the_agents_own_lead(db: TestDb) {
    let app = spawn(db).await;
    // 4 × 10 = 40 points: 60, poor. A fair call is not flagged.
    let four = json!({ "deductions": [deduction("commanding_tone", &[1000, 2000, 3000, 4000])] });
    let poor = graded(&app, "F-1", "agent-a1", "insp", four).await;
    assert_eq!(poor["outcome"]["grade"], "poor");
    let fair = json!({ "deductions": [deduction("commanding_tone", &[1000, 2000, 3000])] });
    graded(&app, "F-2", "agent-a2", "insp", fair).await;

    let lead_a = app.login("lead-a").await;
    let (status, flags) = get_json(&lead_a, &app.url("/api/flags")).await;
    assert_eq!(status, StatusCode::OK, "{flags}");
    let items = flags["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{flags}");
    assert_eq!(items[0]["call_id"], "F-1");
    assert_eq!(items[0]["grade"], "poor");
    assert_eq!(items[0]["overdue"], false);
    let flag = items[0]["id"].as_i64().unwrap();
    // The lead reads the submitted evaluation behind it.
    let evaluation = app.url(&format!("/api/evaluations/{}", poor["id"]));
    assert_eq!(get_json(&lead_a, &evaluation).await.0, StatusCode::OK);

    // Other team's lead, agents and inspectors do not get it.
    let lead_b = app.login("lead-b").await;
    let (_, other) = get_json(&lead_b, &app.url("/api/flags")).await;
    assert!(other["items"].as_array().unwrap().is_empty());
    let flag_url = app.url(&format!("/api/flags/{flag}"));
    assert_eq!(get_json(&lead_b, &flag_url).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        get_json(&lead_b, &evaluation).await.0,
        StatusCode::NOT_FOUND
    );
    for who in ["agent-a1", "insp"] {
        let c = app.login(who).await;
        assert_eq!(
            get_json(&c, &app.url("/api/flags")).await.0,
            StatusCode::FORBIDDEN
        );
    }

    // Untouched for longer than the configured days: overdue, for the lead and the supervisor.
    app.state.config.clock.advance(8 * DAY);
    let (_, late) = get_json(&lead_a, &app.url("/api/flags?status=overdue")).await;
    assert_eq!(late["items"][0]["id"], flag);
    assert_eq!(late["overdue"], 1);
    let sup = app.login("sup").await;
    let (_, all) = get_json(&sup, &app.url("/api/flags")).await;
    assert_eq!(all["items"][0]["overdue"], true);

    // Outcome comes after coaching.
    let outcome = json!({ "outcome": "improved", "note": "" });
    let (status, body) = post(&lead_a, format!("{flag_url}/outcome"), outcome.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let bad = json!({ "held_on": "2026-13-01", "discussed": "x", "action": "y" });
    assert_eq!(
        post(&lead_a, format!("{flag_url}/coaching"), bad).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let session = json!({ "held_on": "2026-11-27", "discussed": "语气问题", "action": "listen to two calls of a senior agent" });
    let (status, coached) = post(&lead_a, format!("{flag_url}/coaching"), session).await;
    assert_eq!(status, StatusCode::CREATED, "{coached}");
    assert_eq!(coached["status"], "coached");
    assert_eq!(coached["overdue"], false);
    assert_eq!(coached["coaching"][0]["discussed"], "语气问题");
    assert_eq!(coached["coaching"][0]["coach"], "lead-a");
    // The agent reads the record of the session (no grade in it) and acknowledges it;
    // another agent finds nothing, and leads do not acknowledge for them.
    let agent = app.login("agent-a1").await;
    let (status, mine) = get_json(&agent, &app.url("/api/me/coaching")).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["unacknowledged"], 1);
    let record = &mine["items"][0];
    assert_eq!(record["call_id"], "F-1");
    assert_eq!(record["discussed"], "语气问题");
    assert_eq!(record["coach"], "Lead Wang");
    assert!(
        record.get("grade").is_none() && record["acknowledged_at"].is_null(),
        "{record}"
    );
    let ack_url = app.url(&format!("/api/me/coaching/{}/acknowledge", record["id"]));
    let other = app.login("agent-a2").await;
    assert_eq!(
        post(&other, ack_url.clone(), json!({})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(&lead_a, ack_url.clone(), json!({})).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, acked) = post(&agent, ack_url.clone(), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{acked}");
    assert!(acked["acknowledged_at"].is_string());
    let (_, again) = post(&agent, ack_url, json!({})).await;
    assert_eq!(
        again["acknowledged_at"], acked["acknowledged_at"],
        "the first counts"
    );
    let (_, mine) = get_json(&agent, &app.url("/api/me/coaching")).await;
    assert_eq!(mine["unacknowledged"], 0);
    let (_, theirs) = get_json(&other, &app.url("/api/me/coaching")).await;
    assert_eq!(theirs["items"], json!([]));
    let (status, closed) = post(&lead_a, format!("{flag_url}/outcome"), outcome).await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["outcome"], "improved");
    let (_, pending) = get_json(&lead_a, &app.url("/api/flags")).await;
    assert!(pending["items"].as_array().unwrap().is_empty());
    let (_, every) = get_json(&lead_a, &app.url("/api/flags?status=all")).await;
    assert_eq!(every["items"].as_array().unwrap().len(), 1);
}

async fn agents_see_their_evaluations_only_once_published(db: TestDb) {
    let app = spawn(db).await;
    let e = graded(&app, "P-1", "agent-a1", "insp", json!({})).await;
    let url = app.url(&format!("/api/evaluations/{}", e["id"]));
    let agent = app.login("agent-a1").await;
    let other = app.login("agent-b1").await;
    assert_eq!(get_json(&agent, &url).await.0, StatusCode::NOT_FOUND);
    let (_, list) = get_json(&agent, &app.url("/api/evaluations")).await;
    assert!(list["items"].as_array().unwrap().is_empty());
    // The panel hears appeals: it reads submitted evaluations.
    let panel = app.login("panel").await;
    assert_eq!(get_json(&panel, &url).await.0, StatusCode::OK);

    let sup = app.login("sup").await;
    let (status, body) = post(&sup, app.url("/api/months/2026-11/publish"), json!({})).await;
    assert!(status.is_success(), "{body}");
    let (status, mine) = get_json(&agent, &url).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["outcome"]["score"], 100);
    assert!(mine.get("listened").is_none());
    let (_, list) = get_json(&agent, &app.url("/api/evaluations")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // Never someone else's.
    assert_eq!(get_json(&other, &url).await.0, StatusCode::NOT_FOUND);
    let (_, theirs) = get_json(&other, &app.url("/api/evaluations?agent=agent-a1")).await;
    assert!(theirs["items"].as_array().unwrap().is_empty());
}

async fn rubric_edits_make_new_versions(db: TestDb) {
    let app = spawn(db).await;
    let (_, assignment) = pulled(&app, "V-1", "agent-a1", "insp").await;
    let insp = app.login("insp").await;
    let before = open(&app, &insp, assignment).await;

    let agent = app.login("agent-a1").await;
    let (status, current) = get_json(&agent, &app.url("/api/rubrics/current")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(current["version"], 1);
    let rubric = &current["rubric"];
    let labels: Vec<&str> = rubric["grades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["label_zh"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["优", "良", "中", "差", "劣"]);
    assert_eq!(
        rubric["bands"],
        json!({ "excellent": 90, "good": 80, "fair": 70, "poor": 60 })
    );

    let mut edited = rubric.clone();
    edited["items"][0]["points"] = json!(12);
    let (status, _) = post(&insp, app.url("/api/rubrics"), json!({ "rubric": edited })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let sup = app.login("sup").await;
    let mut broken = edited.clone();
    broken["bands"]["good"] = json!(95);
    let (status, body) = post(&sup, app.url("/api/rubrics"), json!({ "rubric": broken })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "invalid_rubric");
    let (status, v2) = post(&sup, app.url("/api/rubrics"), json!({ "rubric": edited })).await;
    assert_eq!(status, StatusCode::CREATED, "{v2}");
    assert_eq!(v2["version"], 2);
    let (_, versions) = get_json(&sup, &app.url("/api/rubrics")).await;
    assert_eq!(versions["items"].as_array().unwrap().len(), 2);

    // The open draft keeps version 1; a newly opened one gets version 2.
    assert_eq!(
        open(&app, &insp, assignment).await["rubric_id"],
        before["rubric_id"]
    );
    let (_, second) = pulled(&app, "V-2", "agent-a1", "insp").await;
    let after = open(&app, &insp, second).await;
    assert_eq!(after["rubric_id"], v2["id"]);
    let old = get_json(
        &insp,
        &app.url(&format!("/api/rubrics/{}", before["rubric_id"])),
    )
    .await
    .1;
    assert_eq!(old["version"], 1);
}

async fn calibration_is_blind_until_each_has_submitted(db: TestDb) {
    let app = spawn(db).await;
    let ids = insert(&app, &[call("K-1", "agent-b1", at("2026-11-18 11:00"))]).await;
    let recording = ids["K-1"];
    let sup = app.login("sup").await;
    let insp = app.login("insp").await;
    let (status, _) = post(
        &insp,
        app.url("/api/calibrations"),
        json!({ "title": "x", "call_id": "K-1", "graders": ["insp", "lead-a"] }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = post(
        &sup,
        app.url("/api/calibrations"),
        json!({ "title": "x", "call_id": "K-1", "graders": ["insp", "agent-a1"] }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, session) = post(
        &sup,
        app.url("/api/calibrations"),
        json!({ "title": "November calibration", "call_id": "K-1", "graders": ["insp", "lead-a"], "expert": "lead-b" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert_eq!(session["participants"], 3);
    let sid = session["id"].as_i64().unwrap();
    let url = app.url(&format!("/api/calibrations/{sid}"));

    // Outsiders do not see it; a participant sees only their own part before submitting.
    let agent = app.login("agent-b1").await;
    assert_eq!(get_json(&agent, &url).await.0, StatusCode::NOT_FOUND);
    let grades = [("insp", 2), ("lead-a", 4), ("lead-b", 1)];
    let mut evaluations = Vec::new();
    for (who, _) in grades {
        let c = app.login(who).await;
        let (status, view) = get_json(&c, &url).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        assert_eq!(view["revealed"], false);
        let id = view["my_evaluation_id"].as_i64().unwrap();
        evaluations.push((c, id));
    }
    let (insp_c, insp_eval) = &evaluations[0];
    let (status, body) = get_json(insp_c, &format!("{url}/report")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Someone else's grading cannot be read directly either.
    let (lead_c, lead_eval) = &evaluations[1];
    assert_eq!(
        get_json(insp_c, &app.url(&format!("/api/evaluations/{lead_eval}")))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    for ((client, id), (who, tones)) in evaluations.iter().zip(grades) {
        listen(&app, client, recording, 0.0, 120.0).await;
        let times: Vec<i64> = (0..tones).map(|i| 1000 + i * 1000).collect();
        let form = json!({ "deductions": [deduction("commanding_tone", &times)] });
        let (status, body) = submit(&app, client, *id, form).await;
        assert_eq!(status, StatusCode::OK, "{who}: {body}");
        if who == "insp" {
            // Submitted: insp now sees the session, but not lead-a's grade, still a draft.
            let (_, view) = get_json(insp_c, &url).await;
            assert_eq!(view["revealed"], true);
            let lead = view["gradings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["username"] == "lead-a")
                .unwrap();
            assert!(lead["grade"].is_null());
        }
    }
    let _ = (insp_eval, lead_c);

    let (status, report) = get_json(&sup, &format!("{url}/report")).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let summary = &report["summary"];
    assert_eq!(summary["reference"], "expert");
    assert_eq!(summary["reference_score"], 90.0);
    assert_eq!(summary["score_min"], 60);
    assert_eq!(summary["score_max"], 90);
    let deviations = report["deviations"].as_array().unwrap();
    assert_eq!(deviations.len(), 2);
    let lead_a = deviations.iter().find(|d| d["grader"] == "lead-a").unwrap();
    assert_eq!(lead_a["score_diff"], -30.0);
    assert_eq!(lead_a["grade_steps"], 3);
    // Calibration gradings are exercises: no flag for lead-a's "poor".
    let (_, flags) = get_json(&sup, &app.url("/api/flags?status=all")).await;
    assert!(flags["items"].as_array().unwrap().is_empty());

    let (status, agreement) = get_json(&sup, &app.url("/api/calibrations/agreement")).await;
    assert_eq!(status, StatusCode::OK, "{agreement}");
    let all = &agreement["groups"][0];
    assert_eq!(all["group"], "all");
    assert_eq!(all["sessions"], 1);
    assert_eq!(all["gradings"], 3);
    assert_eq!(
        get_json(&insp, &app.url("/api/calibrations/agreement"))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

async fn a_poor_grade_puts_the_agent_under_focus_next_month(db: TestDb) {
    let app = spawn(db).await;
    app.state.config.clock.set(at("2026-10-20 10:00"));
    let ids = insert(&app, &[call("O-1", "agent-a1", at("2026-10-12 10:00"))]).await;
    // A routine pull (no complaint): only the grade can make agent-a1 a problem agent.
    let insp = app.login("insp").await;
    let (status, pull) = post(
        &insp,
        app.url("/api/pulls"),
        json!({ "call_id": "O-1", "reason": "coaching sample", "complaint": false }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{pull}");
    let e = open(&app, &insp, pull["assignment_id"].as_i64().unwrap()).await;
    listen(&app, &insp, ids["O-1"], 0.0, 120.0).await;
    let times = [1000, 2000, 3000, 4000];
    let form = json!({ "deductions": [deduction("commanding_tone", &times)] });
    let (status, done) = submit(&app, &insp, e["id"].as_i64().unwrap(), form).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["outcome"]["grade"], "poor");

    app.state.config.clock.set(at("2026-11-02 12:00"));
    let (qa, _) = defaults(&app, "2026-11").await;
    let sup = app.login("sup").await;
    let (_, progress) = get_json(&sup, &app.url(&format!("/api/plans/{qa}/progress"))).await;
    let agent = |name: &str| {
        progress["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["agent"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(agent("agent-a1")["target"], 20, "{progress}");
    assert_eq!(agent("agent-a1")["focus_reason"], "problem");
    assert_eq!(agent("agent-b1")["target"], 10);
}

/// The usernames a picker's list offers.
async fn offered(client: &reqwest::Client, url: String) -> Vec<String> {
    let (status, body) = get_json(client, &url).await;
    assert_eq!(status, StatusCode::OK, "{url}: {body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert!(p["name"].is_string() && p["role"].is_string(), "{p}");
            p["username"].as_str().unwrap().to_string()
        })
        .collect()
}

/// Pickers offer exactly the people who may take the work: a pull of team A's call goes
/// to an inspector or team A's lead, never team B's; a calibration takes inspectors, leads
/// and supervisors; agents and the panel are offered nothing to pull.
async fn pickers_offer_only_who_may_take_the_work(db: TestDb) {
    let app = spawn(db).await;
    let ids = insert(&app, &[call("P-1", "agent-a1", at("2026-11-18 09:30"))]).await;
    let pull_url = app.url(&format!("/api/pulls/graders?recording_id={}", ids["P-1"]));
    let sup = app.login("sup").await;
    let mut people = offered(&sup, pull_url.clone()).await;
    people.sort();
    assert_eq!(people, ["insp", "lead-a"]);
    // A lead of another team does not see the call at all.
    let (status, _) = get_json(&app.login("lead-b").await, &pull_url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for who in ["agent-a1", "panel"] {
        let (status, _) = get_json(&app.login(who).await, &pull_url).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
    }
    let (status, body) = get_json(&sup, &app.url("/api/pulls/graders")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = get_json(&sup, &app.url("/api/pulls/graders?recording_id=999999")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let calibration = offered(&sup, app.url("/api/calibrations/graders")).await;
    for who in ["insp", "lead-a", "lead-b", "sup"] {
        assert!(
            calibration.contains(&who.to_string()),
            "{who}: {calibration:?}"
        );
    }
    assert!(
        !calibration
            .iter()
            .any(|p| p.starts_with("agent") || p == "panel")
    );
    let (status, _) = get_json(
        &app.login("insp").await,
        &app.url("/api/calibrations/graders"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
