//! ITU-T G.722 decoding: 7 kHz wideband speech at 16 kHz in 64 kbit/s, as HD-voice desk
//! phones (Cisco, Avaya, Polycom) record it.
//!
//! Each input byte holds one 8 kHz sample of two sub-bands: the low 6 bits are the lower
//! band's ADPCM codeword (0-4 kHz), the high 2 bits the higher band's (4-8 kHz). Both bands
//! are decoded by the recommendation's blocks (inverse quantizer INVQAL/INVQAH, log-scale
//! factor adaptation LOGSCL/LOGSCH, SCALEL/SCALEH, pole and zero predictor updates UPPOL1,
//! UPPOL2, UPZERO, FILTEP, FILTEZ), and the receive QMF turns the two 8 kHz bands into two
//! 16 kHz output samples. Everything is the recommendation's fixed-point integer arithmetic
//! with its limiters, so the output is bit-exact with the ITU reference (and with ffmpeg,
//! which passes the ITU test vectors).
//!
//! The 56 and 48 kbit/s modes (`Mode`) use the same bytes with 1 or 2 low bits of each
//! lower-band codeword left unused; they change only the inverse quantizer table.
//!
//! The decoder carries its whole state (two predictors, two scale factors and the QMF's 24
//! past values) from byte to byte, so a decode started mid-stream differs from a continuous
//! one; `Decoder` is `Clone` so that seeks can resume from saved copies (see `wav`).

/// Output samples per input byte.
pub const SAMPLES_PER_BYTE: usize = 2;

/// Which of the recommendation's three bit rates the bytes carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Mode 1: all 6 lower-band bits carry audio.
    Kbit64,
    /// Mode 2: the lowest bit of each byte is auxiliary data.
    Kbit56,
    /// Mode 3: the lowest 2 bits of each byte are auxiliary data.
    Kbit48,
}

/// The log-to-linear table of SCALEL/SCALEH: 2^(i/32) in Q11.
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];

/// Lower band, 4-bit inverse quantizer (QQ4 with its sign applied), indexed by the codeword's
/// top 4 bits: the value that adapts the predictor in every mode.
const QQ4: [i32; 16] = [
    0, -2557, -1612, -1121, -786, -530, -323, -150, 2557, 1612, 1121, 786, 530, 323, 150, 0,
];

/// Lower band, 5-bit inverse quantizer (mode 2 output), indexed by the top 5 bits.
const QQ5: [i32; 32] = [
    -35, -35, -2919, -2195, -1765, -1458, -1219, -1023, -858, -714, -587, -473, -370, -276, -190,
    -110, 2919, 2195, 1765, 1458, 1219, 1023, 858, 714, 587, 473, 370, 276, 190, 110, 35, -35,
];

/// Lower band, 6-bit inverse quantizer (mode 1 output), indexed by the 6-bit codeword.
const QQ6: [i32; 64] = [
    -17, -17, -17, -17, -3101, -2738, -2376, -2088, -1873, -1689, -1535, -1399, -1279, -1170,
    -1072, -982, -899, -822, -750, -682, -618, -558, -501, -447, -396, -347, -300, -254, -211,
    -170, -130, -91, 3101, 2738, 2376, 2088, 1873, 1689, 1535, 1399, 1279, 1170, 1072, 982, 899,
    822, 750, 682, 618, 558, 501, 447, 396, 347, 300, 254, 211, 170, 130, 91, 54, 17, -54, -17,
];

/// Lower band log-scale factor steps (WL through RIL4), indexed by the top 4 bits.
const WL: [i32; 16] = [
    -60, 3042, 1198, 538, 334, 172, 58, -30, 3042, 1198, 538, 334, 172, 58, -30, -60,
];

/// Higher band inverse quantizer (QQ2 with its sign), indexed by the 2-bit codeword.
const QQ2: [i32; 4] = [-926, -202, 926, 202];

/// Higher band log-scale factor steps, indexed by the codeword's low bit.
const WH: [i32; 2] = [798, -214];

/// Receive QMF coefficients (Table 11 of the recommendation, one half of the symmetric
/// 24-tap filter).
const QMF: [i32; 12] = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11];

/// Upper limit of the lower band's log-scale factor (NBL), and of the higher band's (NBH).
const NBL_MAX: i32 = 18432;
const NBH_MAX: i32 = 22528;

fn clamp16(x: i32) -> i32 {
    x.clamp(-32768, 32767)
}

