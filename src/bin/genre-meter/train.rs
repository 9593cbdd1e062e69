//! `genre-meter train` and `genre-meter eval`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use genre_meter::engine::manifest::Pooling;
use genre_meter::engine::{AnalysisSettings, model};
use genre_meter::train::dataset::Dataset;
use genre_meter::train::metrics::{confusion_svg, reliability_svg};
use genre_meter::train::softmax::TrainSettings;
use genre_meter::train::{TrainError, evaluate, train_head};
use indicatif::{ProgressBar, ProgressStyle};

/// Labelled audio: one folder per genre, or a CSV list.
#[derive(Args)]
pub struct DataArgs {
    /// Folder with one sub-folder of audio per genre (folder names are the genres).
    #[arg(long, conflicts_with = "list", required_unless_present = "list")]
    pub data: Option<PathBuf>,
    /// CSV with `path` and `genre` columns (paths relative to the CSV), optional `split`.
    #[arg(long)]
    pub list: Option<PathBuf>,
    /// With --list: keep only rows whose `split` column has this value (or one of several,
    /// comma-separated: `train,valid`).
    #[arg(long, requires = "list")]
    pub split: Option<String>,
}

impl DataArgs {
    fn load(&self) -> Result<Dataset, TrainError> {
        match (&self.data, &self.list) {
            (Some(dir), _) => Ok(Dataset::from_folders(dir)?),
            (_, Some(csv)) => Ok(Dataset::from_csv(csv, self.split.as_deref())?),
            _ => unreachable!("clap requires one of --data and --list"),
        }
    }
}

#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Backbone whose embedding the head learns from: `musicnn` (built in), `yamnet`
    /// (installed) or any model name with an embedding output.
    #[arg(long, default_value = "musicnn")]
    pub backbone: String,
    /// Name of the new model (installed into the user model folder), or a folder path.
    #[arg(long)]
    pub out: String,
    /// L2 regularisation strength.
    #[arg(long, default_value_t = 1e-3)]
    pub l2: f32,
    /// Seconds between training windows.
    #[arg(long, default_value_t = 1.0)]
    pub hop: f64,
    /// `mean-probabilities`: a window-level head, whole-track result = mean of the window
    /// probabilities. `mean-embedding`: a track-level head on the mean of the windows'
    /// embeddings (one example per file), applied the same way by analyze, eval and the plugin.
    #[arg(long, value_enum, default_value = "mean-probabilities")]
    pub pooling: PoolingArg,
    /// Fit a temperature on out-of-fold predictions across the data's splits (each split
    /// predicted by a head fitted on the others; needs --pooling mean-embedding and a list
    /// with two or more splits, e.g. --split train,valid) and fold it into the written head.
    #[arg(long)]
    pub calibrate: bool,
    /// Fold this temperature into the head (logits / T); ignored with --calibrate.
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Epochs of a fit without held-out data (track-level heads).
    #[arg(long, default_value_t = 1000)]
    pub epochs: usize,
    /// Replace an existing model of that name.
    #[arg(long)]
    pub force: bool,
    #[arg(long, short)]
    pub jobs: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PoolingArg {
    MeanProbabilities,
    MeanEmbedding,
}

impl From<PoolingArg> for Pooling {
    fn from(p: PoolingArg) -> Self {
        match p {
            PoolingArg::MeanProbabilities => Pooling::MeanProbabilities,
            PoolingArg::MeanEmbedding => Pooling::MeanEmbedding,
        }
    }
}

fn bar(len: usize, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len as u64);
    pb.set_style(
        ProgressStyle::with_template(&format!("{{bar:30}} {{pos}}/{{len}} {what}, {{elapsed}} elapsed, ETA {{eta}}"))
            .expect("valid template"),
    );
    pb
}

fn backbone_name(spec: &str) -> &str {
    match spec {
        "musicnn" => "msd-musicnn",
        other => other,
    }
}

