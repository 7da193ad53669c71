//! Test helpers: a server on a fresh database, logged-in clients, fixture files.

use std::path::{Path, PathBuf};

use callgrade::app::{AppState, serve};
use callgrade::config::Config;
use callgrade::store::Backend;
use callgrade::store::scratch::ScratchPostgres;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Generates one `#[tokio::test]` per backend for each listed `async fn name(backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::TestDb::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::helpers::TestDb::postgres() {
                        super::$name(db).await
                    }
                }
            )*
        }
    };
}

#[derive(Clone, Debug)]
pub enum TestDb {
    Sqlite,
    /// The server URL of PostgreSQL; each test makes its own database on it.
    Postgres(String),
}

impl TestDb {
    /// `None` (skip) only outside CI when no PostgreSQL is configured.
    pub fn postgres() -> Option<TestDb> {
        match std::env::var("CALLGRADE_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(TestDb::Postgres(url)),
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!(
                    "CI=true but CALLGRADE_TEST_DATABASE_URL is not set: PostgreSQL tests must run"
                )
            }
            _ => {
                eprintln!("CALLGRADE_TEST_DATABASE_URL not set: skipping the PostgreSQL variant");
                None
            }
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            TestDb::Sqlite => Backend::Sqlite,
            TestDb::Postgres(_) => Backend::Postgres,
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub config: Config,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    // Kept for their Drop: the data folder and the PostgreSQL database.
    pub data_dir: tempfile::TempDir,
    _pg: Option<ScratchPostgres>,
}

/// The small organisation every test starts with: two teams, their leads and agents, and
/// the center-wide roles. Passwords are `pw-<username>`.
pub const ROSTER: &str = "username,name,role,team,hire_date,password
sup,Supervisor Chen,supervisor,,2020-01-01,pw-sup1234
insp,Inspector Liu,inspector,,2021-01-01,pw-insp1234
panel,Panel Sun,panel,,2021-01-01,pw-panel1234
lead-a,Lead Wang,team_lead,team-a,2022-01-01,pw-lead-a1234
lead-b,Lead Zhang,team_lead,team-b,2022-01-01,pw-lead-b1234
agent-a1,Agent Li,agent,team-a,2023-01-01,pw-agent-a11234
agent-a2,Agent Yang,agent,team-a,2026-10-01,pw-agent-a21234
agent-b1,Agent Zhu,agent,team-b,2023-01-01,pw-agent-b11234
";

pub fn password_of(username: &str) -> String {
    format!("pw-{username}1234")
}

impl TestApp {
    pub async fn spawn(db: TestDb) -> TestApp {
        Self::spawn_with(db, |_| {}).await
    }

    pub async fn spawn_with(db: TestDb, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let data_dir = tempfile::tempdir().unwrap();
        let pg = match &db {
            TestDb::Sqlite => None,
            TestDb::Postgres(url) => Some(
                ScratchPostgres::create(url, "cg_test")
                    .await
                    .unwrap_or_else(|e| {
                        panic!("PostgreSQL at CALLGRADE_TEST_DATABASE_URL is unusable: {e:#}")
                    }),
            ),
        };
        let mut config = Config::for_data_dir(
            data_dir.path().to_path_buf(),
            pg.as_ref().map(|p| p.url.clone()),
        );
        tweak(&mut config);
        let state = AppState::open(config.clone()).await.unwrap();
        assert_eq!(state.db.backend, db.backend());
        let people = callgrade::org::parse_roster(ROSTER.as_bytes()).unwrap();
        callgrade::org::import_roster(&state.db, &people)
            .await
            .unwrap();
        let mut app = TestApp {
            base: String::new(),
            state,
            config,
            stop: None,
            server: None,
            data_dir,
            _pg: pg,
        };
        app.start().await;
        app
    }

    async fn start(&mut self) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        self.base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let state = self.state.clone();
        self.server = Some(tokio::spawn(serve(listener, state, async {
            let _ = rx.await;
        })));
        self.stop = Some(tx);
    }

    /// Stops the server the way SIGTERM does, then opens storage again from scratch.
    pub async fn restart(mut self) -> TestApp {
        self.shutdown().await;
        self.state = AppState::open(self.config.clone()).await.unwrap();
        self.start().await;
        self
    }

    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A client with its own cookie jar, logged in as `username`.
    pub async fn login(&self, username: &str) -> reqwest::Client {
        let client = client();
        // A busy server (many logins being checked at once) asks to retry shortly.
        for _ in 0..50 {
            let resp = client
                .post(self.url("/api/login"))
                .json(&json!({ "username": username, "password": password_of(username) }))
                .send()
                .await
                .unwrap();
            if resp.status() == StatusCode::TOO_MANY_REQUESTS {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
            assert_eq!(resp.status(), StatusCode::OK, "login as {username}");
            return client;
        }
        panic!("login as {username}: the server stayed busy");
    }

    pub async fn token(&self, name: &str) -> String {
        callgrade::store::tokens::create(&self.state.db, name)
            .await
            .unwrap()
    }

    pub async fn health(&self) -> StatusCode {
        client()
            .get(self.url("/api/health"))
            .send()
            .await
            .unwrap()
            .status()
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/audio")
        .join(name)
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap()
}

pub fn meta(call_id: &str, agent: &str) -> Value {
    json!({
        "call_id": call_id,
        "agent": agent,
        "started_at": "2026-11-02T09:15:00+08:00",
        "direction": "inbound",
        "queue": "billing",
        "customer_number": "13812345678",
    })
}

/// Pushes a recording as a recorder would (bearer token) or with a session client.
pub async fn upload(
    app: &TestApp,
    auth: &Auth<'_>,
    metadata: &Value,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    upload_named(app, auth, metadata, "call.wav", bytes).await
}

/// `upload` with the file part's filename (headerless formats are known by their extension).
pub async fn upload_named(
    app: &TestApp,
    auth: &Auth<'_>,
    metadata: &Value,
    file_name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let form = reqwest::multipart::Form::new()
        .text("metadata", metadata.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_string()),
        );
    let req = match auth {
        Auth::Token(t) => client().post(app.url("/api/recordings")).bearer_auth(t),
        Auth::Session(c) => c.post(app.url("/api/recordings")),
    };
    let resp = req.multipart(form).send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub enum Auth<'a> {
    Token(&'a str),
    Session(&'a reqwest::Client),
}

pub async fn get_json(client: &reqwest::Client, url: &str) -> (StatusCode, Value) {
    let resp = client.get(url).send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The error code of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

/// One webhook post as a local receiver saw it.
#[derive(Clone, Debug)]
pub struct Hooked {
    pub event: String,
    /// `X-Callgrade-Delivery`: the event's id, the same on a retry.
    pub delivery: String,
    pub body: Value,
}

/// A local webhook receiver that keeps what it is sent, answering after `delay`: its URL,
/// what it received, and its server task (abort it at the end).
pub async fn webhook_receiver(
    delay: std::time::Duration,
) -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<Hooked>>>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let received: std::sync::Arc<std::sync::Mutex<Vec<Hooked>>> = Default::default();
    let sink = received.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let sink = sink.clone();
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string()
                };
                sink.lock().unwrap().push(Hooked {
                    event: header("x-callgrade-event"),
                    delivery: header("x-callgrade-delivery"),
                    body: serde_json::from_str(&body).unwrap_or(Value::Null),
                });
                tokio::time::sleep(delay).await;
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, receiver).await });
    (url, received, server)
}
