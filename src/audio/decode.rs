//! Decoded audio as a stream of 16-bit interleaved PCM that can start at any frame.
//!
//! One reader serves ingest (which counts every frame), the waveform and analysis, and the
//! player's byte ranges, so the length stored at ingest is exactly the length streamed.
//!
//! Seeking: a container seek lands at or before the target; for codecs whose output depends
//! on earlier packets (MP3's bit reservoir, the MDCT overlap of Vorbis/AAC, Opus' predictors)
//! the seek aims a little earlier still (`PREROLL_SECONDS`), and frames before the target are
//! decoded and dropped, placed by packet timestamp. Output after a seek is then the same as
//! the continuous decode. Only when the container cannot seek at all is the file decoded
//! again from the start.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use symphonia::core::codecs::audio::well_known::CODEC_ID_OPUS;
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::units::{TimeBase, Timestamp};

use super::declared;
use super::probe::AudioError;
use super::raw::RawFormat;
use super::wav_repair::{self, WavRepair};

/// How far before a seek target decoding starts, so decoder state has settled by the target.
const PREROLL_SECONDS: f64 = 0.25;

/// Segment length of the canonical decode for codecs that are not bit-exact after a reset:
/// a seek decodes at most this much plus the pre-roll.
const CHECKPOINT_SECONDS: f64 = 2.0;

/// Opus needs only 80 ms of pre-roll for its decoder to converge (RFC 7845, section 4.6).
const OPUS_PREROLL_SECONDS: f64 = 0.08;

/// Opus is always decoded at 48 kHz, whatever rate the container names (Matroska files carry
/// the encoder's input rate there): its timestamps and pre-skip count at 48 kHz, and it is
/// the rate of every reference decoder.
const OPUS_RATE: u32 = 48_000;

/// How many times a seek that landed after its target is retried from further back before
/// the stream starts over from the first frame.
const SEEK_RETRIES: u32 = 3;

/// Every decoder callgrade knows: symphonia's own, Opus through libopus, and ours (GSM,
/// G.722, G.726, MS ADPCM).
pub fn codecs() -> &'static CodecRegistry {
    static REGISTRY: LazyLock<CodecRegistry> = LazyLock::new(|| {
        let mut registry = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut registry);
        registry.register_audio_decoder::<symphonia_adapter_libopus::OpusDecoder>();
        registry.register_audio_decoder::<super::gsm::GsmMsDecoder>();
        registry.register_audio_decoder::<super::wav_g72x::G72xDecoder>();
        // Ours before symphonia's, whose step overflows on hostile blocks (see `ms_adpcm`).
        registry.register_audio_decoder_at_tier::<super::ms_adpcm::MsAdpcmDecoder>(
            symphonia::core::common::Tier::Preferred,
        );
        registry
    });
    &REGISTRY
}

/// Decoded audio, readable in order from any starting frame.
pub trait PcmStream: Send {
    fn sample_rate(&self) -> u32;
    fn channels(&self) -> usize;
    /// Positions the stream so that the next `read` starts exactly at `frame`.
    fn seek(&mut self, frame: u64) -> Result<(), AudioError>;
    /// Appends the next decoded frames (interleaved) to `out` and returns how many frames were
    /// appended; 0 at the end.
    fn read(&mut self, out: &mut Vec<i16>) -> Result<usize, AudioError>;
    /// Problems met while reading so far (corrupt packets skipped, early end).
    fn damage(&self) -> &Damage;
}

/// What went wrong while decoding, for the `damaged` flag and its reason.
#[derive(Clone, Debug, Default)]
pub struct Damage {
    pub bad_packets: u64,
    pub first_error: Option<String>,
    pub ended_abruptly: bool,
}

/// What the container and codec say about the audio, before decoding it.
#[derive(Clone, Debug)]
pub struct Described {
    pub container: String,
    pub codec: String,
    /// Frame count the header declares, when it declares one.
    pub promised_frames: Option<u64>,
    pub max_frames_per_packet: u64,
    /// Set when a WAV header promised more than the file holds (see `wav_repair`).
    pub repair: Option<WavRepair>,
}

pub fn open(path: &Path) -> Result<(Box<dyn PcmStream>, Described), AudioError> {
    open_as(path, None)
}

