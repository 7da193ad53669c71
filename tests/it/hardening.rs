//! What a careful operator or attacker would try: cross-site requests, the headers that keep
//! the app from being framed or cached, formulas smuggled into CSV exports, two pulls of one
//! call at once, and several nodes delivering the same webhook events.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::grading::spawn;
use crate::helpers::{Auth, TestApp, TestDb, code, fixture, get_json, meta, upload};
use crate::sampling::{at, call, insert, post};

both_backends!(
    cross_site_requests_change_nothing,
    every_answer_has_the_safety_headers,
    csv_exports_keep_formulas_as_text,
    two_pulls_of_one_call_at_once_give_one_pull,
    each_webhook_event_is_delivered_once_by_several_nodes,
    recorder_tokens_are_listed_revoked_and_expire,
    a_new_password_ends_the_old_sessions,
    score_versions_tell_no_one_else_of_appeals,
    a_partial_publication_reveals_the_seed_only_to_whom_it_concerns,
);

async fn cross_site_requests_change_nothing(db: TestDb) {
    let app = spawn(db).await;
    let sup = app.login("sup").await;
    insert(&app, &[call("X-1", "agent-a1", at("2026-11-18 09:30"))]).await;
    let pull = |headers: Vec<(&'static str, String)>| {
        let mut req = sup
            .post(app.url("/api/pulls"))
            .json(&json!({ "call_id": "X-1", "reason": "complaint", "grader": "insp" }));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    // A page elsewhere, as a browser says it: refused, whatever the cookie.
    let resp = pull(vec![("sec-fetch-site", "cross-site".into())])
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(code(&resp.json::<Value>().await.unwrap()), "cross_site");
    let resp = pull(vec![("origin", "https://evil.example".into())])
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let (_, queue) = get_json(&app.login("insp").await, &app.url("/api/me/queue")).await;
    assert_eq!(queue["items"], json!([]), "nothing was pulled");
    // The app's own page is welcome.
    let host = app.base.trim_start_matches("http://").to_string();
    let resp = pull(vec![
        ("origin", format!("http://{host}")),
        ("sec-fetch-site", "same-origin".into()),
    ])
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    // A body that does not say it is JSON (what a form on another site can send) is refused.
    let resp = sup
        .post(app.url("/api/months/2026-11/publish"))
        .header("content-type", "text/plain")
        .body(r#"{"confirm": true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        code(&resp.json::<Value>().await.unwrap()),
        "unsupported_media_type"
    );
    let (_, preview) = get_json(&sup, &app.url("/api/months/2026-11/publication")).await;
    assert_eq!(preview["publications"], json!([]), "nothing was published");
    // Reading is never refused: a link from elsewhere may open the app.
    let resp = sup
        .get(app.url("/api/me"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

async fn every_answer_has_the_safety_headers(db: TestDb) {
    let app = spawn(db).await;
    let sup = app.login("sup").await;
    for path in ["/", "/app.js", "/api/me", "/api/nope"] {
        let resp = sup.get(app.url(path)).send().await.unwrap();
        let h = resp.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
        if path.starts_with("/api/") {
            assert_eq!(h["cache-control"], "no-store", "{path}");
        }
    }
}

async fn csv_exports_keep_formulas_as_text(db: TestDb) {
    let app = spawn(db).await;
    let sup = app.login("sup").await;
    // A roster typed by people: a name that a spreadsheet would run as a formula.
    let id = callgrade::store::users::find_agent(&app.state.db, "agent-a1")
        .await
        .unwrap()
        .unwrap()
        .id;
    sqlx::query("UPDATE users SET name = $1 WHERE id = $2")
        .bind("=HYPERLINK(\"http://evil.example\",\"pay\")")
        .bind(id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    crate::grading::graded(&app, "F-1", "agent-a1", "insp", json!({})).await;
    app.config.clock.set(at("2026-12-01 09:00"));
    let (status, body) = post(
        &sup,
        app.url("/api/months/2026-11/publish"),
        json!({ "confirm": true }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let csv = sup
        .get(app.url("/api/reports/payroll?month=2026-11&format=csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut rows = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let names: Vec<String> = rows.records().map(|r| r.unwrap()[1].to_string()).collect();
    assert!(
        names.contains(&"'=HYPERLINK(\"http://evil.example\",\"pay\")".to_string()),
        "{names:?}"
    );
    assert!(names.iter().all(|n| !n.starts_with('=')), "{names:?}");
}

async fn two_pulls_of_one_call_at_once_give_one_pull(db: TestDb) {
    let app = spawn(db).await;
    insert(&app, &[call("P-1", "agent-a1", at("2026-11-18 09:30"))]).await;
    let sup = app.login("sup").await;
    let tries: Vec<_> = (0..8)
        .map(|_| {
            let sup = sup.clone();
            let url = app.url("/api/pulls");
            tokio::spawn(async move {
                post(
                    &sup,
                    url,
                    json!({ "call_id": "P-1", "reason": "complaint", "grader": "insp" }),
                )
                .await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tries {
        let (status, body) = t.await.unwrap();
        if status == StatusCode::CONFLICT {
            assert_eq!(code(&body), "already_queued", "{body}");
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT)
    );
    let (_, queue) = get_json(&app.login("insp").await, &app.url("/api/me/queue")).await;
    assert_eq!(queue["items"].as_array().unwrap().len(), 1);
}

async fn each_webhook_event_is_delivered_once_by_several_nodes(db: TestDb) {
    // A receiver slow enough that the nodes' deliveries overlap.
    let (hook, received, server) =
        crate::helpers::webhook_receiver(std::time::Duration::from_millis(20)).await;

    let clock = callgrade::clock::Clock::manual(at("2026-11-20 10:00"));
    let app = TestApp::spawn_with(db, |c| {
        c.clock = clock;
        c.draw_interval = None;
        c.webhook_url = Some(hook);
    })
    .await;
    for i in 0..6 {
        crate::grading::graded(
            &app,
            &format!("W-{i}"),
            "agent-a1",
            "insp",
            json!({ "deductions": [{ "item": "commanding_tone", "occurrences": 4,
                                     "times_ms": [1000, 2000, 3000, 4000] }] }),
        )
        .await;
    }
    app.config.clock.set(at("2026-12-01 09:00"));
    let (status, body) = crate::counting::publish(&app, json!({ "confirm": true })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let agent = app.login("agent-a1").await;
    let (_, month) = get_json(&agent, &app.url("/api/me/months/2026-11")).await;
    for e in month["evaluations"].as_array().unwrap().iter().take(3) {
        let (status, body) = post(
            &agent,
            app.url(&format!("/api/evaluations/{}/appeals", e["id"])),
            json!({ "reason": "not me" }),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // Four nodes deliver at once from the same database.
    let nodes: Vec<_> = (0..4)
        .map(|_| {
            let db = app.state.db.clone();
            let config = app.config.clone();
            tokio::spawn(async move {
                callgrade::publication::deliver_webhooks(&db, &config, &reqwest::Client::new())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut delivered = 0;
    for n in nodes {
        delivered += n.await.unwrap();
    }
    let got: Vec<String> = received
        .lock()
        .unwrap()
        .iter()
        .map(|h| h.delivery.clone())
        .collect();
    let mut unique = got.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        got.len(),
        unique.len(),
        "an event was posted twice: {got:?}"
    );
    assert_eq!(delivered, got.len());
    assert!(
        got.len() >= 5,
        "the publication's and the appeals' events: {got:?}"
    );
    server.abort();
}

async fn recorder_tokens_are_listed_revoked_and_expire(db: TestDb) {
    let app = spawn(db).await;
    let sup = app.login("sup").await;
    let (status, made) = post(
        &sup,
        app.url("/api/tokens"),
        json!({ "name": "asterisk-1" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let token = made["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("cgt_"));
    assert_eq!(made["status"], "active");
    assert_eq!(made["created_by"], "sup");
    let push = |call_id: &'static str, token: String| {
        let app = &app;
        async move {
            upload(
                app,
                &Auth::Token(&token),
                &meta(call_id, "agent-a1"),
                fixture("mulaw_8k_mono.wav"),
            )
            .await
            .0
        }
    };
    assert_eq!(push("T-1", token.clone()).await, StatusCode::CREATED);
    // The same name twice, a bad name, someone else than a supervisor: refused.
    let (status, body) = post(
        &sup,
        app.url("/api/tokens"),
        json!({ "name": "asterisk-1" }),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "token_exists")
    );
    let (status, _) = post(&sup, app.url("/api/tokens"), json!({ "name": "a b" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let lead = app.login("lead-a").await;
    let (status, _) = get_json(&lead, &app.url("/api/tokens")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Revoked: the recorder is refused from then on; the list says so and never shows tokens.
    let (status, body) = post(&sup, app.url("/api/tokens/asterisk-1/revoke"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "revoked");
    assert_eq!(push("T-2", token.clone()).await, StatusCode::UNAUTHORIZED);
    let (_, list) = get_json(&sup, &app.url("/api/tokens")).await;
    assert!(!list.to_string().contains(&token));
    assert_eq!(list["items"][0]["status"], "revoked");
    let (status, _) = post(&sup, app.url("/api/tokens/nobody/revoke"), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An expiring token works until its day, then not.
    let (_, made) = post(
        &sup,
        app.url("/api/tokens"),
        json!({ "name": "temp", "expires_days": 1 }),
    )
    .await;
    let temp = made["token"].as_str().unwrap().to_string();
    assert!(made["expires_at"].is_string());
    assert_eq!(push("T-3", temp.clone()).await, StatusCode::CREATED);
    sqlx::query("UPDATE api_tokens SET expires_at_ms = 1 WHERE name = 'temp'")
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(push("T-4", temp).await, StatusCode::UNAUTHORIZED);
    let (_, list) = get_json(&sup, &app.url("/api/tokens")).await;
    let temp_row = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "temp")
        .unwrap();
    assert_eq!(temp_row["status"], "expired");

    // The same from the command line.
    let (ok, out, err) = crate::cli::callgrade(
        &app,
        &["tokens", "create", "fs-1", "--expires-days", "30"],
        None,
    );
    assert!(ok, "{err}");
    assert!(out.trim().starts_with("cgt_"), "{out}");
    let (ok, out, _) = crate::cli::callgrade(&app, &["tokens", "revoke", "fs-1"], None);
    assert!(ok && out.contains("revoked fs-1"), "{out}");
    let (ok, out, _) = crate::cli::callgrade(&app, &["tokens", "list"], None);
    assert!(
        ok && out.contains("fs-1") && out.contains("asterisk-1"),
        "{out}"
    );
    let (ok, _, err) = crate::cli::callgrade(&app, &["tokens", "revoke", "nobody"], None);
    assert!(!ok && err.contains("no token named"), "{err}");
}

async fn a_new_password_ends_the_old_sessions(db: TestDb) {
    let app = spawn(db).await;
    let agent = app.login("agent-a1").await;
    let (status, _) = get_json(&agent, &app.url("/api/me")).await;
    assert_eq!(status, StatusCode::OK);
    // The roster re-imported with the same password changes nothing; with a new one, every
    // session of the old one ends.
    let roster = |pw: &str| {
        format!(
            "username,name,role,team,hire_date,password\nagent-a1,Agent Li,agent,team-a,2023-01-01,{pw}\n"
        )
    };
    let people =
        callgrade::org::parse_roster(roster(&crate::helpers::password_of("agent-a1")).as_bytes())
            .unwrap();
    callgrade::org::import_roster(&app.state.db, &people)
        .await
        .unwrap();
    assert_eq!(
        get_json(&agent, &app.url("/api/me")).await.0,
        StatusCode::OK
    );
    let people = callgrade::org::parse_roster(roster("a-brand-new-password").as_bytes()).unwrap();
    callgrade::org::import_roster(&app.state.db, &people)
        .await
        .unwrap();
    assert_eq!(
        get_json(&agent, &app.url("/api/me")).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn score_versions_tell_no_one_else_of_appeals(db: TestDb) {
    let app = spawn(db).await;
    let poor = json!({ "deductions": [{ "item": "commanding_tone", "occurrences": 4,
                                        "times_ms": [1000, 2000, 3000, 4000] }] });
    let e = crate::grading::graded(&app, "V-1", "agent-a1", "insp", poor).await;
    crate::grading::graded(&app, "V-2", "agent-b1", "insp", json!({})).await;
    app.config.clock.set(at("2026-12-01 09:00"));
    let sup = app.login("sup").await;
    post(&sup, app.url("/api/months/2026-11/publish"), json!({})).await;
    let a1 = app.login("agent-a1").await;
    let (_, appeal) = post(
        &a1,
        app.url(&format!("/api/evaluations/{}/appeals", e["id"])),
        json!({ "reason": "not me" }),
    )
    .await;
    let panel = app.login("panel").await;
    let (status, body) = post(
        &panel,
        app.url(&format!("/api/appeals/{}/decision", appeal["id"])),
        json!({ "outcome": "upheld", "reason": "it was" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Another agent sees that the month was recomputed, not whose appeal or by whom.
    let b1 = app.login("agent-b1").await;
    let (_, runs) = get_json(&b1, &app.url("/api/months/2026-11/scores/runs")).await;
    let text = runs.to_string();
    assert!(
        !text.contains("appeal") && !text.contains("panel"),
        "{text}"
    );
    assert_eq!(runs["items"][0]["cause"], "recomputed");
    assert_eq!(runs["items"][0]["detail"], Value::Null);
    let (_, now) = get_json(&b1, &app.url("/api/months/2026-11/scores")).await;
    assert_eq!(now["cause"], "recomputed");
    // The supervisor sees everything.
    let (_, runs) = get_json(&sup, &app.url("/api/months/2026-11/scores/runs")).await;
    assert_eq!(runs["items"][0]["cause"], "appeal_decided");
    assert!(
        runs["items"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("appeal")
    );
}

async fn a_partial_publication_reveals_the_seed_only_to_whom_it_concerns(db: TestDb) {
    let app = spawn(db).await;
    let (qa, _) = crate::counting::drawn_month(&app, &["agent-a1", "agent-b1"]).await;
    let sup = app.login("sup").await;
    let (status, body) = post(
        &sup,
        app.url("/api/months/2026-11/publish"),
        json!({ "teams": ["team-a"], "confirm": true }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let proof = |who: &'static str| {
        let app = &app;
        async move {
            let client = app.login(who).await;
            get_json(&client, &app.url(&format!("/api/plans/{qa}/proof"))).await
        }
    };
    // Team B is not published: whoever sees its calls could work out its samples.
    for who in ["sup", "insp", "lead-b"] {
        let (status, p) = proof(who).await;
        assert_eq!(status, StatusCode::OK, "{who}: {p}");
        assert_eq!(p["revealed"], false, "{who}");
        assert_eq!(p["seed"], Value::Null, "{who}");
    }
    let (_, plan) = get_json(&sup, &app.url(&format!("/api/plans/{qa}"))).await;
    assert_eq!(plan["seed"], Value::Null);
    // Team A's people may check their part.
    for who in ["agent-a1", "lead-a"] {
        let (status, p) = proof(who).await;
        assert_eq!(status, StatusCode::OK, "{who}: {p}");
        assert_eq!(p["revealed"], true, "{who}");
        assert!(p["seed"].is_string(), "{who}");
    }
    let (status, _) = proof("agent-b1").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "agent-b1's month is not out");
    // Once everyone is published, everyone may check.
    let (status, body) = post(
        &sup,
        app.url("/api/months/2026-11/publish"),
        json!({ "confirm": true }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for who in ["sup", "lead-b", "agent-b1"] {
        let (_, p) = proof(who).await;
        assert_eq!(p["revealed"], true, "{who}");
    }
}
