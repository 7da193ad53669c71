//! `bench corpus`: a mutation corpus pushed over HTTP to a server in its own process.
//!
//! From every recording in `fixtures/audio`: truncations at every 5 % of its length, header
//! fields set to 0, to their maximum and to plausible lies (double, half), and random byte
//! flips biased toward the first 512 bytes, where headers live. Flips fill the corpus up to
//! `--files` (at least 1 000 of them); everything is derived from `--seed`, so a failing file
//! can be made again from its name. Each file is posted as a recorder posts one, under its
//! fixture's name (headerless formats are known only by their extension).
//!
//! The goal (issue 19): no 5xx, no crash, the server's peak RSS under 300 MB, and every answer
//! 201 (`damaged` when it is), 413, 415 or 422 with a JSON `error` {code, message}.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::audio::{BenchServer, peak_rss_mb};
use crate::{Rng, round3};

/// At least this many byte-flip files, whatever `--files` says the total is.
const MIN_FLIPS: usize = 1000;
/// Flips land in the first bytes this often (one in two), as headers are where parsers
/// trust what they read.
const HEADER_BYTES: usize = 512;
/// A request slower than this is counted as a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const GOAL_RSS_MB: f64 = 300.0;
/// The answer ingest gives when a decoder panicked (caught): a bug to fix, not a refusal.
const PANIC_MESSAGE: &str = "the decoder could not make sense of it";
/// Failures printed in full; the rest are only counted.
const EXAMPLES: usize = 10;

struct Fixture {
    name: String,
    bytes: Vec<u8>,
    /// Header fields found in it, for the lies.
    fields: Vec<Field>,
}

/// A number stored in a header: where it is and how wide.
#[derive(Clone)]
struct Field {
    name: String,
    place: Place,
}

#[derive(Clone, Copy)]
enum Place {
    /// `bytes` bytes at `offset`, least significant first (RIFF).
    Le { offset: usize, bytes: usize },
    /// `bits` bits starting at bit `bit` of the file, most significant first (everything
    /// else: AU, MP4, FLAC's packed STREAMINFO, EBML sizes, MP3 frame headers).
    Be { bit: usize, bits: u32 },
}

impl Place {
    fn bits(self) -> u32 {
        match self {
            Place::Le { bytes, .. } => 8 * bytes as u32,
            Place::Be { bits, .. } => bits,
        }
    }

    fn fits(self, len: usize) -> bool {
        match self {
            Place::Le { offset, bytes } => offset + bytes <= len,
            Place::Be { bit, bits } => (bit + bits as usize).div_ceil(8) <= len,
        }
    }

    fn read(self, b: &[u8]) -> u64 {
        match self {
            Place::Le { offset, bytes } => b[offset..offset + bytes]
                .iter()
                .rev()
                .fold(0, |v, &x| (v << 8) | u64::from(x)),
            Place::Be { bit, bits } => (bit..bit + bits as usize).fold(0, |v, i| {
                (v << 1) | u64::from((b[i / 8] >> (7 - i % 8)) & 1)
            }),
        }
    }

    fn write(self, b: &mut [u8], value: u64) {
        match self {
            Place::Le { offset, bytes } => {
                for (k, byte) in b[offset..offset + bytes].iter_mut().enumerate() {
                    *byte = (value >> (8 * k)) as u8;
                }
            }
            Place::Be { bit, bits } => {
                for k in 0..bits as usize {
                    let i = bit + k;
                    let one = (value >> (bits as usize - 1 - k)) & 1 == 1;
                    let mask = 1u8 << (7 - i % 8);
                    if one {
                        b[i / 8] |= mask;
                    } else {
                        b[i / 8] &= !mask;
                    }
                }
            }
        }
    }
}

/// One file of the corpus: which fixture and what was done to it. Bytes are made only when
/// the file is sent, so the corpus never sits in memory whole.
#[derive(Clone)]
struct Mutation {
    fixture: usize,
    edit: Edit,
}

#[derive(Clone)]
enum Edit {
    Truncate(usize),
    /// A header field (index into the fixture's fields) set to a value.
    Lie(usize, u64),
    /// Bytes xored with a value, at their offsets.
    Flip(Vec<(usize, u8)>),
}

