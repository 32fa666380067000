//! The sequence-labeling pipeline, composed once: token corpus → token LFs (or stored / saved
//! votes) → token label model → soft tags per token, with span and token metrics. The commands
//! (`lf apply|analyze|bench`, `label-model fit|compare`) are thin overlays on these stages and
//! the same [`DataConfig`] / [`LfConfig`] / [`LabelModelConfig`] as text classification.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::pipeline::{SplitVotes, Votes};
use super::{DataConfig, LfConfig};
use crate::data;
use crate::error::{Error, Result};
use crate::label_model::LabelModelConfig;
use crate::lf::{ApplyOptions, Registry};
use crate::matrix::{Label, LabelMatrix};
use crate::progress::Progress;
use crate::token::data::token_frame;
use crate::token::label_model::{
    TokenFitInfo, TokenFitOptions, TokenFitted, TokenLabelModelKind, TokenParams, TokenSelected, argmax_rows,
    select_token_model,
};
use crate::token::lf::{CompiledTokenLfs, TokenLfFile, TokenLfSet};
use crate::token::{
    TagEvaluation, TagSet, Task, TokenCorpus, evaluate_tags, is_token_data, load_token_corpus,
    load_token_files,
};

/// The task of `data`: its `task` unless `auto`, else judged from the data ([`is_token_data`]);
/// the demo corpus is classification.
pub fn resolve_task(data: &DataConfig) -> Result<Task> {
    if data.task != Task::Auto {
        return Ok(data.task);
    }
    let probe: Option<&Path> = match &data.path {
        Some(p) => Some(p),
        None => data.splits.entries().into_iter().find_map(|(_, e)| e.first()).map(PathBuf::as_path),
    };
    match probe {
        Some(p) if is_token_data(p)? => Ok(Task::Tagging),
        _ => Ok(Task::Classification),
    }
}

/// Loads the token corpus of `data`: a folder of split files, one file (one split, named by
/// `load.split` or the file's stem), or one file per split.
pub fn load_tokens(data: &DataConfig) -> Result<TokenCorpus> {
    let opts = &data.tokens;
    let mut corpus = match (&data.path, data.splits.is_empty()) {
        (Some(p), true) if p.is_dir() => load_token_corpus(p, opts)?,
        (Some(p), true) => {
            let split = data.load.split.clone().unwrap_or_else(|| {
                data::splits::split_named_by(p)
                    .map(str::to_owned)
                    .or_else(|| p.file_stem().and_then(|s| s.to_str()).map(str::to_owned))
                    .unwrap_or_else(|| "train".into())
            });
            load_token_files(&[(split, p.clone())], opts)?
        }
        (None, false) => {
            let mut files = Vec::new();
            for (split, entries) in data.splits.entries() {
                match entries {
                    [] => {}
                    [one] if one.is_file() => files.push((split.to_string(), one.clone())),
                    _ => {
                        return Err(Error::Config(format!(
                            "token data: give the `{split}` split as one file (got {})",
                            entries.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                        )));
                    }
                }
            }
            load_token_files(&files, opts)?
        }
        (Some(p), false) => {
            return Err(Error::Config(format!(
                "data: both a path ({}) and split files are given; use one",
                p.display()
            )));
        }
        (None, true) => {
            return Err(Error::Config(
                "sequence labeling needs token data: --data (a folder or file) or --train/--valid/--test files".into(),
            ));
        }
    };
    if let (Some(s), Some(_)) = (&data.load.split, &data.path)
        && corpus.splits.len() > 1
    {
        corpus.splits.retain(|d| &d.split == s);
        if corpus.splits.is_empty() {
            return Err(Error::Config(format!("token data: no `{s}` split")));
        }
    }
    Ok(corpus)
}

/// The token LF set of `lfs.files` over the corpus's tag set (`None` without files).
pub fn token_lf_set(lfs: &LfConfig, tags: &TagSet, registry: &Registry) -> Result<Option<TokenLfSet>> {
    if lfs.files.is_empty() {
        return Ok(None);
    }
    TokenLfFile::load_set(&lfs.files, Some(tags), tags.scheme, registry).map(|(s, _)| Some(s))
}

