//! GSM 06.10 full-rate speech decoding (ETSI EN 300 961, RPE-LTP), in the Microsoft "WAV49"
//! packing that WAV files with format tag 0x0031 use.
//!
//! A WAV49 block is 65 bytes holding two 260-bit frames of 160 samples each, packed as one
//! little-endian bit stream: every parameter is written least significant bit first, the
//! first frame fills the first 32½ bytes and the second frame starts in the high nibble of
//! byte 32. (The 33-byte frames of the `.gsm` format write the same parameters in the same
//! order, but most significant bit first behind a 4-bit 0xD signature.)
//!
//! The decoder is written from the recommendation's fixed-point description: every
//! arithmetic step uses the recommendation's 16-bit saturating operations, so the output is
//! bit-exact with the reference implementation (the one sox and ffmpeg agree with).
//!
//! The decoder carries state from frame to frame (the long-term predictor's last 120
//! residual samples, the previous frame's log-area ratios, the lattice filter and the
//! de-emphasis memory), so a block decoded after a reset does not, in general, sound exactly
//! as it does in a continuous decode; see `wav` for how seeking deals with that.

use symphonia::core::audio::{
    AsGenericAudioBufferRef, AudioBuffer, AudioMut, AudioSpec, GenericAudioBufferRef, layouts,
};
use symphonia::core::codecs::CodecInfo;
use symphonia::core::codecs::audio::{
    AudioCodecId, AudioCodecParameters, AudioDecoder, AudioDecoderOptions, FinalizeResult,
};
use symphonia::core::codecs::registry::{RegisterableAudioDecoder, SupportedAudioCodec};
use symphonia::core::common::FourCc;
use symphonia::core::errors::{Result, decode_error, unsupported_error};
use symphonia::core::packet::PacketRef;

/// symphonia has no well-known id for GSM 06.10; this one is ours.
pub const CODEC_ID_GSM_MS: AudioCodecId = AudioCodecId::new(FourCc::new(*b"gsm "));
/// GSM 06.10 in the 33-byte frames of headerless `.gsm` files (see `raw`); ours too.
pub const CODEC_ID_GSM_FRAMES: AudioCodecId = AudioCodecId::new(FourCc::new(*b"gsmr"));

/// Bytes in one WAV49 block (two frames).
pub const BLOCK_BYTES: usize = 65;
/// Samples in one WAV49 block.
pub const BLOCK_SAMPLES: usize = 2 * FRAME_SAMPLES;
/// Samples in one 20 ms frame.
pub const FRAME_SAMPLES: usize = 160;

/// The parameters of one 20 ms frame, as transmitted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    /// Coded log-area ratios, 6, 6, 5, 5, 4, 4, 3, 3 bits.
    pub larc: [u8; 8],
    pub subframes: [Subframe; 4],
}

/// The parameters of one 5 ms sub-frame (40 samples).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Subframe {
    /// Long-term predictor lag, 7 bits (40..=120 when valid).
    pub nc: u8,
    /// Long-term predictor gain, 2 bits.
    pub bc: u8,
    /// RPE grid position, 2 bits.
    pub mc: u8,
    /// Block amplitude, 6 bits.
    pub xmaxc: u8,
    /// RPE pulses, 3 bits each.
    pub xmc: [u8; 13],
}

pub(crate) const LARC_BITS: [u32; 8] = [6, 6, 5, 5, 4, 4, 3, 3];

/// Splits a WAV49 block into its two frames.
pub fn unpack_wav49(block: &[u8; BLOCK_BYTES]) -> [Frame; 2] {
    let mut bits = LsbBits {
        bytes: block,
        pos: 0,
        acc: 0,
        len: 0,
    };
    [read_frame(&mut bits), read_frame(&mut bits)]
}

fn read_frame(bits: &mut LsbBits<'_>) -> Frame {
    let mut frame = Frame::default();
    for (larc, width) in frame.larc.iter_mut().zip(LARC_BITS) {
        *larc = bits.take(width);
    }
    for sub in &mut frame.subframes {
        sub.nc = bits.take(7);
        sub.bc = bits.take(2);
        sub.mc = bits.take(2);
        sub.xmaxc = bits.take(6);
        for x in &mut sub.xmc {
            *x = bits.take(3);
        }
    }
    frame
}

