//! Ensembles (`[ensemble]` manifests): several models on the same audio, their probabilities
//! mixed. Checked against the members run on their own: an ensemble of the built-in gtzan10
//! with itself at a finer hop needs no YAMNet, and its numbers follow from gtzan10's.

mod common;

use std::path::Path;
use std::sync::Arc;

use genre_meter::engine::analysis::mix_probabilities;
use genre_meter::engine::{AnalysisSettings, Analyzer, LoadedModel, WindowPrediction, analyze_file, model};

/// gtzan10 × 0.6 (the ensemble's windows) + gtzan10 × 0.4 with windows every 0.5 s.
fn write_manifest(dir: &Path, temperature: f32) {
    let labels = model::resolve("gtzan10").unwrap().manifest.labels.names;
    let quoted: Vec<String> = labels.iter().map(|l| format!("\"{l}\"")).collect();
    let text = format!(
        "name = \"twice\"\noutput_activation = \"softmax\"\n\n[ensemble]\ntemperature = {temperature}\n\n\
         [[ensemble.members]]\nmodel = \"gtzan10\"\nweight = 1.5\n\n\
         [[ensemble.members]]\nmodel = \"gtzan10\"\nweight = 1.0\nhop_seconds = 0.5\n\n\
         [labels]\nnames = [{}]\n",
        quoted.join(", ")
    );
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("manifest.toml"), text).unwrap();
}

fn ensemble(temperature: f32) -> (tempfile::TempDir, Arc<LoadedModel>) {
    let dir = tempfile::tempdir().unwrap();
    write_manifest(dir.path(), temperature);
    let entry = model::resolve(dir.path().to_str().unwrap()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(entry.members.len(), 2);
    (dir, Arc::new(entry.load().unwrap_or_else(|e| panic!("{e}"))))
}

fn run(model: &Arc<LoadedModel>, rate: u32, hop: f64, audio: &[f32], block: usize) -> (Vec<WindowPrediction>, Vec<f32>) {
    let mut a = Analyzer::new(model.clone(), rate, AnalysisSettings { hop_seconds: hop, ..Default::default() });
    let mut windows = Vec::new();
    for chunk in audio.chunks(block) {
        a.push(chunk, &mut windows).unwrap();
    }
    let summary = a.finish(&mut windows).unwrap();
    (windows, summary.probabilities.unwrap())
}

fn worst(a: &[f32], b: &[f32]) -> f32 {
    common::max_abs_diff(a, b)
}

#[test]
fn an_ensemble_mixes_its_members_whole_piece_results_and_windows() {
    let (_dir, twice) = ensemble(0.8);
    let single = common::default_model();
    let audio = common::synth_music(44_100, 20.0);

    let (windows, whole) = run(&twice, 44_100, 1.0, &audio, 4096);
    let (first, first_whole) = run(&single, 44_100, 1.0, &audio, 4096);
    let (_, fine_whole) = run(&single, 44_100, 0.5, &audio, 4096);

    // The whole piece: 0.6 x gtzan10 at the analysis hop + 0.4 x gtzan10 at 0.5 s, sharpened.
    let expected = mix_probabilities(&[(&first_whole, 0.6), (&fine_whole, 0.4)], 0.8);
    let d = worst(&whole, &expected);
    eprintln!("whole piece: largest difference from the members' mix {d:.2e}");
    assert!(d < 1e-5, "{whole:?} vs {expected:?}");
    assert!(worst(&first_whole, &fine_whole) > 1e-4, "the members' hops give different numbers, so the mix is tested");

    // Windows: the first member's; the second member's only window inside each of them
    // (0.5 s hop = 31 frames, 1 s = 62, a patch = 187) is the same patch, so each window is
    // gtzan10's window, sharpened.
    assert_eq!(windows.len(), first.len());
    for (w, f) in windows.iter().zip(&first) {
        assert_eq!((w.start_seconds, w.end_seconds), (f.start_seconds, f.end_seconds));
        let (p, q) = (w.probabilities.as_ref().unwrap(), f.probabilities.as_ref().unwrap());
        let expected = mix_probabilities(&[(q, 1.0)], 0.8);
        assert!(worst(p, &expected) < 1e-5, "window at {} s: {p:?} vs {expected:?}", w.start_seconds);
    }
    let sum: f32 = whole.iter().sum();
    assert!((sum - 1.0).abs() < 1e-5, "a sharpened mix is still a distribution: {sum}");
}

#[test]
fn any_block_size_gives_an_ensemble_the_same_windows() {
    let (_dir, twice) = ensemble(1.0);
    let audio = common::synth_music(48_000, 12.0);
    let (a, whole_a) = run(&twice, 48_000, 1.0, &audio, audio.len());
    for block in [1usize, 37, 4096] {
        let (b, whole_b) = run(&twice, 48_000, 1.0, &audio, block);
        assert_eq!(a.len(), b.len(), "block {block}");
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.start_seconds, y.start_seconds, "block {block}");
            assert!(worst(x.probabilities.as_ref().unwrap(), y.probabilities.as_ref().unwrap()) < 1e-6, "block {block}");
        }
        assert!(worst(&whole_a, &whole_b) < 1e-6, "block {block}");
    }
}

