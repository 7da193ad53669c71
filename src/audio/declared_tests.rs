//! Never silently short: every fixture decodes undamaged, and a copy of it cut at 40 % comes
//! out damaged with a reason naming the declared and the decoded length (or is refused when
//! nothing in it can be decoded).

use std::path::{Path, PathBuf};

use super::probe::{AudioError, AudioInfo, DecodeLimits, inspect_file};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/audio")
        .join(name)
}

const LIMITS: DecodeLimits = DecodeLimits { max_seconds: 3600 };

/// Every audio fixture with a header (raw formats have no declared length).
fn fixtures_with_headers() -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(fixture(""))
        .expect("fixtures folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            super::raw::format_for_extension(ext).is_none() && ext != "csv"
        })
        .collect();
    all.sort();
    all
}

fn cut(path: &Path, dir: &Path, fraction_percent: usize) -> PathBuf {
    let bytes = std::fs::read(path).expect("fixture");
    let to = dir.join(path.file_name().expect("name"));
    std::fs::write(&to, &bytes[..bytes.len() * fraction_percent / 100]).expect("write");
    to
}

fn seconds(s: &str) -> f64 {
    s.trim_end_matches(" s").parse().expect("seconds")
}

#[test]
fn every_fixture_decodes_whole() {
    for path in fixtures_with_headers() {
        let info = inspect_file(&path, LIMITS).expect("decodes");
        assert!(
            !info.damaged,
            "{}: {:?}",
            path.display(),
            info.damage_reason
        );
    }
}

#[test]
fn every_fixture_cut_at_40_percent_is_damaged_or_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut checked = 0;
    for path in fixtures_with_headers() {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        let whole = inspect_file(&path, LIMITS).expect("decodes");
        match inspect_file(&cut(&path, dir.path(), 40), LIMITS) {
            Ok(AudioInfo {
                damaged,
                damage_reason,
                frames,
                ..
            }) => {
                if name == "mp3_8k_mono.mp3" {
                    // A constant-bitrate MP3 without a Xing/VBRI header declares no length:
                    // cut between frames it is a valid shorter file, and nothing can tell.
                    assert!(frames < whole.frames);
                    continue;
                }
                assert!(damaged, "{name} cut short is not damaged ({frames} frames)");
                let reason = damage_reason.expect("a reason");
                if name.ends_with(".ogg") || name.ends_with(".opus") {
                    // Ogg declares its length in the last page, which the cut removed: the
                    // damage is the page cut in half.
                    assert!(reason.contains("ends abruptly"), "{name}: {reason}");
                } else {
                    // "the container declares X s but only Y s decode"
                    let rest = reason
                        .strip_prefix("the container declares ")
                        .unwrap_or_else(|| panic!("{name}: {reason}"));
                    let (declared, rest) = rest.split_once(" but only ").expect("declared");
                    let decoded = rest.split_once(" decode").expect("decoded").0;
                    let whole_s = whole.frames as f64 / f64::from(whole.sample_rate);
                    assert!(
                        (seconds(declared) - whole_s).abs() < 0.2,
                        "{name}: {reason}"
                    );
                    let got = frames as f64 / f64::from(whole.sample_rate);
                    assert!((seconds(decoded) - got).abs() < 0.06, "{name}: {reason}");
                    assert!(
                        seconds(decoded) < 0.5 * seconds(declared),
                        "{name}: {reason}"
                    );
                }
            }
            Err(AudioError::Invalid(msg)) => {
                // Only an MP4 whose index comes last loses everything to the cut.
                assert_eq!(name, "aac_8k_mono.m4a", "{msg}");
                assert!(msg.contains("no index"), "{msg}");
            }
            Err(other) => panic!("{name}: {other:?}"),
        }
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} fixtures checked");
}

#[test]
fn the_cut_webm_and_mp4_cases_are_damaged_with_the_declared_length() {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in [
        "webm_opus_8k_mono.webm",
        "webm_vorbis_8k_mono.webm",
        "aac_faststart_8k_mono.m4a",
    ] {
        let info = inspect_file(&cut(&fixture(name), dir.path(), 40), LIMITS).expect("decodes");
        let reason = info.damage_reason.expect("damaged");
        assert!(
            reason.starts_with("the container declares 8."),
            "{name}: {reason}"
        );
        let decoded = info.frames as f64 / f64::from(info.sample_rate);
        assert!((2.0..4.0).contains(&decoded), "{name}: {decoded} s");
    }
}
