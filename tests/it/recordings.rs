//! Listing and reading recordings: who sees what.

use reqwest::StatusCode;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{Auth, TestApp, TestDb, client, code, fixture, get_json, meta, upload};

both_backends!(
    every_role_sees_exactly_its_scope,
    list_filters_by_agent_and_month_and_pages,
    customer_numbers_are_masked_except_for_supervisors,
    openapi_describes_every_route,
);

/// One recording per agent; returns their ids by agent.
async fn one_call_each(app: &TestApp) -> Vec<(String, i64)> {
    let token = app.token("rec").await;
    let mut ids = Vec::new();
    for agent in ["agent-a1", "agent-a2", "agent-b1"] {
        let (status, body) = upload(
            app,
            &Auth::Token(&token),
            &meta(&format!("C-{agent}"), agent),
            fixture("mulaw_8k_mono.wav"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push((agent.to_string(), body["id"].as_i64().unwrap()));
    }
    ids
}

fn agents_in(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["agent"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

async fn every_role_sees_exactly_its_scope(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let ids = one_call_each(&app).await;
    let cases: &[(&str, &[&str])] = &[
        ("agent-a1", &["agent-a1"]),
        ("agent-b1", &["agent-b1"]),
        ("lead-a", &["agent-a1", "agent-a2"]),
        ("lead-b", &["agent-b1"]),
        ("sup", &["agent-a1", "agent-a2", "agent-b1"]),
        ("insp", &["agent-a1", "agent-a2", "agent-b1"]),
        ("panel", &["agent-a1", "agent-a2", "agent-b1"]),
    ];
    for (who, visible) in cases {
        let c = app.login(who).await;
        let (status, list) = get_json(&c, &app.url("/api/recordings")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(agents_in(&list), *visible, "list as {who}");
        let (_, agents) = get_json(&c, &app.url("/api/agents")).await;
        let mut names: Vec<&str> = agents["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["username"].as_str().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, *visible, "agents as {who}");
        for (agent, id) in &ids {
            let (status, body) = get_json(&c, &app.url(&format!("/api/recordings/{id}"))).await;
            if visible.contains(&agent.as_str()) {
                assert_eq!(status, StatusCode::OK, "{who} reading {agent}'s call");
                assert_eq!(body["agent"], agent.as_str());
            } else {
                // Not "forbidden": the answer must not reveal that the call exists.
                assert_eq!(
                    status,
                    StatusCode::NOT_FOUND,
                    "{who} reading {agent}'s call"
                );
                assert_eq!(code(&body), "not_found");
                assert!(body.get("call_id").is_none());
            }
        }
        // Filtering on someone out of scope gives nothing, not their calls.
        let (_, filtered) = get_json(&c, &app.url("/api/recordings?agent=agent-b1")).await;
        let expected: &[&str] = if visible.contains(&"agent-b1") {
            &["agent-b1"]
        } else {
            &[]
        };
        assert_eq!(agents_in(&filtered), expected, "filter as {who}");
    }
    // Nobody signed in: nothing at all.
    for path in [
        "/api/recordings",
        "/api/agents",
        "/api/me",
        &format!("/api/recordings/{}", ids[0].1),
    ] {
        let (status, body) = get_json(&client(), &app.url(path)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(code(&body), "unauthenticated");
    }
    let (status, _) = get_json(&app.login("sup").await, &app.url("/api/recordings/999999")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get_json(&app.login("sup").await, &app.url("/api/recordings/abc")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn list_filters_by_agent_and_month_and_pages(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token("rec").await;
    // Seven calls in November (center time, +08:00), two in October; one at the very edge:
    // 2026-11-01T00:30+08:00 is still October in UTC but November for the center.
    let times = [
        "2026-11-01T00:30:00+08:00",
        "2026-11-03T09:00:00+08:00",
        "2026-11-04T09:00:00+08:00",
        "2026-11-05T09:00:00+08:00",
        "2026-11-06T09:00:00+08:00",
        "2026-11-07T09:00:00+08:00",
        "2026-11-30T23:59:00+08:00",
        "2026-10-31T23:59:00+08:00",
        "2026-10-02T09:00:00+08:00",
    ];
    let bytes = fixture("short_call_mulaw_8k.wav");
    for (i, t) in times.iter().enumerate() {
        let mut m = meta(
            &format!("M-{i}"),
            if i % 2 == 0 { "agent-a1" } else { "agent-a2" },
        );
        m["started_at"] = (*t).into();
        let (status, body) = upload(&app, &Auth::Token(&token), &m, bytes.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let sup = app.login("sup").await;
    let (_, nov) = get_json(&sup, &app.url("/api/recordings?month=2026-11&limit=500")).await;
    assert_eq!(nov["items"].as_array().unwrap().len(), 7);
    let (_, oct) = get_json(&sup, &app.url("/api/recordings?month=2026-10")).await;
    assert_eq!(oct["items"].as_array().unwrap().len(), 2);
    let (_, a1) = get_json(
        &sup,
        &app.url("/api/recordings?month=2026-11&agent=agent-a1"),
    )
    .await;
    assert_eq!(agents_in(&a1), vec!["agent-a1"; 4]);

    // Pages of 3, newest first, every call exactly once.
    let mut seen = Vec::new();
    let mut cursor = None::<String>;
    loop {
        let after = cursor
            .as_ref()
            .map_or(String::new(), |c| format!("&cursor={c}"));
        let (status, page) =
            get_json(&sup, &app.url(&format!("/api/recordings?limit=3{after}"))).await;
        assert_eq!(status, StatusCode::OK);
        for r in page["items"].as_array().unwrap() {
            seen.push(r["started_at"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), times.len());
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first");

    for bad in [
        "month=2026-13",
        "month=11-2026",
        "limit=0",
        "limit=501",
        "cursor=xyz",
        "limit=abc",
        "cursor=",
        "month=",
        "month=%202026-11",
    ] {
        let (status, body) = get_json(&sup, &app.url(&format!("/api/recordings?{bad}"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(code(&body), "invalid_query", "{bad}");
    }
}

async fn customer_numbers_are_masked_except_for_supervisors(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let ids = one_call_each(&app).await;
    let id = ids[0].1;
    let (_, as_agent) = get_json(
        &app.login("agent-a1").await,
        &app.url(&format!("/api/recordings/{id}")),
    )
    .await;
    assert_eq!(as_agent["customer_number_masked"], "138****5678");
    assert!(as_agent.get("customer_number").is_none());
    let (_, as_lead) = get_json(&app.login("lead-a").await, &app.url("/api/recordings")).await;
    assert!(as_lead["items"][0].get("customer_number").is_none());
    let (_, as_sup) = get_json(
        &app.login("sup").await,
        &app.url(&format!("/api/recordings/{id}")),
    )
    .await;
    assert_eq!(as_sup["customer_number"], "13812345678");
}

async fn openapi_describes_every_route(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (status, spec) = get_json(&client(), &app.url("/api/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for (path, method) in [
        ("/api/health", "get"),
        ("/api/login", "post"),
        ("/api/logout", "post"),
        ("/api/me", "get"),
        ("/api/agents", "get"),
        ("/api/recordings", "get"),
        ("/api/recordings", "post"),
        ("/api/recordings/{id}", "get"),
        ("/api/recordings/{id}/audio", "get"),
        ("/api/recordings/{id}/audio", "head"),
        ("/api/recordings/{id}/peaks", "get"),
        ("/api/recordings/{id}/analysis", "get"),
        ("/api/recordings/{id}/coverage", "get"),
        ("/api/recordings/{id}/coverage", "post"),
        ("/api/recordings/{id}/comments", "get"),
        ("/api/recordings/{id}/comments", "post"),
        ("/api/plans", "get"),
        ("/api/plans", "post"),
        ("/api/plans/defaults", "post"),
        ("/api/plans/preview", "post"),
        ("/api/plans/{id}", "get"),
        ("/api/plans/{id}/draw", "post"),
        ("/api/plans/{id}/samples", "get"),
        ("/api/plans/{id}/progress", "get"),
        ("/api/plans/{id}/proof", "get"),
        ("/api/me/queue", "get"),
        ("/api/tokens", "get"),
        ("/api/tokens", "post"),
        ("/api/tokens/{name}/revoke", "post"),
        ("/api/settings/queues", "get"),
        ("/api/pulls", "post"),
        ("/api/months/{month}/publication", "get"),
        ("/api/months/{month}/publish", "post"),
        ("/api/months/{month}/acknowledgements", "get"),
        ("/api/me/months", "get"),
        ("/api/me/months/{month}", "get"),
        ("/api/me/months/{month}/acknowledge", "post"),
        ("/api/rubrics", "get"),
        ("/api/rubrics", "post"),
        ("/api/rubrics/current", "get"),
        ("/api/rubrics/{id}", "get"),
        ("/api/assignments/{id}/evaluation", "post"),
        ("/api/evaluations", "get"),
        ("/api/evaluations/{id}", "get"),
        ("/api/evaluations/{id}", "put"),
        ("/api/evaluations/{id}/submit", "post"),
        ("/api/evaluations/{id}/revisions", "get"),
        ("/api/evaluations/{id}/revisions", "post"),
        ("/api/evaluations/{id}/appeals", "post"),
        ("/api/flags", "get"),
        ("/api/flags/{id}", "get"),
        ("/api/flags/{id}/coaching", "post"),
        ("/api/flags/{id}/outcome", "post"),
        ("/api/calibrations", "get"),
        ("/api/calibrations", "post"),
        ("/api/calibrations/agreement", "get"),
        ("/api/calibrations/{id}", "get"),
        ("/api/calibrations/{id}/report", "get"),
        ("/api/appeals", "get"),
        ("/api/appeals/{id}", "get"),
        ("/api/appeals/{id}/regrade", "post"),
        ("/api/appeals/{id}/decision", "post"),
        ("/api/settings/publication", "get"),
        ("/api/settings/publication", "put"),
        ("/api/me/notifications", "get"),
        ("/api/me/notifications/read", "post"),
        ("/api/months/{month}/scores", "get"),
        ("/api/months/{month}/scores/recompute", "post"),
        ("/api/months/{month}/scores/runs", "get"),
        ("/api/agents/{username}/scores", "get"),
        ("/api/components/import", "post"),
        ("/api/settings/scoring", "get"),
        ("/api/settings/scoring", "put"),
        ("/api/commendations", "get"),
        ("/api/commendations", "post"),
        ("/api/reports/{name}", "get"),
    ] {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} missing from openapi.json"
        );
    }
}