pub fn train(args: TrainArgs) -> ExitCode {
    let run = || -> Result<(), TrainError> {
        let data = args.data.load()?;
        let backbone = model::resolve(backbone_name(&args.backbone))?;
        let out_dir = if args.out.contains('/') || args.out.contains('\\') {
            PathBuf::from(&args.out)
        } else {
            model::user_models_dir().join(&args.out)
        };
        if out_dir.join("manifest.toml").exists() && !args.force {
            eprintln!("error: '{}' already holds a model; pass --force to replace it", out_dir.display());
            std::process::exit(2);
        }
        let counts = data.counts();
        eprintln!(
            "training a head on {} for {} genres from {} files: {}",
            backbone.manifest.name,
            data.genres.len(),
            data.files.len(),
            data.genres.iter().zip(&counts).map(|(g, c)| format!("{g} {c}")).collect::<Vec<_>>().join(", ")
        );
        let analysis = AnalysisSettings { hop_seconds: args.hop, ..AnalysisSettings::default() };
        let settings = TrainSettings {
            l2: args.l2,
            pooling: args.pooling.into(),
            calibrate: args.calibrate,
            temperature: args.temperature,
            full_epochs: args.epochs,
            ..TrainSettings::default()
        };
        let pb = bar(data.files.len(), "files embedded");
        let epochs = bar(if settings.pooling == Pooling::MeanEmbedding { settings.full_epochs } else { settings.max_epochs }, "epochs");
        let started = std::time::Instant::now();
        let report = train_head(
            &data,
            &backbone,
            &out_dir,
            &analysis,
            &settings,
            args.jobs,
            |n| pb.set_position(n as u64),
            |e, _| {
                if e == 1 {
                    pb.finish_and_clear();
                }
                epochs.set_position(e as u64)
            },
        )?;
        pb.finish_and_clear();
        epochs.finish_and_clear();
        for (path, why) in &report.failed {
            eprintln!("skipped: {}: {why}", path.display());
        }
        println!(
            "trained in {:.1} s: {} files ({} from the embedding cache), {} windows, best epoch {}",
            started.elapsed().as_secs_f64(),
            report.files_used,
            report.cached_files,
            report.windows,
            report.best_epoch
        );
        if let (Some(w), Some(t)) = (&report.held_out_window, &report.held_out_track) {
            println!("held-out files ({}), used for early stopping:", report.held_out_files);
            print!("{}", w.to_text("  per window"));
            print!("{}", t.to_text("  per track"));
        }
        if let Some(c) = &report.calibration {
            println!("out-of-fold predictions over the splits {} (each predicted by a head fitted on the others):", c.folds.join(", "));
            print!("{}", c.out_of_fold.to_text("  per track"));
            println!(
                "  temperature {:.4}: expected calibration error of top-1 confidence {:.3} before, {:.3} after (mean confidence {:.1} % -> {:.1} %, accuracy {:.1} %)",
                c.temperature,
                c.before.ece,
                c.after.ece,
                100.0 * c.before.mean_confidence,
                100.0 * c.after.mean_confidence,
                100.0 * c.after.accuracy
            );
        }
        if report.temperature != 1.0 {
            println!("temperature {:.4} folded into the head", report.temperature);
        }
        let name = out_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        println!("wrote {}; use it with: genre-meter analyze --model {} FILES", out_dir.display(), if args.out.contains('/') { out_dir.display().to_string() } else { name });
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvalFormat {
    Text,
    Json,
}

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Model name or path (its labels must include every genre of the data).
    #[arg(long, default_value = model::DEFAULT_MODEL)]
    pub model: String,
    /// Seconds between windows.
    #[arg(long, default_value_t = 1.0)]
    pub hop: f64,
    #[arg(long, value_enum, default_value = "text")]
    pub format: EvalFormat,
    /// Also write the track-level confusion matrix as an SVG picture here.
    #[arg(long)]
    pub confusion: Option<PathBuf>,
    /// Also write the reliability diagram of the whole-track top-1 confidence here (SVG).
    #[arg(long)]
    pub calibration: Option<PathBuf>,
    #[arg(long, short)]
    pub jobs: Option<usize>,
}

pub fn eval(args: EvalArgs) -> ExitCode {
    let run = || -> Result<bool, TrainError> {
        let data = args.data.load()?;
        let entry = model::resolve(&args.model)?;
        let settings = AnalysisSettings { hop_seconds: args.hop, ..AnalysisSettings::default() };
        let pb = bar(data.files.len(), "files");
        let report = evaluate(&data, &entry, &settings, args.jobs, |n| pb.set_position(n as u64))?;
        pb.finish_and_clear();
        match args.format {
            EvalFormat::Json => println!("{}", serde_json::to_string_pretty(&report).expect("serialises")),
            EvalFormat::Text => {
                println!("model {} on {} files ({} genres)", report.model, data.files.len(), data.genres.len());
                print!("{}", report.window.to_text("per window"));
                let pooled = match report.pooling {
                    _ if entry.manifest.ensemble.is_some() => "per track (the members' whole-track results, mixed)",
                    Pooling::MeanProbabilities => "per track (mean of the window probabilities)",
                    Pooling::MeanEmbedding => "per track (head on the mean window embedding)",
                };
                print!("{}", report.track.to_text(pooled));
                let r = &report.track_reliability;
                println!(
                    "per track top-1 confidence: mean {:.1} % against accuracy {:.1} %, expected calibration error {:.3} ({} bins)",
                    100.0 * r.mean_confidence,
                    100.0 * r.accuracy,
                    r.ece,
                    r.bins.len()
                );
            }
        }
        for (path, why) in &report.failed {
            eprintln!("failed: {}: {why}", path.display());
        }
        if let Some(svg) = &args.confusion {
            let title = format!("{} — per track, {} files", report.model, report.track.examples);
            write_file(svg, &confusion_svg(&report.track.confusion, &title))?;
            eprintln!("wrote {}", svg.display());
        }
        if let Some(svg) = &args.calibration {
            let title = format!("{} — whole-track confidence, {} files", report.model, report.track.examples);
            write_file(svg, &reliability_svg(&report.track_reliability, &title))?;
            eprintln!("wrote {}", svg.display());
        }
        Ok(report.failed.is_empty())
    };
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn write_file(path: &Path, text: &str) -> Result<(), TrainError> {
    std::fs::write(path, text).map_err(|source| TrainError::Write { path: path.to_path_buf(), source })
}