/// Reads fields least significant bit first from a byte slice.
struct LsbBits<'a> {
    bytes: &'a [u8],
    pos: usize,
    acc: u32,
    len: u32,
}

impl LsbBits<'_> {
    /// Takes the next `width` (at most 8) bits; past the end the stream reads as zeros.
    fn take(&mut self, width: u32) -> u8 {
        while self.len < width {
            let byte = self.bytes.get(self.pos).copied().unwrap_or(0);
            self.acc |= u32::from(byte) << self.len;
            self.pos += 1;
            self.len += 8;
        }
        let value = (self.acc & ((1 << width) - 1)) as u8;
        self.acc >>= width;
        self.len -= width;
        value
    }
}

// 16-bit fixed-point primitives of the recommendation (section 5.1).

fn sat(x: i32) -> i16 {
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

fn add(a: i16, b: i16) -> i16 {
    sat(i32::from(a) + i32::from(b))
}

fn sub(a: i16, b: i16) -> i16 {
    sat(i32::from(a) - i32::from(b))
}

/// Rounded Q15 product; the one overflowing case (-1 × -1) saturates.
fn mult_r(a: i16, b: i16) -> i16 {
    if a == i16::MIN && b == i16::MIN {
        i16::MAX
    } else {
        ((i32::from(a) * i32::from(b) + 16384) >> 15) as i16
    }
}

/// Arithmetic shift left by `n` (right when negative), as the recommendation defines it.
fn asl(a: i16, n: i16) -> i16 {
    if n >= 16 {
        0
    } else if n <= -16 {
        if a < 0 { -1 } else { 0 }
    } else if n < 0 {
        asr(a, -n)
    } else {
        (i32::from(a) << n) as i16
    }
}

/// Arithmetic shift right by `n` (left when negative).
fn asr(a: i16, n: i16) -> i16 {
    if n >= 16 {
        if a < 0 { -1 } else { 0 }
    } else if n <= -16 {
        0
    } else if n < 0 {
        (i32::from(a) << -n) as i16
    } else {
        a >> n
    }
}

// Tables of the recommendation.

/// Decoding of the log-area ratios (table 5.2): offsets, B and 1/A.
const MIC: [i16; 8] = [-32, -32, -16, -16, -8, -8, -4, -4];
const B: [i16; 8] = [0, 0, 2048, -2560, 94, -1792, -341, -1144];
const INVA: [i16; 8] = [13107, 13107, 13107, 13107, 19223, 17476, 31454, 29708];
/// Long-term predictor gains (table 5.3b).
const QLB: [i16; 4] = [3277, 11469, 21299, 32767];
/// Normalized inverse mantissas of the RPE block amplitude (table 5.6).
const FAC: [i16; 8] = [18431, 20479, 22527, 24575, 26623, 28671, 30719, 32767];

/// Decoder state carried from one frame to the next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GsmDecoder {
    /// The last 120 samples of the reconstructed long-term residual, oldest first.
    dp: [i16; 120],
    /// Last valid long-term lag.
    nrp: i16,
    /// Previous frame's decoded log-area ratios.
    larpp_prev: [i16; 8],
    /// Short-term synthesis lattice memory.
    v: [i16; 9],
    /// De-emphasis filter memory.
    msr: i16,
}

impl Default for GsmDecoder {
    fn default() -> Self {
        GsmDecoder::new()
    }
}

impl GsmDecoder {
    pub fn new() -> GsmDecoder {
        GsmDecoder {
            dp: [0; 120],
            nrp: 40,
            larpp_prev: [0; 8],
            v: [0; 9],
            msr: 0,
        }
    }

    /// Decodes one frame into 160 samples.
    pub fn decode_frame(&mut self, frame: &Frame, out: &mut [i16; FRAME_SAMPLES]) {
        let mut wt = [0i16; FRAME_SAMPLES];
        for (sub, wt) in frame.subframes.iter().zip(wt.chunks_exact_mut(40)) {
            let erp = rpe_decode(sub);
            self.long_term_synthesis(sub.nc, sub.bc, &erp, wt);
        }
        self.short_term_synthesis(&frame.larc, &wt, out);
        self.postprocess(out);
    }

