//! `serve --demo`: a small organisation and a few hundred recordings, so a newcomer has a
//! working center to click through after one command. Runs only on an empty database.

use std::io::Write;

use anyhow::Context;
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Timelike};
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::app::AppState;
use crate::domain::call::{CallMeta, ChannelLayout, Direction};
use crate::domain::month::Month;
use crate::ingest::{IngestError, Staged};
use crate::store::{recordings, tokens, users};

const ROSTER: &str = include_str!("../fixtures/roster.csv");

/// The fixture recordings the demo copies, with the layout each needs.
const CLIPS: &[(&str, &[u8], ChannelLayout)] = &[
    (
        "mulaw",
        include_bytes!("../fixtures/audio/mulaw_8k_mono.wav"),
        ChannelLayout::Mono,
    ),
    (
        "alaw",
        include_bytes!("../fixtures/audio/alaw_8k_mono.wav"),
        ChannelLayout::Mono,
    ),
    (
        "pcm",
        include_bytes!("../fixtures/audio/pcm_s16_8k_mono.wav"),
        ChannelLayout::Mono,
    ),
    (
        "ima",
        include_bytes!("../fixtures/audio/ima_adpcm_8k_mono.wav"),
        ChannelLayout::Mono,
    ),
    (
        "msadpcm",
        include_bytes!("../fixtures/audio/ms_adpcm_8k_mono.wav"),
        ChannelLayout::Mono,
    ),
    (
        "mp3",
        include_bytes!("../fixtures/audio/mp3_8k_mono.mp3"),
        ChannelLayout::Mono,
    ),
    (
        "stereo",
        include_bytes!("../fixtures/audio/stereo_mulaw_8k.wav"),
        ChannelLayout::AgentLeft,
    ),
    (
        "stereo-r",
        include_bytes!("../fixtures/audio/stereo_agent_right_mulaw_8k.wav"),
        ChannelLayout::AgentRight,
    ),
    (
        "stereo-ima",
        include_bytes!("../fixtures/audio/stereo_ima_adpcm_8k.wav"),
        ChannelLayout::AgentLeft,
    ),
    (
        "short",
        include_bytes!("../fixtures/audio/short_call_mulaw_8k.wav"),
        ChannelLayout::Mono,
    ),
];

const QUEUES: &[&str] = &["billing", "broadband", "mobile", "complaints"];

pub const DEMO_RECORDINGS: usize = 320;

/// Most demo calls are real conversations in length (35 s to 75 s of the mu-law clips
/// repeated with pauses): sampling plans skip calls under 30 s, and the fixtures are short.
const LONG_CALL_SHARE: f64 = 0.75;

/// Lengthens a mu-law WAV clip to about `seconds` by repeating its audio with a second of
/// silence in between. Mu-law bytes are independent samples, so repeating them is exact.
fn lengthen_mulaw(wav: &[u8], seconds: u32) -> Option<Vec<u8>> {
    let fmt_at = wav.windows(4).position(|w| w == b"fmt ")?;
    let fmt_len = u32::from_le_bytes(wav.get(fmt_at + 4..fmt_at + 8)?.try_into().ok()?) as usize;
    let fmt = wav.get(fmt_at + 8..fmt_at + 8 + fmt_len)?;
    let channels = usize::from(u16::from_le_bytes(fmt.get(2..4)?.try_into().ok()?));
    let rate = u32::from_le_bytes(fmt.get(4..8)?.try_into().ok()?) as usize;
    let data_at = wav.windows(4).position(|w| w == b"data")?;
    let data_len = u32::from_le_bytes(wav.get(data_at + 4..data_at + 8)?.try_into().ok()?) as usize;
    let data = wav.get(data_at + 8..data_at + 8 + data_len)?;
    let want = rate * channels * seconds as usize;
    let mut audio = Vec::with_capacity(want);
    while audio.len() < want {
        audio.extend_from_slice(data);
        // 0xFF is mu-law's zero.
        audio.extend(std::iter::repeat_n(0xFFu8, rate * channels));
    }
    audio.truncate(want - want % channels.max(1));
    let mut out = Vec::with_capacity(audio.len() + 64);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&((4 + 8 + fmt.len() + 8 + audio.len()) as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    out.extend_from_slice(fmt);
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(audio.len() as u32).to_le_bytes());
    out.extend_from_slice(&audio);
    Some(out)
}

