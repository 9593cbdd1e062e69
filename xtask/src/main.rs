//! Project tasks. Ours: `fetch-ort`, `analyze`, `test`, `bench`, `validators` (also run by
//! `test`); everything else (`bundle`, ...) is nice-plug's bundler.

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
        Some("validators") => validators(&workspace_root(), Build::Fresh),
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
    let (passed, failed, mut result) = run_counting(cmd.args(args));
    let skipped = skip_summary(&skip_log);
    if result.is_ok() && nextest {
        // nextest does not run doc tests.
        result = run(Command::new(env!("CARGO")).current_dir(&root).args(["test", "--workspace", "--doc"]));
    }
    let validated = if result.is_ok() { validators(&root, Build::FromTests) } else { Ok(()) };
    // One plain closing line for whoever reads the end of the log (CI): the test runner's
    // counts, with the tests that skipped themselves (they pass as far as the runner knows).
    let failed = failed + usize::from(validated.is_err());
    println!("tests: {} passed, {failed} failed, {skipped} skipped", passed - skipped.min(passed));
    result?;
    validated
}

/// Runs the test runner, echoing its output, and returns the (passed, failed) counts of its
/// closing summary (nextest: "N tests run: P passed, F failed, ..."; cargo test: every
/// "test result:" line added up).
fn run_counting(cmd: &mut Command) -> (usize, usize, Result<(), String>) {
    use std::io::{BufRead, BufReader};
    let mut child = match cmd.stderr(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(e) => return (0, 0, Err(format!("cannot run {cmd:?}: {e}"))),
    };
    let out = child.stdout.take().expect("piped");
    let echo_out = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("{line}");
            lines.push(line);
        }
        lines
    });
    let mut lines = Vec::new();
    for line in BufReader::new(child.stderr.take().expect("piped")).lines().map_while(Result::ok) {
        eprintln!("{line}");
        lines.push(line);
    }
    lines.extend(echo_out.join().unwrap_or_default());
    let status = child.wait();
    let count = |line: &str, word: &str| -> usize {
        let words: Vec<&str> = line.split(|c: char| c == ',' || c == ';' || c.is_whitespace()).filter(|w| !w.is_empty()).collect();
        words.windows(2).filter(|w| w[1].trim_end_matches(['(', ')', ':']) == word).filter_map(|w| w[0].parse::<usize>().ok()).sum()
    };
    let (mut passed, mut failed) = (0, 0);
    if let Some(summary) = lines.iter().rev().find(|l| l.contains("tests run:")) {
        passed = count(summary, "passed");
        failed = count(summary, "failed");
    } else {
        for l in lines.iter().filter(|l| l.starts_with("test result:")) {
            passed += count(l, "passed");
            failed += count(l, "failed");
        }
    }
    let result = match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("{cmd:?} failed with {s} ({failed} failed)")),
        Err(e) => Err(format!("{cmd:?}: {e}")),
    };
    (passed, failed, result)
}

/// Where the validators' bundles come from.
#[derive(Clone, Copy, PartialEq)]
enum Build {
    /// `cargo xtask validators` alone: build the plugin first (`cargo xtask bundle`).
    Fresh,
    /// After the test run: bundle the plugin library and standalone app the tests' own build
    /// just produced. A separate `cargo build -p genre-meter-plugin` would resolve the
    /// dependencies' features without the workspace's dev-dependencies and rebuild ~40
    /// crates (166 s of CI) to validate a differently-built binary.
    FromTests,
}

