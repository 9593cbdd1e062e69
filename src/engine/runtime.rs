//! Finding the ONNX Runtime shared library and the one ORT environment of the process.
//!
//! ORT allows one environment per process; every model session (of the CLI's workers or of
//! all plugin instances in a host) is created from it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::error::RuntimeError;

/// The ONNX Runtime release the engine is built and tested against (ort `api-31`).
pub const ORT_VERSION: &str = "1.31.1";

/// Environment variable naming the library file, checked first.
pub const ORT_LIB_ENV: &str = "GENRE_METER_ORT_LIB";

/// File name of the runtime library on this platform.
pub fn library_file_name() -> String {
    if cfg!(target_os = "windows") {
        "onnxruntime.dll".to_string()
    } else if cfg!(target_os = "macos") {
        format!("libonnxruntime.{ORT_VERSION}.dylib")
    } else {
        format!("libonnxruntime.so.{ORT_VERSION}")
    }
}

/// Per-user data folder of Genre Meter (`$XDG_DATA_HOME/genre-meter`, else
/// `~/.local/share/genre-meter`); models and the runtime library are installed below it.
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("GENRE_METER_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("genre-meter");
    }
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE"));
    match home {
        Some(home) => PathBuf::from(home).join(".local/share/genre-meter"),
        None => PathBuf::from(".genre-meter"),
    }
}

/// Where `cargo xtask fetch-ort` installs the library.
pub fn install_dir() -> PathBuf {
    data_dir().join("onnxruntime").join(ORT_VERSION)
}

/// Candidate paths, most specific first: next to the running
/// executable (or plugin binary), the per-user install folder.
pub fn candidate_paths() -> Vec<PathBuf> {
    let name = library_file_name();
    let mut paths = Vec::new();
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        paths.push(dir.join(&name));
    }
    if let Some(dir) = this_binary_dir() {
        paths.push(dir.join(&name));
    }
    paths.push(install_dir().join(&name));
    paths.dedup();
    paths
}

/// Folder of the shared object this code lives in (the plugin's `.so` inside a host).
fn this_binary_dir() -> Option<PathBuf> {
    #[cfg(unix)]
    {
        let mut info: libc_dl::DlInfo = unsafe { std::mem::zeroed() };
        let addr = this_binary_dir as *const ();
        // SAFETY: dladdr only reads the address and fills `info`.
        let ok = unsafe { libc_dl::dladdr(addr.cast(), &mut info) };
        if ok == 0 || info.dli_fname.is_null() {
            return None;
        }
        // SAFETY: dladdr returned a NUL-terminated path owned by the loader.
        let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
        use std::os::unix::ffi::OsStrExt;
        let path = Path::new(std::ffi::OsStr::from_bytes(name.to_bytes()));
        path.parent().map(Path::to_path_buf)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(unix)]
mod libc_dl {
    use std::ffi::{c_char, c_int, c_void};

    #[repr(C)]
    pub struct DlInfo {
        pub dli_fname: *const c_char,
        pub dli_fbase: *mut c_void,
        pub dli_sname: *const c_char,
        pub dli_saddr: *mut c_void,
    }

    unsafe extern "C" {
        pub fn dladdr(addr: *const c_void, info: *mut DlInfo) -> c_int;
    }
}

/// The library to load: the one named by `GENRE_METER_ORT_LIB` (or `ORT_DYLIB_PATH`) when
/// set — an explicit choice is never silently replaced — else the first candidate that exists.
pub fn locate_library() -> Result<PathBuf, RuntimeError> {
    let explicit = [ORT_LIB_ENV, "ORT_DYLIB_PATH"]
        .iter()
        .find_map(|v| std::env::var_os(v).filter(|p| !p.is_empty()).map(|p| (*v, PathBuf::from(p))));
    let candidates = match &explicit {
        Some((_, p)) => vec![p.clone()],
        None => candidate_paths(),
    };
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| RuntimeError::NotFound {
        wanted: library_file_name(),
        version: ORT_VERSION.to_string(),
        searched: match &explicit {
            Some((var, p)) => format!("{} (from {var})", p.display()),
            None => candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        },
        install_dir: install_dir().display().to_string(),
    })
}

