//! MP4/M4A timing the decoder does not apply by itself: AAC encoders put 1 024 (or 2 112)
//! priming frames in front of the call and pad the last packet, and say so in the audio
//! track's edit list (`elst`, what ffmpeg writes) or in iTunes' `iTunSMPB` tag (what Apple's
//! encoders write). Players drop the priming; so must we, or every timestamp a grader stamps
//! is late by 64 ms at 16 kHz and 128 ms at 8 kHz against what they hear elsewhere.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::decode::{Damage, PcmStream};
use super::probe::AudioError;

/// The playable part of the decoded audio, in frames at the decoding rate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Edit {
    /// Priming frames to drop from the front.
    pub skip: u64,
    /// Frames to play after them, when the file says.
    pub play: Option<u64>,
}

/// The `moov` box is metadata only; anything larger is not a call recording's.
const MAX_MOOV_BYTES: u64 = 64 << 20;

/// Reads the audio track's edit from the file's `moov` box, for audio decoded at `rate` Hz.
/// A file without one (or one this cannot read) plays from its first frame.
pub fn edit_of(path: &Path, rate: u32) -> Edit {
    read_moov(path)
        .and_then(|moov| edit_in(&moov, rate))
        .unwrap_or_default()
}

fn read_moov(path: &Path) -> Option<Vec<u8>> {
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let mut at = 0u64;
    while at + 8 <= len {
        file.seek(SeekFrom::Start(at)).ok()?;
        let mut head = [0u8; 16];
        file.read_exact(&mut head[..8]).ok()?;
        let mut size = u64::from(u32::from_be_bytes(head[..4].try_into().ok()?));
        let mut header = 8;
        if size == 1 {
            file.read_exact(&mut head[8..]).ok()?;
            size = u64::from_be_bytes(head[8..].try_into().ok()?);
            header = 16;
        } else if size == 0 {
            size = len - at;
        }
        if size < header {
            return None;
        }
        if &head[4..8] == b"moov" {
            let body = size - header;
            if body > MAX_MOOV_BYTES || at + size > len {
                return None;
            }
            let mut moov = vec![0u8; body as usize];
            file.read_exact(&mut moov).ok()?;
            return Some(moov);
        }
        at = at.checked_add(size)?;
    }
    None
}

/// The child boxes of a box body: (type, body).
fn children(mut body: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || {
        if body.len() < 8 {
            return None;
        }
        let size = u32::from_be_bytes(body[..4].try_into().ok()?) as usize;
        let (header, size) = match size {
            0 => (8, body.len()),
            1 => {
                let big = u64::from_be_bytes(body.get(8..16)?.try_into().ok()?);
                (16, usize::try_from(big).ok()?)
            }
            n => (8, n),
        };
        if size < header || size > body.len() {
            return None;
        }
        let kind = &body[4..8];
        let inner = &body[header..size];
        body = &body[size..];
        Some((kind, inner))
    })
}

fn child<'a>(body: &'a [u8], kind: &[u8]) -> Option<&'a [u8]> {
    children(body).find(|(k, _)| *k == kind).map(|(_, b)| b)
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// A full box's timescale and duration (`mvhd` and `mdhd` share the layout).
fn timescale_of(full_box: &[u8]) -> Option<u32> {
    match full_box.first()? {
        1 => be_u32(full_box, 20),
        _ => be_u32(full_box, 12),
    }
    .filter(|&t| t > 0)
}

/// Converts `units` of `timescale` to frames at `rate`, rounded to the nearest.
fn to_frames(units: u64, timescale: u32, rate: u32) -> u64 {
    let t = u128::from(timescale);
    let frames = (u128::from(units) * u128::from(rate) * 2 + t) / (2 * t);
    u64::try_from(frames).unwrap_or(u64::MAX)
}

fn edit_in(moov: &[u8], rate: u32) -> Option<Edit> {
    let movie_scale = timescale_of(child(moov, b"mvhd")?)?;
    let track = children(moov)
        .filter(|(k, _)| *k == b"trak")
        .map(|(_, t)| t)
        .find(|t| is_sound(t).unwrap_or(false))?;
    let media_scale = timescale_of(child(child(track, b"mdia")?, b"mdhd")?)?;
    let from_elst = child(track, b"edts")
        .and_then(|e| child(e, b"elst"))
        .and_then(|elst| first_edit(elst, movie_scale, media_scale, rate));
    match from_elst {
        Some(edit) if edit.skip > 0 => Some(edit),
        other => smpb(moov).or(other),
    }
}

fn is_sound(track: &[u8]) -> Option<bool> {
    let hdlr = child(child(track, b"mdia")?, b"hdlr")?;
    Some(hdlr.get(8..12)? == b"soun")
}