/// Opens a recording whose name (at upload) may have said it is a headerless `raw` format:
/// the content still decides first, so only a file with no recognised header is read as
/// `raw`.
pub fn open_as(
    path: &Path,
    raw: Option<&'static RawFormat>,
) -> Result<(Box<dyn PcmStream>, Described), AudioError> {
    // RIFF/WAVE files are read by our own reader (exact seeking, GSM 6.10), and so are Sun
    // .au files and headerless telephony formats, laid out like WAV data.
    if let Some(opened) = super::wav::open(path)? {
        return Ok(opened);
    }
    if let Some(opened) = super::au::open(path)? {
        return Ok(opened);
    }
    if let Some(format) = raw {
        let mut file = File::open(path)
            .map_err(|e| AudioError::Invalid(format!("cannot read the recording: {e}")))?;
        let mut prefix = Vec::with_capacity(16);
        (&mut file)
            .take(16)
            .read_to_end(&mut prefix)
            .map_err(|e| AudioError::Invalid(format!("cannot read the recording: {e}")))?;
        if !super::raw::looks_headed(&prefix) {
            let len = file
                .metadata()
                .map_err(|e| AudioError::Invalid(format!("cannot read the recording: {e}")))?
                .len();
            let layout = super::raw::layout(format, len)?;
            let (stream, described) = super::wav::open_layout(path, layout)?;
            let described = Described {
                container: "raw".into(),
                ..described
            };
            return Ok((Box::new(stream), described));
        }
    }
    let stream = SymphoniaStream::open(path)?;
    let mut described = stream.described.clone();
    if described.container == "isomp4" {
        // AAC priming and padding, as the file's edit list or gapless tag declares them.
        let edit = super::mp4::edit_of(path, stream.rate);
        if edit != super::mp4::Edit::default() {
            if let Some(play) = edit.play {
                described.promised_frames = Some(play);
            } else if let Some(all) = described.promised_frames {
                described.promised_frames = Some(all.saturating_sub(edit.skip));
            }
            return Ok((
                Box::new(super::mp4::Edited::new(Box::new(stream), edit)?),
                described,
            ));
        }
    }
    Ok((Box::new(stream), described))
}

struct SymphoniaStream {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    rate: u32,
    channels: usize,
    described: Described,
    /// Frames before this absolute position are decoded but not returned (after a seek).
    discard_until: u64,
    /// Absolute frame index of the next frame `read` returns.
    next_frame: u64,
    /// The container timestamp (in frames) of output frame 0, learnt from the first packet:
    /// decoders may drop frames of their own (Opus pre-skip) that packet timestamps still
    /// count. When the first packet's duration is unknown (Matroska blocks usually carry
    /// none), it is learnt from the second packet against the frames the first one gave.
    origin: Option<i64>,
    /// Frames the first packet gave, while the origin waits for the second packet.
    first_frames: Option<u64>,
    /// Converts container timestamps (the track's time base: milliseconds in Matroska) to
    /// frames at the decoding rate.
    clock: TrackClock,
    /// After a jump: the frame the first decoded packet must start at or before. A container
    /// seek that lands later (packets longer than the pre-roll) is retried from further back.
    landing: Option<u64>,
    /// Extra pre-roll multiplier of the current jump (doubled at each retry).
    retries: u32,
    /// For codecs whose output after a reset never becomes bit-identical to the continuous
    /// decode (libopus' float filters), the canonical output itself restarts the decoder
    /// every `checkpoint` frames, so a seek reproduces it exactly; `next_checkpoint` is the
    /// next restart of the sequential read.
    checkpoint: Option<u64>,
    next_checkpoint: u64,
    /// How far before a seek target (or checkpoint) decoding starts.
    preroll_frames: u64,
    scratch: Vec<i16>,
    damage: Damage,
}

/// A track's timestamps against frames at the decoding rate. Ogg, MP3 and MP4 count in
/// frames already; Matroska counts in milliseconds, so a timestamp names a frame only to the
/// millisecond, which is why frame counts, not timestamps, place the output (`origin`).
#[derive(Clone, Copy, Debug)]
struct TrackClock {
    time_base: Option<TimeBase>,
    rate: u32,
}

impl TrackClock {
    /// The frame at timestamp `ts`, rounded to the nearest.
    fn to_frames(self, ts: i64) -> i64 {
        match self.time_base {
            Some(tb) if self.rate > 0 => {
                let num = i128::from(ts) * i128::from(tb.numer.get()) * i128::from(self.rate);
                let den = i128::from(tb.denom.get());
                let rounded = (2 * num + den).div_euclid(2 * den);
                rounded.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
            }
            _ => ts,
        }
    }

