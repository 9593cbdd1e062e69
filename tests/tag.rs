//! `genre-meter tag`: the genre written into each format's own tags, read back by lofty and
//! by independent readers (ffprobe, metaflac), with the audio, the other tags, the picture
//! and the other chunks unchanged; atomic writes; --keep-existing, --min-confidence,
//! --dry-run, --top, read-only files.
//!
//! Fixtures are made here from synthesised audio with ffmpeg (Debian `ffmpeg`); without it
//! the tests say SKIPPED and pass.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use genre_meter::library::tags::{GenreUpdate, read_genre_tags, write_genre_tags_hooked};

fn have(tool: &str) -> bool {
    Command::new(tool).arg("-version").output().is_ok_and(|o| o.status.success())
        || Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

macro_rules! require_ffmpeg {
    () => {
        if !have("ffmpeg") || !have("ffprobe") {
            skip_test!(ci_provides: true, "ffmpeg/ffprobe not installed (Debian package ffmpeg); they make the fixtures and read them back");
        }
    };
}

fn run(cmd: &mut Command) -> Output {
    let o = cmd.output().expect("run tool");
    assert!(o.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    o
}

fn ffmpeg(args: &[&str]) {
    run(Command::new("ffmpeg").args(["-v", "error", "-y"]).args(args));
}

/// A 16x16 PNG made by ffmpeg: the cover picture.
fn cover(dir: &Path) -> PathBuf {
    let png = dir.join("cover.png");
    if !png.exists() {
        ffmpeg(&["-f", "lavfi", "-i", "color=c=0x3366cc:s=16x16", "-frames:v", "1", png.to_str().unwrap()]);
    }
    png
}

/// Appends a chunk of our own to a RIFF/FORM file (a tool's private data that must survive).
fn add_private_chunk(path: &Path, big_endian: bool) {
    let mut bytes = std::fs::read(path).unwrap();
    let body = b"genre-meter test chunk: keep me";
    let len = body.len() as u32;
    bytes.extend_from_slice(b"GMtk");
    bytes.extend_from_slice(&if big_endian { len.to_be_bytes() } else { len.to_le_bytes() });
    bytes.extend_from_slice(body);
    if body.len() % 2 == 1 {
        bytes.push(0);
    }
    let size = (bytes.len() - 8) as u32;
    bytes[4..8].copy_from_slice(&if big_endian { size.to_be_bytes() } else { size.to_le_bytes() });
    std::fs::write(path, bytes).unwrap();
}

/// Chunks of a RIFF (WAV) or FORM (AIFF) file: (id, body), the ID3 chunk left out.
fn chunks(path: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let big = &bytes[0..4] == b"FORM";
    let mut out = Vec::new();
    let mut i = 12;
    while i + 8 <= bytes.len() {
        let id = String::from_utf8_lossy(&bytes[i..i + 4]).into_owned();
        let raw: [u8; 4] = bytes[i + 4..i + 8].try_into().unwrap();
        let len = if big { u32::from_be_bytes(raw) } else { u32::from_le_bytes(raw) } as usize;
        let end = (i + 8 + len).min(bytes.len());
        if !id.eq_ignore_ascii_case("id3 ") {
            out.push((id, bytes[i + 8..end].to_vec()));
        }
        i = i + 8 + len + (len % 2);
    }
    out
}

/// The body of a RIFF/FORM file's ID3 chunk.
fn id3_chunk(path: &Path) -> Option<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let big = &bytes[0..4] == b"FORM";
    let mut i = 12;
    while i + 8 <= bytes.len() {
        let raw: [u8; 4] = bytes[i + 4..i + 8].try_into().unwrap();
        let len = if big { u32::from_be_bytes(raw) } else { u32::from_le_bytes(raw) } as usize;
        if bytes[i..i + 4].eq_ignore_ascii_case(b"id3 ") {
            return Some(bytes[i + 8..(i + 8 + len).min(bytes.len())].to_vec());
        }
        i = i + 8 + len + (len % 2);
    }
    None
}

const FORMATS: &[&str] = &["mp3", "wav", "aiff", "flac", "ogg", "opus", "m4a"];

/// A tagged file in `format`: synthesised music, artist/title/comment tags, an old genre,
/// a cover picture (where ffmpeg can embed one; Ogg and Opus get it through lofty), and a
/// private chunk in WAV and AIFF.
fn fixture(dir: &Path, format: &str) -> PathBuf {
    let wav = dir.join("source.wav");
    if !wav.exists() {
        common::write_wav_i16(&wav, 44_100, 2, &common::interleave(&common::synth_music(44_100, 6.0), 2));
    }
    let out = dir.join(format!("song.{format}"));
    let (w, c, o) = (wav.to_str().unwrap(), cover(dir), out.to_str().unwrap());
    let meta = ["-metadata", "artist=Test Artist", "-metadata", "title=Test Title", "-metadata", "comment=keep this comment", "-metadata", "genre=Polka"];
    let mut args: Vec<&str> = vec!["-i", w];
    match format {
        "mp3" | "flac" | "m4a" => {
            args.extend(["-i", c.to_str().unwrap(), "-map", "0:a", "-map", "1:v", "-c:v", "copy", "-disposition:v", "attached_pic"]);
            args.extend(match format {
                "mp3" => vec!["-c:a", "libmp3lame", "-b:a", "128k", "-id3v2_version", "3"],
                "flac" => vec!["-c:a", "flac"],
                _ => vec!["-c:a", "aac", "-b:a", "96k"],
            });
        }
        "wav" => args.extend(["-c:a", "copy", "-write_id3v2", "1"]),
        "aiff" => args.extend(["-c:a", "pcm_s16be", "-write_id3v2", "1"]),
        "ogg" => args.extend(["-c:a", "libvorbis", "-q:a", "3"]),
        "opus" => args.extend(["-c:a", "libopus", "-b:a", "64k", "-ar", "48000"]),
        _ => unreachable!(),
    }
    args.extend(meta);
    args.push(o);
    ffmpeg(&args);
    match format {
        "wav" => add_private_chunk(&out, false),
        "aiff" => add_private_chunk(&out, true),
        "ogg" | "opus" => add_picture_with_lofty(&out, &c),
        _ => {}
    }
    out
}

fn add_picture_with_lofty(path: &Path, png: &Path) {
    use lofty::config::WriteOptions;
    use lofty::picture::{MimeType, Picture, PictureType};
    use lofty::prelude::*;
    let mut tagged = lofty::read_from_path(path).unwrap();
    let tag = tagged.primary_tag_mut().expect("ffmpeg wrote Vorbis comments");
    let pic = Picture::unchecked(std::fs::read(png).unwrap()).pic_type(PictureType::CoverFront).mime_type(MimeType::Png).build();
    tag.push_picture(pic);
    tagged.save_to_path(path, WriteOptions::default()).unwrap();
}

/// Pictures in the file, as lofty sees them.
fn picture_bytes(path: &Path) -> Vec<Vec<u8>> {
    use lofty::prelude::*;
    let tagged = lofty::read_from_path(path).unwrap();
    tagged.tags().iter().flat_map(|t| t.pictures().iter().map(|p| p.data().to_vec())).collect()
}

/// Text items other than genre and our field, as lofty's generic view sees them.
fn other_text_items(path: &Path) -> Vec<(String, String)> {
    use lofty::prelude::*;
    let tagged = lofty::read_from_path(path).unwrap();
    let mut items: Vec<(String, String)> = tagged
        .tags()
        .iter()
        .flat_map(|t| t.items().filter_map(|i| Some((format!("{:?}", i.key()), i.value().text()?.to_string()))))
        .filter(|(k, _)| k != "Genre" && !k.contains("GENRE_METER") && !k.contains("genre-meter"))
        .collect();
    items.sort();
    items
}

fn ffprobe_tags(path: &Path) -> serde_json::Map<String, serde_json::Value> {
    let o = run(Command::new("ffprobe").args(["-v", "error", "-show_entries", "format_tags:stream_tags", "-of", "json"]).arg(path));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut tags = serde_json::Map::new();
    for t in std::iter::once(&doc["format"]["tags"]).chain(doc["streams"].as_array().into_iter().flatten().map(|s| &s["tags"])) {
        if let Some(obj) = t.as_object() {
            for (k, v) in obj {
                tags.insert(k.to_ascii_uppercase(), v.clone());
            }
        }
    }
    tags
}

fn ffprobe_frames(path: &Path) -> usize {
    let o = run(Command::new("ffprobe").args(["-v", "error", "-show_entries", "stream=duration_ts", "-of", "csv=p=0"]).arg(path));
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

/// md5 of the audio stream's packets as stored, and of the decoded samples.
fn audio_md5s(path: &Path) -> (String, String) {
    let md5 = |extra: &[&str]| {
        let o = run(Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(path).args(["-map", "0:a"]).args(extra).args(["-f", "md5", "-"]));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    (md5(&["-c", "copy"]), md5(&["-c:a", "pcm_f32le"]))
}

fn genre_meter(home: &Path, args: &[&str]) -> Output {
    common::genre_meter_cli(home, args)
}

fn text(o: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn every_format_is_tagged_in_its_own_tag_and_nothing_else_changes() {
    require_ffmpeg!();
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for format in FORMATS {
        let sub = dir.path().join(format);
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::copy(cover(dir.path()), sub.join("cover.png")).unwrap();
        let path = fixture(&sub, format);
        let before_audio = audio_md5s(&path);
        // symphonia (the engine's decoder; 0.6 too) has no Opus decoder: Opus files cannot be
        // analysed yet, so their tags are written through the library with a recorded
        // decision, and ffmpeg alone checks their audio.
        let decodable = *format != "opus";
        let before_samples = if decodable { genre_meter::engine::decode::decode_to_mono(&path).unwrap() } else { (vec![], 0) };
        let before_pictures = picture_bytes(&path);
        let before_items = other_text_items(&path);
        let before_chunks = if matches!(*format, "wav" | "aiff") { chunks(&path) } else { Vec::new() };
        assert!(!before_pictures.is_empty() || matches!(*format, "wav" | "aiff"), "{format}: fixture has a picture");
        assert_eq!(read_genre_tags(&path).unwrap().genres, vec!["Polka".to_string()], "{format}: fixture genre");

        let written: Vec<String> = if decodable {
            let o = genre_meter(home.path(), &["tag", "--top", "2", "--format", "json", path.to_str().unwrap()]);
            assert!(o.status.success(), "{format}: {}", text(&o));
            let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let row = &doc["files"][0];
            assert_eq!(row["status"], "written", "{format}: {doc}");
            assert_eq!(row["current"], serde_json::json!(["Polka"]));
            serde_json::from_value(row["new"].clone()).unwrap()
        } else {
            let genres = vec!["jazz".to_string(), "blues".to_string()];
            let machine = serde_json::json!({"model": "gtzan10", "model_sha256": "0".repeat(64), "genres": genres, "probabilities": {"jazz": 0.6, "blues": 0.3, "rock": 0.1, "pop": 0.0, "metal": 0.0, "disco": 0.0, "country": 0.0, "classical": 0.0, "hiphop": 0.0, "reggae": 0.0}});
            genre_meter::library::write_genre_tags(&path, &GenreUpdate { genres: genres.clone(), machine: machine.to_string() }).unwrap();
            genres
        };
        assert_eq!(written.len(), 2, "{format}: --top 2");

        // Read back by lofty.
        let tags = read_genre_tags(&path).unwrap();
        assert_eq!(tags.genres, written, "{format}: both genres, strongest first");
        let machine: serde_json::Value = serde_json::from_str(tags.machine.as_deref().expect("machine field")).unwrap();
        assert_eq!(machine["model"], "gtzan10");
        assert_eq!(machine["genres"], serde_json::json!(written));
        assert_eq!(machine["probabilities"].as_object().unwrap().len(), 10, "{format}: {machine}");
        assert!(machine["model_sha256"].as_str().unwrap().len() == 64);

        // Read back by an independent reader.
        let probe = ffprobe_tags(&path);
        let genre = probe.get("GENRE").and_then(|g| g.as_str()).unwrap_or_default().to_string();
        assert!(genre.contains(&written[0]), "{format}: ffprobe sees genre {genre:?}, wrote {written:?}; tags {probe:?}");
        let field = probe.get("GENRE_METER").and_then(|g| g.as_str()).unwrap_or_default();
        if matches!(*format, "wav" | "aiff") && field.is_empty() {
            // ffprobe (FFmpeg 5.1) does not read an ID3 chunk after the audio data; read the
            // chunk here, byte by byte, instead.
            let id3 = id3_chunk(&path).unwrap_or_else(|| panic!("{format}: no ID3 chunk"));
            assert_eq!(&id3[..4], b"ID3\x04", "{format}: ID3v2.4");
            let text = String::from_utf8_lossy(&id3);
            assert!(text.contains("TXXX") && text.contains("GENRE_METER\0{\"genre_meter\""), "{format}: {text:?}");
            assert!(text.contains("TCON") && text.contains(&written[0]), "{format}: {text:?}");
        } else {
            assert!(field.contains("\"model\":\"gtzan10\""), "{format}: ffprobe sees GENRE_METER {field:?}; tags {probe:?}");
        }
        assert_eq!(probe.get("ARTIST").and_then(|v| v.as_str()), Some("Test Artist"), "{format}: {probe:?}");

        // Nothing else changed.
        assert_eq!(audio_md5s(&path), before_audio, "{format}: audio stream bytes and decoded samples");
        let after_samples = if decodable { genre_meter::engine::decode::decode_to_mono(&path).unwrap() } else { (vec![], 0) };
        assert_eq!(after_samples, before_samples, "{format}: samples");
        if *format == "aiff" {
            // symphonia 0.5 read an AIFF's chunks after SSND (here the ID3 chunk) as more
            // samples; 0.6 stops at the end of the sound data.
            assert_eq!(after_samples.0.len(), ffprobe_frames(&path), "{format}: only the SSND frames");
        }
        assert_eq!(picture_bytes(&path), before_pictures, "{format}: pictures");
        assert_eq!(other_text_items(&path), before_items, "{format}: other tags");
        if matches!(*format, "wav" | "aiff") {
            // Every chunk but the tags byte-identical; the RIFF INFO list keeps its other
            // fields and its genre follows the new one.
            let strip = |c: Vec<(String, Vec<u8>)>| -> Vec<(String, Vec<u8>)> { c.into_iter().filter(|(id, _)| id != "LIST").collect() };
            let after = chunks(&path);
            let ids: Vec<&String> = after.iter().map(|c| &c.0).collect();
            assert!(strip(after.clone()) == strip(before_chunks.clone()), "{format}: chunks changed: {ids:?}");
            assert!(ids.iter().any(|id| *id == "GMtk"), "{format}: the private chunk is there");
            if let Some((_, list)) = after.iter().find(|c| c.0 == "LIST") {
                let list = String::from_utf8_lossy(list);
                assert!(list.contains("Test Artist") && list.contains(&written[0]), "{format}: {list:?}");
            }
        }
        eprintln!("{format}: wrote {written:?}; ffprobe genre {genre:?}");
    }
}

#[test]
fn flac_is_read_back_by_metaflac_with_several_genre_values_and_the_picture() {
    require_ffmpeg!();
    if !have("metaflac") {
        skip_test!(ci_provides: true, "metaflac not installed (Debian package flac)");
    }
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = fixture(dir.path(), "flac");
    let o = genre_meter(home.path(), &["tag", "--top", "3", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(Command::new("metaflac").arg("--export-tags-to=-").arg(&path));
    let tags = String::from_utf8_lossy(&o.stdout);
    assert_eq!(tags.lines().filter(|l| l.to_ascii_uppercase().starts_with("GENRE=")).count(), 3, "{tags}");
    assert!(tags.lines().any(|l| l.starts_with("GENRE_METER={")), "{tags}");
    let lower = tags.to_lowercase();
    assert!(lower.contains("artist=test artist") && lower.contains("description=keep this comment"), "{tags}");
    let o = run(Command::new("metaflac").args(["--list", "--block-type=PICTURE"]).arg(&path));
    assert_eq!(String::from_utf8_lossy(&o.stdout).matches("METADATA block #").count(), 1, "the cover survives");
    run(Command::new("flac").args(["-t", "-s"]).arg(&path));
}

#[test]
fn a_write_interrupted_before_the_rename_leaves_the_original_intact() {
    require_ffmpeg!();
    let dir = tempfile::tempdir().unwrap();
    for format in ["mp3", "flac", "m4a"] {
        let path = fixture(dir.path(), format);
        let before = std::fs::read(&path).unwrap();
        let update = GenreUpdate { genres: vec!["rock".into()], machine: "{}".into() };
        let mut temp_seen = None;
        let err = write_genre_tags_hooked(&path, &update, |tmp| {
            // The tagged copy is complete and flushed here; the crash comes before the rename.
            assert!(read_genre_tags(tmp).unwrap().genres == vec!["rock".to_string()]);
            temp_seen = Some(tmp.to_path_buf());
            Err(std::io::Error::other("simulated crash: disk full"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("simulated crash"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "{format}: original byte-identical");
        assert!(!temp_seen.unwrap().exists(), "{format}: the temporary copy is cleaned up");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().ends_with(".tmp")).collect();
        assert!(leftovers.is_empty());
    }
}

#[test]
fn keep_existing_min_confidence_and_dry_run_leave_files_alone() {
    require_ffmpeg!();
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = fixture(dir.path(), "mp3");
    let p = path.to_str().unwrap();
    let before = std::fs::read(&path).unwrap();

    let o = genre_meter(home.path(), &["tag", "--dry-run", p]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("would write") && out.contains("current genre: Polka"), "{out}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "--dry-run changes nothing");

    let o = genre_meter(home.path(), &["tag", "--keep-existing", p]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("kept"), "{}", text(&o));
    assert_eq!(std::fs::read(&path).unwrap(), before, "--keep-existing keeps Polka");

    let o = genre_meter(home.path(), &["tag", "--min-confidence", "0.9999", p]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("unsure") && out.contains("below --min-confidence"), "{out}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "an unsure file is left alone");

    let o = genre_meter(home.path(), &["tag", "--min-confidence", "0", p]);
    assert!(o.status.success(), "{}", text(&o));
    assert_ne!(read_genre_tags(&path).unwrap().genres, vec!["Polka".to_string()]);
    // Every run after the first took the analysis from the cache.
    assert!(String::from_utf8_lossy(&o.stderr).contains("0 analysed, 1 from the cache"), "{}", text(&o));
    // Tagging again with the same result changes nothing.
    let tagged = std::fs::read(&path).unwrap();
    let o = genre_meter(home.path(), &["tag", p]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("up to date"), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("0 analysed, 1 from the cache"), "the tagged file's new bytes are in the cache: {}", text(&o));
    assert_eq!(std::fs::read(&path).unwrap(), tagged);
}

#[test]
fn a_read_only_file_is_reported_and_the_batch_goes_on() {
    use std::os::unix::fs::PermissionsExt;
    require_ffmpeg!();
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = fixture(dir.path(), "flac");
    let b = fixture(dir.path(), "ogg");
    std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = std::fs::read(&a).unwrap();
    let o = genre_meter(home.path(), &["tag", "--format", "json", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = doc["files"].as_array().unwrap();
    let row = |p: &Path| rows.iter().find(|r| r["path"] == p.to_str().unwrap()).unwrap().clone();
    assert_eq!(row(&a)["status"], "read-only", "{doc}");
    assert!(row(&a)["reason"].as_str().unwrap().contains("read-only"));
    assert_eq!(row(&b)["status"], "written", "{doc}");
    assert_eq!(std::fs::read(&a).unwrap(), before);
    assert_eq!(std::fs::metadata(&a).unwrap().permissions().mode() & 0o777, 0o444);
    // Permissions of a written file are kept.
    std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o640)).unwrap();
    let o = genre_meter(home.path(), &["tag", "--top", "2", b.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::metadata(&b).unwrap().permissions().mode() & 0o777, 0o640);
}

#[test]
fn analyze_shows_the_genre_tag_and_marks_disagreement() {
    require_ffmpeg!();
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = fixture(dir.path(), "flac");
    let o = genre_meter(home.path(), &["analyze", "--format", "json", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["files"][0]["genre_tag"], serde_json::json!(["Polka"]));
    assert_eq!(doc["files"][0]["genre_tag_agrees"], false, "gtzan10 has no polka");
    let o = genre_meter(home.path(), &["analyze", path.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("genre tag: Polka  <- DISAGREES"), "{}", text(&o));
    // `tag` after `analyze`: no inference.
    let o = genre_meter(home.path(), &["tag", path.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("0 analysed, 1 from the cache"), "{}", text(&o));
    let o = genre_meter(home.path(), &["analyze", "--format", "csv", path.to_str().unwrap()]);
    let csv = String::from_utf8_lossy(&o.stdout);
    assert!(csv.lines().next().unwrap().ends_with(",genre_tag,genre_tag_agrees"), "{csv}");
    assert!(csv.lines().nth(1).unwrap().ends_with(",true"), "after tagging, the tag agrees: {csv}");
}