/// The first edit that plays media (an empty edit, media time −1, only delays the track).
fn first_edit(elst: &[u8], movie_scale: u32, media_scale: u32, rate: u32) -> Option<Edit> {
    let version = *elst.first()?;
    let count = be_u32(elst, 4)? as usize;
    let entry = if version == 1 { 20 } else { 12 };
    (0..count.min(elst.len() / entry)).find_map(|i| {
        let at = 8 + i * entry;
        let (duration, media_time) = if version == 1 {
            (be_u64(elst, at)?, be_u64(elst, at + 8)? as i64)
        } else {
            (
                u64::from(be_u32(elst, at)?),
                i64::from(be_u32(elst, at + 4)? as i32),
            )
        };
        (media_time >= 0).then(|| Edit {
            skip: to_frames(media_time as u64, media_scale, rate),
            play: (duration > 0).then(|| to_frames(duration, movie_scale, rate)),
        })
    })
}

/// iTunes' gapless tag: `moov/udta/meta/ilst/----` named `iTunSMPB`, whose text holds hex
/// fields ` 00000000 <priming> <padding> <frames> …`, all in frames at the decoding rate.
fn smpb(moov: &[u8]) -> Option<Edit> {
    children(moov)
        .filter(|(k, _)| *k == b"udta")
        .find_map(|(_, udta)| {
            let meta = child(udta, b"meta")?;
            // `meta` is a full box in MP4 and a plain one in QuickTime files.
            let meta = if child(meta, b"ilst").is_some() {
                meta
            } else {
                meta.get(4..)?
            };
            children(child(meta, b"ilst")?)
                .filter(|(k, _)| *k == b"----")
                .find_map(|(_, item)| {
                    let name = child(item, b"name")?;
                    if name.get(4..)? != b"iTunSMPB" {
                        return None;
                    }
                    let text = std::str::from_utf8(child(item, b"data")?.get(8..)?).ok()?;
                    let fields: Vec<u64> = text
                        .split_whitespace()
                        .map(|f| u64::from_str_radix(f, 16).ok())
                        .collect::<Option<_>>()?;
                    Some(Edit {
                        skip: *fields.get(1)?,
                        play: fields.get(3).copied().filter(|&n| n > 0),
                    })
                })
        })
}

/// A stream with the edit applied: frame 0 is the first frame after the priming, and the
/// stream ends where the edit does (the encoder's padding is not the call).
pub struct Edited {
    inner: Box<dyn PcmStream>,
    edit: Edit,
    /// Position in edited frames of the next `read`.
    at: u64,
}

impl Edited {
    pub fn new(mut inner: Box<dyn PcmStream>, edit: Edit) -> Result<Edited, AudioError> {
        inner.seek(edit.skip)?;
        Ok(Edited { inner, edit, at: 0 })
    }
}

impl PcmStream for Edited {
    fn sample_rate(&self) -> u32 {
        self.inner.sample_rate()
    }

    fn channels(&self) -> usize {
        self.inner.channels()
    }

    fn seek(&mut self, frame: u64) -> Result<(), AudioError> {
        self.inner.seek(frame.saturating_add(self.edit.skip))?;
        self.at = frame;
        Ok(())
    }

    fn read(&mut self, out: &mut Vec<i16>) -> Result<usize, AudioError> {
        let left = self
            .edit
            .play
            .map_or(u64::MAX, |p| p.saturating_sub(self.at));
        if left == 0 {
            return Ok(0);
        }
        let before = out.len();
        let mut n = self.inner.read(out)? as u64;
        if n > left {
            out.truncate(before + left as usize * self.inner.channels());
            n = left;
        }
        self.at += n;
        Ok(n as usize)
    }

