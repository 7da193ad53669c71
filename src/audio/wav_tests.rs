//! Tests of `audio::wav` (a child module of it, kept in its own file for length).

use std::io::Cursor;
use std::path::PathBuf;
use std::time::Instant;

use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;

use super::*;
use crate::audio::probe::{DecodeLimits, inspect_file};
use crate::audio::wav_repair;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/audio")
        .join(name)
}

/// (file, codec, sample rate, channels, frames) of every WAV fixture in expected.csv.
fn wav_fixtures() -> Vec<(String, String, u32, usize, u64)> {
    let csv = std::fs::read_to_string(fixture("expected.csv")).unwrap();
    csv.lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[1].starts_with("wav:"))
        .map(|f| {
            (
                f[0].to_string(),
                f[2].to_string(),
                f[3].parse().unwrap(),
                f[4].parse().unwrap(),
                f[5].parse().unwrap(),
            )
        })
        .collect()
}

/// A WAV file: `fmt` body, extra chunks before `data`, the data size to declare, and the
/// data bytes present.
fn wav(fmt: &[u8], extra_chunks: &[(&[u8; 4], &[u8])], declared: u32, data: &[u8]) -> Vec<u8> {
    let mut body = b"WAVE".to_vec();
    let mut chunk = |id: &[u8; 4], bytes: &[u8]| {
        body.extend_from_slice(id);
        body.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        body.extend_from_slice(bytes);
        if bytes.len() % 2 == 1 {
            body.push(0);
        }
    };
    chunk(b"fmt ", fmt);
    for (id, bytes) in extra_chunks {
        chunk(id, bytes);
    }
    body.extend_from_slice(b"data");
    body.extend_from_slice(&declared.to_le_bytes());
    body.extend_from_slice(data);
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(body.len() as u32).to_le_bytes());
    file.extend_from_slice(&body);
    file
}

/// A `fmt ` body: tag, channels, rate, block align, bits, then the extension (if any).
fn fmt(tag: u16, channels: u16, rate: u32, align: u16, bits: u16, ext: Option<&[u8]>) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&tag.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
    b.extend_from_slice(&align.to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    if let Some(ext) = ext {
        b.extend_from_slice(&(ext.len() as u16).to_le_bytes());
        b.extend_from_slice(ext);
    }
    b
}

fn extensible(valid_bits: u16, sub: u16) -> Vec<u8> {
    let mut e = valid_bits.to_le_bytes().to_vec();
    e.extend_from_slice(&3u32.to_le_bytes());
    e.extend_from_slice(&sub.to_le_bytes());
    e.extend_from_slice(&KSDATAFORMAT_SUFFIX);
    e
}

fn layout_of(bytes: &[u8]) -> Result<WavLayout, AudioError> {
    parse_layout(&mut Cursor::new(bytes), bytes.len() as u64)
}

fn message(e: AudioError) -> String {
    e.to_string()
}