/// One sub-band's ADPCM state: the adaptive predictor and the quantizer scale.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Band {
    /// Signal estimate of the pole and zero sections together (SL / SH).
    estimate: i32,
    /// Zero-section estimate (SZL / SZH).
    zero_estimate: i32,
    /// Signs (true = negative) of the last two partially reconstructed signals (P).
    p_negative: [bool; 2],
    /// The last reconstructed signal of the pole section (RLT / RH, doubled).
    prev_reconstructed: i32,
    /// Pole coefficients A1, A2.
    pole: [i32; 2],
    /// The last six quantized differences (DLT / DH, doubled).
    diffs: [i32; 6],
    /// Zero coefficients B1..B6.
    zero: [i32; 6],
    /// Log-scale factor (NBL / NBH).
    log_scale: i32,
    /// Linear scale factor (DETL / DETH).
    scale: i32,
}

impl Band {
    fn new(scale: i32) -> Band {
        Band {
            estimate: 0,
            zero_estimate: 0,
            p_negative: [false; 2],
            prev_reconstructed: 0,
            pole: [0; 2],
            diffs: [0; 6],
            zero: [0; 6],
            log_scale: 0,
            scale,
        }
    }

    /// UPPOL2, UPPOL1, UPZERO, then FILTEZ and FILTEP for the next sample, from this
    /// sample's quantized difference `d`.
    fn adapt(&mut self, d: i32) {
        let p_negative = self.zero_estimate + d < 0;
        // sg0: +1 when the sign of P differs from the previous one's (minus the product of
        // the two signs), sg1: +1 when it equals the one before that (their product).
        let sg0 = if p_negative != self.p_negative[0] {
            1
        } else {
            -1
        };
        let sg1 = if p_negative == self.p_negative[1] {
            1
        } else {
            -1
        };
        self.p_negative = [p_negative, self.p_negative[0]];

        // UPPOL2: A2 leaks by 1/128 and moves by 1/64 (128 in Q14) toward the sign
        // agreement; the A1 term is limited so the product cannot overflow.
        let a1_term = (sg0 * self.pole[0].clamp(-8191, 8191)) >> 5;
        let a2 = (a1_term + (sg1 << 7) + ((self.pole[1] * 127) >> 7)).clamp(-12288, 12288);
        self.pole[1] = a2;
        // UPPOL1: A1 leaks by 1/256 and moves by 3/256; |A1| <= 1 - 2^-4 - A2 keeps the
        // two-pole section stable.
        let limit = 15360 - a2;
        self.pole[0] = (-192 * sg0 + ((self.pole[0] * 255) >> 8)).clamp(-limit, limit);

        // UPZERO: each B leaks by 1/256 and moves by 1/128 toward sign agreement of the
        // current and delayed difference (no move when the difference is zero).
        for (b, &past) in self.zero.iter_mut().zip(&self.diffs) {
            let leaked = (*b * 255) >> 8;
            *b = if d == 0 {
                leaked
            } else if (past ^ d) < 0 {
                leaked - 128
            } else {
                leaked + 128
            };
        }
        self.diffs.rotate_right(1);
        self.diffs[0] = clamp16(d << 1);

        // FILTEZ: the zero section's estimate for the next sample.
        self.zero_estimate = self
            .zero
            .iter()
            .zip(&self.diffs)
            .map(|(&b, &dd)| (b * dd) >> 15)
            .sum();

        // FILTEP and the total estimate, from this and the previous reconstructed signal.
        let reconstructed = clamp16((self.estimate + d) << 1);
        self.estimate = clamp16(
            self.zero_estimate
                + ((self.pole[0] * reconstructed) >> 15)
                + ((self.pole[1] * self.prev_reconstructed) >> 15),
        );
        self.prev_reconstructed = reconstructed;
    }

    /// SCALEL/SCALEH: the linear scale from the log-scale factor, `bias` being the band's
    /// offset (8 for the lower band, 10 for the higher) in Q11.
    fn rescale(&mut self, bias: i32) {
        let x = self.log_scale - (bias << 11);
        let mantissa = ILB[((x >> 6) & 31) as usize];
        let shift = x >> 11;
        self.scale = if shift < 0 {
            mantissa >> (-shift).min(31)
        } else {
            mantissa << shift.min(15)
        };
    }
}

/// A G.722 decoder's complete state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoder {
    mode: Mode,
    low: Band,
    high: Band,
    /// The receive QMF's delay line: the last 24 values of the sum and difference of the two
    /// bands, oldest first.
    qmf: [i32; 24],
}

impl Decoder {
    pub fn new(mode: Mode) -> Decoder {
        Decoder {
            mode,
            // The recommendation's reset values of DETL and DETH.
            low: Band::new(8),
            high: Band::new(2),
            qmf: [0; 24],
        }
    }

