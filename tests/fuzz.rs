//! Seeded, bounded mutation fuzzing of every supported format through the CLI's per-file path
//! (`for_each_file` isolation + watchdog + `analyze_file`): bit flips, truncations, header
//! fields set to 0 / max / random, lying chunk sizes, spliced blocks. No panic may escape, no
//! file may stall, every file gets a result or an error. Panics found in dependencies are
//! reported (and kept as regression fixtures in `tests/fixtures/hostile/`).
//!
//! `GENRE_METER_FUZZ_CASES` sets the cases per format (default 300); `GENRE_METER_FUZZ_SEED`
//! the seed; `GENRE_METER_FUZZ_KEEP` a folder that receives the first input per panic site. Cost per case is kept low by analysing with a silence threshold above any level
//! (decode, resample, log-mel and windowing run; the model does not); a fixed sample of the
//! cases that decode is then analysed again with inference.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use genre_meter::engine::batch::for_each_file;
use genre_meter::engine::isolation::Watchdog;
use genre_meter::engine::{AnalysisError, AnalysisSettings, FileAnalysis, FileFailure, LoadedModel, analyze_file};

/// SplitMix64: small, fast, and the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// A position, half the time within the first `head` bytes (where the headers are).
    fn position(&mut self, len: usize, head: usize) -> usize {
        if self.next() & 1 == 0 { self.below(len.min(head)) } else { self.below(len) }
    }
}

/// How a format's chunk/atom/element sizes are stored next to its tags.
#[derive(Clone, Copy)]
enum SizeField {
    /// u32 little-endian right after the tag (RIFF/WAV).
    Le32After,
    /// u32 big-endian right after the tag (AIFF, ID3-ish).
    Be32After,
    /// u64 big-endian right after the tag (CAF).
    Be64After,
    /// u32 big-endian right before the tag (MP4 atoms).
    Be32Before,
    /// A 3-byte big-endian length one byte after the tag (FLAC metadata blocks after `fLaC`).
    Be24AfterPlus1,
    /// An EBML variable-length size right after the element ID (Matroska/WebM).
    VintAfter,
    /// Ogg pages: the segment count and table at +26.
    OggSegments,
}

fn tags_of(ext: &str) -> (&'static [&'static [u8]], SizeField) {
    match ext {
        "wav" => (&[b"RIFF", b"fmt ", b"data", b"LIST", b"fact"], SizeField::Le32After),
        "aiff" => (&[b"FORM", b"COMM", b"SSND"], SizeField::Be32After),
        "caf" => (&[b"desc", b"data", b"pakt", b"kuki", b"chan", b"free"], SizeField::Be64After),
        "m4a" => (
            &[b"ftyp", b"moov", b"mvhd", b"trak", b"tkhd", b"mdia", b"mdhd", b"hdlr", b"minf", b"stbl", b"stsd", b"mp4a", b"esds", b"stts", b"stsc", b"stsz", b"stco", b"mdat"],
            SizeField::Be32Before,
        ),
        "flac" => (&[b"fLaC"], SizeField::Be24AfterPlus1),
        "mkv" | "webm" => (
            &[b"\x1a\x45\xdf\xa3", b"\x18\x53\x80\x67", b"\x16\x54\xae\x6b", b"\x1f\x43\xb6\x75", b"\xae", b"\xe1", b"\xa3", b"\x63\xa2"],
            SizeField::VintAfter,
        ),
        "ogg" => (&[b"OggS"], SizeField::OggSegments),
        "mp3" => (&[b"ID3", b"Xing", b"Info", b"LAME"], SizeField::Be32After),
        _ => (&[], SizeField::Le32After),
    }
}

fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    hay.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(i, _)| i).collect()
}

fn value(rng: &mut Rng, width: usize) -> u64 {
    let max = if width >= 8 { u64::MAX } else { (1u64 << (8 * width)) - 1 };
    match rng.below(5) {
        0 => 0,
        1 => max,
        2 => 1,
        3 => max / 2 + 1,
        _ => rng.next() & max,
    }
}

fn write_be(bytes: &mut [u8], at: usize, width: usize, v: u64) {
    for k in 0..width {
        if let Some(b) = bytes.get_mut(at + k) {
            *b = (v >> (8 * (width - 1 - k))) as u8;
        }
    }
}

