//! The genre in a file's own tag format, and beside it one machine-readable field with what
//! Genre Meter decided: ID3v2.4 `TCON` + `TXXX:GENRE_METER` (MP3, and the ID3 chunk of WAV
//! and AIFF), Vorbis comments `GENRE` + `GENRE_METER` (FLAC, Ogg Vorbis, Opus), MP4 `©gen` +
//! `----:com.genre-meter:GENRE_METER` (M4A).
//!
//! Only those fields change. Each format is edited through its concrete lofty type and only
//! the one tag is written back, so other tags, pictures and chunks are carried over as they
//! were; the file is replaced atomically ([`super::atomic`]).

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::Path;

use lofty::config::{ParseOptions, WriteOptions};
use lofty::file::{AudioFile, FileType};
use lofty::flac::FlacFile;
use lofty::id3::v2::{Frame, FrameId, Id3v2Tag, TextInformationFrame};
use lofty::iff::aiff::AiffFile;
use lofty::iff::wav::WavFile;
use lofty::mp4::{Atom, AtomData, AtomIdent, Ilst, Mp4File};
use lofty::mpeg::MpegFile;
use lofty::ogg::{OpusFile, VorbisComments, VorbisFile};
use lofty::tag::TagExt;
use serde::Serialize;

use super::LibraryError;
use super::atomic::replace_with_edited_copy_hooked;

/// Name of the machine-readable field (ID3 `TXXX` description, Vorbis key, MP4 freeform name).
pub const MACHINE_FIELD: &str = "GENRE_METER";
/// The MP4 freeform atom's "mean" (reverse-DNS owner) of the machine-readable field.
pub const MP4_FREEFORM_MEAN: &str = "com.genre-meter";

const MP4_GENRE: AtomIdent<'static> = AtomIdent::Fourcc(*b"\xa9gen");
const MP4_GENRE_ID: AtomIdent<'static> = AtomIdent::Fourcc(*b"gnre");

/// Whether a tag value names the same genre as a model label, ignoring case, spaces and
/// punctuation (`Hip-Hop` = `hiphop`).
pub fn same_genre(tag_value: &str, label: &str) -> bool {
    let norm = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>();
    let v = norm(tag_value);
    !v.is_empty() && v == norm(label)
}

/// Which tag a file's genre lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TagFormat {
    Id3v2,
    VorbisComments,
    Mp4Ilst,
}

impl TagFormat {
    pub fn describe(self) -> &'static str {
        match self {
            TagFormat::Id3v2 => "ID3v2.4",
            TagFormat::VorbisComments => "Vorbis comments",
            TagFormat::Mp4Ilst => "MP4 atoms",
        }
    }
}

/// The genre fields of one file as they are now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenreTags {
    pub format: TagFormat,
    /// Every genre value (multi-valued where the format allows); empty when none.
    pub genres: Vec<String>,
    /// The machine-readable field's JSON, when a run of Genre Meter wrote one.
    pub machine: Option<String>,
}

/// What to write.
#[derive(Debug, Clone)]
pub struct GenreUpdate {
    /// Strongest first; all are written where the format is multi-valued.
    pub genres: Vec<String>,
    /// JSON for the machine-readable field.
    pub machine: String,
}

#[derive(Clone, Copy)]
enum Kind {
    Mpeg,
    Wav,
    Aiff,
    Flac,
    Vorbis,
    Opus,
    Mp4,
}

fn kind_of(path: &Path) -> Result<Kind, LibraryError> {
    let probe = lofty::probe::Probe::open(path)
        .and_then(|p| Ok(p.guess_file_type()?))
        .map_err(|e| LibraryError::Tag { path: path.to_path_buf(), reason: e.to_string() })?;
    match probe.file_type() {
        Some(FileType::Mpeg) => Ok(Kind::Mpeg),
        Some(FileType::Wav) => Ok(Kind::Wav),
        Some(FileType::Aiff) => Ok(Kind::Aiff),
        Some(FileType::Flac) => Ok(Kind::Flac),
        Some(FileType::Vorbis) => Ok(Kind::Vorbis),
        Some(FileType::Opus) => Ok(Kind::Opus),
        Some(FileType::Mp4) => Ok(Kind::Mp4),
        other => Err(LibraryError::Unsupported {
            path: path.to_path_buf(),
            what: other.map_or("an unknown format".to_string(), |t| format!("{t:?}")),
        }),
    }
}

fn parse_options() -> ParseOptions {
    ParseOptions::new().read_properties(false)
}

