//! Results a center can sign: only the meant evaluations feed score and pay (the QA plan's,
//! pulls a supervisor chose to count; never a lead's spot-check), a published month stays
//! shut (its ungraded work closed, nothing submitted or pulled into it), a decided appeal
//! is final, and a score computation that fails is retried until it succeeds.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::grading::{listen, open, pulled_with, spawn};
use crate::helpers::{TestApp, TestDb, code, get_json};
use crate::sampling::{at, call, defaults, insert, post};
use crate::scores::{row, scores_of};

both_backends!(
    only_the_qa_plan_and_counting_pulls_feed_score_and_pay,
    a_published_month_stays_shut,
    a_decided_appeal_is_final_unless_the_policy_says_otherwise,
    a_failed_score_computation_is_retried_until_it_succeeds,
    pay_settings_out_of_range_are_refused,
);

/// The handbook's worked pay example: 3 excellent, 4 good, 2 fair, 1 poor pay
/// 3×50 + 4×30 + 0 − 10 = 260.
pub const WORKED_EXAMPLE: [&str; 10] = [
    "excellent",
    "excellent",
    "excellent",
    "good",
    "good",
    "good",
    "good",
    "fair",
    "fair",
    "poor",
];

/// A form of the default rubric that grades `grade` (10 points per commanding tone; the
/// critical rude attitude for severe).
pub fn form_for(grade: &str) -> Value {
    let tone = |n: usize| {
        json!({ "deductions": [{ "item": "commanding_tone", "occurrences": n,
                                 "times_ms": (0..n).map(|i| 1_000 + i as i64 * 1_000).collect::<Vec<_>>() }] })
    };
    match grade {
        "excellent" => json!({}),
        "good" => tone(2),
        "fair" => tone(3),
        "poor" => tone(4),
        "severe" => {
            json!({ "deductions": [{ "item": "rude_attitude", "occurrences": 1, "times_ms": [2_000] }] })
        }
        other => panic!("no form for {other}"),
    }
}

/// When every week of November 2026 has frozen (the last ends with the month, plus the 24 h
/// grace period).
const ALL_FROZEN: &str = "2026-12-02 01:00";

/// November's calls for `agent`, as many per week as the QA plan's quota for 10 (3, 2, 2, 3),
/// so the plan samples every one of them.
fn month_of_calls(agent: &'static str, prefix: &str) -> Vec<crate::sampling::Call> {
    let days = [
        "2026-11-02",
        "2026-11-03",
        "2026-11-04",
        "2026-11-09",
        "2026-11-10",
        "2026-11-16",
        "2026-11-17",
        "2026-11-23",
        "2026-11-24",
        "2026-11-25",
    ];
    days.iter()
        .enumerate()
        .map(|(i, d)| call(format!("{prefix}-{i}"), agent, at(&format!("{d} 10:00"))))
        .collect()
}