/// Fills an empty database; does nothing (and says so) when people already exist.
pub async fn seed(state: &AppState) -> anyhow::Result<()> {
    if users::count(&state.db).await? > 0 {
        println!("demo: the database already has people; leaving it as it is");
        return Ok(());
    }
    let people = crate::org::parse_roster(ROSTER.as_bytes())?;
    crate::org::import_roster(&state.db, &people).await?;
    let agents: Vec<String> = people
        .iter()
        .filter(|(p, _)| p.role == crate::domain::org::Role::Agent)
        .map(|(p, _)| p.username.as_str().to_string())
        .collect();
    anyhow::ensure!(!agents.is_empty(), "the demo roster has no agents");

    let tz = state.config.time_zone;
    let now = chrono::Utc::now().timestamp_millis();
    let this_month = Month::containing(now, tz);
    let (start, _) = this_month.prev().range_ms(tz);
    let mut rng = StdRng::seed_from_u64(20_261_123);
    let mut calls = Vec::with_capacity(DEMO_RECORDINGS);
    for i in 0..DEMO_RECORDINGS {
        let started_at_ms = office_hours_time(&mut rng, start, now, tz);
        let mut clip = rng.random_range(0..CLIPS.len());
        let long = rng.random_bool(LONG_CALL_SHARE);
        if long {
            // The mu-law clips (mono, stereo agent-left, stereo agent-right).
            clip = [0, 0, 6, 7][rng.random_range(0..4)];
        }
        let seconds = long.then(|| rng.random_range(35..=75u32));
        let agent = agents[rng.random_range(0..agents.len())].clone();
        let number = format!("13{:09}", rng.random_range(0..1_000_000_000u64));
        calls.push((
            CallMeta {
                call_id: format!("DEMO-{:05}", i + 1),
                agent,
                started_at_ms,
                direction: if rng.random_bool(0.8) {
                    Direction::Inbound
                } else {
                    Direction::Outbound
                },
                queue: QUEUES[rng.random_range(0..QUEUES.len())].to_string(),
                customer_number: Some(number),
                channel_layout: Some(CLIPS[clip].2),
            },
            clip,
            seconds,
        ));
    }

    let ingestor = &state.ingestor;
    let results: Vec<Result<(), IngestError>> = futures::stream::iter(calls)
        .map(|(meta, clip, seconds)| async move {
            let mut temp = ingestor.blobs.temp_file()?;
            let long = seconds.and_then(|s| lengthen_mulaw(CLIPS[clip].1, s));
            let bytes = long.as_deref().unwrap_or(CLIPS[clip].1);
            temp.write_all(bytes).context("writing demo clip")?;
            use sha2::Digest;
            let staged = Staged {
                temp,
                size: bytes.len() as u64,
                sha256: hex::encode(sha2::Sha256::digest(bytes)),
                file_name: None,
            };
            ingestor.ingest(&meta, staged, "demo").await.map(|_| ())
        })
        .buffer_unordered(state.config.decode_workers * 2)
        .collect()
        .await;
    let failed: Vec<_> = results.into_iter().filter_map(Result::err).collect();
    if let Some(e) = failed.first() {
        anyhow::bail!(
            "demo recordings failed ({} of {DEMO_RECORDINGS}): {e}",
            failed.len()
        );
    }

    // A recorder pushes a call minutes after it ends; the demo ingests everything now. Date
    // the arrivals back so the demo's past weeks hold calls that arrived in time for their
    // sampling deadline, as in a real center.
    recordings::backdate_demo_arrivals(&state.db, 5 * 60_000).await?;

    let token = tokens::create(&state.db, "demo-recorder").await?;
    println!(
        "demo: {} people, {DEMO_RECORDINGS} recordings over {} and {this_month}",
        people.len(),
        this_month.prev()
    );
    println!("demo logins (username / password):");
    for (p, pw) in &people {
        println!(
            "  {:<12} {:<20} {:<11} {}",
            p.username.as_str(),
            pw.as_deref().unwrap_or("-"),
            p.role.as_str(),
            p.name
        );
    }
    println!("demo recorder API token (for POST /api/recordings): {token}");
    Ok(())
}

/// A random moment between `from` and `to`, moved into the center's opening hours
/// (08:30–20:30 local), busier on weekdays.
fn office_hours_time(rng: &mut StdRng, from: i64, to: i64, tz: chrono_tz::Tz) -> i64 {
    loop {
        let ms = rng.random_range(from..to.max(from + 1));
        let Some(local) = tz.timestamp_millis_opt(ms).single() else {
            continue;
        };
        let day: NaiveDate = local.date_naive();
        let weekend = day.weekday().number_from_monday() >= 6;
        if weekend && rng.random_bool(0.6) {
            continue;
        }
        let minute = rng.random_range(8 * 60 + 30..20 * 60 + 30);
        let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default()
            + Duration::minutes(minute)
            + Duration::seconds(rng.random_range(0..60));
        let Some(t) = tz.from_local_datetime(&naive).single() else {
            continue;
        };
        let t = t.timestamp_millis();
        if (from..to).contains(&t) && naive.hour() < 21 {
            return t;
        }
    }
}
