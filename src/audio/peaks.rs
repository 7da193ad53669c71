//! Waveform peaks: per channel, the lowest and highest sample of each ~16 ms "pixel", scaled
//! to -127..=127, so the player draws a whole call without downloading its audio.
//!
//! Computed once at ingest from the blocks the full decode hands out (no I/O here), and
//! stored as bytes: a 10-minute stereo call is 37 500 pixels, 150 KB.

/// A pixel is this long whatever the sample rate (128 frames at 8 kHz).
pub const PIXEL_MS: u64 = 16;

/// Recordings are mono or stereo (agent and customer); more channels are refused at ingest,
/// so they are not worth the memory here.
pub const MAX_CHANNELS: usize = 2;

/// Frames per pixel for a sample rate: 16 ms rounded to whole frames, at least one.
pub fn samples_per_pixel(sample_rate: u32) -> u32 {
    let spp = (u64::from(sample_rate) * PIXEL_MS + 500) / 1000;
    u32::try_from(spp.max(1)).unwrap_or(u32::MAX)
}

/// The waveform of a recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peaks {
    pub samples_per_pixel: u32,
    /// One lane per channel, all the same length: `min0, max0, min1, max1, ...`.
    pub lanes: Vec<Vec<i8>>,
}

impl Peaks {
    pub fn channels(&self) -> usize {
        self.lanes.len()
    }

    pub fn pixels(&self) -> usize {
        self.lanes.first().map_or(0, |l| l.len() / 2)
    }

    /// The stored form: the lanes one after the other, each value one signed byte.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.lanes
            .iter()
            .flat_map(|lane| lane.iter().map(|&v| v as u8))
            .collect()
    }

    /// Reads the stored form back; `None` when the bytes cannot be `channels` equal lanes of
    /// min/max pairs.
    pub fn from_bytes(samples_per_pixel: u32, channels: usize, bytes: &[u8]) -> Option<Peaks> {
        if channels == 0 || !bytes.len().is_multiple_of(2 * channels) {
            return None;
        }
        let lane_len = bytes.len() / channels;
        let lanes = bytes
            .chunks_exact(lane_len.max(1))
            .map(|lane| lane.iter().map(|&b| b as i8).collect())
            .collect::<Vec<Vec<i8>>>();
        // An empty waveform still has its channels.
        let lanes = if lane_len == 0 {
            vec![Vec::new(); channels]
        } else {
            lanes
        };
        Some(Peaks {
            samples_per_pixel,
            lanes,
        })
    }
}

/// Builds [`Peaks`] from interleaved blocks as they are decoded.
pub struct PeaksBuilder {
    samples_per_pixel: u32,
    channels: Option<usize>,
    /// Set when the blocks cannot be turned into a waveform (no rate, too many channels, the
    /// channel count changing midway): `finish` then gives nothing.
    unusable: bool,
    lanes: Vec<Vec<i8>>,
    lo: Vec<i16>,
    hi: Vec<i16>,
    /// Frames in the pixel being filled.
    filled: u32,
}

impl PeaksBuilder {
    pub fn new(sample_rate: u32) -> PeaksBuilder {
        PeaksBuilder {
            samples_per_pixel: samples_per_pixel(sample_rate),
            channels: None,
            unusable: sample_rate == 0,
            lanes: Vec::new(),
            lo: Vec::new(),
            hi: Vec::new(),
            filled: 0,
        }
    }

    /// One decoded block: `channels` samples per frame, interleaved.
    pub fn push(&mut self, block: &[i16], channels: usize) {
        if self.unusable {
            return;
        }
        match self.channels {
            None if channels == 0 || channels > MAX_CHANNELS => {
                self.unusable = true;
                return;
            }
            None => {
                self.channels = Some(channels);
                self.lanes = vec![Vec::new(); channels];
                self.lo = vec![i16::MAX; channels];
                self.hi = vec![i16::MIN; channels];
            }
            Some(c) if c != channels => {
                self.unusable = true;
                return;
            }
            Some(_) => {}
        }
        for frame in block.chunks_exact(channels) {
            for ((&s, lo), hi) in frame.iter().zip(&mut self.lo).zip(&mut self.hi) {
                *lo = (*lo).min(s);
                *hi = (*hi).max(s);
            }
            self.filled += 1;
            if self.filled == self.samples_per_pixel {
                self.flush();
            }
        }
    }

