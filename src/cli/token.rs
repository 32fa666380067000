//! The LF and label-model commands on token data (sequence labeling): thin overlays on
//! [`crate::run::token`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};

use super::args::{ApplyArgs, PolicyArgs};
use super::progress::Bars;
use crate::data;
use crate::label_model::{LabelModelChoice, LabelModelConfig};
use crate::lf::{ApplyOptions, Registry, analyze};
use crate::run::token as pipeline;
use crate::run::{DataConfig, LfConfig};
use crate::token::TokenSplit;
use crate::token::label_model::{TokenLabelModelChoice, TokenLabelModelKind};
use crate::token::lf::TokenLfFile;

/// `lf apply` on token data: `<split>.votes.parquet` (a row per token) per split.
pub(super) fn lf_apply(
    data: &DataConfig,
    lfs: &[PathBuf],
    apply: &ApplyArgs,
    out: &Path,
    registry: &Registry,
    quiet: bool,
) -> Result<ExitCode> {
    let corpus = pipeline::load_tokens(data)?;
    let (set, _) = TokenLfFile::load_set(lfs, Some(&corpus.tags), corpus.tags.scheme, registry)?;
    let compiled = set.compile()?;
    let opts = apply.options();
    let bars = Bars::new(quiet);
    // Every split's votes first: a failure leaves no output behind.
    let mut applied = Vec::with_capacity(corpus.splits.len());
    for sp in &corpus.splits {
        let t = Instant::now();
        let v = compiled.apply_split(sp, &opts, &bars)?;
        applied.push((v, t.elapsed().as_secs_f64()));
    }
    let dir = data::OutputDir::prepare(out, "lf apply", &[])?;
    let names = corpus.tags.tag_names();
    for (sp, (v, secs)) in corpus.splits.iter().zip(applied) {
        let path = dir.path().join(format!("{}.votes.parquet", sp.split));
        v.matrix.write_parquet(&path, &names)?;
        let cov = analyze(&v.matrix, None, None, None).coverage;
        let faults: u64 = v.faults.iter().sum();
        if !quiet {
            println!(
                "{}: {} sentences, {} tokens × {} LFs in {:.3}s ({:.0} tokens/s), token coverage {:.3}{} → {}",
                sp.split,
                sp.n_sentences(),
                sp.n_tokens(),
                compiled.names().len(),
                secs,
                sp.n_tokens() as f64 / secs.max(1e-9),
                cov,
                if faults > 0 { format!(", {faults} LF faults (sentences)") } else { String::new() },
                path.display()
            );
        }
    }
    dir.finish()?;
    Ok(ExitCode::SUCCESS)
}

