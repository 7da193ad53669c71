//! Pushing recordings: every fixture format, every kind of bad file, duplicates, limits,
//! permissions and durability across a restart.

use reqwest::StatusCode;
use serde_json::Value;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::both_backends;
use crate::helpers::{
    Auth, TestApp, TestDb, client, code, fixture, get_json, meta, upload, upload_named,
};

both_backends!(
    every_fixture_format_ingests_with_exact_facts,
    bad_files_get_clear_errors_and_the_server_stays_healthy,
    g722_and_g726_files_the_decoders_cannot_read_are_refused_clearly,
    truncated_and_lying_files_are_kept_as_damaged,
    duplicate_call_ids_are_refused_even_when_concurrent,
    metadata_and_agent_are_validated,
    only_supervisors_and_recorders_may_upload,
    oversized_uploads_are_refused_before_the_body_is_read,
    acknowledged_recordings_survive_a_restart,
    fuzz_findings_are_answered_and_the_server_stays_up,
);

#[derive(serde::Deserialize)]
struct Expected {
    file: String,
    codec: String,
    sample_rate: i64,
    channels: i64,
    frames: i64,
}

fn expected() -> Vec<Expected> {
    let path = crate::helpers::fixture_path("expected.csv");
    csv::Reader::from_path(path)
        .unwrap()
        .deserialize()
        .map(Result::unwrap)
        .collect()
}

async fn every_fixture_format_ingests_with_exact_facts(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token("recorder").await;
    for (i, e) in expected().iter().enumerate() {
        let mut m = meta(&format!("F-{i}"), "agent-a1");
        if e.file.starts_with("stereo_agent_right") {
            m["channel_layout"] = "agent_right".into();
        }
        let (status, body) =
            upload_named(&app, &Auth::Token(&token), &m, &e.file, fixture(&e.file)).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {body}", e.file);
        // GSM 6.10 decodes with our own decoder, whole 320-frame blocks (69120 frames).
        if e.codec == "gsm_ms" {
            assert_eq!(body["codec"], "gsm_ms", "{body}");
            assert_eq!(body["frames"], 69120, "{body}");
        }
        // G.722 and G.726 decode with our own decoders, named as ffprobe names them.
        if e.codec.starts_with("adpcm_g72") {
            assert_eq!(body["codec"], e.codec.as_str(), "{body}");
        }
        assert_eq!(body["sample_rate"], e.sample_rate, "{}", e.file);
        assert_eq!(body["channels"], e.channels, "{}", e.file);
        assert_eq!(body["damaged"], false, "{}: {body}", e.file);
        let frames = body["frames"].as_i64().unwrap();
        let lossy = ["mp3", "aac", "vorbis", "opus"].contains(&e.codec.as_str());
        if lossy {
            // Encoders pad to whole packets and tools disagree on trimming: within a packet.
            assert!(
                (frames - e.frames).abs() <= 2048,
                "{}: {frames} vs {}",
                e.file,
                e.frames
            );
        } else {
            assert_eq!(frames, e.frames, "{}", e.file);
        }
        assert_eq!(
            body["duration_ms"],
            frames * 1000 / e.sample_rate,
            "{}",
            e.file
        );
        let layout = match (e.channels, e.file.starts_with("stereo_agent_right")) {
            (1, _) => "mono",
            (_, true) => "agent_right",
            _ => "agent_left",
        };
        assert_eq!(body["channel_layout"], layout, "{}", e.file);
        assert_eq!(
            body["short_call"],
            e.file.starts_with("short_call"),
            "{}",
            e.file
        );
        assert_eq!(
            body["sha256"],
            hex::encode(sha2::Sha256::digest(fixture(&e.file)))
        );
    }
}

/// Offset of a RIFF chunk's body and its declared size.
fn wav_chunk(bytes: &[u8], id: &[u8; 4]) -> (usize, usize) {
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let size = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        if &bytes[pos..pos + 4] == id {
            return (pos + 8, size);
        }
        pos += 8 + size + (size & 1);
    }
    panic!("no {id:?} chunk")
}

