//! Grades follow the handbook's criteria, not only the score band: grade ceilings and count
//! rules of rubric items (and their validation), the built-in rubric's second edition and how
//! an installation on the first one moves to it, and the queues' service time limits that the
//! grading form suggests the over-time-limit item from.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::grading::{deduction, graded, open, pulled, spawn};
use crate::helpers::{TestDb, code, get_json};
use crate::sampling::post;

both_backends!(
    missed_phrases_and_answering_beside_the_question_cap_the_grade,
    rubric_validation_refuses_bad_count_rules,
    the_queue_limit_round_trips_and_the_evaluation_says_the_call_is_over_it,
    an_unmodified_old_builtin_rubric_is_followed_by_the_new_one,
);

async fn put(client: &reqwest::Client, url: String, body: Value) -> (StatusCode, Value) {
    let resp = client.put(url).json(&body).send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn fields(body: &Value) -> Vec<&str> {
    body["problems"]
        .as_array()
        .map(|ps| ps.iter().filter_map(|p| p["field"].as_str()).collect())
        .unwrap_or_default()
}

async fn missed_phrases_and_answering_beside_the_question_cap_the_grade(db: TestDb) {
    let app = spawn(db).await;
    // One missed service phrase: 98 points, excellent by the band, fair by the handbook.
    let one = json!({ "deductions": [deduction("no_service_phrases", &[30_000])] });
    let e = graded(&app, "C-1", "agent-a1", "insp", one).await;
    let o = &e["outcome"];
    assert_eq!(o["score"], 98, "{e}");
    assert_eq!(o["band_grade"], "excellent");
    assert_eq!(o["grade"], "fair");
    assert_eq!(o["computed_grade"], "fair");
    assert_eq!(o["capped_by"], json!(["no_service_phrases"]));
    assert_eq!(o["overridden"], false);

    // Two, in separate rows (separate incidents): poor at 96.
    let two = json!({ "deductions": [
        deduction("no_service_phrases", &[30_000]),
        deduction("no_service_phrases", &[60_000]),
    ] });
    let e = graded(&app, "C-2", "agent-a1", "insp", two).await;
    assert_eq!(
        (e["outcome"]["score"].clone(), e["outcome"]["grade"].clone()),
        (json!(96), json!("poor"))
    );
    assert_eq!(e["outcome"]["capped_by"], json!(["no_service_phrases"]));
    assert_eq!(
        e["outcome"]["ceilings"],
        json!([{ "item": "no_service_phrases", "occurrences": 2, "grade": "poor" }])
    );

    // Answering beside the question: poor, and the stored evaluation says why.
    let beside = json!({ "deductions": [deduction("beside_the_question", &[45_000])] });
    let e = graded(&app, "C-3", "agent-a1", "insp", beside).await;
    assert_eq!(e["outcome"]["grade"], "poor", "{e}");
    assert_eq!(e["outcome"]["score"], 90);
    let insp = app.login("insp").await;
    let (status, stored) =
        get_json(&insp, &app.url(&format!("/api/evaluations/{}", e["id"]))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored["outcome"]["grade"], "poor");
    assert_eq!(
        stored["outcome"]["capped_by"],
        json!(["beside_the_question"])
    );
    // A poor grade reaches the agent's team lead as any poor grade does.
    let lead = app.login("lead-a").await;
    let (_, flags) = get_json(&lead, &app.url("/api/flags")).await;
    assert!(
        flags["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["evaluation_id"] == e["id"]),
        "{flags}"
    );

    // An override above the ceiling is the audited exception: it needs the reason, and the
    // outcome still names the cap.
    let over = json!({
        "deductions": [deduction("no_service_phrases", &[30_000])],
        "grade": "excellent",
    });
    let (recording, assignment) = pulled(&app, "C-4", "agent-a1", "insp").await;
    let draft = open(&app, &insp, assignment).await;
    crate::grading::listen(&app, &insp, recording, 0.0, 120.0).await;
    let url = app.url(&format!("/api/evaluations/{}/submit", draft["id"]));
    let (status, body) = post(&insp, url.clone(), json!({ "form": over })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(fields(&body), ["override_reason"]);
    let mut over = over;
    over["override_reason"] = json!("the phrase was said; the recording dropped it");
    let (status, body) = post(&insp, url, json!({ "form": over })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"]["grade"], "excellent");
    assert_eq!(body["outcome"]["computed_grade"], "fair");
    assert_eq!(body["outcome"]["overridden"], true);
    assert_eq!(body["outcome"]["capped_by"], json!(["no_service_phrases"]));
}

async fn rubric_validation_refuses_bad_count_rules(db: TestDb) {
    let app = spawn(db).await;
    let sup = app.login("sup").await;
    let (_, current) = get_json(&sup, &app.url("/api/rubrics/current")).await;
    let rubric = current["rubric"].clone();
    let items = rubric["items"].as_array().unwrap();
    let phrases = items
        .iter()
        .position(|i| i["code"] == "no_service_phrases")
        .unwrap();
    assert_eq!(
        items[phrases]["ceilings"],
        json!([{ "at_least": 1, "grade": "fair" }, { "at_least": 2, "grade": "poor" }])
    );
    let with_rule = |rule: Value| {
        let mut r = rubric.clone();
        r["items"][0]["ceilings"] = rule;
        json!({ "rubric": r })
    };

    // Non-increasing thresholds, a rule that caps no lower, "at most excellent".
    let cases = [
        (
            json!([{ "at_least": 2, "grade": "fair" }, { "at_least": 2, "grade": "poor" }]),
            "items[0].ceilings[1].at_least",
        ),
        (
            json!([{ "at_least": 1, "grade": "poor" }, { "at_least": 3, "grade": "fair" }]),
            "items[0].ceilings[1].grade",
        ),
        (
            json!([{ "at_least": 1, "grade": "excellent" }]),
            "items[0].ceilings[0].grade",
        ),
        (
            json!([{ "at_least": 0, "grade": "fair" }]),
            "items[0].ceilings[0].at_least",
        ),
    ];
    for (rule, field) in cases {
        let (status, body) = post(&sup, app.url("/api/rubrics"), with_rule(rule.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{rule}: {body}");
        assert_eq!(code(&body), "invalid_rubric");
        assert_eq!(fields(&body), [field], "{rule}");
    }
    // A ceiling that is not a grade does not parse.
    let (status, body) = post(
        &sup,
        app.url("/api/rubrics"),
        with_rule(json!([{ "at_least": 1, "grade": "awful" }])),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code(&body), "invalid_json");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ceilings"),
        "{body}"
    );
    // Nothing was stored.
    let (_, versions) = get_json(&sup, &app.url("/api/rubrics")).await;
    assert_eq!(versions["items"].as_array().unwrap().len(), 1);

    // A sensible rule is kept and applies to evaluations opened on the new version.
    let rule = json!([{ "at_least": 1, "grade": "good" }, { "at_least": 3, "grade": "poor" }]);
    let (status, v2) = post(&sup, app.url("/api/rubrics"), with_rule(rule.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{v2}");
    assert_eq!(v2["rubric"]["items"][0]["ceilings"], rule);
    let first = v2["rubric"]["items"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let e = graded(
        &app,
        "R-1",
        "agent-a1",
        "insp",
        json!({ "deductions": [deduction(&first, &[1_000])] }),
    )
    .await;
    assert_eq!(e["outcome"]["grade"], "good", "{e}");
    assert_eq!(e["outcome"]["capped_by"], json!([first]));
}

async fn the_queue_limit_round_trips_and_the_evaluation_says_the_call_is_over_it(db: TestDb) {
    let app = spawn(db).await;
    let url = app.url("/api/settings/queues");
    let sup = app.login("sup").await;
    let insp = app.login("insp").await;
    let (status, none) = get_json(&insp, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(none, json!({ "queues": [] }));

    // The test calls are two minutes long, in the billing queue.
    let limits = json!({ "queues": [
        { "queue": "billing", "limit_seconds": 100 },
        { "queue": "sales", "limit_seconds": 600 },
    ] });
    assert_eq!(
        put(&insp, url.clone(), limits.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    let bad = json!({ "queues": [
        { "queue": "billing", "limit_seconds": 0 },
        { "queue": " billing ", "limit_seconds": 60 },
        { "queue": "", "limit_seconds": 60 },
    ] });
    let (status, body) = put(&sup, url.clone(), bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "invalid_queue_limits");
    assert_eq!(
        fields(&body),
        [
            "queues[0].limit_seconds",
            "queues[1].queue",
            "queues[2].queue"
        ]
    );
    let (status, saved) = put(&sup, url.clone(), limits.clone()).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved, limits);
    assert_eq!(get_json(&insp, &url).await.1, limits);

    // Over the limit: the evaluation says so and names the item to suggest; nothing is
    // deducted.
    let (_, assignment) = pulled(&app, "Q-1", "agent-a1", "insp").await;
    let e = open(&app, &insp, assignment).await;
    assert_eq!(e["queue"], "billing");
    assert_eq!(
        e["time_limit"],
        json!({ "queue": "billing", "limit_seconds": 100, "exceeded": true, "over_ms": 20_000,
                "suggested_item": "over_time_limit" })
    );
    assert_eq!(e["form"]["deductions"], json!([]));
    assert_eq!(e["outcome"]["grade"], "excellent");

    // The grader confirms it: poor.
    let (status, saved) = put(
        &insp,
        app.url(&format!("/api/evaluations/{}", e["id"])),
        json!({ "form": { "deductions": [deduction("over_time_limit", &[110_000])] }, "revision": e["revision"] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["outcome"]["grade"], "poor");
    assert_eq!(saved["outcome"]["capped_by"], json!(["over_time_limit"]));
    assert_eq!(saved["time_limit"]["exceeded"], true);

    // Within the limit: no suggestion.
    let limits = json!({ "queues": [{ "queue": "billing", "limit_seconds": 120 }] });
    assert_eq!(put(&sup, url.clone(), limits).await.0, StatusCode::OK);
    let (_, e) = get_json(&insp, &app.url(&format!("/api/evaluations/{}", e["id"]))).await;
    assert_eq!(e["time_limit"]["exceeded"], false);
    assert_eq!(e["time_limit"]["suggested_item"], Value::Null);
    // A queue without a limit has none.
    assert_eq!(
        put(&sup, url.clone(), json!({ "queues": [] })).await.0,
        StatusCode::OK
    );
    let (_, e) = get_json(&insp, &app.url(&format!("/api/evaluations/{}", e["id"]))).await;
    assert_eq!(e["time_limit"], Value::Null);
}

/// The built-in rubric as the first release stored it: today's without ceilings and without
/// the items the second edition added.
fn first_builtin() -> callgrade::domain::rubric::Rubric {
    let mut r = callgrade::domain::rubric::default_rubric();
    let added = [
        "wrong_information",
        "beside_the_question",
        "no_first_contact_responsibility",
        "over_time_limit",
    ];
    r.items.retain(|i| !added.contains(&i.code.as_str()));
    for i in &mut r.items {
        i.ceilings.clear();
    }
    r
}

async fn an_unmodified_old_builtin_rubric_is_followed_by_the_new_one(db: TestDb) {
    let app = spawn(db).await;
    // An installation of the first release: its built-in is version 1, nobody's edit.
    let old = serde_json::to_string(&first_builtin()).unwrap();
    sqlx::query(
        "INSERT INTO rubrics (version, spec, created_by, created_at_ms) VALUES (1, $1, NULL, 0)",
    )
    .bind(&old)
    .execute(&app.state.db.pool)
    .await
    .unwrap();
    let sup = app.login("sup").await;
    let (status, current) = get_json(&sup, &app.url("/api/rubrics/current")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(current["version"], 2, "{current}");
    assert_eq!(current["created_by"], Value::Null);
    let codes: Vec<&str> = current["rubric"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"beside_the_question") && codes.contains(&"over_time_limit"));
    // Asking again adds nothing; version 1 is kept as it was.
    assert_eq!(
        get_json(&sup, &app.url("/api/rubrics/current")).await.1["version"],
        2
    );
    let (_, versions) = get_json(&sup, &app.url("/api/rubrics")).await;
    let v1 = versions["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == 1)
        .unwrap()
        .clone();
    let (_, v1) = get_json(&sup, &app.url(&format!("/api/rubrics/{}", v1["id"]))).await;
    assert_eq!(v1["rubric"], serde_json::from_str::<Value>(&old).unwrap());

    // A supervisor's own rubric is never replaced, even one equal to the old built-in.
    let (status, mine) = post(
        &sup,
        app.url("/api/rubrics"),
        json!({ "rubric": first_builtin() }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{mine}");
    assert_eq!(mine["version"], 3);
    let (_, current) = get_json(&sup, &app.url("/api/rubrics/current")).await;
    assert_eq!(current["version"], 3);
    assert_eq!(current["created_by"], "sup");
}
