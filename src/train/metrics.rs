//! Classification scores: accuracy, balanced accuracy, per-genre precision / recall / F1 and
//! the confusion matrix, with a text table and an SVG picture.

use serde::Serialize;

/// Rows: true genre; columns: predicted genre, plus a last "other" column for predictions
/// that are none of the evaluated genres (a model with more labels than the data set).
#[derive(Debug, Clone, Serialize)]
pub struct Confusion {
    pub genres: Vec<String>,
    pub counts: Vec<Vec<usize>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GenreScores {
    pub genre: String,
    pub support: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scores {
    pub examples: usize,
    pub accuracy: f64,
    /// Mean per-genre recall over the genres that have examples.
    pub balanced_accuracy: f64,
    pub macro_f1: f64,
    pub per_genre: Vec<GenreScores>,
    pub confusion: Confusion,
}

impl Confusion {
    pub fn new(genres: Vec<String>) -> Self {
        let n = genres.len();
        Self { genres, counts: vec![vec![0; n + 1]; n] }
    }

    /// `predicted = None` counts in the "other" column.
    pub fn add(&mut self, truth: usize, predicted: Option<usize>) {
        let col = predicted.unwrap_or(self.genres.len());
        self.counts[truth][col] += 1;
    }

    pub fn scores(&self) -> Scores {
        let n = self.genres.len();
        let total: usize = self.counts.iter().flatten().sum();
        let correct: usize = (0..n).map(|i| self.counts[i][i]).sum();
        let per_genre: Vec<GenreScores> = (0..n)
            .map(|i| {
                let support: usize = self.counts[i].iter().sum();
                let predicted: usize = (0..n).map(|r| self.counts[r][i]).sum();
                let tp = self.counts[i][i] as f64;
                let precision = if predicted > 0 { tp / predicted as f64 } else { 0.0 };
                let recall = if support > 0 { tp / support as f64 } else { 0.0 };
                let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
                GenreScores { genre: self.genres[i].clone(), support, precision, recall, f1 }
            })
            .collect();
        let present: Vec<&GenreScores> = per_genre.iter().filter(|g| g.support > 0).collect();
        let mean = |f: fn(&GenreScores) -> f64| {
            if present.is_empty() { 0.0 } else { present.iter().map(|g| f(g)).sum::<f64>() / present.len() as f64 }
        };
        Scores {
            examples: total,
            accuracy: if total > 0 { correct as f64 / total as f64 } else { 0.0 },
            balanced_accuracy: mean(|g| g.recall),
            macro_f1: mean(|g| g.f1),
            per_genre,
            confusion: self.clone(),
        }
    }
}

impl Scores {
    /// Plain-text report: headline figures, per-genre table, confusion matrix.
    pub fn to_text(&self, title: &str) -> String {
        let mut s = format!(
            "{title}: {} examples, accuracy {:.1} %, balanced accuracy {:.1} %, macro F1 {:.3}\n",
            self.examples,
            100.0 * self.accuracy,
            100.0 * self.balanced_accuracy,
            self.macro_f1
        );
        s += &format!("  {:<14} {:>7} {:>9} {:>7} {:>6}\n", "genre", "support", "precision", "recall", "F1");
        for g in &self.per_genre {
            s += &format!("  {:<14} {:>7} {:>9.3} {:>7.3} {:>6.3}\n", g.genre, g.support, g.precision, g.recall, g.f1);
        }
        let c = &self.confusion;
        let w = c.genres.iter().map(|g| g.len()).max().unwrap_or(5).clamp(5, 12);
        s += &format!("  confusion (rows: true, columns: predicted)\n  {:<w$}", "");
        for g in c.genres.iter().chain(std::iter::once(&"other".to_string())) {
            s += &format!(" {:>6.6}", g);
        }
        s += "\n";
        for (g, row) in c.genres.iter().zip(&c.counts) {
            s += &format!("  {:<w$.w$}", g);
            for v in row {
                s += &format!(" {v:>6}");
            }
            s += "\n";
        }
        s
    }
}

/// The confusion matrix as an SVG picture, rows normalised to recall, counts in the cells.
pub fn confusion_svg(c: &Confusion, title: &str) -> String {
    let n = c.genres.len();
    let has_other = c.counts.iter().any(|r| r[n] > 0);
    let cols = if has_other { n + 1 } else { n };
    let (cell, left, top) = (44.0, 110.0, 110.0);
    let (width, height) = (left + cell * cols as f64 + 20.0, top + cell * n as f64 + 50.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"20\" font-size=\"14\" text-anchor=\"middle\">{}</text>\n",
        width / 2.0,
        xml(title)
    );
    let labels: Vec<String> = c.genres.iter().cloned().chain(std::iter::once("other".into())).take(cols).collect();
    for (j, g) in labels.iter().enumerate() {
        let x = left + cell * (j as f64 + 0.5);
        s += &format!("<text transform=\"translate({x},{}) rotate(-45)\">{}</text>\n", top - 6.0, xml(g));
    }
    for (i, row) in c.counts.iter().enumerate() {
        let y = top + cell * i as f64;
        let support: usize = row.iter().sum();
        s += &format!("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", left - 6.0, y + cell * 0.6, xml(&c.genres[i]));
        for (j, &v) in row.iter().take(cols).enumerate() {
            let share = if support > 0 { v as f64 / support as f64 } else { 0.0 };
            let shade = (255.0 * (1.0 - share)).round() as u8;
            let fill = if i == j { format!("rgb({shade},{},{shade})", 255u8.saturating_sub(((255 - shade as u16) / 4) as u8)) } else { format!("rgb(255,{shade},{shade})") };
            let x = left + cell * j as f64;
            s += &format!("<rect x=\"{x}\" y=\"{y}\" width=\"{cell}\" height=\"{cell}\" fill=\"{fill}\" stroke=\"#bbb\"/>\n");
            if v > 0 {
                let colour = if share > 0.6 { "white" } else { "black" };
                s += &format!("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{colour}\">{v}</text>\n", x + cell / 2.0, y + cell * 0.6);
            }
        }
    }
    s += &format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555\">predicted (columns) against true genre (rows); shade = share of the row</text>\n</svg>\n",
        width / 2.0,
        height - 16.0
    );
    s
}

/// One confidence bin of a reliability diagram.
#[derive(Debug, Clone, Serialize)]
pub struct ReliabilityBin {
    pub lower: f64,
    pub upper: f64,
    pub count: usize,
    /// Mean top-1 confidence of the examples in the bin (0 when empty).
    pub mean_confidence: f64,
    /// Share of them whose top-1 label was right (0 when empty).
    pub accuracy: f64,
}

/// Calibration of top-1 confidence: does "73 %" mean right 73 % of the time?
#[derive(Debug, Clone, Serialize)]
pub struct Reliability {
    pub examples: usize,
    /// Expected calibration error: the count-weighted mean of |accuracy − confidence| over
    /// equal-width confidence bins.
    pub ece: f64,
    /// Mean top-1 confidence and accuracy over all examples.
    pub mean_confidence: f64,
    pub accuracy: f64,
    pub bins: Vec<ReliabilityBin>,
}

/// Bins of the reliability diagram and of the ECE.
pub const RELIABILITY_BINS: usize = 10;

impl Reliability {
    /// From (top-1 confidence, top-1 right) pairs, in [`RELIABILITY_BINS`] equal-width bins.
    pub fn new(examples: &[(f64, bool)]) -> Self {
        let k = RELIABILITY_BINS;
        let mut bins: Vec<ReliabilityBin> = (0..k)
            .map(|b| ReliabilityBin { lower: b as f64 / k as f64, upper: (b + 1) as f64 / k as f64, count: 0, mean_confidence: 0.0, accuracy: 0.0 })
            .collect();
        for &(c, right) in examples {
            let b = ((c * k as f64).floor() as usize).min(k - 1);
            bins[b].count += 1;
            bins[b].mean_confidence += c;
            bins[b].accuracy += if right { 1.0 } else { 0.0 };
        }
        let n = examples.len();
        let mut ece = 0.0;
        for b in bins.iter_mut().filter(|b| b.count > 0) {
            b.mean_confidence /= b.count as f64;
            b.accuracy /= b.count as f64;
            ece += b.count as f64 / n as f64 * (b.accuracy - b.mean_confidence).abs();
        }
        let mean = |f: &dyn Fn(&(f64, bool)) -> f64| if n == 0 { 0.0 } else { examples.iter().map(f).sum::<f64>() / n as f64 };
        Self {
            examples: n,
            ece,
            mean_confidence: mean(&|e| e.0),
            accuracy: mean(&|e| if e.1 { 1.0 } else { 0.0 }),
            bins,
        }
    }
}

/// Reliability diagram: per confidence bin, the accuracy (bar) against the diagonal of
/// perfect calibration, with each bin's count.
pub fn reliability_svg(r: &Reliability, title: &str) -> String {
    let (left, top, size) = (60.0, 40.0, 360.0);
    let (width, height) = (left + size + 30.0, top + size + 70.0);
    let x = |v: f64| left + v * size;
    let y = |v: f64| top + (1.0 - v) * size;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"20\" font-size=\"14\" text-anchor=\"middle\">{}</text>\n",
        width / 2.0,
        xml(title)
    );
    for t in 0..=5 {
        let v = t as f64 / 5.0;
        s += &format!("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#eee\"/>\n", x(0.0), y(v), x(1.0), y(v));
        s += &format!("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{v:.1}</text>\n", left - 6.0, y(v) + 4.0);
        s += &format!("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{v:.1}</text>\n", x(v), top + size + 16.0);
    }
    for b in &r.bins {
        let (x0, w) = (x(b.lower) + 2.0, (b.upper - b.lower) * size - 4.0);
        if b.count > 0 {
            s += &format!(
                "<rect x=\"{x0}\" y=\"{}\" width=\"{w}\" height=\"{}\" fill=\"#4a7bd0\" fill-opacity=\"0.8\"/>\n",
                y(b.accuracy),
                b.accuracy * size
            );
            s += &format!(
                "<circle cx=\"{}\" cy=\"{}\" r=\"3\" fill=\"#d04a4a\"/>\n<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#333\">{}</text>\n",
                x(b.mean_confidence),
                y(b.mean_confidence),
                x0 + w / 2.0,
                y(b.accuracy) - 4.0,
                b.count
            );
        }
    }
    s += &format!("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n", x(0.0), y(0.0), x(1.0), y(1.0));
    s += &format!("<rect x=\"{left}\" y=\"{top}\" width=\"{size}\" height=\"{size}\" fill=\"none\" stroke=\"#444\"/>\n");
    s += &format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">top-1 confidence (bins); bars: accuracy, dots: mean confidence, numbers: tracks</text>\n",
        width / 2.0,
        top + size + 36.0
    );
    s += &format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{} examples, accuracy {:.1} %, mean confidence {:.1} %, ECE {:.3}</text>\n",
        width / 2.0,
        top + size + 56.0,
        r.examples,
        100.0 * r.accuracy,
        100.0 * r.mean_confidence,
        r.ece
    );
    s += &format!("<text transform=\"translate(16,{}) rotate(-90)\" text-anchor=\"middle\">accuracy</text>\n</svg>\n", top + size / 2.0);
    s
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_accuracy_is_mean_recall_and_other_counts_as_wrong() {
        let mut c = Confusion::new(vec!["a".into(), "b".into()]);
        for _ in 0..8 {
            c.add(0, Some(0));
        }
        c.add(0, Some(1));
        c.add(0, None);
        c.add(1, Some(1));
        c.add(1, Some(0));
        let s = c.scores();
        assert_eq!(s.examples, 12);
        assert!((s.accuracy - 9.0 / 12.0).abs() < 1e-12);
        assert!((s.balanced_accuracy - (0.8 + 0.5) / 2.0).abs() < 1e-12);
        assert!((s.per_genre[0].precision - 8.0 / 9.0).abs() < 1e-12);
        assert!(confusion_svg(&s.confusion, "t").contains(">other<"));
        assert!(s.to_text("x").contains("balanced accuracy 65.0 %"));
    }

    #[test]
    fn ece_is_the_weighted_gap_between_confidence_and_accuracy() {
        // Bin 0.9–1.0: four at 0.95, three right (gap 0.2); bin 0.5–0.6: two at 0.55, one right (gap 0.05).
        let ex = [(0.95, true), (0.95, true), (0.95, true), (0.95, false), (0.55, true), (0.55, false)];
        let r = Reliability::new(&ex);
        assert!((r.ece - (4.0 * 0.2 + 2.0 * 0.05) / 6.0).abs() < 1e-12, "{}", r.ece);
        assert_eq!(r.bins[9].count, 4);
        assert_eq!(r.bins[5].count, 2);
        assert!((r.accuracy - 4.0 / 6.0).abs() < 1e-12);
        assert!(reliability_svg(&r, "t").contains("ECE 0.150"));
    }
}