/// Opens a queue item as `grader`, listens to the whole call and submits `form`.
async fn grade_item(app: &TestApp, grader: &reqwest::Client, item: &Value, form: Value) -> Value {
    let e = open(app, grader, item["assignment_id"].as_i64().unwrap()).await;
    listen(
        app,
        grader,
        item["recording_id"].as_i64().unwrap(),
        0.0,
        120.0,
    )
    .await;
    let (status, body) = post(
        grader,
        app.url(&format!("/api/evaluations/{}/submit", e["id"])),
        json!({ "form": form }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn queue_of(app: &TestApp, client: &reqwest::Client) -> Vec<Value> {
    let (status, body) = get_json(client, &app.url("/api/me/queue")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

/// The default plans for November, every week frozen and drawn: each agent in `agents` has
/// a month of calls, all sampled by the QA plan into the inspector's queue and by the
/// team-lead plan into their lead's. Leaves the clock at [`ALL_FROZEN`].
pub async fn drawn_month(app: &TestApp, agents: &[&'static str]) -> (i64, i64) {
    let mut calls = Vec::new();
    for agent in agents {
        calls.extend(month_of_calls(agent, &format!("M-{agent}")));
    }
    insert(app, &calls).await;
    let (qa, lead) = defaults(app, "2026-11").await;
    app.config.clock.set(at(ALL_FROZEN));
    let sup = app.login("sup").await;
    for plan in [qa, lead] {
        let (status, body) =
            post(&sup, app.url(&format!("/api/plans/{plan}/draw")), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    (qa, lead)
}

/// Grades the QA plan's samples of `agent` in the inspector's queue with `grades` (one per
/// sample, in queue order); returns the evaluation ids.
pub async fn qa_graded(app: &TestApp, agent: &str, grades: &[&str]) -> Vec<i64> {
    let insp = app.login("insp").await;
    let items: Vec<Value> = queue_of(app, &insp)
        .await
        .into_iter()
        .filter(|i| i["agent"] == agent && i["plan_name"] == "QA monthly evaluation")
        .collect();
    assert_eq!(items.len(), grades.len(), "{agent}'s QA samples");
    let mut ids = Vec::new();
    for (item, g) in items.iter().zip(grades) {
        assert_eq!(item["counts"], true, "the QA plan's samples count: {item}");
        let e = grade_item(app, &insp, item, form_for(g)).await;
        assert_eq!(e["outcome"]["grade"], *g, "{e}");
        ids.push(e["id"].as_i64().unwrap());
    }
    ids
}

pub async fn publish(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let sup = app.login("sup").await;
    post(&sup, app.url("/api/months/2026-11/publish"), body).await
}

async fn only_the_qa_plan_and_counting_pulls_feed_score_and_pay(db: TestDb) {
    let app = spawn(db).await;
    let (qa, lead_plan) = drawn_month(&app, &["agent-a1"]).await;
    let sup = app.login("sup").await;
    let (_, plan) = get_json(&sup, &app.url(&format!("/api/plans/{qa}"))).await;
    assert_eq!(plan["counts"], true, "{plan}");
    let (_, plan) = get_json(&sup, &app.url(&format!("/api/plans/{lead_plan}"))).await;
    assert_eq!(
        plan["counts"], false,
        "a lead's spot-check is monitoring: {plan}"
    );

    // Ten QA evaluations: 3 excellent, 4 good, 2 fair, 1 poor pay 3×50 + 4×30 + 0 − 10 = 260.
    let grades = WORKED_EXAMPLE;
    qa_graded(&app, "agent-a1", &grades).await;
    // The lead spot-checks five of the same calls and finds them poor: coaching material,
    // not pay.
    let lead = app.login("lead-a").await;
    let spot: Vec<Value> = queue_of(&app, &lead).await;
    assert!(spot.iter().all(|i| i["counts"] == false), "{spot:?}");
    for item in spot.iter().take(5) {
        grade_item(&app, &lead, item, form_for("poor")).await;
    }
    // A pull that does not count (the default, even from a supervisor) and one the
    // supervisor decided counts; an inspector may not make a pull count.
    let insp = app.login("insp").await;
    let (_, quiet) = pulled_with(&app, "Q-1", "agent-a1", "insp", false).await;
    let (_, counted) = pulled_with(&app, "Q-2", "agent-a1", "insp", true).await;
    let (status, body) = post(
        &insp,
        app.url("/api/pulls"),
        json!({ "call_id": "Q-1", "reason": "again", "counts": true }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let items = queue_of(&app, &insp).await;
    let item = |id: i64| {
        items
            .iter()
            .find(|i| i["assignment_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(item(quiet)["counts"], false);
    assert_eq!(item(counted)["counts"], true);
    let e = grade_item(&app, &insp, &item(quiet), form_for("severe")).await;
    assert_eq!(e["counts"], false, "{e}");
    let e = grade_item(&app, &insp, &item(counted), form_for("excellent")).await;
    assert_eq!(e["counts"], true, "{e}");

    let (status, body) = publish(&app, json!({ "confirm": true })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let s = scores_of(&app, "sup").await;
    let a1 = row(&s, "agent-a1");
    // 260 + 50 for the counting pull; the severe pull and the poor spot-checks change
    // nothing (a severe that counted would cancel the whole month's pay).
    assert_eq!(a1["evaluations"], 11, "{a1}");
    assert_eq!(a1["evaluations_not_counted"], 6, "{a1}");
    assert_eq!(a1["pay"], 310, "{a1}");
    assert_eq!(a1["pay_cancelled_by_severe"], false);
    // (3×100 + 4×80 + 2×70 + 60 + 100) / 11.
    assert_eq!(a1["service_quality"], 83.64, "{a1}");
    // Without the imported components there is no overall score and no level yet.
    assert_eq!(a1["complete"], false);
    assert_eq!(a1["overall"], Value::Null);
    assert_eq!(a1["level"], Value::Null);
    assert!(a1["missing"].as_array().unwrap().len() == 7, "{a1}");

    // The reports use the same evaluations.
    let (_, payroll) = get_json(&sup, &app.url("/api/reports/payroll?month=2026-11")).await;
    let columns: Vec<&str> = payroll["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    let cell = |key: &str| {
        let i = columns.iter().position(|c| *c == key).unwrap();
        payroll["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r[0] == "agent-a1")
            .unwrap()[i]
            .clone()
    };
    assert_eq!(cell("evaluations").as_f64(), Some(11.0));
    assert_eq!(cell("uncounted").as_f64(), Some(6.0));
    assert_eq!(cell("pay").as_f64(), Some(310.0));
    assert_eq!(
        cell("overall"),
        Value::Null,
        "no overall score while incomplete"
    );
    assert_eq!(cell("level"), "incomplete");
    assert!(cell("missing").as_str().unwrap().contains("business_exam"));
    let (_, grades_report) = get_json(&sup, &app.url("/api/reports/grades?month=2026-11")).await;
    let total: f64 = grades_report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().last().unwrap().as_f64().unwrap())
        .sum();
    assert_eq!(
        total, 11.0,
        "the grade report counts the counting evaluations"
    );

    // The agent sees every evaluation, each saying whether it counts.
    let agent = app.login("agent-a1").await;
    let (_, month) = get_json(&agent, &app.url("/api/me/months/2026-11")).await;
    let evaluations = month["evaluations"].as_array().unwrap();
    assert_eq!(evaluations.len(), 17);
    assert_eq!(
        evaluations.iter().filter(|e| e["counts"] == true).count(),
        11
    );
    assert_eq!(month["evaluations_counted"], 11);
    assert_eq!(month["ack_required"], true);

    // With every component imported the month is complete and has a level.
    let csv: String = std::iter::once("agent,month,component,points".to_string())
        .chain(
            [
                "business_exam",
                "customer_satisfaction",
                "daily_checks",
                "peer_review",
                "etiquette",
                "overall_ability",
                "call_volume",
            ]
            .iter()
            .map(|c| format!("agent-a1,2026-11,{c},1000")),
        )
        .collect::<Vec<_>>()
        .join("\n");
    let resp = sup
        .post(app.url("/api/components/import"))
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{}",
        resp.text().await.unwrap()
    );
    let s = scores_of(&app, "sup").await;
    let a1 = row(&s, "agent-a1");
    assert_eq!(a1["complete"], true, "{a1}");
    assert!(a1["overall"].is_number(), "{a1}");
    assert_eq!(a1["level"], "one", "{a1}");
    assert_eq!(a1["missing"], json!([]));
}

async fn a_published_month_stays_shut(db: TestDb) {
    let app = spawn(db).await;
    // A draft begun and a call not opened at all when the month is published.
    let (_, drafted) = pulled_with(&app, "S-1", "agent-a1", "insp", true).await;
    let (_, untouched) = pulled_with(&app, "S-2", "agent-a1", "insp", true).await;
    let insp = app.login("insp").await;
    let draft = open(&app, &insp, drafted).await;
    listen(
        &app,
        &insp,
        draft["recording_id"].as_i64().unwrap(),
        0.0,
        120.0,
    )
    .await;

    app.config.clock.set(at("2026-12-01 09:00"));
    let (status, body) = publish(&app, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), "unfinished_evaluations");
    assert_eq!(body["unfinished"]["count"], 2);
    let (status, body) = publish(&app, json!({ "confirm": true })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = scores_of(&app, "sup").await;

    // The work is still there, marked closed by publication, for grader and supervisor.
    let items = queue_of(&app, &insp).await;
    for id in [drafted, untouched] {
        let item = items.iter().find(|i| i["assignment_id"] == id).unwrap();
        assert_eq!(item["closed_by_publication"], true, "{item}");
        assert!(item["closed_at"].is_string(), "{item}");
        assert_eq!(item["overdue"], false, "{item}");
    }
    let sup = app.login("sup").await;
    let (_, preview) = get_json(&sup, &app.url("/api/months/2026-11/publication")).await;
    assert_eq!(preview["unfinished"]["count"], 0, "{preview}");
    assert_eq!(preview["closed_by_publication"]["count"], 2, "{preview}");

    // Nothing more goes into the month: not the draft, not a new evaluation, not a pull.
    let (status, body) = post(
        &insp,
        app.url(&format!("/api/evaluations/{}/submit", draft["id"])),
        json!({ "form": {} }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), "month_published");
    let (status, body) = post(
        &insp,
        app.url(&format!("/api/assignments/{untouched}/evaluation")),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), "month_published");
    insert(&app, &[call("S-3", "agent-a1", at("2026-11-19 10:00"))]).await;
    let (status, body) = post(
        &sup,
        app.url("/api/pulls"),
        json!({ "call_id": "S-3", "reason": "late complaint", "grader": "insp", "counts": true }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), "month_published");

    // Nothing changed: the agent's month, its scores, their history.
    let after = scores_of(&app, "sup").await;
    assert_eq!(after["versions"], before["versions"]);
    assert_eq!(row(&after, "agent-a1"), row(&before, "agent-a1"));
    let agent = app.login("agent-a1").await;
    let (_, month) = get_json(&agent, &app.url("/api/me/months/2026-11")).await;
    assert_eq!(month["evaluations"], json!([]), "{month}");
    // With no counting evaluation there is nothing to acknowledge.
    assert_eq!(month["ack_required"], false);
    let (status, body) = post(
        &agent,
        app.url("/api/me/months/2026-11/acknowledge"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), "nothing_to_acknowledge");
}

async fn a_decided_appeal_is_final_unless_the_policy_says_otherwise(db: TestDb) {
    let app = spawn(db).await;
    let e = crate::grading::graded(&app, "F-1", "agent-a1", "insp", form_for("poor")).await;
    let id = e["id"].as_i64().unwrap();
    app.config.clock.set(at("2026-12-01 09:00"));
    let (status, body) = publish(&app, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let agent = app.login("agent-a1").await;
    let appeal_url = app.url(&format!("/api/evaluations/{id}/appeals"));
    let (status, appeal) = post(&agent, appeal_url.clone(), json!({ "reason": "not me" })).await;
    assert_eq!(status, StatusCode::CREATED, "{appeal}");
    let panel = app.login("panel").await;
    let (status, body) = post(
        &panel,
        app.url(&format!("/api/appeals/{}/decision", appeal["id"])),
        json!({ "outcome": "upheld", "reason": "it was you" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = post(
        &agent,
        appeal_url.clone(),
        json!({ "reason": "still not me" }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), "appeal_decided");

    // A center whose policy allows a second appeal: it applies to later publications, so
    // the agent's month (published under the old policy) keeps the first answer final.
    let sup = app.login("sup").await;
    let (_, mut policy) = get_json(&sup, &app.url("/api/settings/publication")).await;
    policy["allow_reappeal"] = json!(true);
    let resp = sup
        .put(app.url("/api/settings/publication"))
        .json(&policy)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, stored) = get_json(&sup, &app.url("/api/settings/publication")).await;
    assert_eq!(stored["allow_reappeal"], true);
    let (status, _) = post(&agent, appeal_url, json!({ "reason": "still not me" })).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

async fn a_failed_score_computation_is_retried_until_it_succeeds(db: TestDb) {
    let app = spawn(db).await;
    crate::grading::graded(&app, "J-1", "agent-a1", "insp", form_for("good")).await;
    // A scoring configuration that cannot be read makes every computation fail.
    let db = &app.state.db;
    let sup_id = callgrade::store::users::find_active(db, "sup")
        .await
        .unwrap()
        .unwrap()
        .id;
    callgrade::store::publication::put_setting(db, "scoring", "{not json", sup_id, 0)
        .await
        .unwrap();
    app.config.clock.set(at("2026-12-01 09:00"));
    let (status, body) = publish(&app, json!({})).await;
    assert_eq!(status, StatusCode::OK, "the publication stands: {body}");
    let pending = callgrade::store::score_jobs::pending(db).await.unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0].0, "2026-11");
    assert!(
        pending[0].2.as_deref().unwrap().contains("scoring"),
        "{pending:?}"
    );
    let sup = app.login("sup").await;
    let (_, none_yet) = get_json(&sup, &app.url("/api/months/2026-11/scores")).await;
    assert_eq!(
        none_yet["version"],
        Value::Null,
        "no scores computed yet: {none_yet}"
    );

    // Not retried before its pause is over; after it, and once the cause is fixed, it runs.
    assert_eq!(
        callgrade::scoring::run_jobs(db, &app.config.clock)
            .await
            .unwrap(),
        0
    );
    let fixed =
        serde_json::to_string(&callgrade::domain::scoring::ScoringConfig::default()).unwrap();
    callgrade::store::publication::put_setting(db, "scoring", &fixed, sup_id, 0)
        .await
        .unwrap();
    app.config.clock.advance(5_000);
    // The background task may get there first; either way it is done exactly once.
    callgrade::scoring::run_jobs(db, &app.config.clock)
        .await
        .unwrap();
    assert!(
        callgrade::store::score_jobs::pending(db)
            .await
            .unwrap()
            .is_empty()
    );
    let (_, runs) = get_json(&sup, &app.url("/api/months/2026-11/scores/runs")).await;
    assert_eq!(runs["items"].as_array().unwrap().len(), 1, "{runs}");
    let s = scores_of(&app, "sup").await;
    assert_eq!(s["cause"], "published");
    assert_eq!(row(&s, "agent-a1")["pay"], 30);
}

async fn pay_settings_out_of_range_are_refused(db: TestDb) {
    let app = spawn(db).await;
    let sup = app.login("sup").await;
    let (_, mut cfg) = get_json(&sup, &app.url("/api/settings/scoring")).await;
    cfg["pay"]["poor"] = json!(-100_000);
    let resp = sup
        .put(app.url("/api/settings/scoring"))
        .json(&cfg)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = resp.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("-1000") && message.contains("1000"),
        "{message}"
    );
    cfg["pay"]["poor"] = json!(40);
    let resp = sup
        .put(app.url("/api/settings/scoring"))
        .json(&cfg)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "poor above fair"
    );
    let (_, now) = get_json(&sup, &app.url("/api/settings/scoring")).await;
    assert_eq!(now["pay"]["poor"], -10, "nothing stored");
}