#[test]
fn fmt_chunks_choose_the_decoder_symphonia_would() {
    let cases: [(Vec<u8>, AudioCodecId, u64); 11] = [
        (fmt(1, 1, 8000, 1, 8, None), CODEC_ID_PCM_U8, 1),
        (fmt(1, 2, 8000, 4, 16, None), CODEC_ID_PCM_S16LE, 4),
        (fmt(1, 1, 8000, 3, 24, Some(&[])), CODEC_ID_PCM_S24LE, 3),
        (fmt(1, 1, 8000, 4, 32, None), CODEC_ID_PCM_S32LE, 4),
        (fmt(3, 1, 8000, 4, 32, None), CODEC_ID_PCM_F32LE, 4),
        (fmt(3, 2, 8000, 16, 64, None), CODEC_ID_PCM_F64LE, 16),
        (fmt(6, 1, 8000, 1, 8, Some(&[])), CODEC_ID_PCM_ALAW, 1),
        (fmt(7, 2, 8000, 2, 8, None), CODEC_ID_PCM_MULAW, 2),
        (
            fmt(0xFFFE, 2, 8000, 4, 16, Some(&extensible(16, 1))),
            CODEC_ID_PCM_S16LE,
            4,
        ),
        (
            fmt(0xFFFE, 1, 8000, 4, 32, Some(&extensible(32, 3))),
            CODEC_ID_PCM_F32LE,
            4,
        ),
        (
            fmt(0xFFFE, 1, 8000, 1, 8, Some(&extensible(8, 7))),
            CODEC_ID_PCM_MULAW,
            1,
        ),
    ];
    for (body, codec, block_bytes) in cases {
        let f = parse_fmt(&body).unwrap();
        assert_eq!(
            (f.codec, f.block_bytes, f.frames_per_block),
            (codec, block_bytes, 1)
        );
    }
    // ADPCM: frames per block from the block align, as symphonia computes them.
    let ima = parse_fmt(&fmt(0x11, 1, 8000, 256, 4, Some(&505u16.to_le_bytes()))).unwrap();
    assert_eq!(
        (ima.codec, ima.frames_per_block),
        (CODEC_ID_ADPCM_IMA_WAV, 505)
    );
    let ima2 = parse_fmt(&fmt(0x11, 2, 8000, 1024, 4, Some(&1017u16.to_le_bytes()))).unwrap();
    assert_eq!(ima2.frames_per_block, 1017);
    let ms = parse_fmt(&fmt(2, 1, 8000, 256, 4, None)).unwrap();
    assert_eq!((ms.codec, ms.frames_per_block), (CODEC_ID_ADPCM_MS, 500));
    let ms2 = parse_fmt(&fmt(2, 2, 8000, 512, 4, None)).unwrap();
    assert_eq!(ms2.frames_per_block, 500);
    let gsm = parse_fmt(&fmt(0x31, 1, 8000, 65, 0, Some(&320u16.to_le_bytes()))).unwrap();
    assert_eq!(
        (gsm.codec, gsm.block_bytes, gsm.frames_per_block),
        (gsm::CODEC_ID_GSM_MS, 65, 320)
    );
}

#[test]
fn impossible_headers_are_invalid_and_unknown_codecs_unsupported() {
    let invalid_says = |body: Vec<u8>, says: &str| match parse_fmt(&body) {
        Err(AudioError::Invalid(m)) => assert!(m.contains(says), "{m:?} should say {says:?}"),
        other => panic!("expected Invalid saying {says:?}, got {other:?}"),
    };
    invalid_says(fmt(7, 0, 8000, 1, 8, None), "0 channels");
    invalid_says(fmt(7, 1, 0, 1, 8, None), "sample rate of 0 Hz");
    invalid_says(fmt(0x11, 1, 8000, 0, 4, None), "block align of 0");
    invalid_says(
        fmt(7, 1, 8000, 1, 8, None)[..14].to_vec(),
        "shorter than the 16",
    );
    invalid_says(fmt(0x11, 1, 8000, 4, 4, None), "no room");
    invalid_says(fmt(0x11, 2, 8000, 1002, 4, None), "8-sample groups");
    invalid_says(fmt(0xFFFE, 1, 8000, 2, 16, Some(&[0; 4])), "too short");

    let unsupported_says = |body: Vec<u8>, says: &str| match parse_fmt(&body) {
        Err(AudioError::Unsupported(m)) => {
            assert!(m.contains(says), "{m:?} should say {says:?}")
        }
        other => panic!("expected Unsupported saying {says:?}, got {other:?}"),
    };
    unsupported_says(fmt(0x55, 1, 8000, 1, 0, None), "format tag 0x0055 (MP3)");
    unsupported_says(fmt(0x1234, 1, 8000, 1, 0, None), "format tag 0x1234");
    unsupported_says(
        fmt(0xFFFE, 1, 8000, 2, 16, Some(&extensible(16, 2))),
        "0x0002",
    );
    let mut odd_guid = extensible(16, 1);
    odd_guid[10] = 0x77;
    unsupported_says(fmt(0xFFFE, 1, 8000, 2, 16, Some(&odd_guid)), "sub-format");
    unsupported_says(fmt(1, 1, 8000, 2, 12, None), "12-bit PCM");
    unsupported_says(fmt(0x31, 2, 8000, 65, 0, None), "2 channels");
    unsupported_says(fmt(0x31, 1, 8000, 33, 0, None), "33-byte blocks");
    unsupported_says(fmt(0x11, 3, 8000, 1024, 4, None), "3 channels");
    unsupported_says(fmt(1, 300, 8000, 600, 16, None), "300 channels");
    let mut custom = vec![0xf4, 0x01, 7, 0];
    for (a, b) in MS_ADPCM_COEFFS {
        custom.extend_from_slice(&(a + 1).to_le_bytes());
        custom.extend_from_slice(&b.to_le_bytes());
    }
    unsupported_says(fmt(2, 1, 8000, 256, 4, Some(&custom)), "coefficient");
}

