//! `bench login-flood`: many clients posting wrong passwords for made-up names in a loop, to a
//! server in its own process, while one grader streams a call. Measures what a flood costs
//! the people working: the server's peak memory, and the stream's time to first byte during
//! the flood against the same server idle.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use crate::audio::{BenchServer, first_byte, peak_rss_mb, percentile, rss_mb};
use crate::round3;

/// The flood's clients each come from their own address (told by `X-Forwarded-For`, which the
/// server trusts here as it would behind a proxy), so the per-address lock-outs do not end
/// the flood early: every request reaches the password check's gate. With `same_address`
/// they all come from loopback, as in a flood straight at the port.
pub async fn run(clients: usize, seconds: u64, same_address: bool) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let BenchServer { child, base, token } =
        BenchServer::start(&dir.path().join("server"), Some("x-forwarded-for")).await?;
    let pid = child.0.id();

    // One four-minute call to stream, and a grader's session.
    let grader = reqwest::Client::builder().cookie_store(true).build()?;
    let meta = json!({
        "call_id": "FLOOD-1", "agent": "bench-agent",
        "started_at": "2026-11-02T09:15:00+08:00", "direction": "inbound", "queue": "q",
    });
    let form = reqwest::multipart::Form::new()
        .text("metadata", meta.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(crate::mulaw_call(240)).file_name("call.wav"),
        );
    let resp = grader
        .post(format!("{base}/api/recordings"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await?;
    anyhow::ensure!(resp.status() == 201, "the call did not ingest");
    let id = resp.json::<serde_json::Value>().await?["id"]
        .as_i64()
        .context("recording id")?;
    let login = grader
        .post(format!("{base}/api/login"))
        .json(&json!({ "username": "bench-sup", "password": "bench-password" }))
        .send()
        .await?;
    anyhow::ensure!(login.status() == 200, "the grader's login failed");

    let mut idle = Vec::new();
    for _ in 0..100 {
        idle.push(first_byte(&grader, &base, id, 0).await?);
    }
    let idle_rss = peak_rss_mb(pid)?;

    // The flood. Each client is its own connection pool, like separate machines.
    let stop = Arc::new(AtomicBool::new(false));
    let flood: Vec<_> = (0..clients)
        .map(|i| {
            let url = format!("{base}/api/login");
            let stop = stop.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut seen: BTreeMap<u16, u64> = BTreeMap::new();
                while !stop.load(Ordering::Relaxed) {
                    let mut req = client
                        .post(&url)
                        .json(&json!({ "username": format!("ghost-{i}"), "password": "wrong" }));
                    if !same_address {
                        req =
                            req.header("x-forwarded-for", format!("10.{}.{}.7", i / 250, i % 250));
                    }
                    // A refused or reset connection counts as status 0: the server is failing.
                    let status = match req.send().await {
                        Ok(resp) => resp.status().as_u16(),
                        Err(_) => 0,
                    };
                    *seen.entry(status).or_default() += 1;
                }
                seen
            })
        })
        .collect();

    // Meanwhile the grader keeps opening the stream, and the server's memory is watched.
    let started = Instant::now();
    let mut during = Vec::new();
    let mut stream_errors = 0u64;
    let mut worst_rss: f64 = 0.0;
    while started.elapsed() < Duration::from_secs(seconds) {
        match first_byte(&grader, &base, id, 0).await {
            Ok(ms) => during.push(ms),
            Err(_) => stream_errors += 1,
        }
        worst_rss = worst_rss.max(rss_mb(pid).unwrap_or(0.0));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for task in flood {
        for (status, n) in task.await? {
            *statuses.entry(status).or_default() += n;
        }
    }
    let flood_s = started.elapsed().as_secs_f64();
    let peak_rss = peak_rss_mb(pid)?.max(worst_rss);

    // Afterwards the server is up and real people still sign in.
    let alive = reqwest::get(format!("{base}/api/health"))
        .await
        .is_ok_and(|r| r.status() == 200);
    let after_login = reqwest::Client::new()
        .post(format!("{base}/api/login"))
        .json(&json!({ "username": "bench-sup", "password": "bench-password" }))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16());

    let idle_median = percentile(&mut idle, 0.5);
    let during_median = percentile(&mut during, 0.5);
    let during_p99 = percentile(&mut during, 0.99);
    let sent: u64 = statuses.values().sum();
    println!(
        "{clients} clients for {flood_s:.1} s: {sent} logins ({:.0}/s) {statuses:?}",
        sent as f64 / flood_s
    );
    println!(
        "stream TTFB idle median {idle_median:.3} ms; during the flood median {during_median:.3} ms, p99 {during_p99:.3} ms ({} opens, {stream_errors} failed)",
        during.len()
    );
    println!(
        "server RSS idle {idle_rss:.1} MB, peak {peak_rss:.1} MB; alive {alive}; login after {after_login}"
    );
    println!(
        "{}",
        json!({
            "bench": "login-flood",
            "clients": clients,
            "seconds": round3(flood_s),
            "same_address": same_address,
            "logins_sent": sent,
            "logins_per_s": round3(sent as f64 / flood_s),
            "statuses": statuses.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "ttfb_idle_median_ms": round3(idle_median),
            "ttfb_flood_median_ms": round3(during_median),
            "ttfb_flood_p99_ms": round3(during_p99),
            "ttfb_flood_to_idle": round3(during_median / idle_median),
            "stream_opens": during.len(),
            "stream_errors": stream_errors,
            "server_idle_rss_mb": round3(idle_rss),
            "server_peak_rss_mb": round3(peak_rss),
            "server_alive": alive,
            "login_after_status": after_login,
            "goals": { "server_peak_rss_mb": 1024.0, "ttfb_flood_median_ms": 50.0 },
        })
    );
    Ok(())
}
