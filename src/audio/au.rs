//! Sun/NeXT `.au` files: a 24-byte (or longer) big-endian header, then samples in fixed-size
//! frames, so the audio is laid out exactly like a WAV `data` chunk and is read by our WAV
//! reader (exact seeks, exact byte ranges) with big-endian sample codecs.
//!
//! Header: `.snd`, data offset, data size (0xFFFFFFFF when the writer did not know it, as
//! when recording to a pipe), encoding, sample rate, channels, all 32-bit big-endian.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use symphonia::core::codecs::audio::AudioCodecId;
use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_PCM_ALAW, CODEC_ID_PCM_F32BE, CODEC_ID_PCM_F64BE, CODEC_ID_PCM_MULAW, CODEC_ID_PCM_S8,
    CODEC_ID_PCM_S16BE, CODEC_ID_PCM_S24BE, CODEC_ID_PCM_S32BE,
};

use super::decode::Described;
use super::probe::AudioError;
use super::wav::{self, Opened, WavFormat, WavLayout};

const MAGIC: &[u8; 4] = b".snd";
const HEADER_BYTES: usize = 24;
/// Data size of a header written before the length was known.
const UNKNOWN_SIZE: u32 = u32::MAX;
/// Most channels accepted, as for WAV.
const MAX_CHANNELS: u32 = 26;

/// True when `prefix` starts like a Sun .au file.
pub fn is_au(prefix: &[u8]) -> bool {
    prefix.starts_with(MAGIC)
}