impl Mutation {
    fn kind(&self) -> &'static str {
        match self.edit {
            Edit::Truncate(_) => "truncate",
            Edit::Lie(..) => "lie",
            Edit::Flip(_) => "flip",
        }
    }

    fn bytes(&self, fixtures: &[Fixture]) -> Vec<u8> {
        let f = &fixtures[self.fixture];
        let mut b = f.bytes.clone();
        match &self.edit {
            Edit::Truncate(percent) => b.truncate(f.bytes.len() * percent / 100),
            Edit::Lie(field, value) => f.fields[*field].place.write(&mut b, *value),
            Edit::Flip(edits) => edits.iter().for_each(|&(at, xor)| b[at] ^= xor),
        }
        b
    }

    /// Enough to make the file again by hand.
    fn describe(&self, fixtures: &[Fixture]) -> String {
        let f = &fixtures[self.fixture];
        match &self.edit {
            Edit::Truncate(percent) => format!("{} truncated to {percent}%", f.name),
            Edit::Lie(field, value) => {
                format!("{} with {} = {value:#x}", f.name, f.fields[*field].name)
            }
            Edit::Flip(edits) => {
                let at: Vec<String> = edits
                    .iter()
                    .map(|(at, x)| format!("{at}^{x:#04x}"))
                    .collect();
                format!("{} with bytes flipped at {}", f.name, at.join(","))
            }
        }
    }
}

fn load_fixtures(dir: &Path) -> anyhow::Result<Vec<Fixture>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| !n.ends_with(".csv"))
        .collect();
    // Sorted, so the same seed gives the same corpus whatever order the folder lists.
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(dir.join(&name))?;
            let fields = header_fields(&bytes)
                .into_iter()
                .filter(|f| f.place.fits(bytes.len()))
                .collect();
            Ok(Fixture {
                name,
                bytes,
                fields,
            })
        })
        .collect()
}

fn u32_le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u32_be(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le(name: &str, offset: usize, bytes: usize) -> Field {
    Field {
        name: name.to_string(),
        place: Place::Le { offset, bytes },
    }
}

fn be(name: &str, bit: usize, bits: u32) -> Field {
    Field {
        name: name.to_string(),
        place: Place::Be { bit, bits },
    }
}

/// The length and count fields of the file's container that can be found by a simple walk.
/// Headerless files have none.
fn header_fields(b: &[u8]) -> Vec<Field> {
    if b.starts_with(b"RIFF") && b.get(8..12) == Some(b"WAVE") {
        riff_fields(b)
    } else if b.starts_with(b".snd") {
        // Five big-endian u32 after the magic.
        let names = "data_offset data_size encoding sample_rate channels".split(' ');
        let at = |i: usize| (4 + 4 * i) * 8;
        names
            .enumerate()
            .map(|(i, n)| be(&format!("au.{n}"), at(i), 32))
            .collect()
    } else if b.starts_with(b"fLaC") {
        flac_fields(b)
    } else if b.starts_with(b"OggS") {
        ogg_fields(b)
    } else if b.get(4..8) == Some(b"ftyp") {
        let mut out = Vec::new();
        mp4_fields(b, 0, b.len(), "", &mut out);
        out
    } else if b.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        let mut out = Vec::new();
        ebml_fields(b, 0, b.len(), "", &mut out);
        out
    } else if b.len() >= 4 && b[0] == 0xFF && b[1] & 0xE0 == 0xE0 {
        mp3_fields(b)
    } else {
        Vec::new()
    }
}

fn riff_fields(b: &[u8]) -> Vec<Field> {
    let mut out = vec![le("riff.size", 4, 4)];
    let mut p = 12;
    while let Some(size) = u32_le(b, p + 4) {
        let id = &b[p..p + 4];
        let chunk = String::from_utf8_lossy(id).trim().to_string();
        out.push(le(&format!("{chunk}.size"), p + 4, 4));
        match id {
            b"fmt " => {
                for (name, at, width) in [
                    ("format_tag", 8, 2),
                    ("channels", 10, 2),
                    ("sample_rate", 12, 4),
                    ("byte_rate", 16, 4),
                    ("block_align", 20, 2),
                    ("bits_per_sample", 22, 2),
                ] {
                    out.push(le(&format!("fmt.{name}"), p + at, width));
                }
                // The extension ADPCM and G.726 formats carry: its size and first field
                // (samples per block for IMA and MS ADPCM).
                if size >= 18 {
                    out.push(le("fmt.cb_size", p + 24, 2));
                }
                if size >= 20 {
                    out.push(le("fmt.ext0", p + 26, 2));
                }
            }
            b"fact" => out.push(le("fact.samples", p + 8, 4)),
            b"data" => break,
            _ => {}
        }
        p += 8 + size as usize + (size & 1) as usize;
    }
    out
}

