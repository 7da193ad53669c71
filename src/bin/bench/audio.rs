//! `bench audio`: how fast recordings decode and stream.
//!
//! Decode: each codec's 12-minute file is made once from the fixtures with ffmpeg (sox for
//! GSM), then decoded fully by callgrade (in process) and by
//! `ffmpeg -nostdin -v error -i F -f s16le -y /dev/null`, best of three each.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use serde_json::{Map, Value, json};

use super::round3;

/// (name, fixture it is made from, file extension, how to encode it).
const CODECS: &[(&str, &str, &str, Encoder)] = &[
    (
        "pcm_mulaw",
        "mulaw_8k_mono.wav",
        "wav",
        Encoder::Ffmpeg(&["-c:a", "pcm_mulaw"]),
    ),
    (
        "pcm_alaw",
        "alaw_8k_mono.wav",
        "wav",
        Encoder::Ffmpeg(&["-c:a", "pcm_alaw"]),
    ),
    (
        "pcm_s16le",
        "pcm_s16_8k_mono.wav",
        "wav",
        Encoder::Ffmpeg(&["-c:a", "pcm_s16le"]),
    ),
    (
        "stereo_mulaw",
        "stereo_mulaw_8k.wav",
        "wav",
        Encoder::Ffmpeg(&["-c:a", "pcm_mulaw"]),
    ),
    (
        "adpcm_ima_wav",
        "pcm_s16_8k_mono.wav",
        "wav",
        Encoder::Ffmpeg(&["-c:a", "adpcm_ima_wav"]),
    ),
    (
        "adpcm_ms",
        "pcm_s16_8k_mono.wav",
        "wav",
        Encoder::Ffmpeg(&["-c:a", "adpcm_ms"]),
    ),
    ("gsm_ms", "pcm_s16_8k_mono.wav", "wav", Encoder::SoxGsm),
    (
        "mp3",
        "pcm_s16_8k_mono.wav",
        "mp3",
        Encoder::Ffmpeg(&["-c:a", "libmp3lame", "-b:a", "16k"]),
    ),
    (
        "vorbis",
        "pcm_s16_8k_mono.wav",
        "ogg",
        Encoder::Ffmpeg(&["-c:a", "libvorbis", "-q:a", "2"]),
    ),
    (
        "opus",
        "pcm_s16_8k_mono.wav",
        "opus",
        Encoder::Ffmpeg(&["-c:a", "libopus", "-b:a", "16k"]),
    ),
    (
        "flac",
        "pcm_s16_8k_mono.wav",
        "flac",
        Encoder::Ffmpeg(&["-c:a", "flac"]),
    ),
    (
        "aac",
        "pcm_s16_8k_mono.wav",
        "m4a",
        Encoder::Ffmpeg(&["-c:a", "aac", "-b:a", "24k"]),
    ),
];

#[derive(Clone, Copy)]
enum Encoder {
    Ffmpeg(&'static [&'static str]),
    SoxGsm,
}

pub async fn run(minutes: u32) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/audio");
    let mut files = Vec::new();
    for (name, fixture, ext, encoder) in CODECS {
        let out = dir.path().join(format!("{name}.{ext}"));
        make_long(&fixtures.join(fixture), &out, minutes, *encoder)
            .with_context(|| format!("making the {minutes}-minute {name} file"))?;
        files.push((*name, out));
    }

    let mut decode = Map::new();
    let mut worst: f64 = 0.0;
    for (name, path) in &files {
        let ours = best_of(3, || decode_ours(path));
        let ffmpeg = best_of(3, || decode_ffmpeg(path));
        let entry = match (ours, ffmpeg) {
            (Ok((ours_s, frames)), Ok((ffmpeg_s, _))) => {
                let ratio = ours_s / ffmpeg_s;
                worst = worst.max(ratio);
                println!(
                    "decode {name:<14} ours {:>8.2} ms  ffmpeg {:>8.2} ms  ratio {ratio:.3}  ({frames} frames)",
                    ours_s * 1e3,
                    ffmpeg_s * 1e3
                );
                json!({ "ours_ms": round3(ours_s * 1e3), "ffmpeg_ms": round3(ffmpeg_s * 1e3), "ratio": round3(ratio), "frames": frames })
            }
            (ours, ffmpeg) => {
                let describe =
                    |e: Option<anyhow::Error>| e.map_or("ok".to_string(), |e| format!("{e:#}"));
                let err = format!(
                    "ours: {}; ffmpeg: {}",
                    describe(ours.err()),
                    describe(ffmpeg.err())
                );
                println!("decode {name:<14} failed: {err}");
                json!({ "error": err })
            }
        };
        decode.insert((*name).to_string(), entry);
    }

    println!(
        "{}",
        json!({
            "bench": "audio",
            "minutes": minutes,
            "decode": Value::Object(decode),
            "decode_worst_ratio": round3(worst),
            "goal_decode_ratio": 1.0,
        })
    );
    Ok(())
}

fn make_long(src: &Path, out: &Path, minutes: u32, encoder: Encoder) -> anyhow::Result<()> {
    // Fixtures are ~8.6 s; loop them to the length of a long call.
    let loops = (minutes * 60).div_ceil(8).to_string();
    let status = match encoder {
        Encoder::Ffmpeg(args) => Command::new("ffmpeg")
            .args([
                "-nostdin",
                "-v",
                "error",
                "-y",
                "-stream_loop",
                &loops,
                "-i",
            ])
            .arg(src)
            .args(["-t", &(minutes * 60).to_string()])
            .args(args)
            .arg(out)
            .status()?,
        Encoder::SoxGsm => Command::new("sox")
            .arg(src)
            .args(["-e", "gsm-full-rate"])
            .arg(out)
            .args(["repeat", &loops, "trim", "0", &(minutes * 60).to_string()])
            .status()?,
    };
    anyhow::ensure!(status.success(), "encoder exited with {status}");
    Ok(())
}

fn best_of<T>(
    n: usize,
    mut f: impl FnMut() -> anyhow::Result<(f64, T)>,
) -> anyhow::Result<(f64, T)> {
    let mut best: Option<(f64, T)> = None;
    for _ in 0..n {
        let (s, v) = f()?;
        if best.as_ref().is_none_or(|(b, _)| s < *b) {
            best = Some((s, v));
        }
    }
    best.context("no runs")
}

fn decode_ours(path: &PathBuf) -> anyhow::Result<(f64, u64)> {
    let started = Instant::now();
    let (mut stream, _) = callgrade::audio::decode::open(path).map_err(anyhow::Error::msg)?;
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut frames = 0u64;
    loop {
        buf.clear();
        let n = stream.read(&mut buf).map_err(anyhow::Error::msg)?;
        if n == 0 {
            break;
        }
        frames += n as u64;
    }
    Ok((started.elapsed().as_secs_f64(), frames))
}

fn decode_ffmpeg(path: &PathBuf) -> anyhow::Result<(f64, ())> {
    let started = Instant::now();
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "s16le", "-y", "/dev/null"])
        .status()?;
    anyhow::ensure!(status.success(), "ffmpeg exited with {status}");
    Ok((started.elapsed().as_secs_f64(), ()))
}
