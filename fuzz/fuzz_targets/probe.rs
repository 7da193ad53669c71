//! Ingest's whole probe on any bytes: content sniffing, every container and codec, the
//! damage report, with the limits ingest uses.
#![no_main]

use callgrade::audio::DecodeLimits;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let path = common::as_file(data);
    let limits = DecodeLimits { max_seconds: 8 * 3600 };
    let _ = callgrade::audio::probe::inspect_file(&path, limits);
    if let Ok((mut stream, _)) = callgrade::audio::decode::open(&path) {
        common::exercise(stream.as_mut(), data);
    }
});