/// Where a token corpus's votes come from.
#[derive(Debug, Clone, Copy)]
pub enum TokenVoteSource<'a> {
    /// Token LF files, applied now.
    Lfs(&'a CompiledTokenLfs),
    /// A folder written by `weaksup lf apply` (`<split>.votes.parquet`, a row per token).
    Saved(&'a Path),
    /// The votes that came with the data (the COSINE MIT-R files' `major`, JSONL `votes`).
    Stored,
}

/// The votes of every split (rows = tokens, classes = the corpus's tags).
pub fn token_votes(
    corpus: &TokenCorpus,
    source: TokenVoteSource,
    apply: &ApplyOptions,
    progress: &dyn Progress,
) -> Result<Votes> {
    let names = corpus.tags.tag_names();
    let mut out = Vec::with_capacity(corpus.splits.len());
    for sp in &corpus.splits {
        out.push(match source {
            TokenVoteSource::Lfs(c) => {
                let a = c.apply_split(sp, apply, progress)?;
                SplitVotes { matrix: a.matrix, faults: Some(a.faults), kinds: Some(c.kinds().to_vec()) }
            }
            TokenVoteSource::Saved(dir) => {
                let path = dir.join(format!("{}.votes.parquet", sp.split));
                let (m, classes) = LabelMatrix::read_parquet(&path)?;
                if classes != names || m.n_rows() != sp.n_tokens() {
                    return Err(Error::invalid(
                        path.display().to_string(),
                        format!(
                            "{} token rows over tags [{}] do not match split `{}` ({} tokens over [{}])",
                            m.n_rows(),
                            classes.join(", "),
                            sp.split,
                            sp.n_tokens(),
                            names.join(", ")
                        ),
                    ));
                }
                SplitVotes { matrix: m, faults: None, kinds: None }
            }
            TokenVoteSource::Stored => match &sp.votes {
                Some(m) => SplitVotes { matrix: m.clone(), faults: None, kinds: None },
                None => {
                    return Err(Error::Config(format!(
                        "split `{}` has no stored votes: give token LF files (--lfs) or saved votes (--votes)",
                        sp.split
                    )));
                }
            },
        });
    }
    Ok(Votes { splits: out })
}

/// Loads the corpus and its votes: LF files when given, else a votes folder, else the stored votes.
pub fn load_tokens_with_votes(
    data: &DataConfig,
    lfs: &LfConfig,
    registry: &Registry,
    progress: &dyn Progress,
) -> Result<(TokenCorpus, Votes)> {
    let corpus = load_tokens(data)?;
    let set = if lfs.votes.is_none() { token_lf_set(lfs, &corpus.tags, registry)? } else { None };
    let compiled = set.map(TokenLfSet::compile).transpose()?;
    let source = match (&compiled, &lfs.votes) {
        (Some(c), _) => TokenVoteSource::Lfs(c),
        (None, Some(dir)) => TokenVoteSource::Saved(dir),
        (None, None) => TokenVoteSource::Stored,
    };
    let votes = token_votes(&corpus, source, &lfs.apply, progress)?;
    Ok((corpus, votes))
}

/// The split the label model fits on (`train`, else the first) and the dev split (`valid` with
/// gold tags), as indices.
pub fn token_roles(corpus: &TokenCorpus) -> (usize, Option<usize>) {
    let train = corpus.splits.iter().position(|s| s.split == "train").unwrap_or(0);
    let dev = corpus.splits.iter().position(|s| s.split == "valid" && s.gold.is_some());
    (train, dev)
}

/// Fits the configured token label model (`label_model.token_model`; `auto` chooses on valid
/// when `select_on_valid`).
pub fn fit_token_label_model(
    cfg: &LabelModelConfig,
    corpus: &TokenCorpus,
    votes: &Votes,
) -> Result<TokenSelected> {
    let (train, dev) = token_roles(corpus);
    let dev = dev.filter(|_| cfg.select_on_valid).map(|k| {
        let s = &corpus.splits[k];
        (votes.of(k), s.offsets.as_slice(), s.gold.as_deref().unwrap_or_default())
    });
    select_token_model(cfg.token_model, (votes.of(train), &corpus.splits[train].offsets), dev, &corpus.tags)
}

/// Scores of a fitted token label model on one split (None without gold tags).
pub fn evaluate_token_split(
    model: &TokenFitted,
    corpus: &TokenCorpus,
    votes: &Votes,
    k: usize,
) -> Result<Option<TagEvaluation>> {
    let sp = &corpus.splits[k];
    let Some(gold) = &sp.gold else { return Ok(None) };
    let pred = model.predict(votes.of(k), &sp.offsets)?;
    Ok(Some(evaluate_tags(gold, &pred, &sp.offsets, &corpus.tags)))
}

/// What `label-model fit` writes to `label_model.metrics.json` for token data.
#[derive(Debug, Clone, Serialize)]
pub struct TokenLabelModelReport {
    pub model: String,
    pub tags: Vec<String>,
    pub dev_score: Option<f64>,
    pub candidates: Vec<(String, Option<f64>)>,
    pub selection_seconds: f64,
    pub info: TokenFitInfo,
    pub lf_names: Vec<String>,
    pub lf_accuracies: Option<Vec<f64>>,
    /// Per split: its scores (None without gold tags).
    pub splits: Vec<(String, Option<TagEvaluation>)>,
}

impl TokenLabelModelReport {
    /// A few lines for the terminal.
    pub fn summary(&self, fit_split: &str) -> String {
        let mut s = format!("token label model `{}` fitted on {fit_split}", self.model);
        if let Some(d) = self.dev_score {
            s.push_str(&format!(
                " (span F1 on valid {d:.3}; tried {})",
                self.candidates
                    .iter()
                    .map(|(k, v)| format!("{k} {}", v.map_or("-".into(), |x| format!("{x:.3}"))))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        s.push('\n');
        for (split, e) in &self.splits {
            if let Some(e) = e {
                s.push_str(&format!("  {split}: {}\n", e.summary()));
            }
        }
        s
    }
}

/// Writes `label_model.json`, `<split>.soft_labels.parquet` (a row per sentence; list columns
/// `tokens`, `tags`, `pred`, `prob_<tag>`) and `label_model.metrics.json`.
pub fn write_token_label_model(
    sel: &TokenSelected,
    corpus: &TokenCorpus,
    votes: &Votes,
    out: &Path,
) -> Result<TokenLabelModelReport> {
    sel.model.save(&out.join("label_model.json"))?;
    let mut splits = Vec::new();
    for (k, sp) in corpus.splits.iter().enumerate() {
        let proba = sel.model.predict_proba(votes.of(k), &sp.offsets)?;
        let pred = argmax_rows(&proba);
        let mut frame = token_frame(sp, &corpus.tags, Some(&pred), Some(&proba))?;
        data::write_parquet(&mut frame, &out.join(format!("{}.soft_labels.parquet", sp.split)))?;
        let eval = sp.gold.as_ref().map(|g| evaluate_tags(g, &pred, &sp.offsets, &corpus.tags));
        splits.push((sp.split.clone(), eval));
    }
    let (train, _) = token_roles(corpus);
    let report = TokenLabelModelReport {
        model: sel.model.name().to_string(),
        tags: corpus.tags.tag_names(),
        dev_score: sel.dev_score,
        candidates: sel.candidates.iter().map(|(k, v)| (k.name().to_string(), *v)).collect(),
        selection_seconds: sel.fit_seconds,
        info: sel.model.info().clone(),
        lf_names: votes.of(train).lf_names().to_vec(),
        lf_accuracies: sel.model.lf_accuracies(),
        splits,
    };
    data::write_json(&out.join("label_model.metrics.json"), &report)?;
    Ok(report)
}

/// One row of `label-model compare` on token data.
#[derive(Debug, Clone, Serialize)]
pub struct TokenCompareRow {
    pub model: String,
    pub fit_seconds: f64,
    pub iterations: usize,
    pub converged: bool,
    pub valid: Option<TagEvaluation>,
    pub test: Option<TagEvaluation>,
}

/// Fits every model of `kinds` (default params) on the train split and scores valid and test.
pub fn compare_token_label_models(
    kinds: &[TokenLabelModelKind],
    corpus: &TokenCorpus,
    votes: &Votes,
) -> Result<Vec<TokenCompareRow>> {
    let (train, _) = token_roles(corpus);
    let opts = TokenFitOptions { tags: Some(corpus.tags.clone()) };
    let at = |name: &str| corpus.splits.iter().position(|s| s.split == name);
    let mut rows = Vec::new();
    for &k in kinds {
        let t = std::time::Instant::now();
        let model = TokenParams::defaults(k).fit(votes.of(train), &corpus.splits[train].offsets, &opts)?;
        let fit_seconds = t.elapsed().as_secs_f64();
        let score = |name: &str| -> Result<Option<TagEvaluation>> {
            match at(name) {
                Some(j) => evaluate_token_split(&model, corpus, votes, j),
                None => Ok(None),
            }
        };
        rows.push(TokenCompareRow {
            model: k.name().into(),
            fit_seconds,
            iterations: model.info().iterations,
            converged: model.info().converged,
            valid: score("valid")?,
            test: score("test")?,
        });
    }
    Ok(rows)
}

/// The comparison as a Markdown table: span F1 (conlleval and strict chunking), precision,
/// recall and token micro F1 per split.
pub fn token_compare_markdown(corpus: &TokenCorpus, votes: &Votes, rows: &[TokenCompareRow]) -> String {
    let (train, _) = token_roles(corpus);
    let cell = |e: &Option<TagEvaluation>| {
        e.as_ref().map_or("-".to_string(), |e| {
            format!(
                "{:.3} / {:.3} (P {:.3} R {:.3}) tok {:.3}",
                e.span.micro.f1,
                e.span_strict.micro.f1,
                e.span.micro.precision,
                e.span.micro.recall,
                e.token.micro.f1
            )
        })
    };
    let mut md = format!(
        "{} — token label models fitted on {} ({} LFs, {} tags, scheme {}); span F1 conlleval / strict, precision and recall conlleval, token micro F1 without O\n\n| model | valid | test | fit (s) | EM iterations |\n|---|---|---|---|---|\n",
        corpus.splits[train].name,
        corpus.splits[train].split,
        votes.of(train).n_lfs(),
        corpus.tags.n_tags(),
        corpus.tags.scheme
    );
    for r in rows {
        md.push_str(&format!(
            "| {} | {} | {} | {:.3} | {}{} |\n",
            r.model,
            cell(&r.valid),
            cell(&r.test),
            r.fit_seconds,
            r.iterations,
            if r.converged { "" } else { " (stopped at max_iter)" }
        ));
    }
    md
}

/// The LF analysis of split `k`'s votes (against its gold tags where it has them).
pub fn token_analysis(corpus: &TokenCorpus, votes: &Votes, k: usize) -> crate::token::lf::TokenLfAnalysis {
    let (sp, v) = (&corpus.splits[k], &votes.splits[k]);
    crate::token::lf::analyze_tokens(
        &v.matrix,
        &sp.offsets,
        &corpus.tags,
        sp.gold.as_deref(),
        v.kinds.as_deref(),
        v.faults.as_deref(),
    )
}

/// Writes `<stem>.lf_summary.{txt,csv,json}` of a token LF analysis.
pub fn write_token_analysis(a: &crate::token::lf::TokenLfAnalysis, tags: &TagSet, stem: &Path) -> Result<()> {
    data::write_atomic(&data::with_suffix(stem, ".lf_summary.txt"), a.to_table(tags).as_bytes())?;
    data::write_atomic(&data::with_suffix(stem, ".lf_summary.csv"), a.to_csv(tags).as_bytes())?;
    data::write_json(&data::with_suffix(stem, ".lf_summary.json"), a)
}

/// What training a tagger did, and its scores per split.
#[derive(Debug, Clone, Serialize)]
pub struct TokenEndModelRun {
    /// `label_model` (its soft or hard tags on train) or `gold`.
    pub targets: String,
    /// The token label model used for the targets, when any.
    pub label_model: Option<String>,
    pub train_split: String,
    /// Training sentences (those with at least one word within the maximum length; with
    /// `drop_uncovered`, a covered one) and the words stage 1's loss weighs.
    pub train_sentences: usize,
    pub train_words: usize,
    /// `weak` (stage 1 only) or `cosine`.
    pub method: String,
    pub stage1: crate::train::TrainReport,
    /// COSINE: the stage-1 model's scores per split, before self-training changed it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stage1_splits: Vec<(String, Option<TagEvaluation>)>,
    /// COSINE: what stage 2 did (rounds over the pool's tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cosine: Option<crate::selftrain::SelfTrainReport>,
    /// Per split: span and token scores (None without gold tags) of the kept weights.
    pub splits: Vec<(String, Option<TagEvaluation>)>,
    pub seconds: f64,
}

/// A fitted tagger with its predictions: per split, a tag per word.
pub struct FittedTagger {
    pub model: crate::model::EndModel,
    pub run: TokenEndModelRun,
    pub corpus: TokenCorpus,
    pub predictions: Vec<Vec<Label>>,
    /// COSINE: the stage-1 model's tag per word, per split (empty for `weak`).
    pub stage1_predictions: Vec<Vec<Label>>,
}

/// A token corpus and what a tagger's targets come from: its votes and the fitted token label
/// model (`targets = label_model`), or neither (`targets = gold`).
pub struct TokenSupervision {
    pub corpus: TokenCorpus,
    pub weak: Option<(Votes, TokenSelected)>,
}

/// Loads `cfg.data` and, for `targets = label_model`, its votes and the fitted token label model.
pub fn token_supervision(
    cfg: &super::RunConfig,
    registry: &Registry,
    progress: &dyn Progress,
) -> Result<TokenSupervision> {
    match &cfg.targets {
        super::Targets::LabelModel => {
            let (corpus, votes) = load_tokens_with_votes(&cfg.data, &cfg.lfs, registry, progress)?;
            let sel = fit_token_label_model(&cfg.label_model, &corpus, &votes)?;
            Ok(TokenSupervision { corpus, weak: Some((votes, sel)) })
        }
        super::Targets::Gold => Ok(TokenSupervision { corpus: load_tokens(&cfg.data)?, weak: None }),
        other => Err(Error::Config(format!("targets `{other}` on token data: use label_model or gold"))),
    }
}

/// What `weaksup run` on token data did: per split its LF analysis, the label model's report, and
/// the tagger's run (none with `method = none`).
pub struct TokenRunOutputs {
    pub out: PathBuf,
    pub corpus: TokenCorpus,
    pub analyses: Vec<crate::token::lf::TokenLfAnalysis>,
    pub label_model: TokenLabelModelReport,
    pub tagger: Option<TokenEndModelRun>,
}

/// The whole sequence-labeling pipeline in one output folder, as `weaksup run` does for
/// classification: `config.toml`; per split `<split>.votes.parquet` and
/// `<split>.lf_summary.{txt,csv,json}`; the label model's files ([`write_token_label_model`]);
/// with a training method, the tagger's ([`write_tagger`]); and `report.md`. With `resume`, a
/// killed run's tagger checkpoint is continued.
pub fn run_tokens(
    resolved: &super::ResolvedRun,
    registry: &Registry,
    resume: bool,
    progress: &dyn Progress,
) -> Result<TokenRunOutputs> {
    let (cfg, seeds) = (&resolved.config, &resolved.seeds);
    let (corpus, votes) = load_tokens_with_votes(&cfg.data, &cfg.lfs, registry, progress)?;
    let out = data::OutputDir::prepare(&cfg.out, "run", if resume { &["*"] } else { &[] })?;
    data::write_atomic(&cfg.out.join("config.toml"), cfg.to_toml().as_bytes())?;
    let names = corpus.tags.tag_names();
    let mut analyses = Vec::with_capacity(corpus.splits.len());
    for (k, (sp, v)) in corpus.splits.iter().zip(&votes.splits).enumerate() {
        v.matrix.write_parquet(&cfg.out.join(format!("{}.votes.parquet", sp.split)), &names)?;
        let a = token_analysis(&corpus, &votes, k);
        write_token_analysis(&a, &corpus.tags, &cfg.out.join(&sp.split))?;
        analyses.push(a);
    }
    let sel = fit_token_label_model(&cfg.label_model, &corpus, &votes)?;
    let label_model = write_token_label_model(&sel, &corpus, &votes, &cfg.out)?;
    let (corpus, tagger) = match &resolved.end_model {
        None => (corpus, None),
        Some(end_model) => {
            let weak = (cfg.targets == super::Targets::LabelModel).then_some((votes, sel));
            let sup = TokenSupervision { corpus, weak };
            let ckpt = crate::train::checkpoint_path(&cfg.out);
            let fitted = fit_token_end_model(cfg, end_model, seeds, sup, Some((&ckpt, resume)), progress)?;
            write_tagger(&fitted, &cfg.out)?;
            (fitted.corpus, Some(fitted.run))
        }
    };
    let outputs = TokenRunOutputs { out: cfg.out.clone(), corpus, analyses, label_model, tagger };
    data::write_atomic(&cfg.out.join("report.md"), token_run_markdown(&outputs).as_bytes())?;
    out.finish()?;
    Ok(outputs)
}

/// `report.md` of a token run: the LF analysis per split, the label model's and the tagger's
/// scores.
pub fn token_run_markdown(o: &TokenRunOutputs) -> String {
    use std::fmt::Write as _;
    let mut md = String::from("# weaksup run (sequence labeling)\n\n");
    let _ = writeln!(md, "Tags ({}): {}\n", o.corpus.tags.scheme, o.corpus.tags.tag_names().join(", "));
    for (sp, a) in o.corpus.splits.iter().zip(&o.analyses) {
        let _ = writeln!(
            md,
            "## LFs on {} ({} sentences, {} tokens)\n\n```\n{}\n```\n",
            sp.split,
            sp.n_sentences(),
            sp.n_tokens(),
            a.to_table(&o.corpus.tags).trim_end()
        );
    }
    let (train, _) = token_roles(&o.corpus);
    let _ =
        writeln!(md, "## Label model\n\n```\n{}```\n", o.label_model.summary(&o.corpus.splits[train].split));
    if let Some(t) = &o.tagger {
        let _ = writeln!(md, "## Tagger ({}, targets {})\n", t.method, t.targets);
        let mut rows = Vec::new();
        for (split, e) in &t.stage1_splits {
            if let Some(e) = e {
                rows.push(format!("| stage 1 | {split} | {} |", e.summary()));
            }
        }
        for (split, e) in &t.splits {
            if let Some(e) = e {
                rows.push(format!("| {} | {split} | {} |", t.method, e.summary()));
            }
        }
        let _ = writeln!(md, "| model | split | scores |\n|---|---|---|\n{}\n", rows.join("\n"));
    }
    md
}

/// Trains a token-classification end model on the token corpus of `cfg.data`: stage 1
/// (`method = weak`) on targets from the token label model over its LFs' votes
/// (`targets = label_model`, soft with `soft = true`) or the gold tags (`targets = gold`), early
/// stopped on valid span F1; with `method = cosine`, then COSINE's stage 2 over the training
/// sentences' tokens (and the `unlabeled` split's with `cosine.unlabeled`), the best weights of
/// either stage kept; then predicts every split.
/// With `checkpoint` (`(folder, resume)`), training checkpoints there and `resume` continues a
/// checkpoint of the same run (its [`tagger_fingerprint`]; another run's is refused).
pub fn fit_token_end_model(
    cfg: &super::RunConfig,
    end_model: &crate::model::ResolvedEndModel,
    seeds: &weaksup_core::seeds::Seeds,
    sup: TokenSupervision,
    checkpoint: Option<(&Path, bool)>,
    progress: &dyn Progress,
) -> Result<FittedTagger> {
    use super::Method;
    use crate::model::Head;
    use crate::train::{self, EvalSet, SpanEval, TrainConfig, TrainSet, Units};
    if !matches!(cfg.method, Method::Weak | Method::Cosine) {
        return Err(Error::Config(format!(
            "method `{}` on token data: a tagger trains with `weak` (stage 1) or `cosine`",
            cfg.method
        )));
    }
    let cosine = (cfg.method == Method::Cosine).then_some(&cfg.cosine);
    // The config was checked by `RunConfig::resolve`, and `selftrain::cosine` checks it again.
    if let Some(c) = cosine
        && c.lambda_scale == crate::selftrain::LambdaScale::Classes
        && c.lambda > 0.0
    {
        tracing::warn!(
            "cosine.lambda_scale = classes weighs R_conf by λ·C per word; on MIT-R (9 tags) stage 2 collapsed with it within 4 rounds: --lambda-scale one (docs/sequence_labeling.md)"
        );
    }
    let started = std::time::Instant::now();
    // The label model's distributions on the training split's words, and which words an LF voted on.
    let TokenSupervision { corpus, weak } = sup;
    let (lm_proba, lm_name, covered) = match &weak {
        Some((votes, sel)) => {
            let (train, _) = token_roles(&corpus);
            let proba = sel.model.predict_proba(votes.of(train), &corpus.splits[train].offsets)?;
            (Some(proba), Some(sel.model.name().to_string()), Some(votes.of(train).covered()))
        }
        None => (None, None, None),
    };
    let (train, dev) = token_roles(&corpus);
    let tags = &corpus.tags;
    let c = tags.n_tags();
    let mut model = end_model.build_head(c as i64, seeds.init(), Head::Token)?;
    let encoded: Vec<crate::train::Encoded> = corpus
        .splits
        .iter()
        .map(|sp| {
            let words: Vec<&[String]> = (0..sp.n_sentences()).map(|s| sp.sentence(s)).collect();
            model.encode_words(&words)
        })
        .collect::<Result<_>>()?;
    // Targets: a distribution per scored word of the training sentences that have one.
    let sp = &corpus.splits[train];
    let enc = &encoded[train];
    // With `drop_uncovered`, stage 1 weighs the words no LF voted on 0 and skips sentences
    // without a covered word.
    let keep = covered.as_ref().filter(|_| cfg.drop_uncovered);
    let rows: Vec<usize> = (0..enc.len())
        .filter(|&i| enc.units(i) > 0)
        .filter(|&i| keep.is_none_or(|k| enc.scored_words(i).any(|w| k[sp.offsets[i] + w])))
        .collect();
    let units = Units::of(enc, rows.iter().copied());
    // Hard targets: the label model's most probable tag (as `TokenFitted::predict`), or gold.
    let hard: Option<Vec<Label>> = match &lm_proba {
        Some(_) if cfg.soft => None,
        Some(p) => Some(argmax_rows(p)),
        None => Some(sp.gold.clone().ok_or_else(|| {
            Error::Config(format!("targets = gold, but split `{}` has no gold tags", sp.split))
        })?),
    };
    let mut targets = Vec::with_capacity(units.total() * c);
    for &i in &rows {
        for w in enc.scored_words(i) {
            let t = sp.offsets[i] + w;
            if let Some(h) = &hard {
                targets.extend((0..c).map(|j| if j == h[t] as usize { 1.0f32 } else { 0.0 }));
            } else if let Some(p) = &lm_proba {
                targets.extend(p.row(t).iter().map(|&x| x as f32));
            }
        }
    }
    let weights: Option<Vec<f32>> = keep.map(|k| {
        rows.iter()
            .flat_map(|&i| enc.scored_words(i).map(move |w| f32::from(u8::from(k[sp.offsets[i] + w]))))
            .collect()
    });
    let set = TrainSet { encoded: enc, rows: rows.clone(), targets, weights };
    let dev_gold: Option<Vec<u32>> = dev.map(|k| {
        let (d, g) = (&encoded[k], corpus.splits[k].gold.as_deref().unwrap_or_default());
        (0..d.len())
            .flat_map(|i| d.scored_words(i).map(move |w| (i, w)))
            .map(|(i, w)| g[corpus.splits[k].offsets[i] + w] as u32)
            .collect()
    });
    let valid = dev.zip(dev_gold).map(|(k, gold)| EvalSet {
        encoded: &encoded[k],
        gold,
        spans: Some(SpanEval {
            tags,
            offsets: &corpus.splits[k].offsets,
            gold: corpus.splits[k].gold.as_deref().unwrap_or_default(),
        }),
    });
    if valid.is_none() {
        tracing::warn!("no valid split with gold tags: no early stopping, the final weights are kept");
    }
    let train_cfg = TrainConfig { seed: seeds.trainer(), ..cfg.train.clone() };
    if let Some((dir, resume)) = checkpoint {
        tagger_fingerprint(&corpus, &set, &end_model.config, &train_cfg, cosine)
            .check_or_record(dir, resume)?;
    }
    // Every split's predicted tag per word, and its scores where it has gold.
    type Scored = (Vec<Vec<Label>>, Vec<(String, Option<TagEvaluation>)>);
    let predict_all = |model: &crate::model::EndModel| -> Result<Scored> {
        let mut predictions = Vec::with_capacity(corpus.splits.len());
        let mut splits = Vec::with_capacity(corpus.splits.len());
        for (k, sp) in corpus.splits.iter().enumerate() {
            let units = train::predict(model, &encoded[k], train_cfg.batch_size.max(64), train_cfg.padding)?;
            let pred = train::word_tags(&encoded[k], &units, sp.n_tokens());
            splits.push((
                sp.split.clone(),
                sp.gold.as_ref().map(|g| evaluate_tags(g, &pred, &sp.offsets, tags)),
            ));
            predictions.push(pred);
        }
        Ok((predictions, splits))
    };
    // The fingerprint sits beside the trainers' own checkpoint folders, which they rewrite.
    let (report, (stage1_predictions, stage1_splits), stage2) = match cosine {
        None => {
            let stage1 = checkpoint.map(|(dir, _)| dir.join("stage1"));
            let report =
                train::train(&mut model, &set, valid.as_ref(), &train_cfg, stage1.as_deref(), progress)?;
            (report, (Vec::new(), Vec::new()), None)
        }
        Some(cos) => {
            let pool = token_pool(&corpus, &encoded, train, cos.unlabeled);
            let set = TrainSet { encoded: &pool.encoded, ..set.clone() };
            let data = crate::selftrain::CosineData {
                stage1: &set,
                pool: &pool.rows,
                gold: Some(&pool.gold),
                valid: valid.as_ref(),
            };
            let run = crate::selftrain::CosineRun {
                train: &train_cfg,
                cosine: cos,
                checkpoint_dir: checkpoint.map(|(dir, _)| dir),
                progress,
            };
            let mut stage1 = (Vec::new(), Vec::new());
            let mut score_stage1 = |m: &crate::model::EndModel| -> Result<()> {
                stage1 = predict_all(m)?;
                Ok(())
            };
            let r = crate::selftrain::cosine(&mut model, data, run, &mut score_stage1)?;
            (r.stage1, stage1, Some(r.stage2))
        }
    };
    let (predictions, splits) = predict_all(&model)?;
    let run = TokenEndModelRun {
        targets: cfg.targets.to_string(),
        label_model: lm_name,
        train_split: corpus.splits[train].split.clone(),
        train_sentences: rows.len(),
        train_words: set
            .weights
            .as_ref()
            .map_or(set.targets.len() / c, |w| w.iter().filter(|&&x| x > 0.0).count()),
        method: cfg.method.to_string(),
        stage1: report,
        stage1_splits,
        cosine: stage2,
        splits,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok(FittedTagger { model, run, corpus, predictions, stage1_predictions })
}

/// COSINE's pseudo-label pool on token data: the training split's sentences with a scored word,
/// then (with `unlabeled`) the `unlabeled` split's, over one encoded set, and the gold tag of
/// every unit of that set where the split has gold.
struct TokenPool {
    encoded: crate::train::Encoded,
    rows: Vec<usize>,
    gold: Vec<Option<u32>>,
}

fn token_pool(
    corpus: &TokenCorpus,
    encoded: &[crate::train::Encoded],
    train: usize,
    unlabeled: bool,
) -> TokenPool {
    let extra = corpus.splits.iter().position(|s| s.split == data::UNLABELED).filter(|&k| k != train);
    if unlabeled && extra.is_none() {
        tracing::warn!(
            "cosine.unlabeled is set but the data has no `unlabeled` split: the pool is the training split"
        );
    }
    let parts: Vec<usize> = std::iter::once(train).chain(extra.filter(|_| unlabeled)).collect();
    let mut enc = encoded[train].clone();
    for &k in &parts[1..] {
        enc = enc.concat(&encoded[k]);
    }
    let (mut rows, mut gold, mut base) = (Vec::new(), Vec::new(), 0);
    for &k in &parts {
        let (e, sp) = (&encoded[k], &corpus.splits[k]);
        for i in 0..e.len() {
            if e.units(i) > 0 {
                rows.push(base + i);
            }
            gold.extend(e.scored_words(i).map(|w| sp.gold.as_ref().map(|g| g[sp.offsets[i] + w] as u32)));
        }
        base += e.len();
    }
    TokenPool { encoded: enc, rows, gold }
}

/// Writes a tagger's outputs: `model/` (Hugging Face files + `weaksup.json`),
/// `<split>.predictions.parquet` (a row per sentence: `tokens`, `tags`, `pred`), after COSINE the
/// stage-1 model's as `<split>.stage1.predictions.parquet`, and `metrics.json`.
pub fn write_tagger(f: &FittedTagger, out: &Path) -> Result<()> {
    let names = f.corpus.tags.tag_names();
    f.model.save(&out.join("model"), &names)?;
    for (sp, pred) in f.corpus.splits.iter().zip(&f.predictions) {
        let mut frame = token_frame(sp, &f.corpus.tags, Some(pred), None)?;
        data::write_parquet(&mut frame, &out.join(format!("{}.predictions.parquet", sp.split)))?;
    }
    for (sp, pred) in f.corpus.splits.iter().zip(&f.stage1_predictions) {
        let mut frame = token_frame(sp, &f.corpus.tags, Some(pred), None)?;
        data::write_parquet(&mut frame, &out.join(format!("{}.stage1.predictions.parquet", sp.split)))?;
    }
    data::write_json(&out.join("metrics.json"), &f.run)
}

/// What a tagger's training depends on: every split's source, size and a hash of its tokens and
/// gold tags, the tag names, a hash of the training rows and targets, the model and every
/// training setting but `checkpoint_every`.
pub fn tagger_fingerprint(
    corpus: &TokenCorpus,
    set: &crate::train::TrainSet,
    model: &crate::model::EndModelConfig,
    train: &crate::train::TrainConfig,
    cosine: Option<&crate::selftrain::CosineConfig>,
) -> crate::train::checkpoint::Fingerprint {
    use crate::data::{FNV_OFFSET, fnv1a64};
    let mut f: Vec<(String, String)> = vec![("task".into(), "tagging".into())];
    for sp in &corpus.splits {
        let k = format!("data.{}", sp.split);
        if let Some(p) = &sp.source {
            f.push((format!("{k}.path"), p.display().to_string()));
        }
        f.push((format!("{k}.tokens"), sp.n_tokens().to_string()));
        let mut h = FNV_OFFSET;
        for o in &sp.offsets {
            h = fnv1a64(&(*o as u64).to_le_bytes(), h);
        }
        for t in &sp.tokens {
            h = fnv1a64(t.as_bytes(), fnv1a64(&[0xff], h));
        }
        for g in sp.gold.iter().flatten() {
            h = fnv1a64(&g.to_le_bytes(), h);
        }
        f.push((format!("{k}.content_fnv1a64"), format!("{h:016x}")));
    }
    f.push(("tags".into(), corpus.tags.tag_names().join(", ")));
    let mut h = FNV_OFFSET;
    for r in &set.rows {
        h = fnv1a64(&(*r as u64).to_le_bytes(), h);
    }
    for t in set.targets.iter().chain(set.weights.iter().flatten()) {
        h = fnv1a64(&t.to_bits().to_le_bytes(), h);
    }
    f.push(("targets.rows".into(), set.rows.len().to_string()));
    f.push(("targets.fnv1a64".into(), format!("{h:016x}")));
    f.push(("end_model.model".into(), model.model.to_string()));
    f.push(("end_model.precision".into(), model.precision.to_string()));
    f.push(("end_model.max_len".into(), model.max_len.to_string()));
    f.push(("seed".into(), train.seed.to_string()));
    let train = crate::train::TrainConfig { checkpoint_every: 0, ..train.clone() };
    f.push(("train".into(), serde_json::to_string(&train).unwrap_or_default()));
    f.push(("method".into(), if cosine.is_some() { "cosine" } else { "weak" }.into()));
    if let Some(c) = cosine {
        f.push(("cosine".into(), serde_json::to_string(c).unwrap_or_default()));
    }
    crate::train::checkpoint::Fingerprint(f)
}