    /// Decodes a WAV49 block into 320 samples.
    pub fn decode_block(&mut self, block: &[u8; BLOCK_BYTES], out: &mut [i16]) {
        let frames = unpack_wav49(block);
        let mut pcm = [0i16; FRAME_SAMPLES];
        for (frame, out) in frames.iter().zip(out.chunks_exact_mut(FRAME_SAMPLES)) {
            self.decode_frame(frame, &mut pcm);
            out.copy_from_slice(&pcm);
        }
    }

    /// Long-term synthesis filter (5.3.2): the sub-frame's residual goes to `out` (40
    /// samples) and into the history.
    fn long_term_synthesis(&mut self, nc: u8, bc: u8, erp: &[i16; 40], out: &mut [i16]) {
        let nc = i16::from(nc);
        let nr = if (40..=120).contains(&nc) {
            nc
        } else {
            self.nrp
        };
        self.nrp = nr;
        let brp = QLB[usize::from(bc & 3)];
        let nr = nr as usize;
        // drp[0..120] is the history, drp[120..160] the sub-frame being made; the lag is at
        // least 40, so every tap reads the history.
        let mut drp = [0i16; 160];
        drp[..120].copy_from_slice(&self.dp);
        for (k, &e) in erp.iter().enumerate() {
            let drpp = mult_r(brp, drp[120 + k - nr]);
            drp[120 + k] = add(e, drpp);
        }
        out.copy_from_slice(&drp[120..160]);
        self.dp.copy_from_slice(&drp[40..160]);
    }

    /// Short-term synthesis (5.3.3 to 5.3.5): interpolated reflection coefficients, then the
    /// lattice filter over the four coefficient segments.
    fn short_term_synthesis(&mut self, larc: &[u8; 8], wt: &[i16; 160], out: &mut [i16; 160]) {
        let larpp = decode_lar(larc);
        let prev = self.larpp_prev;
        let mut larp = [0i16; 8];

        // Samples 0..13: 3/4 of the previous frame's LARs, 1/4 of this frame's.
        for i in 0..8 {
            larp[i] = add(add(prev[i] >> 2, larpp[i] >> 2), prev[i] >> 1);
        }
        self.lattice(&lar_to_rp(larp), &wt[0..13], &mut out[0..13]);
        // Samples 13..27: half and half.
        for i in 0..8 {
            larp[i] = add(prev[i] >> 1, larpp[i] >> 1);
        }
        self.lattice(&lar_to_rp(larp), &wt[13..27], &mut out[13..27]);
        // Samples 27..40: 1/4 previous, 3/4 current.
        for i in 0..8 {
            larp[i] = add(add(prev[i] >> 2, larpp[i] >> 2), larpp[i] >> 1);
        }
        self.lattice(&lar_to_rp(larp), &wt[27..40], &mut out[27..40]);
        // Samples 40..160: this frame's.
        self.lattice(&lar_to_rp(larpp), &wt[40..160], &mut out[40..160]);

        self.larpp_prev = larpp;
    }

    fn lattice(&mut self, rrp: &[i16; 8], wt: &[i16], out: &mut [i16]) {
        let v = &mut self.v;
        for (&w, out) in wt.iter().zip(out.iter_mut()) {
            let mut sri = w;
            for i in (0..8).rev() {
                sri = sub(sri, mult_r(rrp[i], v[i]));
                v[i + 1] = add(v[i], mult_r(rrp[i], sri));
            }
            v[0] = sri;
            *out = sri;
        }
    }

    /// De-emphasis, upscaling and truncation to 13 bits (5.3.6).
    fn postprocess(&mut self, s: &mut [i16; 160]) {
        let mut msr = self.msr;
        for x in s.iter_mut() {
            msr = add(*x, mult_r(msr, 28180));
            *x = add(msr, msr) & !7;
        }
        self.msr = msr;
    }
}

/// Decoding of the coded log-area ratios (5.2.8 / 5.3.1).
fn decode_lar(larc: &[u8; 8]) -> [i16; 8] {
    let mut larpp = [0i16; 8];
    for i in 0..8 {
        let t = i32::from(add(i16::from(larc[i]), MIC[i])) << 10;
        let t = sub(t as i16, B[i] << 1);
        let t = mult_r(INVA[i], t);
        larpp[i] = add(t, t);
    }
    larpp
}

