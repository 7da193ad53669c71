//! Microsoft ADPCM (WAVE format tag 0x0002), our own decoder. symphonia's multiplies the
//! adaptive step without a bound, so a hostile block overflows it (found by the `wav` fuzz
//! target; `fixtures/fuzz/wav-ms-adpcm-delta-overflow.wav`): a panic in debug builds, wrapped
//! garbage in release. Here the step is capped as the reference decoder (ffmpeg) caps it, so
//! every block decodes to the same samples as ffmpeg's, hostile or not.
//!
//! A block holds, per channel, a predictor index (0 to 6), the initial step and the two
//! previous samples (little-endian i16), interleaved by channel; then 4-bit codes, high
//! nibble first (in stereo, high nibble left, low nibble right). The block's first two
//! output frames are the stored samples, oldest first. Each block starts afresh, so seeking
//! to a block boundary is exact.

use symphonia::core::audio::{
    AsGenericAudioBufferRef, AudioBuffer, AudioMut, AudioSpec, GenericAudioBufferRef, layouts,
};
use symphonia::core::codecs::CodecInfo;
use symphonia::core::codecs::audio::well_known::CODEC_ID_ADPCM_MS;
use symphonia::core::codecs::audio::{
    AudioCodecParameters, AudioDecoder, AudioDecoderOptions, FinalizeResult,
};
use symphonia::core::codecs::registry::{RegisterableAudioDecoder, SupportedAudioCodec};
use symphonia::core::errors::{Result, decode_error, unsupported_error};
use symphonia::core::packet::PacketRef;

/// The seven standard predictor pairs (Microsoft's table, in 1/256).
const COEFF1: [i32; 7] = [256, 512, 0, 192, 240, 460, 392];
const COEFF2: [i32; 7] = [0, -256, 0, 64, 0, -208, -232];
/// How the step grows or shrinks after each code (in 1/256).
const ADAPTATION: [i32; 16] = [
    230, 230, 230, 230, 307, 409, 512, 614, 768, 614, 512, 409, 307, 230, 230, 230,
];
/// The step never falls below this, nor rises above the largest value whose growth by the
/// table's largest factor still fits an i32 (what ffmpeg does).
const MIN_STEP: i32 = 16;
const MAX_STEP: i32 = i32::MAX / 768;

/// One channel's predictor state within a block.
#[derive(Clone, Copy, Debug)]
struct Channel {
    coeff1: i32,
    coeff2: i32,
    step: i32,
    sample1: i32,
    sample2: i32,
}

impl Channel {
    fn expand(&mut self, code: u8) -> i16 {
        let signed = i32::from(code & 0x0f) - if code & 0x08 != 0 { 16 } else { 0 };
        // Products of 16-bit samples and coefficients up to 512 fit easily; the step is
        // capped so that `signed * step` does too.
        let predicted = (self.sample1 * self.coeff1 + self.sample2 * self.coeff2) / 256;
        let sample = (predicted + signed * self.step).clamp(-32_768, 32_767);
        self.sample2 = self.sample1;
        self.sample1 = sample;
        self.step =
            (ADAPTATION[usize::from(code & 0x0f)] * self.step / 256).clamp(MIN_STEP, MAX_STEP);
        sample as i16
    }
}

/// Decodes one block of `channels` channels into `out` (interleaved, `frames` frames).
/// `block` must be `block_bytes(channels, frames)` long.
fn decode_block(block: &[u8], channels: usize, frames: usize, out: &mut [i16]) -> Result<()> {
    let i16_at = |at: usize| i32::from(i16::from_le_bytes([block[at], block[at + 1]]));
    let mut state = [Channel {
        coeff1: 0,
        coeff2: 0,
        step: 0,
        sample1: 0,
        sample2: 0,
    }; 2];
    for (c, ch) in state.iter_mut().enumerate().take(channels) {
        let predictor = usize::from(block[c]);
        if predictor >= COEFF1.len() {
            return decode_error("ms adpcm: predictor index out of range");
        }
        ch.coeff1 = COEFF1[predictor];
        ch.coeff2 = COEFF2[predictor];
        ch.step = i16_at(channels + 2 * c);
        ch.sample1 = i16_at(3 * channels + 2 * c);
        ch.sample2 = i16_at(5 * channels + 2 * c);
    }
    for c in 0..channels {
        out[c] = state[c].sample2 as i16;
        out[channels + c] = state[c].sample1 as i16;
    }
    // Codes, two per byte: in mono consecutive samples, in stereo left then right.
    let mut next = 2 * channels;
    for &byte in &block[7 * channels..] {
        for (k, code) in [byte >> 4, byte & 0x0f].into_iter().enumerate() {
            if next >= frames * channels {
                return Ok(());
            }
            let c = if channels == 2 { k } else { 0 };
            out[next] = state[c].expand(code);
            next += 1;
        }
    }
    Ok(())
}

/// Bytes of a block of `frames` frames: the preamble, then a nibble per sample after the
/// two stored ones.
pub fn block_bytes(channels: usize, frames: usize) -> usize {
    7 * channels + (frames.saturating_sub(2) * channels).div_ceil(2)
}

