//! The player's view of a recording: a canonical 16-bit PCM WAV file, served whole or by byte
//! range. Pure: no I/O, no decoding; `http::audio` feeds it decoded samples.
//!
//! The WAV is never materialised. Its length is known from the stored row (`frames`,
//! `channels`), so a byte offset maps to a frame (`DataSpan`), the decoder seeks there, and
//! `DataCursor` turns decoded samples into exactly the bytes of the requested span, dropping
//! the first bytes of a frame when a range starts mid-frame and padding with silence if the
//! decoder ends early.

/// Bumped whenever the bytes we produce for the same stored file could change (a decoder
/// fix, another conversion to 16 bits): it is part of the ETag, so caches and `If-Range`
/// never mix bytes of two versions.
pub const FORMAT_VERSION: u32 = 1;

/// Length of the canonical header: RIFF + `fmt ` (16 bytes of PCM format) + `data` header.
pub const HEADER_LEN: u64 = 44;

/// Range header values longer than this are ignored (answered in full), whatever they hold.
pub const MAX_RANGE_HEADER_LEN: usize = 200;

/// The shape of the WAV we serve: 16-bit little-endian PCM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WavLayout {
    sample_rate: u32,
    channels: u16,
    frames: u64,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("the sample rate must be positive")]
    ZeroRate,
    #[error("the channel count must be between 1 and 65535")]
    BadChannels,
    #[error("{0} frames of 16-bit audio do not fit in a WAV file (4 GiB limit)")]
    TooLong(u64),
}

impl WavLayout {
    pub fn new(sample_rate: u32, channels: u16, frames: u64) -> Result<WavLayout, LayoutError> {
        if sample_rate == 0 {
            return Err(LayoutError::ZeroRate);
        }
        if channels == 0 {
            return Err(LayoutError::BadChannels);
        }
        // The byte rate is a 32-bit field too.
        u32::try_from(u64::from(sample_rate) * u64::from(channels) * 2)
            .map_err(|_| LayoutError::BadChannels)?;
        let data = frames
            .checked_mul(u64::from(channels) * 2)
            .ok_or(LayoutError::TooLong(frames))?;
        // RIFF size = 36 + data; it must be a real size, never the 0xFFFFFFFF "unknown".
        if data + (HEADER_LEN - 8) >= u64::from(u32::MAX) {
            return Err(LayoutError::TooLong(frames));
        }
        Ok(WavLayout {
            sample_rate,
            channels,
            frames,
        })
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    pub fn channels(&self) -> u16 {
        self.channels
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Bytes per frame.
    pub fn block_align(&self) -> u64 {
        u64::from(self.channels) * 2
    }

    pub fn data_len(&self) -> u64 {
        self.frames * self.block_align()
    }

    /// Length of the whole WAV file.
    pub fn total_len(&self) -> u64 {
        HEADER_LEN + self.data_len()
    }

    /// The canonical 44-byte header.
    pub fn header(&self) -> [u8; HEADER_LEN as usize] {
        // `new` checked that every value below fits its field.
        let data = self.data_len() as u32;
        let block_align = self.channels * 2;
        let byte_rate = self.sample_rate * u32::from(block_align);
        let mut h = [0u8; HEADER_LEN as usize];
        h[0..4].copy_from_slice(b"RIFF");
        h[4..8].copy_from_slice(&(data + 36).to_le_bytes());
        h[8..12].copy_from_slice(b"WAVE");
        h[12..16].copy_from_slice(b"fmt ");
        h[16..20].copy_from_slice(&16u32.to_le_bytes());
        h[20..22].copy_from_slice(&1u16.to_le_bytes()); // WAVE_FORMAT_PCM
        h[22..24].copy_from_slice(&self.channels.to_le_bytes());
        h[24..28].copy_from_slice(&self.sample_rate.to_le_bytes());
        h[28..32].copy_from_slice(&byte_rate.to_le_bytes());
        h[32..34].copy_from_slice(&block_align.to_le_bytes());
        h[34..36].copy_from_slice(&16u16.to_le_bytes());
        h[36..40].copy_from_slice(b"data");
        h[40..44].copy_from_slice(&data.to_le_bytes());
        h
    }

    /// Where the bytes `range` of the WAV file come from: a slice of the header, then data
    /// starting at a frame (the decoder seeks there) after dropping `skip` bytes of it.
    pub fn span(&self, range: ByteRange) -> Span {
        let total = self.total_len();
        let end = range.end.min(total.saturating_sub(1)) + 1; // exclusive
        let start = range.start.min(end);
        let header = (start.min(HEADER_LEN) as usize)..(end.min(HEADER_LEN) as usize);
        let data_start = start.max(HEADER_LEN) - HEADER_LEN;
        let data_end = end.max(HEADER_LEN) - HEADER_LEN;
        let data = (data_end > data_start).then(|| DataSpan {
            first_frame: data_start / self.block_align(),
            skip: data_start % self.block_align(),
            len: data_end - data_start,
        });
        Span { header, data }
    }
}

/// An inclusive byte range `start..=end` of the served file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    /// How many bytes the range holds (at least one).
    pub fn byte_len(&self) -> u64 {
        self.end - self.start + 1
    }

    /// The whole file (`len` > 0).
    pub fn full(len: u64) -> ByteRange {
        ByteRange {
            start: 0,
            end: len.saturating_sub(1),
        }
    }

    /// The `Content-Range` value of a 206 answer.
    pub fn content_range(&self, total: u64) -> String {
        format!("bytes {}-{}/{total}", self.start, self.end)
    }
}

/// The `Content-Range` value of a 416 answer.
pub fn unsatisfied_content_range(total: u64) -> String {
    format!("bytes */{total}")
}

/// What the bytes of a [`ByteRange`] are made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// The part of the header to send first (possibly empty).
    pub header: std::ops::Range<usize>,
    /// The part of the data chunk after it, if any.
    pub data: Option<DataSpan>,
}

