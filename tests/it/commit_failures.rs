//! What ingest does with the stored bytes when the recording's row fails to commit: a
//! definite failure removes them; a COMMIT whose outcome is unknown (the connection lost)
//! keeps them, and acknowledges the upload when the row turns out to be there.
//!
//! The unknown outcomes are made on PostgreSQL with a proxy between the service and the
//! server that cuts the connection at the COMMIT: once after the server answered it (so it
//! committed), once instead of passing it on (so it rolled back).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::both_backends;
use crate::helpers::{Auth, TestApp, TestDb, code, fixture, meta, upload};

both_backends!(an_insert_refused_before_commit_removes_its_bytes);

/// Every stored blob under a data folder.
pub fn blob_files(data_dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(folders) = std::fs::read_dir(data_dir.join("recordings")) else {
        return found;
    };
    for folder in folders.flatten() {
        if let Ok(files) = std::fs::read_dir(folder.path()) {
            found.extend(files.flatten().map(|f| f.path()));
        }
    }
    found
}

async fn sql(app: &TestApp, statement: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
        .execute(&app.state.db.pool)
        .await
        .unwrap();
}

async fn an_insert_refused_before_commit_removes_its_bytes(db: TestDb) {
    let app = TestApp::spawn(db.clone()).await;
    match db {
        TestDb::Sqlite => {
            sql(
                &app,
                "CREATE TRIGGER refuse_at_insert BEFORE INSERT ON recordings \
                 WHEN NEW.call_id = 'AT-INSERT' BEGIN SELECT RAISE(ABORT, 'refused'); END",
            )
            .await
        }
        TestDb::Postgres(_) => {
            refusing_function(&app).await;
            sql(
                &app,
                "CREATE TRIGGER refuse_at_insert BEFORE INSERT ON recordings FOR EACH ROW \
                 WHEN (NEW.call_id = 'AT-INSERT') EXECUTE FUNCTION refuse_recording()",
            )
            .await
        }
    }
    let token = app.token("recorder").await;
    let auth = Auth::Token(&token);
    let bytes = fixture("mulaw_8k_mono.wav");
    let (status, body) = upload(&app, &auth, &meta("AT-INSERT", "agent-a1"), bytes.clone()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(code(&body), "internal");
    assert!(blob_files(app.data_dir.path()).is_empty());
    // The next push is stored as usual.
    let (status, _) = upload(&app, &auth, &meta("AFTER-1", "agent-a1"), bytes).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(blob_files(app.data_dir.path()).len(), 1);
}

async fn refusing_function(app: &TestApp) {
    sql(
        app,
        "CREATE FUNCTION refuse_recording() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
    )
    .await;
}

#[derive(Clone, Copy, Debug)]
enum Cut {
    /// Pass the COMMIT on, wait for the server's answer, then close without relaying it.
    AfterCommit,
    /// Close both sides instead of passing the COMMIT on: the server rolls back.
    InsteadOfCommit,
}

/// A call id, and what to do at the COMMIT of the transaction that sends it.
type Armed = Arc<Mutex<Option<(&'static str, Cut)>>>;

/// A TCP proxy to PostgreSQL that, when armed, cuts the connection whose transaction
/// inserts the given call id at its COMMIT (the background tasks' commits pass).
struct Proxy {
    addr: std::net::SocketAddr,
    armed: Armed,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let armed = Arc::new(Mutex::new(None));
        let arm = armed.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&target).await else {
                    continue;
                };
                tokio::spawn(relay(client, server, arm.clone()));
            }
        });
        Proxy { addr, armed }
    }

    fn arm(&self, call_id: &'static str, cut: Cut) {
        *self.armed.lock().unwrap() = Some((call_id, cut));
    }

    fn was_used(&self) -> bool {
        self.armed.lock().unwrap().is_none()
    }
}

