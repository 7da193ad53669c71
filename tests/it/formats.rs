//! Formats known by their name (headerless telephony files), recordings cut short, and the
//! limits of ingest's decode: what a recorder's upload comes out as.

use reqwest::StatusCode;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::{Auth, TestApp, TestDb, code, fixture, meta, upload_named};

both_backends!(
    headerless_files_are_known_by_their_name_and_stream_as_ingested,
    the_content_wins_over_the_name,
    a_file_neither_recognised_nor_named_is_refused_in_both_languages,
    recordings_cut_short_are_damaged_with_the_declared_length,
    a_header_declaring_655_khz_is_capped_in_frames,
    abandoned_uploads_never_run_more_decodes_than_the_workers,
    bulk_import_knows_headerless_files_by_their_path,
);

async fn fetch_audio(app: &TestApp, c: &reqwest::Client, id: i64) -> Vec<u8> {
    let resp = c
        .get(app.url(&format!("/api/recordings/{id}/audio")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.bytes().await.unwrap().to_vec()
}

async fn headerless_files_are_known_by_their_name_and_stream_as_ingested(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token("recorder").await;
    let sup = app.login("sup").await;
    // The same call as a WAV file and headerless: both stream the same samples.
    let (status, wav) = upload_named(
        &app,
        &Auth::Token(&token),
        &meta("H-0", "agent-a1"),
        "call.wav",
        fixture("mulaw_8k_mono.wav"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{wav}");
    let reference = fetch_audio(&app, &sup, wav["id"].as_i64().unwrap()).await;
    for (i, (name, raw)) in [
        ("Queue 7/2026-11-02 call.ULAW", "ulaw"),
        ("call.pcmu", "ulaw"),
        ("call.ul", "ulaw"),
    ]
    .iter()
    .enumerate()
    {
        let (status, rec) = upload_named(
            &app,
            &Auth::Token(&token),
            &meta(&format!("H-{}", i + 1), "agent-a1"),
            name,
            fixture("ulaw_8k_mono.ulaw"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {rec}");
        assert_eq!(rec["container"], "raw", "{rec}");
        assert_eq!(rec["codec"], "pcm_mulaw", "{rec}");
        assert_eq!(rec["raw_format"], *raw, "{rec}");
        assert_eq!(rec["frames"], 68858, "{rec}");
        assert_eq!(rec["damaged"], false, "{rec}");
        // Folders a client sends in the name are not kept.
        let base = name.rsplit('/').next().unwrap();
        assert_eq!(rec["original_filename"], base, "{rec}");
        let streamed = fetch_audio(&app, &sup, rec["id"].as_i64().unwrap()).await;
        assert!(
            streamed == reference,
            "{name} streams other samples than the WAV"
        );
    }
    // The detail view says the same after a restart (what the stream used is stored).
    let app = app.restart().await;
    let sup = app.login("sup").await;
    let (status, list) = crate::helpers::get_json(&sup, &app.url("/api/recordings")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let items = list["items"]
        .as_array()
        .or(list.as_array())
        .cloned()
        .unwrap_or_default();
    let raw_rows = items.iter().filter(|r| r["raw_format"] == "ulaw").count();
    assert_eq!(raw_rows, 3, "{list}");
    for r in items.iter().filter(|r| r["raw_format"] == "ulaw") {
        let streamed = fetch_audio(&app, &sup, r["id"].as_i64().unwrap()).await;
        assert!(streamed == reference);
    }
}

async fn the_content_wins_over_the_name(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token("recorder").await;
    for (i, (file, name, container)) in [
        ("mulaw_8k_mono.wav", "call.ulaw", "wave"),
        ("au_alaw_8k_mono.au", "call.alaw", "au"),
        ("flac_8k_mono.flac", "call.sln", "flac"),
    ]
    .iter()
    .enumerate()
    {
        let (status, rec) = upload_named(
            &app,
            &Auth::Token(&token),
            &meta(&format!("C-{i}"), "agent-a1"),
            name,
            fixture(file),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{rec}");
        assert_eq!(rec["container"], *container, "{file} named {name}: {rec}");
        assert_eq!(rec["raw_format"], Value::Null, "{rec}");
        assert_eq!(rec["frames"], 68858, "{rec}");
        assert_eq!(rec["original_filename"], *name, "{rec}");
    }
}

async fn a_file_neither_recognised_nor_named_is_refused_in_both_languages(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token("recorder").await;
    let bytes = fixture("ulaw_8k_mono.ulaw");
    for (i, name) in ["call.wav", "call", "call.bin"].iter().enumerate() {
        let (status, body) = upload_named(
            &app,
            &Auth::Token(&token),
            &meta(&format!("N-{i}"), "agent-a1"),
            name,
            bytes.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
        assert_eq!(code(&body), "invalid_audio", "{body}");
        let message = body["error"]["message"]
            .as_str()
            .or(body["message"].as_str())
            .unwrap_or_default()
            .to_string();
        let text = body.to_string();
        assert!(
            message.contains("not a recognised audio file")
                || text.contains("not a recognised audio file"),
            "{body}"
        );
        assert!(
            text.contains(".ulaw"),
            "the message lists the known extensions: {body}"
        );
        assert!(text.contains("无法识别的音频文件"), "{body}");
    }
}

async fn recordings_cut_short_are_damaged_with_the_declared_length(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token("recorder").await;
    let cut = |name: &str| {
        let bytes = fixture(name);
        bytes[..bytes.len() * 2 / 5].to_vec()
    };
    for (i, name) in [
        "webm_opus_8k_mono.webm",
        "aac_faststart_8k_mono.m4a",
        "flac_8k_mono.flac",
        "au_mulaw_8k_mono.au",
    ]
    .iter()
    .enumerate()
    {
        let (status, rec) = upload_named(
            &app,
            &Auth::Token(&token),
            &meta(&format!("T-{i}"), "agent-a1"),
            name,
            cut(name),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {rec}");
        assert_eq!(rec["damaged"], true, "{name}: {rec}");
        let reason = rec["damage_reason"].as_str().unwrap();
        assert!(
            reason.starts_with("the container declares 8.") && reason.contains(" s decode"),
            "{name}: {reason}"
        );
        let ms = rec["duration_ms"].as_i64().unwrap();
        assert!((2000..4000).contains(&ms), "{name}: {ms} ms");
    }
    // An MP4 whose index was to come last has nothing left to decode.
    let (status, body) = upload_named(
        &app,
        &Auth::Token(&token),
        &meta("T-9", "agent-a1"),
        "call.m4a",
        cut("aac_8k_mono.m4a"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "invalid_audio", "{body}");
    assert!(body.to_string().contains("no index (moov box)"), "{body}");
}

/// A PCM WAV header for `frames` 16-bit mono frames at `rate`, followed by silence.
fn wav_at(rate: u32, frames: u32) -> Vec<u8> {
    let data = frames * 2;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    b.resize(b.len() + data as usize, 0);
    b
}

async fn a_header_declaring_655_khz_is_capped_in_frames(db: TestDb) {
    // One second allowed: 48 000 frames, whatever the rate. At 655 kHz the seconds limit
    // alone would let 655 000 frames through.
    let app = TestApp::spawn_with(db, |c| c.max_decoded_secs = 1).await;
    let token = app.token("recorder").await;
    let (status, body) = upload_named(
        &app,
        &Auth::Token(&token),
        &meta("R-1", "agent-a1"),
        "call.wav",
        wav_at(655_000, 60_000),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(code(&body), "invalid_audio", "{body}");
    let text = body.to_string();
    assert!(text.contains("more than 48000 sample frames"), "{body}");
    assert!(text.contains("655000 Hz"), "{body}");
    // Under the cap the same rate is accepted.
    let (status, body) = upload_named(
        &app,
        &Auth::Token(&token),
        &meta("R-2", "agent-a1"),
        "call.wav",
        wav_at(655_000, 40_000),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["frames"], 40_000, "{body}");
}

async fn abandoned_uploads_never_run_more_decodes_than_the_workers(db: TestDb) {
    let app = TestApp::spawn_with(db, |c| c.decode_workers = 1).await;
    let token = app.token("recorder").await;
    // About 14 minutes of raw GSM: long enough to decode that each client below gives up
    // while its decode runs.
    let frames = fixture("gsm_8k_mono.gsm");
    let big: Vec<u8> = std::iter::repeat_n(frames, 100).flatten().collect();
    let ingestor = app.state.ingestor.clone();
    for round in 0..3 {
        let client = {
            let base = app.base.clone();
            let token = token.clone();
            let big = big.clone();
            tokio::spawn(async move {
                let form = reqwest::multipart::Form::new()
                    .text(
                        "metadata",
                        meta(&format!("S-{round}"), "agent-a1").to_string(),
                    )
                    .part(
                        "file",
                        reqwest::multipart::Part::bytes(big).file_name("call.gsm"),
                    );
                let _ = reqwest::Client::new()
                    .post(format!("{base}/api/recordings"))
                    .bearer_auth(token)
                    .multipart(form)
                    .send()
                    .await;
            })
        };
        // Each client disconnects once its decode has started (or once it is done).
        while ingestor.decodes_started() <= round && !client.is_finished() {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        client.abort();
        let _ = client.await;
    }
    // Abandoned decodes run to their end, one at a time.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while ingestor.decodes_running() > 0 || ingestor.decodes_started() < 3 {
        assert!(std::time::Instant::now() < deadline, "decodes never ended");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(ingestor.decodes_started(), 3);
    assert_eq!(ingestor.peak_decodes_running(), 1);
}

async fn bulk_import_knows_headerless_files_by_their_path(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("pbx")).unwrap();
    for name in [
        "sln16_16k_mono.sln16",
        "gsm_8k_mono.gsm",
        "alaw_8k_mono.alaw",
    ] {
        std::fs::write(dir.path().join("pbx").join(name), fixture(name)).unwrap();
    }
    // Without an extension nothing says what the bytes are.
    std::fs::write(dir.path().join("pbx/unnamed"), fixture("alaw_8k_mono.alaw")).unwrap();
    std::fs::write(
        dir.path().join("recordings.csv"),
        "file,call_id,agent,started_at,direction,queue\n\
         pbx/sln16_16k_mono.sln16,I-1,agent-a1,2026-11-02T09:15:00+08:00,inbound,billing\n\
         pbx/gsm_8k_mono.gsm,I-2,agent-a1,2026-11-02T09:16:00+08:00,inbound,billing\n\
         pbx/alaw_8k_mono.alaw,I-3,agent-a1,2026-11-02T09:17:00+08:00,inbound,billing\n\
         pbx/unnamed,I-4,agent-a1,2026-11-02T09:18:00+08:00,inbound,billing\n",
    )
    .unwrap();
    let summary = callgrade::import::import_dir(&app.state.ingestor, dir.path(), 2, false)
        .await
        .unwrap();
    assert_eq!(summary.accepted, 3, "{:?}", summary.rejected);
    assert_eq!(summary.rejected.len(), 1);
    assert_eq!(
        summary.rejected[0].1, "invalid_audio",
        "{:?}",
        summary.rejected
    );
    assert!(
        summary.rejected[0]
            .2
            .contains("not a recognised audio file")
    );
    let facts = [
        ("I-1", "sln16", 16000, 137_717),
        ("I-2", "gsm", 8000, 68_960),
        ("I-3", "alaw", 8000, 68_858),
    ];
    for (call_id, raw, rate, frames) in facts {
        let rec = callgrade::store::recordings::get_by_call_id(&app.state.db, call_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rec.raw_format.as_deref(), Some(raw), "{call_id}");
        assert_eq!((rec.sample_rate, rec.frames), (rate, frames), "{call_id}");
        assert!(!rec.damaged, "{call_id}: {:?}", rec.damage_reason);
        assert!(
            rec.original_filename
                .as_deref()
                .is_some_and(|n| !n.contains('/'))
        );
    }
}
