//! Our own RIFF/WAVE reader, used for every file whose content starts `RIFF....WAVE`.
//!
//! WAV audio is a run of fixed-size blocks (one frame for PCM and G.711, a self-contained
//! block of a few hundred frames for IMA and MS ADPCM, two 20 ms frames for GSM 6.10), so a
//! frame's block is found by arithmetic: seeking is exact and costs one block. (symphonia's
//! own reader multiplies an ADPCM timestamp by the block size without first dividing by the
//! frames per block, and has no GSM, G.722 or G.726.) GSM, G.722 and G.726 blocks are not
//! self-contained, so their seeks resume from saved decoder states instead (see
//! `GSM_SNAPSHOT_BLOCKS` and `wav_g72x`). Packets are whole blocks,
//! about `TARGET_PACKET_FRAMES` frames each, decoded by the decoders of `decode::codecs()`.
//!
//! A header that promises more audio than the file holds (a recorder that stopped
//! mid-call, or streaming placeholders of 0xFFFFFFFF) is read up to the last whole block and
//! reported in `Described::repair`, as `wav_repair` describes.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex};

use symphonia::core::audio::{Channels, Position};
use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_ADPCM_IMA_WAV, CODEC_ID_ADPCM_MS, CODEC_ID_PCM_ALAW, CODEC_ID_PCM_F32LE,
    CODEC_ID_PCM_F64LE, CODEC_ID_PCM_MULAW, CODEC_ID_PCM_S16LE, CODEC_ID_PCM_S24LE,
    CODEC_ID_PCM_S32LE, CODEC_ID_PCM_U8,
};
use symphonia::core::codecs::audio::{
    AudioCodecId, AudioCodecParameters, AudioDecoder, AudioDecoderOptions,
};
use symphonia::core::errors::Error as SymError;
use symphonia::core::packet::PacketRef;
use symphonia::core::units::{Duration, Timestamp};

use super::decode::{self, Damage, Described, PcmStream};
use super::gsm;
use super::probe::AudioError;
use super::wav_g72x::{self, Resumable, SavedState};
use super::wav_repair::WavRepair;

/// About how many frames one packet (one `read`) holds: whole blocks, at least one.
const TARGET_PACKET_FRAMES: u64 = 1024;
/// Chunks walked before `data` is given up on (each costs a seek).
const MAX_CHUNKS: usize = 4096;
/// Largest `fmt ` body read; real ones are 16 to 50 bytes.
const MAX_FMT_BYTES: u64 = 4096;
/// Most channels accepted (symphonia's own WAV reader's limit): decoders allocate a packet's
/// worth of samples per channel up front.
const MAX_CHANNELS: u16 = 26;
/// A repaired header is kept (`WavRepair::header`) when it is at most this long.
const MAX_REPAIR_HEADER: u64 = 64 * 1024;
/// GSM 6.10 carries decoder state from block to block, and a decoder restarted mid-stream
/// need never converge to the continuous decode (steady tones and hold music keep the
/// difference alive indefinitely). So the state itself is saved every this many blocks
/// (0.96 s) as the stream decodes, and a seek resumes from the saved state at or before its
/// target. Packets never straddle a save point.
pub const GSM_SNAPSHOT_BLOCKS: u64 = 24;
/// GSM states kept, over all files, for files recently read (about 280 bytes each, one per
/// 0.96 s of audio: 16384 are 4.5 MB for 4.4 hours), so that the streams the player opens
/// for each range request of a recording, and ingest's full decode before them, share them.
const GSM_SNAPSHOT_CACHE_STATES: usize = 16 * 1024;

const WAVE_FORMAT_PCM: u16 = 0x0001;
const WAVE_FORMAT_ADPCM: u16 = 0x0002;
const WAVE_FORMAT_IEEE_FLOAT: u16 = 0x0003;
const WAVE_FORMAT_ALAW: u16 = 0x0006;
const WAVE_FORMAT_MULAW: u16 = 0x0007;
const WAVE_FORMAT_IMA_ADPCM: u16 = 0x0011;
const WAVE_FORMAT_GSM610: u16 = 0x0031;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// The last 14 bytes of every `KSDATAFORMAT_SUBTYPE_*` GUID made from a format tag; the
/// first two hold the tag.
const KSDATAFORMAT_SUFFIX: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
];