async fn relay(client: TcpStream, server: TcpStream, armed: Armed) {
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    // Server to client, until told to swallow the next answer (the COMMIT's).
    let swallow = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(tokio::sync::Notify::new());
    let (swallow_down, answered_down) = (swallow.clone(), answered.clone());
    let down = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from_server.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if swallow_down.load(Ordering::SeqCst) {
                answered_down.notify_one();
                return;
            }
            if to_client.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    });
    let has = |chunk: &[u8], what: &[u8]| chunk.windows(what.len()).any(|w| w == what);
    // Whether the transaction running on this connection sent the armed call id.
    let mut marked = false;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from_client.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        if has(chunk, b"BEGIN") {
            marked = false;
        }
        let target = *armed.lock().unwrap();
        if let Some((call_id, _)) = target {
            marked |= has(chunk, call_id.as_bytes());
        }
        let cut = match target {
            Some((_, cut)) if marked && has(chunk, b"COMMIT") => {
                *armed.lock().unwrap() = None;
                Some(cut)
            }
            _ => None,
        };
        match cut {
            None => {
                if to_server.write_all(chunk).await.is_err() {
                    break;
                }
            }
            Some(Cut::InsteadOfCommit) => break,
            Some(Cut::AfterCommit) => {
                swallow.store(true, Ordering::SeqCst);
                to_server.write_all(chunk).await.unwrap();
                tokio::time::timeout(Duration::from_secs(5), answered.notified())
                    .await
                    .unwrap();
                break;
            }
        }
    }
    // Dropping every half closes both connections.
    down.abort();
}

/// `postgres://user@host:port/db` through the proxy, without TLS so it can read the COMMIT.
fn through(url: &str, proxy: std::net::SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let user = authority
        .rsplit_once('@')
        .map_or(String::new(), |(u, _)| format!("{u}@"));
    format!("{scheme}://{user}{proxy}/{path}?sslmode=disable")
}

fn host_port(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let authority = rest.split('/').next().unwrap();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:5432")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_commit_failures_keep_bytes_unless_certainly_rolled_back() {
    let Some(TestDb::Postgres(server)) = TestDb::postgres() else {
        return;
    };
    let proxy = Proxy::start(host_port(&server)).await;
    let addr = proxy.addr;
    let app = TestApp::spawn_with(TestDb::Postgres(server), |c| {
        c.database_url = c.database_url.as_deref().map(|u| through(u, addr));
    })
    .await;
    let token = app.token("recorder").await;
    let auth = Auth::Token(&token);
    let bytes = fixture("mulaw_8k_mono.wav");
    let stored = |call_id: &'static str| {
        let db = app.state.db.clone();
        async move {
            callgrade::store::recordings::get_by_call_id(&db, call_id)
                .await
                .unwrap()
        }
    };

    // The server refuses the COMMIT itself (a deferred constraint): certainly rolled back.
    refusing_function(&app).await;
    sql(
        &app,
        "CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON recordings \
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.call_id = 'AT-COMMIT') \
         EXECUTE FUNCTION refuse_recording()",
    )
    .await;
    let (status, body) = upload(&app, &auth, &meta("AT-COMMIT", "agent-a1"), bytes.clone()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(stored("AT-COMMIT").await.is_none());
    assert!(blob_files(app.data_dir.path()).is_empty());

    // The connection is lost after the server committed: the upload is stored and
    // acknowledged, its bytes intact.
    proxy.arm("LOST-AFTER", Cut::AfterCommit);
    let (status, body) = upload(&app, &auth, &meta("LOST-AFTER", "agent-a1"), bytes.clone()).await;
    assert!(proxy.was_used());
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let rec = stored("LOST-AFTER").await.unwrap();
    let path = app.state.ingestor.blobs.path(&rec.blob_key).unwrap();
    assert_eq!(std::fs::read(path).unwrap(), bytes);

    // The connection is lost before the COMMIT reached the server: no row, and the bytes
    // are kept (the service cannot know the commit is not still on its way).
    proxy.arm("LOST-BEFORE", Cut::InsteadOfCommit);
    let (status, body) = upload(&app, &auth, &meta("LOST-BEFORE", "agent-a1"), bytes.clone()).await;
    assert!(proxy.was_used());
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(stored("LOST-BEFORE").await.is_none());
    let files = blob_files(app.data_dir.path());
    assert_eq!(files.len(), 2, "{files:?}");
    let orphan = files.iter().find(|f| !f.ends_with(&rec.blob_key)).unwrap();
    assert_eq!(std::fs::read(orphan).unwrap(), bytes);

    // A push of the same call again is stored normally.
    let (status, _) = upload(&app, &auth, &meta("LOST-BEFORE", "agent-a1"), bytes).await;
    assert_eq!(status, StatusCode::CREATED);
}
