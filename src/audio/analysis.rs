//! Call analysis from the signal alone: when each side talks, the longest silences (dead air,
//! hold) and, on stereo recordings, when both sides talk at once (overtalk).
//!
//! Talk is found by energy: the audio is cut into 20 ms frames; a frame is talk when its RMS
//! level is well above the channel's own noise floor (its background level between words),
//! within absolute bounds; pauses shorter than 300 ms do not split a segment
//! (hangover), and blips shorter than 100 ms (clicks) are not talk. Times are milliseconds
//! from the start of the recording.
//!
//! Computed at ingest from the blocks the full decode hands out; no I/O here.

use serde::{Deserialize, Serialize};

/// Length of an analysis frame.
pub const FRAME_MS: u64 = 20;
/// Pauses shorter than this stay inside one talk segment.
pub const HANGOVER_MS: u64 = 300;
/// Shorter bursts are clicks or line noise, not talk.
pub const MIN_TALK_MS: u64 = 100;
/// The noise floor is this quantile of a channel's frame levels: callers pause and listen
/// far more than a tenth of any call, so it lands on the line's background noise.
const FLOOR_QUANTILE: f64 = 0.10;
/// Talk is at least this far above the noise floor...
const ABOVE_FLOOR_DB: f64 = 12.0;
/// ...but never needs to be louder than this: normal speech on a telephone line is around
/// -20 dBFS, and a channel that talks almost all the time has its "floor" inside the speech...
const MAX_THRESHOLD_DBFS: f64 = -35.0;
/// ...and never quieter than this (a channel of digital silence has a floor of -90 dBFS,
/// and the faint ringing of a band-pass filter is not talk).
const MIN_THRESHOLD_DBFS: f64 = -55.0;
/// The level of a frame of digital silence: an RMS of one least-significant bit.
const SILENCE_DBFS: f64 = -90.309;
/// Recordings are mono or stereo; more channels are refused at ingest.
pub const MAX_CHANNELS: usize = 2;

/// `[start_ms, end_ms)`, serialized as a two-element array.
pub type Interval = [u64; 2];

/// One stretch of time, serialized as `{"start_ms":..,"end_ms":..}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start_ms: u64,
    pub end_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelAnalysis {
    /// Talk segments, sorted and disjoint.
    pub talk: Vec<Interval>,
    pub talk_ms: u64,
    /// The longest stretch without talk on this channel (before the first and after the last
    /// segment count too); `None` when the channel talks throughout.
    pub longest_silence: Option<Span>,
}

/// The analysis of a recording; channels in file order (labels come from the layout).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analysis {
    pub duration_ms: u64,
    pub channels: Vec<ChannelAnalysis>,
    /// The longest stretch where no channel talks: dead air or hold.
    pub longest_silence: Option<Span>,
    /// Stereo only: total time both sides talk at once, and when.
    pub overtalk_ms: Option<u64>,
    pub overtalk: Option<Vec<Interval>>,
}

/// Builds an [`Analysis`] from interleaved blocks as they are decoded.
pub struct AnalysisBuilder {
    sample_rate: u32,
    frame_len: u64,
    channels: Option<usize>,
    /// Set when the blocks cannot be analysed (no rate, too many channels, the channel count
    /// changing midway): `finish` then gives nothing.
    unusable: bool,
    /// Per channel: the sum of squares of the frame being filled.
    sums: Vec<f64>,
    filled: u64,
    /// Per channel: the level of each finished frame, in dBFS.
    levels: Vec<Vec<f32>>,
    total_frames: u64,
}

