//! What `weaksup run` writes about its end model (metrics, curves, confusion matrices,
//! predictions) and the `report.md` that links every artefact.

use std::fmt::Write as _;
use std::path::Path;

use polars::prelude::{Column, DataFrame};

use super::{EndModelRun, LabelModelReport, RunConfig, SplitReport};
use crate::data::{self, Splits};
use crate::error::{Context, Result};
use crate::metrics::{Metric, Scores};
use crate::report::svg;

/// A named series of (step, value) points.
pub type Curve = (String, Vec<(f64, f64)>);

/// Series of the training curves: stage 1's loss per validation window and validation score,
/// stage 2's loss terms per round and every stage-2 validation (steps continue from stage 1),
/// the chosen validation (one point), and the selected fraction per round (its own chart).
pub fn curves(r: &EndModelRun) -> (Vec<Curve>, Vec<Curve>, Vec<Curve>) {
    let h = &r.stage1.history;
    let mut loss = vec![(
        "stage 1 loss".to_string(),
        h.iter().map(|e| (e.step as f64, e.train_loss)).collect::<Vec<_>>(),
    )];
    let mut valid =
        vec![("stage 1".to_string(), h.iter().map(|e| (e.step as f64, e.score)).collect::<Vec<_>>())];
    if let Some(c) = &r.cosine {
        let s0 = r.stage1.steps as f64;
        let at = |f: fn(&crate::selftrain::RoundRecord) -> f64| {
            c.rounds.iter().map(|x| (s0 + x.step as f64, f(x))).collect::<Vec<_>>()
        };
        loss.push(("stage 2 L_cls".into(), at(|x| x.loss_cls)));
        loss.push(("stage 2 R_con".into(), at(|x| x.loss_con)));
        loss.push(("stage 2 R_conf".into(), at(|x| x.loss_conf)));
        valid.push(("stage 2".into(), c.validations.iter().map(|v| (s0 + v.step as f64, v.score)).collect()));
    }
    if let Some(ch) = &r.chosen {
        valid.push(("chosen".into(), vec![(ch.curve_step as f64, ch.score)]));
    }
    let selection = match &r.cosine {
        Some(c) => {
            let s0 = r.stage1.steps as f64;
            vec![(
                "selected fraction".to_string(),
                c.rounds.iter().map(|x| (s0 + x.step as f64, x.selected_fraction)).collect::<Vec<_>>(),
            )]
        }
        None => Vec::new(),
    };
    (loss, valid, selection)
}

/// Writes `metrics.json`, `curves.csv`, `training_loss.svg`, `validation.svg`, `selection.svg` (COSINE),
/// `<split>.confusion.csv` and `<split>.predictions.parquet` (splits other than the training one).
pub fn write_end_model(
    r: &EndModelRun,
    splits: &Splits,
    classes: &[String],
    metric: Metric,
    out: &Path,
) -> Result<()> {
    #[derive(serde::Serialize)]
    struct Metrics<'a> {
        metric: Metric,
        #[serde(flatten)]
        run: &'a EndModelRun,
    }
    data::write_json(&out.join("metrics.json"), &Metrics { metric, run: r })?;
    let (loss, valid, selection) = curves(r);
    let mut csv = String::from("series,step,value\n");
    for (name, pts) in loss.iter().chain(&valid).chain(&selection) {
        for (x, y) in pts {
            let _ = writeln!(csv, "{name},{x},{y}");
        }
    }
    data::write_atomic(&out.join("curves.csv"), csv.as_bytes())?;
    data::write_atomic(
        &out.join("training_loss.svg"),
        svg::lines("Training loss", "step", "loss", &loss).as_bytes(),
    )?;
    let title = match &r.chosen {
        Some(ch) => format!("Validation {} (kept: {:.3} at {})", metric.name(), ch.score, ch.describe()),
        None => format!("Validation {} (no valid split with gold labels)", metric.name()),
    };
    data::write_atomic(
        &out.join("validation.svg"),
        svg::lines(&title, "step", metric.name(), &valid).as_bytes(),
    )?;
    if !selection.is_empty() {
        data::write_atomic(
            &out.join("selection.svg"),
            svg::lines("COSINE: fraction of the pool selected per round", "step", "fraction", &selection)
                .as_bytes(),
        )?;
    }
    for (res, ds) in r.splits.iter().zip(&splits.splits) {
        if let Some(m) = &res.confusion {
            let mut t = format!("gold\\predicted,{}\n", classes.join(","));
            for (k, row) in m.iter().enumerate() {
                let _ = writeln!(
                    t,
                    "{},{}",
                    classes[k],
                    row.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
                );
            }
            data::write_atomic(&out.join(format!("{}.confusion.csv", res.split)), t.as_bytes())?;
        }
        if res.split == r.train_split || res.proba.is_empty() {
            continue;
        }
        let (mut cols, _) = data::prediction_columns(&res.proba, classes);
        cols.push(Column::new(
            "predicted_class".into(),
            res.pred.iter().map(|&p| classes[p as usize].as_str()).collect::<Vec<&str>>(),
        ));
        if let Some(g) = ds.gold() {
            cols.push(Column::new(
                "label".into(),
                g.iter().map(|x| x.map(|v| v as i32)).collect::<Vec<Option<i32>>>(),
            ));
        }
        let mut frame = DataFrame::new_infer_height(cols).ctx(|| "predictions frame".into())?;
        data::write_parquet(&mut frame, &out.join(format!("{}.predictions.parquet", res.split)))?;
    }
    Ok(())
}

