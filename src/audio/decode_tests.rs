//! Seeking must not change the audio: after `seek(f)` the stream yields exactly what the
//! continuous decode has from frame `f` on, for every container symphonia reads.

use std::path::PathBuf;

use super::decode::open;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/audio")
        .join(name)
}

fn decode_all(name: &str) -> (Vec<i16>, usize) {
    let (mut s, _) = open(&fixture(name)).expect("opens");
    let mut all = Vec::new();
    while s.read(&mut all).expect("reads") > 0 {}
    (all, s.channels())
}

fn read_from(name: &str, frame: u64, frames: usize) -> Vec<i16> {
    let (mut s, _) = open(&fixture(name)).expect("opens");
    // Read a little first so the seek is a real jump, not a fresh start.
    let mut sink = Vec::new();
    s.read(&mut sink).expect("reads");
    s.seek(frame).expect("seeks");
    let mut out = Vec::new();
    while out.len() < frames * s.channels() {
        if s.read(&mut out).expect("reads") == 0 {
            break;
        }
    }
    out.truncate(frames * s.channels());
    out
}

#[test]
fn seeks_land_exactly_for_every_container() {
    for name in [
        "mp3_8k_mono.mp3",
        "stereo_mp3_8k.mp3",
        "vorbis_8k_mono.ogg",
        "flac_8k_mono.flac",
        "aac_8k_mono.m4a",
        "opus_8k_mono.opus",
        "webm_opus_8k_mono.webm",
        "webm_vorbis_8k_mono.webm",
        "mka_pcm_s16_8k_mono.mka",
    ] {
        let (all, ch) = decode_all(name);
        let total = (all.len() / ch) as u64;
        for target in [total / 2 + 17, total * 9 / 10 + 3, total / 7 + 1, 1234] {
            let got = read_from(name, target, 2000);
            let start = target as usize * ch;
            let want = &all[start..(start + 2000 * ch).min(all.len())];
            let mismatch = got.iter().zip(want).position(|(a, b)| a != b);
            assert_eq!(got.len(), want.len(), "{name} at {target}: length");
            let worst = got
                .iter()
                .zip(want)
                .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
                .max();
            assert_eq!(
                mismatch, None,
                "{name} at frame {target}: first differing sample (worst diff {worst:?})"
            );
        }
    }
}
