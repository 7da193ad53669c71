//! Listening rules: which played audio the server credits to a person.
//!
//! The player says what it played; the server credits only what it can prove possible. Audio
//! counts only where it was really served to that person (`GET .../audio`), and no faster
//! than the fastest playback speed: within one contiguous stretch of served audio, the
//! credited listening never exceeds [`MAX_PLAYBACK_RATE`] × the time since the stretch's
//! first byte was served. Everything here is in milliseconds: positions in the call
//! (`[start, end)`) and instants (`served_at`, `now`).

/// `[start_ms, end_ms)` of a recording.
pub type Interval = [i64; 2];

/// The fastest speed the player offers (0.5× to 2×).
pub const MAX_PLAYBACK_RATE: i64 = 2;

/// A stretch of audio served to a person: `[start_ms, end_ms, served_at_ms]`, where
/// `served_at_ms` is when the first of it was served.
pub type Served = [i64; 3];

/// The union of `existing` and `added`, each clipped to `[0, duration_ms]`; empty intervals
/// vanish, overlapping and touching ones join (sorted). Idempotent and order-free.
pub fn merge(existing: &[Interval], added: &[Interval], duration_ms: i64) -> Vec<Interval> {
    let mut all: Vec<Interval> = existing
        .iter()
        .chain(added)
        .map(|&[s, e]| [s.clamp(0, duration_ms), e.clamp(0, duration_ms)])
        .filter(|[s, e]| s < e)
        .collect();
    all.sort_unstable();
    let mut out: Vec<Interval> = Vec::with_capacity(all.len());
    for [s, e] in all {
        match out.last_mut() {
            Some(last) if s <= last[1] => last[1] = last[1].max(e),
            _ => out.push([s, e]),
        }
    }
    out
}

/// Adds a served stretch to the stretches already served, clipped to the recording.
/// Overlapping and touching stretches join and keep the earliest serving time: that keeps a
/// player's many range requests to a handful of stretches, and never credits audio before
/// any of its stretch was served.
pub fn merge_served(existing: &[Served], added: Served, duration_ms: i64) -> Vec<Served> {
    let mut all: Vec<Served> = existing
        .iter()
        .chain(std::iter::once(&added))
        .map(|&[s, e, t]| [s.clamp(0, duration_ms), e.clamp(0, duration_ms), t])
        .filter(|[s, e, _]| s < e)
        .collect();
    all.sort_unstable();
    let mut out: Vec<Served> = Vec::with_capacity(all.len());
    for [s, e, t] in all {
        match out.last_mut() {
            Some(last) if s <= last[1] => {
                last[1] = last[1].max(e);
                last[2] = last[2].min(t);
            }
            _ => out.push([s, e, t]),
        }
    }
    out
}

/// The call time `[start_ms, end_ms)` held by the data bytes `[from, to)` of the served 16-bit
/// WAV (offsets into its data chunk), generous by less than a frame at each end so that
/// consecutive byte ranges give touching stretches. The last frame ends the call.
pub fn data_bytes_ms(
    from: u64,
    to: u64,
    block_align: u64,
    sample_rate: u32,
    frames: u64,
    duration_ms: i64,
) -> Interval {
    let block_align = block_align.max(1);
    let rate = u64::from(sample_rate.max(1));
    let ms = |frame: u64, up: bool| -> i64 {
        if frame >= frames {
            return duration_ms;
        }
        let scaled = u128::from(frame) * 1000;
        let v = if up {
            scaled.div_ceil(u128::from(rate))
        } else {
            scaled / u128::from(rate)
        };
        i64::try_from(v).unwrap_or(i64::MAX).min(duration_ms)
    };
    [
        ms(from / block_align, false),
        ms(to.div_ceil(block_align), true),
    ]
}

/// Total length of disjoint intervals.
pub fn length(intervals: &[Interval]) -> i64 {
    intervals.iter().map(|[s, e]| e - s).sum()
}

/// The parts of sorted disjoint `intervals` inside `[from, to)`.
fn within(intervals: &[Interval], from: i64, to: i64) -> Vec<Interval> {
    intervals
        .iter()
        .map(|&[s, e]| [s.max(from), e.min(to)])
        .filter(|[s, e]| s < e)
        .collect()
}

/// The parts of sorted disjoint `a` not in sorted disjoint `b`.
fn minus(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    let mut out = Vec::new();
    for &[s, e] in a {
        let mut cursor = s;
        for &[bs, be] in b {
            if be <= cursor || bs >= e {
                continue;
            }
            if bs > cursor {
                out.push([cursor, bs]);
            }
            cursor = cursor.max(be);
            if cursor >= e {
                break;
            }
        }
        if cursor < e {
            out.push([cursor, e]);
        }
    }
    out
}

/// The first `budget` milliseconds of sorted disjoint `intervals`, in call order.
fn first(intervals: &[Interval], mut budget: i64) -> Vec<Interval> {
    let mut out = Vec::new();
    for &[s, e] in intervals {
        if budget <= 0 {
            break;
        }
        let take = (e - s).min(budget);
        out.push([s, s + take]);
        budget -= take;
    }
    out
}

/// What a claim of played audio earned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credit {
    /// Newly credited intervals (not credited before), sorted and disjoint.
    pub credited: Vec<Interval>,
    /// Claimed, new, but never served to this person.
    pub not_served_ms: i64,
    /// Claimed, new and served, but more than the fastest speed allows since it was served
    /// (it may be credited when claimed again later).
    pub too_fast_ms: i64,
}

