//! Blind means blind: while someone has an unsubmitted blind task on a call (a re-grade for an
//! appeal, a calibration grading), no route shows them anybody else's comments, evaluations
//! or drafts of that call, supervisors included; once they have submitted, the normal rules
//! apply again.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::grading::{graded, listen, open};
use crate::helpers::{TestApp, TestDb, get_json};
use crate::sampling::{at, post};

both_backends!(
    a_regrader_sees_nothing_of_the_first_grading_until_submitting,
    a_calibration_participant_reads_no_other_grading_until_submitting,
);

/// A poor grade of `call_id` (agent-a1's) by the inspector, who also leaves a comment on the
/// call; returns (evaluation id, recording id).
async fn poor_with_comment(app: &TestApp, call_id: &str) -> (i64, i64) {
    let form = json!({ "deductions": [
        { "item": "commanding_tone", "occurrences": 4, "times_ms": [5_000, 20_000, 40_000, 61_000], "note": "impatient" }
    ] });
    let e = graded(app, call_id, "agent-a1", "insp", form).await;
    assert_eq!(e["outcome"]["grade"], "poor", "{e}");
    let recording = e["recording_id"].as_i64().unwrap();
    let insp = app.login("insp").await;
    comment(app, &insp, recording, "语气生硬 (Inspector Liu)").await;
    (e["id"].as_i64().unwrap(), recording)
}