pub struct MsAdpcmDecoder {
    params: AudioCodecParameters,
    channels: usize,
    frames_per_block: usize,
    block: usize,
    buf: AudioBuffer<i16>,
    interleaved: Vec<i16>,
}

impl MsAdpcmDecoder {
    pub fn try_new(params: &AudioCodecParameters, _opts: &AudioDecoderOptions) -> Result<Self> {
        let Some(rate) = params.sample_rate.filter(|&r| r > 0) else {
            return unsupported_error("ms adpcm: sample rate is required");
        };
        let (channels, layout) = match params.channels.as_ref().map(|c| c.count()) {
            Some(1) => (1, layouts::CHANNEL_LAYOUT_MONO),
            Some(2) => (2, layouts::CHANNEL_LAYOUT_STEREO),
            _ => return unsupported_error("ms adpcm: mono or stereo only"),
        };
        let Some(frames_per_block) = params
            .frames_per_block
            .and_then(|f| usize::try_from(f).ok())
            .filter(|&f| (2..=1 << 16).contains(&f))
        else {
            return unsupported_error("ms adpcm: frames per block are required");
        };
        let capacity = params
            .max_frames_per_packet
            .map_or(frames_per_block, |f| f as usize)
            .clamp(frames_per_block, 1 << 20);
        Ok(MsAdpcmDecoder {
            params: params.clone(),
            channels,
            frames_per_block,
            block: block_bytes(channels, frames_per_block),
            buf: AudioBuffer::new(AudioSpec::new(rate, layout), capacity),
            interleaved: Vec::new(),
        })
    }

    fn decode_inner(&mut self, packet: &PacketRef<'_>) -> Result<()> {
        let data = packet.data;
        if data.is_empty() || !data.len().is_multiple_of(self.block) {
            return decode_error("ms adpcm: a packet must hold whole blocks");
        }
        let blocks = data.len() / self.block;
        let frames = blocks * self.frames_per_block;
        let per_block = self.frames_per_block * self.channels;
        self.interleaved.clear();
        self.interleaved.resize(frames * self.channels, 0);
        for (block, out) in data
            .chunks_exact(self.block)
            .zip(self.interleaved.chunks_exact_mut(per_block))
        {
            decode_block(block, self.channels, self.frames_per_block, out)?;
        }
        self.buf.clear();
        self.buf.grow_capacity(frames);
        self.buf.render_uninit(Some(frames));
        for c in 0..self.channels {
            let Some(plane) = self.buf.plane_mut(c) else {
                return decode_error("ms adpcm: missing audio plane");
            };
            for (f, s) in plane.iter_mut().enumerate().take(frames) {
                *s = self.interleaved[f * self.channels + c];
            }
        }
        self.buf.trim(
            packet.trim_start.get() as usize,
            packet.trim_end.get() as usize,
        );
        Ok(())
    }
}

impl AudioDecoder for MsAdpcmDecoder {
    fn reset(&mut self) {}

    fn codec_info(&self) -> &CodecInfo {
        &SUPPORTED[0].info
    }

    fn codec_params(&self) -> &AudioCodecParameters {
        &self.params
    }

    fn decode_ref(&mut self, packet: &PacketRef<'_>) -> Result<GenericAudioBufferRef<'_>> {
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

const SUPPORTED: [SupportedAudioCodec; 1] = [SupportedAudioCodec {
    id: CODEC_ID_ADPCM_MS,
    info: CodecInfo {
        short_name: "adpcm_ms",
        long_name: "Microsoft ADPCM",
        profiles: &[],
    },
}];

impl RegisterableAudioDecoder for MsAdpcmDecoder {
    fn try_registry_new(
        params: &AudioCodecParameters,
        opts: &AudioDecoderOptions,
    ) -> Result<Box<dyn AudioDecoder>>
    where
        Self: Sized,
    {
        Ok(Box::new(MsAdpcmDecoder::try_new(params, opts)?))
    }

    fn supported_codecs() -> &'static [SupportedAudioCodec] {
        &SUPPORTED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block whose codes all say "largest step up" grows the step to the cap and stays
    /// there, where an unbounded multiply overflows.
    #[test]
    fn the_step_is_capped_on_hostile_blocks() {
        let frames = 2 + 2 * 2000;
        let mut block = vec![0u8; block_bytes(1, frames)];
        block[0] = 0;
        block[1..3].copy_from_slice(&i16::MAX.to_le_bytes());
        for b in &mut block[7..] {
            *b = 0x88;
        }
        let mut out = vec![0i16; frames];
        decode_block(&block, 1, frames, &mut out).unwrap();
        assert!(out.contains(&i16::MIN));
    }

    #[test]
    fn a_predictor_index_past_the_table_is_refused() {
        let mut block = vec![0u8; block_bytes(1, 4)];
        block[0] = 7;
        let mut out = vec![0i16; 4];
        assert!(decode_block(&block, 1, 4, &mut out).is_err());
    }
}