/// Log-area ratios to reflection coefficients (5.2.10), piecewise linear.
fn lar_to_rp(larp: [i16; 8]) -> [i16; 8] {
    larp.map(|lar| {
        let mag = if lar == i16::MIN { i16::MAX } else { lar.abs() };
        let r = if mag < 11059 {
            mag << 1
        } else if mag < 20070 {
            mag + 11059
        } else {
            add(mag >> 2, 26112)
        };
        if lar < 0 { -r } else { r }
    })
}

/// RPE decoding (5.3.1 / 5.2.15 to 5.2.17): the sub-frame's excitation.
fn rpe_decode(sub: &Subframe) -> [i16; 40] {
    let (exp, mant) = xmaxc_to_exp_mant(i16::from(sub.xmaxc));
    let xmp = apcm_inverse_quantization(&sub.xmc, exp, mant);
    let mut erp = [0i16; 40];
    let mc = usize::from(sub.mc & 3);
    for (i, x) in xmp.into_iter().enumerate() {
        erp[mc + 3 * i] = x;
    }
    erp
}

/// Splits the coded block amplitude into exponent and mantissa (5.2.15).
fn xmaxc_to_exp_mant(xmaxc: i16) -> (i16, i16) {
    let mut exp = if xmaxc > 15 { (xmaxc >> 3) - 1 } else { 0 };
    let mut mant = xmaxc - (exp << 3);
    if mant == 0 {
        exp = -4;
        mant = 7;
    } else {
        while mant <= 7 {
            mant = (mant << 1) | 1;
            exp -= 1;
        }
        mant -= 8;
    }
    (exp, mant)
}

/// Inverse APCM quantization of the 13 RPE pulses (5.2.16).
fn apcm_inverse_quantization(xmc: &[u8; 13], exp: i16, mant: i16) -> [i16; 13] {
    let temp1 = FAC[(mant & 7) as usize];
    let temp2 = sub(6, exp);
    let temp3 = asl(1, sub(temp2, 1));
    xmc.map(|x| {
        // The 3-bit code is an odd level in -7..=7, scaled to Q12.
        let temp = ((i16::from(x & 7) << 1) - 7) << 12;
        let temp = add(mult_r(temp1, temp), temp3);
        asr(temp, temp2)
    })
}

/// GSM 06.10 in WAV49 blocks as a symphonia decoder. Packets hold whole 65-byte blocks; the
/// decoder's state runs on from one packet to the next until `reset`.
pub struct GsmMsDecoder {
    params: AudioCodecParameters,
    state: GsmDecoder,
    buf: AudioBuffer<i16>,
}

impl GsmMsDecoder {
    pub fn try_new(params: &AudioCodecParameters, _opts: &AudioDecoderOptions) -> Result<Self> {
        let frames_per_block = match params.codec {
            CODEC_ID_GSM_MS => BLOCK_SAMPLES,
            CODEC_ID_GSM_FRAMES => FRAME_SAMPLES,
            _ => return unsupported_error("gsm: invalid codec"),
        };
        let Some(rate) = params.sample_rate.filter(|&r| r > 0) else {
            return unsupported_error("gsm: sample rate is required");
        };
        match &params.channels {
            Some(channels) if channels.count() == 1 => {}
            Some(_) => return unsupported_error("gsm: only mono is supported"),
            None => return unsupported_error("gsm: channels are required"),
        }
        if params
            .frames_per_block
            .is_some_and(|f| f != frames_per_block as u64)
        {
            return unsupported_error("gsm: WAV49 blocks hold 320 samples, .gsm frames 160");
        }
        let capacity = params
            .max_frames_per_packet
            .map_or(BLOCK_SAMPLES, |f| f as usize)
            .clamp(BLOCK_SAMPLES, 1 << 20);
        Ok(GsmMsDecoder {
            params: params.clone(),
            state: GsmDecoder::new(),
            buf: AudioBuffer::new(AudioSpec::new(rate, layouts::CHANNEL_LAYOUT_MONO), capacity),
        })
    }

