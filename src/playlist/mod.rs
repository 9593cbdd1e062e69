//! Playlists as radio stations and DJs keep them: M3U/M3U8 (with `#EXTINF`), PLS and XSPF,
//! or a folder. Relative entries are resolved against the playlist's folder; Windows
//! separators are tolerated; URLs are kept as entries that cannot be checked.

pub mod check;
pub mod silence;

use std::path::{Path, PathBuf};

use crate::engine::batch::{AUDIO_EXTENSIONS, collect_audio_files};

#[derive(Debug, thiserror::Error)]
pub enum PlaylistError {
    #[error("cannot read playlist '{path}': {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("'{path}' is not a playlist Genre Meter reads ({why}); give an .m3u, .m3u8, .pls or .xspf file, or a folder")]
    Format { path: PathBuf, why: String },
}

/// What one playlist line points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryTarget {
    /// A local file (it may not exist).
    File(PathBuf),
    /// A stream or remote file: listed, not checkable.
    Url(String),
}

/// One entry, in playlist order.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaylistEntry {
    pub target: EntryTarget,
    /// Title from `#EXTINF`, `TitleN=` or `<title>`.
    pub title: Option<String>,
    /// Duration the playlist states (seconds), when it states one.
    pub listed_seconds: Option<f64>,
}

/// A playlist (or folder) and its entries.
#[derive(Debug, Clone)]
pub struct Playlist {
    pub source: PathBuf,
    pub entries: Vec<PlaylistEntry>,
}

/// Extensions read as playlists.
pub const PLAYLIST_EXTENSIONS: &[&str] = &["m3u", "m3u8", "pls", "xspf"];

pub fn is_playlist(path: &Path) -> bool {
    extension(path).is_some_and(|e| PLAYLIST_EXTENSIONS.contains(&e.as_str()))
}

fn extension(path: &Path) -> Option<String> {
    path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase)
}

fn is_url(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else { return false };
    !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)) && !rest.is_empty() && scheme != "file"
}

/// Resolves one location as written in a playlist in `base`: URLs stay URLs, `file://` URLs
/// become paths, backslashes become separators, relative paths are joined to `base`.
fn target(location: &str, base: &Path) -> EntryTarget {
    let location = location.trim();
    if is_url(location) {
        return EntryTarget::Url(location.to_string());
    }
    let local = match location.strip_prefix("file://") {
        Some(rest) => percent_decode(rest.strip_prefix("localhost").unwrap_or(rest)),
        None => location.to_string(),
    };
    // `C:\Music\a.mp3` or `..\a.mp3` written on Windows.
    let local = if std::path::MAIN_SEPARATOR == '/' { local.replace('\\', "/") } else { local };
    let path = PathBuf::from(&local);
    EntryTarget::File(if path.is_absolute() { path } else { base.join(path) })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// M3U / M3U8: one location per line, `#EXTINF:<seconds>,<title>` before it.
pub fn parse_m3u(text: &str, base: &Path) -> Vec<PlaylistEntry> {
    let mut entries = Vec::new();
    let mut pending: Option<(Option<f64>, Option<String>)> = None;
    for line in text.trim_start_matches('\u{feff}').lines() {
        let line = line.trim();
        if let Some(info) = line.strip_prefix("#EXTINF:") {
            let (secs, title) = info.split_once(',').unwrap_or((info, ""));
            // `#EXTINF:123 tvg-id="x",Title`: the duration is the first token.
            let secs = secs.split_whitespace().next().and_then(|s| s.parse::<f64>().ok()).filter(|s| *s >= 0.0);
            let title = Some(title.trim().to_string()).filter(|t| !t.is_empty());
            pending = Some((secs, title));
        } else if line.is_empty() || line.starts_with('#') {
            continue;
        } else {
            let (listed_seconds, title) = pending.take().unwrap_or((None, None));
            entries.push(PlaylistEntry { target: target(line, base), title, listed_seconds });
        }
    }
    entries
}

/// PLS: `FileN=`, `TitleN=`, `LengthN=` in a `[playlist]` section, in `N` order.
pub fn parse_pls(text: &str, base: &Path) -> Vec<PlaylistEntry> {
    use std::collections::BTreeMap;
    /// File, title and length of entry N.
    type PlsEntry = (Option<String>, Option<String>, Option<f64>);
    let mut by_number: BTreeMap<u32, PlsEntry> = BTreeMap::new();
    for line in text.trim_start_matches('\u{feff}').lines() {
        let Some((key, value)) = line.trim().split_once('=') else { continue };
        let key = key.trim().to_ascii_lowercase();
        let value = value.trim().to_string();
        for (prefix, slot) in [("file", 0), ("title", 1), ("length", 2)] {
            if let Some(n) = key.strip_prefix(prefix).and_then(|n| n.parse::<u32>().ok()) {
                let e = by_number.entry(n).or_default();
                match slot {
                    0 => e.0 = Some(value.clone()),
                    1 => e.1 = Some(value.clone()).filter(|v| !v.is_empty()),
                    _ => e.2 = value.parse::<f64>().ok().filter(|s| *s >= 0.0),
                }
            }
        }
    }
    by_number
        .into_values()
        .filter_map(|(file, title, secs)| Some(PlaylistEntry { target: target(&file?, base), title, listed_seconds: secs }))
        .collect()
}

fn xml_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Text of the first `<name>...</name>` in `xml`.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}");
    let start = xml.find(&open)?;
    let after = &xml[start + open.len()..];
    let gt = after.find('>')?;
    if after[..gt].ends_with('/') {
        return Some("");
    }
    let body = &after[gt + 1..];
    let end = body.find(&format!("</{name}>"))?;
    Some(&body[..end])
}

