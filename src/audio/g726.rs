//! ITU-T G.726 ADPCM decoding at 16, 24, 32 and 40 kbit/s (2-, 3-, 4- and 5-bit codewords
//! per 8 kHz sample), to linear 16-bit PCM.
//!
//! The decoder follows the recommendation's section 4 computational details block by block:
//! inverse adaptive quantizer (RECONST, ADDA, ANTILOG), quantizer scale factor adaptation
//! (FUNCTW, FILTD, LIMB, FILTE, MIX), adaptation speed control (FUNCTF, FILTA/FILTB/FILTC,
//! SUBTC, TRIGB), the adaptive predictor (UPA1, UPA2, UPB, LIMC, LIMD, FLOATA/FLOATB, FMULT,
//! ACCUM) and tone and transition detection (TONE, TRANS). The predictor multiplies in the
//! recommendation's 11-bit floating point (`Float`), so the output matches other decoders of
//! the recommendation sample for sample; it is exactly what ffmpeg (our reference decoder)
//! outputs, including its last step: the 14-bit reconstructed signal is scaled to 16 bits,
//! limited to ±65535 and then wrapped to 16 bits.
//!
//! How codewords are packed into bytes is not part of the recommendation and differs
//! between writers; see `Packing`.
//!
//! The decoder carries its state from sample to sample, so a decode started mid-stream
//! differs from a continuous one; `Decoder` is `Clone` so that seeks can resume from saved
//! copies (see `wav`).

/// How successive codewords fill bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packing {
    /// The first codeword in the most significant bits of the first byte (ITU-T I.366.2
    /// "AAL2" order). ffmpeg's `g726` encoder and its WAV muxer write this, and ffmpeg reads
    /// every G.726 WAV tag this way.
    MsbFirst,
    /// The first codeword in the least significant bits of the first byte (RFC 3551 section
    /// 4.5.4). RTP payloads `G726-16/24/32/40` and Asterisk's `.g726` files (frames of its
    /// RFC 3551 `g726` codec) use this; ffmpeg calls it `g726le`.
    LsbFirst,
}

/// The recommendation's tables for one bit rate, indexed by the whole codeword.
struct Tables {
    /// Inverse quantizer output in the log domain (IQ, DQLN + offset), `i32::MIN`-like
    /// values for the codewords that reconstruct to 0.
    inverse: &'static [i32],
    /// Scale factor multipliers (W).
    w: &'static [i32],
    /// Speed control transitions (F).
    f: &'static [i32],
}

const ZERO: i32 = -32768;

const IQ16: [i32; 4] = [116, 365, 365, 116];
const W16: [i32; 4] = [-22, 439, 439, -22];
const F16: [i32; 4] = [0, 7, 7, 0];

const IQ24: [i32; 8] = [ZERO, 135, 273, 373, 373, 273, 135, ZERO];
const W24: [i32; 8] = [-4, 30, 137, 582, 582, 137, 30, -4];
const F24: [i32; 8] = [0, 1, 2, 7, 7, 2, 1, 0];

const IQ32: [i32; 16] = [
    ZERO, 4, 135, 213, 273, 323, 373, 425, 425, 373, 323, 273, 213, 135, 4, ZERO,
];
const W32: [i32; 16] = [
    -12, 18, 41, 64, 112, 198, 355, 1122, 1122, 355, 198, 112, 64, 41, 18, -12,
];
const F32: [i32; 16] = [0, 0, 0, 1, 1, 1, 3, 7, 7, 3, 1, 1, 1, 0, 0, 0];

const IQ40: [i32; 32] = [
    ZERO, -66, 28, 104, 169, 224, 274, 318, 358, 395, 429, 459, 488, 514, 539, 566, 566, 539, 514,
    488, 459, 429, 395, 358, 318, 274, 224, 169, 104, 28, -66, ZERO,
];
const W40: [i32; 32] = [
    14, 14, 24, 39, 40, 41, 58, 100, 141, 179, 219, 280, 358, 440, 529, 696, 696, 529, 440, 358,
    280, 219, 179, 141, 100, 58, 41, 40, 39, 24, 14, 14,
];
const F40: [i32; 32] = [
    0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 5, 4, 3, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
];

fn tables(bits: u32) -> &'static Tables {
    static T: [Tables; 4] = [
        Tables {
            inverse: &IQ16,
            w: &W16,
            f: &F16,
        },
        Tables {
            inverse: &IQ24,
            w: &W24,
            f: &F24,
        },
        Tables {
            inverse: &IQ32,
            w: &W32,
            f: &F32,
        },
        Tables {
            inverse: &IQ40,
            w: &W40,
            f: &F40,
        },
    ];
    &T[(bits.clamp(2, 5) - 2) as usize]
}