fn fmt_scores(s: &Scores) -> String {
    format!(
        "{:.3} | {:.3} | {}",
        s.accuracy,
        s.macro_f1,
        s.binary_f1.map_or("–".into(), |f| format!("{f:.3}"))
    )
}

fn confusion_table(m: &[Vec<usize>], classes: &[String]) -> String {
    let mut s =
        format!("| gold \\ predicted | {} |\n|---|{}\n", classes.join(" | "), "---|".repeat(classes.len()));
    for (k, row) in m.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {} | {} |",
            classes[k],
            row.iter().map(usize::to_string).collect::<Vec<_>>().join(" | ")
        );
    }
    s
}

/// The run's `report.md`.
pub fn render(
    cfg: &RunConfig,
    classes: &[String],
    reports: &[SplitReport],
    lm: &LabelModelReport,
    fit_split: &str,
    end: Option<&EndModelRun>,
) -> String {
    let mut s = String::from("# weaksup run\n\n");
    let _ = write!(
        s,
        "Data: {}. Classes: {}. Seed: {}. Resolved config: [config.toml](config.toml).\n\n",
        match &cfg.data.path {
            Some(p) => format!("`{}`", p.display()),
            None if cfg.data.is_demo() => "built-in demo corpus".to_string(),
            None => cfg
                .data
                .splits
                .entries()
                .iter()
                .filter(|(_, e)| !e.is_empty())
                .map(|(k, e)| {
                    format!(
                        "{k} {}",
                        e.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(" ")
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        },
        classes.join(", "),
        cfg.seed
    );
    let _ = write!(
        s,
        "## Label model\n\nModel: [label_model.json](label_model.json); metrics: [label_model.metrics.json](label_model.metrics.json); soft labels: `<split>.soft_labels.parquet`.\n\n```\n{}```\n\n",
        lm.summary(fit_split)
    );
    if let Some(r) = end {
        let method = match &r.cosine {
            Some(_) => "stage 1 on the label model's labels, then COSINE self-training",
            None => "stage 1 only",
        };
        let _ = write!(
            s,
            "## End model\n\nModel `{}` ({}, {}), {method}; targets `{}` on {} rows of `{}`; {}. Fine-tuned model: [model/](model/) (Hugging Face layout for transformers). Metrics: [metrics.json](metrics.json); curves: [curves.csv](curves.csv). Training took {:.1} s.\n\n",
            cfg.end_model.model,
            cfg.end_model.precision,
            cfg.end_model.device,
            String::from(cfg.targets.clone()),
            r.train_rows,
            r.train_split,
            if r.dev_rows == 0 {
                "no valid split with gold labels, so no early stopping or checkpoint choice: the final weights".to_string()
            } else {
                format!("{} valid rows for early stopping and the checkpoint choice", r.dev_rows)
            },
            r.seconds
        );
        s.push_str("| split | rows | accuracy | macro F1 | binary F1 |\n|---|---|---|---|---|\n");
        for res in &r.splits {
            if let Some(sc) = &res.covered_scores {
                let _ = writeln!(s, "| {} (LF-covered rows) | {} | {} |", res.split, sc.n, fmt_scores(sc));
            }
            if let Some(sc) = &res.scores {
                let name = if res.split == r.train_split && res.split != "train" {
                    format!("{} (trained on: training-set scores)", res.split)
                } else {
                    res.split.clone()
                };
                let _ = writeln!(s, "| {name} | {} | {} |", sc.n, fmt_scores(sc));
            }
        }
        if let Some(c) = &r.cosine {
            if !r.stage1_scores.is_empty() {
                s.push_str("\nAfter stage 1 alone (same run):\n\n| split | rows | accuracy | macro F1 | binary F1 |\n|---|---|---|---|---|\n");
                for (split, sc) in &r.stage1_scores {
                    let _ = writeln!(s, "| {split} | {} | {} |", sc.n, fmt_scores(sc));
                }
            }
            let _ = write!(
                s,
                "\nCOSINE: {} rounds, {} steps over a pool of {} rows in {:.1} s; {}.\n\nAccuracies against gold and flips are diagnostics, never used for training or selection.\n\n| round | step | teacher (step) | labelled | selected | pseudo-label acc. (selected) | teacher acc. (pool) | flipped | selected per class | L_cls | R_con | R_conf | valid |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
                c.rounds.len(),
                c.steps,
                c.pool_rows,
                c.seconds,
                match c.best_score {
                    Some(b) if r.dev_rows > 0 => format!(
                        "best validation {b:.3} ({})",
                        if c.best_in_stage2 { "from stage 2" } else { "stage 1 stayed best" }
                    ),
                    _ => "no valid split with gold labels: the last round's weights are kept".to_string(),
                }
            );
            for x in &c.rounds {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {:.1}% | {} | {} | {} | {} | {:.4} | {:.4} | {:.4} | {} |",
                    x.round,
                    x.step,
                    x.teacher_step,
                    x.pool_rows,
                    100.0 * x.selected_fraction,
                    x.pseudo_accuracy.map_or("–".into(), |p| format!("{p:.3}")),
                    x.teacher_accuracy.map_or("–".into(), |p| format!("{p:.3}")),
                    x.flipped.map_or("–".into(), |p| format!("{:.1}%", 100.0 * p)),
                    x.selected_classes.iter().map(usize::to_string).collect::<Vec<_>>().join(" / "),
                    x.loss_cls,
                    x.loss_con,
                    x.loss_conf,
                    x.valid.map_or("–".into(), |v| format!("{v:.3}"))
                );
            }
            let t = c.time_split(&r.stage1);
            let _ = writeln!(
                s,
                "\nTime: stage 1 {:.1} s training + {:.1} s validation; stage 2 {:.1} s teacher passes + {:.1} s training + {:.1} s validation.",
                t.stage1_training,
                t.stage1_validation,
                t.teacher_passes,
                t.stage2_training,
                t.stage2_validation
            );
        }
        match &r.chosen {
            Some(ch) => {
                let _ = write!(
                    s,
                    "\nKept weights: valid {} {:.3} at {} (the `chosen` point of [curves.csv](curves.csv) and of the validation chart).\n",
                    cfg.train.metric.name(),
                    ch.score,
                    ch.describe()
                );
            }
            None => {
                s.push_str("\nKept weights: the final ones (no valid split with gold labels to choose by).\n")
            }
        }
        s.push_str("\n![training loss](training_loss.svg)\n\n![validation](validation.svg)\n\n");
        if r.cosine.is_some() {
            s.push_str("![selected fraction](selection.svg)\n\n");
        }
        for res in &r.splits {
            if let (Some(m), false) = (&res.confusion, res.split == r.train_split) {
                let _ = write!(
                    s,
                    "Confusion matrix on `{0}` ([CSV]({0}.confusion.csv)); predictions: [{0}.predictions.parquet]({0}.predictions.parquet).\n\n{1}\n",
                    res.split,
                    confusion_table(m, classes)
                );
            }
        }
    }
    for r in reports {
        let _ = write!(
            s,
            "## LFs on {} ({} rows, {} LFs)\n\nVotes: [{0}.votes.parquet]({0}.votes.parquet). Summary: [CSV]({0}.lf_summary.csv), [JSON]({0}.lf_summary.json).\n\n```\n{}```\n\n![LF chart]({0}.lf_summary.svg)\n\n",
            r.split,
            r.matrix.n_rows(),
            r.matrix.n_lfs(),
            r.analysis.to_table(classes)
        );
    }
    s
}
