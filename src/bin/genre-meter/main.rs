//! `genre-meter`: the command-line shell over the analysis engine.

mod analyze;
mod check;
mod output;
mod tag;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use genre_meter::engine::model;

#[derive(Parser)]
#[command(name = "genre-meter", version, about = "Music-genre probabilities for audio files and folders")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse audio files and folders (recursively).
    Analyze(analyze::AnalyzeArgs),
    /// List the built-in and installed models with their labels.
    Models,
    /// Install a YAMNet ONNX export (patch input) and its class map as the `yamnet` backbone.
    InstallYamnet {
        /// The `.onnx` file, or a folder holding `yamnet_patch.onnx`; `yamnet_class_map.csv`
        /// must be beside it.
        path: std::path::PathBuf,
    },
    /// Train a genre head on a backbone's embeddings from labelled folders or a CSV list.
    Train(train::TrainArgs),
    /// Score a model on labelled audio: accuracy, balanced accuracy, per-genre P/R/F1,
    /// confusion matrix, per window and per track.
    Eval(train::EvalArgs),
    /// Analyse files, folders or playlists and write the genre into each file's tags.
    Tag(tag::TagArgs),
    /// Check playlist entries against a format: genre, dead air, genre changes, missing files.
    Check(check::CheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Models => list_models(),
        Command::InstallYamnet { path } => install_yamnet(&path),
        Command::Train(args) => train::train(args),
        Command::Eval(args) => train::eval(args),
        Command::Tag(args) => tag::run(args),
        Command::Check(args) => check::run(args),
    }
}

/// The model a command names, or the exit code after saying why it cannot be used
/// (`analyze`, `tag` and `check` all start this way).
fn resolve_model(spec: &str) -> Result<model::ModelEntry, ExitCode> {
    model::resolve(spec).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

fn list_models() -> ExitCode {
    let (entries, problems) = model::catalogue();
    println!("Models (user folder: {}):", model::user_models_dir().display());
    for e in &entries {
        let m = &e.manifest;
        let default = if m.name == model::DEFAULT_MODEL { " (default)" } else { "" };
        println!("\n{}{default} — {} [{}]", m.name, m.title(), e.location());
        if let Some(d) = &m.description {
            println!("  {d}");
        }
        if let Some(ensemble) = &m.ensemble {
            let parts: Vec<String> = ensemble
                .members
                .iter()
                .map(|p| match p.hop_seconds {
                    Some(h) => format!("{} × {} (windows every {h} s)", p.weight, p.model),
                    None => format!("{} × {}", p.weight, p.model),
                })
                .collect();
            println!("  ensemble: {}; temperature {}; its windows are {}'s", parts.join(" + "), ensemble.temperature, ensemble.members[0].model);
        }
        let fe = &m.frontend;
        println!(
            "  input: {} Hz, {} mel bands, patches of {} frames ({:.2} s); {} labels, {} genres",
            fe.sample_rate_hz,
            fe.n_mels,
            fe.patch_frames,
            fe.patch_seconds(),
            m.labels.names.len(),
            m.labels.genres.len()
        );
        if m.labels.names.len() > 60 && !m.labels.genres.is_empty() {
            // YAMNet's 521 AudioSet classes: the genre view is what matters here.
            let others = m.labels.names.len() - m.labels.genres.len();
            println!("  genres: {} (and {others} other labels, all in --format json)", m.labels.genres.join(", "));
        } else {
            let labels: Vec<String> = m
                .labels
                .names
                .iter()
                .map(|l| if m.labels.genres.contains(l) { format!("{l}*") } else { l.clone() })
                .collect();
            println!("  labels (* = genre): {}", labels.join(", "));
        }
    }
    for p in &problems {
        println!("\nunavailable: {p}");
    }
    for p in model::optional_unavailable() {
        println!("\nnot installed (optional): {p}");
    }
    if entries.is_empty() { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn install_yamnet(path: &std::path::Path) -> ExitCode {
    match genre_meter::engine::yamnet::install(path, &model::user_models_dir()) {
        Ok(dir) => {
            println!(
                "installed YAMNet into {}: `--model yamnet` gives AudioSet's music genres, and heads on it \
                 (`genre-meter train --backbone yamnet`) can be trained and used",
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