fn write_le(bytes: &mut [u8], at: usize, width: usize, v: u64) {
    for k in 0..width {
        if let Some(b) = bytes.get_mut(at + k) {
            *b = (v >> (8 * k)) as u8;
        }
    }
}

/// Where the seed file's tags are: `(offset, tag length)`, found once per seed.
fn tag_hits(bytes: &[u8], ext: &str) -> Vec<(usize, usize)> {
    let (tags, _) = tags_of(ext);
    tags.iter().flat_map(|t| find_all(bytes, t).into_iter().map(move |i| (i, t.len()))).collect()
}

/// One mutation of `bytes` (tags of the unmutated seed at `hits`); returns what was done.
fn mutate_once(rng: &mut Rng, bytes: &mut Vec<u8>, ext: &str, hits: &[(usize, usize)]) -> String {
    let len = bytes.len();
    match rng.below(6) {
        0 => {
            let flips = 1 + rng.below(16);
            for _ in 0..flips {
                let at = rng.position(len, 1024);
                bytes[at] ^= 1 << rng.below(8);
            }
            format!("{flips} bit flips")
        }
        1 => {
            let at = rng.position(len, 2048);
            bytes.truncate(at);
            format!("truncated to {at} bytes")
        }
        2 => {
            let width = [1, 2, 4][rng.below(3)];
            let at = rng.below(len.min(256));
            let v = value(rng, width);
            if rng.next() & 1 == 0 { write_le(bytes, at, width, v) } else { write_be(bytes, at, width, v) }
            format!("{width}-byte header field at {at} set to {v:#x}")
        }
        3 | 4 => {
            // A chunk/atom/element size, or a field of the chunk's body, lies.
            let (_, size) = tags_of(ext);
            if hits.is_empty() {
                let at = rng.below(len);
                bytes[at] = rng.next() as u8;
                return format!("byte at {at} randomised (no tag found)");
            }
            let (at, tag_len) = hits[rng.below(hits.len())];
            let after = at + tag_len;
            if rng.below(3) == 0 {
                // A field inside the chunk body: format tags, channels, rates, bit depths.
                let width = [1, 2, 4][rng.below(3)];
                let field = after + 4 + 2 * rng.below(12);
                let v = value(rng, width);
                if matches!(size, SizeField::Le32After) { write_le(bytes, field, width, v) } else { write_be(bytes, field, width, v) }
                return format!("field at {field} (after tag at {at}) set to {v:#x}");
            }
            let v;
            match size {
                SizeField::Le32After => {
                    v = value(rng, 4);
                    write_le(bytes, after, 4, v)
                }
                SizeField::Be32After => {
                    v = value(rng, 4);
                    write_be(bytes, after, 4, v)
                }
                SizeField::Be64After => {
                    v = value(rng, 8);
                    write_be(bytes, after, 8, v)
                }
                SizeField::Be32Before => {
                    v = value(rng, 4);
                    write_be(bytes, at.saturating_sub(4), 4, v)
                }
                SizeField::Be24AfterPlus1 => {
                    v = value(rng, 3);
                    write_be(bytes, after + 1, 3, v)
                }
                SizeField::VintAfter => {
                    // 0x80: size 0; 0x01 + 7 x 0xff: "unknown"/huge; or a random byte.
                    v = value(rng, 1);
                    let vint: Vec<u8> = match rng.below(3) {
                        0 => vec![0x80],
                        1 => vec![0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                        _ => vec![v as u8],
                    };
                    for (k, b) in vint.iter().enumerate() {
                        if let Some(x) = bytes.get_mut(after + k) {
                            *x = *b;
                        }
                    }
                }
                SizeField::OggSegments => {
                    v = value(rng, 1);
                    let k = if rng.next() & 1 == 0 { 0 } else { 1 + rng.below(8) };
                    if let Some(x) = bytes.get_mut(at + 26 + k) {
                        *x = v as u8;
                    }
                }
            }
            format!("size of tag at {at} set to {v:#x}")
        }
        _ => {
            // Splice: a block copied over another place (duplicated chunks, misplaced data).
            let n = 1 + rng.below(512.min(len));
            let from = rng.below(len - n + 1);
            let to = rng.position(len - n + 1, 1024);
            let block = bytes[from..from + n].to_vec();
            bytes[to..to + n].copy_from_slice(&block);
            format!("{n} bytes spliced from {from} to {to}")
        }
    }
}

fn mutate(rng: &mut Rng, original: &[u8], ext: &str, hits: &[(usize, usize)]) -> (Vec<u8>, String) {
    let mut bytes = original.to_vec();
    let rounds = 1 + rng.below(3);
    let mut what = Vec::new();
    for _ in 0..rounds {
        if bytes.is_empty() {
            break;
        }
        what.push(mutate_once(rng, &mut bytes, ext, hits));
    }
    (bytes, what.join("; "))
}

/// The seeds with their share of the cases: the 0.3 s clips in `formats/tiny/` take most
/// (cheap to decode), the 2 s clips in `formats/` a tenth (their windowing and finishing are
/// exercised too), and kept regression inputs in `hostile/` are run as they are.
fn seeds(cases_per_format: usize) -> Vec<(PathBuf, usize)> {
    let list = |dir: PathBuf| -> Vec<PathBuf> {
        let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
        let mut v: Vec<PathBuf> = rd
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e != "sh" && e != "md"))
            .collect();
        v.sort();
        v
    };
    let full = (cases_per_format / 10).max(1);
    let mut seeds: Vec<(PathBuf, usize)> = Vec::new();
    seeds.extend(list(common::fixture("formats/tiny")).into_iter().map(|p| (p, cases_per_format - full)));
    seeds.extend(list(common::fixture("formats")).into_iter().map(|p| (p, full)));
    seeds.extend(list(common::fixture("hostile")).into_iter().map(|p| (p, 1)));
    seeds
}