/// The plugin validators hosts and users trust (clap-validator, Steinberg's VST3 validator,
/// pluginval at strictness 10 with its editor tests under Xvfb), from
/// `../shared/tools/validators`, on bundles of the same (dev) build the tests used. Skipped
/// with a message where that folder is absent, except under `CI=true` (CI has it). Any
/// failure or crash fails the run and shows the validator's own lines.
fn validators(root: &Path, build: Build) -> Result<(), String> {
    // `../shared` next to the repository, or `$GENRE_METER_SHARED`, as the tests find it.
    let shared = std::env::var_os("GENRE_METER_SHARED").map(PathBuf::from).unwrap_or_else(|| root.join("../shared"));
    let dir = shared.join("tools/validators");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if !dir.join("clap-validator").is_file() {
        let why = format!("plugin validators: {} not found", dir.display());
        if ci {
            return Err(format!("{why} (CI=true: CI provides them)"));
        }
        eprintln!("SKIPPED: {why}; the CLAP/VST3 validators did not run");
        return Ok(());
    }
    let started = std::time::Instant::now();
    // The dev profile, as the tests: no second (release) build of the whole plugin.
    let debug = root.join("target/debug");
    let built = ["libgenre_meter_plugin.so", "genre-meter-plugin"].map(|f| debug.join(f));
    // A test build leaves the plugin library in `deps/` only (the tests load it from there);
    // the bundler takes it from `target/debug`.
    let from_deps = debug.join("deps/libgenre_meter_plugin.so");
    if build == Build::FromTests && from_deps.is_file() {
        let _ = std::fs::remove_file(&built[0]);
        std::fs::copy(&from_deps, &built[0]).map_err(|e| format!("copying {} to {}: {e}", from_deps.display(), built[0].display()))?;
    }
    if build == Build::FromTests && built.iter().all(|f| f.is_file()) {
        std::env::set_current_dir(root).map_err(|e| format!("entering {}: {e}", root.display()))?;
        nice_plug_xtask::bundle(&root.join("target"), "genre-meter-plugin", &[], false)
    } else {
        nice_plug_xtask::main_with_args("cargo xtask", ["bundle".to_string(), "genre-meter-plugin".to_string()])
    }
    .map_err(|e| format!("bundling the plugin for the validators: {e}"))?;
    copy_standalone(&["bundle".to_string(), "genre-meter-plugin".to_string()])?;
    eprintln!("validators: bundled (dev profile) in {:.0} s", started.elapsed().as_secs_f64());
    let bundled = root.join("target/bundled");
    let clap = bundled.join("Genre Meter.clap");
    let vst3 = bundled.join("Genre Meter.vst3");
    let mut failures = Vec::new();
    let mut check = |name: &str, cmd: &mut Command, summary: &dyn Fn(&str) -> String| {
        let started = std::time::Instant::now();
        let out = match cmd.output() {
            Ok(out) => out,
            Err(e) => {
                failures.push(format!("{name}: cannot run {cmd:?}: {e}"));
                return String::new();
            }
        };
        let text = strip_ansi(&format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)));
        eprintln!("validators: {name}: {} ({:.0} s, {})", summary(&text), started.elapsed().as_secs_f64(), out.status);
        if !out.status.success() {
            eprintln!("---- {name} output ----\n{text}---- end of {name} output ----");
            failures.push(format!("{name} failed with {}", out.status));
        }
        text
    };
    check(
        "clap-validator",
        Command::new(dir.join("clap-validator")).arg("validate").arg(&clap),
        &|text| lines_with(text, &["tests run"]),
    );
    let vst3_text = check("vst3-validator", Command::new(dir.join("vst3-validator")).arg("-e").arg(&vst3), &|text| {
        lines_with(text, &["Result:", "No bypass"])
    });
    let bypass_missing = vst3_text.contains("No bypass parameter found");
    let pluginval = |cmd: &mut Command| {
        cmd.arg(dir.join("pluginval")).args(["--strictness-level", "10", "--validate"]).arg(&vst3);
    };
    let xvfb = Command::new("xvfb-run").arg("--help").output().is_ok();
    if xvfb {
        let mut cmd = Command::new("xvfb-run");
        cmd.args(["-a", "-s", "-screen 0 1920x1080x24"]);
        pluginval(&mut cmd);
        check("pluginval (strictness 10, editor under Xvfb)", &mut cmd, &pluginval_summary);
    } else if ci {
        failures.push("pluginval: xvfb-run not found (CI=true: .ci/run installs xvfb and xauth)".into());
    } else {
        eprintln!("SKIPPED: pluginval's editor tests: xvfb-run not found (apt-get install xvfb xauth)");
        let mut cmd = Command::new(dir.join("pluginval"));
        cmd.args(["--strictness-level", "10", "--skip-gui-tests", "--validate"]).arg(&vst3);
        check("pluginval (strictness 10, --skip-gui-tests)", &mut cmd, &pluginval_summary);
    }
    if bypass_missing {
        failures.push("vst3-validator: \"No bypass parameter found\" (the Bypass parameter lost its bypass flag)".into());
    }
    eprintln!("validators: all done in {:.0} s", started.elapsed().as_secs_f64());
    if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
}

/// The validator's lines that hold any of `needles`, joined.
fn lines_with(text: &str, needles: &[&str]) -> String {
    text.lines().filter(|l| needles.iter().any(|n| l.contains(n))).map(str::trim).collect::<Vec<_>>().join(" | ")
}

/// pluginval prints no totals: count its test groups and show its failure lines.
fn pluginval_summary(text: &str) -> String {
    let completed = text.lines().filter(|l| l.starts_with("Completed tests in")).count();
    let started = text.lines().filter(|l| l.starts_with("Starting tests in")).count();
    let failed = lines_with(text, &["!!!", "FAILED"]);
    format!("{completed} of {started} test groups completed{}", if failed.is_empty() { String::new() } else { format!("; {failed}") })
}

/// Colour escapes (clap-validator colours its summary) taken out.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ parameters final-byte
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
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
fn skip_summary(log: &Path) -> usize {
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
    skips.len()
}

/// Speed and memory figures, with the Python peers (musicnn's pipeline, librosa) in the same
/// run. The peers' pinned environment goes to `target/bench-venv` (once; a few minutes).
fn bench(args: &[String]) -> Result<(), String> {
    fetch_ort()?;
    let root = workspace_root();
    let venv = root.join("target/bench-venv");
    // An existing pinned environment (e.g. musicnn's own venv) may be named instead.
    let python = std::env::var_os("GENRE_METER_BENCH_PYTHON").map_or_else(|| venv.join("bin/python"), std::path::PathBuf::from);
    if !python.is_file() {
        let host = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        run(Command::new(&host).args(["-m", "venv"]).arg(&venv))?;
        run(Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--no-deps", "-r"])
            .arg(root.join("benches/python/requirements.txt")))?;
    }
    run(Command::new(env!("CARGO"))
        .current_dir(&root)
        // --workspace, not --package: the same feature resolution as every other build, so
        // the warm target/ is reused instead of rebuilding ~40 crates.
        .args(["bench", "--workspace", "--bench", "pipeline", "--"])
        .args(args)
        .env("GENRE_METER_BENCH_PYTHON", &python))
}
