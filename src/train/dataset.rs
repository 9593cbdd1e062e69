//! Labelled audio: one folder per genre, or a CSV with `path` and `genre` columns.

use std::path::{Path, PathBuf};

use crate::engine::batch::collect_audio_files;

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read '{path}': {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("'{path}' has {found} genre folder(s) with audio; training needs at least two (one folder per genre, audio inside)")]
    TooFewGenres { path: PathBuf, found: usize },
    #[error("genre folder '{path}' has no audio files; add some or remove the folder")]
    EmptyGenre { path: PathBuf },
    #[error("'{path}' line {line}: {reason}")]
    Csv { path: PathBuf, line: usize, reason: String },
    #[error("'{path}' has no rows{split}; check the file and --split")]
    NoRows { path: PathBuf, split: String },
}

/// One labelled file.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledFile {
    pub path: PathBuf,
    /// Index into [`Dataset::genres`].
    pub genre: usize,
    /// The CSV's `split` value, when it has that column (the folds of `train --calibrate`).
    pub split: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Genre names, sorted.
    pub genres: Vec<String>,
    pub files: Vec<LabelledFile>,
}

impl Dataset {
    /// `dir/<genre>/**/<audio>`: folder names are the genres, any names, any number.
    pub fn from_folders(dir: &Path) -> Result<Self, DatasetError> {
        let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|source| DatasetError::Read { path: dir.to_path_buf(), source })?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
            .collect();
        folders.sort();
        let mut genres = Vec::new();
        let mut files = Vec::new();
        for folder in &folders {
            let (audio, _) = collect_audio_files(std::slice::from_ref(folder));
            if audio.is_empty() {
                return Err(DatasetError::EmptyGenre { path: folder.clone() });
            }
            let genre = genres.len();
            genres.push(folder.file_name().unwrap().to_string_lossy().into_owned());
            files.extend(audio.into_iter().map(|path| LabelledFile { path, genre, split: None }));
        }
        if genres.len() < 2 {
            return Err(DatasetError::TooFewGenres { path: dir.to_path_buf(), found: genres.len() });
        }
        Ok(Self { genres, files })
    }

    /// A CSV with a header naming `path` and `genre` (or `label`) columns, and optionally
    /// `split`; paths are relative to the CSV's folder. `split` keeps only rows with that
    /// value, or with any of several comma-separated values (`train,valid`).
    pub fn from_csv(csv: &Path, split: Option<&str>) -> Result<Self, DatasetError> {
        let wanted: Option<Vec<&str>> = split.map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()).collect());
        let text = std::fs::read_to_string(csv).map_err(|source| DatasetError::Read { path: csv.to_path_buf(), source })?;
        let base = csv.parent().unwrap_or(Path::new("."));
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        let (_, header) = lines.next().ok_or_else(|| DatasetError::NoRows { path: csv.to_path_buf(), split: String::new() })?;
        let columns: Vec<String> = split_csv_line(header).into_iter().map(|c| c.trim().to_ascii_lowercase()).collect();
        let find = |names: &[&str]| columns.iter().position(|c| names.contains(&c.as_str()));
        let bad = |line: usize, reason: String| DatasetError::Csv { path: csv.to_path_buf(), line, reason };
        let path_col = find(&["path", "file", "filename"]).ok_or_else(|| bad(1, "no `path` column in the header".into()))?;
        let genre_col = find(&["genre", "label"]).ok_or_else(|| bad(1, "no `genre` (or `label`) column in the header".into()))?;
        let split_col = find(&["split"]);
        if split.is_some() && split_col.is_none() {
            return Err(bad(1, "--split was given but the header has no `split` column".into()));
        }
        let mut rows = Vec::new();
        for (i, line) in lines {
            let fields = split_csv_line(line);
            let get = |c: usize| fields.get(c).map(|s| s.trim().to_string()).ok_or_else(|| bad(i + 1, format!("has {} fields, expected column {}", fields.len(), c + 1)));
            let row_split = split_col.map(&get).transpose()?;
            if let (Some(want), Some(s)) = (&wanted, &row_split)
                && !want.contains(&s.as_str())
            {
                continue;
            }
            rows.push((base.join(get(path_col)?), get(genre_col)?, row_split));
        }
        if rows.is_empty() {
            let split = split.map(|s| format!(" with split = {s}")).unwrap_or_default();
            return Err(DatasetError::NoRows { path: csv.to_path_buf(), split });
        }
        let mut genres: Vec<String> = rows.iter().map(|(_, g, _)| g.clone()).collect();
        genres.sort();
        genres.dedup();
        let files = rows
            .into_iter()
            .map(|(path, g, split)| LabelledFile {
                path,
                genre: genres.iter().position(|x| *x == g).expect("collected above"),
                split,
            })
            .collect();
        Ok(Self { genres, files })
    }

    /// The distinct `split` values of the files, in order of first appearance.
    pub fn splits(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in self.files.iter().filter_map(|f| f.split.as_ref()) {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
        out
    }

    /// Files per genre.
    pub fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.genres.len()];
        for f in &self.files {
            counts[f.genre] += 1;
        }
        counts
    }
}

/// Splits one CSV line, honouring double quotes.
fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            _ => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_lines_with_quotes_split_right() {
        assert_eq!(split_csv_line(r#"a,"b, c",d"#), vec!["a", "b, c", "d"]);
        assert_eq!(split_csv_line(r#""say ""hi""",x"#), vec![r#"say "hi""#, "x"]);
    }
}