impl AnalysisBuilder {
    pub fn new(sample_rate: u32) -> AnalysisBuilder {
        AnalysisBuilder {
            sample_rate,
            frame_len: (u64::from(sample_rate) * FRAME_MS / 1000).max(1),
            channels: None,
            unusable: sample_rate == 0,
            sums: Vec::new(),
            filled: 0,
            levels: Vec::new(),
            total_frames: 0,
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
                self.sums = vec![0.0; channels];
                self.levels = vec![Vec::new(); channels];
            }
            Some(c) if c != channels => {
                self.unusable = true;
                return;
            }
            Some(_) => {}
        }
        for frame in block.chunks_exact(channels) {
            for (&s, sum) in frame.iter().zip(&mut self.sums) {
                let v = f64::from(s);
                *sum += v * v;
            }
            self.filled += 1;
            self.total_frames += 1;
            if self.filled == self.frame_len {
                self.flush();
            }
        }
    }

    fn flush(&mut self) {
        let n = self.filled.max(1) as f64;
        for (sum, levels) in self.sums.iter_mut().zip(&mut self.levels) {
            levels.push(level_dbfs((*sum / n).sqrt()) as f32);
            *sum = 0.0;
        }
        self.filled = 0;
    }

    /// The analysis; `None` when nothing usable came in.
    pub fn finish(mut self) -> Option<Analysis> {
        if self.unusable || self.channels.is_none() {
            return None;
        }
        if self.filled > 0 {
            self.flush();
        }
        let rate = u64::from(self.sample_rate);
        let total = self.total_frames;
        let duration_ms = total * 1000 / rate;
        let frame_len = self.frame_len;
        let bounds = |i: usize| -> (u64, u64) {
            let start = i as u64 * frame_len;
            let end = (start + frame_len).min(total);
            (start * 1000 / rate, end * 1000 / rate)
        };
        let talk: Vec<Vec<Interval>> = self
            .levels
            .iter()
            .map(|levels| talk_segments(levels, &bounds))
            .collect();
        Some(analyse(duration_ms, &talk))
    }
}

/// RMS (in sample units) as dBFS; digital silence is [`SILENCE_DBFS`].
fn level_dbfs(rms: f64) -> f64 {
    20.0 * (rms.max(1.0) / 32768.0).log10()
}

/// The level from which a frame is talk: well above the channel's noise floor, within
/// absolute bounds.
pub fn talk_threshold_dbfs(levels: &[f32]) -> f64 {
    let mut sorted: Vec<f32> = levels.to_vec();
    sorted.sort_by(f32::total_cmp);
    let floor = if sorted.is_empty() {
        SILENCE_DBFS
    } else {
        let i = ((sorted.len() - 1) as f64 * FLOOR_QUANTILE).round() as usize;
        f64::from(sorted[i.min(sorted.len() - 1)])
    };
    (floor + ABOVE_FLOOR_DB).clamp(MIN_THRESHOLD_DBFS, MAX_THRESHOLD_DBFS)
}

