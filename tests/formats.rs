//! Every promised format decodes, downmixes and gives the same genre picture.

mod common;

use genre_meter::engine::decode::decode_to_mono;
use genre_meter::engine::{AnalysisSettings, analyze_file};

const CLIPS: &[&str] =
    &["clip_s24.wav", "clip_f32.wav", "clip.flac", "clip.mp3", "clip.ogg", "clip.aiff", "clip.m4a", "clip.caf", "clip.mkv", "clip.webm"];

#[test]
fn wav_flac_mp3_ogg_aiff_and_aac_decode_to_two_seconds() {
    let (reference, rate) = decode_to_mono(&common::fixture("formats/clip_f32.wav")).unwrap();
    assert_eq!(rate, 22_050);
    for name in CLIPS {
        let (x, rate) = decode_to_mono(&common::fixture(&format!("formats/{name}"))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rate, 22_050, "{name}");
        let seconds = x.len() as f64 / rate as f64;
        // Lossy codecs add encoder delay and padding of a few ms.
        assert!((seconds - 2.0).abs() < 0.1, "{name}: {seconds} s");
        let rms = (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
        let ref_rms = (reference.iter().map(|v| v * v).sum::<f32>() / reference.len() as f32).sqrt();
        assert!((rms / ref_rms - 1.0).abs() < 0.1, "{name}: rms {rms} vs {ref_rms}");
    }
    // Lossless formats are sample-exact up to their bit depth.
    for name in ["clip_s24.wav", "clip.flac", "clip.aiff", "clip.caf", "clip.mkv"] {
        let (x, _) = decode_to_mono(&common::fixture(&format!("formats/{name}"))).unwrap();
        assert!(common::max_abs_diff(&x, &reference) < 1e-4, "{name}");
    }
}

#[test]
fn every_format_gives_the_same_result_as_the_float_wav() {
    // The tagger's independent sigmoids show decoding differences without a softmax head's
    // winner-take-all amplifying them on this 2 s synthetic chord.
    let model = common::musicnn_model();
    let settings = AnalysisSettings::default();
    let reference = analyze_file(&common::fixture("formats/clip_f32.wav"), &model, &settings).unwrap();
    assert_eq!(reference.channels, 2);
    let ref_p = reference.summary.probabilities.unwrap();
    for name in CLIPS {
        let a = analyze_file(&common::fixture(&format!("formats/{name}")), &model, &settings).unwrap();
        assert_eq!(a.channels, 2, "{name}");
        let diff = common::max_abs_diff(a.summary.probabilities.as_ref().unwrap(), &ref_p);
        eprintln!("{name}: max abs diff {diff:.4} from the float WAV");
        // Lossless: the same samples. Lossy: codec noise and encoder delay on a 2 s clip that
        // is repeat-padded into one 3 s patch.
        let tolerance = if ["clip.mp3", "clip.ogg", "clip.m4a", "clip.webm"].contains(name) { 0.1 } else { 0.005 };
        assert!(diff < tolerance, "{name} differs by {diff}");
    }
}

#[test]
fn gtzan_ogg_clips_decode_when_shared_data_is_present() {
    let shared = require_shared!();
    let dir = shared.join("data/gtzan/audio/jazz");
    let first = std::fs::read_dir(&dir).unwrap().filter_map(Result::ok).map(|e| e.path()).min().unwrap();
    let (x, rate) = decode_to_mono(&first).unwrap();
    assert_eq!(rate, 22_050);
    assert!((x.len() as f64 / rate as f64 - 30.0).abs() < 0.5);
}

#[test]
fn vorbis_above_full_scale_decodes_unclipped() {
    // A 441 Hz sine at 1.4 x full scale, Ogg Vorbis (tests/fixtures/hot/make_hot.sh). libsndfile
    // (musicnn's librosa.load) returns its peaks above ±1; a decoder that clamps (symphonia 0.5)
    // returns them at exactly ±1 and about 10 % less RMS.
    let (x, rate) = decode_to_mono(&common::fixture("hot/hot.ogg")).unwrap();
    assert_eq!(rate, 22_050);
    assert!((x.len() as f64 / rate as f64 - 0.5).abs() < 0.02, "{} frames", x.len());
    let peak = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let above = x.iter().filter(|v| v.abs() > 1.0).count();
    let rms = (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
    assert!(peak > 1.3 && peak < 1.6, "peak {peak}: clipped or mangled");
    // |1.4 sin| exceeds 1 for about half of each period.
    assert!(above as f64 > 0.4 * x.len() as f64, "{above} of {} samples above full scale", x.len());
    let expected_rms = 1.4 / 2f32.sqrt();
    assert!((rms / expected_rms - 1.0).abs() < 0.05, "rms {rms}, the sine's {expected_rms}");
}

#[test]
fn alac_in_caf_as_ffmpeg_writes_it_decodes_losslessly() {
    // tests/fixtures/alac/make_alac.sh: formats/tiny's clip as ALAC in CAF (symphonia 0.5
    // refused ffmpeg's ALAC-in-CAF; 0.6 decodes it).
    let (reference, rate) = decode_to_mono(&common::fixture("formats/tiny/clip_f32.wav")).unwrap();
    let (x, got_rate) = decode_to_mono(&common::fixture("alac/clip_alac.caf")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got_rate, rate);
    assert_eq!(x.len(), reference.len(), "the clip's frames, without the last packet's padding");
    assert!(common::max_abs_diff(&x, &reference) < 1e-4);
}

#[test]
fn matroska_states_its_length_from_the_segment_duration() {
    // symphonia 0.6 keeps MKV/WebM's duration on the media info, not the track; quick mode
    // places its windows from it (without it, it counts packets).
    use genre_meter::engine::decode::AudioDecoder;
    for name in ["clip.mkv", "clip.webm"] {
        let path = common::fixture(&format!("formats/{name}"));
        let total = AudioDecoder::open(&path).unwrap().total_frames().unwrap_or_else(|| panic!("{name}: no length"));
        let (x, _) = decode_to_mono(&path).unwrap();
        assert!((total as f64 / x.len() as f64 - 1.0).abs() < 0.01, "{name}: {total} stated, {} decoded", x.len());
    }
}
