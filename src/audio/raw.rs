//! Headerless recordings, as Asterisk and FreeSWITCH write them: nothing in the bytes says
//! what they are, so the file name's extension does. Each row of `FORMATS` says how the
//! bytes are laid out, in the terms of a WAV `fmt ` chunk (codec tag, rate, channels, bits
//! per sample), and the data is then read by our WAV reader as a `data` chunk that starts
//! at byte 0: the same exact seeks and byte ranges as every WAV file.
//!
//! A file with a recognised header is never read as raw, whatever its name (`looks_headed`):
//! a real WAV named `.ulaw` is a WAV.

use super::gsm::{self, Frame};
use super::probe::AudioError;
use super::wav::{self, WavFormat, WavLayout};
use super::wav_g72x;

/// How a raw format's bytes are coded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawCodec {
    /// As the WAV format tag of the same number, in blocks of `bits` per sample per channel.
    Wav(u16),
    /// GSM 06.10 in the 33-byte frames of the `.gsm` format (one 20 ms frame each, most
    /// significant bit first behind a 0xD signature), not WAV49's 65-byte frame pairs.
    GsmFrames,
    /// G.722 at 64 kbit/s, one byte per two 16 kHz samples.
    G722,
    /// G.726 codewords of `bits_per_sample` bits in RFC 3551 order (least significant bit
    /// first), as Asterisk writes `.g726`.
    G726,
}

/// One headerless format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawFormat {
    /// File name extension, lower case, without the dot.
    pub extension: &'static str,
    /// What the recording row stores (`recordings.raw_format`) and the API reports.
    pub name: &'static str,
    pub codec: RawCodec,
    pub sample_rate: u32,
    pub channels: u16,
    pub bits_per_sample: u16,
}

const fn row(
    extension: &'static str,
    name: &'static str,
    codec: RawCodec,
    sample_rate: u32,
    bits_per_sample: u16,
) -> RawFormat {
    RawFormat {
        extension,
        name,
        codec,
        sample_rate,
        channels: 1,
        bits_per_sample,
    }
}

const PCM: RawCodec = RawCodec::Wav(0x0001);
const ALAW: RawCodec = RawCodec::Wav(0x0006);
const MULAW: RawCodec = RawCodec::Wav(0x0007);

/// Every extension read as headerless audio. Telephony raw formats are mono, and 8 kHz
/// unless the name says otherwise (`.sln16` is signed linear at 16 kHz, `.g722` is 16 kHz
/// wideband; `.g726` is 32 kbit/s, Asterisk's rate).
pub const FORMATS: &[RawFormat] = &[
    row("ulaw", "ulaw", MULAW, 8000, 8),
    row("ul", "ulaw", MULAW, 8000, 8),
    row("pcmu", "ulaw", MULAW, 8000, 8),
    row("alaw", "alaw", ALAW, 8000, 8),
    row("al", "alaw", ALAW, 8000, 8),
    row("pcma", "alaw", ALAW, 8000, 8),
    row("sln", "sln", PCM, 8000, 16),
    row("raw", "sln", PCM, 8000, 16),
    row("sln16", "sln16", PCM, 16000, 16),
    row("gsm", "gsm", RawCodec::GsmFrames, 8000, 0),
    row("g722", "g722", RawCodec::G722, wav_g72x::G722_RATE, 4),
    row(
        "g726",
        "g726",
        RawCodec::G726,
        wav_g72x::G726_RAW_RATE,
        wav_g72x::G726_RAW_BITS,
    ),
];

/// The raw format of an extension (any case), if it is one.
pub fn format_for_extension(extension: &str) -> Option<&'static RawFormat> {
    FORMATS
        .iter()
        .find(|f| f.extension.eq_ignore_ascii_case(extension))
}

/// The raw format a file name's extension names, if any.
pub fn format_for_name(file_name: &str) -> Option<&'static RawFormat> {
    let (_, ext) = file_name.rsplit_once('.')?;
    format_for_extension(ext)
}

/// The raw format stored under `name` (`recordings.raw_format`).
pub fn format_named(name: &str) -> Option<&'static RawFormat> {
    FORMATS.iter().find(|f| f.name == name)
}

/// True when `prefix` starts with the signature of a container callgrade reads: such a file
/// is read by its content even if its name says raw.
pub fn looks_headed(prefix: &[u8]) -> bool {
    const MAGICS: [&[u8]; 8] = [
        b"RIFF",
        b".snd",
        b"fLaC",
        b"OggS",
        b"ID3",
        b"FORM",
        b"caff",
        b"\x1A\x45\xDF\xA3",
    ];
    MAGICS.iter().any(|m| prefix.starts_with(m)) || (prefix.len() >= 8 && &prefix[4..8] == b"ftyp")
}

/// Bytes in one 33-byte `.gsm` frame.
pub const GSM_FRAME_BYTES: u64 = 33;

