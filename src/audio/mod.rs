//! Audio: probing and full decoding of recordings with symphonia.
//!
//! Everything here is synchronous and CPU-bound; callers run it off the async runtime
//! (see `ingest`), with panics caught, because a malicious or broken file must never take
//! the server down.

pub mod analysis;
pub mod au;
pub mod declared;
#[cfg(test)]
mod declared_tests;
pub mod decode;
#[cfg(test)]
mod decode_tests;
pub mod g722;
pub mod g726;
#[cfg(test)]
mod g72x_tests;
pub mod gsm;
pub mod mp4;
pub mod ms_adpcm;
pub mod peaks;
pub mod probe;
pub mod raw;
pub mod wav;
pub mod wav_g72x;
pub mod wav_repair;
pub mod wavout;

pub use probe::{AudioError, AudioInfo, DecodeLimits, inspect_file};