/// ID3v2.4, the version `tag` writes (2.3 readers see unknown frames as such, not damage).
fn write_options() -> WriteOptions {
    WriteOptions::default().use_id3v23(false)
}

fn tag_err(path: &Path) -> impl Fn(lofty::error::LoftyError) -> LibraryError + '_ {
    move |e| LibraryError::Tag { path: path.to_path_buf(), reason: e.to_string() }
}

fn id3_read(tag: Option<&Id3v2Tag>) -> GenreTags {
    GenreTags {
        format: TagFormat::Id3v2,
        genres: tag.and_then(|t| t.genres()).map(|g| g.map(str::to_string).collect()).unwrap_or_default(),
        machine: tag.and_then(|t| t.get_user_text(MACHINE_FIELD)).map(str::to_string),
    }
}

fn vorbis_read(tag: Option<&VorbisComments>) -> GenreTags {
    GenreTags {
        format: TagFormat::VorbisComments,
        genres: tag.map(|t| t.get_all("GENRE").map(str::to_string).collect()).unwrap_or_default(),
        machine: tag.and_then(|t| t.get(MACHINE_FIELD)).map(str::to_string),
    }
}

fn mp4_machine_ident() -> AtomIdent<'static> {
    AtomIdent::Freeform { mean: MP4_FREEFORM_MEAN.into(), name: MACHINE_FIELD.into() }
}

fn atom_texts(ilst: &Ilst, ident: &AtomIdent<'_>) -> Vec<String> {
    ilst.get(ident)
        .map(|a| a.data().filter_map(|d| if let AtomData::UTF8(s) = d { Some(s.clone()) } else { None }).collect())
        .unwrap_or_default()
}

fn mp4_read(tag: Option<&Ilst>) -> GenreTags {
    GenreTags {
        format: TagFormat::Mp4Ilst,
        genres: tag.map(|t| atom_texts(t, &MP4_GENRE)).unwrap_or_default(),
        machine: tag.and_then(|t| atom_texts(t, &mp4_machine_ident()).into_iter().next()),
    }
}

/// The genre fields of `path` (a format without a tag yet gives empty genres). A panic of the
/// tag library on a damaged file is that file's error (per-file isolation, as for decoding).
pub fn read_genre_tags(path: &Path) -> Result<GenreTags, LibraryError> {
    crate::engine::isolation::isolate(path, || read_genre_tags_unisolated(path))
}

fn read_genre_tags_unisolated(path: &Path) -> Result<GenreTags, LibraryError> {
    let kind = kind_of(path)?;
    let mut file = File::open(path).map_err(|source| LibraryError::Io { path: path.to_path_buf(), source })?;
    let e = tag_err(path);
    Ok(match kind {
        Kind::Mpeg => id3_read(MpegFile::read_from(&mut file, parse_options()).map_err(e)?.id3v2()),
        Kind::Wav => {
            let wav = WavFile::read_from(&mut file, parse_options()).map_err(e)?;
            let mut tags = id3_read(wav.id3v2());
            // Many WAV writers put the genre only in the RIFF INFO list (`IGNR`).
            if tags.genres.is_empty()
                && let Some(g) = wav.riff_info().and_then(|i| i.get("IGNR")).filter(|g| !g.trim().is_empty())
            {
                tags.genres = vec![g.to_string()];
            }
            tags
        }
        Kind::Aiff => id3_read(AiffFile::read_from(&mut file, parse_options()).map_err(e)?.id3v2()),
        Kind::Flac => vorbis_read(FlacFile::read_from(&mut file, parse_options()).map_err(e)?.vorbis_comments()),
        Kind::Vorbis => vorbis_read(Some(VorbisFile::read_from(&mut file, parse_options()).map_err(e)?.vorbis_comments())),
        Kind::Opus => vorbis_read(Some(OpusFile::read_from(&mut file, parse_options()).map_err(e)?.vorbis_comments())),
        Kind::Mp4 => mp4_read(Mp4File::read_from(&mut file, parse_options()).map_err(e)?.ilst()),
    })
}

fn id3_update(tag: &mut Id3v2Tag, u: &GenreUpdate) {
    // ID3v2.4 separates several values of a text frame by NUL.
    let frame = TextInformationFrame::new(FrameId::Valid("TCON".into()), lofty::TextEncoding::UTF8, u.genres.join("\0"));
    tag.insert(Frame::Text(frame));
    tag.insert_user_text(MACHINE_FIELD.to_string(), u.machine.clone());
}