/// The layout of a raw file of `file_len` bytes: a data chunk from byte 0 to the last whole
/// block (a trailing partial sample or frame is not audio).
pub fn layout(format: &RawFormat, file_len: u64) -> Result<WavLayout, AudioError> {
    let wav_format = match format.codec {
        RawCodec::Wav(tag) => {
            let block_align = format.channels * (format.bits_per_sample / 8).max(1);
            let mut fmt = Vec::with_capacity(16);
            fmt.extend_from_slice(&tag.to_le_bytes());
            fmt.extend_from_slice(&format.channels.to_le_bytes());
            fmt.extend_from_slice(&format.sample_rate.to_le_bytes());
            let byte_rate = format.sample_rate * u32::from(block_align);
            fmt.extend_from_slice(&byte_rate.to_le_bytes());
            fmt.extend_from_slice(&block_align.to_le_bytes());
            fmt.extend_from_slice(&format.bits_per_sample.to_le_bytes());
            wav::parse_fmt(&fmt)?
        }
        RawCodec::GsmFrames => WavFormat {
            tag: 0x0031,
            codec: gsm::CODEC_ID_GSM_FRAMES,
            channels: 1,
            sample_rate: format.sample_rate,
            block_bytes: GSM_FRAME_BYTES,
            frames_per_block: gsm::FRAME_SAMPLES as u64,
            pcm_bits: None,
        },
        RawCodec::G722 => wav_g72x::raw_g722(),
        RawCodec::G726 => wav_g72x::raw_g726(format.sample_rate, format.bits_per_sample)?,
    };
    Ok(WavLayout {
        blocks: file_len / wav_format.block_bytes,
        format: wav_format,
        data_start: 0,
        repair: None,
    })
}

/// Reads fields most significant bit first.
struct MsbBits<'a> {
    bytes: &'a [u8],
    bit: usize,
}

impl MsbBits<'_> {
    fn take(&mut self, width: u32) -> u8 {
        let mut value = 0u8;
        for _ in 0..width {
            let byte = self.bytes.get(self.bit / 8).copied().unwrap_or(0);
            let b = (byte >> (7 - self.bit % 8)) & 1;
            value = (value << 1) | b;
            self.bit += 1;
        }
        value
    }
}

/// The parameters of one 33-byte `.gsm` frame: the 4-bit signature, then the same fields in
/// the same order as WAV49, each most significant bit first.
pub fn unpack_gsm_frame(frame: &[u8; GSM_FRAME_BYTES as usize]) -> Frame {
    // The signature nibble is skipped, not checked: decoders (ffmpeg's too) play frames
    // whatever it holds.
    let mut bits = MsbBits {
        bytes: frame,
        bit: 4,
    };
    let mut out = Frame::default();
    for (larc, width) in out.larc.iter_mut().zip(gsm::LARC_BITS) {
        *larc = bits.take(width);
    }
    for sub in &mut out.subframes {
        sub.nc = bits.take(7);
        sub.bc = bits.take(2);
        sub.mc = bits.take(2);
        sub.xmaxc = bits.take(6);
        for x in &mut sub.xmc {
            *x = bits.take(3);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_name_their_formats_in_any_case() {
        assert_eq!(format_for_name("call.ULAW").map(|f| f.name), Some("ulaw"));
        assert_eq!(format_for_name("a.b.pcma").map(|f| f.name), Some("alaw"));
        assert_eq!(
            format_for_name("x.sln16").map(|f| f.sample_rate),
            Some(16000)
        );
        assert_eq!(format_for_name("x.raw").map(|f| f.name), Some("sln"));
        assert_eq!(format_for_name("call.wav"), None);
        assert_eq!(format_for_name("ulaw"), None);
        assert_eq!(
            format_named("gsm").map(|f| f.codec),
            Some(RawCodec::GsmFrames)
        );
        for f in FORMATS {
            assert_eq!(
                format_named(f.name).map(|g| g.codec),
                Some(f.codec),
                "{}",
                f.name
            );
        }
    }

    #[test]
    fn layouts_count_whole_blocks() {
        let sln = format_for_extension("sln").unwrap();
        let l = layout(sln, 16001).unwrap();
        assert_eq!((l.blocks, l.frames(), l.data_start), (8000, 8000, 0));
        let gsm = format_for_extension("gsm").unwrap();
        let l = layout(gsm, 33 * 50 + 10).unwrap();
        assert_eq!((l.blocks, l.frames()), (50, 8000));
        let ulaw = format_for_extension("ul").unwrap();
        assert_eq!(layout(ulaw, 0).unwrap().blocks, 0);
    }

    #[test]
    fn headed_files_are_recognised() {
        assert!(looks_headed(b"RIFF\0\0\0\0WAVE"));
        assert!(looks_headed(b"\0\0\0\x1cftypM4A "));
        assert!(looks_headed(b".snd\0\0\0\x18"));
        assert!(!looks_headed(&[0xFF; 16]));
        assert!(!looks_headed(b""));
    }

    #[test]
    fn gsm_frames_unpack_most_significant_bit_first() {
        // Signature 0xD, then LARc[0] = 0b101010 and LARc[1] = 0b000001.
        let mut frame = [0u8; 33];
        frame[0] = 0xDA;
        frame[1] = 0b1000_0001;
        let f = unpack_gsm_frame(&frame);
        assert_eq!(f.larc[0], 0b101010);
        assert_eq!(f.larc[1], 0b000001);
        // The last field, the 13th pulse of the 4th sub-frame, ends in the last bit.
        frame[32] = 0b0000_0101;
        assert_eq!(unpack_gsm_frame(&frame).subframes[3].xmc[12], 0b101);
    }
}