static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, RuntimeError>> = OnceLock::new();

/// The process-wide ORT environment, created on first use from [`locate_library`].
pub fn environment() -> Result<&'static ort::environment::Environment, RuntimeError> {
    ENVIRONMENT.get_or_init(create_environment).as_ref().map_err(Clone::clone)
}

fn create_environment() -> Result<ort::environment::Environment, RuntimeError> {
    let path = locate_library()?;
    let builder = ort::init_from(&path).map_err(|e| RuntimeError::Unusable {
        path: path.clone(),
        reason: e.to_string(),
        version: ORT_VERSION.to_string(),
    })?;
    builder.with_name("genre-meter").build().map_err(|e| RuntimeError::Environment(e.to_string()))
}

/// How a model session is set up: the knobs that trade memory for speed. The defaults are
/// the measured choice (README, Benchmarks; `cargo bench --bench pipeline -- memory`);
/// `GENRE_METER_ORT_ARENA` (0/1), `GENRE_METER_ORT_MEM_PATTERN` (0/1) and
/// `GENRE_METER_ORT_OPT_LEVEL` (0-3) and `GENRE_METER_ORT_INTRA_THREADS` override them, for
/// benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTuning {
    /// ONNX Runtime's CPU arena: freed tensors stay reserved for the next run; it grows in
    /// power-of-two steps and never shrinks, which is most of a worker's resident memory.
    pub cpu_arena: bool,
    /// Pre-planned tensor layout per input shape (pays off for one fixed batch size).
    pub memory_pattern: bool,
    /// Graph optimisation level, 0 (none) to 3 (all, with layout changes).
    pub optimization_level: u8,
    /// Threads inside one inference call. 1: one session per worker thread, which never
    /// wait for each other; more serves several workers from one shared session.
    pub intra_threads: usize,
}

impl Default for SessionTuning {
    fn default() -> Self {
        Self { cpu_arena: true, memory_pattern: true, optimization_level: 3, intra_threads: 1 }
    }
}

impl SessionTuning {
    /// The defaults, with any `GENRE_METER_ORT_*` override applied.
    pub fn from_env() -> Self {
        let flag = |var: &str, default: bool| match std::env::var(var).as_deref() {
            Ok("0") | Ok("false") => false,
            Ok("1") | Ok("true") => true,
            _ => default,
        };
        let d = Self::default();
        Self {
            cpu_arena: flag("GENRE_METER_ORT_ARENA", d.cpu_arena),
            memory_pattern: flag("GENRE_METER_ORT_MEM_PATTERN", d.memory_pattern),
            optimization_level: std::env::var("GENRE_METER_ORT_OPT_LEVEL")
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|l| *l <= 3)
                .unwrap_or(d.optimization_level),
            intra_threads: std::env::var("GENRE_METER_ORT_INTRA_THREADS")
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|n| (1..=256).contains(n))
                .unwrap_or(d.intra_threads),
        }
    }

    /// Applies the tuning to a session builder.
    pub fn apply(self, builder: ort::session::builder::SessionBuilder) -> ort::Result<ort::session::builder::SessionBuilder> {
        use ort::session::builder::GraphOptimizationLevel as L;
        let level = match self.optimization_level {
            0 => L::Disable,
            1 => L::Level1,
            2 => L::Level2,
            _ => L::Level3,
        };
        let cpu = ort::ep::CPU::default().with_arena_allocator(self.cpu_arena).build();
        Ok(builder
            .with_optimization_level(level)
            .and_then(|b| b.with_memory_pattern(self.memory_pattern))
            .and_then(|b| b.with_intra_threads(self.intra_threads))
            .and_then(|b| b.with_execution_providers([cpu]))
            .map_err(|e: ort::Error<ort::session::builder::SessionBuilder>| -> ort::Error { e.into() })?)
    }
}