/// The coefficient pairs every MS ADPCM file carries; symphonia's decoder knows only these.
const MS_ADPCM_COEFFS: [(i16, i16); 7] = [
    (256, 0),
    (512, -256),
    (0, 0),
    (192, 64),
    (240, 0),
    (460, -208),
    (392, -232),
];

/// True when `prefix` starts like a RIFF/WAVE file.
pub fn is_wave(prefix: &[u8]) -> bool {
    prefix.len() >= 12 && &prefix[0..4] == b"RIFF" && &prefix[8..12] == b"WAVE"
}

/// What the `fmt ` chunk says, reduced to what reading and decoding need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WavFormat {
    /// The format tag (for WAVE_FORMAT_EXTENSIBLE, the sub-format's).
    pub tag: u16,
    pub codec: AudioCodecId,
    pub channels: u16,
    pub sample_rate: u32,
    /// Bytes per block: one frame for PCM and G.711, the block align for ADPCM and GSM.
    pub block_bytes: u64,
    pub frames_per_block: u64,
    /// Valid bits per sample, for integer PCM; bits per codeword, for G.726.
    pub pcm_bits: Option<u32>,
}

/// Where the audio is and how much of it the file really holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WavLayout {
    pub format: WavFormat,
    /// Offset of the first byte of the `data` body.
    pub data_start: u64,
    /// Whole blocks of audio present in the file (and within the declared `data` size).
    pub blocks: u64,
    /// Set when the `data` chunk promises more than the file holds.
    pub repair: Option<WavRepair>,
}

impl WavLayout {
    pub fn frames(&self) -> u64 {
        self.blocks * self.format.frames_per_block
    }
}

fn invalid(msg: impl Into<String>) -> AudioError {
    AudioError::Invalid(msg.into())
}

