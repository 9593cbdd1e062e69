//! Skips that show. Shared by the root crate's tests (`tests/common/mod.rs`) and the plugin's
//! (`plugin/tests/common/mod.rs` includes this file by path).
//!
//! The convention for every test whose prerequisite may be absent (`../shared`, Xvfb, JACK,
//! chromium, a validator, a tool such as ffmpeg):
//!
//! ```ignore
//! let Some(xvfb) = find_xvfb() else {
//!     skip_test!(ci_provides: true, "no Xvfb to start (apt-get install xvfb); the editor needs X11");
//! };
//! let shared = require_shared!(); // `../shared`, which CI provides
//! ```
//!
//! `skip_test!` prints `SKIPPED: <why>` and returns from the test, and appends
//! `<test name>\t<why>` to the file named by `$GENRE_METER_SKIP_LOG` (set by `cargo xtask
//! test`, which ends with "N tests skipped: <name>: <why> ..."). With `ci_provides: true`
//! and `CI=true` in the environment, the test FAILS instead: CI installs that prerequisite,
//! so its absence there is a broken CI set-up, not a reason to pass quietly. Use
//! `ci_provides: false` only for what CI does not install (say a GPU, or a display server the
//! developer chose not to run).

use std::io::Write as _;

/// Environment variable naming the file that skips are appended to.
pub const SKIP_LOG_ENV: &str = "GENRE_METER_SKIP_LOG";

/// Whether the tests run in CI (`CI=true`, as GitHub, GitLab and `.ci/run` callers set it).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

/// `<crate>::<test fn>` from the type name of a function item declared inside the test.
pub fn test_name(marker_fn_type_name: &str) -> String {
    marker_fn_type_name.trim_end_matches("::marker").replace("::{{closure}}", "")
}

/// Records the skip of `test` (or, in CI for a prerequisite CI provides, fails it).
pub fn skip(test: &str, why: &str, ci_provides: bool) {
    if ci_provides && in_ci() {
        panic!(
            "{test}: {why}. CI (CI=true) provides this prerequisite, so its absence fails the test \
             instead of skipping it"
        );
    }
    eprintln!("SKIPPED: {why}");
    if let Some(path) = std::env::var_os(SKIP_LOG_ENV).filter(|p| !p.is_empty()) {
        // One short line per write with O_APPEND: tests in parallel processes do not interleave.
        let line = format!("{test}\t{}\n", why.replace(['\n', '\t'], " "));
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            panic!("{test}: cannot record the skip in {} ({SKIP_LOG_ENV}): {e}", std::path::Path::new(&path).display());
        }
    }
}

/// Skips the calling test (see the module documentation): records `<crate>::<test>` and the
/// reason, and returns. `ci_provides: true` makes it a failure under `CI=true`.
#[macro_export]
macro_rules! skip_test {
    (ci_provides: $ci:expr, $($why:tt)+) => {{
        fn marker() {}
        $crate::common::skip::skip(
            &$crate::common::skip::test_name(::std::any::type_name_of_val(&marker)),
            &format!($($why)+),
            $ci,
        );
        return;
    }};
}