/// The recommendation's 11-bit floating point: sign, 4-bit exponent, 6-bit mantissa
/// (FLOATA/FLOATB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Float {
    negative: bool,
    exp: u32,
    mant: u32,
}

impl Float {
    /// The value 0 as the recommendation's reset leaves it (mantissa 1/2).
    const RESET: Float = Float {
        negative: false,
        exp: 0,
        mant: 32,
    };

    fn from_int(x: i32) -> Float {
        let mag = x.unsigned_abs();
        // The exponent is the magnitude's bit length. (Values above 16 bits never occur
        // in a decode of real data; they get their true bit length.)
        let exp = 32 - mag.leading_zeros();
        let mant = if mag == 0 {
            32
        } else {
            ((u64::from(mag) << 6) >> exp) as u32
        };
        Float {
            negative: x < 0,
            exp,
            mant,
        }
    }

    /// FMULT: the product of two floats, as a 16-bit integer (the recommendation's WAn and
    /// WBn are 16-bit words; a product that does not fit wraps, as in ffmpeg).
    fn mul(self, other: Float) -> i16 {
        let exp = self.exp + other.exp;
        let m = i64::from((self.mant * other.mant + 0x30) >> 4);
        let mag = if exp > 19 {
            m << (exp - 19).min(40)
        } else {
            m >> (19 - exp)
        };
        let product = if self.negative != other.negative {
            -mag
        } else {
            mag
        };
        product as i16
    }
}

fn sign(x: i32) -> i32 {
    if x < 0 { -1 } else { 1 }
}

/// A G.726 decoder's complete state for one bit rate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoder {
    bits: u32,
    /// The last two reconstructed signals (SR).
    sr: [Float; 2],
    /// The last six quantized differences (DQ); the sign is the codeword's sign bit.
    dq: [Float; 6],
    /// Pole coefficients A1, A2.
    a: [i32; 2],
    /// Zero coefficients B1..B6.
    b: [i32; 6],
    /// Signs of the last two partial signal estimates plus differences (PK).
    pk: [i32; 2],
    /// Speed control (AP), fast and slow scale factors (YU, YL), short and long term
    /// averages of F (DMS, DML), tone detected (TD).
    ap: i32,
    yu: i32,
    yl: i32,
    dms: i32,
    dml: i32,
    td: bool,
    /// Signal estimate (SE), its zero-section part (SEZ) and the scale factor (Y) for the
    /// next sample.
    se: i32,
    sez: i32,
    y: i32,
}

