//! One self-contained HTML page of results (no network, no external files): per track the
//! verdict, its flags and a genre timeline strip coloured like the plugin's history, a
//! summary of the genre mix, and a table that sorts by any column.

pub mod palette;

use std::fmt::Write;

use crate::playlist::check::TimelineCell;

/// One row of the report.
#[derive(Debug, Clone)]
pub struct ReportRow {
    /// What the row is called (file name or title).
    pub name: String,
    /// Full path or URL.
    pub location: String,
    pub pass: bool,
    /// `(short name, description)` of each flag.
    pub flags: Vec<(String, String)>,
    pub top_genre: Option<(String, f32)>,
    /// Extra text shown under the verdict (e.g. the file's genre tag).
    pub note: Option<String>,
    pub duration_seconds: Option<f64>,
    pub timeline: Vec<TimelineCell>,
    /// Silence gaps `(start, end)` drawn over the strip.
    pub dead_air: Vec<(f64, f64)>,
    /// Whole-track probabilities in label order.
    pub probabilities: Option<Vec<f32>>,
}

/// A whole report.
#[derive(Debug, Clone)]
pub struct Report {
    pub title: String,
    /// e.g. "model gtzan10 · expected: rock, metal".
    pub subtitle: String,
    pub labels: Vec<String>,
    /// Indices of the labels shown in the genre mix.
    pub genres: Vec<usize>,
    pub rows: Vec<ReportRow>,
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;background:#1b1d21;color:#e4e6ea;margin:24px}
h1{font-size:20px;margin:0 0 4px}.sub{color:#9aa0a8;margin-bottom:16px}
.mix{display:flex;gap:24px;align-items:flex-start;margin-bottom:20px;flex-wrap:wrap}
.legend{display:grid;grid-template-columns:auto auto auto;gap:2px 10px;font-size:13px}
.sw{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-2px;margin-right:4px}
table{border-collapse:collapse;width:100%}th,td{padding:6px 8px;text-align:left;vertical-align:top;border-bottom:1px solid #2c2f35}
th{cursor:pointer;user-select:none;color:#9aa0a8;font-weight:600;white-space:nowrap}th:hover{color:#fff}
th.sorted::after{content:' ▾'}th.sorted.asc::after{content:' ▴'}
.pass{color:#7bd88f;font-weight:600}.flagged{color:#ff8a65;font-weight:600}
.flag{display:inline-block;background:#3a2a26;color:#ffb199;border-radius:3px;padding:0 5px;margin:0 4px 2px 0;font-size:12px}
.desc{color:#9aa0a8;font-size:12px}.loc{color:#7d838b;font-size:11px;word-break:break-all}
svg.strip{display:block;width:420px;height:22px;background:#1e2024;border-radius:2px}
.axis{color:#7d838b;font-size:11px}
";

const SCRIPT: &str = "
(function(){
  var table=document.getElementById('tracks');var body=table.tBodies[0];
  var heads=table.tHead.rows[0].cells;
  function key(row,col,type){var v=row.cells[col].getAttribute('data-sort');
    return type==='num'?parseFloat(v):v.toLowerCase();}
  for(var c=0;c<heads.length;c++){(function(col){
    var th=heads[col];if(!th.getAttribute('data-type'))return;
    th.addEventListener('click',function(){
      var asc=!(th.classList.contains('sorted')&&th.classList.contains('asc'));
      if(th.getAttribute('data-first')==='desc'&&!th.classList.contains('sorted'))asc=false;
      var type=th.getAttribute('data-type');
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){var x=key(a,col,type),y=key(b,col,type);
        var d=x<y?-1:x>y?1:0;if(d===0)d=parseInt(a.getAttribute('data-pos'))-parseInt(b.getAttribute('data-pos'));
        return asc?d:-d;});
      rows.forEach(function(r){body.appendChild(r);});
      for(var k=0;k<heads.length;k++)heads[k].classList.remove('sorted','asc');
      th.classList.add('sorted');if(asc)th.classList.add('asc');
    });})(c);}
  // `report.html#sort=<column>` opens the page sorted (e.g. #sort=2: flagged first).
  var m=/#sort=(\\d+)/.exec(location.hash);if(m&&heads[+m[1]])heads[+m[1]].click();
  document.body.setAttribute('data-rows',String(body.rows.length));
  document.body.setAttribute('data-strips',String(body.querySelectorAll('svg.strip').length));
  document.body.setAttribute('data-ready','1');
})();
";

fn strip_svg(row: &ReportRow, labels: &[String]) -> String {
    let duration = row
        .duration_seconds
        .or_else(|| row.timeline.last().map(|c| c.end_seconds))
        .unwrap_or(0.0)
        .max(1e-3);
    let mut svg = format!(
        "<svg class=\"strip\" viewBox=\"0 0 {duration:.3} 1\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"genre timeline\">"
    );
    for (k, cell) in row.timeline.iter().enumerate() {
        // Windows overlap (hop < window): each is drawn up to the next one's start.
        let end = row.timeline.get(k + 1).map_or(cell.end_seconds, |n| n.start_seconds.min(cell.end_seconds)).min(duration);
        let (colour, tip) = match cell.label {
            Some(l) => (
                palette::css(palette::label_rgb(l, cell.probability)),
                format!("{} {:.0} %", labels.get(l).map_or("?", String::as_str), cell.probability * 100.0),
            ),
            None => (palette::css(palette::SILENCE_RGB), "silence".to_string()),
        };
        let _ = write!(
            svg,
            "<rect x=\"{:.3}\" y=\"0\" width=\"{:.3}\" height=\"1\" fill=\"{colour}\"><title>{}-{} s: {}</title></rect>",
            cell.start_seconds,
            (end - cell.start_seconds).max(0.0),
            fmt_s(cell.start_seconds),
            fmt_s(end),
            escape(&tip)
        );
    }
    for &(a, b) in &row.dead_air {
        let _ = write!(
            svg,
            "<rect class=\"dead-air\" x=\"{a:.3}\" y=\"0.7\" width=\"{:.3}\" height=\"0.3\" fill=\"#ff5a36\"><title>dead air {}-{} s</title></rect>",
            b - a,
            fmt_s(a),
            fmt_s(b)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn fmt_s(s: f64) -> String {
    format!("{s:.1}")
}

/// The genre mix: mean whole-track probability of each genre over the analysed rows.
pub fn genre_mix(report: &Report) -> Vec<(usize, f32)> {
    let analysed: Vec<&Vec<f32>> = report.rows.iter().filter_map(|r| r.probabilities.as_ref()).collect();
    if analysed.is_empty() {
        return Vec::new();
    }
    let mut mix: Vec<(usize, f32)> = report
        .genres
        .iter()
        .map(|&g| (g, analysed.iter().map(|p| p[g]).sum::<f32>() / analysed.len() as f32))
        .collect();
    mix.sort_by(|a, b| b.1.total_cmp(&a.1));
    mix
}

/// Renders the page.
pub fn render(report: &Report) -> String {
    let mut html = String::new();
    let flagged = report.rows.iter().filter(|r| !r.pass).count();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{STYLE}</style></head><body>\
         <h1>{t}</h1><div class=\"sub\">{s} · {n} tracks, {p} pass, {flagged} flagged</div>",
        t = escape(&report.title),
        s = escape(&report.subtitle),
        n = report.rows.len(),
        p = report.rows.len() - flagged,
    );
    // Genre mix: one stacked bar and a legend.
    let mix = genre_mix(report);
    if !mix.is_empty() {
        let total: f32 = mix.iter().map(|m| m.1).sum::<f32>().max(1e-9);
        let mut x = 0.0f32;
        let mut bar = String::from("<svg class=\"mix-bar\" width=\"420\" height=\"28\" viewBox=\"0 0 1 1\" preserveAspectRatio=\"none\">");
        let mut legend = String::from("<div class=\"legend\">");
        let mut top_counts = vec![0usize; report.labels.len()];
        for r in &report.rows {
            if let Some((g, _)) = &r.top_genre
                && let Some(i) = report.labels.iter().position(|l| l == g)
            {
                top_counts[i] += 1;
            }
        }
        for &(g, share) in &mix {
            let w = share / total;
            let colour = palette::css(palette::label_rgb(g, 1.0));
            let name = escape(&report.labels[g]);
            let _ = write!(bar, "<rect x=\"{x:.4}\" y=\"0\" width=\"{w:.4}\" height=\"1\" fill=\"{colour}\"><title>{name} {:.1} %</title></rect>", share * 100.0);
            x += w;
            if share >= 0.005 || top_counts[g] > 0 {
                let _ = write!(
                    legend,
                    "<span><i class=\"sw\" style=\"background:{colour}\"></i>{name}</span><span>{:.1} %</span><span class=\"desc\">top in {} track(s)</span>",
                    share * 100.0,
                    top_counts[g]
                );
            }
        }
        bar.push_str("</svg>");
        legend.push_str("</div>");
        let _ = write!(html, "<div class=\"mix\"><div><div class=\"desc\">Genre mix (mean probability over the analysed tracks)</div>{bar}</div>{legend}</div>");
    }
    html.push_str(
        "<table id=\"tracks\"><thead><tr>\
         <th data-type=\"num\">#</th><th data-type=\"text\">Track</th><th data-type=\"num\" data-first=\"desc\">Verdict / flags</th>\
         <th data-type=\"text\">Top genre</th><th data-type=\"num\">Length</th><th>Genre timeline</th></tr></thead><tbody>",
    );
    for (i, row) in report.rows.iter().enumerate() {
        let verdict = if row.pass { "<span class=\"pass\">pass</span>".to_string() } else { "<span class=\"flagged\">flagged</span>".to_string() };
        let flags: String = row
            .flags
            .iter()
            .map(|(n, d)| format!("<div><span class=\"flag\">{}</span><span class=\"desc\">{}</span></div>", escape(n), escape(d)))
            .collect();
        let note = row.note.as_ref().map(|n| format!("<div class=\"desc\">{}</div>", escape(n))).unwrap_or_default();
        let top = row
            .top_genre
            .as_ref()
            .map(|(g, p)| format!("{} <span class=\"desc\">{:.0} %</span>", escape(g), p * 100.0))
            .unwrap_or_else(|| "—".into());
        let top_key = row.top_genre.as_ref().map(|g| g.0.clone()).unwrap_or_default();
        let length = row.duration_seconds.map(crate::playlist::check::clock).unwrap_or_else(|| "—".into());
        let axis = row.duration_seconds.map(|d| format!("<div class=\"axis\">0:00 … {}</div>", crate::playlist::check::clock(d))).unwrap_or_default();
        let _ = write!(
            html,
            "<tr class=\"track\" data-pos=\"{pos}\"><td data-sort=\"{pos}\">{pos}</td>\
             <td data-sort=\"{name}\">{name}<div class=\"loc\">{loc}</div></td>\
             <td data-sort=\"{nflags}\">{verdict}{flags}{note}</td>\
             <td data-sort=\"{top_key}\">{top}</td><td data-sort=\"{dur}\">{length}</td><td>{strip}{axis}</td></tr>",
            pos = i + 1,
            name = escape(&row.name),
            loc = escape(&row.location),
            nflags = row.flags.len(),
            top_key = escape(&top_key),
            dur = row.duration_seconds.unwrap_or(0.0),
            strip = strip_svg(row, &report.labels),
        );
    }
    let _ = writeln!(html, "</tbody></table><script>{SCRIPT}</script></body></html>");
    html
}