async fn bad_files_get_clear_errors_and_the_server_stays_healthy(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token("recorder").await;
    let good = fixture("mulaw_8k_mono.wav");
    let (fmt, _) = wav_chunk(&good, b"fmt ");
    let (data, _) = wav_chunk(&good, b"data");
    let mut zero_channels = good.clone();
    zero_channels[fmt + 2..fmt + 4].copy_from_slice(&0u16.to_le_bytes());
    let mut zero_rate = good.clone();
    zero_rate[fmt + 4..fmt + 8].copy_from_slice(&0u32.to_le_bytes());
    let mut random = vec![0u8; 64 * 1024];
    for (i, b) in random.iter_mut().enumerate() {
        *b = (i.wrapping_mul(2_654_435_761) >> 13) as u8;
    }
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "empty"),
        ("random bytes", random, "not a recognised audio file"),
        (
            "text",
            b"call notes: customer asked about billing\n".repeat(50),
            "not a recognised audio file",
        ),
        (
            "header only",
            good[..data].to_vec(),
            "no audio could be decoded",
        ),
        ("zero channels", zero_channels, "channel"),
        ("zero sample rate", zero_rate, "sample rate"),
        ("riff magic only", b"RIFF".to_vec(), ""),
    ];
    for (i, (what, bytes, says)) in cases.into_iter().enumerate() {
        let (status, body) = upload(
            &app,
            &Auth::Token(&token),
            &meta(&format!("B-{i}"), "agent-a1"),
            bytes,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
        assert_eq!(code(&body), "invalid_audio", "{what}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(says),
            "{what}: {message:?} should say {says:?}"
        );
        assert_eq!(app.health().await, StatusCode::OK, "after {what}");
    }
    // Nothing was stored for the rejected files.
    let (_, list) = get_json(&app.login("sup").await, &app.url("/api/recordings")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    let stored = walk_files(&app.data_dir.path().join("recordings"));
    assert_eq!(stored, 0, "rejected uploads left files behind");
}

/// G.722 and G.726 WAV headers that name what the decoders cannot read: 415 and 422 with
/// messages that say what is wrong, and nothing stored.
async fn g722_and_g726_files_the_decoders_cannot_read_are_refused_clearly(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token("recorder").await;
    let edit = |file: &str, at: usize, value: u16| {
        let mut bytes = fixture(file);
        let (fmt, _) = wav_chunk(&bytes, b"fmt ");
        bytes[fmt + at..fmt + at + 2].copy_from_slice(&value.to_le_bytes());
        bytes
    };
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str, &str)> = vec![
        (
            "stereo G.722",
            edit("g722_16k_mono.wav", 2, 2),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_codec",
            "mono G.722",
        ),
        (
            "6-bit G.726",
            edit("g726_32k_mono.wav", 14, 6),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_codec",
            "2 to 5 bits",
        ),
        (
            "3-bit G.726 in 4-byte blocks",
            edit("g726_24k_mono.wav", 12, 4),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_audio",
            "whole 3-bit codewords",
        ),
    ];
    for (i, (what, bytes, status, error, says)) in cases.into_iter().enumerate() {
        let (got, body) = upload(
            &app,
            &Auth::Token(&token),
            &meta(&format!("G-{i}"), "agent-a1"),
            bytes,
        )
        .await;
        assert_eq!(got, status, "{what}: {body}");
        assert_eq!(code(&body), error, "{what}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{what}: {message:?}");
    }
    let (_, list) = get_json(&app.login("sup").await, &app.url("/api/recordings")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    assert_eq!(app.health().await, StatusCode::OK);
}

fn walk_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk_files(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

async fn truncated_and_lying_files_are_kept_as_damaged(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token("recorder").await;
    let good = fixture("mulaw_8k_mono.wav");
    let (data, size) = wav_chunk(&good, b"data");

    // A recorder crash: the header promises every frame, the file stops at 60 %.
    let cut = data + size * 6 / 10;
    let (status, body) = upload(
        &app,
        &Auth::Token(&token),
        &meta("T-1", "agent-a1"),
        good[..cut].to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["damaged"], true);
    assert_eq!(
        body["frames"],
        (size * 6 / 10) as i64,
        "mu-law: one byte per frame"
    );
    let reason = body["damage_reason"].as_str().unwrap();
    assert!(reason.contains("truncated"), "{reason}");

    // A data size that lies: ten times what the file holds.
    let mut lying = good.clone();
    lying[data - 4..data].copy_from_slice(&((size * 10) as u32).to_le_bytes());
    let (status, body) = upload(&app, &Auth::Token(&token), &meta("T-2", "agent-a1"), lying).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["damaged"], true);
    assert_eq!(
        body["frames"], size as i64,
        "the real length, not the promised one"
    );

    // A whole file is not damaged.
    let (_, body) = upload(&app, &Auth::Token(&token), &meta("T-3", "agent-a1"), good).await;
    assert_eq!(body["damaged"], false);
    assert_eq!(body["damage_reason"], Value::Null);
}

async fn duplicate_call_ids_are_refused_even_when_concurrent(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token("recorder").await;
    let bytes = fixture("alaw_8k_mono.wav");
    let (status, _) = upload(
        &app,
        &Auth::Token(&token),
        &meta("D-1", "agent-a1"),
        bytes.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = upload(
        &app,
        &Auth::Token(&token),
        &meta("D-1", "agent-a2"),
        bytes.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(code(&body), "duplicate_call");

    let m = meta("D-2", "agent-a1");
    let auth = Auth::Token(&token);
    let tries = (0..4).map(|_| upload(&app, &auth, &m, bytes.clone()));
    let results = futures::future::join_all(tries).await;
    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let conflicts = results
        .iter()
        .filter(|(s, b)| *s == StatusCode::CONFLICT && code(b) == "duplicate_call")
        .count();
    assert_eq!((created, conflicts), (1, 3), "{results:?}");
    let (_, list) = get_json(&app.login("sup").await, &app.url("/api/recordings")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        walk_files(&app.data_dir.path().join("recordings")),
        2,
        "losers' bytes removed"
    );
}

async fn metadata_and_agent_are_validated(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token("recorder").await;
    let bytes = fixture("mulaw_8k_mono.wav");
    let auth = Auth::Token(&token);

    let (status, body) = upload(&app, &auth, &meta("V-1", "ghost"), bytes.clone()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_agent")
    );
    // A team lead is not an agent: calls belong to agents.
    let (status, body) = upload(&app, &auth, &meta("V-2", "lead-a"), bytes.clone()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "unknown_agent")
    );

    let mut m = meta("V-3", "agent-a1");
    m["started_at"] = "last tuesday".into();
    let (status, body) = upload(&app, &auth, &m, bytes.clone()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_metadata")
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("started_at")
    );

    let mut m = meta("V-4", "agent-a1");
    m["channel_layout"] = "agent_left".into();
    let (status, body) = upload(&app, &auth, &m, bytes.clone()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_metadata"),
        "{body}"
    );

    let m = serde_json::json!({ "call_id": "V-5" });
    let (status, body) = upload(&app, &auth, &m, bytes.clone()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_metadata")
    );

    // Parts missing, or not multipart at all.
    let form =
        reqwest::multipart::Form::new().text("metadata", meta("V-6", "agent-a1").to_string());
    let resp = client()
        .post(app.url("/api/recordings"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&resp.json().await.unwrap()), "missing_part");
    let resp = client()
        .post(app.url("/api/recordings"))
        .bearer_auth(&token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(code(&resp.json().await.unwrap()), "invalid_multipart");
    assert_eq!(app.health().await, StatusCode::OK);
}

async fn only_supervisors_and_recorders_may_upload(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let bytes = fixture("mulaw_8k_mono.wav");
    for (i, who) in ["agent-a1", "lead-a", "insp", "panel"].iter().enumerate() {
        let c = app.login(who).await;
        let (status, body) = upload(
            &app,
            &Auth::Session(&c),
            &meta(&format!("P-{i}"), "agent-a1"),
            bytes.clone(),
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{who}"
        );
    }
    let anonymous = client();
    let (status, body) = upload(
        &app,
        &Auth::Session(&anonymous),
        &meta("P-9", "agent-a1"),
        bytes.clone(),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    let (status, body) = upload(
        &app,
        &Auth::Token("cgt_forged"),
        &meta("P-9", "agent-a1"),
        bytes.clone(),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    let sup = app.login("sup").await;
    let (status, body) = upload(&app, &Auth::Session(&sup), &meta("P-9", "agent-a1"), bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["agent"], "agent-a1");
}

async fn oversized_uploads_are_refused_before_the_body_is_read(db: TestDb) {
    let app = TestApp::spawn_with(db, |c| c.max_upload_bytes = 100_000).await;
    let token = app.token("recorder").await;
    // 137 KB > 100 KB.
    let (status, body) = upload(
        &app,
        &Auth::Token(&token),
        &meta("L-1", "agent-a1"),
        fixture("pcm_s16_8k_mono.wav"),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        "{body}"
    );

    // Declares 10 GB and sends nothing: the answer comes from the header alone.
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/recordings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: 10000000000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("too_large"), "{answer}");

    let (status, _) = upload(
        &app,
        &Auth::Token(&token),
        &meta("L-2", "agent-a1"),
        fixture("mulaw_8k_mono.wav"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
}

async fn acknowledged_recordings_survive_a_restart(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token("recorder").await;
    let bytes = fixture("stereo_mulaw_8k.wav");
    let (status, created) = upload(
        &app,
        &Auth::Token(&token),
        &meta("R-1", "agent-b1"),
        bytes.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["id"].as_i64().unwrap();

    let app = app.restart().await;
    let (status, body) = get_json(
        &app.login("lead-b").await,
        &app.url(&format!("/api/recordings/{id}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["frames"], created["frames"]);
    assert_eq!(body["channel_layout"], "agent_left");
    let rec = callgrade::store::recordings::get_by_call_id(&app.state.db, "R-1")
        .await
        .unwrap()
        .unwrap();
    let path = app.state.ingestor.blobs.path(&rec.blob_key).unwrap();
    assert_eq!(
        std::fs::read(path).unwrap(),
        bytes,
        "stored bytes are exactly the upload"
    );
    // The token still works after the restart, and the call id is still taken.
    let (status, _) = upload(&app, &Auth::Token(&token), &meta("R-1", "agent-b1"), bytes).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

/// Every input the fuzz targets found a crash with (`fixtures/fuzz`, named after what it
/// broke) is pushed as a recorder would: it gets a clear answer (kept, kept as damaged, or a
/// 4xx with a JSON error), and the server goes on serving.
async fn fuzz_findings_are_answered_and_the_server_stays_up(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token("recorder").await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fuzz");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for (i, name) in names.iter().enumerate() {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let call_id = format!("FZ-{i}");
        let (status, body) = upload_named(
            &app,
            &Auth::Token(&token),
            &meta(&call_id, "agent-a1"),
            name,
            bytes,
        )
        .await;
        assert!(
            [201, 413, 415, 422].contains(&status.as_u16()),
            "{name}: {status} {body}"
        );
        if status != StatusCode::CREATED {
            assert!(!code(&body).is_empty(), "{name}: {body}");
        }
    }
    assert_eq!(app.health().await, StatusCode::OK);
}