impl Decoder {
    /// A decoder of `bits`-bit codewords (2 to 5; others are limited to that range).
    pub fn new(bits: u32) -> Decoder {
        Decoder {
            bits: bits.clamp(2, 5),
            sr: [Float::RESET; 2],
            dq: [Float::RESET; 6],
            a: [0; 2],
            b: [0; 6],
            pk: [1; 2],
            ap: 0,
            yu: 544,
            yl: 34816,
            dms: 0,
            dml: 0,
            td: false,
            se: 0,
            sez: 0,
            y: 544,
        }
    }

    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Decodes one codeword (its low `bits` bits are used).
    pub fn decode_code(&mut self, code: u8) -> i16 {
        let t = tables(self.bits);
        let i = usize::from(code) & ((1 << self.bits) - 1);
        let negative = i >> (self.bits - 1) != 0;

        // RECONST, ADDA, ANTILOG: the difference's magnitude from the log domain.
        let dql = t.inverse[i] + (self.y >> 2);
        // (A 16-bit word: 15-bit magnitudes at most, as the scale factor's limit keeps it.)
        let mut dq = if dql < 0 {
            0
        } else {
            i32::from((((128 + (dql & 127)) << ((dql >> 7) & 15)) >> 7) as i16)
        };

        // TRANS: a large difference after a tone means a transition; the predictor resets.
        let yl_int = self.yl >> 15;
        let yl_frac = (self.yl >> 10) & 31;
        let threshold = if yl_int > 9 {
            31 << 10
        } else {
            (32 + yl_frac) << yl_int
        };
        let transition = self.td && dq > (3 * threshold) >> 2;

        if negative {
            dq = -dq;
        }
        let reconstructed = self.se.wrapping_add(dq);

        // UPA2, UPA1, UPB with LIMC and LIMD.
        let p = self.sez.wrapping_add(dq);
        let pk0 = if p == 0 { 0 } else { sign(p) };
        let dq_sign = if dq == 0 { 0 } else { sign(dq) };
        if transition {
            self.a = [0; 2];
            self.b = [0; 6];
        } else {
            // F(A1) is limited to [-256, 255] (the recommendation's 2^-7 * 2 * A1 with
            // its limit, in this scaling).
            let fa1 = ((-self.a[0] * self.pk[0] * pk0) >> 5).clamp(-256, 255);
            let a2 = self.a[1] + 128 * pk0 * self.pk[1] + fa1 - (self.a[1] >> 7);
            self.a[1] = a2.clamp(-12288, 12288);
            let limit = 15360 - self.a[1];
            let a1 = self.a[0] + 192 * pk0 * self.pk[0] - (self.a[0] >> 8);
            self.a[0] = a1.clamp(-limit, limit);
            for (b, past) in self.b.iter_mut().zip(&self.dq) {
                let past_sign = if past.negative { -1 } else { 1 };
                *b += 128 * dq_sign * past_sign - (*b >> 8);
            }
        }

        self.pk = [if pk0 == 0 { 1 } else { pk0 }, self.pk[0]];
        self.sr = [Float::from_int(reconstructed), self.sr[0]];
        self.dq.rotate_right(1);
        self.dq[0] = Float {
            // The sign is the codeword's, even for a zero difference.
            negative,
            ..Float::from_int(dq)
        };

        // TONE: A2 below -0.71875 means a tone (a narrow-band signal).
        self.td = self.a[1] < -11776;

        // FUNCTF, FILTA, FILTB, SUBTC, FILTC: speed control.
        let f = t.f[i];
        self.dms += (f << 4) + ((-self.dms) >> 5);
        self.dml += (f << 4) + ((-self.dml) >> 7);
        if transition {
            self.ap = 256;
        } else {
            self.ap += (-self.ap) >> 4;
            if self.y <= 1535 || self.td || ((self.dms << 2) - self.dml).abs() >= self.dml >> 3 {
                self.ap += 32;
            }
        }

        // FUNCTW, FILTD, LIMB, FILTE: fast and slow scale factors.
        self.yu = (self.y + t.w[i] + ((-self.y) >> 5)).clamp(544, 5120);
        self.yl += self.yu + ((-self.yl) >> 6);

        // LIMA, MIX: the scale factor of the next sample.
        let al = if self.ap >= 256 { 64 } else { self.ap >> 2 };
        self.y = (self.yl + (self.yu - (self.yl >> 6)) * al) >> 6;

        // FMULT, ACCUM: the signal estimate of the next sample.
        let zeros: i32 = self
            .b
            .iter()
            .zip(&self.dq)
            .map(|(&b, &d)| i32::from(Float::from_int(b >> 2).mul(d)))
            .sum();
        let poles: i32 = self
            .a
            .iter()
            .zip(&self.sr)
            .map(|(&a, &s)| i32::from(Float::from_int(a >> 2).mul(s)))
            .sum();
        self.sez = zeros >> 1;
        self.se = (zeros + poles) >> 1;

        // The 14-bit signal to 16 bits, limited to ±65535 and kept in 16 bits (see above).
        (reconstructed.saturating_mul(4).clamp(-0xffff, 0xffff)) as i16
    }

