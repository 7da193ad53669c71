//! Publication, acknowledgement, appeals and the audit trail: window edges (in calendar and
//! working days, across a holiday), concurrent appeals, the monthly limit, blind re-grades,
//! the panel's decisions, the lock and post-lock corrections, notifications and the webhook,
//! and revisions that nobody can edit and that replay to the evaluation.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::grading::{deduction, graded, listen, open, spawn};
use crate::helpers::{TestApp, TestDb, code, get_json};
use crate::sampling::{at, post};

both_backends!(
    the_appeal_window_counts_working_days_across_a_holiday,
    one_open_appeal_per_evaluation_and_a_monthly_limit,
    the_panel_decides_beside_a_blind_regrade,
    acknowledgements_reminders_and_the_lock,
    revisions_are_append_only_and_replay_to_the_evaluation,
    publishing_lists_unfinished_work_and_publishes_by_team,
    events_reach_the_webhook,
    supervisors_hear_of_work_left_undone,
);

const SECOND: i64 = 1_000;

/// A poor grade (4 × commanding tone: 60) of `agent`'s call, graded by the inspector.
async fn poor(app: &TestApp, call_id: &str, agent: &'static str) -> i64 {
    let form = json!({ "deductions": [
        { "item": "commanding_tone", "occurrences": 4, "times_ms": [5_000, 20_000, 40_000, 61_000], "note": "impatient" }
    ] });
    let e = graded(app, call_id, agent, "insp", form).await;
    assert_eq!(e["outcome"]["grade"], "poor", "{e}");
    e["id"].as_i64().unwrap()
}

