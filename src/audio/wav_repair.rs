//! WAV files whose header promises more than the file holds.
//!
//! A recorder that crashes mid-call leaves a RIFF header written at the start of the call
//! (sizes for the whole planned length, or 0xFFFFFFFF placeholders) above a shorter body.
//! symphonia rightly refuses such a header ("chunk length exceeds parent"), but the audio
//! that is there is real evidence, so ingest keeps it: the header is corrected in memory
//! (never on disk: the stored bytes stay exactly what the recorder sent) and the recording is
//! marked damaged with what the header claimed.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use symphonia::core::io::MediaSource;

/// How far into the file the header (all chunks before `data`) may reach.
const MAX_HEADER: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WavRepair {
    /// The header up to the start of the `data` body, with corrected sizes.
    pub header: Vec<u8>,
    /// Bytes of audio the header promised.
    pub promised_bytes: u64,
    /// Bytes of audio the file really holds (whole blocks only).
    pub actual_bytes: u64,
}

/// Looks at the start of a file of `file_len` bytes; returns the corrected header when it
/// is a RIFF/WAVE file whose `data` chunk runs past the end of the file.
pub fn plan(prefix: &[u8], file_len: u64) -> Option<WavRepair> {
    if prefix.len() < 12 || &prefix[0..4] != b"RIFF" || &prefix[8..12] != b"WAVE" {
        return None;
    }
    let mut block_align: u64 = 1;
    let mut pos = 12usize;
    while pos + 8 <= prefix.len() {
        let id = &prefix[pos..pos + 4];
        let size = u64::from(u32::from_le_bytes(
            prefix[pos + 4..pos + 8].try_into().ok()?,
        ));
        let body = pos + 8;
        if id == b"fmt " && body + 14 <= prefix.len() {
            block_align =
                u64::from(u16::from_le_bytes([prefix[body + 12], prefix[body + 13]])).max(1);
        }
        if id == b"data" {
            let available = file_len.saturating_sub(body as u64);
            if size <= available {
                return None;
            }
            let actual = available - available % block_align;
            let mut header = prefix[..body].to_vec();
            let riff_size = u32::try_from(body as u64 - 8 + actual).ok()?;
            header[4..8].copy_from_slice(&riff_size.to_le_bytes());
            header[body - 4..body].copy_from_slice(&u32::try_from(actual).ok()?.to_le_bytes());
            return Some(WavRepair {
                header,
                promised_bytes: size,
                actual_bytes: actual,
            });
        }
        pos = body.checked_add(usize::try_from(size).ok()?)?;
        pos += pos & 1;
    }
    None
}

/// Reads a file's first bytes and plans a repair if its header overruns the file.
pub fn check(file: &mut File) -> io::Result<Option<WavRepair>> {
    let len = file.metadata()?.len();
    let mut prefix = Vec::with_capacity(MAX_HEADER);
    file.by_ref()
        .take(MAX_HEADER as u64)
        .read_to_end(&mut prefix)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(plan(&prefix, len))
}

/// The file seen through a corrected header: the first `header.len()` bytes come from the
/// repair, the rest from the file, and the length ends at the last whole block.
pub struct PatchedSource {
    header: Vec<u8>,
    file: File,
    len: u64,
    pos: u64,
}

impl PatchedSource {
    pub fn new(file: File, repair: &WavRepair) -> PatchedSource {
        PatchedSource {
            len: repair.header.len() as u64 + repair.actual_bytes,
            header: repair.header.clone(),
            file,
            pos: 0,
        }
    }
}

impl Read for PatchedSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.len - self.pos).unwrap_or(usize::MAX));
        let n = if (self.pos as usize) < self.header.len() {
            let from = &self.header[self.pos as usize..];
            let n = want.min(from.len());
            buf[..n].copy_from_slice(&from[..n]);
            n
        } else {
            self.file.seek(SeekFrom::Start(self.pos))?;
            self.file.read(&mut buf[..want])?
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for PatchedSource {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))?;
        Ok(self.pos)
    }
}

impl MediaSource for PatchedSource {
    fn is_seekable(&self) -> bool {
        true
    }
    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal mu-law WAV header (fmt + data) declaring `data_size` bytes.
    fn header(data_size: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&36u32.wrapping_add(data_size).to_le_bytes());
        h.extend_from_slice(b"WAVEfmt ");
        h.extend_from_slice(&16u32.to_le_bytes());
        h.extend_from_slice(&[7, 0, 1, 0]); // mu-law, mono
        h.extend_from_slice(&8000u32.to_le_bytes());
        h.extend_from_slice(&8000u32.to_le_bytes());
        h.extend_from_slice(&[1, 0, 8, 0]); // block align 1, 8 bits
        h.extend_from_slice(b"data");
        h.extend_from_slice(&data_size.to_le_bytes());
        h
    }

    #[test]
    fn an_honest_file_needs_no_repair() {
        assert_eq!(plan(&header(100), 44 + 100), None);
        assert_eq!(plan(b"not a wav file at all", 21), None);
    }

    #[test]
    fn an_overrunning_data_chunk_is_cut_to_the_file() {
        let r = plan(&header(8000), 44 + 3000).expect("repair");
        assert_eq!((r.promised_bytes, r.actual_bytes), (8000, 3000));
        assert_eq!(&r.header[40..44], &3000u32.to_le_bytes());
        assert_eq!(&r.header[4..8], &(36u32 + 3000).to_le_bytes());
        // Streaming recorders' placeholder size.
        let r = plan(&header(u32::MAX), 44 + 10).expect("repair");
        assert_eq!(r.actual_bytes, 10);
    }
}