fn flac_fields(b: &[u8]) -> Vec<Field> {
    let s = 8 * 8; // STREAMINFO's body, in bits
    let mut out = vec![
        be("streaminfo.min_block", s, 16),
        be("streaminfo.max_block", s + 16, 16),
        be("streaminfo.min_frame", s + 32, 24),
        be("streaminfo.max_frame", s + 56, 24),
        be("streaminfo.sample_rate", s + 80, 20),
        be("streaminfo.channels", s + 100, 3),
        be("streaminfo.bits", s + 103, 5),
        be("streaminfo.total_samples", s + 108, 36),
    ];
    // Every metadata block's 24-bit length, up to the last one.
    let mut p = 4;
    for i in 0..8 {
        let Some(&head) = b.get(p) else { break };
        out.push(be(&format!("metadata{i}.length"), (p + 1) * 8, 24));
        let Some(len) = u32_be(b, p).map(|v| (v & 0xFF_FFFF) as usize) else {
            break;
        };
        if head & 0x80 != 0 {
            break;
        }
        p += 4 + len;
    }
    out
}

fn ogg_fields(b: &[u8]) -> Vec<Field> {
    let mut pages = Vec::new();
    let mut p = 0;
    while b.get(p..p + 4) == Some(b"OggS") {
        let Some(&n) = b.get(p + 26) else { break };
        let Some(lacing) = b.get(p + 27..p + 27 + n as usize) else {
            break;
        };
        pages.push(p);
        p += 27 + n as usize + lacing.iter().map(|&x| x as usize).sum::<usize>();
    }
    let mut out = Vec::new();
    let last = pages.len().saturating_sub(1);
    for (i, &p) in pages.iter().enumerate() {
        if i < 4 || i == last {
            out.push(be(&format!("page{i}.segments"), (p + 26) * 8, 8));
        }
        // The last granule position is the stream's length.
        if i == last || i == 2 {
            out.push(le(&format!("page{i}.granule"), p + 6, 8));
        }
    }
    out
}

/// MP4 boxes: every size of the first boxes down through the track, and the counts of the
/// sample tables.
fn mp4_fields(b: &[u8], start: usize, end: usize, path: &str, out: &mut Vec<Field>) {
    let mut p = start;
    while p + 8 <= end && out.len() < 48 {
        let Some(size) = u32_be(b, p) else { return };
        let kind = String::from_utf8_lossy(&b[p + 4..p + 8]).to_string();
        let name = format!("{path}{kind}");
        out.push(be(&format!("{name}.size"), p * 8, 32));
        let body = p + 8;
        match kind.as_str() {
            "moov" | "trak" | "mdia" | "minf" | "stbl" => mp4_fields(
                b,
                body,
                (p + size as usize).min(end),
                &format!("{name}/"),
                out,
            ),
            "mvhd" | "mdhd" => {
                out.push(be(&format!("{name}.timescale"), (body + 12) * 8, 32));
                out.push(be(&format!("{name}.duration"), (body + 16) * 8, 32));
            }
            "stsz" => {
                out.push(be(&format!("{name}.sample_size"), (body + 4) * 8, 32));
                out.push(be(&format!("{name}.count"), (body + 8) * 8, 32));
            }
            "stts" | "stsc" | "stco" | "co64" | "stsd" | "stss" => {
                out.push(be(&format!("{name}.count"), (body + 4) * 8, 32))
            }
            _ => {}
        }
        if size < 8 {
            return;
        }
        p += size as usize;
    }
}

/// An EBML variable-length number's width from its first byte.
fn vint_len(first: u8) -> usize {
    first.leading_zeros() as usize + 1
}