/// Credits `claimed` (merged, clipped) against what was `served` and what is already
/// `covered` (merged), at `now_ms`. Within each served stretch, what was credited before
/// counts against the stretch's allowance first; the rest of the allowance goes to the new
/// audio in call order.
pub fn credit(
    served: &[Served],
    covered: &[Interval],
    claimed: &[Interval],
    now_ms: i64,
) -> Credit {
    let new = minus(claimed, covered);
    let mut result = Credit::default();
    let mut in_served = 0;
    for &[s, e, t] in served {
        let wanted = within(&new, s, e);
        if wanted.is_empty() {
            continue;
        }
        let wanted_ms = length(&wanted);
        in_served += wanted_ms;
        let allowance = MAX_PLAYBACK_RATE.saturating_mul((now_ms - t).max(0));
        let left = (allowance - length(&within(covered, s, e))).max(0);
        let granted = first(&wanted, left);
        result.too_fast_ms += wanted_ms - length(&granted);
        result.credited.extend(granted);
    }
    result.not_served_ms = length(&new) - in_served;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_stretches_join_and_keep_the_earliest_time() {
        let a = merge_served(&[], [0, 1000, 50], 10_000);
        let b = merge_served(&a, [1000, 3000, 70], 10_000);
        assert_eq!(b, vec![[0, 3000, 50]]);
        let c = merge_served(&b, [5000, 6000, 40], 10_000);
        assert_eq!(c, vec![[0, 3000, 50], [5000, 6000, 40]]);
        // A re-serve of what was served keeps the first time; a gap filled joins all.
        let d = merge_served(&c, [2000, 5000, 90], 10_000);
        assert_eq!(d, vec![[0, 6000, 40]]);
        assert_eq!(
            merge_served(&d, [9000, 12_000, 1], 10_000).last(),
            Some(&[9000, 10_000, 1])
        );
        assert_eq!(
            merge_served(&[], [300, 300, 1], 10_000),
            Vec::<Served>::new()
        );
    }

    #[test]
    fn nothing_unserved_is_credited() {
        let c = credit(&[], &[], &[[0, 5000]], 1_000_000);
        assert!(c.credited.is_empty());
        assert_eq!(c.not_served_ms, 5000);
        let c = credit(&[[0, 2000, 0]], &[], &[[0, 5000]], 1_000_000);
        assert_eq!(c.credited, vec![[0, 2000]]);
        assert_eq!((c.not_served_ms, c.too_fast_ms), (3000, 0));
    }

    #[test]
    fn no_faster_than_twice_the_time_since_serving() {
        let served = [[0, 60_000, 10_000]];
        // 5 s after serving, at most 10 s of audio.
        let c = credit(&served, &[], &[[0, 60_000]], 15_000);
        assert_eq!(c.credited, vec![[0, 10_000]]);
        assert_eq!(c.too_fast_ms, 50_000);
        // What was credited uses the allowance up; later, more is allowed.
        let c2 = credit(&served, &c.credited, &[[0, 60_000]], 20_000);
        assert_eq!(c2.credited, vec![[10_000, 20_000]]);
        // Before serving, or at the same instant, nothing.
        assert!(credit(&served, &[], &[[0, 1000]], 9000).credited.is_empty());
        // After long enough, everything claimed and served.
        let c3 = credit(&served, &[], &[[0, 30_000], [40_000, 60_000]], 100_000);
        assert_eq!(c3.credited, vec![[0, 30_000], [40_000, 60_000]]);
        assert_eq!((c3.not_served_ms, c3.too_fast_ms), (0, 0));
    }

    #[test]
    fn stretches_have_their_own_allowance() {
        let served = [[0, 10_000, 0], [20_000, 30_000, 8000]];
        let c = credit(&served, &[], &[[0, 30_000]], 10_000);
        // 20 s allowed in the first (only 10 s there), 4 s in the second; 10 s never served.
        assert_eq!(c.credited, vec![[0, 10_000], [20_000, 24_000]]);
        assert_eq!((c.not_served_ms, c.too_fast_ms), (10_000, 6000));
    }

    #[test]
    fn already_covered_audio_is_neither_new_nor_refused() {
        let c = credit(&[[0, 10_000, 0]], &[[0, 4000]], &[[0, 4000]], 1);
        assert_eq!(c, Credit::default());
    }

    #[test]
    fn served_bytes_map_to_call_time() {
        // 8 kHz mono: 16 bytes a millisecond.
        assert_eq!(
            data_bytes_ms(0, 16_000, 2, 8000, 960_000, 120_000),
            [0, 1000]
        );
        assert_eq!(
            data_bytes_ms(16_000, 32_001, 2, 8000, 960_000, 120_000),
            [1000, 2001]
        );
        assert_eq!(data_bytes_ms(17, 33, 2, 8000, 960_000, 120_000), [1, 3]);
        // The end of the data is the end of the call.
        assert_eq!(
            data_bytes_ms(0, 1_920_000, 2, 8000, 960_000, 120_000),
            [0, 120_000]
        );
        // Stereo at 44.1 kHz.
        assert_eq!(
            data_bytes_ms(0, 4 * 44_100, 4, 44_100, 441_000, 10_000),
            [0, 1000]
        );
    }

    #[test]
    fn interval_arithmetic() {
        assert_eq!(
            minus(&[[0, 10], [20, 30]], &[[5, 22], [25, 26]]),
            vec![[0, 5], [22, 25], [26, 30]]
        );
        assert_eq!(minus(&[[0, 10]], &[]), vec![[0, 10]]);
        assert_eq!(minus(&[[0, 10]], &[[0, 10]]), Vec::<Interval>::new());
        assert_eq!(first(&[[0, 10], [20, 30]], 15), vec![[0, 10], [20, 25]]);
        assert_eq!(within(&[[0, 10], [20, 30]], 5, 25), vec![[5, 10], [20, 25]]);
    }
}
