//! Streaming audio decoding (symphonia) to mono `f32` at the file's own sample rate.
//!
//! Samples are not clipped, here or in the decoders: Ogg Vorbis peaks above full scale come
//! out above ±1, as libsndfile (musicnn's `librosa.load`) gives them. symphonia 0.5's Vorbis
//! decoder clamped every sample to ±1 after its overlap-add (`symphonia-codec-vorbis` 0.5.5,
//! `dsp.rs`), which left 5.5e-4 between our whole-track tags and musicnn's on GTZAN's
//! pop.00059; 0.6 does not (8.2e-6; `models/msd-musicnn/README.md`), and tests/formats.rs
//! checks a Vorbis file whose samples exceed ±1.

use std::fs::File;
use std::path::{Path, PathBuf};

use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::{AudioCodecId, AudioCodecParameters, AudioDecoder as CodecDecoder};
use symphonia::core::codecs::audio::{AudioDecoderOptions, CODEC_ID_NULL_AUDIO};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, SeekMode, SeekTo, Track};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::units::{Duration as Ticks, Time, TimeBase, Timestamp};

use super::error::DecodeError;
use super::isolation::{abandoned, note_progress};

/// Lowest and highest sample rates accepted.
pub const MIN_SAMPLE_RATE_HZ: u32 = 8_000;
pub const MAX_SAMPLE_RATE_HZ: u32 = 384_000;

/// An open audio file, decoded packet by packet and downmixed to mono.
pub struct AudioDecoder {
    path: PathBuf,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn CodecDecoder>,
    track_id: u32,
    sample_rate_hz: u32,
    channels: usize,
    /// The last packet's samples, interleaved (reused from packet to packet).
    interleaved: Vec<f32>,
    frames_decoded: u64,
    /// Problems met after audio was already decoded (kept as warnings; decoding stops).
    warnings: Vec<String>,
    done: bool,
}

