//! Quick mode: the regions it reads are the audio at the promised times, in every format that
//! seeks, and its whole-track result is the mean of exactly those windows.

mod common;

use std::sync::Arc;

use genre_meter::engine::decode::{AudioDecoder, decode_to_mono};
use genre_meter::engine::quick::region_starts;
use genre_meter::engine::{AnalysisSettings, Analyzer, TrackPool, analyze_file};

/// Pearson correlation of two equally long slices.
fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (
        a.iter().map(|&v| v as f64).sum::<f64>() / n,
        b.iter().map(|&v| v as f64).sum::<f64>() / n,
    );
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64 - ma, y as f64 - mb);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa * bb).sqrt()
}

#[test]
fn seeking_lands_on_the_requested_time_in_every_format() {
    let (reference, rate) = decode_to_mono(&common::fixture("formats/clip_f32.wav")).unwrap();
    for name in [
        "clip_f32.wav",
        "clip_s24.wav",
        "clip.flac",
        "clip.mp3",
        "clip.ogg",
        "clip.aiff",
        "clip.m4a",
    ] {
        let path = common::fixture(&format!("formats/{name}"));
        if !AudioDecoder::open(&path).unwrap().seeks_accurately() {
            // Quick mode decodes these as a stream; only WAV/AIFF/FLAC/MP3 must be said to seek.
            assert!(
                name.ends_with(".ogg") || name.ends_with(".m4a"),
                "{name} should seek"
            );
            continue;
        }
        // The file's own decode is the reference (lossy codecs shift by their encoder delay,
        // which a seek must keep, not undo).
        let (whole, _) = decode_to_mono(&path).unwrap();
        let mut dec = AudioDecoder::open(&path).unwrap();
        let at = rate as usize; // 1.0 s
        let early = dec
            .seek_seconds(1.0)
            .unwrap_or_else(|e| panic!("{name}: {e}")) as usize;
        let mut got = Vec::new();
        while got.len() < early + rate as usize / 2 && dec.next_chunk(&mut got).unwrap() {}
        let got = &got[early..early + rate as usize / 2];
        let want = &whole[at..at + rate as usize / 2];
        let r = correlation(got, want);
        let lossy = name.ends_with(".mp3") || name.ends_with(".ogg") || name.ends_with(".m4a");
        // A lossy stream restarts its decoder at the seek (MP3: the first frame after it may lack
        // part of its bit reservoir), so the first milliseconds differ a little.
        let floor = if lossy { 0.95 } else { 0.9999 };
        assert!(
            r > floor,
            "{name}: after seeking to 1.0 s the audio correlates {r:.4} with the decode at 1.0 s"
        );
        eprintln!("{name}: correlation after seeking {r:.4}");
        if !lossy {
            assert!(
                common::max_abs_diff(got, &reference[at..at + got.len()]) < 1e-4,
                "{name}: lossless seek is exact"
            );
        }
    }
}

#[test]
fn quick_windows_are_the_regions_analysed_alone_and_the_summary_pools_them_as_the_manifest_says() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.wav");
    let rate = 22_050;
    let mono = common::synth_music(rate, 40.0);
    common::write_wav_i16(&path, rate, 2, &common::interleave(&mono, 2));
    let (decoded, _) = decode_to_mono(&path).unwrap();
    let model = common::default_model();
    let settings = AnalysisSettings {
        quick_windows: Some(4),
        ..AnalysisSettings::default()
    };
    let quick = analyze_file(&path, &model, &settings).unwrap();
    let patch = model.manifest().frontend.patch_seconds();
    let starts = region_starts(decoded.len() as f64 / rate as f64, patch, 4);
    assert_eq!(quick.summary.windows, 4);
    assert_eq!(quick.windows.len(), 4);
    let labels = model.labels().len();
    // The whole-piece result pools the regions' windows as the model's manifest says (the
    // default head: the head on the mean embedding), as a full analysis would.
    let mut pool = TrackPool::new(&model);
    for (w, &s) in quick.windows.iter().zip(&starts) {
        let start = (s * rate as f64).round() as usize;
        assert!(
            (w.start_seconds - start as f64 / rate as f64).abs() < 1e-9,
            "{} vs {s}",
            w.start_seconds
        );
        // The same region through a fresh analyser: identical numbers.
        let region = &decoded
            [start..(start + ((patch + 0.05) * rate as f64).ceil() as usize).min(decoded.len())];
        let mut alone = Analyzer::new(
            Arc::clone(&model),
            rate,
            AnalysisSettings {
                hop_seconds: patch,
                keep_embeddings: true,
                ..settings.clone()
            },
        );
        let mut out = Vec::new();
        alone.push(region, &mut out).unwrap();
        alone.finish(&mut out).unwrap();
        assert_eq!(out[0].probabilities, w.probabilities, "window at {s:.2} s");
        pool.add(out[0].probabilities.as_ref().unwrap(), out[0].embedding.as_deref());
    }
    let summary = quick.summary.probabilities.unwrap();
    let expected = pool.probabilities(&model).unwrap().unwrap();
    assert_eq!(expected.len(), labels);
    assert!(
        summary.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-6),
        "{summary:?} vs {expected:?}"
    );
    assert!((quick.summary.duration_seconds - 40.0).abs() < 0.01);
}

