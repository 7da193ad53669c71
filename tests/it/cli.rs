//! The command line against the same database a running server uses.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Auth, TestApp, TestDb, client, fixture, get_json, meta, upload};

both_backends!(
    users_add_and_tokens_create_work_beside_the_server,
    org_import_is_idempotent_and_updates_changed_rows,
    bulk_import_is_idempotent_and_explains_rejections,
    an_acknowledged_upload_survives_kill_9,
    sigterm_stops_the_server_cleanly,
);

/// The binary, pointed at the test's database.
fn command(app: &TestApp) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callgrade"));
    cmd.arg("--data-dir").arg(app.data_dir.path());
    if let Some(url) = &app.config.database_url {
        cmd.arg("--database-url").arg(url);
    }
    cmd
}

pub fn callgrade(app: &TestApp, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut cmd = command(app);
    cmd.args(args)
        .env_remove("CALLGRADE_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn users_add_and_tokens_create_work_beside_the_server(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let add_a9 = [
        "users",
        "add",
        "agent-a9",
        "--role",
        "agent",
        "--team",
        "team-a",
        "--password-stdin",
    ];
    let (ok, out, err) = callgrade(&app, &add_a9, Some("a-long-secret\n"));
    assert!(ok, "{out}{err}");
    let resp = client()
        .post(app.url("/api/login"))
        .json(&json!({ "username": "agent-a9", "password": "a-long-secret" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let (ok, _, err) = callgrade(&app, &add_a9, Some("another-secret\n"));
    assert!(!ok);
    assert!(err.contains("already exists"), "{err}");
    let (ok, _, err) = callgrade(
        &app,
        &["users", "add", "x1", "--role", "boss", "--password-stdin"],
        Some("a-long-secret\n"),
    );
    assert!(!ok && err.contains("unknown role"), "{err}");
    let (ok, _, err) = callgrade(
        &app,
        &[
            "users",
            "add",
            "x2",
            "--role",
            "supervisor",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(!ok && err.contains("at least 8"), "{err}");

    let (ok, token, err) = callgrade(&app, &["tokens", "create", "recorder-1"], None);
    assert!(ok, "{err}");
    let token = token.trim();
    let (status, body) = upload(
        &app,
        &Auth::Token(token),
        &meta("CLI-1", "agent-a9"),
        fixture("mulaw_8k_mono.wav"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["agent"], "agent-a9");
    let (ok, _, err) = callgrade(&app, &["tokens", "create", "recorder-1"], None);
    assert!(!ok && err.contains("already exists"), "{err}");
}

async fn org_import_is_idempotent_and_updates_changed_rows(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let dir = tempfile::tempdir().unwrap();
    let roster = dir.path().join("roster.csv");
    let rows = "username,name,role,team,hire_date,password\n\
                agent-c1,Agent One,agent,team-c,2026-09-01,first-password\n\
                lead-c,Lead C,team_lead,team-c,2024-01-01,lead-password\n";
    std::fs::write(&roster, rows).unwrap();
    let path = roster.to_str().unwrap();
    let (ok, out, err) = callgrade(&app, &["org", "import", path], None);
    assert!(ok, "{err}");
    assert!(out.contains("2 created, 0 updated, 0 unchanged"), "{out}");
    let (ok, out, _) = callgrade(&app, &["org", "import", path], None);
    assert!(ok);
    assert!(out.contains("0 created, 0 updated, 2 unchanged"), "{out}");

    // A changed row updates the person (here: moved to another team).
    std::fs::write(
        &roster,
        rows.replace(
            "agent-c1,Agent One,agent,team-c",
            "agent-c1,Agent One,agent,team-a",
        ),
    )
    .unwrap();
    let (ok, out, _) = callgrade(&app, &["org", "import", path], None);
    assert!(ok);
    assert!(out.contains("0 created, 1 updated, 1 unchanged"), "{out}");
    let (_, agents) = get_json(&app.login("lead-a").await, &app.url("/api/agents")).await;
    assert!(
        agents["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["username"] == "agent-c1")
    );

    // A bad roster changes nothing and names every bad line.
    std::fs::write(
        &roster,
        "username,name,role,team,hire_date\nz1,Z,agent,,\nz2,Z,wizard,t,\n",
    )
    .unwrap();
    let (ok, _, err) = callgrade(&app, &["org", "import", path], None);
    assert!(!ok);
    assert!(err.contains("line 2") && err.contains("line 3"), "{err}");
}

async fn bulk_import_is_idempotent_and_explains_rejections(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let (ok, _, err) = callgrade(
        &app,
        &[
            "org",
            "import",
            fixtures.join("roster.csv").to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "{err}");
    let rows = csv::Reader::from_path(fixtures.join("audio/recordings.csv"))
        .unwrap()
        .records()
        .count();
    let audio = fixtures.join("audio");
    let (ok, out, err) = callgrade(&app, &["import", audio.to_str().unwrap()], None);
    assert!(ok, "{out}{err}");
    // Every fixture format decodes (GSM 6.10 included).
    let unsupported: [&str; 0] = [];
    let accepted = rows - unsupported.len();
    let rejected = unsupported.len();
    assert!(
        out.contains(&format!(
            "accepted {accepted}, duplicates 0, rejected {rejected}"
        )),
        "{out}"
    );
    for file in unsupported {
        assert!(
            out.contains(file) && out.contains("unsupported_codec"),
            "{out}"
        );
    }

    let (ok, out, _) = callgrade(&app, &["import", audio.to_str().unwrap()], None);
    assert!(ok);
    assert!(
        out.contains(&format!(
            "accepted 0, duplicates {accepted}, rejected {rejected}"
        )),
        "{out}"
    );
    let (_, list) = get_json(
        &app.login("sup").await,
        &app.url("/api/recordings?limit=500"),
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), accepted);
}

/// A second server process on the test's database; returns it and its base URL.
fn spawn_server(app: &TestApp) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = command(app)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("CALLGRADE_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .trim_start_matches("callgrade listening on ")
        .trim_end_matches('/')
        .to_string();
    assert!(base.starts_with("http://"), "{line}");
    (child, base)
}

async fn an_acknowledged_upload_survives_kill_9(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token("recorder").await;
    // Killed without warning right after the 201.
    let (mut child, base) = spawn_server(&app);

    let bytes = fixture("ima_adpcm_8k_mono.wav");
    let form = reqwest::multipart::Form::new()
        .text("metadata", meta("K-1", "agent-a1").to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes.clone()).file_name("k.wav"),
        );
    let resp = client()
        .post(format!("{base}/api/recordings"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    child.kill().unwrap();
    child.wait().unwrap();

    let (_, list) = get_json(&app.login("sup").await, &app.url("/api/recordings")).await;
    assert_eq!(list["items"][0]["call_id"], "K-1");
    let rec = callgrade::store::recordings::get_by_call_id(&app.state.db, "K-1")
        .await
        .unwrap()
        .unwrap();
    let stored = std::fs::read(app.state.ingestor.blobs.path(&rec.blob_key).unwrap()).unwrap();
    assert_eq!(stored, bytes);
}

async fn sigterm_stops_the_server_cleanly(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (mut child, base) = spawn_server(&app);
    let (status, _) = get_json(&client(), &format!("{base}/api/health")).await;
    assert_eq!(status, StatusCode::OK);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = std::time::Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed().as_secs() < 10,
            "still running 10 s after SIGTERM"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
    // It stopped accepting.
    assert!(
        client()
            .get(format!("{base}/api/health"))
            .send()
            .await
            .is_err()
    );
}
