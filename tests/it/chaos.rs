//! The chaos bench in small (the README has the 50-round run): a few rounds of kill -9 of the
//! server while 200 clients upload, submit, appeal and decide, on both databases. Nothing
//! acknowledged may be lost, and the data must be consistent after every restart.

use std::process::Command;

use crate::both_backends;
use crate::helpers::TestDb;

async fn acknowledged_writes_survive_kill_9(db: TestDb) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bench"));
    cmd.args([
        "chaos",
        "--rounds",
        "5",
        "--clients",
        "200",
        "--seed",
        "7",
        "--max-uptime-ms",
        "6000",
    ]);
    if let TestDb::Postgres(url) = &db {
        cmd.arg("--database-url").arg(url);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(figures["ok"], true, "{stdout}");
    assert_eq!(figures["lost"], 0, "{stdout}");
    assert_eq!(figures["inconsistent"], 0, "{stdout}");
    // The kills did land on writes in flight, and every kind of write was acknowledged.
    assert!(figures["unanswered"].as_u64().unwrap() > 0, "{stdout}");
    for kind in ["uploads", "submits", "appeals", "decisions"] {
        assert!(
            figures["acknowledged"][kind].as_u64().unwrap() > 0,
            "{kind}: {stdout}"
        );
    }
    if matches!(db, TestDb::Sqlite) {
        assert_eq!(figures["integrity_checks"], 6, "{stdout}");
    }
}

both_backends!(acknowledged_writes_survive_kill_9);
