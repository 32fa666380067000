//! `report.html`: one self-contained page (inline SVG and tables, no external assets, no script)
//! that a user opens in a browser: data and LFs, the label models side by side, the training
//! curves with the kept weights marked, confusion heat-maps, per-class precision and recall, and
//! the most confident errors with their LF votes (the rows to read to improve the LFs).

use std::fmt::Write as _;

use super::report::curves;
use super::{EndModelRun, LabelModelReport, RunConfig, SplitReport, both};
use crate::data::Splits;
use crate::error::Result;
use crate::label_model::{FitOptions, LabelModelKind, Params, PredictOptions, select::score};
use crate::report::svg::{self, esc};

/// The sections of the page, in order: `(id, title)`; the navigation links to each.
pub const SECTIONS: [(&str, &str); 6] = [
    ("data", "Data and labeling functions"),
    ("label-models", "Label models"),
    ("training", "Training curves"),
    ("confusion", "Confusion matrices"),
    ("per-class", "Per-class precision and recall"),
    ("errors", "Most confident errors"),
];

/// Rows listed per split in the errors section.
const ERRORS_SHOWN: usize = 15;

/// An inline chart in a figure with its caption.
fn figure(out: &mut String, id: &str, caption: &str, svg: &str) {
    let _ = writeln!(out, "<figure id=\"{id}\">{svg}<figcaption>{}</figcaption></figure>", esc(caption));
}

/// What the page is made of.
pub struct HtmlInputs<'a> {
    pub cfg: &'a RunConfig,
    pub classes: &'a [String],
    pub splits: &'a Splits,
    pub reports: &'a [SplitReport],
    pub lm: &'a LabelModelReport,
    pub fit_split: usize,
    pub end: Option<&'a EndModelRun>,
}

