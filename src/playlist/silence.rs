//! Dead air: stretches inside a track quieter than a threshold, found from the short-term
//! level of the decoded audio (50 ms blocks, far finer than the model's 3 s windows).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::engine::DecodeError;
use crate::engine::decode::AudioDecoder;

/// Length of one level block.
pub const BLOCK_SECONDS: f64 = 0.05;

/// Short-term level of a whole file, one value per [`BLOCK_SECONDS`] block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelProfile {
    pub block_seconds: f64,
    /// Mean power of each block, dB re full scale (of the mono downmix).
    pub levels_dbfs: Vec<f32>,
    pub duration_seconds: f64,
}

/// One stretch of silence inside a track.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SilenceGap {
    pub start_seconds: f64,
    pub end_seconds: f64,
}

impl SilenceGap {
    pub fn seconds(&self) -> f64 {
        self.end_seconds - self.start_seconds
    }
}

/// Decodes `path` and measures its level block by block (streaming: memory is one float per
/// 50 ms).
pub fn level_profile(path: &Path) -> Result<LevelProfile, DecodeError> {
    let mut decoder = AudioDecoder::open(path)?;
    let block = ((decoder.sample_rate_hz() as f64 * BLOCK_SECONDS).round() as usize).max(1);
    let mut levels = Vec::new();
    let mut chunk = Vec::with_capacity(8192);
    let (mut sum, mut n) = (0.0f64, 0usize);
    let mut total = 0u64;
    loop {
        chunk.clear();
        let more = decoder.next_chunk(&mut chunk)?;
        for &s in &chunk {
            let s = if s.is_finite() { s as f64 } else { 0.0 };
            sum += s * s;
            n += 1;
            if n == block {
                levels.push(to_db(sum / n as f64));
                (sum, n) = (0.0, 0);
            }
        }
        total += chunk.len() as u64;
        if !more {
            break;
        }
    }
    if n > 0 {
        levels.push(to_db(sum / n as f64));
    }
    Ok(LevelProfile {
        block_seconds: block as f64 / decoder.sample_rate_hz() as f64,
        levels_dbfs: levels,
        duration_seconds: total as f64 / decoder.sample_rate_hz() as f64,
    })
}

fn to_db(mean_square: f64) -> f32 {
    (10.0 * mean_square.max(1e-20).log10()) as f32
}

/// Stretches quieter than `threshold_dbfs` lasting longer than `min_seconds`, not counting
/// silence at the very start or end (lead-in and fade-out tails are the next track's gap).
pub fn dead_air(profile: &LevelProfile, threshold_dbfs: f32, min_seconds: f64) -> Vec<SilenceGap> {
    let quiet: Vec<bool> = profile.levels_dbfs.iter().map(|&l| l < threshold_dbfs).collect();
    let Some(first_loud) = quiet.iter().position(|q| !q) else { return Vec::new() };
    let last_loud = quiet.iter().rposition(|q| !q).expect("there is a loud block");
    let mut gaps = Vec::new();
    let mut i = first_loud;
    while i <= last_loud {
        if quiet[i] {
            let start = i;
            while quiet[i] {
                i += 1;
            }
            let gap = SilenceGap {
                start_seconds: start as f64 * profile.block_seconds,
                end_seconds: i as f64 * profile.block_seconds,
            };
            if gap.seconds() > min_seconds {
                gaps.push(gap);
            }
        }
        i += 1;
    }
    gaps
}