    /// The last timestamp at or before `frame`: a seek aimed there lands no later.
    fn to_ts(self, frame: i64) -> i64 {
        match self.time_base {
            Some(tb) if self.rate > 0 => {
                let num = i128::from(frame) * i128::from(tb.denom.get());
                let den = i128::from(tb.numer.get()) * i128::from(self.rate);
                num.div_euclid(den)
                    .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
            }
            _ => frame,
        }
    }
}

fn source_for(path: &Path) -> Result<(Box<dyn MediaSource>, Option<WavRepair>), AudioError> {
    let mut file = File::open(path)
        .map_err(|e| AudioError::Invalid(format!("cannot read the recording: {e}")))?;
    let repair = wav_repair::check(&mut file)
        .map_err(|e| AudioError::Invalid(format!("cannot read the recording: {e}")))?;
    let cut_mkv = repair.is_none()
        && declared::check(&mut file)
            .map_err(|e| AudioError::Invalid(format!("cannot read the recording: {e}")))?;
    let source: Box<dyn MediaSource> = match &repair {
        Some(r) => Box::new(wav_repair::PatchedSource::new(file, r)),
        None if cut_mkv => Box::new(declared::UnsizedSource(file)),
        None => Box::new(file),
    };
    Ok((source, repair))
}

impl SymphoniaStream {
    fn open(path: &Path) -> Result<SymphoniaStream, AudioError> {
        let (source, repair) = source_for(path)?;
        let mss = MediaSourceStream::new(source, MediaSourceStreamOptions::default());
        // No hint from the name: the content alone decides.
        let format = symphonia::default::get_probe()
            .probe(
                &Hint::new(),
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|e| probe_error(&e))?;
        let container = format.format_info().short_name.to_string();
        let track = format.default_track(TrackType::Audio).ok_or_else(|| {
            AudioError::Invalid(format!("the {container} file has no audio track"))
        })?;
        let track_id = track.id;
        let time_base = track.time_base;
        let track_num_frames = track.num_frames;
        let track_duration = track.duration;
        let mut params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .ok_or_else(|| AudioError::Invalid(format!("the {container} file has no audio track")))?
            .clone();
        if params.codec == CODEC_ID_OPUS {
            params.sample_rate = Some(OPUS_RATE);
        }
        if params.sample_rate == Some(0) {
            return Err(AudioError::Invalid(
                "the header declares a sample rate of 0 Hz".into(),
            ));
        }
        if params.channels.as_ref().is_some_and(|c| c.count() == 0) {
            return Err(AudioError::Invalid("the header declares 0 channels".into()));
        }
        let decoder = codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default().gapless(true))
            .map_err(|e| match e {
                SymError::Unsupported(what) => AudioError::Unsupported(format!(
                    "the {container} file uses a codec callgrade cannot decode yet ({what})"
                )),
                other => AudioError::Invalid(format!("the codec parameters are invalid: {other}")),
            })?;
        let codec = decoder.codec_info().short_name.to_string();
        // The declared length: a frame count (MP4 when its timescale is the rate, Ogg's last
        // granule, FLAC's total samples, MP3's Xing/VBRI frames), else the track's or the
        // whole file's duration (Matroska's segment Info), converted at the decoding rate.
        let decoding_rate = params.sample_rate.unwrap_or(0);
        let media = format.media_info();
        let promised_frames = track_num_frames
            .or_else(|| {
                track_duration.and_then(|d| declared::frames_of(d, time_base, decoding_rate))
            })
            .or_else(|| {
                media
                    .duration
                    .and_then(|d| declared::frames_of(d, media.time_base, decoding_rate))
            });
        let rate = f64::from(params.sample_rate.unwrap_or(48_000));
        let opus = codec == "opus";
        let checkpoint = opus.then_some((CHECKPOINT_SECONDS * rate) as u64);
        let preroll = if opus {
            OPUS_PREROLL_SECONDS
        } else {
            PREROLL_SECONDS
        };
        let preroll_frames =
            ((preroll * rate) as u64).max(2 * params.max_frames_per_packet.unwrap_or(0));
        Ok(SymphoniaStream {
            path: path.to_path_buf(),
            rate: params.sample_rate.unwrap_or(0),
            channels: params.channels.as_ref().map_or(0, |c| c.count()),
            described: Described {
                container,
                codec,
                promised_frames,
                max_frames_per_packet: params.max_frames_per_packet.unwrap_or(0),
                repair,
            },
            format,
            decoder,
            track_id,
            discard_until: 0,
            next_frame: 0,
            origin: None,
            first_frames: None,
            clock: TrackClock {
                time_base,
                rate: params.sample_rate.unwrap_or(0),
            },
            landing: None,
            retries: 0,
            checkpoint,
            next_checkpoint: checkpoint.unwrap_or(u64::MAX),
            preroll_frames,
            scratch: Vec::new(),
            damage: Damage::default(),
        })
    }

    /// Repositions the decoder so output resumes exactly at `frame`: seek the container a
    /// little before it (before its checkpoint, for checkpointed codecs), reset the decoder,
    /// and drop the frames before `frame` as they decode.
    fn jump(&mut self, frame: u64) -> Result<(), AudioError> {
        self.retries = 0;
        self.jump_back(frame)
    }

    /// `jump` with the pre-roll of the current retry: each retry aims twice as far back.
    /// The landing depends only on the segment's base, so a sequential read and a seek into
    /// the same segment decode it from the same packet.
    fn jump_back(&mut self, frame: u64) -> Result<(), AudioError> {
        let origin = self.origin.unwrap_or(0);
        let base = match self.checkpoint {
            Some(k) => frame / k * k,
            None => frame,
        };
        let preroll = self.preroll_frames << self.retries;
        let aim = (base.saturating_sub(preroll) as i64).saturating_add(origin);
        let seeked = if base == 0 || aim <= origin || self.retries >= SEEK_RETRIES {
            None
        } else {
            self.format
                .seek(
                    SeekMode::Accurate,
                    SeekTo::Timestamp {
                        ts: Timestamp::from(self.clock.to_ts(aim)),
                        track_id: self.track_id,
                    },
                )
                .ok()
        };
        match seeked {
            Some(_) => {
                self.decoder.reset();
                self.landing = Some(base);
            }
            None => {
                self.restart()?;
                self.landing = None;
            }
        }
        self.discard_until = frame;
        self.next_frame = frame;
        if let Some(k) = self.checkpoint {
            self.next_checkpoint = base + k;
        }
        Ok(())
    }

    /// Starts over from the first frame (only for containers that cannot seek).
    fn restart(&mut self) -> Result<(), AudioError> {
        let fresh = SymphoniaStream::open(&self.path)?;
        let damage = std::mem::take(&mut self.damage);
        *self = fresh;
        self.damage = damage;
        Ok(())
    }
}

