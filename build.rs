//! Embeds every model under `models/<name>/manifest.toml` (with the ONNX file it names) into
//! the binary, so the built-in models work with no files around. Adding a built-in model
//! means adding a folder, not code.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // Read at run time, not baked in with env!(): a build-script binary reused from another
    // checkout's target folder must still embed this checkout's models.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest_dir).join("models");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut entries: Vec<_> = std::fs::read_dir(&root)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    let mut code = String::from("pub static BUILTIN_MODELS: &[BuiltinModel] = &[\n");
    for dir in entries {
        let manifest = dir.join("manifest.toml");
        if !manifest.is_file() {
            continue;
        }
        println!("cargo:rerun-if-changed={}", manifest.display());
        let text = std::fs::read_to_string(&manifest).expect("read manifest");
        let onnx = text.lines().find_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("onnx")?.trim_start().strip_prefix('=')?;
            Some(rest.trim().trim_matches('"').to_string())
        });
        let folder = dir.file_name().unwrap().to_string_lossy().to_string();
        let Some(onnx) = onnx else {
            // An ensemble: its members bring the weights.
            writeln!(
                code,
                "    BuiltinModel {{ folder: {folder:?}, manifest: include_str!({:?}), onnx: &[] }},",
                manifest.display().to_string()
            )
            .unwrap();
            continue;
        };
        let onnx_path = dir.join(&onnx);
        println!("cargo:rerun-if-changed={}", onnx_path.display());
        if !onnx_path.is_file() {
            println!("cargo:warning=model {} names {}, which is missing; not embedded", manifest.display(), onnx);
            continue;
        }
        writeln!(
            code,
            "    BuiltinModel {{ folder: {folder:?}, manifest: include_str!({:?}), onnx: include_bytes!({:?}) }},",
            manifest.display().to_string(),
            onnx_path.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("builtin_models.rs");
    std::fs::write(out, code).expect("write builtin_models.rs");
}
