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
    a_name_is_locked_only_from_where_it_was_guessed,
    one_address_guessing_many_names_is_slowed_down,
    failures_are_counted_in_the_database_not_one_process,
    a_flood_of_wrong_logins_is_turned_away_and_the_server_stays_up,
    behind_https_the_cookie_is_secure_and_host_bound,
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
    for _ in 0..callgrade::domain::login::NAME_AT_ADDRESS.free {
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

/// A server that takes the client's address from `X-Forwarded-For`, as behind a proxy.
async fn behind_a_proxy(db: TestDb) -> TestApp {
    TestApp::spawn_with(db, |c| c.client_ip_header = Some("x-forwarded-for".into())).await
}

async fn login_from(app: &TestApp, address: &str, username: &str, password: &str) -> StatusCode {
    client()
        .post(app.url("/api/login"))
        .header("x-forwarded-for", format!("{address}, 10.9.9.9"))
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
}

async fn a_name_is_locked_only_from_where_it_was_guessed(db: TestDb) {
    let app = behind_a_proxy(db).await;
    let free = callgrade::domain::login::NAME_AT_ADDRESS.free;
    for _ in 0..free {
        let status = login_from(&app, "198.51.100.7", "agent-b1", "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        login_from(&app, "198.51.100.7", "agent-b1", &password_of("agent-b1")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The agent at their own desk is not locked out by someone guessing elsewhere.
    assert_eq!(
        login_from(&app, "10.1.2.3", "agent-b1", &password_of("agent-b1")).await,
        StatusCode::OK
    );
}

async fn one_address_guessing_many_names_is_slowed_down(db: TestDb) {
    let app = behind_a_proxy(db).await;
    let free = callgrade::domain::login::ADDRESS.free;
    for i in 0..free {
        let status = login_from(&app, "203.0.113.5", &format!("nobody-{i}"), "guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "try {i}");
    }
    // Locked for every name from there, even with the right password; not elsewhere.
    assert_eq!(
        login_from(&app, "203.0.113.5", "agent-a1", &password_of("agent-a1")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login_from(&app, "10.1.2.4", "agent-a1", &password_of("agent-a1")).await,
        StatusCode::OK
    );
}

async fn failures_are_counted_in_the_database_not_one_process(db: TestDb) {
    let app = behind_a_proxy(db).await;
    for _ in 0..callgrade::domain::login::NAME_AT_ADDRESS.free {
        login_from(&app, "198.51.100.8", "agent-a2", "guess").await;
    }
    // Another process on the same database (here: the same server restarted) sees the lock.
    let app = app.restart().await;
    assert_eq!(
        login_from(&app, "198.51.100.8", "agent-a2", &password_of("agent-a2")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

async fn a_flood_of_wrong_logins_is_turned_away_and_the_server_stays_up(db: TestDb) {
    let app = behind_a_proxy(db).await;
    // 200 clients at once, each from its own address and for a made-up name, for 3 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let url = app.url("/api/login");
            tokio::spawn(async move {
                let c = client();
                let mut seen = Vec::new();
                while std::time::Instant::now() < deadline {
                    let resp = c
                        .post(&url)
                        .header("x-forwarded-for", format!("10.20.{}.{}", i / 250, i % 250))
                        .json(&json!({ "username": format!("ghost-{i}"), "password": "x" }))
                        .send()
                        .await
                        .unwrap();
                    seen.push(resp.status());
                    if resp.status() == StatusCode::TOO_MANY_REQUESTS {
                        assert!(resp.headers().contains_key("retry-after"));
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                }
                seen
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.extend(t.await.unwrap());
    }
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS),
        "only 401 and 429: {:?}",
        statuses.iter().filter(|s| s.is_server_error()).count()
    );
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "the gate sheds load"
    );
    // Meanwhile and after, real people still get in.
    assert_eq!(app.health().await, StatusCode::OK);
    let (status, _) = get_json(&app.login("agent-a1").await, &app.url("/api/me")).await;
    assert_eq!(status, StatusCode::OK);
}

async fn behind_https_the_cookie_is_secure_and_host_bound(db: TestDb) {
    // What `--public-url https://qa.example.com` sets up.
    let app = TestApp::spawn_with(db, |c| {
        c.secure_cookie = true;
        c.public_host = Some("qa.example.com".into());
    })
    .await;
    let resp = client()
        .post(app.url("/api/login"))
        .json(&json!({ "username": "agent-a1", "password": password_of("agent-a1") }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-callgrade_session="), "{cookie}");
    assert!(
        cookie.contains("; Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain"), "{cookie}");
    // The plain name is not read there: a neighbour cannot plant a session.
    let token = cookie["__Host-callgrade_session=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let (status, _) = get_json(&client(), &app.url("/api/me")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let me = |name: &str| {
        client()
            .get(app.url("/api/me"))
            .header("cookie", format!("{name}={token}"))
            .send()
    };
    assert_eq!(
        me("callgrade_session").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me("__Host-callgrade_session").await.unwrap().status(),
        StatusCode::OK
    );
    // The public address is the origin state changes must come from.
    let resp = client()
        .post(app.url("/api/logout"))
        .header("origin", "https://qa.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = client()
        .post(app.url("/api/logout"))
        .header("origin", "https://other.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
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