/// XSPF: `<track><location>` (a URI; relative ones against the playlist), `<title>`,
/// `<duration>` in milliseconds.
pub fn parse_xspf(text: &str, base: &Path) -> Result<Vec<PlaylistEntry>, String> {
    let list = element(text, "trackList").ok_or("no <trackList> element")?;
    let mut entries = Vec::new();
    let mut rest = list;
    while let Some(start) = rest.find("<track") {
        let after = &rest[start..];
        let Some(end) = after.find("</track>") else { break };
        let track = &after[..end];
        if let Some(location) = element(track, "location") {
            let location = xml_unescape(location.trim());
            // A relative URI is percent-encoded like an absolute one.
            let location = if is_url(&location) || location.starts_with("file://") { location } else { percent_decode(&location) };
            entries.push(PlaylistEntry {
                target: target(&location, base),
                title: element(track, "title").map(|t| xml_unescape(t.trim())).filter(|t| !t.is_empty()),
                listed_seconds: element(track, "duration").and_then(|d| d.trim().parse::<f64>().ok()).map(|ms| ms / 1000.0),
            });
        }
        rest = &after[end + "</track>".len()..];
    }
    Ok(entries)
}

/// Reads a playlist file (by extension) or a folder (its audio files, recursively, sorted).
pub fn read(path: &Path) -> Result<Playlist, PlaylistError> {
    if path.is_dir() {
        let (files, _) = collect_audio_files(&[path.to_path_buf()]);
        let entries =
            files.into_iter().map(|f| PlaylistEntry { target: EntryTarget::File(f), title: None, listed_seconds: None }).collect();
        return Ok(Playlist { source: path.to_path_buf(), entries });
    }
    let bytes = std::fs::read(path).map_err(|source| PlaylistError::Read { path: path.to_path_buf(), source })?;
    // M3U (not M3U8) is traditionally Latin-1; a lossless fallback keeps every line.
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    };
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let entries = match extension(path).as_deref() {
        Some("m3u" | "m3u8") => parse_m3u(&text, &base),
        Some("pls") => parse_pls(&text, &base),
        Some("xspf") => {
            parse_xspf(&text, &base).map_err(|why| PlaylistError::Format { path: path.to_path_buf(), why: why.to_string() })?
        }
        other => {
            return Err(PlaylistError::Format {
                path: path.to_path_buf(),
                why: match other {
                    Some(e) if AUDIO_EXTENSIONS.contains(&e) => "it is an audio file".to_string(),
                    Some(e) => format!("unknown extension .{e}"),
                    None => "no extension".to_string(),
                },
            });
        }
    };
    Ok(Playlist { source: path.to_path_buf(), entries })
}
