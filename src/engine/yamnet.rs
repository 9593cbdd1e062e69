//! YAMNet (Google's AudioSet classifier) as a backbone the user brings.
//!
//! Its weights cannot ship with Genre Meter, so [`install`] copies a user's YAMNet ONNX
//! (the patch-input export: log-mel patches `[N, 96, 64]` in, `scores [N, 521]` and
//! `embedding [N, 1024]` out) and its class map into the user model folder, with a manifest
//! whose front-end is YAMNet's. After that, `yamnet` (the AudioSet classes, music genres
//! marked) and every head trained on its embedding load like any other model.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::ModelError;
use super::manifest::{
    Framing, FrontendConfig, InputSpec, Labels, LogCompression, ManifestFile, MelNorm, MelScale, OutputActivation,
    OutputSpec, PadMode, ResamplerKind, WindowKind,
};
use super::model::{self, ModelEntry};

/// The catalogue name of an installed YAMNet.
pub const NAME: &str = "yamnet";
/// File names inside the installed folder.
pub const ONNX_FILE: &str = "yamnet_patch.onnx";
pub const CLASS_MAP_FILE: &str = "yamnet_class_map.csv";
/// Classes YAMNet scores.
pub const CLASSES: usize = 521;
/// Width of its embedding (global average pool before the last dense layer).
pub const EMBEDDING_DIM: usize = 1024;

/// How a user gets YAMNet into Genre Meter (shown wherever YAMNet is missing).
pub fn install_hint() -> String {
    format!(
        "YAMNet is not installed. Its weights cannot ship with Genre Meter: export YAMNet to ONNX with log-mel patch input \
         (see 'YAMNet' in the README), then run `genre-meter install-yamnet <folder with {ONNX_FILE} and {CLASS_MAP_FILE}>`; \
         it is installed into {}",
        model::user_models_dir().join(NAME).display()
    )
}

/// YAMNet's front-end (`yamnet/features.py`): 16 kHz; frames of 400 samples (25 ms) every
/// 160 (10 ms), periodic Hann, zero-padded to a 512-point FFT, magnitude; 64 HTK mel bands
/// 125-7500 Hz without area normalisation; `ln(mel + 0.001)`; patches of 96 frames.
/// Other rates are resampled with resampy's default filter, `kaiser_best`, as YAMNet's own
/// inference example (`yamnet/inference.py`: `resampy.resample(waveform, sr, 16000)`) does.
pub fn frontend() -> FrontendConfig {
    FrontendConfig {
        kind: "log-mel".into(),
        sample_rate_hz: 16_000,
        resampler: ResamplerKind::KaiserBest,
        n_fft: 512,
        win_length: 400,
        hop_length: 160,
        window: WindowKind::HannPeriodic,
        framing: Framing::Tensorflow,
        center: false,
        pad_mode: PadMode::Constant,
        power: 1.0,
        n_mels: 64,
        f_min_hz: 125.0,
        f_max_hz: 7500.0,
        mel_scale: MelScale::Htk,
        mel_norm: MelNorm::None,
        log: LogCompression::NaturalOffset,
        log_multiplier: 1.0,
        log_offset: 0.001,
        patch_frames: 96,
    }
}

/// AudioSet ontology ids of the "Music genre" classes YAMNet scores (the genres and their
/// sub-genres; techniques, roles and moods of music are left out).
pub const MUSIC_GENRE_IDS: &[&str] = &[
    "/m/064t9", "/m/0glt670", "/m/06by7", "/m/03lty", "/m/05r6t", "/m/0dls3", "/m/0dl5d", "/m/07sbbz2", "/m/05w3f",
    "/m/06j6l", "/m/0gywn", "/m/06cqb", "/m/01lyv", "/m/015y_n", "/m/0gg8l", "/m/02x8m", "/m/02w4v", "/m/06j64v",
    "/m/03_d0", "/m/026z9", "/m/0ggq0m", "/m/05lls", "/m/02lkt", "/m/03mb9", "/m/07gxw", "/m/07s72n", "/m/0283d",
    "/m/0m0jc", "/m/08cyft", "/m/0fd3y", "/m/07lnk", "/m/0g293", "/m/0ln16", "/m/0326g", "/m/0155w", "/m/05fw6t",
    "/m/02v2lh", "/m/0y4f8", "/m/0z9c", "/m/0164x2", "/m/0145m", "/m/02mscn", "/m/016cjb", "/m/028sqc", "/m/015vgc",
    "/m/0dq0md", "/m/06rqw", "/m/02p0sh1", "/m/05rwpb",
];

/// One row of `yamnet_class_map.csv` (`index,mid,display_name`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassRow {
    pub mid: String,
    pub name: String,
}

/// Parses YAMNet's class map; the error says which line is wrong.
pub fn parse_class_map(text: &str, path: &Path) -> Result<Vec<ClassRow>, ModelError> {
    let bad = |line: usize, why: &str| ModelError::InvalidManifest {
        path: path.to_path_buf(),
        reason: format!("line {line}: {why}; expected YAMNet's class map (`index,mid,display_name`, {CLASSES} rows)"),
    };
    let mut rows = Vec::with_capacity(CLASSES);
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let fields = split_csv_line(line);
        let [index, mid, name] = fields.as_slice() else {
            return Err(bad(n + 1, "not three fields"));
        };
        if index.parse::<usize>().ok() != Some(rows.len()) {
            return Err(bad(n + 1, &format!("index {index:?} out of order")));
        }
        rows.push(ClassRow { mid: mid.clone(), name: name.clone() });
    }
    if rows.len() != CLASSES {
        return Err(bad(text.lines().count(), &format!("{} classes", rows.len())));
    }
    Ok(rows)
}