async fn publish(app: &TestApp, body: Value) -> Value {
    let sup = app.login("sup").await;
    let (status, body) = post(&sup, app.url("/api/months/2026-11/publish"), body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn appeal(
    app: &TestApp,
    client: &reqwest::Client,
    evaluation: i64,
    deductions: Value,
) -> (StatusCode, Value) {
    post(
        client,
        app.url(&format!("/api/evaluations/{evaluation}/appeals")),
        json!({ "reason": "我没有用命令的语气 / my tone was fine", "deductions": deductions }),
    )
    .await
}

async fn put_json(client: &reqwest::Client, url: String, body: Value) -> (StatusCode, Value) {
    let resp = client.put(url).json(&body).send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn notifications(app: &TestApp, user: &str) -> Vec<Value> {
    let client = app.login(user).await;
    let (status, body) = get_json(&client, &app.url("/api/me/notifications")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

fn kinds(items: &[Value]) -> Vec<&str> {
    items.iter().map(|n| n["kind"].as_str().unwrap()).collect()
}

async fn the_appeal_window_counts_working_days_across_a_holiday(db: TestDb) {
    let app = spawn(db).await;
    let first = poor(&app, "H-1", "agent-a1").await;
    let second = poor(&app, "H-2", "agent-a1").await;
    let sup = app.login("sup").await;
    let url = app.url("/api/settings/publication");
    let (_, defaults) = get_json(&sup, &url).await;
    assert_eq!(
        defaults["appeal_window"],
        json!({ "amount": 2, "unit": "calendar_days" })
    );
    assert_eq!(
        defaults["acknowledge_within"],
        json!({ "amount": 5, "unit": "working_days" })
    );
    // Thursday and Friday Dec 3-4 are holidays; Saturday Dec 5 is worked instead.
    let policy = json!({
        "appeal_window": { "amount": 2, "unit": "working_days" },
        "panel_deadline": { "amount": 2, "unit": "working_days" },
        "acknowledge_within": { "amount": 5, "unit": "working_days" },
        "max_appeals_per_month": 3,
        "holidays": ["2026-12-03", "2026-12-04"],
        "extra_workdays": ["2026-12-05"],
    });
    let panel = app.login("panel").await;
    assert_eq!(
        put_json(&panel, url.clone(), policy.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    let mut bad = policy.clone();
    bad["appeal_window"]["amount"] = json!(0);
    let (status, body) = put_json(&sup, url.clone(), bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(code(&body), "invalid_policy");
    let (status, body) = put_json(&sup, url.clone(), policy).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Published Wednesday Dec 2, 10:00: working days are Sat Dec 5 and Mon Dec 7, so the
    // window closes Monday 10:00; acknowledgements are due Thursday Dec 10.
    app.config.clock.set(at("2026-12-02 10:00"));
    let published = publish(&app, json!({})).await;
    let p = &published["publication"];
    assert_eq!(p["appeal_closes_at"], "2026-12-07T10:00:00+08:00");
    assert_eq!(p["acknowledge_due_at"], "2026-12-10T10:00:00+08:00");
    assert_eq!(p["status"], "published");

    let agent = app.login("agent-a1").await;
    app.config.clock.set(at("2026-12-07 10:00") - SECOND);
    let (status, filed) = appeal(&app, &agent, first, json!([0])).await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    // The panel's two working days from Monday 09:59:59 end Wednesday 09:59:59.
    assert_eq!(filed["due_at"], "2026-12-09T09:59:59+08:00");
    assert_eq!(filed["deductions"], json!([0]));

    // At the closing instant the window is shut, and one second later too.
    for t in [at("2026-12-07 10:00"), at("2026-12-07 10:00") + SECOND] {
        app.config.clock.set(t);
        let (status, body) = appeal(&app, &agent, second, json!([])).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(code(&body), "appeal_window_closed");
        assert_eq!(body["closed_at"], "2026-12-07T10:00:00+08:00");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("2026-12-07 10:00")
        );
    }
    let (_, months) = get_json(&agent, &app.url("/api/me/months")).await;
    assert_eq!(months["items"][0]["appeal_open"], false);
    assert_eq!(months["items"][0]["status"], "window_closed");
}

async fn one_open_appeal_per_evaluation_and_a_monthly_limit(db: TestDb) {
    let app = spawn(db).await;
    let ids = [
        poor(&app, "L-1", "agent-a1").await,
        poor(&app, "L-2", "agent-a1").await,
        poor(&app, "L-3", "agent-a1").await,
    ];
    let other = poor(&app, "L-9", "agent-b1").await;
    let sup = app.login("sup").await;
    let mut policy = get_json(&sup, &app.url("/api/settings/publication"))
        .await
        .1;
    policy["max_appeals_per_month"] = json!(2);
    let (status, _) = put_json(&sup, app.url("/api/settings/publication"), policy).await;
    assert_eq!(status, StatusCode::OK);

    let agent = app.login("agent-a1").await;
    // Before publication the evaluation does not exist for the agent.
    assert_eq!(
        appeal(&app, &agent, ids[0], json!([])).await.0,
        StatusCode::NOT_FOUND
    );
    app.config.clock.set(at("2026-12-01 09:00"));
    publish(&app, json!({})).await;

    // Not theirs: another agent's evaluation is not found; a lead cannot appeal.
    assert_eq!(
        appeal(&app, &agent, other, json!([])).await.0,
        StatusCode::NOT_FOUND
    );
    let lead = app.login("lead-a").await;
    assert_eq!(
        appeal(&app, &lead, ids[0], json!([])).await.0,
        StatusCode::FORBIDDEN
    );
    // A deduction that does not exist, and an empty reason, are refused.
    let (status, body) = appeal(&app, &agent, ids[0], json!([3])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = post(
        &agent,
        app.url(&format!("/api/evaluations/{}/appeals", ids[0])),
        json!({ "reason": "  " }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Two appeals of one evaluation at the same moment: exactly one is filed.
    let agent2 = app.login("agent-a1").await;
    let (a, b) = tokio::join!(
        appeal(&app, &agent, ids[0], json!([])),
        appeal(&app, &agent2, ids[0], json!([0]))
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{} / {}",
        a.1,
        b.1
    );
    let conflict = if a.0 == StatusCode::CONFLICT {
        &a.1
    } else {
        &b.1
    };
    assert_eq!(code(conflict), "appeal_open");

    // The failed one did not use up an appeal: the second evaluation still can, the third
    // is over the limit of 2.
    let (status, body) = appeal(&app, &agent, ids[1], json!([])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = appeal(&app, &agent, ids[2], json!([])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "appeal_limit");
    let (_, month) = get_json(&agent, &app.url("/api/me/months/2026-11")).await;
    assert_eq!(month["appeals_used"], 2);
    assert_eq!(month["appeals_allowed"], 2);
    let evaluations = month["evaluations"].as_array().unwrap();
    assert_eq!(evaluations.len(), 3);
    assert_eq!(
        evaluations
            .iter()
            .filter(|e| e["appeal"]["status"] == "open")
            .count(),
        2
    );
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

async fn the_panel_decides_beside_a_blind_regrade(db: TestDb) {
    let app = spawn(db).await;
    add_inspector(&app, "insp2").await;
    let original = poor(&app, "R-1", "agent-a1").await;
    // The poor grade waits for the team lead's coaching: the lead hears of it.
    let flagged = notifications(&app, "lead-a").await;
    let n = flagged.iter().find(|n| n["kind"] == "flag_raised").unwrap();
    assert!(n["link"].as_str().unwrap().starts_with("#/flags/"), "{n}");
    assert!(n["text_en"].as_str().unwrap().contains("R-1"), "{n}");
    assert!(n["text_zh"].as_str().unwrap().contains("差"), "{n}");
    app.config.clock.set(at("2026-12-01 09:00"));
    publish(&app, json!({})).await;
    let agent = app.login("agent-a1").await;
    let (status, filed) = appeal(&app, &agent, original, json!([0])).await;
    assert_eq!(status, StatusCode::CREATED, "{filed}");
    let id = filed["id"].as_i64().unwrap();
    assert!(kinds(&notifications(&app, "panel").await).contains(&"appeal_filed"));

    let panel = app.login("panel").await;
    let (_, queue) = get_json(&panel, &app.url("/api/appeals")).await;
    assert_eq!(queue["items"][0]["id"], id);
    assert_eq!(queue["items"][0]["due_at"], "2026-12-03T09:00:00+08:00");
    assert_eq!(queue["items"][0]["overdue"], false);
    // Agents see their own appeals only; inspectors none.
    let (_, theirs) = get_json(
        &app.login("agent-b1").await,
        &app.url("/api/appeals?status=all"),
    )
    .await;
    assert!(theirs["items"].as_array().unwrap().is_empty());
    let appeal_url = app.url(&format!("/api/appeals/{id}"));
    assert_eq!(
        get_json(&app.login("agent-b1").await, &appeal_url).await.0,
        StatusCode::NOT_FOUND
    );

    // The panel reads grades but does not edit them, except by deciding.
    let eval_url = app.url(&format!("/api/evaluations/{original}"));
    let (status, _) = put_json(&panel, eval_url.clone(), json!({ "form": {} })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(
        &panel,
        app.url(&format!("/api/evaluations/{original}/revisions")),
        json!({ "reason": "x", "grade": "good" }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A blind re-grade needs someone other than the original grader: the picker offers
    // every other inspector, and only the panel may ask.
    let regrade_url = app.url(&format!("/api/appeals/{id}/regrade"));
    let (status, offered) = get_json(&panel, &regrade_url).await;
    assert_eq!(status, StatusCode::OK, "{offered}");
    let offered: Vec<&str> = offered["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["username"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["insp2"]);
    let (status, _) = get_json(&app.login("sup").await, &regrade_url).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = post(&panel, regrade_url.clone(), json!({ "grader": "insp" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = post(&panel, regrade_url.clone(), json!({ "grader": "insp2" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["regrade"]["status"], "pending");
    // The re-grader is told, and told nothing of the first grading (blind).
    let asked = notifications(&app, "insp2").await;
    let n = asked
        .iter()
        .find(|n| n["kind"] == "regrade_requested")
        .unwrap();
    assert_eq!(n["link"], "#/queue");
    for text in [&n["text_en"], &n["text_zh"]] {
        let text = text.as_str().unwrap();
        assert!(text.contains("R-1"), "{text}");
        assert!(!text.contains("poor") && !text.contains("差"), "{text}");
    }

    // The re-grader finds the call in their queue and cannot see the original grading.
    let insp2 = app.login("insp2").await;
    let (_, q) = get_json(&insp2, &app.url("/api/me/queue")).await;
    let item = &q["items"][0];
    assert_eq!(item["call_id"], "R-1");
    assert_eq!(get_json(&insp2, &eval_url).await.0, StatusCode::NOT_FOUND);
    let (_, list) = get_json(&insp2, &app.url("/api/evaluations?agent=agent-a1")).await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let regrade = open(&app, &insp2, item["assignment_id"].as_i64().unwrap()).await;
    let regrade_id = regrade["id"].as_i64().unwrap();
    assert_eq!(
        regrade["form"]["deductions"],
        json!([]),
        "nothing of the original shows"
    );
    listen(
        &app,
        &insp2,
        item["recording_id"].as_i64().unwrap(),
        0.0,
        120.0,
    )
    .await;
    let form = json!({ "deductions": [deduction("commanding_tone", &[5_000])] });
    let (status, body) = post(
        &insp2,
        app.url(&format!("/api/evaluations/{regrade_id}/submit")),
        json!({ "form": form }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The re-grade is evidence for the panel: not the agent's result, and no flag.
    let regrade_url_e = app.url(&format!("/api/evaluations/{regrade_id}"));
    assert_eq!(
        get_json(&agent, &regrade_url_e).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get_json(&app.login("lead-a").await, &regrade_url_e).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, mine) = get_json(&agent, &app.url("/api/evaluations")).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);

    // The panel sees both side by side.
    let (_, detail) = get_json(&panel, &appeal_url).await;
    assert_eq!(detail["evaluation"]["id"], original);
    assert_eq!(detail["evaluation"]["outcome"]["grade"], "poor");
    assert_eq!(detail["regrade_evaluation"]["id"], regrade_id);
    assert_eq!(detail["regrade_evaluation"]["outcome"]["score"], 90);
    assert_eq!(detail["regrade"]["status"], "submitted");
    // The agent's view of the appeal has no re-grade evaluation.
    let (_, agent_view) = get_json(&agent, &appeal_url).await;
    assert_eq!(agent_view["regrade_evaluation"], Value::Null);

    // Only the panel decides; an overturn needs the new grade and a reason.
    let decision_url = app.url(&format!("/api/appeals/{id}/decision"));
    let body = json!({ "outcome": "overturned", "grade": "fair", "reason": "the re-grade heard one impatient remark, not four" });
    for who in ["lead-a", "sup", "agent-a1"] {
        let client = app.login(who).await;
        assert_eq!(
            post(&client, decision_url.clone(), body.clone()).await.0,
            StatusCode::FORBIDDEN,
            "{who}"
        );
    }
    let (status, bad) = post(
        &panel,
        decision_url.clone(),
        json!({ "outcome": "overturned", "reason": "x" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let (status, decided) = post(&panel, decision_url.clone(), body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    assert_eq!(decided["status"], "decided");
    assert_eq!(decided["decision"]["outcome"], "overturned");
    assert_eq!(decided["decision"]["old_grade"], "poor");
    assert_eq!(decided["decision"]["new_grade"], "fair");
    assert_eq!(decided["decision"]["new_score"], 60);
    assert_eq!(decided["grade"], "fair");
    let (status, again) = post(&panel, decision_url, body).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&again), "appeal_decided");

    // The agent sees the new grade, the reason, and the trail.
    let (_, e) = get_json(&agent, &eval_url).await;
    assert_eq!(e["outcome"]["grade"], "fair");
    assert_eq!(e["outcome"]["score"], 60);
    assert_eq!(
        e["appeals"][0]["decision"]["reason"],
        "the re-grade heard one impatient remark, not four"
    );
    assert_eq!(e["rubric_version"], 1);
    let (_, trail) = get_json(
        &agent,
        &app.url(&format!("/api/evaluations/{original}/revisions")),
    )
    .await;
    let trail = trail["items"].as_array().unwrap();
    assert_eq!(trail.len(), 2);
    assert_eq!(trail[0]["kind"], "submit");
    assert_eq!(trail[0]["old"], Value::Null);
    assert_eq!(trail[1]["kind"], "appeal_decision");
    assert_eq!(trail[1]["by"]["username"], "panel");
    assert_eq!(trail[1]["appeal_id"], id);
    assert_eq!(trail[1]["old"]["grade"], "poor");
    assert_eq!(trail[1]["new"]["grade"], "fair");
    assert_eq!(trail[1]["post_lock"], false);
    let decided_notice = notifications(&app, "agent-a1").await;
    let n = decided_notice
        .iter()
        .find(|n| n["kind"] == "appeal_decided")
        .unwrap();
    assert_eq!(n["link"], format!("#/results/2026-11/{original}"));
    assert!(n["text_zh"].as_str().unwrap().contains("改判"));
    // The original grader learns that the panel changed their evaluation.
    let told = notifications(&app, "insp").await;
    let n = told
        .iter()
        .find(|n| n["kind"] == "evaluation_changed_by_appeal")
        .unwrap();
    assert_eq!(n["link"], format!("#/evaluations/{original}/history"));
    assert!(
        n["text_en"].as_str().unwrap().contains("poor → fair"),
        "{n}"
    );
    assert!(n["text_zh"].as_str().unwrap().contains("差 → 中"), "{n}");
    assert!(!kinds(&notifications(&app, "insp2").await).contains(&"evaluation_changed_by_appeal"));
}

/// The supervisor hears, once each, of coaching not recorded by a flag's due time, of queue
/// items unfinished at theirs and of appeals the panel has not answered in time.
async fn supervisors_hear_of_work_left_undone(db: TestDb) {
    let app = spawn(db).await;
    poor(&app, "U-1", "agent-a1").await;
    crate::grading::pulled(&app, "U-2", "agent-b1", "insp").await;
    // The inspector is told of the pull the supervisor made for them.
    let pulled = notifications(&app, "insp").await;
    let n = pulled
        .iter()
        .find(|n| n["kind"] == "pull_assigned")
        .unwrap();
    assert!(
        n["text_en"]
            .as_str()
            .unwrap()
            .contains("customer complaint"),
        "{n}"
    );
    let check = |at_ms: i64| {
        let app = &app;
        async move {
            callgrade::publication::check_deadlines(&app.state.db, &app.config, at_ms)
                .await
                .unwrap()
        }
    };
    // Before any due time, nothing.
    check(at("2026-11-21 10:00")).await;
    assert!(
        notifications(&app, "sup").await.iter().all(|n| {
            !["coaching_overdue", "work_overdue"].contains(&n["kind"].as_str().unwrap())
        })
    );
    // The pull was due in two days, the coaching in seven.
    let now = at("2026-11-28 10:00");
    check(now).await;
    check(now + 60_000).await;
    let told = notifications(&app, "sup").await;
    let of = |kind: &str| {
        told.iter()
            .filter(|n| n["kind"] == kind)
            .collect::<Vec<_>>()
    };
    let coaching = of("coaching_overdue");
    assert_eq!(coaching.len(), 1, "{told:?}");
    assert!(
        coaching[0]["link"]
            .as_str()
            .unwrap()
            .starts_with("#/flags/")
    );
    assert!(coaching[0]["text_en"].as_str().unwrap().contains("U-1"));
    let work = of("work_overdue");
    assert_eq!(work.len(), 1, "{told:?}");
    let text = work[0]["text_en"].as_str().unwrap();
    assert!(
        text.starts_with("1 evaluation of pulled calls was due"),
        "{text}"
    );
    assert!(text.contains("Inspector Liu 1"), "{text}");
    assert!(work[0]["text_zh"].as_str().unwrap().contains("调取的通话"));
    // The lead is not told of the supervisor's overview.
    assert!(!kinds(&notifications(&app, "lead-a").await).contains(&"coaching_overdue"));
}

async fn count_of(app: &TestApp, user: &str, kind: &str) -> usize {
    notifications(app, user)
        .await
        .iter()
        .filter(|n| n["kind"] == kind)
        .count()
}

async fn acknowledgements_reminders_and_the_lock(db: TestDb) {
    let app = spawn(db).await;
    let a1 = poor(&app, "K-1", "agent-a1").await;
    let b1 = poor(&app, "K-2", "agent-b1").await;
    // Wednesday Dec 2: acknowledgements are due Wednesday Dec 9, 10:00.
    app.config.clock.set(at("2026-12-02 10:00"));
    let published = publish(&app, json!({})).await;
    assert_eq!(
        published["agents"], 3,
        "every agent, with or without evaluations"
    );
    let notices = notifications(&app, "agent-a1").await;
    assert_eq!(kinds(&notices), ["published"]);
    assert_eq!(notices[0]["link"], "#/results/2026-11");
    assert!(
        notices[0]["text_en"]
            .as_str()
            .unwrap()
            .contains("2026-12-09 10:00")
    );

    let agent = app.login("agent-a1").await;
    let ack = app.url("/api/me/months/2026-11/acknowledge");
    let (status, first) = post(&agent, ack.clone(), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert!(first["acknowledged_at"].is_string());
    app.config.clock.advance(60 * SECOND);
    let (_, again) = post(&agent, ack.clone(), json!({})).await;
    assert_eq!(
        again["acknowledged_at"], first["acknowledged_at"],
        "the first sign-off counts"
    );
    // Leads see their team; agents do not see the list.
    let (_, a) = get_json(
        &app.login("lead-a").await,
        &app.url("/api/months/2026-11/acknowledgements"),
    )
    .await;
    let a = a["items"].as_array().unwrap();
    assert_eq!(a.len(), 2, "{a:?}");
    assert!(
        a.iter()
            .any(|r| r["agent"]["username"] == "agent-a1" && r["acknowledged_at"].is_string())
    );
    assert!(
        a.iter()
            .any(|r| r["agent"]["username"] == "agent-a2" && r["acknowledged_at"].is_null())
    );
    let (_, b) = get_json(
        &app.login("lead-b").await,
        &app.url("/api/months/2026-11/acknowledgements"),
    )
    .await;
    assert_eq!(b["items"].as_array().unwrap().len(), 1);
    let (status, _) = get_json(&agent, &app.url("/api/months/2026-11/acknowledgements")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _) = appeal(&app, &app.login("agent-b1").await, b1, json!([])).await;
    assert_eq!(status, StatusCode::CREATED);
    let sup = app.login("sup").await;
    let status_of = |body: &Value| {
        body["publications"][0]["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Window closed with an appeal open: not locked.
    app.config.clock.set(at("2026-12-04 10:00") + SECOND);
    let (_, p) = get_json(&sup, &app.url("/api/months/2026-11/publication")).await;
    assert_eq!(status_of(&p), "window_closed");
    // Before the lock a supervisor's change is an override.
    let rev_url = app.url(&format!("/api/evaluations/{a1}/revisions"));
    let (status, body) = post(&sup, rev_url.clone(), json!({ "reason": "double-counted", "deductions": [deduction("commanding_tone", &[5_000, 20_000])] })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"]["score"], 80);
    // The override changed a result agent-a1 had signed off: the month asks again.
    let (_, m) = get_json(&agent, &app.url("/api/me/months/2026-11")).await;
    assert!(m["acknowledged_at"].is_null(), "{m}");
    assert_eq!(m["previously_acknowledged_at"], first["acknowledged_at"]);
    assert!(m["changed_after_acknowledgement_at"].is_string(), "{m}");
    let (status, renewed) = post(&agent, ack, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert!(renewed["acknowledged_at"].is_string());
    assert_ne!(renewed["acknowledged_at"], first["acknowledged_at"]);

    // Past the deadlines: the panel hears of the overdue appeal, each lead of their missing
    // acknowledgements, once.
    let now = at("2026-12-09 10:00") + SECOND;
    app.config.clock.set(now);
    let sent = callgrade::publication::check_deadlines(&app.state.db, &app.config, now)
        .await
        .unwrap();
    // agent-a2 had no counting evaluation, so nothing to acknowledge: only agent-b1's lead
    // is told. The supervisor also hears that neither poor call's coaching is recorded.
    assert_eq!(sent, 4, "one overdue appeal, one lead, two flags' coaching");
    assert_eq!(
        callgrade::publication::check_deadlines(&app.state.db, &app.config, now)
            .await
            .unwrap(),
        0
    );
    assert_eq!(count_of(&app, "panel", "appeal_overdue").await, 1);
    assert_eq!(count_of(&app, "sup", "appeal_overdue").await, 1);
    assert_eq!(count_of(&app, "sup", "coaching_overdue").await, 2);
    // agent-a1 acknowledged and agent-a2 had nothing to: lead-a hears nothing.
    assert_eq!(
        count_of(&app, "lead-a", "acknowledgements_missing").await,
        0
    );
    let lead_notices = notifications(&app, "lead-b").await;
    let missing = lead_notices
        .iter()
        .find(|n| n["kind"] == "acknowledgements_missing")
        .unwrap();
    assert!(
        missing["text_en"].as_str().unwrap().contains("Agent Zhu"),
        "{missing}"
    );
    let (_, queue) = get_json(&app.login("panel").await, &app.url("/api/appeals")).await;
    assert_eq!(queue["items"][0]["overdue"], true);

    // The last decision locks the month.
    let panel = app.login("panel").await;
    let appeal_id = queue["items"][0]["id"].as_i64().unwrap();
    // A re-grade asked for but not done leaves the inspector's queue with the decision.
    add_inspector(&app, "insp2").await;
    let (status, _) = post(
        &panel,
        app.url(&format!("/api/appeals/{appeal_id}/regrade")),
        json!({ "grader": "insp2" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let insp2 = app.login("insp2").await;
    let (_, q) = get_json(&insp2, &app.url("/api/me/queue")).await;
    assert_eq!(q["items"].as_array().unwrap().len(), 1);
    let (status, _) = post(
        &panel,
        app.url(&format!("/api/appeals/{appeal_id}/decision")),
        json!({ "outcome": "upheld", "reason": "the recording confirms it" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, p) = get_json(&sup, &app.url("/api/months/2026-11/publication")).await;
    assert_eq!(status_of(&p), "locked");
    let (_, q) = get_json(&insp2, &app.url("/api/me/queue")).await;
    assert!(q["items"].as_array().unwrap().is_empty(), "{q}");
    assert_eq!(
        p["publications"][0]["locked_at"],
        "2026-12-09T10:00:01+08:00"
    );

    // After the lock a change is a post-lock correction the agent sees and is told about.
    app.config.clock.advance(3_600 * SECOND);
    let (status, body) = post(
        &sup,
        rev_url.clone(),
        json!({ "reason": "payroll review", "grade": "fair" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, trail) = get_json(&agent, &rev_url).await;
    let kinds_of: Vec<(&str, bool)> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["kind"].as_str().unwrap(),
                v["post_lock"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds_of,
        [("submit", false), ("override", false), ("correction", true)]
    );
    assert_eq!(trail["items"][2]["reason"], "payroll review");
    assert_eq!(count_of(&app, "agent-a1", "evaluation_corrected").await, 2);
    let (_, month) = get_json(&agent, &app.url("/api/me/months/2026-11")).await;
    assert_eq!(month["status"], "locked");
    let e = &month["evaluations"][0];
    assert_eq!(e["post_lock_corrections"], 1);
    assert_eq!(e["grade"], "fair");
    // Appeals after the window stay closed, locked or not.
    let (status, body) = appeal(&app, &agent, a1, json!([])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(code(&body), "appeal_window_closed");
}

/// A small deterministic generator: the sequence of changes is random but repeatable.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

async fn revisions_are_append_only_and_replay_to_the_evaluation(db: TestDb) {
    use callgrade::domain::audit::{EvaluationState, Step, replay};

    let app = spawn(db).await;
    let id = poor(&app, "T-1", "agent-a1").await;
    let pool = &app.state.db.pool;
    // The database itself refuses to edit or remove a revision.
    let update = sqlx::query(
        "UPDATE evaluation_revisions SET reason = 'rewritten' WHERE evaluation_id = $1",
    )
    .bind(id)
    .execute(pool)
    .await;
    let err = update
        .expect_err("UPDATE on revisions must fail")
        .to_string();
    assert!(err.contains("append-only"), "{err}");
    let delete = sqlx::query("DELETE FROM evaluation_revisions WHERE evaluation_id = $1")
        .bind(id)
        .execute(pool)
        .await;
    assert!(delete.is_err(), "DELETE on revisions must fail");

    // Random changes through the API (overrides, then after publication appeal decisions):
    // whatever happens, the evaluation equals the replay of its revisions.
    let sup = app.login("sup").await;
    let items = [
        "commanding_tone",
        "shirking",
        "no_service_phrases",
        "forbidden_phrase",
    ];
    let grades = ["excellent", "good", "fair", "poor", "severe"];
    let mut rng = Lcg(20_261_123);
    let change = |rng: &mut Lcg| {
        let mut body = json!({ "reason": format!("review {}", rng.below(1000)) });
        if rng.below(2) == 0 {
            let n = rng.below(3);
            let ds: Vec<Value> = (0..n)
                .map(|_| {
                    let times: Vec<i64> = (0..=rng.below(2))
                        .map(|k| 1_000 + k as i64 * 7_000)
                        .collect();
                    deduction(items[rng.below(4) as usize], &times)
                })
                .collect();
            body["deductions"] = json!(ds);
        }
        if rng.below(2) == 0 || body.get("deductions").is_none() {
            body["grade"] = json!(grades[rng.below(5) as usize]);
        }
        body
    };
    let rev_url = app.url(&format!("/api/evaluations/{id}/revisions"));
    let mut applied = 0;
    for _ in 0..8 {
        let (status, body) = post(&sup, rev_url.clone(), change(&mut rng)).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{status} {body}"
        );
        applied += usize::from(status == StatusCode::OK);
    }
    // This center lets a decided evaluation be appealed again, so one evaluation sees every
    // kind of decision.
    let (_, mut policy) = get_json(&sup, &app.url("/api/settings/publication")).await;
    policy["allow_reappeal"] = json!(true);
    let (status, body) = put_json(&sup, app.url("/api/settings/publication"), policy).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.config.clock.set(at("2026-12-01 09:00"));
    publish(&app, json!({})).await;
    let agent = app.login("agent-a1").await;
    let panel = app.login("panel").await;
    for outcome in ["amended", "overturned", "upheld"] {
        let (status, filed) = appeal(&app, &agent, id, json!([])).await;
        assert_eq!(status, StatusCode::CREATED, "{filed}");
        let mut body = change(&mut rng);
        match outcome {
            "amended" => {
                body.as_object_mut().unwrap().remove("grade");
                body["deductions"] = json!([deduction("shirking", &[3_000])]);
            }
            "overturned" => {
                body["grade"] = json!("good");
            }
            _ => body = json!({ "reason": "stands" }),
        }
        body["outcome"] = json!(outcome);
        let url = app.url(&format!("/api/appeals/{}/decision", filed["id"]));
        let (status, decided) = post(&panel, url, body).await;
        assert_eq!(status, StatusCode::OK, "{outcome}: {decided}");
    }
    assert!(applied > 0, "some random change applied");

    let rows = callgrade::store::appeals::revisions(&app.state.db, id)
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        1 + applied + 2,
        "submit, the overrides, amended and overturned"
    );
    let steps: Vec<Step> = rows
        .iter()
        .map(|v| Step {
            seq: v.seq,
            old: v
                .old_value
                .as_deref()
                .map(|t| serde_json::from_str::<EvaluationState>(t).unwrap()),
            new: serde_json::from_str(&v.new_value).unwrap(),
        })
        .collect();
    let replayed = replay(&steps).unwrap().unwrap();
    let row = callgrade::store::grading::get_evaluation(&app.state.db, id)
        .await
        .unwrap()
        .unwrap();
    let current = callgrade::appeals::state_of(&row).unwrap();
    assert_eq!(replayed, current);
    assert_eq!(current.grade.as_deref(), Some("good"));
}

async fn publishing_lists_unfinished_work_and_publishes_by_team(db: TestDb) {
    let app = spawn(db).await;
    poor(&app, "U-1", "agent-a1").await;
    // A pull of team B's agent still waiting for its grader.
    crate::grading::pulled(&app, "U-2", "agent-b1", "insp").await;
    let sup = app.login("sup").await;
    app.config.clock.set(at("2026-12-01 09:00"));
    let (_, preview) = get_json(&sup, &app.url("/api/months/2026-11/publication")).await;
    assert_eq!(preview["unpublished_agents"], 3);
    assert_eq!(preview["unfinished"]["count"], 1);
    assert_eq!(preview["unfinished"]["items"][0]["call_id"], "U-2");
    assert_eq!(preview["unfinished"]["items"][0]["status"], "not_started");
    // Publishing everyone needs confirming past the unfinished item.
    let url = app.url("/api/months/2026-11/publish");
    let (status, body) = post(&sup, url.clone(), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(code(&body), "unfinished_evaluations");
    assert_eq!(body["unfinished"]["count"], 1);
    // Team A alone has nothing unfinished.
    let (_, a) = get_json(
        &sup,
        &app.url("/api/months/2026-11/publication?teams=team-a"),
    )
    .await;
    assert_eq!(a["unfinished"]["count"], 0);
    assert_eq!(a["unpublished_agents"], 2);
    let (status, body) = post(&sup, url.clone(), json!({ "teams": ["team-a"] })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["agents"], 2);
    assert_eq!(body["publication"]["teams"], json!(["team-a"]));
    let (status, body) = post(&sup, url.clone(), json!({ "teams": ["team-a"] })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&body), "nothing_to_publish");
    let (status, body) = post(&sup, url.clone(), json!({ "teams": ["team-z"] })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Team B's agent sees nothing yet; team A's agent sees their month.
    let (_, b) = get_json(&app.login("agent-b1").await, &app.url("/api/me/months")).await;
    assert!(b["items"].as_array().unwrap().is_empty());
    let (status, _) = get_json(
        &app.login("agent-b1").await,
        &app.url("/api/me/months/2026-11"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, a) = get_json(&app.login("agent-a1").await, &app.url("/api/me/months")).await;
    assert_eq!(a["items"][0]["evaluations"], 1);
    assert_eq!(a["items"][0]["mean_score"], 60.0);
    // Then the rest, confirmed.
    let (status, body) = post(&sup, url, json!({ "confirm": true })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["agents"], 1);
    let (_, p) = get_json(&sup, &app.url("/api/months/2026-11/publication")).await;
    assert_eq!(p["publications"].as_array().unwrap().len(), 2);
    assert_eq!(p["unpublished_agents"], 0);
    // Only supervisors publish.
    let (status, _) = post(
        &app.login("lead-a").await,
        app.url("/api/months/2026-11/publish"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

async fn events_reach_the_webhook(db: TestDb) {
    let (hook, received, server) =
        crate::helpers::webhook_receiver(std::time::Duration::ZERO).await;

    let clock = callgrade::clock::Clock::manual(at("2026-11-20 10:00"));
    let app = TestApp::spawn_with(db, |c| {
        c.clock = clock;
        c.draw_interval = None;
        c.webhook_url = Some(hook);
    })
    .await;
    poor(&app, "W-1", "agent-a1").await;
    app.config.clock.set(at("2026-12-01 09:00"));
    publish(&app, json!({})).await;
    let client = reqwest::Client::new();
    let delivered = callgrade::publication::deliver_webhooks(&app.state.db, &app.config, &client)
        .await
        .unwrap();
    // The inspector's pull, the lead's flag of the poor call; one event for the agent with
    // a result to acknowledge, one for the two without.
    assert_eq!(delivered, 4);
    // Delivered events are not sent again.
    assert_eq!(
        callgrade::publication::deliver_webhooks(&app.state.db, &app.config, &client)
            .await
            .unwrap(),
        0
    );
    {
        let got = received.lock().unwrap();
        assert_eq!(got.len(), 4);
        let of = |kind: &str| got.iter().filter(|h| h.event == kind).collect::<Vec<_>>();
        assert_eq!(of("pull_assigned").len(), 1);
        let flags = of("flag_raised");
        assert_eq!(flags.len(), 1);
        assert_eq!(flags[0].body["details"]["call_id"], "W-1");
        let published = of("published");
        assert_eq!(published.len(), 2);
        for crate::helpers::Hooked { event, body, .. } in published {
            assert_eq!(event, "published");
            assert_eq!(body["event"], "published");
            assert_eq!(body["details"]["month"], "2026-11");
            let acknowledge = body["details"]["acknowledge"].as_bool().unwrap();
            assert_eq!(
                body["recipients"],
                if acknowledge { 1 } else { 2 },
                "{body}"
            );
        }
    }
    server.abort();
}
