//! Benchmarks with figures the issues ask for:
//! `cargo run --release --bin bench -- ingest`, `... -- audio`, `... -- sampling`, `... -- grading`,
//! `... -- scoring`, `... -- login-flood`, `... -- corpus` and `... -- chaos`.
//!
//! The last line printed is a JSON object with the figures, for scripts and closing notes.

mod audio;
mod chaos;
mod chaos_check;
mod corpus;
mod grading;
mod login_flood;
mod sampling;
mod scoring;

use std::sync::Arc;
use std::time::Instant;

use callgrade::app::{AppState, serve};
use callgrade::config::Config;
use callgrade::store::scratch::ScratchPostgres;
use clap::{Parser, Subcommand};
use futures::StreamExt;
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Push 4-minute 8 kHz mu-law calls through the HTTP API (full validation), and copy the
    /// same bytes with plain file copies as the limit.
    Ingest {
        /// PostgreSQL server URL; a scratch database is created on it and dropped afterwards.
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 300)]
        count: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value_t = 240)]
        call_seconds: u32,
    },
    /// Decode speed per codec against ffmpeg on the same 12-minute files, and the streaming
    /// endpoint's time to first byte, seeks and many concurrent listeners.
    Audio {
        /// Length of the generated test calls, in minutes.
        #[arg(long, default_value_t = 12)]
        minutes: u32,
        /// Concurrent streaming listeners in the load part.
        #[arg(long, default_value_t = 500)]
        listeners: usize,
    },
    /// The monthly sampling draw on a full-size center (generated call metadata) against the
    /// naive per-agent `ORDER BY random()`, the incremental daily draw, and peak memory.
    Sampling {
        /// PostgreSQL server URL; a scratch database is created on it and dropped afterwards.
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 2000)]
        agents: usize,
        #[arg(long, default_value_t = 1750)]
        calls_per_agent: usize,
    },
    /// Evaluations submitted over HTTP on loopback by concurrent graders.
    Grading {
        /// PostgreSQL server URL; a scratch database is created on it and dropped afterwards.
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 10_000)]
        submits: usize,
        /// Graders submitting at the same time, each with their own session.
        #[arg(long, default_value_t = 8)]
        clients: usize,
    },
    /// Recomputing a published month's scores: 2000 agents with 70 published evaluations and
    /// 8 imported components each.
    Scoring {
        /// PostgreSQL server URL; a scratch database is created on it and dropped afterwards.
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 2000)]
        agents: usize,
        #[arg(long, default_value_t = 70)]
        evaluations_per_agent: usize,
        /// Months of the same data before the measured one, each computed once (history).
        #[arg(long, default_value_t = 1)]
        earlier_months: usize,
    },
    /// Many clients posting wrong passwords for unknown names in a loop while a grader
    /// streams: the server's peak memory and the stream's time to first byte.
    LoginFlood {
        #[arg(long, default_value_t = 200)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Every client from loopback instead of an address of its own.
        #[arg(long)]
        same_address: bool,
    },
    /// A mutation corpus of the fixtures (truncations, header lies, byte flips) pushed over
    /// HTTP to a server in its own process: every answer must be 201, 413, 415 or 422.
    Corpus {
        #[arg(long, default_value_t = 10_000)]
        files: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
    /// Kill -9 of the server at random moments while clients upload, submit grades, file
    /// appeals and decide them; after each restart every acknowledged write must be there.
    Chaos {
        /// PostgreSQL server URL; a scratch database is created on it and dropped afterwards.
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long, default_value_t = 50)]
        rounds: usize,
        /// Concurrent clients: half upload, the rest grade, appeal and decide.
        #[arg(long, default_value_t = 200)]
        clients: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The longest a server lives before it is killed, in milliseconds.
        #[arg(long, default_value_t = 2500)]
        max_uptime_ms: u64,
    },
    /// (internal) The server process `audio`, `login-flood`, `corpus` and `chaos` measure, on
    /// an existing data folder.
    #[command(hide = true)]
    Serve {
        data_dir: std::path::PathBuf,
        #[arg(long)]
        database_url: Option<String>,
        #[arg(long)]
        client_ip_header: Option<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Off unless asked for (e.g. RUST_LOG=sqlx::query=debug shows every statement's time).
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    match Args::parse().bench {
        Bench::Ingest {
            database_url,
            count,
            concurrency,
            call_seconds,
        } => ingest(database_url, count, concurrency, call_seconds).await,
        Bench::Audio { minutes, listeners } => audio::run(minutes, listeners).await,
        Bench::Sampling {
            database_url,
            agents,
            calls_per_agent,
        } => sampling::run(database_url, agents, calls_per_agent).await,
        Bench::Grading {
            database_url,
            submits,
            clients,
        } => grading::run(database_url, submits, clients).await,
        Bench::Scoring {
            database_url,
            agents,
            evaluations_per_agent,
            earlier_months,
        } => scoring::run(database_url, agents, evaluations_per_agent, earlier_months).await,
        Bench::LoginFlood {
            clients,
            seconds,
            same_address,
        } => login_flood::run(clients, seconds, same_address).await,
        Bench::Corpus {
            files,
            seed,
            concurrency,
        } => corpus::run(files, seed, concurrency).await,
        Bench::Chaos {
            database_url,
            rounds,
            clients,
            seed,
            max_uptime_ms,
        } => {
            chaos::run(chaos::Options {
                database_url,
                rounds,
                clients,
                seed,
                max_uptime_ms,
            })
            .await
        }
        Bench::Serve {
            data_dir,
            database_url,
            client_ip_header,
        } => audio::serve_child(data_dir, database_url, client_ip_header).await,
    }
}

/// A server state on a fresh data folder, and on a scratch PostgreSQL database (dropped with
/// the returned guard) when a URL is given.
pub async fn fresh_state(
    database_url: Option<String>,
) -> anyhow::Result<(tempfile::TempDir, Option<ScratchPostgres>, AppState)> {
    let dir = tempfile::tempdir()?;
    let scratch = match &database_url {
        Some(url) => Some(ScratchPostgres::create(url, "cg_bench").await?),
        None => None,
    };
    let config = Config::for_data_dir(
        dir.path().join("data"),
        scratch.as_ref().map(|s| s.url.clone()),
    );
    let state = AppState::open(config).await?;
    Ok((dir, scratch, state))
}

async fn ingest(
    database_url: Option<String>,
    count: usize,
    concurrency: usize,
    call_seconds: u32,
) -> anyhow::Result<()> {
    let wav = Arc::new(mulaw_call(call_seconds));
    let (dir, scratch, state) = fresh_state(database_url).await?;
    let roster =
        "username,name,role,team,hire_date,password\nbench-agent,Bench,agent,bench,2024-01-01,\n";
    let people = callgrade::org::parse_roster(roster.as_bytes())?;
    callgrade::org::import_roster(&state.db, &people).await?;
    let token = callgrade::store::tokens::create(&state.db, "bench").await?;
    let backend = format!("{:?}", state.db.backend).to_lowercase();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::new();
    let started = Instant::now();
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(0..count)
        .map(|i| {
            let client = client.clone();
            let url = format!("{base}/api/recordings");
            let token = token.clone();
            let wav = wav.clone();
            async move {
                let meta = json!({
                    "call_id": format!("BENCH-{i:06}"),
                    "agent": "bench-agent",
                    "started_at": "2026-11-02T09:15:00+08:00",
                    "direction": "inbound",
                    "queue": "billing",
                });
                let form = reqwest::multipart::Form::new()
                    .text("metadata", meta.to_string())
                    .part(
                        "file",
                        reqwest::multipart::Part::bytes(wav.to_vec()).file_name("call.wav"),
                    );
                let resp = client
                    .post(url)
                    .bearer_auth(token)
                    .multipart(form)
                    .send()
                    .await?;
                anyhow::ensure!(
                    resp.status() == 201,
                    "upload {i}: {} {}",
                    resp.status(),
                    resp.text().await?
                );
                Ok(())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let ingest_s = started.elapsed().as_secs_f64();
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    let _ = stop.send(());
    server.await??;

    // The limit: the same bytes copied file to file, each fsynced like ingest does, with the
    // same concurrency.
    let copy_dir = dir.path().join("copies");
    std::fs::create_dir_all(&copy_dir)?;
    let source = dir.path().join("source.wav");
    std::fs::write(&source, wav.as_slice())?;
    let started = Instant::now();
    let copies: Vec<anyhow::Result<()>> = futures::stream::iter(0..count)
        .map(|i| {
            let source = source.clone();
            let target = copy_dir.join(format!("{i}.wav"));
            async move {
                tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                    std::fs::copy(&source, &target)?;
                    std::fs::File::open(&target)?.sync_all()?;
                    Ok(())
                })
                .await?
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let copy_s = started.elapsed().as_secs_f64();
    copies.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    drop(scratch);

    let per_s = count as f64 / ingest_s;
    let copy_per_s = count as f64 / copy_s;
    println!(
        "ingest ({backend}): {count} calls of {call_seconds} s ({} KB each) in {ingest_s:.2} s = {per_s:.1} recordings/s",
        wav.len() / 1024
    );
    println!("plain copy + fsync of the same bytes: {copy_s:.2} s = {copy_per_s:.1} files/s");
    println!(
        "{}",
        json!({
            "bench": "ingest",
            "backend": backend,
            "recordings": count,
            "concurrency": concurrency,
            "call_seconds": call_seconds,
            "bytes_per_recording": wav.len(),
            "ingest_s": round3(ingest_s),
            "recordings_per_s": round3(per_s),
            "copy_s": round3(copy_s),
            "copy_per_s": round3(copy_per_s),
            "ingest_to_copy_ratio": round3(per_s / copy_per_s),
            "goal_recordings_per_s": 100,
        })
    );
    Ok(())
}

/// Imports a roster (CSV text) and returns the id of its first agent: the benches address
/// agents by offset from it, so their ids must form one contiguous range (checked).
pub async fn import_roster(
    db: &callgrade::store::Db,
    csv: &str,
    agents: usize,
) -> anyhow::Result<i64> {
    use sqlx::Row;
    let people = callgrade::org::parse_roster(csv.as_bytes())?;
    callgrade::org::import_roster(db, &people).await?;
    let row = sqlx::query(
        "SELECT MIN(id) AS lo, MAX(id) AS hi, COUNT(*) AS n FROM users WHERE role = 'agent'",
    )
    .fetch_one(&db.pool)
    .await?;
    let (lo, hi, n): (i64, i64, i64) = (row.try_get("lo")?, row.try_get("hi")?, row.try_get("n")?);
    anyhow::ensure!(
        hi - lo + 1 == n && n == agents as i64,
        "agent ids are not one contiguous range ({lo}..={hi}, {n} agents)"
    );
    Ok(lo)
}

/// Starts the high-water mark of the resident set afresh (Linux 4.0+), so that a phase's peak
/// can be read on its own.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's high-water resident set (VmHWM), in MB.
pub fn peak_rss_mb() -> anyhow::Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmHWM in /proc/self/status"))?;
    Ok(kb / 1024.0)
}

/// CPU time this process has used so far (user and system, all threads), in seconds. With
/// SQLite the database works inside the process, so this counts its work too; PostgreSQL's
/// server processes are not counted.
pub fn cpu_s() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow::anyhow!("unexpected /proc/self/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(i)
            .ok_or_else(|| anyhow::anyhow!("short /proc/self/stat"))?
            .parse::<f64>()?)
    };
    // The kernel reports them in USER_HZ ticks, which Linux fixes at 100 per second.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// SplitMix64: small, and the same sequence for a seed on every machine and every version.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A G.711 mu-law WAV of a speech-like signal: voiced bursts with pauses, like one side of a
/// call, so the codec sees realistic values rather than silence.
pub fn mulaw_call(seconds: u32) -> Vec<u8> {
    let rate = 8000u32;
    let n = (rate * seconds) as usize;
    let mut data = Vec::with_capacity(n);
    let mut noise: u32 = 12345;
    for i in 0..n {
        let t = i as f64 / rate as f64;
        let talking = (t * 0.4).sin() > -0.2;
        let pitch = 140.0 + 30.0 * (t * 0.7).sin();
        noise = noise.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let hiss = ((noise >> 16) as f64 / 65536.0 - 0.5) * 400.0;
        let voice = if talking {
            let env = 0.5 + 0.5 * (t * 6.0).sin();
            env * (6000.0 * (2.0 * std::f64::consts::PI * pitch * t).sin()
                + 2500.0 * (2.0 * std::f64::consts::PI * pitch * 3.0 * t).sin())
        } else {
            0.0
        };
        data.push(linear_to_mulaw((voice + hiss) as i16));
    }
    let mut wav = Vec::with_capacity(n + 58);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(50 + n as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    // Non-PCM formats carry the cbSize field (18-byte fmt) and a fact chunk.
    wav.extend_from_slice(&18u32.to_le_bytes());
    wav.extend_from_slice(&7u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&8u16.to_le_bytes());
    wav.extend_from_slice(&0u16.to_le_bytes());
    wav.extend_from_slice(b"fact");
    wav.extend_from_slice(&4u32.to_le_bytes());
    wav.extend_from_slice(&(n as u32).to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(n as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    wav
}

/// G.711 mu-law encoding of one 16-bit sample.
fn linear_to_mulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut s = i32::from(sample);
    let sign = if s < 0 { 0x80 } else { 0 };
    if s < 0 {
        s = -s;
    }
    s = s.min(CLIP) + BIAS;
    let exponent = (7 - (s.leading_zeros() as i32 - 17)).clamp(0, 7);
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) as u8 | mantissa as u8)
}

#[cfg(test)]
mod tests {
    use super::linear_to_mulaw;

    #[test]
    fn mulaw_matches_g711_reference_points() {
        assert_eq!(linear_to_mulaw(0), 0xFF);
        assert_eq!(linear_to_mulaw(-1), 0x7F);
        assert_eq!(linear_to_mulaw(32767), 0x80);
        assert_eq!(linear_to_mulaw(-32768), 0x00);
    }
}