fn io_error(e: &io::Error) -> AudioError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        invalid("the file ends inside its header")
    } else {
        invalid(format!("cannot read the recording: {e}"))
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Interprets a `fmt ` chunk body.
pub fn parse_fmt(b: &[u8]) -> Result<WavFormat, AudioError> {
    if b.len() < 16 {
        return Err(invalid(format!(
            "the WAV fmt chunk is {} bytes long, shorter than the 16 it needs",
            b.len()
        )));
    }
    let header_tag = u16_at(b, 0);
    let channels = u16_at(b, 2);
    let sample_rate = u32_at(b, 4);
    let block_align = u16_at(b, 12);
    let bits = u16_at(b, 14);
    if channels == 0 {
        return Err(invalid("the header declares 0 channels"));
    }
    if sample_rate == 0 {
        return Err(invalid("the header declares a sample rate of 0 Hz"));
    }
    if block_align == 0 {
        return Err(invalid(
            "the header declares a block align of 0 bytes (the size of one block of audio)",
        ));
    }
    if channels > MAX_CHANNELS {
        return Err(AudioError::Unsupported(format!(
            "the WAV file has {channels} channels; callgrade decodes at most {MAX_CHANNELS}"
        )));
    }
    let extra: &[u8] = if b.len() >= 18 {
        let size = usize::from(u16_at(b, 16));
        &b[18..b.len().min(18 + size)]
    } else {
        &[]
    };

    let (tag, valid_bits) = if header_tag == WAVE_FORMAT_EXTENSIBLE {
        if extra.len() < 22 {
            return Err(invalid(
                "the WAV fmt chunk says WAVE_FORMAT_EXTENSIBLE but is too short to name a \
                 sub-format",
            ));
        }
        let guid = &extra[6..22];
        let sub = u16_at(guid, 0);
        if guid[2..] != KSDATAFORMAT_SUFFIX {
            let hex: String = guid.iter().map(|x| format!("{x:02x}")).collect();
            return Err(AudioError::Unsupported(format!(
                "the WAV file's extensible sub-format {hex} is one callgrade cannot decode"
            )));
        }
        if ![
            WAVE_FORMAT_PCM,
            WAVE_FORMAT_IEEE_FLOAT,
            WAVE_FORMAT_ALAW,
            WAVE_FORMAT_MULAW,
        ]
        .contains(&sub)
        {
            return Err(AudioError::Unsupported(format!(
                "the WAV file uses extensible sub-format 0x{sub:04X}{}, which callgrade cannot \
                 decode",
                tag_name(sub)
            )));
        }
        (sub, Some(u16_at(extra, 0)))
    } else {
        (header_tag, None)
    };

    let ch = u64::from(channels);
    let whole = |codec, bytes_per_sample: u64| WavFormat {
        tag,
        codec,
        channels,
        sample_rate,
        block_bytes: ch * bytes_per_sample,
        frames_per_block: 1,
        pcm_bits: None,
    };
    let unsupported_bits = |what: &str| {
        AudioError::Unsupported(format!(
            "the WAV file holds {bits}-bit {what}, which callgrade cannot decode"
        ))
    };
    let format = match tag {
        WAVE_FORMAT_PCM => {
            let codec = match bits {
                8 => CODEC_ID_PCM_U8,
                16 => CODEC_ID_PCM_S16LE,
                24 => CODEC_ID_PCM_S24LE,
                32 => CODEC_ID_PCM_S32LE,
                _ => return Err(unsupported_bits("PCM")),
            };
            let valid = valid_bits.filter(|&v| v > 0 && v <= bits).unwrap_or(bits);
            WavFormat {
                pcm_bits: Some(u32::from(valid)),
                ..whole(codec, u64::from(bits / 8))
            }
        }
        WAVE_FORMAT_IEEE_FLOAT => match bits {
            32 => whole(CODEC_ID_PCM_F32LE, 4),
            64 => whole(CODEC_ID_PCM_F64LE, 8),
            _ => return Err(unsupported_bits("floating-point audio")),
        },
        WAVE_FORMAT_ALAW => whole(CODEC_ID_PCM_ALAW, 1),
        WAVE_FORMAT_MULAW => whole(CODEC_ID_PCM_MULAW, 1),
        WAVE_FORMAT_IMA_ADPCM | WAVE_FORMAT_ADPCM => {
            let name = if tag == WAVE_FORMAT_ADPCM {
                "MS ADPCM"
            } else {
                "IMA ADPCM"
            };
            if bits != 4 {
                return Err(unsupported_bits(name));
            }
            if channels > 2 {
                return Err(AudioError::Unsupported(format!(
                    "the WAV file holds {name} with {channels} channels; callgrade decodes \
                     mono and stereo"
                )));
            }
            let ba = u64::from(block_align);
            // Block header: IMA has a 4-byte preamble per channel, MS a 7-byte one.
            let (preamble, codec) = if tag == WAVE_FORMAT_ADPCM {
                (7 * ch, CODEC_ID_ADPCM_MS)
            } else {
                (4 * ch, CODEC_ID_ADPCM_IMA_WAV)
            };
            if ba <= preamble {
                return Err(invalid(format!(
                    "the {name} block align of {block_align} bytes leaves no room for audio"
                )));
            }
            // Nibbles per block after the preamble, one per sample.
            let coded = (ba - preamble) * 2 / ch;
            let frames_per_block = if tag == WAVE_FORMAT_ADPCM {
                coded + 2
            } else {
                coded + 1
            };
            if tag == WAVE_FORMAT_IMA_ADPCM && channels == 2 && !(ba - preamble).is_multiple_of(8) {
                return Err(invalid(format!(
                    "the stereo IMA ADPCM block align of {block_align} bytes does not hold \
                     whole 8-sample groups per channel"
                )));
            }
            if tag == WAVE_FORMAT_ADPCM && !ms_coefficients_are_standard(extra) {
                return Err(AudioError::Unsupported(
                    "the WAV file uses MS ADPCM with a non-standard coefficient table, which \
                     callgrade cannot decode"
                        .into(),
                ));
            }
            WavFormat {
                block_bytes: ba,
                frames_per_block,
                ..whole(codec, 0)
            }
        }
        WAVE_FORMAT_GSM610 => {
            if channels != 1 {
                return Err(AudioError::Unsupported(format!(
                    "the WAV file holds GSM 6.10 with {channels} channels; callgrade decodes \
                     mono GSM"
                )));
            }
            if usize::from(block_align) != gsm::BLOCK_BYTES {
                return Err(AudioError::Unsupported(format!(
                    "the WAV file holds GSM 6.10 in {block_align}-byte blocks; callgrade \
                     decodes the 65-byte Microsoft (WAV49) packing"
                )));
            }
            WavFormat {
                block_bytes: gsm::BLOCK_BYTES as u64,
                frames_per_block: gsm::BLOCK_SAMPLES as u64,
                ..whole(gsm::CODEC_ID_GSM_MS, 0)
            }
        }
        wav_g72x::WAVE_FORMAT_G722_ADPCM => wav_g72x::g722_format(channels, block_align)?,
        wav_g72x::WAVE_FORMAT_G726_ADPCM | wav_g72x::WAVE_FORMAT_G726_ALT => {
            wav_g72x::g726_format(tag, channels, sample_rate, block_align, bits)?
        }
        other => {
            return Err(AudioError::Unsupported(format!(
                "the WAV file uses format tag 0x{other:04X}{}, which callgrade cannot decode",
                tag_name(other)
            )));
        }
    };
    if format.block_bytes == 0 {
        return Err(invalid("the header declares 0-byte samples"));
    }
    Ok(format)
}

/// Names of some format tags met in call recordings, for error messages.
fn tag_name(tag: u16) -> &'static str {
    match tag {
        0x0000 => " (unknown)",
        0x0022 => " (DSP Group TrueSpeech)",
        0x0050 => " (MPEG audio)",
        0x0055 => " (MP3)",
        0x0161 => " (Windows Media Audio)",
        0x1600 => " (AAC)",
        _ => "",
    }
}

