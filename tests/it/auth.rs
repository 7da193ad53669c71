//! Login, sessions, logout, throttling.

use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{TestApp, TestDb, client, code, get_json, password_of};

both_backends!(
    login_sets_a_safe_cookie_and_logout_ends_the_session,
    each_login_gets_a_new_session_id,
    wrong_password_and_unknown_user_look_the_same,
    repeated_failures_are_slowed_down,
    bad_json_gets_a_json_error,
    unknown_api_route_is_a_json_404,
);

async fn login_sets_a_safe_cookie_and_logout_ends_the_session(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let resp = client()
        .post(app.url("/api/login"))
        .json(&json!({ "username": "agent-a1", "password": password_of("agent-a1") }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.starts_with("callgrade_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["user"]["username"], "agent-a1");
    assert_eq!(body["user"]["role"], "agent");
    assert_eq!(body["user"]["team"], "team-a");
    assert!(body["user"].get("password_hash").is_none());

    // The raw cookie works until logout, and not after: the server forgot it.
    let value = cookie.split(';').next().unwrap().to_string();
    let raw = reqwest::Client::new();
    let send = |method: reqwest::Method, path: &str| {
        raw.request(method, app.url(path))
            .header("cookie", &value)
            .send()
    };
    assert_eq!(
        send(reqwest::Method::GET, "/api/me")
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let out = send(reqwest::Method::POST, "/api/logout").await.unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let me = send(reqwest::Method::GET, "/api/me").await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = me.json().await.unwrap();
    assert_eq!(code(&body), "unauthenticated");
    let list = send(reqwest::Method::GET, "/api/recordings").await.unwrap();
    assert_eq!(list.status(), StatusCode::UNAUTHORIZED);
}

async fn each_login_gets_a_new_session_id(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        let resp = client()
            .post(app.url("/api/login"))
            .json(&json!({ "username": "sup", "password": password_of("sup") }))
            .send()
            .await
            .unwrap();
        seen.push(resp.headers()[SET_COOKIE].to_str().unwrap().to_string());
    }
    assert_ne!(seen[0], seen[1]);
    // A made-up session id is refused.
    let forged = reqwest::Client::new()
        .get(app.url("/api/me"))
        .header("cookie", "callgrade_session=0000")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

async fn wrong_password_and_unknown_user_look_the_same(db: TestDb) {
    let app = TestApp::spawn(db).await;
    for (user, pw) in [
        ("agent-a1", "wrong-password"),
        ("nobody", "whatever-password"),
    ] {
        let resp = client()
            .post(app.url("/api/login"))
            .json(&json!({ "username": user, "password": pw }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(resp.headers().get(SET_COOKIE).is_none());
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(code(&body), "invalid_credentials");
        assert_eq!(body["error"]["message"], "wrong username or password");
    }
}

async fn repeated_failures_are_slowed_down(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let c = client();
    let attempt = |pw: String| {
        let c = c.clone();
        let url = app.url("/api/login");
        async move {
            c.post(url)
                .json(&json!({ "username": "agent-b1", "password": pw }))
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..callgrade::auth::FREE_FAILURES {
        assert_eq!(
            attempt("bad-password".into()).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Locked now: even the right password is turned away until the wait is over.
    let locked = attempt(password_of("agent-b1")).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().contains_key("retry-after"));
    let body: serde_json::Value = locked.json().await.unwrap();
    assert_eq!(code(&body), "too_many_attempts");
    // Other people are not affected.
    let (status, _) = get_json(&app.login("agent-a1").await, &app.url("/api/me")).await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        attempt(password_of("agent-b1")).await.status(),
        StatusCode::OK
    );
}

async fn bad_json_gets_a_json_error(db: TestDb) {
    let app = TestApp::spawn(db).await;
    for body in ["{not json", "{\"username\": 5}", ""] {
        let resp = client()
            .post(app.url("/api/login"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_client_error(), "{body}: {}", resp.status());
        let json: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(code(&json), "invalid_json", "{body}");
    }
    assert_eq!(app.health().await, StatusCode::OK);
}

async fn unknown_api_route_is_a_json_404(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (status, body) = get_json(&client(), &app.url("/api/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&body), "not_found");
    let (status, body) = get_json(&client(), &app.url("/api/health")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "status": "ok" })));
}