    /// Decodes the codewords of `bytes` packed as `packing` into `out`, which must hold
    /// `bytes.len() * 8 / bits` samples; bits left over at the end are ignored. Returns how
    /// many samples were written.
    pub fn decode(&mut self, bytes: &[u8], packing: Packing, out: &mut [i16]) -> usize {
        let bits = self.bits;
        let mask = (1u32 << bits) - 1;
        let mut acc: u32 = 0;
        let mut have: u32 = 0;
        let mut n = 0;
        for &byte in bytes {
            match packing {
                Packing::MsbFirst => acc = (acc << 8) | u32::from(byte),
                Packing::LsbFirst => acc |= u32::from(byte) << have,
            }
            have += 8;
            while have >= bits {
                let code = match packing {
                    Packing::MsbFirst => (acc >> (have - bits)) & mask,
                    Packing::LsbFirst => {
                        let c = acc & mask;
                        acc >>= bits;
                        c
                    }
                };
                have -= bits;
                if packing == Packing::MsbFirst {
                    acc &= (1 << have) - 1;
                }
                let Some(slot) = out.get_mut(n) else {
                    return n;
                };
                *slot = self.decode_code(code as u8);
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn floats_split_like_the_recommendation() {
        assert_eq!(Float::from_int(0), Float::RESET);
        let f = Float::from_int(-5);
        assert_eq!((f.negative, f.exp, f.mant), (true, 3, 40));
        let f = Float::from_int(1);
        assert_eq!((f.exp, f.mant), (1, 32));
        // 512 * 512 (exponents 10 + 10, mantissas 32 * 32 rounded by 0x30) scaled by
        // 2^-18 as FMULT does.
        assert_eq!(Float::from_int(512).mul(Float::from_int(512)), 134);
        assert_eq!(Float::from_int(-512).mul(Float::from_int(512)), -134);
    }

    #[test]
    fn the_two_packings_read_codewords_in_opposite_orders() {
        // Four 4-bit codewords 1, 2, 3, 4.
        let msb = [0x12, 0x34];
        let lsb = [0x21, 0x43];
        let mut a = Decoder::new(4);
        let mut b = Decoder::new(4);
        let (mut x, mut y) = ([0i16; 4], [0i16; 4]);
        assert_eq!(a.decode(&msb, Packing::MsbFirst, &mut x), 4);
        assert_eq!(b.decode(&lsb, Packing::LsbFirst, &mut y), 4);
        assert_eq!(x, y);
        // 3-bit codewords 0..8 in three bytes, both orders, against decoding one by one.
        let codes: Vec<u8> = (0..8).collect();
        let mut msb_bits = 0u32;
        let mut lsb_bits = 0u32;
        for (k, &c) in codes.iter().enumerate() {
            msb_bits = (msb_bits << 3) | u32::from(c);
            lsb_bits |= u32::from(c) << (3 * k);
        }
        let msb = [
            (msb_bits >> 16) as u8,
            (msb_bits >> 8) as u8,
            msb_bits as u8,
        ];
        let lsb = [
            lsb_bits as u8,
            (lsb_bits >> 8) as u8,
            (lsb_bits >> 16) as u8,
        ];
        let mut one = Decoder::new(3);
        let want: Vec<i16> = codes.iter().map(|&c| one.decode_code(c)).collect();
        for (bytes, packing) in [(msb, Packing::MsbFirst), (lsb, Packing::LsbFirst)] {
            let mut d = Decoder::new(3);
            let mut out = [0i16; 8];
            assert_eq!(d.decode(&bytes, packing, &mut out), 8);
            assert_eq!(out.to_vec(), want, "{packing:?}");
        }
    }

    #[test]
    fn a_cloned_state_resumes_exactly() {
        let bytes: Vec<u8> = (0..3000u32).map(|i| (i * 73 % 256) as u8).collect();
        for bits in 2..=5 {
            let n = bytes.len() * 8 / bits as usize;
            let mut all = vec![0i16; n];
            Decoder::new(bits).decode(&bytes, Packing::MsbFirst, &mut all);
            // Split at a whole group of codewords (lcm(bits, 8) bits).
            let group = if bits % 2 == 0 { 1 } else { bits as usize };
            let split = 300 * group;
            let mut d = Decoder::new(bits);
            let head = split * 8 / bits as usize;
            let mut out = vec![0i16; head];
            d.decode(&bytes[..split], Packing::MsbFirst, &mut out);
            let mut tail = vec![0i16; n - head];
            d.clone()
                .decode(&bytes[split..], Packing::MsbFirst, &mut tail);
            assert_eq!(&all[head..], &tail[..], "{bits} bits");
        }
    }

    #[test]
    fn scale_factors_stay_within_their_limits() {
        for bits in 2..=5 {
            let mut d = Decoder::new(bits);
            let top = (1u8 << (bits - 1)) - 1;
            for k in 0..50_000u32 {
                // The largest positive step, with a flip now and then.
                d.decode_code(if k % 97 == 0 { !top } else { top });
                assert!((544..=5120).contains(&d.yu));
                assert!(d.a[1].abs() <= 12288);
                assert!(d.a[0].abs() <= 15360 - d.a[1]);
            }
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_overflow(bytes in proptest::collection::vec(any::<u8>(), 0..4096),
                                       bits in 2u32..=5, lsb in any::<bool>()) {
            let mut d = Decoder::new(bits);
            let packing = if lsb { Packing::LsbFirst } else { Packing::MsbFirst };
            let mut out = vec![0i16; bytes.len() * 8 / bits as usize];
            let n = d.decode(&bytes, packing, &mut out);
            prop_assert_eq!(n, out.len());
        }
    }
}