fn u32_be(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// What a parsed header says: the layout the WAV reader reads, and the frames the header
/// declares (`None` for an unknown size).
#[derive(Debug, PartialEq, Eq)]
pub struct AuHeader {
    pub layout: WavLayout,
    pub declared_frames: Option<u64>,
}

/// The codec, the WAV format tag it corresponds to, and bytes per sample, of an encoding.
fn encoding(code: u32) -> Result<(AudioCodecId, u16, u64, Option<u32>), AudioError> {
    Ok(match code {
        1 => (CODEC_ID_PCM_MULAW, 0x0007, 1, None),
        2 => (CODEC_ID_PCM_S8, 0x0001, 1, Some(8)),
        3 => (CODEC_ID_PCM_S16BE, 0x0001, 2, Some(16)),
        4 => (CODEC_ID_PCM_S24BE, 0x0001, 3, Some(24)),
        5 => (CODEC_ID_PCM_S32BE, 0x0001, 4, Some(32)),
        6 => (CODEC_ID_PCM_F32BE, 0x0003, 4, None),
        7 => (CODEC_ID_PCM_F64BE, 0x0003, 8, None),
        27 => (CODEC_ID_PCM_ALAW, 0x0006, 1, None),
        other => {
            return Err(AudioError::Unsupported(format!(
                "the .au file uses encoding {other}, which callgrade cannot decode (it \
                 decodes mu-law, A-law, 8/16/24/32-bit PCM and floating point)"
            )));
        }
    })
}

/// Parses the header of a file of `file_len` bytes that starts with `head` (at least the
/// first 24 bytes).
pub fn parse(head: &[u8], file_len: u64) -> Result<AuHeader, AudioError> {
    if head.len() < HEADER_BYTES || !is_au(head) {
        return Err(AudioError::Invalid(
            "the file ends inside its header".into(),
        ));
    }
    let offset = u64::from(u32_be(head, 4));
    let size = u32_be(head, 8);
    let (codec, tag, bytes, pcm_bits) = encoding(u32_be(head, 12))?;
    let sample_rate = u32_be(head, 16);
    let channels = u32_be(head, 20);
    if sample_rate == 0 {
        return Err(AudioError::Invalid(
            "the header declares a sample rate of 0 Hz".into(),
        ));
    }
    if channels == 0 {
        return Err(AudioError::Invalid("the header declares 0 channels".into()));
    }
    if channels > MAX_CHANNELS {
        return Err(AudioError::Unsupported(format!(
            "the .au file has {channels} channels; callgrade decodes at most {MAX_CHANNELS}"
        )));
    }
    if offset < HEADER_BYTES as u64 {
        return Err(AudioError::Invalid(format!(
            "the .au header says its audio starts at byte {offset}, inside the header"
        )));
    }
    let block_bytes = bytes * u64::from(channels);
    let available = file_len.saturating_sub(offset);
    let declared = (size != UNKNOWN_SIZE).then_some(u64::from(size));
    let usable = declared.map_or(available, |d| d.min(available));
    let format = WavFormat {
        tag,
        codec,
        channels: channels as u16,
        sample_rate,
        block_bytes,
        frames_per_block: 1,
        pcm_bits,
    };
    Ok(AuHeader {
        layout: WavLayout {
            format,
            data_start: offset,
            blocks: usable / block_bytes,
            repair: None,
        },
        declared_frames: declared.map(|d| d / block_bytes),
    })
}

/// Opens `path` as a .au file when its content starts `.snd`; `None` otherwise.
pub fn open(path: &Path) -> Result<Option<Opened>, AudioError> {
    let cannot_read =
        |e: std::io::Error| AudioError::Invalid(format!("cannot read the recording: {e}"));
    let mut file = File::open(path).map_err(cannot_read)?;
    let len = file.metadata().map_err(cannot_read)?.len();
    let mut head = Vec::with_capacity(HEADER_BYTES);
    (&mut file)
        .take(HEADER_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(cannot_read)?;
    if !is_au(&head) {
        return Ok(None);
    }
    let header = parse(&head, len)?;
    let (stream, described) = wav::open_layout(path, header.layout)?;
    let described = Described {
        container: "au".into(),
        // The declared size, not what the file holds: a cut file is shorter than it says.
        promised_frames: header.declared_frames,
        ..described
    };
    Ok(Some((Box::new(stream), described)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(offset: u32, size: u32, encoding: u32, rate: u32, channels: u32) -> Vec<u8> {
        let mut h = b".snd".to_vec();
        for v in [offset, size, encoding, rate, channels] {
            h.extend_from_slice(&v.to_be_bytes());
        }
        h
    }

    #[test]
    fn headers_give_the_layout_and_the_declared_length() {
        let h = parse(&header(32, 16000, 3, 8000, 1), 32 + 16000).unwrap();
        assert_eq!(h.layout.data_start, 32);
        assert_eq!(h.layout.blocks, 8000);
        assert_eq!(h.declared_frames, Some(8000));
        assert_eq!(h.layout.format.codec, CODEC_ID_PCM_S16BE);
        // Cut short: what is there is read, the declared length stays.
        let h = parse(&header(24, 16000, 1, 8000, 2), 24 + 1001).unwrap();
        assert_eq!((h.layout.blocks, h.declared_frames), (500, Some(8000)));
        // Unknown size: the rest of the file.
        let h = parse(&header(24, u32::MAX, 27, 8000, 1), 24 + 300).unwrap();
        assert_eq!((h.layout.blocks, h.declared_frames), (300, None));
    }

    #[test]
    fn bad_headers_are_refused_with_a_reason() {
        let err = |h: Vec<u8>| parse(&h, 1000).unwrap_err().to_string();
        assert!(err(header(24, 0, 23, 8000, 1)).contains("encoding 23"));
        assert!(err(header(24, 0, 1, 0, 1)).contains("0 Hz"));
        assert!(err(header(24, 0, 1, 8000, 0)).contains("0 channels"));
        assert!(err(header(24, 0, 1, 8000, 1000)).contains("1000 channels"));
        assert!(err(header(8, 0, 1, 8000, 1)).contains("inside the header"));
        assert!(err(b".snd\0\0".to_vec()).contains("ends inside its header"));
    }
}