    fn flush(&mut self) {
        for ((lane, lo), hi) in self.lanes.iter_mut().zip(&mut self.lo).zip(&mut self.hi) {
            lane.push(scale(*lo));
            lane.push(scale(*hi));
            *lo = i16::MAX;
            *hi = i16::MIN;
        }
        self.filled = 0;
    }

    /// The waveform, the last pixel possibly shorter; `None` when nothing usable came in.
    pub fn finish(mut self) -> Option<Peaks> {
        if self.unusable || self.channels.is_none() {
            return None;
        }
        if self.filled > 0 {
            self.flush();
        }
        Some(Peaks {
            samples_per_pixel: self.samples_per_pixel,
            lanes: self.lanes,
        })
    }
}

/// A 16-bit sample on the -127..=127 scale, rounded to nearest.
pub fn scale(sample: i16) -> i8 {
    let v = (f32::from(sample) * 127.0 / 32768.0).round();
    v.clamp(-127.0, 127.0) as i8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pixel_is_about_16_ms_at_every_rate() {
        assert_eq!(samples_per_pixel(8000), 128);
        assert_eq!(samples_per_pixel(16000), 256);
        assert_eq!(samples_per_pixel(48000), 768);
        assert_eq!(samples_per_pixel(44100), 706);
        assert_eq!(samples_per_pixel(1), 1);
    }

    #[test]
    fn scaling_covers_the_range_symmetrically() {
        assert_eq!(scale(0), 0);
        assert_eq!(scale(i16::MAX), 127);
        assert_eq!(scale(i16::MIN), -127);
        assert_eq!(scale(16384), 64);
        assert_eq!(scale(-16384), -64);
        assert_eq!(scale(100), 0);
    }

    #[test]
    fn min_and_max_per_pixel_per_channel() {
        let mut b = PeaksBuilder::new(8000);
        // 128 frames of left = +i, right = silence, then 100 frames of left silence, right
        // loud; blocks of odd sizes so pixels straddle them.
        let mut samples = Vec::new();
        for i in 0..128i16 {
            samples.extend([i * 200, 0]);
        }
        for _ in 0..100 {
            samples.extend([0, -32768]);
        }
        for chunk in samples.chunks(2 * 37) {
            b.push(chunk, 2);
        }
        let p = b.finish().unwrap();
        assert_eq!(p.samples_per_pixel, 128);
        assert_eq!(p.channels(), 2);
        assert_eq!(p.pixels(), 2);
        assert_eq!(p.lanes[0], vec![0, scale(127 * 200), 0, 0]);
        assert_eq!(p.lanes[1], vec![0, 0, -127, -127]);
    }

    #[test]
    fn bytes_round_trip() {
        let p = Peaks {
            samples_per_pixel: 128,
            lanes: vec![vec![-127, 127, -3, 4], vec![0, 0, -1, 1]],
        };
        let bytes = p.to_bytes();
        assert_eq!(bytes.len(), 8);
        assert_eq!(Peaks::from_bytes(128, 2, &bytes), Some(p));
        assert_eq!(Peaks::from_bytes(128, 2, &bytes[..6]), None);
        assert_eq!(Peaks::from_bytes(128, 0, &bytes), None);
        let empty = Peaks::from_bytes(128, 2, &[]).unwrap();
        assert_eq!((empty.channels(), empty.pixels()), (2, 0));
    }

    #[test]
    fn unusable_input_gives_nothing() {
        let mut b = PeaksBuilder::new(8000);
        b.push(&[0; 9], 3);
        assert_eq!(b.finish(), None);
        let mut b = PeaksBuilder::new(8000);
        b.push(&[0; 4], 2);
        b.push(&[0; 4], 1);
        assert_eq!(b.finish(), None);
        let mut b = PeaksBuilder::new(0);
        b.push(&[0; 4], 1);
        assert_eq!(b.finish(), None);
        assert_eq!(PeaksBuilder::new(8000).finish(), None);
    }
}