/// The format family a fixture's mutations target.
fn family(path: &Path) -> String {
    let ext = path.extension().unwrap().to_string_lossy().to_ascii_lowercase();
    match ext.as_str() {
        "aif" | "aiff" => "aiff".into(),
        "mp4" => "m4a".into(),
        e => e.to_string(),
    }
}

/// Runs files through the CLI's per-file path: `for_each_file` (isolation, watchdog) with
/// `analyze_file` as the work; the preloaded model sessions are handed to the workers.
fn run_batch(
    files: &[PathBuf],
    models: &[Arc<LoadedModel>],
    settings: &AnalysisSettings,
) -> Vec<Result<FileAnalysis, AnalysisError>> {
    // Workers are made concurrently: an atomic hands out the sessions.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let settings = settings.clone();
    for_each_file(
        files,
        Some(models.len()),
        Watchdog::from_env(),
        || Ok::<_, ()>(models[next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % models.len()].clone()),
        move |model: &mut Arc<LoadedModel>, path: &Path| analyze_file(path, model, &settings),
        |_, _| {},
    )
    .unwrap()
    .into_iter()
    .map(|r| r.outcome)
    .collect()
}

#[test]
fn mutated_files_of_every_format_give_a_result_or_an_error_never_a_crash_or_a_stall() {
    let cases_per_format: usize =
        std::env::var("GENRE_METER_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300).max(2);
    let seed: u64 = std::env::var("GENRE_METER_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x006e_7265_5f6d_7472);
    let started = Instant::now();
    let model = common::default_model();
    let models = vec![model.clone(), Arc::new(genre_meter::engine::model::resolve(genre_meter::engine::DEFAULT_MODEL).unwrap().load().unwrap())];
    // A threshold above any level: every window is "silent", so nothing reaches the model.
    let no_inference = AnalysisSettings { silence_threshold_dbfs: f32::INFINITY, ..AnalysisSettings::default() };
    let with_inference = AnalysisSettings::default();
    let dir = tempfile::tempdir().unwrap();
    let keep_dir = std::env::var_os("GENRE_METER_FUZZ_KEEP").map_or_else(|| dir.path().join("panics"), PathBuf::from);
    std::fs::create_dir_all(&keep_dir).unwrap();
    let mut rng = Rng(seed);
    let (mut total, mut decoded, mut inferred) = (0usize, 0usize, 0usize);
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut panics: Vec<String> = Vec::new();
    let mut stalls: Vec<String> = Vec::new();
    let seeds = seeds(cases_per_format);
    for (fixture, cases) in &seeds {
        let ext = family(fixture);
        let original = std::fs::read(fixture).unwrap();
        let hits = tag_hits(&original, &ext);
        let parent = fixture.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();
        let name = format!("{parent}/{}", fixture.file_name().unwrap().to_string_lossy());
        // The unmutated file is case 0 of each fixture: it must decode (or, for a kept
        // regression fixture, give its error).
        let mut files = vec![fixture.clone()];
        let mut what = vec!["unmutated".to_string()];
        for case in 1..*cases {
            let (bytes, how) = mutate(&mut rng, &original, &ext, &hits);
            let stem = format!("{parent}_{}", fixture.file_stem().unwrap().to_string_lossy());
            let path = dir.path().join(format!("{stem}_{case:04}.{}", fixture.extension().unwrap().to_string_lossy()));
            std::fs::write(&path, bytes).unwrap();
            files.push(path);
            what.push(how);
        }
        let outcomes = run_batch(&files, &models, &no_inference);
        assert_eq!(outcomes.len(), files.len(), "every file has an outcome");
        let is_regression = fixture.starts_with(common::fixture("hostile"));
        if !is_regression {
            assert!(outcomes[0].is_ok(), "{name} itself does not decode: {:?}", outcomes[0].as_ref().err());
        }
        let mut sample = Vec::new();
        for (i, outcome) in outcomes.iter().enumerate() {
            total += 1;
            match outcome {
                Ok(a) => {
                    decoded += 1;
                    assert!(a.summary.duration_seconds.is_finite());
                    if i % 20 == 0 && !a.summary.too_short {
                        sample.push(files[i].clone());
                    }
                }
                Err(AnalysisError::Isolated(FileFailure::Panicked { reason, .. })) => {
                    panics.push(format!("{name} case {i} ({}): {reason}", what[i]));
                    // Keep the first input per panic site, to make regression fixtures of.
                    let site = reason.split(": ").next().unwrap_or("").replace(['/', ':', ' ', '.'], "_");
                    let keep = keep_dir.join(format!("{site}.{}", fixture.extension().unwrap().to_string_lossy()));
                    if !keep.exists() {
                        let _ = std::fs::copy(&files[i], keep);
                    }
                }
                Err(AnalysisError::Isolated(FileFailure::Stalled { .. })) => stalls.push(format!("{name} case {i} ({})", what[i])),
                Err(e) => {
                    let kind = format!("{e:?}").split(['(', ' ', '{']).take(2).collect::<Vec<_>>().join(" ");
                    *errors.entry(kind).or_default() += 1;
                    assert!(e.to_string().contains(&*files[i].file_name().unwrap().to_string_lossy()), "error does not name the file: {e}");
                }
            }
        }
        // Inference for a fixed sample of the cases that decode: finite probabilities.
        for (path, outcome) in sample.iter().zip(run_batch(&sample, &models, &with_inference)) {
            inferred += 1;
            match outcome {
                Ok(a) => {
                    if let Some(p) = &a.summary.probabilities {
                        assert!(p.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)), "{}: {p:?}", path.display());
                    }
                }
                Err(AnalysisError::Isolated(FileFailure::Panicked { reason, .. })) => panics.push(format!("{}: {reason}", path.display())),
                Err(e) => panic!("{} decoded before, fails with the model: {e}", path.display()),
            }
        }
        for f in &files[1..] {
            let _ = std::fs::remove_file(f);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "fuzz: {total} cases ({} seed files, {cases_per_format} per format, seed {seed:#x}) in {elapsed:.1} s: {decoded} decoded, \
         {inferred} of them also through the model; errors by kind {errors:?}; {} dependency panics isolated; {} stalls",
        seeds.len(),
        panics.len(),
        stalls.len()
    );
    // One line per panic site (dependency file:line), with its count and first case.
    let mut sites: BTreeMap<String, (usize, &String)> = BTreeMap::new();
    for p in &panics {
        let site = p.split("panic at ").nth(1).and_then(|r| r.split(": ").next()).unwrap_or("?").to_string();
        sites.entry(site).or_insert((0, p)).0 += 1;
    }
    for (site, (n, first)) in &sites {
        eprintln!("  {n:4} x {site}, first: {first}");
    }
    assert!(stalls.is_empty(), "files stalled past the watchdog: {stalls:?}");
    // Panics are isolated (they reached us as errors); none may come from our own code.
    let ours: Vec<&String> = panics.iter().filter(|p| p.contains("src/engine/") || p.contains("src/train/")).collect();
    assert!(ours.is_empty(), "panics in Genre Meter's own code: {ours:?}");
}