/// MS ADPCM's fmt extension: samples per block, the coefficient count and the pairs. Files
/// that leave the table out get the standard one.
fn ms_coefficients_are_standard(extra: &[u8]) -> bool {
    if extra.len() < 4 {
        return true;
    }
    let count = usize::from(u16_at(extra, 2));
    let pairs = &extra[4..];
    if count != MS_ADPCM_COEFFS.len() {
        return false;
    }
    if pairs.len() < 4 * count {
        // A cut-short table: nothing says it differs.
        return true;
    }
    MS_ADPCM_COEFFS.iter().enumerate().all(|(i, &(a, b))| {
        u16_at(pairs, 4 * i) as i16 == a && u16_at(pairs, 4 * i + 2) as i16 == b
    })
}

/// Walks the chunks of a RIFF/WAVE file of `file_len` bytes to `fmt ` and `data`.
pub fn parse_layout<R: Read + Seek>(r: &mut R, file_len: u64) -> Result<WavLayout, AudioError> {
    let mut head = [0u8; 12];
    read_at(r, 0, &mut head)?;
    if !is_wave(&head) {
        return Err(invalid("not a RIFF/WAVE file"));
    }
    let mut format: Option<WavFormat> = None;
    let mut pos: u64 = 12;
    for _ in 0..MAX_CHUNKS {
        if pos + 8 > file_len {
            break;
        }
        let mut chunk = [0u8; 8];
        read_at(r, pos, &mut chunk)?;
        let id = [chunk[0], chunk[1], chunk[2], chunk[3]];
        let size = u64::from(u32_at(&chunk, 4));
        let body = pos + 8;
        match &id {
            b"fmt " if format.is_none() => {
                let mut b = vec![0u8; size.min(MAX_FMT_BYTES) as usize];
                read_at(r, body, &mut b)?;
                format = Some(parse_fmt(&b)?);
            }
            b"data" => {
                let format = format.ok_or_else(|| {
                    invalid("the WAV data chunk comes before any fmt chunk describing it")
                })?;
                return layout_from_data(r, format, body, size, file_len);
            }
            _ => {}
        }
        pos = body + size + (size & 1);
    }
    Err(invalid(if format.is_some() {
        "the WAV file has no data chunk"
    } else {
        "the WAV file has no fmt chunk"
    }))
}