#[test]
fn quick_mode_and_files_work_with_an_ensemble() {
    let (_dir, twice) = ensemble(1.0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.wav");
    let audio = common::synth_music(22_050, 60.0);
    common::write_wav_f32(&path, 22_050, 1, &audio);
    // Full analysis of the file is the streamed analysis.
    let full = analyze_file(&path, &twice, &AnalysisSettings::default()).unwrap();
    let (_, streamed) = run(&twice, 22_050, 1.0, &audio, 8192);
    assert!(worst(full.summary.probabilities.as_ref().unwrap(), &streamed) < 1e-6);
    // Quick mode: each region holds one window of either member (a 0.5 s hop fits one patch
    // in a region), the same patch, so the mix is gtzan10's own quick result.
    let quick = AnalysisSettings { quick_windows: Some(6), ..Default::default() };
    let ens = analyze_file(&path, &twice, &quick).unwrap();
    let own = analyze_file(&path, &common::default_model(), &quick).unwrap();
    assert_eq!(ens.windows.len(), 6);
    let (p, q) = (ens.summary.probabilities.unwrap(), own.summary.probabilities.unwrap());
    assert!(worst(&p, &q) < 1e-5, "{p:?} vs {q:?}");
}

#[test]
fn bad_ensembles_are_refused_with_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[[ensemble.members]]\nmodel = \"gtzan10\"\nweight = 1.0\n", "at least two"),
        ("[[ensemble.members]]\nmodel = \"gtzan10\"\nweight = 1.0\n[[ensemble.members]]\nmodel = \"gtzan10\"\nweight = -1.0\n", "weight -1"),
        ("[[ensemble.members]]\nmodel = \"gtzan10\"\nweight = 1.0\n[[ensemble.members]]\nmodel = \"no-such-model\"\nweight = 1.0\n", "member 'no-such-model', which is missing"),
        ("[[ensemble.members]]\nmodel = \"gtzan10\"\nweight = 1.0\n[[ensemble.members]]\nmodel = \"msd-musicnn\"\nweight = 1.0\n", "members must give the same labels"),
    ];
    for (members, expected) in cases {
        let text = format!("name = \"bad\"\noutput_activation = \"softmax\"\n\n{members}\n[labels]\nnames = [\"blues\", \"classical\", \"country\", \"disco\", \"hiphop\", \"jazz\", \"metal\", \"pop\", \"reggae\", \"rock\"]\n");
        std::fs::write(dir.path().join("manifest.toml"), text).unwrap();
        let err = model::resolve(dir.path().to_str().unwrap()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains(expected), "expected '{expected}' in: {err}");
    }
}

