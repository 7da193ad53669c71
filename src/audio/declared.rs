//! What containers declare about their length, where symphonia does not hand it over as a
//! frame count, and the one repair a cut-short Matroska or MP4 file needs to be read at all.
//!
//! Ingest compares the declared length with what decodes (`probe`), so a recording that
//! stops early is never stored as if it were whole.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use symphonia::core::io::MediaSource;
use symphonia::core::units::{Duration, TimeBase};

/// EBML magic, the first four bytes of every Matroska and WebM file.
const EBML_ID: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];
/// The Segment element's ID, the root element after the EBML header.
const SEGMENT_ID: [u8; 4] = [0x18, 0x53, 0x80, 0x67];

/// A frame count from a duration in `time_base` ticks, at `rate` frames per second.
pub fn frames_of(duration: Duration, time_base: Option<TimeBase>, rate: u32) -> Option<u64> {
    let tb = time_base?;
    let frames = u128::from(duration.get()) * u128::from(tb.numer.get()) * u128::from(rate)
        / u128::from(tb.denom.get());
    u64::try_from(frames).ok()
}

/// Reads an EBML variable-length integer at the start of `b`: (value, length in bytes).
/// `None` for a malformed one or one that does not fit. A size whose value bits are all
/// ones means "unknown" and is returned as `u64::MAX`.
fn vint(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 || b.len() < len {
        return None;
    }
    let mut value = u64::from(first) & (0xFF >> len);
    for &byte in &b[1..len] {
        value = (value << 8) | u64::from(byte);
    }
    let all_ones = (1u64 << (7 * len)) - 1;
    Some((if value == all_ones { u64::MAX } else { value }, len))
}

/// True when `prefix` is the start of a Matroska/WebM file whose Segment declares more bytes
/// than the `file_len` bytes the file has: a recorder stopped mid-write. symphonia skips an
/// element that overruns its parent (here the file), so such a file would not open at all.
pub fn matroska_cut_short(prefix: &[u8], file_len: u64) -> bool {
    if prefix.len() < 5 || prefix[..4] != EBML_ID {
        return false;
    }
    let Some((header_size, n)) = vint(&prefix[4..]) else {
        return false;
    };
    let Some(segment_at) = 4usize.checked_add(n).and_then(|p| {
        usize::try_from(header_size)
            .ok()
            .and_then(|s| p.checked_add(s))
    }) else {
        return false;
    };
    let Some(rest) = prefix.get(segment_at..) else {
        return false;
    };
    if rest.len() < 5 || rest[..4] != SEGMENT_ID {
        return false;
    }
    let Some((size, m)) = vint(&rest[4..]) else {
        return false;
    };
    let body = (segment_at + 4 + m) as u64;
    size != u64::MAX && body.saturating_add(size) > file_len
}

/// Top-level boxes walked before an MP4 file is taken as whole (each costs a seek).
const MAX_MP4_BOXES: usize = 64;

/// True when the file is an MP4 (`ftyp` first) one of whose top-level boxes runs past the
/// end: a recorder that wrote its index (moov) first and stopped inside the audio (mdat).
/// symphonia skips a box that overruns the file, so none of its audio would be read.
fn mp4_cut_short(file: &mut File, file_len: u64) -> io::Result<bool> {
    let mut pos = 0u64;
    for i in 0..MAX_MP4_BOXES {
        if pos + 8 > file_len {
            return Ok(false);
        }
        let mut head = [0u8; 16];
        file.seek(SeekFrom::Start(pos))?;
        let n = (&mut *file).take(16).read(&mut head)?;
        if n < 8 || (i == 0 && &head[4..8] != b"ftyp") {
            return Ok(false);
        }
        let size = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
        let size = match size {
            // To the end of the file, by definition whole.
            0 => return Ok(false),
            // A 64-bit size follows the type.
            1 if n == 16 => u64::from_be_bytes([
                head[8], head[9], head[10], head[11], head[12], head[13], head[14], head[15],
            ]),
            1 => return Ok(false),
            s => s,
        };
        if size < 8 {
            return Ok(false);
        }
        match pos.checked_add(size) {
            Some(end) if end <= file_len => pos = end,
            _ => return Ok(true),
        }
    }
    Ok(false)
}

/// Looks at a file's first bytes and says whether it must be read without its length.
pub fn check(file: &mut File) -> io::Result<bool> {
    let len = file.metadata()?.len();
    let mut prefix = Vec::with_capacity(256);
    file.seek(SeekFrom::Start(0))?;
    (&mut *file).take(256).read_to_end(&mut prefix)?;
    let cut = matroska_cut_short(&prefix, len) || mp4_cut_short(file, len)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(cut)
}

/// A file that does not tell its length and cannot be seeked: a Matroska Segment or an MP4
/// box whose size runs past the end is then read as far as the file goes (the last cluster
/// or sample ends at the cut, which the stream reports as an abrupt end), and the declared
/// duration still says how much was meant to be there. Not seekable, because the Matroska
/// index elements the header points to (Cues, Tags) were never written; the player's seeks into such a recording decode again
/// from the start (`decode`'s fallback for containers that cannot seek).
pub struct UnsizedSource(pub File);

impl Read for UnsizedSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Seek for UnsizedSource {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.0.seek(to)
    }
}

impl MediaSource for UnsizedSource {
    fn is_seekable(&self) -> bool {
        false
    }
    fn byte_len(&self) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vints() {
        assert_eq!(vint(&[0x81]), Some((1, 1)));
        assert_eq!(vint(&[0x40, 0x02]), Some((2, 2)));
        assert_eq!(vint(&[0xFF]), Some((u64::MAX, 1)));
        assert_eq!(
            vint(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
            Some((u64::MAX, 8))
        );
        assert_eq!(vint(&[0x00, 1, 2]), None);
        assert_eq!(vint(&[0x40]), None);
        assert_eq!(vint(&[]), None);
    }

    #[test]
    fn a_segment_past_the_end_is_cut_short() {
        // EBML header of 1 byte body, then a Segment of 100 bytes.
        let file = [
            0x1A, 0x45, 0xDF, 0xA3, 0x81, 0x00, 0x18, 0x53, 0x80, 0x67, 0xE4,
        ];
        assert!(matroska_cut_short(&file, 50));
        assert!(!matroska_cut_short(&file, 11 + 100));
        let mut unknown = file;
        unknown[10] = 0xFF;
        assert!(!matroska_cut_short(&unknown, 50));
        assert!(!matroska_cut_short(b"RIFF....WAVE", 50));
        assert!(!matroska_cut_short(&file[..8], 50));
    }
}
