//! The standalone app's own options, taken off the command line before nice-plug's
//! (`--backend`, `--connect-jack-inputs`, ...) parse the rest. A standalone app has no
//! project to save its state in, so these stand in for it.

use std::sync::OnceLock;

/// Options of the standalone app; plugin instances in a host never set them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StandaloneOptions {
    /// `--model NAME`: the model to start with (any name `genre-meter models` lists).
    pub model: Option<String>,
    /// `--export-timeline-on-exit`: write the timeline (as the editor's *Export timeline*)
    /// when the app ends (closing the window, Ctrl+C or SIGINT).
    pub export_timeline_on_exit: bool,
}

static OPTIONS: OnceLock<StandaloneOptions> = OnceLock::new();

pub const USAGE: &str = "Genre Meter's own options (before or among the ones below):
      --model <NAME>             Model to start with (`genre-meter models` lists them)
      --export-timeline-on-exit  Write the timeline (CSV and JSON) to the export folder on exit
";

/// Splits Genre Meter's options from `args` (the program name first) and returns them
/// with the arguments left for nice-plug.
pub fn split_args(args: impl IntoIterator<Item = String>) -> Result<(StandaloneOptions, Vec<String>), String> {
    let mut options = StandaloneOptions::default();
    let mut rest = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--model" {
            options.model = Some(args.next().ok_or("--model needs a model name (see `genre-meter models`)")?);
        } else if let Some(name) = arg.strip_prefix("--model=") {
            options.model = Some(name.to_string());
        } else if arg == "--export-timeline-on-exit" {
            options.export_timeline_on_exit = true;
        } else {
            if arg == "--help" || arg == "-h" {
                print!("{USAGE}");
            }
            rest.push(arg);
        }
    }
    Ok((options, rest))
}

/// Called once by the standalone app's `main`, before the plugin is created.
pub fn set_options(options: StandaloneOptions) {
    let _ = OPTIONS.set(options);
}

pub fn options() -> Option<&'static StandaloneOptions> {
    OPTIONS.get()
}

/// The model a new instance starts with: `--model` in the standalone app, else the default.
pub fn initial_model() -> String {
    options()
        .and_then(|o| o.model.clone())
        .unwrap_or_else(|| genre_meter::engine::DEFAULT_MODEL.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genre_meter_options_are_taken_and_the_rest_left_for_nice_plug() {
        let args = ["app", "--backend", "jack", "--model", "drums", "--export-timeline-on-exit", "--connect-jack-inputs", "a:b"];
        let (options, rest) = split_args(args.iter().map(|s| s.to_string())).unwrap();
        assert_eq!(options, StandaloneOptions { model: Some("drums".into()), export_timeline_on_exit: true });
        assert_eq!(rest, ["app", "--backend", "jack", "--connect-jack-inputs", "a:b"]);
        assert!(split_args(["app".to_string(), "--model".to_string()]).is_err());
    }
}