impl PcmStream for SymphoniaStream {
    fn sample_rate(&self) -> u32 {
        self.rate
    }

    fn channels(&self) -> usize {
        self.channels
    }

    fn damage(&self) -> &Damage {
        &self.damage
    }

    fn seek(&mut self, frame: u64) -> Result<(), AudioError> {
        if frame == self.next_frame {
            return Ok(());
        }
        // Learn the timeline from the first packets before jumping away from them.
        let mut first = Vec::new();
        while self.origin.is_none() {
            if self.read(&mut first)? == 0 {
                break;
            }
        }
        self.jump(frame)
    }

    fn read(&mut self, out: &mut Vec<i16>) -> Result<usize, AudioError> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) => return Ok(0),
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.damage.ended_abruptly = true;
                    return Ok(0);
                }
                Err(SymError::ResetRequired) => return Ok(0),
                Err(e) => {
                    self.damage.first_error.get_or_insert_with(|| e.to_string());
                    self.damage.ended_abruptly = true;
                    return Ok(0);
                }
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let raw_start = self.clock.to_frames(packet.pts.get()) + packet.trim_start.get() as i64;
            let dur = self.clock.to_frames(packet.dur.get() as i64);
            let expected = dur - packet.trim_start.get() as i64 - packet.trim_end.get() as i64;
            let decoded = match self.decoder.decode(&packet) {
                Ok(buf) => buf,
                Err(SymError::DecodeError(msg)) => {
                    self.damage.bad_packets += 1;
                    self.damage
                        .first_error
                        .get_or_insert_with(|| msg.to_string());
                    continue;
                }
                Err(SymError::IoError(e)) => {
                    self.damage.bad_packets += 1;
                    self.damage.first_error.get_or_insert_with(|| e.to_string());
                    continue;
                }
                Err(SymError::Unsupported(what)) => {
                    return Err(AudioError::Unsupported(format!(
                        "the {} stream uses a feature callgrade cannot decode yet ({what})",
                        self.described.codec
                    )));
                }
                Err(e) => {
                    self.damage.first_error.get_or_insert_with(|| e.to_string());
                    self.damage.ended_abruptly = true;
                    return Ok(0);
                }
            };
            let frames = decoded.frames();
            if frames == 0 {
                continue;
            }
            // Frames the decoder itself dropped from the front of this packet.
            let dropped = (expected - frames as i64).max(0);
            let origin = match self.origin {
                Some(origin) => origin,
                // Only frame counts say where output frame 0 sits: the first packet opens the
                // output; the second, coming after what the first gave, fixes the origin.
                None if dur == 0 => match self.first_frames {
                    None => {
                        self.first_frames = Some(frames as u64);
                        raw_start
                    }
                    Some(first) => *self.origin.insert(raw_start - first as i64),
                },
                None => *self.origin.insert(raw_start + dropped),
            };
            // Where this packet's first output frame sits in the output.
            let start = if self.origin.is_none() {
                0
            } else {
                (raw_start + dropped - origin).max(0) as u64
            };
            if let Some(base) = self.landing.take()
                && start > base
            {
                // The container seek landed after the segment to decode: aim further back.
                self.retries += 1;
                self.jump_back(self.discard_until)?;
                continue;
            }
            let spec = decoded.spec();
            self.rate = spec.rate();
            self.channels = spec.channels().count();
            decoded.copy_to_vec_interleaved(&mut self.scratch);
            let end = start + frames as u64;
            if end <= self.discard_until {
                continue;
            }
            let skip = self.discard_until.saturating_sub(start) as usize;
            self.discard_until = 0;
            let mut n = frames - skip;
            let room = self.next_checkpoint.saturating_sub(self.next_frame);
            let at_checkpoint = n as u64 >= room;
            if at_checkpoint {
                // The rest belongs to the next segment, decoded afresh.
                n = room as usize;
            }
            out.extend_from_slice(&self.scratch[skip * self.channels..(skip + n) * self.channels]);
            self.next_frame += n as u64;
            if at_checkpoint {
                self.jump(self.next_frame)?;
            }
            if n == 0 {
                continue;
            }
            return Ok(n);
        }
    }
}