/// `lf analyze` on token data: token-level and span-level statistics per LF and split.
pub(super) fn lf_analyze(
    data: &DataConfig,
    lfs: &LfConfig,
    out: Option<&Path>,
    registry: &Registry,
    quiet: bool,
) -> Result<ExitCode> {
    let (corpus, votes) = pipeline::load_tokens_with_votes(data, lfs, registry, &Bars::new(quiet))?;
    let dir = out.map(|o| data::OutputDir::prepare(o, "lf analyze", &[])).transpose()?;
    for (k, sp) in corpus.splits.iter().enumerate() {
        let a = pipeline::token_analysis(&corpus, &votes, k);
        println!(
            "== {} ({} sentences, {} tokens) ==\n{}",
            sp.split,
            sp.n_sentences(),
            sp.n_tokens(),
            a.to_table(&corpus.tags)
        );
        if let Some(d) = &dir {
            pipeline::write_token_analysis(&a, &corpus.tags, &d.path().join(&sp.split))?;
        }
    }
    if let Some(d) = dir {
        d.finish()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `lf bench` on token data: every split's sentences, repeated in order to `sentences`.
pub(super) fn lf_bench(
    data: &DataConfig,
    lfs: &[PathBuf],
    sentences: usize,
    repeat: usize,
    opts: &ApplyOptions,
    registry: &Registry,
) -> Result<ExitCode> {
    let corpus = pipeline::load_tokens(data)?;
    let (set, _) = TokenLfFile::load_set(lfs, Some(&corpus.tags), corpus.tags.scheme, registry)?;
    let compiled = set.compile()?;
    let all: Vec<&[String]> =
        corpus.splits.iter().flat_map(|sp| (0..sp.n_sentences()).map(move |s| sp.sentence(s))).collect();
    if all.is_empty() {
        bail!("lf bench: the data has no sentences");
    }
    let bench = TokenSplit::from_sentences(
        "bench",
        "bench",
        (0..sentences).map(|i| all[i % all.len()].to_vec()).collect(),
        None,
    )?;
    let threads = opts.threads.unwrap_or_else(rayon::current_num_threads);
    compiled.apply_split(&bench, opts, &crate::progress::NoProgress)?;
    let mut secs = Vec::with_capacity(repeat);
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        let out = compiled.apply_split(&bench, opts, &crate::progress::NoProgress)?;
        secs.push(t.elapsed().as_secs_f64());
        std::hint::black_box(out);
    }
    secs.sort_by(f64::total_cmp);
    let median = secs[secs.len() / 2];
    let n = bench.n_tokens() as f64;
    println!(
        "{} sentences ({} tokens) × {} token LFs, {threads} threads, chunk {} tokens: median {:.3}s ({:.0} tokens/s), best {:.3}s ({:.0} tokens/s) over {} runs",
        sentences,
        bench.n_tokens(),
        compiled.names().len(),
        opts.chunk_size,
        median,
        n / median,
        secs[0],
        n / secs[0],
        secs.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// The token model a `label-model fit` asks for: `--token-model`, else `--model` where it names
/// a token model too (`auto`, `mv`, `ds`).
fn token_choice(
    model: LabelModelChoice,
    token_model: Option<TokenLabelModelChoice>,
) -> Result<TokenLabelModelChoice> {
    if let Some(t) = token_model {
        return Ok(t);
    }
    Ok(match model {
        LabelModelChoice::Auto => TokenLabelModelChoice::Auto,
        LabelModelChoice::Mv => TokenLabelModelChoice::Mv,
        LabelModelChoice::Ds => TokenLabelModelChoice::Ds,
        other => bail!(
            "label model `{other}` is for text classification; token data takes --token-model auto, mv, ds or hmm"
        ),
    })
}

/// `label-model fit` on token data.
#[allow(clippy::too_many_arguments)]
pub(super) fn lm_fit(
    data: &DataConfig,
    lfs: &LfConfig,
    model: LabelModelChoice,
    token_model: Option<TokenLabelModelChoice>,
    policy: &PolicyArgs,
    out: &Path,
    registry: &Registry,
    quiet: bool,
) -> Result<ExitCode> {
    let config = LabelModelConfig {
        token_model: token_choice(model, token_model)?,
        select_on_valid: !policy.no_select,
        ..LabelModelConfig::default()
    };
    let (corpus, votes) = pipeline::load_tokens_with_votes(data, lfs, registry, &Bars::new(quiet))?;
    let sel = pipeline::fit_token_label_model(&config, &corpus, &votes)?;
    let dir = data::OutputDir::prepare(out, "label-model fit", &[])?;
    let report = pipeline::write_token_label_model(&sel, &corpus, &votes, out)?;
    dir.finish()?;
    if !quiet {
        let (train, _) = pipeline::token_roles(&corpus);
        print!("{}", report.summary(&corpus.splits[train].split));
        println!("wrote {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `label-model compare` on token data.
pub(super) fn lm_compare(
    data: &DataConfig,
    lfs: &LfConfig,
    kinds: &[TokenLabelModelKind],
    out: Option<&Path>,
    registry: &Registry,
    quiet: bool,
) -> Result<ExitCode> {
    let (corpus, votes) = pipeline::load_tokens_with_votes(data, lfs, registry, &Bars::new(quiet))?;
    let rows = pipeline::compare_token_label_models(kinds, &corpus, &votes)?;
    let md = pipeline::token_compare_markdown(&corpus, &votes, &rows);
    if !quiet {
        print!("{md}");
    }
    if let Some(out) = out {
        let dir = data::OutputDir::prepare(out, "label-model compare", &[])?;
        data::write_atomic(&out.join("compare.md"), md.as_bytes())?;
        data::write_json(&out.join("compare.json"), &rows)?;
        dir.finish()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `train` on token data: a token-classification end model (stage 1).
pub(super) fn train_tagger(
    resolved: &crate::run::ResolvedRun,
    registry: &Registry,
    resume: bool,
    kill_after_steps: Option<u64>,
    quiet: bool,
) -> Result<ExitCode> {
    let cfg = &resolved.config;
    let end_model = resolved.end_model.as_ref().expect("a training method resolves an end model");
    let dir = data::OutputDir::prepare(&cfg.out, "train", if resume { &["*"] } else { &[] })?;
    let bars = Bars::new(quiet);
    let bars = super::progress::KillAt::new(&bars, &["training", "COSINE stage 2"], kill_after_steps);
    let ckpt = crate::train::checkpoint_path(&cfg.out);
    let sup = pipeline::token_supervision(cfg, registry, &bars)?;
    let fitted =
        pipeline::fit_token_end_model(cfg, end_model, &resolved.seeds, sup, Some((&ckpt, resume)), &bars)?;
    pipeline::write_tagger(&fitted, &cfg.out)?;
    data::write_json(&cfg.out.join("train.json"), &serde_json::json!({ "config": cfg, "run": &fitted.run }))?;
    dir.finish()?;
    if !quiet {
        print!("{}", tagger_summary(&fitted.run));
        println!("wrote {}", cfg.out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `predict` with a tagger: `<split>.predictions.parquet` (a row per sentence: `tokens`, `tags`,
/// `pred`, `prob_<tag>`) per split, span F1 where the split has gold tags.
pub(super) fn predict_tags(
    model: &crate::model::EndModel,
    tag_names: &[String],
    data: &DataConfig,
    out: &Path,
    batch_size: usize,
) -> Result<ExitCode> {
    let corpus = pipeline::load_tokens(data)?;
    let names = corpus.tags.tag_names();
    if names != tag_names {
        bail!(
            "the model's tags [{}] differ from the data's [{}]; pass --tags (and --scheme) so that they match",
            tag_names.join(", "),
            names.join(", ")
        );
    }
    let dir = data::OutputDir::prepare(out, "predict", &[])?;
    for sp in &corpus.splits {
        let words: Vec<&[String]> = (0..sp.n_sentences()).map(|s| sp.sentence(s)).collect();
        let proba = crate::batch::token::word_distributions(model, &words, batch_size)?;
        let pred = crate::batch::token::most_probable(&proba);
        let mut frame = crate::token::data::token_frame(sp, &corpus.tags, Some(&pred), None)?;
        for col in crate::batch::token::tagger_prob_columns(&names, &sp.offsets, &proba) {
            frame.with_column(col)?;
        }
        let path = dir.path().join(format!("{}.predictions.parquet", sp.split));
        data::write_parquet(&mut frame, &path)?;
        let score =
            sp.gold.as_ref().map(|g| crate::token::evaluate_tags(g, &pred, &sp.offsets, &corpus.tags));
        println!(
            "{}: {} sentences, {} tokens → {}{}",
            sp.split,
            sp.n_sentences(),
            sp.n_tokens(),
            path.display(),
            score.map_or(String::new(), |e| format!(" ({})", e.summary()))
        );
    }
    dir.finish()?;
    Ok(ExitCode::SUCCESS)
}

/// What a tagger's training did, a line each: the training, COSINE's stage 2, scores per split.
fn tagger_summary(r: &pipeline::TokenEndModelRun) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let s1 = &r.stage1;
    let _ = writeln!(
        out,
        "tagger on {} ({}{}): {} sentences, {} words; {} steps in {:.1}s ({:.1} sentences/s){}; {}",
        r.train_split,
        r.targets,
        r.label_model.as_deref().map_or(String::new(), |m| format!(" of `{m}`")),
        r.train_sentences,
        r.train_words,
        s1.steps,
        s1.seconds,
        s1.examples_per_second,
        if s1.stopped_early { ", stopped early" } else { "" },
        match (s1.best_score, s1.best_step) {
            (Some(s), Some(step)) => format!("best valid span F1 {s:.3} at step {step}"),
            _ => "no valid split with gold tags: the final weights".into(),
        }
    );
    if let Some(c) = &r.cosine {
        let _ = writeln!(
            out,
            "COSINE stage 2: {} rounds, {} steps over a pool of {} sentences in {:.1}s; {}",
            c.rounds.len(),
            c.steps,
            c.pool_rows,
            c.seconds,
            match (c.best_in_stage2, c.best_round, c.best_score) {
                (true, Some(round), Some(s)) =>
                    format!("kept round {round}'s weights (valid span F1 {s:.3})"),
                _ => "stage 1's weights kept (stage 2 did not beat them on valid)".into(),
            }
        );
        for (split, e) in &r.stage1_splits {
            if let Some(e) = e {
                let _ = writeln!(out, "  stage 1 {split}: {}", e.summary());
            }
        }
    }
    for (split, e) in &r.splits {
        if let Some(e) = e {
            let _ = writeln!(out, "  {split}: {}", e.summary());
        }
    }
    out
}

/// What `weaksup run` on token data prints: LF coverage per split, the label model, the tagger.
pub(super) fn run_summary(o: &pipeline::TokenRunOutputs) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for (sp, a) in o.corpus.splits.iter().zip(&o.analyses) {
        let _ = writeln!(out, "== LFs on {} ==\n{}", sp.split, a.to_table(&o.corpus.tags));
    }
    let (train, _) = pipeline::token_roles(&o.corpus);
    out.push_str(&o.label_model.summary(&o.corpus.splits[train].split));
    if let Some(t) = &o.tagger {
        out.push_str(&tagger_summary(t));
    }
    out
}
