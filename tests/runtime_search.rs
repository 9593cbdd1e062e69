//! Where the engine looks for ONNX Runtime (README, "ONNX Runtime"): `$GENRE_METER_ORT_LIB`
//! (used as given, never replaced), then next to the running executable, then the data
//! folder (`<data dir>/onnxruntime/1.31.1/`); and a library that is there but is not ONNX
//! Runtime 1.31 is reported as such, with the fix. Each case runs a copy of the
//! `genre-meter` binary (hard-linked into a folder of its own) on the test model `tiny`, so
//! that loading is all it does.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use genre_meter::engine::runtime;

struct Setup {
    _dir: tempfile::TempDir,
    bin_dir: PathBuf,
    exe: PathBuf,
    home: PathBuf,
    song: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let bin_dir = dir.path().join("bin");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&bin_dir).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        let exe = bin_dir.join("genre-meter");
        let built = Path::new(env!("CARGO_BIN_EXE_genre-meter"));
        // A hard link keeps its own path as the running executable's (a symlink would not).
        if std::fs::hard_link(built, &exe).is_err() {
            std::fs::copy(built, &exe).unwrap();
        }
        let song = dir.path().join("song.wav");
        common::write_wav_f32(&song, 8_000, 1, &common::synth_music(8_000, 1.0));
        Self { _dir: dir, bin_dir, exe, home, song }
    }

    fn next_to_exe(&self) -> PathBuf {
        self.bin_dir.join(runtime::library_file_name())
    }

    fn in_data_folder(&self) -> PathBuf {
        let dir = self.home.join("onnxruntime").join(runtime::ORT_VERSION);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(runtime::library_file_name())
    }

    /// `genre-meter analyze --model tests/fixtures/tiny song.wav`, with only `env` set of the
    /// runtime variables.
    fn analyze(&self, env: Option<&Path>) -> Output {
        let mut cmd = Command::new(&self.exe);
        // --no-cache: every run must load the library (a cached result needs no runtime).
        cmd.args(["analyze", "--no-cache", "--format", "json", "--model"])
            .arg(common::fixture("tiny"))
            .arg(&self.song)
            .env("GENRE_METER_HOME", &self.home)
            .env_remove("GENRE_METER_ORT_LIB")
            .env_remove("ORT_DYLIB_PATH");
        if let Some(lib) = env {
            cmd.env("GENRE_METER_ORT_LIB", lib);
        }
        cmd.output().unwrap()
    }
}

fn real_library() -> PathBuf {
    runtime::locate_library().expect("ONNX Runtime installed (cargo xtask fetch-ort)")
}

/// A file by the library's name that is not a library.
fn fake_library(path: &Path) {
    std::fs::write(path, b"not a library").unwrap();
}

fn link(real: &Path, at: &Path) {
    std::os::unix::fs::symlink(real, at).unwrap();
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_runs(o: &Output, what: &str) {
    assert!(o.status.success(), "{what}: {}", stderr(o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(doc["files"][0]["ok"], true, "{what}: {doc}");
}

fn assert_unusable(o: &Output, path: &Path, what: &str) {
    assert_eq!(o.status.code(), Some(2), "{what}: {}", stderr(o));
    let expected = format!("the ONNX Runtime library at '{}' could not be used", path.display());
    assert!(stderr(o).contains(&expected), "{what}: expected {expected:?} in {}", stderr(o));
    assert!(stderr(o).contains("Fix: install version 1.31.1"), "{what}: {}", stderr(o));
}

#[test]
fn the_search_order_is_env_then_next_to_the_executable_then_the_data_folder() {
    let s = Setup::new();
    let real = real_library();

    // Nowhere: the error lists where it looked, in order, and the fix.
    let o = s.analyze(None);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let (exe_side, data) = (s.next_to_exe().display().to_string(), s.in_data_folder().display().to_string());
    let looked = format!("looked in: {exe_side}, {data})");
    assert!(err.contains(&looked), "expected {looked:?} in {err}");
    assert!(err.contains("cargo xtask fetch-ort") && err.contains("GENRE_METER_ORT_LIB"), "{err}");

    // The data folder alone.
    link(&real, &s.in_data_folder());
    assert_runs(&s.analyze(None), "library in the data folder");

    // Next to the executable comes first: a broken one there is what is reported, although
    // the data folder holds a good one.
    fake_library(&s.next_to_exe());
    assert_unusable(&s.analyze(None), &s.next_to_exe(), "broken library next to the executable");

    // $GENRE_METER_ORT_LIB comes before both.
    assert_runs(&s.analyze(Some(&real)), "GENRE_METER_ORT_LIB names a good library");

    // A good library next to the executable, none in the data folder.
    std::fs::remove_file(s.next_to_exe()).unwrap();
    std::fs::remove_file(s.in_data_folder()).unwrap();
    link(&real, &s.next_to_exe());
    assert_runs(&s.analyze(None), "library next to the executable");
}

#[test]
fn an_explicit_path_is_used_as_given_and_never_replaced() {
    let s = Setup::new();
    // Good libraries in both other places ...
    link(&real_library(), &s.next_to_exe());
    link(&real_library(), &s.in_data_folder());
    // ... do not stand in for a wrong explicit one.
    let missing = s.home.join("elsewhere").join(runtime::library_file_name());
    let o = s.analyze(Some(&missing));
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(&format!("looked in: {} (from GENRE_METER_ORT_LIB)", missing.display())), "{}", stderr(&o));
}

#[test]
fn a_library_that_is_not_onnx_runtime_1_31_is_refused_with_the_fix() {
    let s = Setup::new();
    // A real shared library, but another one (what a wrong download looks like to the loader).
    let other = ["/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6", "/lib64/libm.so.6"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("glibc's libm");
    let o = s.analyze(Some(&other));
    assert_unusable(&o, &other, "libm as ONNX Runtime");
    // The same under the library's own name in the data folder.
    link(&other, &s.in_data_folder());
    assert_unusable(&s.analyze(None), &s.in_data_folder(), "libm in the data folder");
}