fn layout_from_data<R: Read + Seek>(
    r: &mut R,
    format: WavFormat,
    data_start: u64,
    declared: u64,
    file_len: u64,
) -> Result<WavLayout, AudioError> {
    let available = file_len.saturating_sub(data_start);
    let usable = declared.min(available);
    let blocks = usable / format.block_bytes;
    let repair = if declared > available {
        let actual = blocks * format.block_bytes;
        Some(WavRepair {
            header: corrected_header(r, data_start, actual)?,
            promised_bytes: declared,
            actual_bytes: actual,
        })
    } else {
        None
    };
    Ok(WavLayout {
        format,
        data_start,
        blocks,
        repair,
    })
}

/// The header up to the `data` body with the RIFF and data sizes set to what the file
/// holds, as `wav_repair` makes it; empty when the header is unusually long.
fn corrected_header<R: Read + Seek>(
    r: &mut R,
    data_start: u64,
    actual: u64,
) -> Result<Vec<u8>, AudioError> {
    let (Ok(riff), Ok(data)) = (
        u32::try_from(data_start - 8 + actual),
        u32::try_from(actual),
    ) else {
        return Ok(Vec::new());
    };
    if data_start > MAX_REPAIR_HEADER {
        return Ok(Vec::new());
    }
    let mut header = vec![0u8; data_start as usize];
    read_at(r, 0, &mut header)?;
    let end = header.len();
    header[4..8].copy_from_slice(&riff.to_le_bytes());
    header[end - 4..end].copy_from_slice(&data.to_le_bytes());
    Ok(header)
}

fn read_at<R: Read + Seek>(r: &mut R, pos: u64, buf: &mut [u8]) -> Result<(), AudioError> {
    r.seek(SeekFrom::Start(pos)).map_err(|e| io_error(&e))?;
    r.read_exact(buf).map_err(|e| io_error(&e))
}

fn channels_of(count: u16) -> Channels {
    match Position::from_count(u32::from(count)) {
        Some(positions) => Channels::Positioned(positions),
        None => Channels::Discrete(count),
    }
}

/// Codec parameters as symphonia's RIFF reader builds them.
fn codec_params(format: &WavFormat, blocks_per_packet: u64) -> AudioCodecParameters {
    let mut params = AudioCodecParameters::new();
    params
        .for_codec(format.codec)
        .with_sample_rate(format.sample_rate)
        .with_channels(channels_of(format.channels))
        .with_frames_per_block(format.frames_per_block)
        .with_max_frames_per_packet(blocks_per_packet * format.frames_per_block);
    if let Some(bits) = format.pcm_bits {
        params
            .with_bits_per_sample(bits)
            .with_bits_per_coded_sample(bits);
    }
    params
}

/// A stream ready to read, and what its header says.
pub type Opened = (Box<dyn PcmStream>, Described);

/// Opens `path` with the WAV reader when its content is RIFF/WAVE; `None` otherwise.
pub fn open(path: &Path) -> Result<Option<Opened>, AudioError> {
    let cannot_read = |e: io::Error| invalid(format!("cannot read the recording: {e}"));
    let mut file = File::open(path).map_err(cannot_read)?;
    let mut head = Vec::with_capacity(12);
    (&mut file)
        .take(12)
        .read_to_end(&mut head)
        .map_err(cannot_read)?;
    if !is_wave(&head) {
        return Ok(None);
    }
    let meta = file.metadata().map_err(cannot_read)?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let layout = parse_layout(&mut reader, meta.len())?;
    let mut stream = WavStream::new(reader, layout)?;
    stream.share_snapshots(FileKey::of(path, &meta));
    let described = stream.described();
    Ok(Some((Box::new(stream), described)))
}

