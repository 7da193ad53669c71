//! Probe a recording by its content and decode it completely: the stored frame count and
//! duration are what really decodes, not what the header claims.

use std::fs::File;
use std::path::Path;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};

use super::wav_repair;
use symphonia::core::meta::MetadataOptions;

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
    let file = File::open(path)
        .map_err(|e| AudioError::Invalid(format!("cannot read the uploaded file: {e}")))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return Err(AudioError::Invalid("the file is empty".into()));
    }
    let mut file = file;
    let repair = wav_repair::check(&mut file)
        .map_err(|e| AudioError::Invalid(format!("cannot read the uploaded file: {e}")))?;
    let source: Box<dyn MediaSource> = match &repair {
        Some(r) => Box::new(wav_repair::PatchedSource::new(file, r)),
        None => Box::new(file),
    };
    let mss = MediaSourceStream::new(source, MediaSourceStreamOptions::default());

    // No hint from the name or the Content-Type: the content alone decides.
    let mut format = symphonia::default::get_probe()
        .probe(
            &Hint::new(),
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| probe_error(&e))?;
    let container = format.format_info().short_name.to_string();

    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| AudioError::Invalid(format!("the {container} file has no audio track")))?;
    let track_id = track.id;
    let promised_frames = track.num_frames;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| AudioError::Invalid(format!("the {container} file has no audio track")))?
        .clone();
    if params.sample_rate == Some(0) {
        return Err(AudioError::Invalid(
            "the header declares a sample rate of 0 Hz".into(),
        ));
    }
    if params.channels.as_ref().is_some_and(|c| c.count() == 0) {
        return Err(AudioError::Invalid("the header declares 0 channels".into()));
    }

    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default().gapless(true))
        .map_err(|e| match e {
            SymError::Unsupported(what) => AudioError::Unsupported(format!(
                "the {container} file uses a codec callgrade cannot decode yet ({what})"
            )),
            other => AudioError::Invalid(format!("the codec parameters are invalid: {other}")),
        })?;
    let codec = decoder.codec_info().short_name.to_string();

    let mut frames: u64 = 0;
    let mut sample_rate = params.sample_rate.unwrap_or(0);
    let mut channels = params.channels.as_ref().map_or(0, |c| c.count() as u32);
    let mut bad_packets: u64 = 0;
    let mut first_error: Option<String> = None;
    let mut truncated = false;
    let max_packet = params.max_frames_per_packet.unwrap_or(0);

    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                truncated = true;
                break;
            }
            Err(SymError::ResetRequired) => break,
            Err(e) => {
                first_error.get_or_insert_with(|| e.to_string());
                truncated = true;
                break;
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => {
                if buf.frames() > 0 {
                    let spec = buf.spec();
                    sample_rate = spec.rate();
                    channels = spec.channels().count() as u32;
                }
                frames += buf.frames() as u64;
            }
            Err(SymError::DecodeError(msg)) => {
                bad_packets += 1;
                first_error.get_or_insert_with(|| msg.to_string());
            }
            Err(SymError::IoError(e)) => {
                bad_packets += 1;
                first_error.get_or_insert_with(|| e.to_string());
            }
            Err(SymError::Unsupported(what)) => {
                return Err(AudioError::Unsupported(format!(
                    "the {codec} stream uses a feature callgrade cannot decode yet ({what})"
                )));
            }
            Err(e) => {
                first_error.get_or_insert_with(|| e.to_string());
                truncated = true;
                break;
            }
        }
        if sample_rate > 0 && frames > limits.max_seconds.saturating_mul(sample_rate as u64) {
            return Err(AudioError::Invalid(format!(
                "the recording decodes to more than the {} h limit",
                limits.max_seconds as f64 / 3600.0
            )));
        }
    }

    if frames == 0 || sample_rate == 0 || channels == 0 {
        let why = first_error.map(|e| format!(": {e}")).unwrap_or_default();
        return Err(AudioError::Invalid(format!(
            "no audio could be decoded from the {container} file ({codec}){why}"
        )));
    }

    let mut reasons = Vec::new();
    if let Some(r) = &repair {
        // WAV codecs are constant-rate, so bytes scale to time.
        let promised_frames =
            (frames as u128 * r.promised_bytes as u128 / r.actual_bytes.max(1) as u128) as u64;
        let promised = if r.promised_bytes >= u64::from(u32::MAX) - 1 {
            "an unknown length (placeholder size)".to_string()
        } else {
            seconds(promised_frames, sample_rate)
        };
        reasons.push(format!(
            "the header promises {promised} but only {} decode; the file looks truncated",
            seconds(frames, sample_rate)
        ));
        truncated = false;
    }
    if let (None, Some(promised)) = (&repair, promised_frames) {
        // One packet of slack: some encoders round the declared length to whole packets.
        let slack = max_packet.max(1);
        if promised > frames + slack {
            reasons.push(format!(
                "the header promises {} but only {} decode; the file looks truncated",
                seconds(promised, sample_rate),
                seconds(frames, sample_rate)
            ));
            truncated = false;
        }
    }
    if truncated {
        let why = first_error.as_deref().unwrap_or("unexpected end of file");
        reasons.push(format!(
            "the file ends abruptly after {} ({why})",
            seconds(frames, sample_rate)
        ));
    }
    if bad_packets > 0 {
        let why = first_error.as_deref().unwrap_or("decode error");
        reasons.push(format!(
            "{bad_packets} packet(s) could not be decoded ({why})"
        ));
    }

    Ok(AudioInfo {
        container,
        codec,
        sample_rate,
        channels,
        frames,
        duration_ms: frames * 1000 / sample_rate as u64,
        damaged: !reasons.is_empty(),
        damage_reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
    })
}

fn seconds(frames: u64, rate: u32) -> String {
    format!("{:.1} s", frames as f64 / rate.max(1) as f64)
}

fn probe_error(e: &SymError) -> AudioError {
    match e {
        SymError::Unsupported(what) if what.contains("no suitable format reader") => {
            AudioError::Invalid(
                "not a recognised audio file (the content is not WAV, MP3, Ogg, FLAC, MP4/M4A, \
                 AIFF, CAF or Matroska)"
                    .into(),
            )
        }
        SymError::Unsupported(what) => AudioError::Unsupported(format!(
            "the file is audio in a form callgrade cannot decode yet ({what})"
        )),
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            AudioError::Invalid("the file ends inside its header".into())
        }
        other => AudioError::Invalid(format!("the audio header is invalid: {other}")),
    }
}
