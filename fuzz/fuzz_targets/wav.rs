//! Our WAV reader on any bytes: header parsing, every codec's block decoding, seeks.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let _ = callgrade::audio::wav::parse_fmt(data);
    let _ = callgrade::audio::wav::parse_layout(&mut std::io::Cursor::new(data), data.len() as u64);
    let path = common::as_file(data);
    if let Ok(Some((mut stream, _))) = callgrade::audio::wav::open(&path) {
        common::exercise(stream.as_mut(), data);
    }
});