/// Matroska/WebM: the size of every element of the first levels (EBML header, Segment and its
/// children, a track's entry and audio settings, the first cluster's blocks) and the channel
/// count.
fn ebml_fields(b: &[u8], start: usize, end: usize, path: &str, out: &mut Vec<Field>) {
    const MASTERS: [&[u8]; 5] = [
        &[0x18, 0x53, 0x80, 0x67], // Segment
        &[0x16, 0x54, 0xAE, 0x6B], // Tracks
        &[0xAE],                   // TrackEntry
        &[0xE1],                   // Audio
        &[0x1F, 0x43, 0xB6, 0x75], // Cluster
    ];
    let mut p = start;
    let mut children = 0;
    while p < end && children < 12 && out.len() < 48 {
        let id_len = vint_len(b[p]);
        let Some(&size_first) = b.get(p + id_len) else {
            return;
        };
        let size_len = vint_len(size_first);
        if id_len > 4 || size_len > 8 || p + id_len + size_len > end {
            return;
        }
        let id = &b[p..p + id_len];
        let size_at = p + id_len;
        let size_field = be(
            &format!("{path}{}.size", hex::encode(id)),
            size_at * 8 + size_len,
            7 * size_len as u32,
        );
        let size = size_field.place.read(b);
        let body = size_at + size_len;
        // All ones: "unknown", to the end of the parent.
        let body_end = if size == (1u64 << (7 * size_len)) - 1 {
            end
        } else {
            body.saturating_add(size as usize).min(end)
        };
        out.push(size_field);
        if id == [0x9F] && size <= 8 {
            out.push(be(&format!("{path}channels"), body * 8, 8 * size as u32));
        }
        if MASTERS.contains(&id) {
            ebml_fields(
                b,
                body,
                body_end,
                &format!("{path}{}/", hex::encode(id)),
                out,
            );
        }
        p = body_end;
        children += 1;
    }
}

fn mp3_fields(b: &[u8]) -> Vec<Field> {
    let mut out = vec![
        be("mp3.version", 11, 2),
        be("mp3.layer", 13, 2),
        be("mp3.bitrate_index", 16, 4),
        be("mp3.rate_index", 20, 2),
        be("mp3.channel_mode", 24, 2),
    ];
    // The Xing/Info frame says how many frames and bytes follow.
    let window = &b[..b.len().min(256)];
    if let Some(at) = window.windows(4).position(|w| w == b"Xing" || w == b"Info") {
        out.push(be("xing.flags", (at + 4) * 8, 32));
        out.push(be("xing.frames", (at + 8) * 8, 32));
        out.push(be("xing.bytes", (at + 12) * 8, 32));
    }
    out
}

