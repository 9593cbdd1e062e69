//! The standalone Genre Meter: `genre-meter-plugin --help` lists the audio back-ends and
//! options (JACK, ALSA, `--backend dummy` for a headless run).

use genre_meter_plugin::GenreMeter;
use nice_plug::prelude::*;

fn main() {
    nice_export_standalone::<GenreMeter>();
}
