//! The sweeper: old upload temp files and old orphan blobs go; fresh ones and every blob a
//! recording refers to stay. Run directly, from the CLI and from the server's background task.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use callgrade::sweep::{Swept, sweep};
use reqwest::StatusCode;

use crate::both_backends;
use crate::cli::callgrade;
use crate::commit_failures::blob_files;
use crate::helpers::{Auth, TestApp, TestDb, fixture, meta, upload};

both_backends!(only_old_bytes_nothing_refers_to_are_swept);

const TWO_DAYS: Duration = Duration::from_secs(2 * 24 * 3600);

/// Makes a file look last written `ago`.
fn age(path: &Path, ago: Duration) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - ago)
        .unwrap();
}

/// Bytes stored the way ingest stores them, with no row referring to them.
fn orphan(app: &TestApp) -> PathBuf {
    let blobs = &app.state.ingestor.blobs;
    let mut temp = blobs.temp_file().unwrap();
    temp.write_all(b"RIFF orphan").unwrap();
    blobs.path(&blobs.commit(temp).unwrap()).unwrap()
}

fn temp_file(app: &TestApp) -> PathBuf {
    let (_, path) = app
        .state
        .ingestor
        .blobs
        .temp_file()
        .unwrap()
        .keep()
        .unwrap();
    path
}

async fn only_old_bytes_nothing_refers_to_are_swept(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token("recorder").await;
    let mut referenced = Vec::new();
    for call_id in ["S-1", "S-2"] {
        let (status, _) = upload(
            &app,
            &Auth::Token(&token),
            &meta(call_id, "agent-a1"),
            fixture("mulaw_8k_mono.wav"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let rec = callgrade::store::recordings::get_by_call_id(&app.state.db, call_id)
            .await
            .unwrap()
            .unwrap();
        let path = app.state.ingestor.blobs.path(&rec.blob_key).unwrap();
        // Referenced bytes stay however old they are.
        age(&path, TWO_DAYS);
        referenced.push(path);
    }
    let old_orphan = orphan(&app);
    age(&old_orphan, TWO_DAYS);
    let fresh_orphan = orphan(&app);
    // Just inside the day: still possibly an upload whose row is on its way.
    let recent_orphan = orphan(&app);
    age(&recent_orphan, Duration::from_secs(23 * 3600));
    let old_temp = temp_file(&app);
    age(&old_temp, TWO_DAYS);
    let fresh_temp = temp_file(&app);

    let swept = sweep(
        &app.state.db,
        app.state.ingestor.blobs.clone(),
        SystemTime::now(),
    )
    .await
    .unwrap();
    assert_eq!(
        swept,
        Swept {
            temp_files: 1,
            orphan_blobs: 1
        }
    );
    assert!(!old_orphan.exists() && !old_temp.exists());
    assert!(fresh_orphan.exists() && recent_orphan.exists() && fresh_temp.exists());
    assert!(referenced.iter().all(|p| p.exists()));
    // The recordings still play.
    let sup = app.login("sup").await;
    let (_, list) = crate::helpers::get_json(&sup, &app.url("/api/recordings")).await;
    for item in list["items"].as_array().unwrap() {
        let id = item["id"].as_i64().unwrap();
        let resp = sup
            .get(app.url(&format!("/api/recordings/{id}/audio")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }

    // A day later, from the command line: the rest of the orphans and the temp file go.
    for path in [&fresh_orphan, &recent_orphan, &fresh_temp] {
        age(path, TWO_DAYS);
    }
    let (ok, out, err) = callgrade(&app, &["sweep"], None);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("removed 1 temporary upload files, 2 orphan blobs"),
        "{out}"
    );
    let mut left = blob_files(app.data_dir.path());
    left.sort();
    referenced.sort();
    assert_eq!(left, referenced);

    // The server sweeps in the background when it starts.
    let another = orphan(&app);
    age(&another, TWO_DAYS);
    let app = app.restart().await;
    let started = std::time::Instant::now();
    while another.exists() {
        assert!(started.elapsed() < Duration::from_secs(10), "not swept");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(referenced.iter().all(|p| p.exists()));
    assert_eq!(blob_files(app.data_dir.path()).len(), 2);
}