/// Splits one CSV line with double-quoted fields (`"a, b"` and `""` escapes).
fn split_csv_line(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// The manifest of an installed YAMNet; its labels are the class map's display names, and
/// the music genres among them are marked as genres (the "AudioSet genres" view).
pub fn manifest(classes: &[ClassRow], sha256: &str, source: &str) -> ManifestFile {
    let names: Vec<String> = classes.iter().map(|c| c.name.clone()).collect();
    let genres = classes.iter().filter(|c| MUSIC_GENRE_IDS.contains(&c.mid.as_str())).map(|c| c.name.clone()).collect();
    ManifestFile {
        name: NAME.into(),
        display_name: Some("YAMNet (AudioSet genres)".into()),
        description: Some(
            "YAMNet (Google, MobileNet v1 on AudioSet): 521 sound classes, 49 of them music genres; 1024-d embedding".into(),
        ),
        onnx: ONNX_FILE.into(),
        sha256: sha256.into(),
        licence: Some("Apache-2.0 (YAMNet weights, Google); class names: AudioSet ontology, CC BY-SA 4.0".into()),
        source: Some(source.into()),
        backbone: None,
        output_activation: OutputActivation::Sigmoid,
        pooling: Default::default(),
        input: InputSpec { name: "patches".into() },
        outputs: OutputSpec {
            probabilities: "scores".into(),
            embedding: Some("embedding".into()),
            embedding_dim: Some(EMBEDDING_DIM),
        },
        frontend: Some(frontend()),
        labels: Labels { names, genres },
        training: None,
        ensemble: None,
    }
}

/// Installs the YAMNet found at `source` (its `.onnx` file, or a folder holding
/// `yamnet_patch.onnx`) with the `yamnet_class_map.csv` beside it into
/// `<models_dir>/yamnet/`, then loads it once to check that graph and manifest agree.
/// A failed check removes what was copied. Returns the installed folder.
pub fn install(source: &Path, models_dir: &Path) -> Result<PathBuf, ModelError> {
    let onnx = if source.is_dir() { source.join(ONNX_FILE) } else { source.to_path_buf() };
    let read = |path: &Path| std::fs::read(path).map_err(|e| ModelError::Read { path: path.to_path_buf(), source: e });
    let bytes = read(&onnx)?;
    let class_map_path = onnx.parent().unwrap_or(Path::new(".")).join(CLASS_MAP_FILE);
    let class_map = read(&class_map_path)?;
    let classes = parse_class_map(&String::from_utf8_lossy(&class_map), &class_map_path)?;
    let sha: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();

    let dest = models_dir.join(NAME);
    let staging = models_dir.join(format!(".{NAME}.installing"));
    let _ = std::fs::remove_dir_all(&staging);
    let write = |path: PathBuf, data: &[u8]| {
        std::fs::create_dir_all(path.parent().expect("file in a folder"))
            .and_then(|_| std::fs::write(&path, data))
            .map_err(|e| ModelError::Read { path, source: e })
    };
    write(staging.join(ONNX_FILE), &bytes)?;
    write(staging.join(CLASS_MAP_FILE), &class_map)?;
    let manifest = manifest(&classes, &sha, &onnx.display().to_string());
    let text = toml::to_string_pretty(&manifest).expect("a manifest serialises");
    write(staging.join("manifest.toml"), text.as_bytes())?;

    let checked = ModelEntry::from_folder(&staging).and_then(|e| e.load().map(drop));
    if let Err(e) = checked {
        let _ = std::fs::remove_dir_all(&staging);
        // A missing runtime is not the file's fault: say only that.
        if matches!(e, ModelError::Runtime(_)) {
            return Err(e);
        }
        return Err(ModelError::Mismatch {
            model: onnx.display().to_string(),
            reason: format!(
                "{e}. Genre Meter needs YAMNet's patch-input export: input `patches` [N, 96, 64] (log-mel, its \
                 front-end outside the graph), outputs `scores` [N, {CLASSES}] and `embedding` [N, {EMBEDDING_DIM}]"
            ),
        });
    }
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::rename(&staging, &dest).map_err(|e| ModelError::Read { path: dest.clone(), source: e })?;
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_map_lines_with_quoted_commas_parse() {
        assert_eq!(split_csv_line(r#"1,/m/0ytgt,"Child speech, kid speaking""#), ["1", "/m/0ytgt", "Child speech, kid speaking"]);
        assert_eq!(split_csv_line(r#"2,x,"say ""hi""""#), ["2", "x", r#"say "hi""#]);
    }

    #[test]
    fn a_short_class_map_is_refused_with_its_path() {
        let err = parse_class_map("index,mid,display_name\n0,/m/09x0r,Speech\n", Path::new("/x/map.csv")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/x/map.csv") && msg.contains("1 classes"), "{msg}");
    }

    #[test]
    fn the_frontend_is_valid_and_yields_96_frames_from_its_input_length() {
        let fe = frontend();
        let m = manifest(&[], &"0".repeat(64), "test");
        assert!(m.frontend.is_some());
        // 15 600 samples (0.975 s) give exactly one patch of 96 frames.
        assert_eq!((15_600 - fe.frame_length()) / fe.hop_length + 1, fe.patch_frames);
        assert_eq!(MUSIC_GENRE_IDS.len(), 49);
    }
}
