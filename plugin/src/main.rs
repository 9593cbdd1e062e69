//! The standalone Genre Meter: `genre-meter-plugin --help` lists the audio back-ends and
//! options (JACK, ALSA, `--backend dummy` for a headless run) and Genre Meter's own
//! (`--model`, `--export-timeline-on-exit`).

use genre_meter_plugin::{GenreMeter, standalone};
use nice_plug::prelude::*;

fn main() -> std::process::ExitCode {
    let (options, args) = match standalone::split_args(std::env::args()) {
        Ok(split) => split,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    standalone::set_options(options);
    nice_export_standalone_with_args::<GenreMeter, _>(args);
    std::process::ExitCode::SUCCESS
}