    fn damage(&self) -> &Damage {
        self.inner.damage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8], body: &[u8]) -> Vec<u8> {
        let mut b = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(body);
        b
    }

    /// `mvhd`/`mdhd` version 0: version and flags, two dates, timescale, duration.
    fn header_box(kind: &[u8], timescale: u32) -> Vec<u8> {
        let mut body = vec![0u8; 12];
        body.extend_from_slice(&timescale.to_be_bytes());
        body.extend_from_slice(&0u32.to_be_bytes());
        boxed(kind, &body)
    }

    fn sound_track(elst: &[(u32, i32)]) -> Vec<u8> {
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(b"soun");
        hdlr.extend_from_slice(&[0u8; 13]);
        let mdia = [header_box(b"mdhd", 8000), boxed(b"hdlr", &hdlr)].concat();
        let mut list = vec![0u8; 4];
        list.extend_from_slice(&(elst.len() as u32).to_be_bytes());
        for (duration, media_time) in elst {
            list.extend_from_slice(&duration.to_be_bytes());
            list.extend_from_slice(&media_time.to_be_bytes());
            list.extend_from_slice(&0x0001_0000u32.to_be_bytes());
        }
        let edts = boxed(b"edts", &boxed(b"elst", &list));
        boxed(b"trak", &[edts, boxed(b"mdia", &mdia)].concat())
    }

    fn smpb_udta(text: &str) -> Vec<u8> {
        let mean = boxed(b"mean", &[&[0u8; 4][..], b"com.apple.iTunes"].concat());
        let name = boxed(b"name", &[&[0u8; 4][..], b"iTunSMPB"].concat());
        let data = boxed(
            b"data",
            &[&[0, 0, 0, 1, 0, 0, 0, 0][..], text.as_bytes()].concat(),
        );
        let item = boxed(b"----", &[mean, name, data].concat());
        let meta = [&[0u8; 4][..], &boxed(b"ilst", &item)].concat();
        boxed(b"udta", &boxed(b"meta", &meta))
    }

    #[test]
    fn the_edit_list_names_the_priming_and_the_playable_length() {
        // What ffmpeg writes for AAC at 8 kHz: 1 024 priming frames, 8.608 s to play.
        let moov = [header_box(b"mvhd", 1000), sound_track(&[(8608, 1024)])].concat();
        assert_eq!(
            edit_in(&moov, 8000),
            Some(Edit {
                skip: 1024,
                play: Some(68_864)
            })
        );
        // An empty edit first (a delay) is passed over for the one that plays media.
        let moov = [
            header_box(b"mvhd", 1000),
            sound_track(&[(500, -1), (8608, 1024)]),
        ]
        .concat();
        assert_eq!(edit_in(&moov, 8000).map(|e| e.skip), Some(1024));
    }

    #[test]
    fn itunes_gapless_tag_is_read_when_the_edit_list_skips_nothing() {
        let udta = smpb_udta(" 00000000 00000840 000001CA 0000000000056BF6 00000000");
        let moov = [header_box(b"mvhd", 1000), sound_track(&[(0, 0)]), udta].concat();
        assert_eq!(
            edit_in(&moov, 44_100),
            Some(Edit {
                skip: 2112,
                play: Some(0x56BF6)
            })
        );
    }

    #[test]
    fn broken_boxes_give_no_edit_and_never_panic() {
        let moov = [
            header_box(b"mvhd", 1000),
            sound_track(&[(8608, 1024)]),
            smpb_udta(" 0 840 1CA 56BF6"),
        ]
        .concat();
        for cut in 0..moov.len() {
            let _ = edit_in(&moov[..cut], 8000);
            let mut lying = moov.clone();
            lying[cut] = 0xFF;
            let _ = edit_in(&lying, 8000);
        }
        assert_eq!(edit_in(&[], 8000), None);
        assert_eq!(edit_in(&header_box(b"mvhd", 0), 8000), None);
    }

    #[test]
    fn the_aac_fixture_starts_after_its_priming_as_ffmpeg_plays_it() {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/audio/aac_8k_mono.m4a");
        assert_eq!(
            edit_of(&path, 8000),
            Edit {
                skip: 1024,
                play: Some(68_864)
            }
        );
    }

    fn decode_all(path: &Path) -> Vec<i16> {
        let (mut s, _) = super::super::decode::open(path).expect("opens");
        let mut all = Vec::new();
        while s.read(&mut all).expect("reads") > 0 {}
        all
    }

    #[test]
    fn a_file_tagged_by_itunes_alone_plays_the_same_call() {
        // The fixture with its edit list made a no-op and an iTunSMPB tag saying the same;
        // `moov` is the file's last box, so a box appended to it moves no sample offsets.
        let fixture = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/audio/aac_8k_mono.m4a");
        let mut bytes = std::fs::read(&fixture).expect("fixture");
        let moov = bytes.windows(4).rposition(|w| w == b"moov").expect("moov") - 4;
        let elst = bytes.windows(4).rposition(|w| w == b"elst").expect("elst") + 4;
        // version+flags, count, then the entry's duration and media time.
        bytes[elst + 8..elst + 16].copy_from_slice(&[0; 8]);
        let udta = smpb_udta(" 00000000 00000400 00000300 0000000000010D00");
        let size = u32::from_be_bytes(bytes[moov..moov + 4].try_into().expect("size"));
        bytes[moov..moov + 4].copy_from_slice(&(size + udta.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&udta);
        let dir = tempfile::tempdir().expect("tempdir");
        let tagged = dir.path().join("tagged.m4a");
        std::fs::write(&tagged, &bytes).expect("write");

        assert_eq!(
            edit_of(&tagged, 8000),
            Edit {
                skip: 1024,
                play: Some(68_864)
            }
        );
        let (by_tag, by_list) = (decode_all(&tagged), decode_all(&fixture));
        assert_eq!(by_tag.len(), 68_864);
        assert!(by_tag == by_list, "the same frames either way");
    }
}