    /// Decodes one byte into two 16 kHz samples.
    pub fn decode_byte(&mut self, byte: u8) -> [i16; 2] {
        let high_code = usize::from(byte >> 6);
        let low6 = usize::from(byte & 0x3f);
        // INVQBL: the lower band's output difference at the mode's resolution.
        let low_table_value = match self.mode {
            Mode::Kbit64 => QQ6[low6],
            Mode::Kbit56 => QQ5[low6 >> 1],
            Mode::Kbit48 => QQ4[low6 >> 2],
        };
        let low =
            (((self.low.scale * low_table_value) >> 10) + self.low.estimate).clamp(-16384, 16383);

        // The predictor and the scale always adapt from the 4-bit codeword (so that every
        // mode stays in step with the encoder, whatever bits were dropped).
        let low4 = low6 >> 2;
        self.low.adapt((self.low.scale * QQ4[low4]) >> 10);
        self.low.log_scale = (((self.low.log_scale * 127) >> 7) + WL[low4]).clamp(0, NBL_MAX);
        self.low.rescale(8);

        let high_diff = (self.high.scale * QQ2[high_code]) >> 10;
        let high = (high_diff + self.high.estimate).clamp(-16384, 16383);
        self.high.adapt(high_diff);
        self.high.log_scale =
            (((self.high.log_scale * 127) >> 7) + WH[high_code & 1]).clamp(0, NBH_MAX);
        self.high.rescale(10);

        // Receive QMF: the sum and difference of the bands enter the delay line; the even
        // and odd taps make the two output samples.
        self.qmf.copy_within(2.., 0);
        self.qmf[22] = low + high;
        self.qmf[23] = low - high;
        let (mut first, mut second) = (0i32, 0i32);
        for (i, &c) in QMF.iter().enumerate() {
            second += self.qmf[2 * i] * c;
            first += self.qmf[2 * i + 1] * QMF[11 - i];
        }
        [clamp16(first >> 11) as i16, clamp16(second >> 11) as i16]
    }

    /// Decodes `bytes` into `out`, which must hold `SAMPLES_PER_BYTE` samples per byte.
    pub fn decode(&mut self, bytes: &[u8], out: &mut [i16]) {
        for (&b, pair) in bytes.iter().zip(out.chunks_exact_mut(SAMPLES_PER_BYTE)) {
            pair.copy_from_slice(&self.decode_byte(b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_predictor_stays_within_the_recommendations_limits() {
        let mut d = Decoder::new(Mode::Kbit64);
        // The largest positive lower-band step and the largest higher-band step, forever.
        for _ in 0..20_000 {
            d.decode_byte(0b1010_0000);
            for band in [&d.low, &d.high] {
                assert!(band.pole[1].abs() <= 12288);
                assert!(band.pole[0].abs() <= 15360 - band.pole[1]);
                assert!(band.zero.iter().all(|b| (-32768..=32767).contains(b)));
            }
            assert!((0..=NBL_MAX).contains(&d.low.log_scale));
            assert!((0..=NBH_MAX).contains(&d.high.log_scale));
        }
    }

    #[test]
    fn a_cloned_state_resumes_exactly() {
        let bytes: Vec<u8> = (0..4000u32).map(|i| (i * 37 % 251) as u8).collect();
        let mut whole = Decoder::new(Mode::Kbit64);
        let mut all = vec![0i16; 8000];
        whole.decode(&bytes, &mut all);
        let mut d = Decoder::new(Mode::Kbit64);
        let mut head = vec![0i16; 2000];
        d.decode(&bytes[..1000], &mut head);
        let mut resumed = d.clone();
        let mut tail = vec![0i16; 6000];
        resumed.decode(&bytes[1000..], &mut tail);
        assert_eq!(&all[2000..], &tail[..]);
    }

    #[test]
    fn the_lower_modes_differ_only_in_the_dropped_bits() {
        let bytes: Vec<u8> = (0..3000u32).map(|i| (i * 101 % 256) as u8).collect();
        let decode = |mode, mask: u8| {
            let mut d = Decoder::new(mode);
            let mut out = vec![0i16; 6000];
            let masked: Vec<u8> = bytes.iter().map(|b| b & mask).collect();
            d.decode(&masked, &mut out);
            out
        };
        // Mode 3 ignores the two low bits, mode 2 the lowest one.
        assert_eq!(decode(Mode::Kbit48, 0xFF), decode(Mode::Kbit48, 0xFC));
        assert_eq!(decode(Mode::Kbit56, 0xFF), decode(Mode::Kbit56, 0xFE));
        assert_ne!(decode(Mode::Kbit64, 0xFF), decode(Mode::Kbit64, 0xFE));
    }

    proptest! {
        #[test]
        fn random_bytes_never_overflow(bytes in proptest::collection::vec(any::<u8>(), 0..4096),
                                       mode in 0usize..3) {
            let mode = [Mode::Kbit64, Mode::Kbit56, Mode::Kbit48][mode];
            let mut d = Decoder::new(mode);
            let mut out = vec![0i16; bytes.len() * 2];
            d.decode(&bytes, &mut out);
            prop_assert!((0..=NBL_MAX).contains(&d.low.log_scale));
        }
    }
}