fn vorbis_update(tag: &mut VorbisComments, u: &GenreUpdate) {
    let _ = tag.remove("GENRE").count();
    for g in &u.genres {
        tag.push("GENRE".to_string(), g.clone());
    }
    tag.insert(MACHINE_FIELD.to_string(), u.machine.clone());
}

fn mp4_update(tag: &mut Ilst, u: &GenreUpdate) {
    let _ = tag.remove(&MP4_GENRE_ID).count();
    let _ = tag.remove(&MP4_GENRE).count();
    if let Some(atom) = Atom::from_collection(MP4_GENRE, u.genres.iter().cloned().map(AtomData::UTF8).collect()) {
        tag.insert(atom);
    }
    tag.replace_atom(Atom::new(mp4_machine_ident(), AtomData::UTF8(u.machine.clone())));
}

/// Writes `update` into `path`, atomically; everything else in the file is kept.
pub fn write_genre_tags(path: &Path, update: &GenreUpdate) -> Result<(), LibraryError> {
    write_genre_tags_hooked(path, update, |_| Ok(()))
}

/// [`write_genre_tags`] with a hook called after the tagged copy is flushed and before it
/// replaces the original (tests fail the write there).
pub fn write_genre_tags_hooked(
    path: &Path,
    update: &GenreUpdate,
    before_rename: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), LibraryError> {
    crate::engine::isolation::isolate(path, || write_genre_tags_unisolated(path, update, before_rename))
}

fn write_genre_tags_unisolated(
    path: &Path,
    update: &GenreUpdate,
    before_rename: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), LibraryError> {
    let kind = kind_of(path)?;
    replace_with_edited_copy_hooked(
        path,
        |file| {
            let e = tag_err(path);
            let io = |source| LibraryError::Io { path: path.to_path_buf(), source };
            match kind {
                Kind::Mpeg | Kind::Wav | Kind::Aiff => {
                    let mut riff_info = None;
                    let existing = match kind {
                        Kind::Mpeg => MpegFile::read_from(file, parse_options()).map_err(&e)?.id3v2().cloned(),
                        Kind::Wav => {
                            let wav = WavFile::read_from(file, parse_options()).map_err(&e)?;
                            riff_info = wav.riff_info().filter(|i| i.get("IGNR").is_some()).cloned();
                            wav.id3v2().cloned()
                        }
                        _ => AiffFile::read_from(file, parse_options()).map_err(&e)?.id3v2().cloned(),
                    };
                    let mut tag = existing.unwrap_or_default();
                    id3_update(&mut tag, update);
                    file.seek(SeekFrom::Start(0)).map_err(io)?;
                    tag.save_to(file, write_options()).map_err(&e)?;
                    // A genre already in the RIFF INFO list is kept in step, so that readers
                    // of either tag agree.
                    if let Some(mut info) = riff_info {
                        info.insert("IGNR".to_string(), update.genres.join("; "));
                        file.seek(SeekFrom::Start(0)).map_err(io)?;
                        info.save_to(file, write_options()).map_err(&e)?;
                    }
                }
                Kind::Flac => {
                    // Through the file type: FLAC keeps pictures in blocks of their own,
                    // which the file writes back beside the comments.
                    let mut flac = FlacFile::read_from(file, parse_options()).map_err(&e)?;
                    let mut tag = flac.vorbis_comments().cloned().unwrap_or_default();
                    vorbis_update(&mut tag, update);
                    flac.set_vorbis_comments(tag);
                    file.seek(SeekFrom::Start(0)).map_err(io)?;
                    flac.save_to(file, write_options()).map_err(&e)?;
                }
                Kind::Vorbis | Kind::Opus => {
                    let mut tag = match kind {
                        Kind::Vorbis => VorbisFile::read_from(file, parse_options()).map_err(&e)?.vorbis_comments().clone(),
                        _ => OpusFile::read_from(file, parse_options()).map_err(&e)?.vorbis_comments().clone(),
                    };
                    vorbis_update(&mut tag, update);
                    file.seek(SeekFrom::Start(0)).map_err(io)?;
                    tag.save_to(file, write_options()).map_err(&e)?;
                }
                Kind::Mp4 => {
                    let mut tag = Mp4File::read_from(file, parse_options()).map_err(&e)?.ilst().cloned().unwrap_or_default();
                    mp4_update(&mut tag, update);
                    file.seek(SeekFrom::Start(0)).map_err(io)?;
                    tag.save_to(file, write_options()).map_err(&e)?;
                }
            }
            Ok(())
        },
        before_rename,
    )
}