#[test]
fn a_piece_the_windows_would_cover_is_analysed_in_full() {
    let path = common::fixture("synth_16k.wav");
    let model = common::default_model();
    let full = analyze_file(&path, &model, &AnalysisSettings::default()).unwrap();
    let quick = analyze_file(
        &path,
        &model,
        &AnalysisSettings {
            quick_windows: Some(100),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(quick.summary, full.summary);
}

#[test]
fn adaptive_quick_mode_stops_at_the_first_round_when_the_error_is_small_and_reads_every_window_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.wav");
    let rate = 22_050;
    common::write_wav_i16(&path, rate, 1, &common::synth_music(rate, 50.0));
    let model = common::default_model();
    let with = |max_error: f32| {
        let settings = AnalysisSettings {
            quick_windows: Some(12),
            quick_max_standard_error: Some(max_error),
            ..AnalysisSettings::default()
        };
        analyze_file(&path, &model, &settings).unwrap()
    };
    // Any error is small enough: the first round (4 evenly spread windows) is the answer,
    // the same windows and numbers as a fixed 4-window quick analysis.
    let lenient = with(1.0);
    let fixed4 = analyze_file(
        &path,
        &model,
        &AnalysisSettings {
            quick_windows: Some(4),
            ..AnalysisSettings::default()
        },
    )
    .unwrap();
    assert_eq!(lenient.summary.windows, genre_meter::engine::quick::QUICK_ROUND_WINDOWS);
    assert_eq!(lenient.summary, fixed4.summary);
    // No error is small enough: every window up to the cap, which after a complete level of
    // the grid are exactly the evenly spread 12, reported in time order.
    let strict = with(1e-9);
    assert_eq!(strict.summary.windows, 12);
    let fixed12 = analyze_file(
        &path,
        &model,
        &AnalysisSettings {
            quick_windows: Some(12),
            ..AnalysisSettings::default()
        },
    )
    .unwrap();
    let starts = |a: &genre_meter::engine::FileAnalysis| a.windows.iter().map(|w| w.start_seconds).collect::<Vec<_>>();
    assert_eq!(starts(&strict), starts(&fixed12));
    let (a, b) = (strict.summary.probabilities.unwrap(), fixed12.summary.probabilities.unwrap());
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-6), "{a:?} vs {b:?}");
}

#[test]
fn the_jackknife_standard_error_is_the_standard_error_of_a_mean() {
    use genre_meter::engine::manifest::Pooling;
    use genre_meter::engine::quick::jackknife_standard_error;
    let model = common::default_model();
    // Two windows, 0 and 1: the mean's standard error is sd / sqrt(2) = 0.5.
    let rows: Vec<&[f32]> = vec![&[0.0, 1.0], &[1.0, 0.0]];
    let se = jackknife_standard_error(&model, Pooling::MeanProbabilities, &rows).unwrap().unwrap();
    assert!((se - 0.5).abs() < 1e-6, "{se}");
    // Four equal windows: no spread at all; one window: no estimate.
    let same: Vec<&[f32]> = vec![&[0.3, 0.7]; 4];
    assert_eq!(jackknife_standard_error(&model, Pooling::MeanProbabilities, &same).unwrap(), Some(0.0));
    assert_eq!(jackknife_standard_error(&model, Pooling::MeanProbabilities, &same[..1]).unwrap(), None);
}

#[test]
fn analyze_tag_and_check_take_quick_mode_and_agree_on_the_genre() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let path = dir.path().join("long.wav");
    let rate = 22_050;
    common::write_wav_i16(&path, rate, 1, &common::synth_music(rate, 40.0));
    let file = path.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = common::genre_meter_cli(&home, args);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}\n{}", String::from_utf8_lossy(&out.stderr)));
        v
    };
    let analysed = run(&["analyze", "--quick", "--windows", "4", "--format", "json", "--no-cache", file]);
    let f = &analysed["files"][0];
    assert_eq!(f["windows"], 4, "{f}");
    let top = f["top"][0]["label"].as_str().unwrap().to_string();
    // Adaptive: at most 8 windows, at least the first round of 4.
    let adaptive = run(&["analyze", "--quick", "--windows", "8", "--max-error", "0.5", "--format", "json", "--no-cache", file]);
    let n = adaptive["files"][0]["windows"].as_u64().unwrap();
    assert!((4..=8).contains(&n) && n % 4 == 0, "{n} windows");
    let tagged = run(&["tag", "--quick", "--windows", "4", "--dry-run", "--format", "json", "--no-cache", file]);
    assert!(tagged["files"][0]["new"].to_string().contains(&top), "{tagged}");
    let list = dir.path().join("list.m3u");
    std::fs::write(&list, format!("{file}\n")).unwrap();
    let checked = run(&[
        "check", "--quick", "--windows", "4", "--expect", &top, "--format", "json", "--no-cache",
        list.to_str().unwrap(),
    ]);
    assert_eq!(checked["entries"][0]["top_genre"], top.as_str(), "{checked}");
}

#[test]
fn adaptive_windows_are_evenly_spread_after_every_complete_level_of_the_grid() {
    use genre_meter::engine::quick::adaptive_fractions;
    let f = adaptive_fractions(4, 36);
    assert_eq!(f.len(), 36);
    for n in [4usize, 12, 36] {
        let mut got = f[..n].to_vec();
        got.sort_by(f64::total_cmp);
        let want: Vec<f64> = (0..n).map(|i| (i as f64 + 0.5) / n as f64).collect();
        assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-12), "{n}: {got:?}");
    }
    // Every round of 4 spreads over the piece: one window in each quarter.
    for round in f.chunks(4) {
        let mut quarters: Vec<usize> = round.iter().map(|x| (x * 4.0) as usize).collect();
        quarters.sort();
        assert_eq!(quarters, vec![0, 1, 2, 3], "{round:?}");
    }
}