/// Why a file with no recognised header and no headerless-format extension is refused.
pub const NOT_RECOGNISED: &str = "not a recognised audio file (the content is not WAV, Sun .au, \
     MP3, Ogg, FLAC, MP4/M4A, AIFF, CAF or Matroska, and the file name's extension is not one \
     of the headerless formats: .ulaw .ul .pcmu .alaw .al .pcma .sln .raw .sln16 .gsm)";

/// The same, in Chinese (zh-CN), for clients that show it.
pub const NOT_RECOGNISED_ZH: &str = "无法识别的音频文件（内容不是 WAV、Sun .au、MP3、Ogg、FLAC、\
     MP4/M4A、AIFF、CAF 或 Matroska，文件扩展名也不是可识别的无文件头格式：.ulaw .ul .pcmu .alaw \
     .al .pcma .sln .raw .sln16 .gsm）";

pub(crate) fn probe_error(e: &SymError) -> AudioError {
    match e {
        SymError::Unsupported(what) if what.contains("no suitable format reader") => {
            AudioError::Invalid(NOT_RECOGNISED.into())
        }
        // An MP4 whose index (moov) was to be written at the end, by a recorder that
        // stopped first: the audio is there but nothing says where its packets are.
        SymError::Unsupported(what) if what.contains("missing moov") => AudioError::Invalid(
            "the MP4 file has no index (moov box): it was cut short before the recorder \
             finished it, and none of its audio can be located"
                .into(),
        ),
        SymError::Unsupported(what) => AudioError::Unsupported(format!(
            "the file is audio in a form callgrade cannot decode yet ({what})"
        )),
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            AudioError::Invalid("the file ends inside its header".into())
        }
        other => AudioError::Invalid(format!("the audio header is invalid: {other}")),
    }
}
