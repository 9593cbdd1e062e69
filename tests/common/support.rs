//! Test helpers both test crates (the engine's `tests/` and the plugin's `plugin/tests/`)
//! use, included by path from each crate's `common` module so there is one copy.
#![allow(dead_code)]

use std::path::PathBuf;

/// The repository's root: the nearest ancestor of the crate being tested that holds
/// `bundler.toml` (the root crate and the plugin crate sit at different depths).
pub fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|dir| dir.join("bundler.toml").is_file())
        .unwrap_or_else(|| panic!("no bundler.toml above {}", manifest.display()))
        .to_path_buf()
}

/// `../shared` next to the repository (or `$GENRE_METER_SHARED`), when present.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("GENRE_METER_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared"));
    dir.join("NOTES.md").is_file().then_some(dir)
}

/// `../shared`, or skips the calling test (`skip_test!`: recorded, and a failure under
/// `CI=true`, since CI provides `../shared`).
#[macro_export]
macro_rules! require_shared {
    () => {
        match common::shared_dir() {
            Some(d) => d,
            None => $crate::skip_test!(
                ci_provides: true,
                "../shared (GTZAN, YAMNet) is not next to the repository; this test needs it"
            ),
        }
    };
}

/// A synthetic "genre": a low drone with its fifth. `variant` moves the pitch 10 % a step,
/// which is enough for a head trained in a test to tell two variants apart.
pub fn drone(rate_hz: u32, seconds: f64, variant: usize) -> Vec<f32> {
    let f = 55.0 * (1.0 + 0.1 * variant as f64);
    (0..(rate_hz as f64 * seconds) as usize)
        .map(|i| {
            let t = i as f64 / rate_hz as f64;
            (0.3 * (std::f64::consts::TAU * f * t).sin() + 0.2 * (std::f64::consts::TAU * 1.5 * f * t).sin()) as f32
        })
        .collect()
}

/// glibc's `struct mallinfo2`.
#[repr(C)]
#[derive(Default)]
struct MallInfo2 {
    arena: usize,
    ordblks: usize,
    smblks: usize,
    hblks: usize,
    hblkhd: usize,
    usmblks: usize,
    fsmblks: usize,
    uordblks: usize,
    fordblks: usize,
    keepcost: usize,
}

unsafe extern "C" {
    /// glibc: allocator statistics summed over all arenas.
    fn mallinfo2() -> MallInfo2;
}

/// Bytes allocated and not freed, by everyone in the process (engine, plugin, ONNX Runtime,
/// the test) who allocates through malloc: heap chunks in use plus mmapped blocks. Unlike
/// resident memory it does not move with the allocator's fragmentation.
pub fn heap_in_use() -> i64 {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let info = unsafe { mallinfo2() };
    (info.uordblks + info.hblkhd) as i64
}