/// A stretch of the data chunk: decode from `first_frame`, drop `skip` bytes (less than a
/// frame), then send `len` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataSpan {
    pub first_frame: u64,
    pub skip: u64,
    pub len: u64,
}

/// What a `Range` header asks of a file of a given length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: answer 200 with the whole file. Also for anything malformed,
    /// multiple ranges, or another unit (a server may always ignore `Range`).
    Full,
    /// One satisfiable range, already clamped to the file: answer 206.
    Partial(ByteRange),
    /// A well-formed single range that starts at or past the end: answer 416.
    Unsatisfiable,
}

/// Parses a `Range` header value (RFC 9110 §14.1.2) for a file of `len` bytes. Only one
/// range is served; more than one is answered in full rather than as a multipart body.
pub fn parse_range(value: &str, len: u64) -> RangeRequest {
    if value.len() > MAX_RANGE_HEADER_LEN {
        return RangeRequest::Full;
    }
    let Some((unit, set)) = value.trim().split_once('=') else {
        return RangeRequest::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeRequest::Full;
    }
    // Empty list elements are allowed by the list syntax and ignored.
    let mut specs = set.split(',').map(str::trim).filter(|s| !s.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return RangeRequest::Full;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return RangeRequest::Full;
    };
    if first.is_empty() {
        // Suffix range: the last `n` bytes.
        let Some(n) = digits(last) else {
            return RangeRequest::Full;
        };
        if n == 0 || len == 0 {
            return RangeRequest::Unsatisfiable;
        }
        return RangeRequest::Partial(ByteRange {
            start: len - n.min(len),
            end: len - 1,
        });
    }
    let Some(start) = digits(first) else {
        return RangeRequest::Full;
    };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match digits(last) {
            Some(end) if end >= start => end,
            _ => return RangeRequest::Full,
        }
    };
    if start >= len {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Partial(ByteRange {
        start,
        end: end.min(len - 1),
    })
}

/// A non-empty run of ASCII digits; values past `u64::MAX` saturate (they are positions
/// past any end, which is what they mean).
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// The strong ETag of the served WAV: the stored file's SHA-256 and [`FORMAT_VERSION`].
pub fn etag(sha256_hex: &str) -> String {
    let hash: String = sha256_hex
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("\"{hash}-wav16-v{FORMAT_VERSION}\"")
}

/// Whether a `Range` may be honoured given the request's `If-Range` (RFC 9110 §13.1.5):
/// yes without one; with one, only when it is exactly our strong ETag. A date or a weak tag
/// never matches (we send no `Last-Modified`), and the answer is then the whole file.
pub fn if_range_allows(if_range: Option<&str>, etag: &str) -> bool {
    match if_range {
        None => true,
        Some(v) => v.trim() == etag,
    }
}

/// Turns decoded samples into the bytes of one [`DataSpan`]: drops the first `skip` bytes,
/// stops after `len` bytes, and pads with silence when the samples run out early.
#[derive(Clone, Debug)]
pub struct DataCursor {
    skip: u64,
    remaining: u64,
}

