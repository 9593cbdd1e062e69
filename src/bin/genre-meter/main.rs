//! `genre-meter`: the command-line shell over the analysis engine.

mod analyze;
mod output;
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
    /// Train a genre head on a backbone's embeddings from labelled folders or a CSV list.
    Train(train::TrainArgs),
    /// Score a model on labelled audio: accuracy, balanced accuracy, per-genre P/R/F1,
    /// confusion matrix, per window and per track.
    Eval(train::EvalArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Models => list_models(),
        Command::Train(args) => train::train(args),
        Command::Eval(args) => train::eval(args),
    }
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
        let labels: Vec<String> = m
            .labels
            .names
            .iter()
            .map(|l| if m.labels.genres.contains(l) { format!("{l}*") } else { l.clone() })
            .collect();
        println!("  labels (* = genre): {}", labels.join(", "));
    }
    for p in &problems {
        println!("\nunusable installed model: {p}");
    }
    if entries.is_empty() { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