#[test]
fn other_chunks_are_skipped_and_odd_sizes_padded() {
    let body = wav(
        &fmt(7, 1, 8000, 1, 8, Some(&[])),
        &[
            (b"LIST", b"INFOISFT\x05\x00\x00\x00sox!\x00"),
            (b"fact", &1000u32.to_le_bytes()),
            (b"junk", &[1, 2, 3]),
        ],
        5,
        &[1, 2, 3, 4, 5],
    );
    let layout = layout_of(&body).unwrap();
    assert_eq!(layout.data_start as usize, body.len() - 5);
    assert_eq!(
        (layout.blocks, layout.frames(), &layout.repair),
        (5, 5, &None)
    );

    // Trailing chunks after the data do not count as audio.
    let mut with_tail = body.clone();
    with_tail.extend_from_slice(b"\0LIST\x04\x00\x00\x00INFO");
    assert_eq!(layout_of(&with_tail).unwrap().blocks, 5);
}

#[test]
fn missing_or_misplaced_chunks_are_invalid() {
    let f = fmt(7, 1, 8000, 1, 8, None);
    let no_data = {
        let mut b = wav(&f, &[], 0, &[]);
        b.truncate(b.len() - 8);
        b
    };
    assert!(message(layout_of(&no_data).unwrap_err()).contains("no data chunk"));
    let mut data_first = b"RIFF\x10\x00\x00\x00WAVEdata\x02\x00\x00\x00ab".to_vec();
    data_first.extend_from_slice(b"fmt ");
    assert!(message(layout_of(&data_first).unwrap_err()).contains("before any fmt"));
    let whole = wav(&f, &[], 4, &[0; 4]);
    assert!(message(layout_of(&whole[..30]).unwrap_err()).contains("ends inside its header"));
}

#[test]
fn an_overrunning_data_chunk_is_cut_to_whole_blocks_and_reported() {
    let ima = fmt(0x11, 1, 8000, 256, 4, Some(&505u16.to_le_bytes()));
    for declared in [100_000u32, u32::MAX] {
        // Two whole blocks and a partial one.
        let bytes = wav(&ima, &[(b"fact", &[0; 4])], declared, &[0; 600]);
        let layout = layout_of(&bytes).unwrap();
        assert_eq!(layout.blocks, 2);
        let repair = layout.repair.unwrap();
        assert_eq!(
            (repair.promised_bytes, repair.actual_bytes),
            (u64::from(declared), 512)
        );
        // The same repair `wav_repair` plans.
        assert_eq!(Some(repair), wav_repair::plan(&bytes, bytes.len() as u64));
    }
    // A file that just ends mid-block without lying is simply cut to whole blocks.
    let bytes = wav(&ima, &[], 600, &[0; 600]);
    let layout = layout_of(&bytes).unwrap();
    assert_eq!((layout.blocks, layout.repair), (2, None));
}