impl DataCursor {
    pub fn new(span: &DataSpan) -> DataCursor {
        DataCursor {
            skip: span.skip,
            remaining: span.len,
        }
    }

    /// Bytes still to produce.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    pub fn is_done(&self) -> bool {
        self.remaining == 0
    }

    /// Appends the part of `samples` (interleaved, continuing where the last call stopped)
    /// that falls in the span, as little-endian bytes. Returns the bytes appended.
    pub fn push(&mut self, samples: &[i16], out: &mut Vec<u8>) -> usize {
        let before = out.len();
        let mut samples = samples;
        let whole = (self.skip / 2).min(samples.len() as u64) as usize;
        samples = &samples[whole..];
        self.skip -= whole as u64 * 2;
        if self.skip == 1
            && let Some((first, rest)) = samples.split_first()
        {
            self.skip = 0;
            if self.remaining > 0 {
                out.push(first.to_le_bytes()[1]);
                self.remaining -= 1;
            }
            samples = rest;
        }
        if self.skip > 0 {
            return out.len() - before;
        }
        let take = (self.remaining / 2).min(samples.len() as u64) as usize;
        out.reserve(take * 2 + 1);
        for s in &samples[..take] {
            out.extend_from_slice(&s.to_le_bytes());
        }
        self.remaining -= take as u64 * 2;
        if self.remaining == 1
            && let Some(s) = samples.get(take)
        {
            out.push(s.to_le_bytes()[0]);
            self.remaining = 0;
        }
        out.len() - before
    }

    /// Appends up to `max` bytes of silence (the decoder ended before the stored length).
    /// Returns the bytes appended.
    pub fn pad(&mut self, max: usize, out: &mut Vec<u8>) -> usize {
        let n = self.remaining.min(max as u64) as usize;
        out.resize(out.len() + n, 0);
        self.remaining -= n as u64;
        self.skip = 0;
        n
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    fn partial(start: u64, end: u64) -> RangeRequest {
        RangeRequest::Partial(ByteRange { start, end })
    }

    #[test]
    fn header_is_canonical() {
        let l = WavLayout::new(8000, 2, 1000).unwrap();
        let h = l.header();
        assert_eq!(&h[0..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(h[4..8].try_into().unwrap()), 36 + 4000);
        assert_eq!(&h[8..16], b"WAVEfmt ");
        assert_eq!(u32::from_le_bytes(h[16..20].try_into().unwrap()), 16);
        assert_eq!(u16::from_le_bytes(h[20..22].try_into().unwrap()), 1);
        assert_eq!(u16::from_le_bytes(h[22..24].try_into().unwrap()), 2);
        assert_eq!(u32::from_le_bytes(h[24..28].try_into().unwrap()), 8000);
        assert_eq!(u32::from_le_bytes(h[28..32].try_into().unwrap()), 32000);
        assert_eq!(u16::from_le_bytes(h[32..34].try_into().unwrap()), 4);
        assert_eq!(u16::from_le_bytes(h[34..36].try_into().unwrap()), 16);
        assert_eq!(&h[36..40], b"data");
        assert_eq!(u32::from_le_bytes(h[40..44].try_into().unwrap()), 4000);
        assert_eq!(l.total_len(), 4044);
    }

    #[test]
    fn layouts_that_do_not_fit_a_wav_are_refused() {
        assert_eq!(WavLayout::new(0, 1, 10), Err(LayoutError::ZeroRate));
        assert_eq!(WavLayout::new(8000, 0, 10), Err(LayoutError::BadChannels));
        assert!(WavLayout::new(u32::MAX, 2, 10).is_err());
        // The largest data chunk leaves the RIFF size below 0xFFFFFFFF.
        let max_frames = (u64::from(u32::MAX) - 37) / 2;
        let l = WavLayout::new(8000, 1, max_frames).unwrap();
        assert!(u32::from_le_bytes(l.header()[4..8].try_into().unwrap()) < u32::MAX);
        assert!(WavLayout::new(8000, 1, max_frames + 1).is_err());
        assert!(WavLayout::new(8000, 2, u64::MAX).is_err());
        // An empty recording is still a valid (header-only) file.
        assert_eq!(WavLayout::new(8000, 1, 0).unwrap().total_len(), 44);
    }

    #[test]
    fn ranges_parse_as_rfc_9110_says() {
        let len = 1000;
        assert_eq!(parse_range("bytes=0-499", len), partial(0, 499));
        assert_eq!(parse_range("bytes=500-", len), partial(500, 999));
        assert_eq!(parse_range("bytes=-200", len), partial(800, 999));
        assert_eq!(parse_range("bytes=-5000", len), partial(0, 999));
        assert_eq!(parse_range("bytes=999-999", len), partial(999, 999));
        assert_eq!(parse_range("bytes=990-5000", len), partial(990, 999));
        assert_eq!(parse_range("Bytes = 1-2", len), partial(1, 2));
        assert_eq!(parse_range("bytes=, 3-4 ,", len), partial(3, 4));
        assert_eq!(
            parse_range("bytes=0-18446744073709551615", len),
            partial(0, 999)
        );
        assert_eq!(
            parse_range("bytes=0-99999999999999999999999999", len),
            partial(0, 999)
        );
        assert_eq!(
            parse_range("bytes=-99999999999999999999999999", len),
            partial(0, 999)
        );
        // Unsatisfiable: starts at or past the end, or an empty suffix.
        assert_eq!(parse_range("bytes=1000-", len), RangeRequest::Unsatisfiable);
        assert_eq!(
            parse_range("bytes=1000-2000", len),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse_range("bytes=99999999999999999999999-", len),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(parse_range("bytes=-0", len), RangeRequest::Unsatisfiable);
        // Ignored: malformed, multiple, other units.
        for v in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=5-3",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes=1-+2",
            "bytes=1 -2",
            "bytes=--1",
            "bytes=1-2-3",
            "bytes=0x10-",
            "bytes=0-1,5-9",
            "bytes=0-1,1000-",
            "items=0-1",
            "bytes 0-1",
            "=0-1",
        ] {
            assert_eq!(parse_range(v, len), RangeRequest::Full, "{v:?}");
        }
        let thousand = format!("bytes={}", vec!["0-1"; 1000].join(","));
        assert_eq!(parse_range(&thousand, len), RangeRequest::Full);
        let long = format!("bytes=0-{}", "9".repeat(500));
        assert_eq!(parse_range(&long, len), RangeRequest::Full);
    }

    #[test]
    fn if_range_needs_our_exact_strong_etag() {
        let tag = etag("ab12");
        assert_eq!(tag, "\"ab12-wav16-v1\"");
        assert!(if_range_allows(None, &tag));
        assert!(if_range_allows(Some(&tag), &tag));
        assert!(!if_range_allows(Some("W/\"ab12-wav16-v1\""), &tag));
        assert!(!if_range_allows(Some("\"ab12-wav16-v0\""), &tag));
        assert!(!if_range_allows(
            Some("Wed, 21 Oct 2015 07:28:00 GMT"),
            &tag
        ));
        // Whatever the stored hash holds, the tag stays a valid quoted string.
        assert_eq!(etag("a\"b c\r\n"), "\"abc-wav16-v1\"");
    }

    #[test]
    fn spans_map_offsets_to_frames_and_bytes_within_them() {
        let l = WavLayout::new(8000, 2, 100).unwrap(); // 4-byte frames, 444 bytes
        let s = l.span(ByteRange { start: 0, end: 443 });
        assert_eq!(s.header, 0..44);
        assert_eq!(
            s.data,
            Some(DataSpan {
                first_frame: 0,
                skip: 0,
                len: 400
            })
        );
        let s = l.span(ByteRange { start: 10, end: 20 });
        assert_eq!((s.header, s.data), (10..21, None));
        let s = l.span(ByteRange {
            start: 44 + 4 * 7 + 3,
            end: 44 + 4 * 9,
        });
        assert_eq!(s.header.len(), 0);
        assert_eq!(
            s.data,
            Some(DataSpan {
                first_frame: 7,
                skip: 3,
                len: 6
            })
        );
        let s = l.span(ByteRange { start: 43, end: 45 });
        assert_eq!(s.header, 43..44);
        assert_eq!(
            s.data,
            Some(DataSpan {
                first_frame: 0,
                skip: 0,
                len: 2
            })
        );
    }

    #[test]
    fn cursor_drops_odd_bytes_stops_at_the_end_and_pads() {
        let samples: Vec<i16> = vec![0x0102, 0x0304, 0x0506, 0x0708];
        let mut c = DataCursor::new(&DataSpan {
            first_frame: 0,
            skip: 3,
            len: 4,
        });
        let mut out = Vec::new();
        c.push(&samples[..1], &mut out);
        c.push(&samples[1..], &mut out);
        assert_eq!(out, [0x03, 0x06, 0x05, 0x08]);
        assert!(c.is_done());
        // More than promised: ignored.
        assert_eq!(c.push(&samples, &mut out), 0);

        let mut c = DataCursor::new(&DataSpan {
            first_frame: 0,
            skip: 1,
            len: 6,
        });
        let mut out = Vec::new();
        c.push(&samples[..2], &mut out);
        assert_eq!(out, [0x01, 0x04, 0x03]);
        assert_eq!(c.pad(2, &mut out), 2);
        assert_eq!(c.pad(100, &mut out), 1);
        assert_eq!(out, [0x01, 0x04, 0x03, 0, 0, 0]);
        assert!(c.is_done());
    }

    /// The bytes a span should hold: the little-endian samples from `skip`, padded with
    /// zeros, `len` long.
    fn expected_bytes(samples: &[i16], skip: usize, len: usize) -> Vec<u8> {
        let mut all: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        all.resize(all.len().max(skip + len), 0);
        all[skip..skip + len].to_vec()
    }

    proptest! {
        #[test]
        fn any_range_header_gives_full_a_range_inside_or_unsatisfiable(
            len in prop_oneof![0u64..3000, any::<u64>()],
            value in prop_oneof![
                "bytes=[0-9]{0,4}-[0-9]{0,4}(,[0-9]{0,3}-[0-9]{0,3})?",
                "(?i:bytes)?[ =]?[0-9,= -]{0,40}",
            ],
        ) {
            match parse_range(&value, len) {
                RangeRequest::Full | RangeRequest::Unsatisfiable => {}
                RangeRequest::Partial(r) => {
                    prop_assert!(r.start <= r.end && r.end < len, "{value:?}: {r:?}");
                }
            }
        }

        #[test]
        fn arbitrary_text_never_panics(len in any::<u64>(), value in ".{0,300}") {
            let _ = parse_range(&value, len);
        }

        #[test]
        fn ranges_round_trip(len in 1u64..1 << 40, a in any::<u64>(), b in any::<u64>()) {
            let start = a % len;
            let end = start + b % (len - start);
            prop_assert_eq!(
                parse_range(&format!("bytes={start}-{end}"), len),
                partial(start, end)
            );
            prop_assert_eq!(
                parse_range(&format!("bytes={start}-"), len),
                partial(start, len - 1)
            );
            let n = 1 + b % len;
            prop_assert_eq!(
                parse_range(&format!("bytes=-{n}"), len),
                partial(len - n, len - 1)
            );
            let r = ByteRange { start, end };
            let cr = r.content_range(len);
            prop_assert_eq!(cr, format!("bytes {start}-{end}/{len}"));
            prop_assert_eq!(r.byte_len(), end - start + 1);
            prop_assert_eq!(
                parse_range(&format!("bytes={}-", len + a % len), len),
                RangeRequest::Unsatisfiable
            );
        }

        #[test]
        fn spans_rebuild_exactly_the_bytes_of_the_whole_file(
            channels in 1u16..4,
            samples in proptest::collection::vec(any::<i16>(), 0..64),
            short_by in 0usize..8,
            a in any::<u64>(),
            b in any::<u64>(),
            cuts in proptest::collection::vec(0usize..64, 0..4),
        ) {
            // A file whose decoder may deliver fewer samples than the layout promises.
            let frames = samples.len() / usize::from(channels);
            let layout = WavLayout::new(8000, channels, frames as u64).unwrap();
            let delivered = &samples[..(frames * usize::from(channels)).saturating_sub(short_by)];
            let mut whole = layout.header().to_vec();
            whole.extend(expected_bytes(delivered, 0, layout.data_len() as usize));
            prop_assert_eq!(whole.len() as u64, layout.total_len());

            let total = layout.total_len();
            let start = a % total;
            let end = start + b % (total - start);
            let span = layout.span(ByteRange { start, end });
            let mut got = layout.header()[span.header.clone()].to_vec();
            if let Some(d) = span.data {
                prop_assert!(d.skip < layout.block_align());
                let from = (d.first_frame * layout.block_align()) as usize / 2;
                let mut rest = delivered.get(from..).unwrap_or(&[]);
                let mut cursor = DataCursor::new(&d);
                // Delivered in arbitrary pieces, as decoder packets come.
                for cut in &cuts {
                    let (piece, tail) = rest.split_at((*cut).min(rest.len()));
                    cursor.push(piece, &mut got);
                    rest = tail;
                }
                cursor.push(rest, &mut got);
                while !cursor.is_done() {
                    cursor.pad(3, &mut got);
                }
            }
            prop_assert_eq!(&got[..], &whole[start as usize..=end as usize]);
        }
    }
}