async fn comment(app: &TestApp, c: &reqwest::Client, recording: i64, text: &str) {
    let url = app.url(&format!("/api/recordings/{recording}/comments"));
    let (status, body) = post(c, url, json!({ "at_ms": 5_000, "text": text })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// The authors of the comments `c` sees on a recording.
async fn comment_authors(app: &TestApp, c: &reqwest::Client, recording: i64) -> Vec<String> {
    let url = app.url(&format!("/api/recordings/{recording}/comments"));
    let (status, body) = get_json(c, &url).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["author"].as_str().unwrap().to_string())
        .collect()
}

async fn status_of(app: &TestApp, c: &reqwest::Client, path: &str) -> StatusCode {
    get_json(c, &app.url(path)).await.0
}

/// The evaluation ids `c` finds in the evaluations list.
async fn listed(app: &TestApp, c: &reqwest::Client) -> Vec<i64> {
    let (status, body) = get_json(c, &app.url("/api/evaluations?limit=1000")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    ids(&body)
}

fn ids(body: &Value) -> Vec<i64> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

async fn submit(app: &TestApp, c: &reqwest::Client, evaluation: i64) {
    let (status, body) = post(
        c,
        app.url(&format!("/api/evaluations/{evaluation}/submit")),
        json!({ "form": { "deductions": [] } }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn add_inspector(app: &TestApp, username: &str) {
    let roster = format!(
        "username,name,role,team,hire_date,password\n{username},Inspector Two,inspector,,2021-01-01,pw-{username}1234\n"
    );
    let people = callgrade::org::parse_roster(roster.as_bytes()).unwrap();
    callgrade::org::import_roster(&app.state.db, &people)
        .await
        .unwrap();
}

/// Publishes November and has agent-a1 appeal `evaluation`; returns the appeal id.
async fn published_and_appealed(app: &TestApp, evaluation: i64) -> i64 {
    app.config.clock.set(at("2026-12-01 09:00"));
    let sup = app.login("sup").await;
    let (status, body) = post(&sup, app.url("/api/months/2026-11/publish"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let agent = app.login("agent-a1").await;
    let (status, body) = post(
        &agent,
        app.url(&format!("/api/evaluations/{evaluation}/appeals")),
        json!({ "reason": "my tone was fine", "deductions": [] }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

async fn a_regrader_sees_nothing_of_the_first_grading_until_submitting(db: TestDb) {
    let app = crate::grading::spawn(db).await;
    add_inspector(&app, "insp2").await;
    let (original, recording) = poor_with_comment(&app, "B-1").await;
    let appeal = published_and_appealed(&app, original).await;
    let panel = app.login("panel").await;
    let (status, body) = post(
        &panel,
        app.url(&format!("/api/appeals/{appeal}/regrade")),
        json!({ "grader": "insp2" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let insp2 = app.login("insp2").await;
    let (_, q) = get_json(&insp2, &app.url("/api/me/queue")).await;
    let assignment = q["items"][0]["assignment_id"].as_i64().unwrap();
    let regrade = open(&app, &insp2, assignment).await["id"].as_i64().unwrap();
    // The first grader's pinned comment (with her name) is not on the re-grader's waveform;
    // the re-grader's own notes are.
    assert_eq!(
        comment_authors(&app, &insp2, recording).await,
        Vec::<String>::new()
    );
    comment(&app, &insp2, recording, "my own note").await;
    assert_eq!(
        comment_authors(&app, &insp2, recording).await,
        vec!["insp2"]
    );
    // Nor the first grading, by id, its history or the list.
    assert_eq!(
        status_of(&app, &insp2, &format!("/api/evaluations/{original}")).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status_of(
            &app,
            &insp2,
            &format!("/api/evaluations/{original}/revisions")
        )
        .await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(listed(&app, &insp2).await, vec![regrade]);
    assert_eq!(
        status_of(&app, &insp2, &format!("/api/appeals/{appeal}")).await,
        StatusCode::NOT_FOUND
    );

    // Submitted: the normal rules again. Comments are for every assessor; another
    // inspector's grading stays the other's.
    listen(&app, &insp2, recording, 0.0, 120.0).await;
    submit(&app, &insp2, regrade).await;
    let mut authors = comment_authors(&app, &insp2, recording).await;
    authors.sort();
    assert_eq!(authors, vec!["insp", "insp2"]);
    assert_eq!(
        status_of(&app, &insp2, &format!("/api/evaluations/{original}")).await,
        StatusCode::NOT_FOUND
    );
    // The panel sees the re-grade beside the original, as before.
    let (status, detail) = get_json(&panel, &app.url(&format!("/api/appeals/{appeal}"))).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["evaluation"]["id"], original);
    assert_eq!(detail["regrade_evaluation"]["id"], regrade);
}

async fn a_calibration_participant_reads_no_other_grading_until_submitting(db: TestDb) {
    let app = crate::grading::spawn(db).await;
    let (qa, recording) = poor_with_comment(&app, "B-2").await;
    let lead = app.login("lead-a").await;
    let (_, flags) = get_json(&lead, &app.url("/api/flags")).await;
    let flag = flags["items"][0]["id"].as_i64().unwrap();
    assert_eq!(flags["items"][0]["evaluation_id"], qa);
    comment(&app, &lead, recording, "coach on tone").await;
    let appeal = published_and_appealed(&app, qa).await;
    let sup = app.login("sup").await;
    // Before the session, the supervisor and the lead read all of it.
    assert_eq!(
        status_of(&app, &sup, &format!("/api/evaluations/{qa}")).await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&app, &sup, &format!("/api/appeals/{appeal}")).await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&app, &lead, &format!("/api/evaluations/{qa}")).await,
        StatusCode::OK
    );

    let (status, session) = post(
        &sup,
        app.url("/api/calibrations"),
        json!({ "title": "tone", "call_id": "B-2", "graders": ["sup", "lead-a", "insp"] }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let session = session["id"].as_i64().unwrap();
    let session_url = format!("/api/calibrations/{session}");
    let mine = |c: reqwest::Client| {
        let app = &app;
        let url = app.url(&session_url);
        async move {
            get_json(&c, &url).await.1["my_evaluation_id"]
                .as_i64()
                .unwrap()
        }
    };
    let insp = app.login("insp").await;
    let insp_grading = mine(insp.clone()).await;
    let sup_grading = mine(sup.clone()).await;
    let lead_grading = mine(lead.clone()).await;
    // The inspector heard the call for the QA grading; she submits hers first.
    submit(&app, &insp, insp_grading).await;

    // The supervisor grades in the session and has not submitted: another participant's
    // grading by id, the call's QA evaluation, its history, the list, the appeal, the flag,
    // the others' comments: all as if they did not exist.
    for path in [
        format!("/api/evaluations/{insp_grading}"),
        format!("/api/evaluations/{lead_grading}"),
        format!("/api/evaluations/{qa}"),
        format!("/api/evaluations/{qa}/revisions"),
        format!("/api/appeals/{appeal}"),
        format!("/api/flags/{flag}"),
    ] {
        assert_eq!(
            status_of(&app, &sup, &path).await,
            StatusCode::NOT_FOUND,
            "sup {path}"
        );
    }
    assert!(!listed(&app, &sup).await.contains(&qa));
    let (_, appeals) = get_json(&sup, &app.url("/api/appeals?status=all")).await;
    assert!(!ids(&appeals).contains(&appeal), "{appeals}");
    let (_, flags) = get_json(&sup, &app.url("/api/flags?status=all")).await;
    assert!(!ids(&flags).contains(&flag), "{flags}");
    assert_eq!(
        comment_authors(&app, &sup, recording).await,
        Vec::<String>::new()
    );
    // The session itself shows who has submitted, not what.
    let (_, detail) = get_json(&sup, &app.url(&session_url)).await;
    assert_eq!(detail["revealed"], false);
    for g in detail["gradings"].as_array().unwrap() {
        assert!(g["grade"].is_null() && g["score"].is_null(), "{g}");
    }
    assert_eq!(
        status_of(&app, &sup, &format!("{session_url}/report")).await,
        StatusCode::FORBIDDEN
    );
    // The lead, also grading, no longer sees the team's QA evaluation or its flag.
    for path in [
        format!("/api/evaluations/{qa}"),
        format!("/api/flags/{flag}"),
    ] {
        assert_eq!(
            status_of(&app, &lead, &path).await,
            StatusCode::NOT_FOUND,
            "lead {path}"
        );
    }
    let (_, flags) = get_json(&lead, &app.url("/api/flags?status=all")).await;
    assert!(!ids(&flags).contains(&flag), "{flags}");
    assert_eq!(
        comment_authors(&app, &lead, recording).await,
        vec!["lead-a"]
    );

    // The supervisor submits: everything is readable again, the others' gradings included.
    listen(&app, &sup, recording, 0.0, 120.0).await;
    submit(&app, &sup, sup_grading).await;
    for path in [
        format!("/api/evaluations/{insp_grading}"),
        format!("/api/evaluations/{lead_grading}"),
        format!("/api/evaluations/{qa}"),
        format!("/api/appeals/{appeal}"),
        format!("/api/flags/{flag}"),
        format!("{session_url}/report"),
    ] {
        assert_eq!(
            status_of(&app, &sup, &path).await,
            StatusCode::OK,
            "sup {path}"
        );
    }
    assert!(listed(&app, &sup).await.contains(&qa));
    assert_eq!(comment_authors(&app, &sup, recording).await.len(), 2);
    // The lead has not: still blind, whatever the supervisor did.
    assert_eq!(
        status_of(&app, &lead, &format!("/api/evaluations/{qa}")).await,
        StatusCode::NOT_FOUND
    );
    listen(&app, &lead, recording, 0.0, 120.0).await;
    submit(&app, &lead, lead_grading).await;
    assert_eq!(
        status_of(&app, &lead, &format!("/api/evaluations/{qa}")).await,
        StatusCode::OK
    );
    assert_eq!(
        status_of(&app, &lead, &format!("/api/flags/{flag}")).await,
        StatusCode::OK
    );
    assert_eq!(comment_authors(&app, &lead, recording).await.len(), 2);
}