/// Decodes a file completely with symphonia's own reader (what `decode::open` did for
/// WAV before this reader).
fn symphonia_decode(path: &Path) -> (Vec<i16>, usize) {
    let file = File::open(path).unwrap();
    let mss = MediaSourceStream::new(Box::new(file), MediaSourceStreamOptions::default());
    let mut format = symphonia::default::get_probe()
        .probe(
            &Hint::new(),
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .unwrap();
    let track = format.default_track(TrackType::Audio).unwrap();
    let params = track
        .codec_params
        .as_ref()
        .unwrap()
        .audio()
        .unwrap()
        .clone();
    let mut decoder = decode::codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .unwrap();
    let (mut all, mut scratch, mut channels) = (Vec::new(), Vec::new(), 0);
    while let Some(packet) = format.next_packet().unwrap() {
        let decoded = decoder.decode(&packet).unwrap();
        channels = decoded.spec().channels().count();
        decoded.copy_to_vec_interleaved(&mut scratch);
        all.extend_from_slice(&scratch);
    }
    (all, channels)
}

fn decode_all(stream: &mut dyn PcmStream) -> Vec<i16> {
    let mut all = Vec::new();
    while stream.read(&mut all).unwrap() > 0 {}
    all
}

/// `frames` frames from the stream's current position (fewer at the end).
fn read_frames(stream: &mut dyn PcmStream, frames: usize) -> Vec<i16> {
    let want = frames * stream.channels();
    let mut out = Vec::new();
    while out.len() < want && stream.read(&mut out).unwrap() > 0 {}
    out.truncate(want);
    out
}

#[test]
fn every_wav_fixture_reads_as_before() {
    for (name, codec, rate, channels, frames) in wav_fixtures() {
        let path = fixture(&name);
        let (mut stream, described) = decode::open(&path).unwrap();
        assert_eq!(described.container, "wave", "{name}");
        assert_eq!(described.codec, codec, "{name}");
        assert_eq!(described.promised_frames, Some(frames), "{name}");
        assert_eq!(described.repair, None, "{name}");
        assert_eq!(
            (stream.sample_rate(), stream.channels()),
            (rate, channels),
            "{name}"
        );
        let all = decode_all(stream.as_mut());
        assert_eq!(all.len() as u64, frames * channels as u64, "{name}: frames");
        let damage = stream.damage();
        assert_eq!(
            (damage.bad_packets, damage.ended_abruptly),
            (0, false),
            "{name}"
        );
        // symphonia has no GSM, G.722 or G.726 (g72x_tests compares those with ffmpeg).
        if !["gsm_ms", "adpcm_g722", "adpcm_g726"].contains(&codec.as_str()) {
            // Sample for sample what symphonia's own WAV reader gives.
            let (reference, ch) = symphonia_decode(&path);
            assert_eq!(ch, channels, "{name}");
            assert!(
                all == reference,
                "{name}: differs from symphonia's WAV reader"
            );
        }
    }
}

/// xorshift: deterministic "random" offsets.
fn offsets(seed: u64, n: usize, below: u64) -> Vec<u64> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % below
        })
        .collect()
}

/// After any seek, the next `len` frames are exactly the continuous decode's.
fn check_seeks(name: &str, path: &Path, all: &[i16], targets: &[u64], len: usize) {
    let (mut stream, _) = decode::open(path).unwrap();
    let ch = stream.channels();
    let total = (all.len() / ch) as u64;
    // Start somewhere, so the first seek is a jump too.
    read_frames(stream.as_mut(), 777);
    for (i, &target) in targets.iter().enumerate() {
        if i % 10 == 9 {
            // Now and then from a fresh stream (GSM: from saved states or from scratch).
            stream = decode::open(path).unwrap().0;
        }
        stream.seek(target).unwrap();
        let got = read_frames(stream.as_mut(), len);
        let from = (target.min(total) as usize) * ch;
        let want = &all[from..(from + len * ch).min(all.len())];
        assert_eq!(got.len(), want.len(), "{name} at frame {target}: length");
        if let Some(k) = got.iter().zip(want).position(|(a, b)| a != b) {
            panic!(
                "{name}: after a seek to frame {target}, sample {k} differs ({} vs {})",
                got[k], want[k]
            );
        }
    }
}

#[test]
fn seeks_land_exactly_in_every_wav_fixture() {
    for (seed, (name, _, _, _, frames)) in wav_fixtures().into_iter().enumerate() {
        let path = fixture(&name);
        let (mut stream, described) = decode::open(&path).unwrap();
        let all = decode_all(stream.as_mut());
        let fpb = described.max_frames_per_packet;
        let mut targets = offsets(seed as u64 + 7, 50, frames);
        // Block and packet edges, the last frames, the end and past it.
        targets.extend([0, 1, 319, 320, 504, 505, fpb - 1, fpb, fpb + 1]);
        targets.extend([frames - 2000, frames - 1, frames, frames + 10, 3]);
        check_seeks(&name, &path, &all, &targets, 2000);
    }
}

