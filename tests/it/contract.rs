//! The API document is the contract: schemathesis (`st`, PyPI `schemathesis`) generates
//! requests from `GET /api/openapi.json` — valid ones, which must be accepted, and ones that
//! break the document, which must be refused — and checks every answer against the document
//! (status codes, bodies, headers). Run against `serve --demo`, whose data gives the ids and
//! names the document's examples use, as a supervisor, an agent and an appeal panel member.
//!
//! The one tuning is which statuses a valid request may get: besides 2xx, the ones a request
//! that fits the document can still earn — 304 (conditional GET), 401/403 (role), 404 (ids
//! that do not exist), 409 (state), 422 (a rule the document cannot express, such as a
//! maximum below its minimum or a user who does not exist) and 429 (throttle). A 400 for a
//! valid request, a 2xx for an invalid one, any 5xx, or an answer the document does not
//! describe fails the test.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

use callgrade::store::scratch::ScratchPostgres;
use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{TestDb, client};

both_backends!(schemathesis_finds_no_failures);

/// Examples per operation and phase: enough to reach every documented constraint, small
/// enough that the whole run takes well under a minute per role.
const EXAMPLES: &str = "15";

async fn schemathesis_finds_no_failures(db: TestDb) {
    let Some(st) = schemathesis() else {
        return;
    };
    let data_dir = tempfile::tempdir().unwrap();
    let pg = match &db {
        TestDb::Sqlite => None,
        TestDb::Postgres(url) => Some(ScratchPostgres::create(url, "cg_contract").await.unwrap()),
    };
    let server = DemoServer::start(data_dir.path(), pg.as_ref().map(|p| p.url.as_str()));
    // Log everyone in first: the run posts wrong passwords, and the throttle would then
    // refuse this address's next login.
    let mut sessions = Vec::new();
    for (username, password) in [
        ("supervisor", "demo-supervisor"),
        ("agent-a1", "demo-agent-a1"),
        ("panel1", "demo-panel1"),
    ] {
        sessions.push((username, server.session(username, password).await));
    }
    for (username, session) in sessions {
        let config = data_dir.path().join(format!("st-{username}.toml"));
        std::fs::write(&config, st_config(&server.base)).unwrap();
        let out = Command::new(&st)
            .arg("--config-file")
            .arg(&config)
            .arg("run")
            .arg(format!("{}/api/openapi.json", server.base))
            // Logging out would end the session the rest of the run uses.
            .args(["--exclude-path", "/api/logout"])
            // Rubrics are the supervisor's alone (everyone else gets 403, which the supervisor
            // run shows too); schemathesis 4.32.5's generator also trips over the rubric
            // schema now and then, an error in the tool rather than a finding.
            .args(if username == "supervisor" {
                &[][..]
            } else {
                &["--exclude-path", "/api/rubrics"][..]
            })
            .args(["--max-examples", EXAMPLES, "--seed", "20261207"])
            .args(["--workers", "2", "--no-color", "--warnings", "off"])
            .env("CALLGRADE_SESSION", &session)
            .current_dir(data_dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let summary = stdout
            .find("SUMMARY")
            .map_or(&stdout[..], |at| &stdout[at..]);
        eprintln!("schemathesis as {username}:\n{summary}");
        assert!(
            out.status.success(),
            "schemathesis as {username} found failures:\n{stdout}\n{}\nthe server's errors:\n{}",
            String::from_utf8_lossy(&out.stderr),
            server.errors()
        );
        assert!(stdout.contains(" passed"), "{stdout}");
    }
}

/// `st` on PATH, or `None` (skip) outside CI; under `CI=true` it must be there.
fn schemathesis() -> Option<String> {
    let found = Command::new("st")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("st".into());
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "CI=true but schemathesis (`st`) is not installed: .ci/run installs it"
    );
    eprintln!("schemathesis (`st`) not installed: skipping the API contract test");
    None
}

fn st_config(base: &str) -> String {
    format!(
        r#"headers = {{ Origin = "{base}" }}

[auth.openapi.session]
api_key = "${{CALLGRADE_SESSION}}"

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "304", "401", "403", "404", "409", "422", "429"]
"#
    )
}

/// `callgrade serve --demo` as a child process, killed when dropped.
struct DemoServer {
    child: Child,
    base: String,
    log: std::path::PathBuf,
    _stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl DemoServer {
    fn start(data_dir: &std::path::Path, database_url: Option<&str>) -> DemoServer {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_callgrade"));
        cmd.arg("--data-dir").arg(data_dir);
        if let Some(url) = database_url {
            cmd.args(["--database-url", url]);
        }
        let mut child = cmd
            .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
            .env_remove("CALLGRADE_DATABASE_URL")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(data_dir.join("server.log")).unwrap())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        // The demo prints its logins first, then the address it listens on.
        let mut line = String::new();
        let base = loop {
            line.clear();
            assert!(
                stdout.read_line(&mut line).unwrap() > 0,
                "serve --demo ended"
            );
            if let Some(url) = line.trim().strip_prefix("callgrade listening on ") {
                break url.trim_end_matches('/').to_string();
            }
        };
        DemoServer {
            child,
            base,
            log: data_dir.join("server.log"),
            _stdout: stdout,
        }
    }

    /// The lines the server logged at ERROR or WARN level, to explain a 500.
    fn errors(&self) -> String {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("ERROR") || l.contains("WARN"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Logs in and returns the session cookie's value.
    async fn session(&self, username: &str, password: &str) -> String {
        let resp = client()
            .post(format!("{}/api/login", self.base))
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "login as {username}");
        resp.cookies()
            .find(|c| c.name().ends_with("callgrade_session"))
            .map(|c| c.value().to_string())
            .expect("a session cookie")
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