/// A stream over `layout` in the file at `path` (a WAV file, or audio laid out like one:
/// Sun .au, headerless telephony formats), and what it says about itself.
pub(crate) fn open_layout(
    path: &Path,
    layout: WavLayout,
) -> Result<(WavStream, Described), AudioError> {
    let cannot_read = |e: io::Error| invalid(format!("cannot read the recording: {e}"));
    let file = File::open(path).map_err(cannot_read)?;
    let meta = file.metadata().map_err(cannot_read)?;
    let reader = BufReader::with_capacity(64 * 1024, file);
    let mut stream = WavStream::new(reader, layout)?;
    stream.share_snapshots(FileKey::of(path, &meta));
    let described = stream.described();
    Ok((stream, described))
}

/// Opens a headerless file of audio blocks in `format` (a raw `.g722` or `.g726` file, with
/// `wav_g72x::raw_g722` or `raw_g726`): read exactly as the `data` of a WAV file would be.
pub fn open_headerless(path: &Path, format: WavFormat) -> Result<Opened, AudioError> {
    let cannot_read = |e: io::Error| invalid(format!("cannot read the recording: {e}"));
    let file = File::open(path).map_err(cannot_read)?;
    let meta = file.metadata().map_err(cannot_read)?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let layout = layout_from_data(&mut reader, format, 0, meta.len(), meta.len())?;
    let mut stream = WavStream::new(reader, layout)?;
    stream.share_snapshots(FileKey::of(path, &meta));
    let mut described = stream.described();
    described.container = "raw".into();
    Ok((Box::new(stream), described))
}

/// The decoder of a stream: symphonia's, or one of ours (GSM, G.722, G.726) whose state a
/// seek restores.
enum BlockDecoder {
    Symphonia(Box<dyn AudioDecoder>),
    Resumable(Box<dyn Resumable>),
}

impl BlockDecoder {
    fn decoder(&mut self) -> &mut dyn AudioDecoder {
        match self {
            BlockDecoder::Symphonia(d) => d.as_mut(),
            BlockDecoder::Resumable(d) => d.decoder(),
        }
    }
}