/// Writes a `minutes`-long copy of a fixture by repeating its data blocks.
fn long_copy(name: &str, minutes: u64, dir: &Path) -> PathBuf {
    let bytes = std::fs::read(fixture(name)).unwrap();
    let layout = layout_of(&bytes).unwrap();
    let f = &layout.format;
    let start = layout.data_start as usize;
    let blocks = &bytes[start..start + (layout.blocks * f.block_bytes) as usize];
    let want = minutes * 60 * u64::from(f.sample_rate) / f.frames_per_block + 1;
    let mut data = Vec::with_capacity((want * f.block_bytes) as usize);
    while (data.len() as u64) < want * f.block_bytes {
        data.extend_from_slice(blocks);
    }
    data.truncate((want * f.block_bytes) as usize);
    let mut out = bytes[..start].to_vec();
    let riff = (out.len() + data.len() - 8) as u32;
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    let at = out.len() - 4;
    out[at..].copy_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    let path = dir.join(format!("long_{name}"));
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn seeking_near_the_end_of_a_long_call_costs_one_block() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "ima_adpcm_8k_mono.wav",
        "stereo_ima_adpcm_8k.wav",
        "ms_adpcm_8k_mono.wav",
        "gsm_8k_mono.wav",
        "g722_16k_mono.wav",
        "g726_24k_mono.wav",
    ] {
        let path = long_copy(name, 12, dir.path());
        let (mut stream, described) = decode::open(&path).unwrap();
        let frames = described.promised_frames.unwrap();
        let target = frames - frames / 13;
        let started = Instant::now();
        let (mut fresh, _) = decode::open(&path).unwrap();
        fresh.seek(target).unwrap();
        let got = read_frames(fresh.as_mut(), 2000);
        let first = started.elapsed();
        drop(fresh);
        // A second stream of the same file (the player's next range request).
        let started = Instant::now();
        let (mut again, _) = decode::open(&path).unwrap();
        again.seek(target - 12_345).unwrap();
        read_frames(again.as_mut(), 2000);
        let second = started.elapsed();
        println!(
            "{name}, 12 min ({frames} frames): open + seek to frame {target} + read 2000 \
             frames: {:.3} ms; a second stream of the file: {:.3} ms",
            first.as_secs_f64() * 1e3,
            second.as_secs_f64() * 1e3
        );
        // Exactly the continuous decode.
        let all = decode_all(stream.as_mut());
        let ch = stream.channels();
        assert_eq!(all.len() as u64, frames * ch as u64);
        let from = target as usize * ch;
        assert!(got == all[from..from + 2000 * ch], "{name}: seek not exact");
        check_seeks(name, &path, &all, &offsets(99, 12, frames), 500);
    }
}

#[test]
fn damaged_wav_files_keep_their_real_length_and_say_what_was_promised() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "ima_adpcm_8k_mono.wav",
        "gsm_8k_mono.wav",
        "stereo_mulaw_8k.wav",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let layout = layout_of(&bytes).unwrap();
        let f = layout.format.clone();
        // Cut in the middle of block 40.
        let cut = layout.data_start + 40 * f.block_bytes + f.block_bytes / 2;
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes[..cut as usize]).unwrap();
        let info = inspect_file(&path, DecodeLimits { max_seconds: 3600 }).unwrap();
        assert_eq!(info.frames, 40 * f.frames_per_block, "{name}");
        assert!(info.damaged, "{name}");
        let reason = info.damage_reason.unwrap();
        assert!(reason.contains("truncated"), "{name}: {reason}");
        // The same frames as the whole file's start.
        let (mut whole, _) = decode::open(&fixture(name)).unwrap();
        let (mut cut_stream, described) = decode::open(&path).unwrap();
        assert!(described.repair.is_some());
        let head = read_frames(whole.as_mut(), (40 * f.frames_per_block) as usize);
        assert!(decode_all(cut_stream.as_mut()) == head, "{name}");
    }
}

#[test]
fn an_undecodable_block_becomes_silence_of_its_length() {
    // MS ADPCM blocks name a predictor 0..=6; 9 does not decode.
    let bytes = std::fs::read(fixture("ms_adpcm_8k_mono.wav")).unwrap();
    let layout = layout_of(&bytes).unwrap();
    let mut broken = bytes.clone();
    broken[(layout.data_start + 256 * 5) as usize] = 9;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.wav");
    std::fs::write(&path, &broken).unwrap();
    let (mut good, _) = decode::open(&fixture("ms_adpcm_8k_mono.wav")).unwrap();
    let (mut bad, _) = decode::open(&path).unwrap();
    let (good, bad_all) = (decode_all(good.as_mut()), decode_all(bad.as_mut()));
    assert_eq!(good.len(), bad_all.len());
    assert_eq!(bad.damage().bad_packets, 1);
    // The packet holding block 5 (blocks 4 and 5) is silent; the rest is untouched.
    let differs: Vec<usize> = (0..good.len()).filter(|&i| good[i] != bad_all[i]).collect();
    assert!(differs.iter().all(|&i| (2000..3000).contains(&i)));
    assert!(bad_all[2000..3000].iter().all(|&s| s == 0));
}