/// Zero, the maximum, and double and half of the true value: the lies recorders and broken
/// tools write.
fn lies(original: u64, bits: u32) -> Vec<u64> {
    let max = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let mut out: Vec<u64> = Vec::new();
    for v in [0, max, original.saturating_mul(2).min(max), original / 2] {
        if v != original && !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// The whole corpus for a seed: truncations and lies of every fixture, then flips until
/// there are `files` (at least `MIN_FLIPS` flips). When `files` is smaller than that, an
/// evenly spread selection of it, so a short run still has every kind.
fn corpus(fixtures: &[Fixture], files: usize, seed: u64) -> Vec<Mutation> {
    let mut out = Vec::new();
    for (fixture, f) in fixtures.iter().enumerate() {
        for percent in (5..100).step_by(5) {
            out.push(Mutation {
                fixture,
                edit: Edit::Truncate(percent),
            });
        }
        for (field, fd) in f.fields.iter().enumerate() {
            for value in lies(fd.place.read(&f.bytes), fd.place.bits()) {
                out.push(Mutation {
                    fixture,
                    edit: Edit::Lie(field, value),
                });
            }
        }
    }
    let flips = files.saturating_sub(out.len()).max(MIN_FLIPS);
    let mut rng = Rng(seed);
    for i in 0..flips {
        // Round robin over fixtures, so each gets its share whatever the seed.
        let fixture = i % fixtures.len();
        let len = fixtures[fixture].bytes.len();
        let edits = (0..1 + rng.below(4))
            .map(|_| {
                let at = if rng.below(2) == 0 {
                    rng.below(len.min(HEADER_BYTES))
                } else {
                    rng.below(len)
                };
                (at, 1 + rng.below(255) as u8)
            })
            .collect();
        out.push(Mutation {
            fixture,
            edit: Edit::Flip(edits),
        });
    }
    if out.len() > files {
        let n = out.len();
        out = (0..files).map(|k| out[k * n / files].clone()).collect();
    }
    out
}

/// What one answer was.
enum Outcome {
    Stored { damaged: bool },
    Refused(u16),
    Failed(String),
}

/// The server's answer, judged against the goal.
async fn send(
    client: &reqwest::Client,
    (base, token): (&str, &str),
    call_id: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> Outcome {
    let meta = json!({
        "call_id": call_id, "agent": "bench-agent",
        "started_at": "2026-11-02T09:15:00+08:00", "direction": "inbound", "queue": "corpus",
    });
    let form = reqwest::multipart::Form::new()
        .text("metadata", meta.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_string()),
        );
    let answer = client
        .post(format!("{base}/api/recordings"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await;
    let resp = match answer {
        Ok(resp) => resp,
        Err(e) if e.is_timeout() => return Outcome::Failed(format!("no answer in time: {e}")),
        Err(e) => return Outcome::Failed(format!("connection error: {e}")),
    };
    let status = resp.status().as_u16();
    let body = match resp.text().await {
        Ok(body) => body,
        Err(e) => return Outcome::Failed(format!("{status}, body not read: {e}")),
    };
    let json: Option<Value> = serde_json::from_str(&body).ok();
    let short = || body.chars().take(300).collect::<String>();
    match status {
        201 => match json.as_ref().and_then(|v| v["damaged"].as_bool()) {
            Some(damaged) => Outcome::Stored { damaged },
            None => Outcome::Failed(format!("201 without a `damaged` flag: {}", short())),
        },
        413 | 415 | 422 => {
            let error = json.as_ref().map(|v| &v["error"]);
            let message = error.and_then(|e| e["message"].as_str());
            let has_code = error.is_some_and(|e| e["code"].is_string());
            match message {
                Some(m) if has_code && m.contains(PANIC_MESSAGE) => {
                    Outcome::Failed(format!("{status} from a caught decoder panic: {}", short()))
                }
                Some(_) if has_code => Outcome::Refused(status),
                _ => Outcome::Failed(format!("{status} without a JSON error: {}", short())),
            }
        }
        _ => Outcome::Failed(format!("unexpected {status}: {}", short())),
    }
}

/// Answers by kind, in the order of `COLUMNS`.
#[derive(Default)]
struct Counts([u64; 6]);

const COLUMNS: [&str; 6] = ["201", "201_damaged", "413", "415", "422", "failed"];

impl Counts {
    fn add(&mut self, outcome: &Outcome) {
        let column = match outcome {
            Outcome::Stored { damaged } => {
                self.0[1] += u64::from(*damaged);
                0
            }
            Outcome::Refused(status) => COLUMNS
                .iter()
                .position(|c| *c == status.to_string())
                .unwrap_or(5),
            Outcome::Failed(_) => 5,
        };
        self.0[column] += 1;
    }

    fn failed(&self) -> u64 {
        self.0[5]
    }

    fn json(&self) -> Value {
        Value::Object(
            COLUMNS
                .iter()
                .zip(self.0)
                .map(|(c, n)| (c.to_string(), json!(n)))
                .collect(),
        )
    }

    fn line(&self) -> String {
        let n = self.0;
        format!(
            "201 {:>5} (damaged {:>5})  413 {:>4}  415 {:>5}  422 {:>5}  failed {:>3}",
            n[0], n[1], n[2], n[3], n[4], n[5]
        )
    }
}

pub async fn run(files: usize, seed: u64, concurrency: usize) -> anyhow::Result<()> {
    let fixtures = load_fixtures(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/audio"))?;
    anyhow::ensure!(!fixtures.is_empty(), "no fixtures in fixtures/audio");
    let corpus = corpus(&fixtures, files, seed);
    let fixtures = Arc::new(fixtures);
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &corpus {
        *kinds.entry(m.kind()).or_default() += 1;
    }
    println!(
        "corpus: {} files from {} fixtures (seed {seed}): {kinds:?}",
        corpus.len(),
        fixtures.len()
    );

    let dir = tempfile::tempdir()?;
    let mut server = BenchServer::start(&dir.path().join("server"), None).await?;
    let pid = server.child.0.id();
    // The senders share the address and token; the child stays here, to be waited on.
    let target = Arc::new((server.base.clone(), server.token.clone()));

    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()?;
    let started = Instant::now();
    let mut answers = futures::stream::iter(corpus.iter().cloned().enumerate())
        .map(|(i, m)| {
            let client = client.clone();
            let target = target.clone();
            let fixtures = fixtures.clone();
            async move {
                let (bytes, name) = (m.bytes(&fixtures), &fixtures[m.fixture].name);
                let call_id = format!("CORPUS-{seed}-{i:06}");
                let t0 = Instant::now();
                let outcome = send(&client, (&target.0, &target.1), &call_id, name, bytes).await;
                (i, outcome, t0.elapsed().as_secs_f64())
            }
        })
        .buffer_unordered(concurrency.max(1));

    let mut total = Counts::default();
    let mut by_kind: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut by_fixture: BTreeMap<usize, Counts> = BTreeMap::new();
    let mut examples: Vec<String> = Vec::new();
    let mut truncations_whole: BTreeMap<String, u64> = BTreeMap::new();
    let mut slowest = (0.0f64, 0usize);
    let mut died = None;
    let mut done = 0usize;
    while let Some((i, outcome, secs)) = answers.next().await {
        let m = &corpus[i];
        total.add(&outcome);
        by_kind.entry(m.kind()).or_default().add(&outcome);
        by_fixture.entry(m.fixture).or_default().add(&outcome);
        if secs > slowest.0 {
            slowest = (secs, i);
        }
        // Reported, not failed: a cut that falls on a frame boundary of a format that does
        // not declare its length (headerless, MP3, Ogg) cannot be told from a short call.
        if let (Edit::Truncate(_), Outcome::Stored { damaged: false }) = (&m.edit, &outcome) {
            *truncations_whole
                .entry(fixtures[m.fixture].name.clone())
                .or_default() += 1;
        }
        if let Outcome::Failed(why) = &outcome {
            if examples.len() < EXAMPLES {
                examples.push(format!("{}: {why}", m.describe(&fixtures)));
            }
            if let Ok(Some(status)) = server.child.0.try_wait() {
                died = Some(format!("the server exited ({status}) after {done} files"));
                break;
            }
        }
        done += 1;
        if done.is_multiple_of(2000) {
            println!("  {done} files sent, {}", total.line());
        }
    }
    drop(answers);
    let wall_s = started.elapsed().as_secs_f64();
    // The kernel's high-water mark sees every peak, however short (a dead server reads 0,
    // and fails on its own).
    let peak_rss = peak_rss_mb(pid).unwrap_or(0.0);
    let alive = died.is_none()
        && client
            .get(format!("{}/api/health", server.base))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);

    for (kind, counts) in &by_kind {
        println!("{kind:<9} {}", counts.line());
    }
    for (fixture, counts) in &by_fixture {
        println!("  {:<32} {}", fixtures[*fixture].name, counts.line());
    }
    println!("all       {}", total.line());
    if !truncations_whole.is_empty() {
        println!("truncations stored as undamaged (not a failure): {truncations_whole:?}");
    }
    for e in &examples {
        println!("FAILED {e}");
    }
    if let Some(d) = &died {
        println!("FAILED {d}");
    }
    println!(
        "{done} files in {wall_s:.1} s ({:.0}/s); slowest answer {:.2} s ({}); server peak RSS {peak_rss:.1} MB; alive {alive}",
        done as f64 / wall_s,
        slowest.0,
        corpus
            .get(slowest.1)
            .map_or(String::new(), |m| m.describe(&fixtures)),
    );

    let mut missed = Vec::new();
    if total.failed() > 0 {
        missed.push(format!("{} unexpected answers", total.failed()));
    }
    if !alive {
        missed.push("the server is not alive".to_string());
    }
    if peak_rss >= GOAL_RSS_MB {
        missed.push(format!("peak RSS {peak_rss:.1} MB"));
    }
    println!(
        "{}",
        json!({
            "bench": "corpus",
            "seed": seed,
            "files": done,
            "fixtures": fixtures.len(),
            "concurrency": concurrency,
            "by_kind": by_kind.iter().map(|(k, c)| (k.to_string(), c.json())).collect::<serde_json::Map<_, _>>(),
            "answers": total.json(),
            "truncations_undamaged": truncations_whole.values().sum::<u64>(),
            "failure_examples": examples,
            "server_alive": alive,
            "server_peak_rss_mb": round3(peak_rss),
            "slowest_answer_s": round3(slowest.0),
            "wall_s": round3(wall_s),
            "goals": { "failed": 0, "server_peak_rss_mb": GOAL_RSS_MB },
        })
    );
    anyhow::ensure!(missed.is_empty(), "goal missed: {}", missed.join("; "));
    Ok(())
}

#[cfg(test)]
#[path = "corpus_tests.rs"]
mod tests;
