//! Probe a recording by its content and decode it completely: the stored frame count and
//! duration are what really decodes, not what the header claims.

use std::path::Path;

use super::decode::{self, Described};
use super::raw::RawFormat;

/// What ingest stores about a recording's audio.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AudioInfo {
    /// Container format, e.g. `wave`, `ogg`, `mp3`.
    pub container: String,
    /// Codec, e.g. `pcm_mulaw`, `adpcm_ima_wav`, `mp3`.
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u32,
    /// Exact number of decoded sample frames.
    pub frames: u64,
    pub duration_ms: u64,
    /// Some audio decoded but not all of it (truncated file, corrupt packets).
    pub damaged: bool,
    pub damage_reason: Option<String>,
}

#[derive(Clone, Copy, Debug)]
pub struct DecodeLimits {
    /// Longest decoded length accepted; a tiny file that decodes to days of audio is an
    /// attack or garbage, and would tie up a decode worker.
    pub max_seconds: u64,
}

/// The highest rate the frame cap allows for: 48 kHz is the top of what telephony and
/// softphone recorders write. The seconds limit alone scales with the declared rate, and a
/// header may declare any rate (655 kHz would allow 1.9 × 10¹⁰ frames in four hours), so the
/// frames decoded are capped absolutely as well; a real recording at a higher rate gets
/// proportionally less time.
pub const FRAME_CAP_RATE: u64 = 48_000;

impl DecodeLimits {
    /// Most frames a recording may decode to, whatever rate its header declares.
    pub fn max_frames(&self) -> u64 {
        self.max_seconds.saturating_mul(FRAME_CAP_RATE)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    /// Not audio, or nothing in it decodes. The message says what is wrong.
    #[error("{0}")]
    Invalid(String),
    /// Audio in a format or codec callgrade cannot decode (yet).
    #[error("{0}")]
    Unsupported(String),
}

pub fn inspect_file(path: &Path, limits: DecodeLimits) -> Result<AudioInfo, AudioError> {
    inspect_with(path, limits, |_, _| {})
}

/// Decodes the whole file through the same reader the player streams from, handing every
/// decoded block (interleaved, with the channel count) to `sink`: the stored frame count is
/// exactly the streamed length.
pub fn inspect_with(
    path: &Path,
    limits: DecodeLimits,
    sink: impl FnMut(&[i16], usize),
) -> Result<AudioInfo, AudioError> {
    inspect_as(path, None, limits, sink)
}

/// `inspect_with` for a file whose upload name may name a headerless format (see `raw`).
pub fn inspect_as(
    path: &Path,
    raw: Option<&'static RawFormat>,
    limits: DecodeLimits,
    mut sink: impl FnMut(&[i16], usize),
) -> Result<AudioInfo, AudioError> {
    let len = std::fs::metadata(path)
        .map_err(|e| AudioError::Invalid(format!("cannot read the uploaded file: {e}")))?
        .len();
    if len == 0 {
        return Err(AudioError::Invalid("the file is empty".into()));
    }
    let (mut stream, described) = decode::open_as(path, raw)?;
    let Described {
        container, codec, ..
    } = &described;

    let mut frames: u64 = 0;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        frames += n as u64;
        sink(&buf, stream.channels());
        let rate = u64::from(stream.sample_rate());
        if rate > 0 && frames > limits.max_seconds.saturating_mul(rate) {
            return Err(AudioError::Invalid(format!(
                "the recording decodes to more than the {} h limit",
                limits.max_seconds as f64 / 3600.0
            )));
        }
        if frames > limits.max_frames() {
            return Err(AudioError::Invalid(format!(
                "the recording decodes to more than {} sample frames (the {} h limit at \
                 {} Hz), at the {} Hz its header declares",
                limits.max_frames(),
                limits.max_seconds as f64 / 3600.0,
                FRAME_CAP_RATE,
                rate
            )));
        }
    }
    let sample_rate = stream.sample_rate();
    let channels = stream.channels() as u32;
    let damage = stream.damage().clone();

    if frames == 0 || sample_rate == 0 || channels == 0 {
        let why = damage
            .first_error
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        return Err(AudioError::Invalid(format!(
            "no audio could be decoded from the {container} file ({codec}){why}"
        )));
    }

    let mut reasons = Vec::new();
    let mut truncated = damage.ended_abruptly;
    if let Some(r) = &described.repair {
        // WAV codecs are constant-rate, so bytes scale to time.
        let promised_frames =
            (frames as u128 * r.promised_bytes as u128 / r.actual_bytes.max(1) as u128) as u64;
        let promised = if r.promised_bytes >= u64::from(u32::MAX) - 1 {
            "an unknown length (placeholder size)".to_string()
        } else {
            seconds(promised_frames, sample_rate)
        };
        reasons.push(format!(
            "the container declares {promised} but only {} decode; the file looks truncated",
            seconds(frames, sample_rate)
        ));
        truncated = false;
    } else if let Some(promised) = described.promised_frames {
        // Codec framing (whole packets, Opus pre-skip, encoder delay and padding) moves
        // the declared length by a few tens of milliseconds; a shortfall of more than half
        // a second is missing audio.
        let slack = u64::from(sample_rate) / 2;
        if promised > frames + slack {
            reasons.push(format!(
                "the container declares {} but only {} decode; the file looks truncated",
                seconds(promised, sample_rate),
                seconds(frames, sample_rate)
            ));
            truncated = false;
        }
    }
    if truncated {
        let why = damage
            .first_error
            .as_deref()
            .unwrap_or("unexpected end of file");
        reasons.push(format!(
            "the file ends abruptly after {} ({why})",
            seconds(frames, sample_rate)
        ));
    }
    if damage.bad_packets > 0 {
        let why = damage.first_error.as_deref().unwrap_or("decode error");
        reasons.push(format!(
            "{} packet(s) could not be decoded ({why})",
            damage.bad_packets
        ));
    }

    Ok(AudioInfo {
        container: container.clone(),
        codec: codec.clone(),
        sample_rate,
        channels,
        frames,
        duration_ms: frames * 1000 / u64::from(sample_rate),
        damaged: !reasons.is_empty(),
        damage_reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
    })
}

fn seconds(frames: u64, rate: u32) -> String {
    format!("{:.1} s", frames as f64 / rate.max(1) as f64)
}
