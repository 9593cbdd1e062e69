//! Project tasks. Ours: `fetch-ort`, `analyze`, `test`, `bench`; everything else (`bundle`, ...) is
//! nice-plug's bundler.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Must match `genre_meter::engine::runtime::ORT_VERSION`.
const ORT_VERSION: &str = "1.31.1";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("fetch-ort") => fetch_ort().map(|p| println!("ONNX Runtime library: {}", p.display())),
        Some("analyze") => analyze(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("bench") => bench(&args[1..]),
        _ => return match nice_plug_xtask::main().map_err(|e| e.to_string()).and_then(|()| copy_standalone(&args)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// nice-plug's bundler writes the CLAP and VST3 bundles only; after `bundle
/// genre-meter-plugin` the standalone app goes beside them as `target/bundled/Genre Meter`.
fn copy_standalone(args: &[String]) -> Result<(), String> {
    let bundles_plugin = args.first().is_some_and(|a| a == "bundle" || a == "bundle-universal")
        && args.iter().any(|a| a == "genre-meter-plugin");
    if !bundles_plugin {
        return Ok(());
    }
    let profile = if args.iter().any(|a| a == "--release") { "release" } else { "debug" };
    let target = workspace_root().join("target");
    let built = target.join(profile).join("genre-meter-plugin");
    let dest = target.join("bundled").join("Genre Meter");
    std::fs::copy(&built, &dest).map_err(|e| format!("copying the standalone app {} to {}: {e}", built.display(), dest.display()))?;
    println!("Created a standalone app at '{}'", dest.display());
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Same rule as `genre_meter::engine::runtime::data_dir` (xtask does not link the engine).
fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("GENRE_METER_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("genre-meter");
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".local/share/genre-meter")
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{cmd:?} failed with {status}")) }
}

/// Installs ONNX Runtime's shared library from the PyPI wheel `onnxruntime==ORT_VERSION`
/// (the registry this project can always reach) into the per-user data folder.
fn fetch_ort() -> Result<PathBuf, String> {
    let file = format!("libonnxruntime.so.{ORT_VERSION}");
    let dest_dir = data_dir().join("onnxruntime").join(ORT_VERSION);
    let dest = dest_dir.join(&file);
    if dest.is_file() {
        return Ok(dest);
    }
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        return Err(format!(
            "automatic set-up knows Linux x86_64 only; put the ONNX Runtime {ORT_VERSION} library into {} yourself",
            dest_dir.display()
        ));
    }
    eprintln!("fetching ONNX Runtime {ORT_VERSION} (PyPI wheel onnxruntime) into {}", dest_dir.display());
    let tmp = std::env::temp_dir().join(format!("genre-meter-ort-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    run(Command::new(&python)
        .args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "-d"])
        .arg(&tmp)
        .arg(format!("onnxruntime=={ORT_VERSION}")))
    .map_err(|e| format!("{e}\nneeds python3 with pip (Debian: apt-get install python3-pip)"))?;
    std::fs::create_dir_all(&dest_dir).map_err(|e| format!("cannot create {}: {e}", dest_dir.display()))?;
    // A wheel is a zip; take the one library out of it.
    let script = format!(
        "import glob,sys,zipfile\n\
         w=glob.glob(sys.argv[1]+'/onnxruntime-*.whl')[0]\n\
         z=zipfile.ZipFile(w)\n\
         open(sys.argv[2],'wb').write(z.read('onnxruntime/capi/{file}'))\n"
    );
    let part = dest_dir.join(format!("{file}.part"));
    run(Command::new(&python).arg("-c").arg(script).arg(&tmp).arg(&part))?;
    std::fs::rename(&part, &dest).map_err(|e| format!("cannot place {}: {e}", dest.display()))?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(dest)
}

/// The README's main command: analyse audio (default: the demo clip) with the built-in model.
fn analyze(args: &[String]) -> Result<(), String> {
    fetch_ort()?;
    let root = workspace_root();
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(&root).args(["run", "--quiet", "--release", "--package", "genre-meter", "--bin", "genre-meter", "--", "analyze"]);
    if args.is_empty() {
        cmd.arg(root.join("tests/fixtures/synth_16k.wav"));
    } else {
        cmd.args(args);
    }
    run(&mut cmd)
}

/// The README's test command (and CI's): every test of the workspace.
fn test(args: &[String]) -> Result<(), String> {
    fetch_ort()?;
    let root = workspace_root();
    let nextest = Command::new(env!("CARGO")).args(["nextest", "--version"]).output().is_ok_and(|o| o.status.success());
    let skip_log = skip_log_start(&root)?;
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(&root).env(SKIP_LOG_ENV, &skip_log);
    if nextest {
        cmd.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        cmd.args(["test", "--workspace", "--no-fail-fast"]);
    }
    let result = run(cmd.args(args));
    skip_summary(&skip_log);
    result?;
    if nextest {
        // nextest does not run doc tests.
        run(Command::new(env!("CARGO")).current_dir(&root).args(["test", "--workspace", "--doc"]))?;
    }
    Ok(())
}

/// Environment variable through which tests record their skips (`tests/common/skip.rs`).
const SKIP_LOG_ENV: &str = "GENRE_METER_SKIP_LOG";

/// An empty skip log for this test run: `target/test-skips.log`.
fn skip_log_start(root: &Path) -> Result<PathBuf, String> {
    let path = root.join("target/test-skips.log");
    std::fs::create_dir_all(root.join("target")).map_err(|e| format!("cannot create target/: {e}"))?;
    std::fs::write(&path, "").map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    Ok(path)
}

/// Ends the test output with the skipped tests and why ("0 tests skipped" when none), so that
/// a skip never passes unseen. A test retried by nextest is counted once.
fn skip_summary(log: &Path) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut skips: Vec<(&str, &str)> =
        text.lines().filter_map(|l| l.split_once('\t')).collect();
    skips.sort();
    skips.dedup();
    let list: Vec<String> = skips.iter().map(|(test, why)| format!("{test}: {why}")).collect();
    let noun = if skips.len() == 1 { "test" } else { "tests" };
    if list.is_empty() {
        println!("0 tests skipped");
    } else {
        println!("{} {noun} skipped: {}", skips.len(), list.join("; "));
    }
}

/// Speed and memory figures, with the Python peers (musicnn's pipeline, librosa) in the same
/// run. The peers' pinned environment goes to `target/bench-venv` (once; a few minutes).
fn bench(args: &[String]) -> Result<(), String> {
    fetch_ort()?;
    let root = workspace_root();
    let venv = root.join("target/bench-venv");
    let python = venv.join("bin/python");
    if !python.is_file() {
        let host = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        run(Command::new(&host).args(["-m", "venv"]).arg(&venv))?;
        run(Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--no-deps", "-r"])
            .arg(root.join("benches/python/requirements.txt")))?;
    }
    run(Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["bench", "--package", "genre-meter", "--bench", "pipeline", "--"])
        .args(args)
        .env("GENRE_METER_BENCH_PYTHON", &python))
}