/// Talk segments of one channel from its frame levels; `bounds(i)` gives frame `i`'s
/// `(start_ms, end_ms)`.
pub fn talk_segments(levels: &[f32], bounds: &dyn Fn(usize) -> (u64, u64)) -> Vec<Interval> {
    let threshold = talk_threshold_dbfs(levels);
    let mut raw: Vec<Interval> = Vec::new();
    let mut run_start: Option<usize> = None;
    for (i, &level) in levels.iter().enumerate() {
        let loud = f64::from(level) >= threshold;
        match (loud, run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(s)) => {
                raw.push([bounds(s).0, bounds(i - 1).1]);
                run_start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = run_start {
        raw.push([bounds(s).0, bounds(levels.len() - 1).1]);
    }
    smooth(&raw, HANGOVER_MS, MIN_TALK_MS)
}

/// Joins segments separated by less than `hangover_ms`, then drops those shorter than
/// `min_ms`. Input sorted and disjoint.
pub fn smooth(segments: &[Interval], hangover_ms: u64, min_ms: u64) -> Vec<Interval> {
    let mut joined: Vec<Interval> = Vec::new();
    for &[s, e] in segments {
        match joined.last_mut() {
            Some(last) if s.saturating_sub(last[1]) < hangover_ms => last[1] = last[1].max(e),
            _ => joined.push([s, e]),
        }
    }
    joined.retain(|&[s, e]| e.saturating_sub(s) >= min_ms);
    joined
}

/// The whole analysis from each channel's talk segments.
pub fn analyse(duration_ms: u64, talk: &[Vec<Interval>]) -> Analysis {
    let channels = talk
        .iter()
        .map(|segments| ChannelAnalysis {
            talk: segments.clone(),
            talk_ms: total_ms(segments),
            longest_silence: longest_gap(segments, duration_ms),
        })
        .collect();
    let anyone = union(&talk.concat());
    let (overtalk_ms, overtalk) = match talk {
        [a, b] => {
            let both = intersection(a, b);
            (Some(total_ms(&both)), Some(both))
        }
        _ => (None, None),
    };
    Analysis {
        duration_ms,
        channels,
        longest_silence: longest_gap(&anyone, duration_ms),
        overtalk_ms,
        overtalk,
    }
}

pub fn total_ms(intervals: &[Interval]) -> u64 {
    intervals.iter().map(|&[s, e]| e.saturating_sub(s)).sum()
}

/// Sorted, disjoint union of any intervals (touching ones join).
pub fn union(intervals: &[Interval]) -> Vec<Interval> {
    let mut sorted: Vec<Interval> = intervals.iter().copied().filter(|[s, e]| s < e).collect();
    sorted.sort_unstable();
    let mut out: Vec<Interval> = Vec::new();
    for [s, e] in sorted {
        match out.last_mut() {
            Some(last) if s <= last[1] => last[1] = last[1].max(e),
            _ => out.push([s, e]),
        }
    }
    out
}

/// Where two sorted, disjoint lists overlap.
pub fn intersection(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        let s = a[i][0].max(b[j][0]);
        let e = a[i][1].min(b[j][1]);
        if s < e {
            out.push([s, e]);
        }
        if a[i][1] < b[j][1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// The longest stretch of `[0, duration_ms)` outside sorted, disjoint `intervals` (the first
/// one when several tie); `None` when there is no gap at all.
pub fn longest_gap(intervals: &[Interval], duration_ms: u64) -> Option<Span> {
    let mut best: Option<Span> = None;
    let mut cursor = 0u64;
    let ends = intervals
        .iter()
        .copied()
        .chain(std::iter::once([duration_ms, duration_ms]));
    for [s, e] in ends {
        let gap_end = s.min(duration_ms);
        if gap_end > cursor && best.is_none_or(|b| gap_end - cursor > b.end_ms - b.start_ms) {
            best = Some(Span {
                start_ms: cursor,
                end_ms: gap_end,
            });
        }
        cursor = cursor.max(e);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 8000;

    /// A square wave of amplitude `amp` (RMS `amp`) lasting `ms`; 0 gives digital silence.
    fn burst(out: &mut Vec<i16>, amp: i16, ms: u64) {
        let n = u64::from(RATE) * ms / 1000;
        for i in 0..n {
            out.push(if i % 2 == 0 { amp } else { -amp });
        }
    }

    fn interleave(left: &[i16], right: &[i16]) -> Vec<i16> {
        left.iter().zip(right).flat_map(|(&l, &r)| [l, r]).collect()
    }

    fn run(samples: &[i16], channels: usize) -> Analysis {
        let mut b = AnalysisBuilder::new(RATE);
        // Odd block sizes so frames straddle blocks.
        for chunk in samples.chunks(channels * 333) {
            b.push(chunk, channels);
        }
        b.finish().unwrap()
    }

    #[test]
    fn turn_taking_on_two_channels() {
        // Agent talks 0.2-1.2 s and 2.0-2.6 s; customer 1.4-1.8 s; 3 s in all.
        let (mut agent, mut cust) = (Vec::new(), Vec::new());
        burst(&mut agent, 0, 200);
        burst(&mut agent, 3000, 1000);
        burst(&mut agent, 0, 800);
        burst(&mut agent, 3000, 600);
        burst(&mut agent, 0, 400);
        burst(&mut cust, 0, 1400);
        burst(&mut cust, 5000, 400);
        burst(&mut cust, 0, 1200);
        let a = run(&interleave(&agent, &cust), 2);
        assert_eq!(a.duration_ms, 3000);
        assert_eq!(a.channels[0].talk, vec![[200, 1200], [2000, 2600]]);
        assert_eq!(a.channels[0].talk_ms, 1600);
        assert_eq!(
            a.channels[0].longest_silence,
            Some(Span {
                start_ms: 1200,
                end_ms: 2000
            })
        );
        assert_eq!(a.channels[1].talk, vec![[1400, 1800]]);
        assert_eq!(
            a.channels[1].longest_silence,
            Some(Span {
                start_ms: 0,
                end_ms: 1400
            })
        );
        assert_eq!(a.overtalk_ms, Some(0));
        assert_eq!(a.overtalk, Some(vec![]));
        assert_eq!(
            a.longest_silence,
            Some(Span {
                start_ms: 2600,
                end_ms: 3000
            })
        );
    }

    #[test]
    fn short_pauses_do_not_split_and_clicks_are_not_talk() {
        let mut s = Vec::new();
        burst(&mut s, 0, 500);
        burst(&mut s, 4000, 400);
        burst(&mut s, 0, 200); // a pause inside a sentence
        burst(&mut s, 4000, 400);
        burst(&mut s, 0, 1000);
        burst(&mut s, 20000, 40); // a click
        burst(&mut s, 0, 1000);
        let a = run(&s, 1);
        assert_eq!(a.channels[0].talk, vec![[500, 1500]]);
        assert_eq!(a.overtalk_ms, None);
        assert_eq!(a.overtalk, None);
        assert_eq!(
            a.longest_silence,
            Some(Span {
                start_ms: 1500,
                end_ms: 3540
            })
        );
    }

    #[test]
    fn talk_is_relative_to_the_noise_floor() {
        // Line hiss at about -40 dBFS throughout, speech 20 dB above it in the middle.
        let mut s = Vec::new();
        burst(&mut s, 330, 1000);
        burst(&mut s, 3300, 1000);
        burst(&mut s, 330, 1000);
        let a = run(&s, 1);
        assert_eq!(a.channels[0].talk, vec![[1000, 2000]]);
        // Hiss alone is not talk, however long.
        let mut hiss = Vec::new();
        burst(&mut hiss, 330, 3000);
        assert!(run(&hiss, 1).channels[0].talk.is_empty());
        // Talk almost all the time: the "floor" is speech, the absolute bound still finds it.
        let mut busy = Vec::new();
        burst(&mut busy, 3300, 2900);
        burst(&mut busy, 0, 100);
        let a = run(&busy, 1);
        assert_eq!(a.channels[0].talk, vec![[0, 2900]]);
        assert_eq!(
            a.longest_silence,
            Some(Span {
                start_ms: 2900,
                end_ms: 3000
            })
        );
    }

    #[test]
    fn overlapping_talk_is_overtalk() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        burst(&mut a, 3000, 2000);
        burst(&mut a, 0, 1000);
        burst(&mut b, 0, 1500);
        burst(&mut b, 3000, 1000);
        burst(&mut b, 0, 500);
        let r = run(&interleave(&a, &b), 2);
        assert_eq!(r.overtalk, Some(vec![[1500, 2000]]));
        assert_eq!(r.overtalk_ms, Some(500));
        assert_eq!(
            r.longest_silence,
            Some(Span {
                start_ms: 2500,
                end_ms: 3000
            })
        );
    }

    #[test]
    fn silence_everywhere_and_talk_everywhere() {
        let a = run(&vec![0; 8000], 1);
        assert_eq!(a.channels[0].talk, Vec::<Interval>::new());
        assert_eq!(a.channels[0].talk_ms, 0);
        assert_eq!(
            a.longest_silence,
            Some(Span {
                start_ms: 0,
                end_ms: 1000
            })
        );
        // A partial last frame still counts, and whole-call talk leaves no silence.
        assert_eq!(longest_gap(&[[0, 1010]], 1010), None);
    }

    #[test]
    fn interval_helpers() {
        assert_eq!(
            union(&[[5, 7], [0, 2], [2, 3], [6, 9], [4, 4]]),
            vec![[0, 3], [5, 9]]
        );
        assert_eq!(
            intersection(&[[0, 10], [20, 30]], &[[5, 25], [28, 40]]),
            vec![[5, 10], [20, 25], [28, 30]]
        );
        assert_eq!(
            smooth(&[[0, 100], [350, 500], [900, 960]], 300, 100),
            vec![[0, 500]]
        );
        assert_eq!(
            longest_gap(&[[100, 200], [500, 600]], 700),
            Some(Span {
                start_ms: 200,
                end_ms: 500
            })
        );
        assert_eq!(total_ms(&[[0, 10], [20, 25]]), 15);
    }

    #[test]
    fn unusable_input_gives_nothing() {
        let mut b = AnalysisBuilder::new(RATE);
        b.push(&[0; 9], 3);
        assert_eq!(b.finish(), None);
        assert_eq!(AnalysisBuilder::new(RATE).finish(), None);
        let mut b = AnalysisBuilder::new(0);
        b.push(&[0; 2], 1);
        assert_eq!(b.finish(), None);
    }

    #[test]
    fn stored_form_round_trips() {
        let a = analyse(1000, &[vec![[0, 400]], vec![[300, 900]]]);
        let text = serde_json::to_string(&a).unwrap();
        let back: Analysis = serde_json::from_str(&text).unwrap();
        assert_eq!(back, a);
        assert_eq!(a.overtalk, Some(vec![[300, 400]]));
    }
}
