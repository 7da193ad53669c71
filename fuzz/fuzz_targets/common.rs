//! What the targets share: the input as a file (the readers take paths, as ingest gives
//! them), and reading a stream as the player would.

use std::path::PathBuf;

use callgrade::audio::decode::PcmStream;

/// One scratch file per fuzzing process, rewritten for every input.
pub fn as_file(data: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("callgrade-fuzz-{}", std::process::id()));
    std::fs::write(&path, data).expect("the scratch file is writable");
    path
}

/// Reads the whole stream, then seeks to a few places derived from the input and reads a
/// little from each; every answer must be a value or an error, never a panic.
pub fn exercise(stream: &mut dyn PcmStream, data: &[u8]) {
    let mut out = Vec::new();
    let mut frames = 0u64;
    loop {
        out.clear();
        match stream.read(&mut out) {
            Ok(0) | Err(_) => break,
            Ok(n) => frames += n as u64,
        }
        // Matches ingest's own cap (8 h at 48 kHz): past it ingest refuses the file.
        if frames > 8 * 3600 * 48_000 {
            return;
        }
    }
    for (i, b) in data.iter().take(4).enumerate() {
        let target = frames.saturating_mul(u64::from(*b)) / 255 + i as u64;
        if stream.seek(target).is_ok() {
            out.clear();
            let _ = stream.read(&mut out);
        }
    }
}