#[test]
fn members_that_resample_differently_each_resample_their_own_input() {
    // Its own user folder (nextest runs each test in its own process).
    let lib = genre_meter::engine::runtime::locate_library().expect("ONNX Runtime installed");
    let home = tempfile::tempdir().unwrap();
    // SAFETY: nextest runs every test in its own process, and no other thread runs yet.
    unsafe {
        std::env::set_var("GENRE_METER_ORT_LIB", lib);
        std::env::set_var("GENRE_METER_HOME", home.path());
    }
    // msd-musicnn with rubato's flat FFT resampler, installed as "musicnn-fft".
    let shipped = common::repo_dir().join("models/msd-musicnn");
    let copy = model::user_models_dir().join("musicnn-fft");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(shipped.join("msd_musicnn.onnx"), copy.join("msd_musicnn.onnx")).unwrap();
    let text = std::fs::read_to_string(shipped.join("manifest.toml")).unwrap();
    let text = text.replacen("name = \"msd-musicnn\"", "name = \"musicnn-fft\"", 1).replacen("resampler = \"kaiser-best\"", "resampler = \"fft\"", 1);
    assert!(text.contains("resampler = \"fft\""), "the shipped manifest names its resampler");
    std::fs::write(copy.join("manifest.toml"), text).unwrap();
    let labels = model::resolve("msd-musicnn").unwrap().manifest.labels.names;
    let quoted: Vec<String> = labels.iter().map(|l| format!("{l:?}")).collect();
    let dir = home.path().join("mix");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("manifest.toml"),
        format!(
            "name = \"mix\"\noutput_activation = \"sigmoid\"\n\n[[ensemble.members]]\nmodel = \"msd-musicnn\"\nweight = 1.0\n\n\
             [[ensemble.members]]\nmodel = \"musicnn-fft\"\nweight = 1.0\n\n[labels]\nnames = [{}]\n",
            quoted.join(", ")
        ),
    )
    .unwrap();
    let load = |spec: &str| Arc::new(model::resolve(spec).and_then(|e| e.load()).unwrap_or_else(|e| panic!("{e}")));
    let (mix, kaiser, fft) = (load(dir.to_str().unwrap()), load("msd-musicnn"), load("musicnn-fft"));

    // Music with energy at 7.6 kHz, where kaiser_best and the FFT resampler differ.
    let rate = 48_000;
    let mut audio = common::synth_music(rate, 12.0);
    for (i, s) in audio.iter_mut().enumerate() {
        *s += 0.2 * (std::f64::consts::TAU * 7_600.0 * i as f64 / rate as f64).sin() as f32;
    }
    let hop = kaiser.manifest().frontend.patch_seconds();
    let (windows, whole) = run(&mix, rate, hop, &audio, 4096);
    let (kw, kaiser_whole) = run(&kaiser, rate, hop, &audio, 4096);
    let (fw, fft_whole) = run(&fft, rate, hop, &audio, 4096);
    assert!(worst(&kaiser_whole, &fft_whole) > 1e-3, "the two resamplers give different tags, so sharing would show");
    let expected = mix_probabilities(&[(&kaiser_whole, 0.5), (&fft_whole, 0.5)], 1.0);
    assert!(worst(&whole, &expected) < 1e-5, "whole piece: {}", worst(&whole, &expected));
    assert_eq!(windows.len(), kw.len());
    for ((w, k), f) in windows.iter().zip(&kw).zip(&fw) {
        let expected = mix_probabilities(&[(k.probabilities.as_ref().unwrap(), 0.5), (f.probabilities.as_ref().unwrap(), 0.5)], 1.0);
        assert!(worst(w.probabilities.as_ref().unwrap(), &expected) < 1e-5, "window at {} s", w.start_seconds);
    }
}

#[test]
fn without_its_yamnet_member_the_built_in_ensemble_is_an_option_that_says_how_to_get_it() {
    let home = tempfile::tempdir().unwrap();
    let o = common::genre_meter_cli(home.path(), &["models"]);
    let listed = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success(), "{listed}");
    assert!(
        listed.contains("not installed (optional): model 'gtzan10-ensemble' cannot be used: it is an ensemble with member 'gtzan10-yamnet', which is missing"),
        "{listed}"
    );
    assert!(!listed.contains("unavailable:"), "a missing optional member is not a fault: {listed}");
    let song = home.path().join("song.wav");
    common::write_wav_f32(&song, 22_050, 1, &common::synth_music(22_050, 4.0));
    let o = common::genre_meter_cli(home.path(), &["analyze", "--model", "gtzan10-ensemble", song.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("install-yamnet") && err.contains("models/gtzan10-yamnet/make.sh"), "says how to make the member: {err}");
}