impl AudioDecoder {
    /// Opens `path`, which must be a regular file: a FIFO or device is refused before it is
    /// opened, because opening or reading one can block forever.
    pub fn open(path: &Path) -> Result<Self, DecodeError> {
        let open_err = |source| DecodeError::Open { path: path.to_path_buf(), source };
        let meta = std::fs::metadata(path).map_err(open_err)?;
        if !meta.is_file() {
            return Err(DecodeError::NotRegularFile { path: path.to_path_buf(), kind: special_file_kind(&meta) });
        }
        let file = File::open(path).map_err(open_err)?;
        // Checked again on the open file: the path may have been replaced in between.
        let meta = file.metadata().map_err(open_err)?;
        if !meta.is_file() {
            return Err(DecodeError::NotRegularFile { path: path.to_path_buf(), kind: special_file_kind(&meta) });
        }
        let len = meta.len();
        if len == 0 {
            return Err(DecodeError::Empty { path: path.to_path_buf() });
        }
        let mss = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let format = symphonia::default::get_probe()
            .probe(&hint, mss, FormatOptions::default(), MetadataOptions::default())
            .map_err(|e| DecodeError::UnsupportedFormat { path: path.to_path_buf(), reason: e.to_string() })?;
        let (track_id, params) = format
            .tracks()
            .iter()
            .find_map(|t| audio_params(t).filter(|p| p.codec != CODEC_ID_NULL_AUDIO && p.sample_rate.is_some()).map(|p| (t.id, p)))
            .ok_or_else(|| DecodeError::NoAudioTrack { path: path.to_path_buf(), reason: "no audio track".into() })?;
        let sample_rate_hz = params.sample_rate.unwrap_or(0);
        if !(MIN_SAMPLE_RATE_HZ..=MAX_SAMPLE_RATE_HZ).contains(&sample_rate_hz) {
            return Err(DecodeError::UnsupportedSampleRate { path: path.to_path_buf(), sample_rate_hz });
        }
        let channels = params.channels.as_ref().map_or(1, |c| c.count()).max(1);
        // Gapless (the default): the decoder drops encoder delay and padding, as 0.5's
        // `enable_gapless` format option did.
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(params, &AudioDecoderOptions::default().gapless(true))
            .map_err(|e| DecodeError::NoAudioTrack { path: path.to_path_buf(), reason: e.to_string() })?;
        Ok(Self {
            path: path.to_path_buf(),
            format,
            decoder,
            track_id,
            sample_rate_hz,
            channels,
            interleaved: Vec::new(),
            frames_decoded: 0,
            warnings: Vec::new(),
            done: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }

    /// Channels in the file (before the downmix).
    pub fn channels(&self) -> usize {
        self.channels
    }

    pub fn frames_decoded(&self) -> u64 {
        self.frames_decoded
    }

    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Frames (samples per channel) in the stream when the container says so (FLAC's
    /// STREAMINFO, an MP3's Xing/Info header, WAV's data size, ...); `None` when only decoding
    /// the whole stream would tell.
    pub fn total_frames(&self) -> Option<u64> {
        // Counted in frames (playable ones: without encoder delay and padding) where the reader
        // says so; else the track's duration in its own time base; else the whole file's (MKV
        // states only the segment's), converted.
        let track = self.track()?;
        let media = self.format.media_info();
        track
            .num_frames
            .or_else(|| track.duration.map(|d| self.ticks_to_frames(d.get(), track.time_base)))
            .or_else(|| media.duration.map(|d| self.ticks_to_frames(d.get(), media.time_base)))
    }

    /// Counts the stream's frames by reading packet headers only (no decoding): for
    /// containers that do not state their length (an MP3 without Xing header). Consumes the
    /// stream: open the file again to decode it.
    pub fn count_frames_by_packets(mut self) -> Result<u64, DecodeError> {
        let mut ts_total = 0u64;
        loop {
            match self.format.next_packet() {
                // `dur` counts the packet's playable frames (delay and padding excluded).
                Ok(Some(p)) if p.track_id == self.track_id => ts_total = ts_total.saturating_add(p.dur.get()),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(SymError::ResetRequired) => break,
                Err(e) => return Err(DecodeError::Corrupt { path: self.path.clone(), reason: e.to_string() }),
            }
        }
        Ok(self.ticks_to_frames(ts_total, self.track().and_then(|t| t.time_base)))
    }

    fn track(&self) -> Option<&Track> {
        self.format.tracks().iter().find(|t| t.id == self.track_id)
    }

    /// `ticks` of `time_base` in frames: containers counting in another time base than
    /// 1/sample rate (MKV in ns, MP4 in its media time scale) are converted.
    fn ticks_to_frames(&self, ticks: u64, time_base: Option<TimeBase>) -> u64 {
        let frames_tb = TimeBase::try_from_recip(self.sample_rate_hz);
        match time_base {
            Some(tb) if Some(tb) != frames_tb => tb
                .calc_duration(Ticks::new(ticks))
                .map_or(u64::MAX, |t| (t.as_secs_f64() * self.sample_rate_hz as f64).round() as u64),
            _ => ticks,
        }
    }

    /// Whether [`AudioDecoder::seek_frame`] is known to land on the requested frame: PCM
    /// (WAV, AIFF, CAF), FLAC and MP3 (tests/quick.rs checks them). Ogg Vorbis and AAC seeks
    /// are not checked to land there, so quick mode decodes those as a stream.
    pub fn seeks_accurately(&self) -> bool {
        use symphonia::core::codecs::audio::well_known::*;
        const EXACT: &[AudioCodecId] = &[
            CODEC_ID_FLAC, CODEC_ID_MP3, CODEC_ID_PCM_S32LE, CODEC_ID_PCM_S32BE, CODEC_ID_PCM_S24LE,
            CODEC_ID_PCM_S24BE, CODEC_ID_PCM_S16LE, CODEC_ID_PCM_S16BE, CODEC_ID_PCM_S8, CODEC_ID_PCM_U8,
            CODEC_ID_PCM_U16LE, CODEC_ID_PCM_U16BE, CODEC_ID_PCM_U24LE, CODEC_ID_PCM_U24BE,
            CODEC_ID_PCM_U32LE, CODEC_ID_PCM_U32BE, CODEC_ID_PCM_F32LE, CODEC_ID_PCM_F32BE,
            CODEC_ID_PCM_F64LE, CODEC_ID_PCM_F64BE, CODEC_ID_PCM_ALAW, CODEC_ID_PCM_MULAW,
        ];
        self.track().and_then(audio_params).is_some_and(|p| EXACT.contains(&p.codec))
    }

    /// Moves to `seconds` from the start (accurate seek: MP3 frame headers are skimmed, not
    /// decoded; FLAC uses its seek table). Returns how many frames the next decoded samples
    /// start *before* `seconds` (the caller drops them): formats seek to a packet boundary.
    /// Used by quick mode, which falls back to decoding the stream when this fails.
    pub fn seek_seconds(&mut self, seconds: f64) -> Result<u64, DecodeError> {
        self.seek_frame((seconds.max(0.0) * self.sample_rate_hz as f64).round() as u64)
    }

    /// [`AudioDecoder::seek_seconds`] to frame `frame` (exact where the container counts in
    /// frames, as WAV, FLAC and MP3 do).
    pub fn seek_frame(&mut self, frame: u64) -> Result<u64, DecodeError> {
        let seconds = frame as f64 / self.sample_rate_hz as f64;
        let unseekable = |reason: String| DecodeError::Unseekable { path: self.path.clone(), seconds, reason };
        let frames_tb = TimeBase::try_from_recip(self.sample_rate_hz);
        let track_tb = self.track().and_then(|t| t.time_base);
        let to = if track_tb.is_none() || track_tb == frames_tb {
            let ts = i64::try_from(frame).map_err(|_| unseekable(format!("frame {frame} is out of range")))?;
            SeekTo::Timestamp { ts: Timestamp::new(ts), track_id: self.track_id }
        } else {
            // Half a frame later, so that rounding down in the container's time base lands on it.
            let s = (frame as f64 + 0.5) / self.sample_rate_hz as f64;
            let time = Time::try_from_secs_f64(s).ok_or_else(|| unseekable(format!("{s} s is out of range")))?;
            SeekTo::Time { time, track_id: Some(self.track_id) }
        };
        let seeked = self
            .format
            .seek(SeekMode::Accurate, to)
            .map_err(|e| unseekable(e.to_string()))?;
        // The codec state belongs to the old position (MP3's bit reservoir, overlap-add).
        self.decoder.reset();
        self.done = false;
        // An accurate seek lands at or before the request; never after (0 if a reader did).
        let early_ts = seeked.required_ts.saturating_delta(seeked.actual_ts).get().max(0) as u64;
        Ok(self.ticks_to_frames(early_ts, track_tb))
    }

    /// Decodes the next packet, appending mono samples to `out`. Returns `Ok(false)` at the
    /// end of the stream. Damage after some audio was decoded ends the stream with a warning;
    /// damage before any audio is an error.
    pub fn next_chunk(&mut self, out: &mut Vec<f32>) -> Result<bool, DecodeError> {
        while !self.done {
            if abandoned() {
                // The watchdog gave this file up (a decoder spinning without output): stop
                // here rather than burn a core for the rest of the process.
                self.done = true;
                return Err(DecodeError::Corrupt { path: self.path.clone(), reason: "given up by the watchdog".into() });
            }
            let packet = match self.format.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => {
                    self.done = true;
                    break;
                }
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.done = true;
                    break;
                }
                Err(SymError::ResetRequired) => {
                    self.done = true;
                    break;
                }
                Err(e) => return self.fail_or_stop(e.to_string()).map(|_| false),
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let decoded = match self.decoder.decode(&packet) {
                Ok(d) => d,
                // A damaged packet: skip it, as players do.
                Err(SymError::DecodeError(e)) => {
                    self.note(format!("skipped a damaged packet at {:.2} s: {e}", self.seconds()));
                    continue;
                }
                Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    self.done = true;
                    break;
                }
                Err(e) => return self.fail_or_stop(e.to_string()).map(|_| false),
            };
            let frames = decoded.frames();
            if frames == 0 {
                continue;
            }
            let channels = decoded.spec().channels().count().max(1);
            // Some containers (AAC in MP4) only say the channel count in the stream itself.
            self.channels = channels;
            // Float samples are copied as they are (no clipping); integer ones scaled to ±1.
            decoded.copy_to_vec_interleaved(&mut self.interleaved);
            let samples = &self.interleaved;
            if channels == 1 {
                out.extend_from_slice(&samples[..frames]);
            } else {
                // The channel mean, summed in order and divided, as numpy.mean (librosa's
                // to_mono) computes it in float32.
                let count = channels as f32;
                out.extend(samples.chunks_exact(channels).take(frames).map(|f| f.iter().sum::<f32>() / count));
            }
            self.frames_decoded += frames as u64;
            note_progress();
            return Ok(true);
        }
        if self.frames_decoded == 0 {
            return Err(DecodeError::NoSamples { path: self.path.clone() });
        }
        Ok(false)
    }

    fn seconds(&self) -> f64 {
        self.frames_decoded as f64 / self.sample_rate_hz as f64
    }

    fn note(&mut self, warning: String) {
        if self.warnings.len() < 8 {
            self.warnings.push(warning);
        }
    }

    fn fail_or_stop(&mut self, reason: String) -> Result<(), DecodeError> {
        self.done = true;
        if self.frames_decoded == 0 {
            return Err(DecodeError::Corrupt { path: self.path.clone(), reason });
        }
        let at = self.seconds();
        self.note(format!("decoding stopped at {at:.2} s (file damaged or truncated): {reason}"));
        Ok(())
    }
}

/// Decodes a whole file to mono (for tests and small files; analysis streams instead).
pub fn decode_to_mono(path: &Path) -> Result<(Vec<f32>, u32), DecodeError> {
    let mut dec = AudioDecoder::open(path)?;
    let mut out = Vec::new();
    while dec.next_chunk(&mut out)? {}
    Ok((out, dec.sample_rate_hz()))
}

/// What kind of non-regular file `meta` describes, in words.
pub fn special_file_kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "FIFO (named pipe)";
        } else if t.is_socket() {
            return "socket";
        } else if t.is_char_device() {
            return "character device";
        } else if t.is_block_device() {
            return "block device";
        }
    }
    if meta.is_dir() { "folder" } else { "special file" }
}

/// The audio codec parameters of `track` (`None` for video, subtitles or an unknown codec).
fn audio_params(track: &Track) -> Option<&AudioCodecParameters> {
    track.codec_params.as_ref().and_then(CodecParameters::audio)
}