/// Identifies a file's content across opens (and the rename ingest does): recordings are
/// never rewritten in place.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FileKey {
    id: (u64, u64),
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileKey {
    #[cfg(unix)]
    fn of(_path: &Path, meta: &std::fs::Metadata) -> FileKey {
        use std::os::unix::fs::MetadataExt;
        FileKey {
            id: (meta.dev(), meta.ino()),
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }

    #[cfg(not(unix))]
    fn of(path: &Path, meta: &std::fs::Metadata) -> FileKey {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        path.hash(&mut h);
        FileKey {
            id: (h.finish(), 0),
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }
}

type SnapshotCache = Mutex<VecDeque<(FileKey, Arc<Vec<SavedState>>)>>;

fn snapshot_cache() -> &'static SnapshotCache {
    static CACHE: LazyLock<SnapshotCache> = LazyLock::new(|| Mutex::new(VecDeque::new()));
    &CACHE
}

/// Saved decoder states: `states[i]` is the state before block `i * blocks`.
struct Snapshots {
    key: Option<FileKey>,
    /// Blocks between saved states (`GSM_SNAPSHOT_BLOCKS` for GSM).
    blocks: u64,
    states: Vec<SavedState>,
    /// How many states came from the shared cache (more are published on drop).
    shared: usize,
}

/// Decoded audio of one WAV file, readable from any frame.
pub struct WavStream<R = BufReader<File>> {
    source: R,
    layout: WavLayout,
    decoder: BlockDecoder,
    codec: &'static str,
    blocks_per_packet: u64,
    /// For GSM, G.722 and G.726: the saved states a seek resumes from.
    snapshots: Option<Snapshots>,
    /// The block the source is positioned at.
    next_block: u64,
    /// Frames still to decode and drop before output resumes (after a seek).
    discard: u64,
    /// Frame index of the next frame `read` returns.
    next_frame: u64,
    packet: Vec<u8>,
    scratch: Vec<i16>,
    damage: Damage,
}

impl<R: Read + Seek + Send> WavStream<R> {
    pub fn new(mut source: R, layout: WavLayout) -> Result<WavStream<R>, AudioError> {
        let format = &layout.format;
        let blocks_per_packet = (TARGET_PACKET_FRAMES / format.frames_per_block).max(1);
        let params = codec_params(format, blocks_per_packet);
        let options = AudioDecoderOptions::default();
        // Decoders with state are made directly (GSM is registered in `decode::codecs()`
        // too) so that seeks can save and restore their state.
        let made = match wav_g72x::resumable_decoder(&params, &options) {
            Some(made) => made.map(BlockDecoder::Resumable),
            None => decode::codecs()
                .make_audio_decoder(&params, &options)
                .map(BlockDecoder::Symphonia),
        };
        let mut decoder = made.map_err(|e| match e {
            SymError::Unsupported(what) => AudioError::Unsupported(format!(
                "the wave file uses a codec callgrade cannot decode yet ({what})"
            )),
            other => invalid(format!("the codec parameters are invalid: {other}")),
        })?;
        let codec = decoder.decoder().codec_info().short_name;
        let snapshots = match &decoder {
            BlockDecoder::Resumable(d) => Some(Snapshots {
                key: None,
                blocks: (wav_g72x::SNAPSHOT_FRAMES / format.frames_per_block).max(1),
                states: vec![d.save()],
                shared: 0,
            }),
            BlockDecoder::Symphonia(_) => None,
        };
        source
            .seek(SeekFrom::Start(layout.data_start))
            .map_err(|e| io_error(&e))?;
        Ok(WavStream {
            source,
            layout,
            decoder,
            codec,
            blocks_per_packet,
            snapshots,
            next_block: 0,
            discard: 0,
            next_frame: 0,
            packet: Vec::new(),
            scratch: Vec::new(),
            damage: Damage::default(),
        })
    }

    /// Takes the GSM states other streams of this file saved, and shares this stream's.
    fn share_snapshots(&mut self, key: FileKey) {
        let Some(snapshots) = &mut self.snapshots else {
            return;
        };
        if let Ok(cache) = snapshot_cache().lock()
            && let Some((_, states)) = cache.iter().find(|(k, _)| *k == key)
            && states.len() > snapshots.states.len()
        {
            snapshots.states = states.as_ref().clone();
            snapshots.shared = snapshots.states.len();
        }
        snapshots.key = Some(key);
    }

    pub fn described(&self) -> Described {
        Described {
            container: "wave".into(),
            codec: self.codec.into(),
            promised_frames: Some(self.layout.frames()),
            max_frames_per_packet: self.blocks_per_packet * self.layout.format.frames_per_block,
            repair: self.layout.repair.clone(),
        }
    }

    /// Decodes the next packet into `scratch`; `None` at the end. A packet that does not
    /// decode becomes silence of its length, so the timeline (and every seek) stays exact.
    fn next_packet(&mut self) -> Option<u64> {
        let fpb = self.layout.format.frames_per_block;
        let mut blocks = self
            .blocks_per_packet
            .min(self.layout.blocks.saturating_sub(self.next_block));
        if blocks == 0 {
            return None;
        }
        if let (Some(snapshots), BlockDecoder::Resumable(d)) = (&mut self.snapshots, &self.decoder)
        {
            let k = snapshots.blocks;
            if self.next_block.is_multiple_of(k)
                && self.next_block / k == snapshots.states.len() as u64
            {
                snapshots.states.push(d.save());
            }
            blocks = blocks.min(k - self.next_block % k);
        }
        let bytes = (blocks * self.layout.format.block_bytes) as usize;
        self.packet.resize(bytes, 0);
        if let Err(e) = self.source.read_exact(&mut self.packet) {
            // The file shrank under us: stop here.
            self.damage.ended_abruptly = true;
            self.damage.first_error.get_or_insert_with(|| e.to_string());
            self.next_block = self.layout.blocks;
            return None;
        }
        let frames = blocks * fpb;
        let packet = PacketRef::new(
            0,
            Timestamp::from((self.next_block * fpb) as i64),
            Duration::from(frames),
            &self.packet,
        );
        self.next_block += blocks;
        let samples = frames as usize * usize::from(self.layout.format.channels);
        match self.decoder.decoder().decode_ref(&packet) {
            Ok(decoded) => {
                decoded.copy_to_vec_interleaved(&mut self.scratch);
                // Decoders of constant-size blocks return exactly the frames asked for;
                // keep the timeline exact even if one did not.
                self.scratch.resize(samples, 0);
            }
            Err(e) => {
                self.damage.bad_packets += 1;
                self.damage.first_error.get_or_insert_with(|| e.to_string());
                self.scratch.clear();
                self.scratch.resize(samples, 0);
            }
        }
        Some(frames)
    }
}

impl<R> Drop for WavStream<R> {
    fn drop(&mut self) {
        let Some(snapshots) = self.snapshots.take() else {
            return;
        };
        let Some(key) = snapshots.key else {
            return;
        };
        if snapshots.states.len() <= snapshots.shared.max(1) {
            return;
        }
        if let Ok(mut cache) = snapshot_cache().lock() {
            if cache
                .iter()
                .any(|(k, s)| *k == key && s.len() >= snapshots.states.len())
            {
                return;
            }
            cache.retain(|(k, _)| *k != key);
            cache.push_back((key, Arc::new(snapshots.states)));
            // Oldest first out, down to the budget (a list longer than it is not kept).
            while cache.iter().map(|(_, s)| s.len()).sum::<usize>() > GSM_SNAPSHOT_CACHE_STATES {
                cache.pop_front();
            }
        }
    }
}

impl<R: Read + Seek + Send> PcmStream for WavStream<R> {
    fn sample_rate(&self) -> u32 {
        self.layout.format.sample_rate
    }

    fn channels(&self) -> usize {
        usize::from(self.layout.format.channels)
    }

    fn damage(&self) -> &Damage {
        &self.damage
    }

    fn seek(&mut self, frame: u64) -> Result<(), AudioError> {
        if frame == self.next_frame {
            return Ok(());
        }
        let fpb = self.layout.format.frames_per_block;
        let target = frame.min(self.layout.frames());
        let block = target / fpb;
        if block >= self.layout.blocks {
            // At or past the end: nothing more to decode.
            self.next_block = self.layout.blocks;
            self.discard = 0;
            self.next_frame = frame;
            return Ok(());
        }
        let start = match (&self.snapshots, &mut self.decoder) {
            (Some(snapshots), BlockDecoder::Resumable(d)) => {
                // Resume from the last saved state at or before the target; blocks between
                // it and the target decode (and save states) on the way.
                let k = snapshots.blocks;
                let i = (block / k).min(snapshots.states.len() as u64 - 1);
                d.restore(&snapshots.states[i as usize]);
                i * k
            }
            (_, decoder) => {
                // Every other WAV codec's blocks stand alone.
                decoder.decoder().reset();
                block
            }
        };
        let offset = self.layout.data_start + start * self.layout.format.block_bytes;
        self.source
            .seek(SeekFrom::Start(offset))
            .map_err(|e| invalid(format!("cannot read the recording: {e}")))?;
        self.next_block = start;
        self.discard = target - start * fpb;
        self.next_frame = frame;
        Ok(())
    }

    fn read(&mut self, out: &mut Vec<i16>) -> Result<usize, AudioError> {
        let channels = usize::from(self.layout.format.channels);
        loop {
            let Some(frames) = self.next_packet() else {
                return Ok(0);
            };
            let skip = self.discard.min(frames);
            self.discard -= skip;
            if skip == frames {
                continue;
            }
            out.extend_from_slice(&self.scratch[skip as usize * channels..]);
            let n = frames - skip;
            self.next_frame += n;
            return Ok(n as usize);
        }
    }
}

#[cfg(test)]
#[path = "wav_tests.rs"]
mod tests;