/// Renders `report.html`.
pub fn render(x: &HtmlInputs) -> Result<String> {
    let metric = x.cfg.train.metric;
    let mut s = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>weaksup report</title><style>\
         body{font-family:sans-serif;margin:2em;max-width:1400px;color:#222}table{border-collapse:collapse;margin:0.5em 0 1.5em}\
         td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}td.t{text-align:left;max-width:640px}\
         figure{margin:1em 0}figcaption{color:#555;font-size:90%}nav a{margin-right:1em}svg{max-width:100%;height:auto}\
         </style></head><body>\n<h1>weaksup report</h1>\n",
    );
    s.push_str("<nav>");
    for (id, title) in SECTIONS {
        let _ = write!(s, "<a href=\"#{id}\">{}</a>", esc(title));
    }
    s.push_str("</nav>\n");
    let _ = writeln!(
        s,
        "<p>Classes: {}. Seed: {}. Training split: <code>{}</code>.</p>",
        esc(&x.classes.join(", ")),
        x.cfg.seed,
        esc(&x.splits.splits[x.fit_split].split)
    );

    // Data and LFs.
    let _ = writeln!(s, "<section id=\"{}\"><h2>{}</h2>", SECTIONS[0].0, SECTIONS[0].1);
    s.push_str("<table><tr><th>split</th><th>rows</th><th>gold</th><th>LFs</th><th>coverage</th><th>overlap</th><th>conflict</th></tr>\n");
    for r in x.reports {
        let a = &r.analysis;
        let _ = writeln!(
            s,
            "<tr><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>",
            esc(&r.split),
            a.n_rows,
            a.n_gold.map_or("—".into(), |g| g.to_string()),
            a.lfs.len(),
            a.coverage,
            a.overlap,
            a.conflict
        );
    }
    s.push_str("</table>\n");
    if let Some(r) = x.reports.get(x.fit_split) {
        let _ = writeln!(
            s,
            "<h3>LFs on <code>{}</code></h3><pre>{}</pre>",
            esc(&r.split),
            esc(&r.analysis.to_table(x.classes))
        );
        figure(&mut s, "fig-lfs", "LF coverage against empirical accuracy", &r.analysis.to_svg(x.classes));
    }
    s.push_str("</section>\n");

    // Label models: the chosen one, and every model's default setting on the same votes.
    let _ = writeln!(s, "<section id=\"{}\"><h2>{}</h2>", SECTIONS[1].0, SECTIONS[1].1);
    let _ = writeln!(s, "<pre>{}</pre>", esc(&x.lm.summary(&x.splits.splits[x.fit_split].split)));
    label_model_table(&mut s, x)?;
    s.push_str("</section>\n");

    let _ = writeln!(s, "<section id=\"{}\"><h2>{}</h2>", SECTIONS[2].0, SECTIONS[2].1);
    match x.end {
        Some(r) => {
            let (loss, valid, selection) = curves(r);
            match &r.chosen {
                Some(ch) => {
                    let _ = writeln!(
                        s,
                        "<p>Kept weights: valid {} {:.3} at {} (the <code>chosen</code> point).</p>",
                        metric.name(),
                        ch.score,
                        esc(&ch.describe())
                    );
                }
                None => {
                    s.push_str("<p>Kept weights: the final ones (no valid split with gold labels).</p>\n")
                }
            }
            figure(&mut s, "fig-loss", "Training loss", &svg::lines("Training loss", "step", "loss", &loss));
            figure(
                &mut s,
                "fig-valid",
                "Validation score of both stages; the kept weights are the `chosen` point",
                &svg::lines(&format!("Validation {}", metric.name()), "step", metric.name(), &valid),
            );
            if !selection.is_empty() {
                figure(
                    &mut s,
                    "fig-selection",
                    "COSINE: fraction of the pool selected per round",
                    &svg::lines("Selected fraction", "step", "fraction", &selection),
                );
            }
        }
        None => s.push_str("<p>No end model was trained (<code>method = \"none\"</code>).</p>\n"),
    }
    s.push_str("</section>\n");

    let mut confusion = String::new();
    let mut per_class = String::new();
    if let Some(r) = x.end {
        for res in r.splits.iter().filter(|res| res.split != r.train_split) {
            let Some(m) = &res.confusion else { continue };
            heat_map(&mut confusion, &res.split, m, x.classes);
            precision_recall(&mut per_class, &res.split, m, x.classes);
        }
    }
    if confusion.is_empty() {
        confusion.push_str("<p>No held-out split with gold labels and an end model's predictions.</p>\n");
        per_class.push_str("<p>—</p>\n");
    }
    for ((id, title), body) in SECTIONS[3..5].iter().zip([confusion, per_class]) {
        let _ = writeln!(s, "<section id=\"{id}\"><h2>{title}</h2>\n{body}</section>");
    }

    let _ = writeln!(s, "<section id=\"{}\"><h2>{}</h2>", SECTIONS[5].0, SECTIONS[5].1);
    s.push_str("<p>Rows the end model gets wrong with the highest confidence, with every LF vote on them: the rows to read to improve the LFs.</p>\n");
    let mut any = false;
    if let Some(r) = x.end {
        for (k, res) in r.splits.iter().enumerate() {
            if res.split == r.train_split || res.proba.is_empty() {
                continue;
            }
            any |= confident_errors(&mut s, x, k, res)?;
        }
    }
    if !any {
        s.push_str("<p>—</p>\n");
    }
    s.push_str("</section>\n</body></html>\n");
    Ok(s)
}