    /// The decoder state the next packet starts from.
    pub fn state(&self) -> &GsmDecoder {
        &self.state
    }

    /// Continues from a state saved with `state` (an exact seek).
    pub fn set_state(&mut self, state: GsmDecoder) {
        self.state = state;
    }

    fn decode_inner(&mut self, packet: &PacketRef<'_>) -> Result<()> {
        if self.params.codec == CODEC_ID_GSM_FRAMES {
            return self.decode_frames(packet);
        }
        let data = packet.data;
        if data.is_empty() || !data.len().is_multiple_of(BLOCK_BYTES) {
            return decode_error("gsm: a packet must hold whole 65-byte blocks");
        }
        let frames = data.len() / BLOCK_BYTES * BLOCK_SAMPLES;
        self.buf.clear();
        self.buf.grow_capacity(frames);
        self.buf.render_uninit(Some(frames));
        let Some(plane) = self.buf.plane_mut(0) else {
            return decode_error("gsm: missing audio plane");
        };
        for (block, out) in data
            .chunks_exact(BLOCK_BYTES)
            .zip(plane.chunks_exact_mut(BLOCK_SAMPLES))
        {
            let Ok(block) = <&[u8; BLOCK_BYTES]>::try_from(block) else {
                return decode_error("gsm: short block");
            };
            self.state.decode_block(block, out);
        }
        self.buf.trim(
            packet.trim_start.get() as usize,
            packet.trim_end.get() as usize,
        );
        Ok(())
    }
}

impl GsmMsDecoder {
    /// Decodes whole 33-byte `.gsm` frames.
    fn decode_frames(&mut self, packet: &PacketRef<'_>) -> Result<()> {
        const BYTES: usize = super::raw::GSM_FRAME_BYTES as usize;
        let data = packet.data;
        if data.is_empty() || !data.len().is_multiple_of(BYTES) {
            return decode_error("gsm: a packet must hold whole 33-byte frames");
        }
        let frames = data.len() / BYTES * FRAME_SAMPLES;
        self.buf.clear();
        self.buf.grow_capacity(frames);
        self.buf.render_uninit(Some(frames));
        let Some(plane) = self.buf.plane_mut(0) else {
            return decode_error("gsm: missing audio plane");
        };
        for (bytes, out) in data
            .chunks_exact(BYTES)
            .zip(plane.chunks_exact_mut(FRAME_SAMPLES))
        {
            let (Ok(bytes), Ok(out)) = (
                <&[u8; BYTES]>::try_from(bytes),
                <&mut [i16; FRAME_SAMPLES]>::try_from(out),
            ) else {
                return decode_error("gsm: short frame");
            };
            self.state
                .decode_frame(&super::raw::unpack_gsm_frame(bytes), out);
        }
        Ok(())
    }
}

impl AudioDecoder for GsmMsDecoder {
    fn reset(&mut self) {
        self.state = GsmDecoder::new();
    }

    fn codec_info(&self) -> &CodecInfo {
        let i = usize::from(self.params.codec == CODEC_ID_GSM_FRAMES);
        &SUPPORTED[i].info
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

const SUPPORTED: [SupportedAudioCodec; 2] = [
    SupportedAudioCodec {
        id: CODEC_ID_GSM_MS,
        info: CodecInfo {
            short_name: "gsm_ms",
            long_name: "GSM 06.10 full rate, Microsoft WAV49 packing",
            profiles: &[],
        },
    },
    SupportedAudioCodec {
        id: CODEC_ID_GSM_FRAMES,
        info: CodecInfo {
            short_name: "gsm",
            long_name: "GSM 06.10 full rate, 33-byte frames",
            profiles: &[],
        },
    },
];

impl RegisterableAudioDecoder for GsmMsDecoder {
    fn try_registry_new(
        params: &AudioCodecParameters,
        opts: &AudioDecoderOptions,
    ) -> Result<Box<dyn AudioDecoder>>
    where
        Self: Sized,
    {
        Ok(Box::new(GsmMsDecoder::try_new(params, opts)?))
    }

    fn supported_codecs() -> &'static [SupportedAudioCodec] {
        &SUPPORTED
    }
}

#[cfg(test)]
#[path = "gsm_tests.rs"]
mod tests;
