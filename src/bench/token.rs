//! Bench cells on token data (sequence labeling): the token label model alone, a tagger on its
//! tags (stage 1), COSINE at token level, and a tagger on gold tags, scored by span or token F1
//! on test. The composition is the token pipeline's ([`crate::run::token`]), as `weaksup run`
//! uses it; the clean-valid baseline is not built for taggers and is left out of token datasets.

use std::time::Instant;

use super::{BenchDataset, BenchMethod, Cell, ResolvedBench};
use crate::error::{Error, Result};
use crate::lf::Registry;
use crate::progress::NoProgress;
use crate::run::pipeline::{Method, Votes};
use crate::run::token::{self as pipeline, TokenEndModelRun, TokenSupervision};
use crate::run::{DataConfig, RunConfig, Targets};
use crate::token::{TagEvaluation, TokenCorpus};
use weaksup_core::seeds::Seeds;

/// A token dataset loaded once: the corpus and its votes.
pub(super) struct TokenData {
    data: DataConfig,
    corpus: TokenCorpus,
    votes: Votes,
    test: usize,
}

pub(super) fn load(d: &BenchDataset, data: DataConfig, registry: &Registry) -> Result<TokenData> {
    if d.metric.classification().is_some() {
        return Err(Error::Config(format!(
            "dataset `{}` holds token data: set metric = \"span_f1\" or \"token_f1\" (not {})",
            d.name,
            d.metric.name()
        )));
    }
    let (corpus, votes) = pipeline::load_tokens_with_votes(&data, &d.lfs, registry, &NoProgress)?;
    let test = corpus
        .splits
        .iter()
        .position(|s| s.split == "test" && s.gold.is_some())
        .ok_or_else(|| Error::Config(format!("dataset `{}`: no `test` split with gold tags", d.name)))?;
    Ok(TokenData { data, corpus, votes, test })
}

/// The cells of one seed still missing, each handed to `emit` when done.
pub(super) fn run_seed(
    b: &ResolvedBench,
    d: &BenchDataset,
    l: &TokenData,
    seed: u64,
    todo: &[BenchMethod],
    emit: &mut dyn FnMut(Cell) -> Result<()>,
) -> Result<()> {
    let cfg = &b.config;
    let seeds = Seeds::new(seed);
    let (train, dev) = pipeline::token_roles(&l.corpus);
    let n_valid = dev.map_or(0, |k| l.corpus.splits[k].n_sentences());
    let n_train = l.corpus.splits[train].n_sentences();
    let test_name = l.corpus.splits[l.test].split.clone();
    let cell = |method, e: TagEvaluation, valid, labelled_rows, train_rows, seconds| -> Result<Cell> {
        Ok(Cell {
            dataset: d.name.clone(),
            method,
            seed,
            metric: d.metric,
            score: Some(d.metric.of_tags(&e).ok_or_else(|| Error::Config("not a token metric".into()))?),
            test: None,
            tags: Some(e),
            valid,
            labelled_rows,
            train_rows,
            seconds,
            error: None,
        })
    };
    let t = Instant::now();
    let sel = pipeline::fit_token_label_model(&cfg.label_model, &l.corpus, &l.votes)?;
    let lm_seconds = t.elapsed().as_secs_f64();
    if todo.contains(&BenchMethod::LabelModel) {
        let e = pipeline::evaluate_token_split(&sel.model, &l.corpus, &l.votes, l.test)?
            .ok_or_else(|| Error::Config("no test tags".into()))?;
        emit(cell(BenchMethod::LabelModel, e, sel.dev_score, n_valid, n_train, lm_seconds)?)?;
    }
    let end_model = || -> Result<crate::model::ResolvedEndModel> {
        let grid = b.end_model.as_ref().ok_or_else(|| Error::Config("no end model resolved".into()))?;
        d.end_model(grid)
    };
    let tagger = |method: Method, targets: Targets| -> Result<TokenEndModelRun> {
        let run = RunConfig {
            seed,
            data: l.data.clone(),
            lfs: d.lfs.clone(),
            label_model: cfg.label_model.clone(),
            method,
            targets: targets.clone(),
            end_model: cfg.end_model.clone(),
            train: d.train_config(&cfg.train)?,
            cosine: d.cosine_config(&cfg.cosine)?,
            ..RunConfig::default()
        };
        let weak = (targets == Targets::LabelModel).then(|| (l.votes.clone(), sel.clone()));
        let sup = TokenSupervision { corpus: l.corpus.clone(), weak };
        Ok(pipeline::fit_token_end_model(&run, &end_model()?, &seeds, sup, None, &NoProgress)?.run)
    };
    let on_test = |splits: &[(String, Option<TagEvaluation>)]| -> Result<TagEvaluation> {
        splits
            .iter()
            .find(|(s, _)| *s == test_name)
            .and_then(|(_, e)| e.clone())
            .ok_or_else(|| Error::Config("no test scores".into()))
    };
    let (want_weak, want_cos) = (todo.contains(&BenchMethod::Weak), todo.contains(&BenchMethod::Cosine));
    if want_weak || want_cos {
        // One COSINE run gives both: its stage 1 is the weak-label cell (same seed, same steps).
        let r = tagger(if want_cos { Method::Cosine } else { Method::Weak }, Targets::LabelModel)?;
        let stage2_seconds = r.cosine.as_ref().map_or(0.0, |c| c.seconds);
        if want_weak {
            let e = on_test(if want_cos { &r.stage1_splits } else { &r.splits })?;
            let secs = lm_seconds + r.seconds - stage2_seconds;
            emit(cell(BenchMethod::Weak, e, r.stage1.best_score, n_valid, r.train_sentences, secs)?)?;
        }
        if want_cos {
            let best = r.cosine.as_ref().and_then(|c| c.best_score);
            let e = on_test(&r.splits)?;
            emit(cell(BenchMethod::Cosine, e, best, n_valid, r.train_sentences, lm_seconds + r.seconds)?)?;
        }
    }
    if todo.contains(&BenchMethod::Gold) {
        let r = tagger(Method::Weak, Targets::Gold)?;
        let e = on_test(&r.splits)?;
        let labelled = n_valid + r.train_sentences;
        emit(cell(BenchMethod::Gold, e, r.stage1.best_score, labelled, r.train_sentences, r.seconds)?)?;
    }
    Ok(())
}
