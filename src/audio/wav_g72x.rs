//! G.722 and G.726 in WAV files and as raw headerless files, and the decoders whose state
//! the WAV reader saves so that seeks are exact (GSM 6.10's too).
//!
//! Format tags and packings:
//! - 0x028F (`WAVE_FORMAT_G722_ADPCM`): G.722 at 64 kbit/s, 16 kHz mono, one byte per two
//!   output samples. The decoded rate is always 16 kHz: recorders that copy G.722's RTP
//!   clock rate (8000, RFC 3551's historical mistake) into the header would otherwise play
//!   at half speed.
//! - 0x0045 (ITU-T G.726 in ffmpeg's tag table): the bits-per-sample field is the
//!   codeword size (2 to 5 = 16 to 40 kbit/s). ffmpeg's WAV muxer writes this tag for
//!   `-c:a g726` with the codewords packed most significant bit first (`Packing::MsbFirst`),
//!   and its reader (our reference) reads it so.
//! - 0x0064 (`WAVE_FORMAT_G726_ADPCM`, registered by APICOM): ffmpeg reads it as the
//!   same G.726 with the same packing (it has no writer for it; its `g726le` encoder is
//!   refused by the WAV muxer), so the bits-per-sample field and the packing are read as
//!   for 0x0045, and such a file sounds here as it does in ffmpeg.
//!
//! A G.726 block is the header's block align, at least one whole group of codewords (1 byte
//! of 2- or 4-bit codewords, 3 bytes of eight 3-bit ones, 5 bytes of eight 5-bit ones). As
//! for every WAV codec, only whole blocks are read: the up to 7 codewords of a last,
//! incomplete 3- or 5-bit group (under 1 ms; ffmpeg decodes them) are left out.
//!
//! A raw file is read as "WAV data with this fmt and no header": `raw_g722()` and
//! `raw_g726()` give the `WavFormat`, and `wav::open_headerless` reads a file with it.

use symphonia::core::audio::{
    AsGenericAudioBufferRef, AudioBuffer, AudioMut, AudioSpec, GenericAudioBufferRef, layouts,
};
use symphonia::core::codecs::CodecInfo;
use symphonia::core::codecs::audio::{
    AudioCodecId, AudioCodecParameters, AudioDecoder, AudioDecoderOptions, FinalizeResult,
};
use symphonia::core::common::FourCc;
use symphonia::core::errors::{Result as SymResult, decode_error, unsupported_error};
use symphonia::core::packet::PacketRef;

use super::g722;
use super::g726::{self, Packing};
use super::gsm;
use super::probe::AudioError;
use super::wav::WavFormat;

pub const WAVE_FORMAT_G726_ADPCM: u16 = 0x0045;
pub const WAVE_FORMAT_G726_ALT: u16 = 0x0064;
pub const WAVE_FORMAT_G722_ADPCM: u16 = 0x028F;

/// symphonia has no ids for these; these are ours.
pub const CODEC_ID_G722: AudioCodecId = AudioCodecId::new(FourCc::new(*b"g722"));
/// G.726, codewords most significant bit first.
pub const CODEC_ID_G726: AudioCodecId = AudioCodecId::new(FourCc::new(*b"g726"));
/// G.726, codewords least significant bit first (RFC 3551).
pub const CODEC_ID_G726LE: AudioCodecId = AudioCodecId::new(FourCc::new(*b"g72l"));

/// G.722's output rate, whatever a header says.
pub const G722_RATE: u32 = 16_000;
/// Bytes per G.722 block in the WAV reader (any byte stands alone as far as framing goes).
const G722_BLOCK_BYTES: u64 = 1;
/// A raw G.726 file's rate and codeword size when nothing says otherwise (32 kbit/s).
pub const G726_RAW_RATE: u32 = 8_000;
pub const G726_RAW_BITS: u16 = 4;

/// Saved decoder states are this many frames apart (GSM: 24 blocks, 0.96 s at 8 kHz).
pub const SNAPSHOT_FRAMES: u64 = 7680;