/// Every label model's default setting fitted on the training split's votes and scored like the
/// chosen one (covered / all rows).
fn label_model_table(s: &mut String, x: &HtmlInputs) -> Result<()> {
    let metric = x.lm.metric;
    let fit = FitOptions { class_balance: x.cfg.label_model.class_balance.clone(), seed: x.lm.policy_seed };
    let opts = PredictOptions { seed: x.lm.policy_seed, ..x.lm.predict };
    let scored: Vec<(usize, Vec<Option<u32>>)> = x
        .splits
        .splits
        .iter()
        .enumerate()
        .filter_map(|(k, d)| d.gold().map(|g| (k, g)))
        .filter(|(k, _)| *k != x.fit_split)
        .collect();
    let _ = write!(s, "<table><tr><th>model (default setting)</th>");
    for (k, _) in &scored {
        let _ = write!(s, "<th>{} {} (covered / all)</th>", esc(&x.splits.splits[*k].split), metric.name());
    }
    s.push_str("</tr>\n");
    for kind in [LabelModelKind::Mv, LabelModelKind::Wmv, LabelModelKind::Ds, LabelModelKind::Snorkel] {
        let p = Params::defaults(kind);
        let chosen = p.name() == x.lm.model;
        let _ = write!(
            s,
            "<tr><td class=\"t\">{}{}</td>",
            p.name(),
            if chosen { " (the run's model)" } else { "" }
        );
        match p.fit_quiet(&x.reports[x.fit_split].matrix, &fit) {
            Ok(m) => {
                for (k, g) in &scored {
                    let e = score(&m, &x.reports[*k].matrix, g, &opts, 5)?;
                    let _ = write!(s, "<td>{}</td>", both(&e, metric));
                }
            }
            Err(e) => {
                let _ = write!(s, "<td colspan=\"{}\">{}</td>", scored.len().max(1), esc(&e.to_string()));
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
    Ok(())
}

/// A confusion matrix as a table whose cells are shaded by their share of the gold row.
fn heat_map(s: &mut String, split: &str, m: &[Vec<usize>], classes: &[String]) {
    let _ = write!(s, "<h3>{}</h3><table class=\"heat\"><tr><th>gold \\ predicted</th>", esc(split));
    for c in classes {
        let _ = write!(s, "<th>{}</th>", esc(c));
    }
    s.push_str("</tr>\n");
    for (g, row) in m.iter().enumerate() {
        let total = row.iter().sum::<usize>().max(1) as f64;
        let _ = write!(s, "<tr><th>{}</th>", esc(&classes[g]));
        for (p, &n) in row.iter().enumerate() {
            let a = n as f64 / total;
            let rgb = if p == g { "44,160,44" } else { "214,39,40" };
            let _ = write!(s, "<td style=\"background:rgba({rgb},{a:.2})\">{n}</td>");
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n");
}

/// Precision, recall and F1 per class from a confusion matrix.
fn precision_recall(s: &mut String, split: &str, m: &[Vec<usize>], classes: &[String]) {
    let _ = writeln!(
        s,
        "<h3>{}</h3><table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>gold rows</th></tr>",
        esc(split)
    );
    for (c, name) in classes.iter().enumerate() {
        let tp = m[c][c] as f64;
        let predicted: usize = m.iter().map(|r| r[c]).sum();
        let gold: usize = m[c].iter().sum();
        let fmt = |x: Option<f64>| x.map_or("—".to_string(), |v| format!("{v:.3}"));
        let p = (predicted > 0).then(|| tp / predicted as f64);
        let r = (gold > 0).then(|| tp / gold as f64);
        let f1 = match (p, r) {
            (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
            (Some(_), Some(_)) => Some(0.0),
            _ => None,
        };
        let _ = writeln!(
            s,
            "<tr><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{gold}</td></tr>",
            esc(name),
            fmt(p),
            fmt(r),
            fmt(f1)
        );
    }
    s.push_str("</table>\n");
}

/// The split's most confident errors (prediction ≠ gold, highest predicted probability first)
/// with their LF votes; whether any was listed.
fn confident_errors(
    s: &mut String,
    x: &HtmlInputs,
    k: usize,
    res: &super::pipeline::SplitResult,
) -> Result<bool> {
    let ds = &x.splits.splits[k];
    let Some(gold) = ds.gold() else { return Ok(false) };
    let c = x.classes.len();
    let mut wrong: Vec<(usize, f32)> = res
        .pred
        .iter()
        .enumerate()
        .filter(|(i, p)| gold[*i].is_some_and(|g| g != **p))
        .map(|(i, p)| (i, res.proba[i * c + *p as usize]))
        .collect();
    if wrong.is_empty() {
        return Ok(false);
    }
    wrong.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let texts = ds.texts()?;
    let matrix = &x.reports[k].matrix;
    let _ = writeln!(
        s,
        "<h3>{} ({} of {} errors)</h3><table><tr><th>row</th><th>text</th><th>gold</th><th>predicted</th><th>confidence</th><th>LF votes</th></tr>",
        esc(&ds.split),
        wrong.len().min(ERRORS_SHOWN),
        wrong.len()
    );
    for &(i, conf) in wrong.iter().take(ERRORS_SHOWN) {
        let text: String = texts.get(i).unwrap_or("").chars().take(300).collect();
        let votes: Vec<String> = matrix
            .row(i)
            .iter()
            .enumerate()
            .filter(|(_, v)| **v >= 0)
            .map(|(j, v)| format!("{} → {}", matrix.lf_names()[j], x.classes[*v as usize]))
            .collect();
        let _ = writeln!(
            s,
            "<tr><td>{i}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{conf:.3}</td><td class=\"t\">{}</td></tr>",
            esc(&text),
            esc(&x.classes[gold[i].expect("gold") as usize]),
            esc(&x.classes[res.pred[i] as usize]),
            if votes.is_empty() { "none (no LF fires)".to_string() } else { esc(&votes.join(", ")) }
        );
    }
    s.push_str("</table>\n");
    Ok(true)
}
