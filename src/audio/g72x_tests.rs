//! Reference tests of the G.722 and G.726 decoders: sample for sample what ffmpeg decodes
//! from the fixtures, from files of every G.726 rate made here, and from raw files.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::decode::{self, PcmStream};
use super::wav::{self, WavFormat};
use super::wav_g72x::{self, G726_RAW_BITS, G726_RAW_RATE};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/audio")
        .join(name)
}

fn ffmpeg_present() -> bool {
    let found = Command::new("ffmpeg").arg("-version").output().is_ok();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true needs ffmpeg"
        );
        eprintln!("ffmpeg is not installed: skipping the reference comparison");
    }
    found
}

/// ffmpeg's decode to 16-bit samples; `input_format` names a raw demuxer and its options.
fn ffmpeg_decode(path: &Path, input_format: &[&str]) -> Vec<i16> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error"])
        .args(input_format)
        .arg("-i")
        .arg(path)
        .args(["-f", "s16le", "-acodec", "pcm_s16le", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

fn ffmpeg_encode(input: &Path, args: &[&str], out: &Path) {
    let ok = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-i"])
        .arg(input)
        .args(args)
        .args([
            "-map_metadata",
            "-1",
            "-fflags",
            "+bitexact",
            "-flags:a",
            "+bitexact",
        ])
        .arg(out)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ffmpeg could not make {}", out.display());
}

fn decode_all(stream: &mut dyn PcmStream) -> Vec<i16> {
    let mut all = Vec::new();
    while stream.read(&mut all).unwrap() > 0 {}
    all
}

/// Equal sample for sample. ffmpeg also decodes the codewords of a last, incomplete block of
/// 3- and 5-bit G.726 (fewer than 8 samples); the WAV reader reads whole blocks only.
fn assert_same(name: &str, ours: &[i16], reference: &[i16]) {
    assert!(!ours.is_empty(), "{name}: nothing decoded");
    assert!(
        ours.len() <= reference.len() && reference.len() - ours.len() < 8,
        "{name}: {} samples, ffmpeg decodes {}",
        ours.len(),
        reference.len()
    );
    if let Some(i) = ours.iter().zip(reference).position(|(a, b)| a != b) {
        let differ = ours.iter().zip(reference).filter(|(a, b)| a != b).count();
        panic!(
            "{name}: {differ} samples differ from ffmpeg, the first at {i} ({} vs {})",
            ours[i], reference[i]
        );
    }
}

/// Our decode of a WAV file: codec name, rate and samples.
fn ours(path: &Path) -> (String, u32, Vec<i16>) {
    let (mut stream, described) = decode::open(path).unwrap();
    assert_eq!(described.container, "wave");
    let all = decode_all(stream.as_mut());
    assert_eq!(described.promised_frames, Some(all.len() as u64));
    (described.codec, stream.sample_rate(), all)
}

#[test]
fn the_fixtures_decode_exactly_as_ffmpeg_does() {
    for (name, codec, rate) in [
        ("g722_16k_mono.wav", "adpcm_g722", 16000),
        ("g726_16k_mono.wav", "adpcm_g726", 8000),
        ("g726_24k_mono.wav", "adpcm_g726", 8000),
        ("g726_32k_mono.wav", "adpcm_g726", 8000),
        ("g726_40k_mono.wav", "adpcm_g726", 8000),
        ("g726_32k_tag0064_mono.wav", "adpcm_g726", 8000),
    ] {
        let path = fixture(name);
        let (got_codec, got_rate, samples) = ours(&path);
        assert_eq!((got_codec.as_str(), got_rate), (codec, rate), "{name}");
        if ffmpeg_present() {
            assert_same(name, &samples, &ffmpeg_decode(&path, &[]));
        }
    }
}

/// A loud, clipping and quickly changing signal (the limiters and the transition detector
/// run), at `rate`, as a 16-bit WAV file.
fn harsh_signal(dir: &Path, rate: u32) -> PathBuf {
    let n = rate as usize * 3;
    let mut x: u32 = 12345;
    let samples: Vec<i16> = (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let t = i as f64 / f64::from(rate);
            match i * 6 / n {
                // A steady tone (the tone detector), a square wave at full scale, noise,
                // silence, a sweep, and a tone with bursts (transitions).
                0 => (12000.0 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as i16,
                1 => {
                    if (i / 20) % 2 == 0 {
                        32767
                    } else {
                        -32768
                    }
                }
                2 => (x >> 16) as i16,
                3 => 0,
                4 => {
                    (20000.0 * (2.0 * std::f64::consts::PI * (200.0 + 3000.0 * t) * t).sin()) as i16
                }
                _ => {
                    if i % 400 < 10 {
                        (x >> 16) as i16
                    } else {
                        (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
                    }
                }
            }
        })
        .collect();
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut wav = b"RIFF".to_vec();
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    let path = dir.join(format!("harsh_{rate}.wav"));
    std::fs::write(&path, wav).unwrap();
    path
}

#[test]
fn harsh_signals_at_every_rate_decode_exactly_as_ffmpeg_does() {
    if !ffmpeg_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wide = harsh_signal(dir.path(), 16000);
    let narrow = harsh_signal(dir.path(), 8000);
    let g722 = dir.path().join("harsh_g722.wav");
    ffmpeg_encode(&wide, &["-c:a", "g722"], &g722);
    let (_, _, samples) = ours(&g722);
    assert_same("harsh G.722", &samples, &ffmpeg_decode(&g722, &[]));
    for kbit in ["16k", "24k", "32k", "40k"] {
        let path = dir.path().join(format!("harsh_g726_{kbit}.wav"));
        ffmpeg_encode(&narrow, &["-c:a", "g726", "-b:a", kbit], &path);
        let (_, _, samples) = ours(&path);
        assert_same(
            &format!("harsh G.726 {kbit}"),
            &samples,
            &ffmpeg_decode(&path, &[]),
        );
    }
}

fn raw(path: &Path, format: WavFormat) -> Vec<i16> {
    let (mut stream, described) = wav::open_headerless(path, format).unwrap();
    assert_eq!(described.container, "raw");
    decode_all(stream.as_mut())
}

#[test]
fn raw_files_decode_exactly_as_ffmpeg_does() {
    if !ffmpeg_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // G.722 without a header, as `.g722` files hold it.
    let g722 = dir.path().join("call.g722");
    ffmpeg_encode(
        &fixture("pcm_s16_16k_mono.wav"),
        &["-c:a", "g722", "-f", "g722"],
        &g722,
    );
    assert_same(
        "raw G.722",
        &raw(&g722, wav_g72x::raw_g722()),
        &ffmpeg_decode(&g722, &["-f", "g722"]),
    );
    // G.726 least significant bits first, as Asterisk writes `.g726` (ffmpeg's g726le).
    let g726 = dir.path().join("call.g726");
    ffmpeg_encode(
        &fixture("pcm_s16_8k_mono.wav"),
        &["-c:a", "g726le", "-b:a", "32k", "-f", "g726le"],
        &g726,
    );
    let format = wav_g72x::raw_g726(G726_RAW_RATE, G726_RAW_BITS).unwrap();
    let ours = raw(&g726, format);
    let reference = ffmpeg_decode(&g726, &["-f", "g726le", "-code_size", "4"]);
    assert_same("raw G.726", &ours, &reference);
    // The other packing of the same audio is not the same sound.
    let msb = raw(
        &g726,
        wav::parse_fmt(&[
            0x45, 0, 1, 0, 0x40, 0x1f, 0, 0, 0xa0, 0x0f, 0, 0, 1, 0, 4, 0,
        ])
        .unwrap(),
    );
    assert_ne!(msb, ours);
}

#[test]
fn g72x_headers_are_checked() {
    let fmt = |tag: u16, channels: u16, align: u16, bits: u16| {
        let mut b = tag.to_le_bytes().to_vec();
        b.extend_from_slice(&channels.to_le_bytes());
        b.extend_from_slice(&8000u32.to_le_bytes());
        b.extend_from_slice(&4000u32.to_le_bytes());
        b.extend_from_slice(&align.to_le_bytes());
        b.extend_from_slice(&bits.to_le_bytes());
        wav::parse_fmt(&b)
    };
    let message = |r: Result<WavFormat, super::probe::AudioError>| format!("{:?}", r.unwrap_err());
    assert!(message(fmt(0x028F, 2, 2, 4)).contains("mono G.722"));
    assert!(message(fmt(0x0045, 2, 1, 4)).contains("mono G.726"));
    assert!(message(fmt(0x0045, 1, 1, 6)).contains("2 to 5 bits"));
    assert!(message(fmt(0x0064, 1, 1, 0)).contains("2 to 5 bits"));
    assert!(message(fmt(0x0045, 1, 4, 3)).contains("whole 3-bit codewords"));
    // G.722 always decodes at 16 kHz; G.726 blocks hold whole codeword groups.
    let g722 = fmt(0x028F, 1, 1, 4).unwrap();
    assert_eq!((g722.sample_rate, g722.frames_per_block), (16000, 2));
    let g726 = fmt(0x0045, 1, 3, 3).unwrap();
    assert_eq!((g726.block_bytes, g726.frames_per_block), (3, 8));
    let g726 = fmt(0x0045, 1, 1, 5).unwrap();
    assert_eq!((g726.block_bytes, g726.frames_per_block), (5, 8));
    assert!(wav_g72x::raw_g726(0, 4).is_err());
}

/// Our MS ADPCM decoder (`ms_adpcm`) against ffmpeg's, sample for sample: on the encoder's
/// file, and on the block the `wav` fuzz target found, whose step grows until it must be
/// capped.
#[test]
fn ms_adpcm_decodes_as_ffmpeg_does_hostile_blocks_included() {
    if !ffmpeg_present() {
        return;
    }
    let hostile = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/fuzz/wav-ms-adpcm-delta-overflow.wav");
    let path = fixture("ms_adpcm_8k_mono.wav");
    let (codec, _, samples) = ours(&path);
    assert_eq!(codec, "adpcm_ms");
    assert_same("ms_adpcm_8k_mono.wav", &samples, &ffmpeg_decode(&path, &[]));
    // Its first 40 blocks: later comes a packet holding a block with a predictor index past
    // the table, which both decoders refuse; ffmpeg then drops that block alone, while the
    // WAV reader keeps the timeline with the packet's length of silence and marks the
    // recording damaged.
    let n = 40 * 500;
    let (_, _, samples) = ours(&hostile);
    let reference = ffmpeg_decode(&hostile, &[]);
    assert_same("the hostile file", &samples[..n], &reference[..n]);
}