fn unsupported(msg: String) -> AudioError {
    AudioError::Unsupported(msg)
}

/// The `WavFormat` of a G.722 `fmt` chunk.
pub fn g722_format(channels: u16, block_align: u16) -> Result<WavFormat, AudioError> {
    if channels != 1 {
        return Err(unsupported(format!(
            "the WAV file holds G.722 with {channels} channels; callgrade decodes mono G.722"
        )));
    }
    // Whole bytes only; a block align of several bytes just groups them.
    let block = u64::from(block_align.max(1));
    Ok(WavFormat {
        tag: WAVE_FORMAT_G722_ADPCM,
        codec: CODEC_ID_G722,
        channels: 1,
        sample_rate: G722_RATE,
        block_bytes: block * G722_BLOCK_BYTES,
        frames_per_block: block * g722::SAMPLES_PER_BYTE as u64,
        pcm_bits: None,
    })
}

/// The `WavFormat` of a G.726 `fmt` chunk: `bits` is the codeword size.
pub fn g726_format(
    tag: u16,
    channels: u16,
    sample_rate: u32,
    block_align: u16,
    bits: u16,
) -> Result<WavFormat, AudioError> {
    g726_with(tag, CODEC_ID_G726, channels, sample_rate, block_align, bits)
}

fn g726_with(
    tag: u16,
    codec: AudioCodecId,
    channels: u16,
    sample_rate: u32,
    block_align: u16,
    bits: u16,
) -> Result<WavFormat, AudioError> {
    if channels != 1 {
        return Err(unsupported(format!(
            "the WAV file holds G.726 with {channels} channels; callgrade decodes mono G.726"
        )));
    }
    if !(2..=5).contains(&bits) {
        return Err(unsupported(format!(
            "the WAV file holds G.726 with {bits}-bit codewords; G.726 has 2 to 5 bits \
             (16 to 40 kbit/s)"
        )));
    }
    // A block holds whole codewords: at least the smallest whole group (lcm(bits, 8) bits).
    let group = u64::from(bits) / gcd(u64::from(bits), 8);
    let block = u64::from(block_align).max(group);
    if !(block * 8).is_multiple_of(u64::from(bits)) {
        return Err(AudioError::Invalid(format!(
            "the G.726 block align of {block_align} bytes does not hold whole {bits}-bit \
             codewords"
        )));
    }
    Ok(WavFormat {
        tag,
        codec,
        channels: 1,
        sample_rate,
        block_bytes: block,
        frames_per_block: block * 8 / u64::from(bits),
        pcm_bits: Some(u32::from(bits)),
    })
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// A raw `.g722` file: G.722 at 64 kbit/s, 16 kHz mono, no header.
pub fn raw_g722() -> WavFormat {
    WavFormat {
        tag: WAVE_FORMAT_G722_ADPCM,
        codec: CODEC_ID_G722,
        channels: 1,
        sample_rate: G722_RATE,
        block_bytes: G722_BLOCK_BYTES,
        frames_per_block: g722::SAMPLES_PER_BYTE as u64,
        pcm_bits: None,
    }
}

/// A raw G.726 file of `bits`-bit codewords at `sample_rate` (normally `G726_RAW_RATE` and
/// `G726_RAW_BITS`), packed as Asterisk writes `.g726` files (RFC 3551, least significant
/// bits first).
pub fn raw_g726(sample_rate: u32, bits: u16) -> Result<WavFormat, AudioError> {
    if sample_rate == 0 {
        return Err(AudioError::Invalid("a sample rate of 0 Hz".into()));
    }
    g726_with(
        WAVE_FORMAT_G726_ADPCM,
        CODEC_ID_G726LE,
        1,
        sample_rate,
        0,
        bits,
    )
}

/// A decoder state a seek can resume from.
#[derive(Clone, Debug)]
pub enum SavedState {
    Gsm(gsm::GsmDecoder),
    G722(g722::Decoder),
    G726(g726::Decoder),
}

/// A decoder that carries state from block to block, and can save and restore it.
pub trait Resumable: Send {
    fn decoder(&mut self) -> &mut dyn AudioDecoder;
    fn save(&self) -> SavedState;
    /// Continues from `state`; a state of another codec is ignored (it cannot occur: every
    /// stream saves its own decoder's states).
    fn restore(&mut self, state: &SavedState);
}

impl Resumable for gsm::GsmMsDecoder {
    fn decoder(&mut self) -> &mut dyn AudioDecoder {
        self
    }
    fn save(&self) -> SavedState {
        SavedState::Gsm(self.state().clone())
    }
    fn restore(&mut self, state: &SavedState) {
        if let SavedState::Gsm(s) = state {
            self.set_state(s.clone());
        }
    }
}

/// The resumable decoder for `params`, or `None` when its codec's blocks stand alone.
pub fn resumable_decoder(
    params: &AudioCodecParameters,
    options: &AudioDecoderOptions,
) -> Option<SymResult<Box<dyn Resumable>>> {
    let codec = params.codec;
    if codec == gsm::CODEC_ID_GSM_MS || codec == gsm::CODEC_ID_GSM_FRAMES {
        Some(gsm::GsmMsDecoder::try_new(params, options).map(|d| Box::new(d) as _))
    } else if codec == CODEC_ID_G722 || codec == CODEC_ID_G726 || codec == CODEC_ID_G726LE {
        Some(G72xDecoder::try_new(params, options).map(|d| Box::new(d) as _))
    } else {
        None
    }
}

#[derive(Clone, Debug)]
enum Inner {
    G722(g722::Decoder),
    G726(g726::Decoder, Packing),
}

/// G.722 or G.726 as a symphonia decoder: packets hold whole blocks (bytes of G.722, groups
/// of whole codewords of G.726); the state runs on from packet to packet until `reset`.
pub struct G72xDecoder {
    params: AudioCodecParameters,
    inner: Inner,
    info: &'static CodecInfo,
    buf: AudioBuffer<i16>,
}

impl G72xDecoder {
    pub fn try_new(params: &AudioCodecParameters, _opts: &AudioDecoderOptions) -> SymResult<Self> {
        let Some(rate) = params.sample_rate.filter(|&r| r > 0) else {
            return unsupported_error("g72x: sample rate is required");
        };
        match &params.channels {
            Some(channels) if channels.count() == 1 => {}
            Some(_) => return unsupported_error("g72x: only mono is supported"),
            None => return unsupported_error("g72x: channels are required"),
        }
        let bits = params.bits_per_coded_sample.unwrap_or(4);
        let (inner, info) = if params.codec == CODEC_ID_G722 {
            (
                Inner::G722(g722::Decoder::new(g722::Mode::Kbit64)),
                &SUPPORTED[0].info,
            )
        } else if params.codec == CODEC_ID_G726 || params.codec == CODEC_ID_G726LE {
            if !(2..=5).contains(&bits) {
                return unsupported_error("g726: codewords have 2 to 5 bits");
            }
            if params.codec == CODEC_ID_G726 {
                (
                    Inner::G726(g726::Decoder::new(bits), Packing::MsbFirst),
                    &SUPPORTED[1].info,
                )
            } else {
                (
                    Inner::G726(g726::Decoder::new(bits), Packing::LsbFirst),
                    &SUPPORTED[2].info,
                )
            }
        } else {
            return unsupported_error("g72x: invalid codec");
        };
        let capacity = params
            .max_frames_per_packet
            .map_or(4096, |f| f as usize)
            .clamp(8, 1 << 20);
        Ok(G72xDecoder {
            params: params.clone(),
            inner,
            info,
            buf: AudioBuffer::new(AudioSpec::new(rate, layouts::CHANNEL_LAYOUT_MONO), capacity),
        })
    }

    fn decode_inner(&mut self, packet: &PacketRef<'_>) -> SymResult<()> {
        let data = packet.data;
        let frames = match &self.inner {
            Inner::G722(_) => data.len() * g722::SAMPLES_PER_BYTE,
            Inner::G726(d, _) => {
                let bits = d.bits() as usize;
                if !(data.len() * 8).is_multiple_of(bits) {
                    return decode_error("g726: a packet must hold whole codewords");
                }
                data.len() * 8 / bits
            }
        };
        if frames == 0 {
            return decode_error("g72x: empty packet");
        }
        self.buf.clear();
        self.buf.grow_capacity(frames);
        self.buf.render_uninit(Some(frames));
        let Some(plane) = self.buf.plane_mut(0) else {
            return decode_error("g72x: missing audio plane");
        };
        match &mut self.inner {
            Inner::G722(d) => d.decode(data, plane),
            Inner::G726(d, packing) => {
                d.decode(data, *packing, plane);
            }
        }
        self.buf.trim(
            packet.trim_start.get() as usize,
            packet.trim_end.get() as usize,
        );
        Ok(())
    }

    fn fresh(&self) -> Inner {
        match &self.inner {
            Inner::G722(_) => Inner::G722(g722::Decoder::new(g722::Mode::Kbit64)),
            Inner::G726(d, p) => Inner::G726(g726::Decoder::new(d.bits()), *p),
        }
    }
}

impl Resumable for G72xDecoder {
    fn decoder(&mut self) -> &mut dyn AudioDecoder {
        self
    }
    fn save(&self) -> SavedState {
        match &self.inner {
            Inner::G722(d) => SavedState::G722(d.clone()),
            Inner::G726(d, _) => SavedState::G726(d.clone()),
        }
    }
    fn restore(&mut self, state: &SavedState) {
        match (&mut self.inner, state) {
            (Inner::G722(d), SavedState::G722(s)) => *d = s.clone(),
            (Inner::G726(d, _), SavedState::G726(s)) if s.bits() == d.bits() => *d = s.clone(),
            _ => {}
        }
    }
}

impl AudioDecoder for G72xDecoder {
    fn reset(&mut self) {
        self.inner = self.fresh();
    }

    fn codec_info(&self) -> &CodecInfo {
        self.info
    }

    fn codec_params(&self) -> &AudioCodecParameters {
        &self.params
    }

    fn decode_ref(&mut self, packet: &PacketRef<'_>) -> SymResult<GenericAudioBufferRef<'_>> {
        match self.decode_inner(packet) {
            Ok(()) => Ok(self.buf.as_generic_audio_buffer_ref()),
            Err(e) => {
                self.buf.clear();
                Err(e)
            }
        }
    }

    fn finalize(&mut self) -> FinalizeResult {
        FinalizeResult::default()
    }

    fn last_decoded(&self) -> GenericAudioBufferRef<'_> {
        self.buf.as_generic_audio_buffer_ref()
    }
}

use symphonia::core::codecs::registry::{RegisterableAudioDecoder, SupportedAudioCodec};

/// Codec names as ffprobe gives them.
const SUPPORTED: [SupportedAudioCodec; 3] = [
    SupportedAudioCodec {
        id: CODEC_ID_G722,
        info: CodecInfo {
            short_name: "adpcm_g722",
            long_name: "ITU-T G.722 ADPCM, 64 kbit/s",
            profiles: &[],
        },
    },
    SupportedAudioCodec {
        id: CODEC_ID_G726,
        info: CodecInfo {
            short_name: "adpcm_g726",
            long_name: "ITU-T G.726 ADPCM, codewords most significant bit first",
            profiles: &[],
        },
    },
    SupportedAudioCodec {
        id: CODEC_ID_G726LE,
        info: CodecInfo {
            short_name: "adpcm_g726le",
            long_name: "ITU-T G.726 ADPCM, codewords least significant bit first (RFC 3551)",
            profiles: &[],
        },
    },
];

impl RegisterableAudioDecoder for G72xDecoder {
    fn try_registry_new(
        params: &AudioCodecParameters,
        opts: &AudioDecoderOptions,
    ) -> SymResult<Box<dyn AudioDecoder>>
    where
        Self: Sized,
    {
        Ok(Box::new(G72xDecoder::try_new(params, opts)?))
    }

    fn supported_codecs() -> &'static [SupportedAudioCodec] {
        &SUPPORTED
    }
}
