//! `batch label` and `batch predict` on token data (sequence labeling): one sentence per record,
//! its tokens read from the text column ([`TextKind::Tokens`]: a JSON array or Parquet list of
//! strings, or a string split at whitespace). Every part holds one row per sentence with list
//! columns, a value per token:
//! - `label`: `tokens`, one Int16 vote list per LF (-1 = abstain), `prob_<tag>` (Float64),
//!   `label` (the most probable tag's name, ties to the lowest tag id as in `label-model fit`) and
//!   `covered` (some LF voted on the token);
//! - `predict`: `tokens`, `prob_<tag>` (Float32; null for a word the model's maximum length cut)
//!   and `pred` (tag names; `O` for a cut word, as `weaksup predict` does).

use std::path::Path;

use polars::prelude::*;
use serde::Deserialize;

use super::{Columns, Job};
use crate::data::records::{TextKind, sliced_lists, token_lists};
use crate::error::{Error, Result, TorchContext};
use crate::label_model::Proba;
use crate::lf::{ApplyOptions, Registry};
use crate::matrix::Label;
use crate::progress::NoProgress;
use crate::token::label_model::{TokenFitted, argmax_rows};
use crate::token::lf::{CompiledTokenLfs, TokenLfFile};
use crate::token::{TagScheme, TagSet};
use crate::train::{self, EndModel, Padding};

/// Whether `path` is a token LF file (its header names `types`, not `classes`).
pub fn is_token_lf_file(path: &Path) -> Result<bool> {
    let text = crate::data::read_utf8(path)?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        Error::parse(path, None, None, format!("not a TOML LF file: {}", e.message()))
    })?;
    Ok(table.contains_key("types") && !table.contains_key("classes"))
}

/// What `label-model fit` on token data wrote beside `label_model.json`: the tag names (the
/// model's tag ids) and the LF names (its vote columns).
#[derive(Deserialize)]
struct TokenModelMeta {
    tags: Vec<String>,
    lf_names: Vec<String>,
}

/// The token LFs and label model of a `batch label` run, checked against each other.
pub(super) struct TokenLabelJob {
    compiled: CompiledTokenLfs,
    model: TokenFitted,
    apply: ApplyOptions,
}

impl TokenLabelJob {
    /// Loads the token LF files and the token label model at `lm_path` (its
    /// `label_model.metrics.json` names the tags and LFs it was fitted on), and returns the job
    /// with the settings a resumed run must share.
    pub(super) fn load(
        lfs: &[std::path::PathBuf],
        lm_path: &Path,
        registry: &Registry,
        apply: ApplyOptions,
    ) -> Result<(Self, serde_json::Value)> {
        let model = TokenFitted::load(lm_path).map_err(|e| {
            Error::invalid(
                lm_path.display().to_string(),
                format!("token LF files need a token label model (`label-model fit` on token data): {e}"),
            )
        })?;
        let meta_path = lm_path.with_file_name("label_model.metrics.json");
        if !meta_path.is_file() {
            return Err(Error::invalid(
                meta_path.display().to_string(),
                "missing: a token label model is read with the label_model.metrics.json `weaksup label-model fit` writes beside it (its tag and LF names)",
            ));
        }
        let meta: TokenModelMeta = crate::data::read_json(&meta_path)?;
        let tags = TagSet::from_tag_names(&meta.tags)?;
        if tags.tag_names() != meta.tags {
            return Err(Error::parse(
                &meta_path,
                None,
                Some("tags"),
                format!("[{}] is not a tag set in canonical order", meta.tags.join(", ")),
            ));
        }
        let (set, _) = TokenLfFile::load_set(lfs, Some(&tags), TagScheme::default(), registry)?;
        let compiled = set.compile()?;
        if compiled.names() != meta.lf_names {
            return Err(Error::invalid(
                lm_path.display().to_string(),
                format!(
                    "fitted on the LFs [{}], given [{}]: pass the LF files the model was fitted with, in the same order",
                    meta.lf_names.join(", "),
                    compiled.names().join(", ")
                ),
            ));
        }
        if model.n_tags() != tags.n_tags() || model.n_lfs() != compiled.names().len() {
            return Err(Error::invalid(
                lm_path.display().to_string(),
                format!(
                    "a model of {} LFs × {} tags does not match {} [{}]",
                    model.n_lfs(),
                    model.n_tags(),
                    meta_path.display(),
                    meta.tags.join(", ")
                ),
            ));
        }
        let settings = serde_json::json!({
            "task": "tokens",
            "label_model": super::fingerprint(lm_path)?,
            "label_model_meta": super::fingerprint(&meta_path)?,
            "lf_names": meta.lf_names,
            "tags": meta.tags,
            "model": model.name(),
        });
        Ok((Self { compiled, model, apply }, settings))
    }

    /// Output column names, which the id column must not take.
    pub(super) fn output_names(&self) -> Vec<String> {
        let mut names = vec!["tokens".to_string(), "label".into(), "covered".into()];
        names.extend(self.compiled.names().iter().cloned());
        names.extend(self.compiled.tags().tag_names().iter().map(|t| format!("prob_{t}")));
        names
    }
}

/// A chunk's sentences as a token split (flat tokens and sentence offsets).
fn sentences_of(frame: &DataFrame) -> Result<crate::token::TokenSplit> {
    crate::token::TokenSplit::from_sentences("batch", "batch", token_lists(frame)?, None)
}

/// A list column of one list per sentence, `value(i)` for each token `i` of it.
fn per_token<T>(name: &str, offsets: &[usize], value: impl Fn(usize) -> T) -> Column
where
    Series: NamedFrom<Vec<T>, [T]>,
{
    let n = offsets.last().copied().unwrap_or(0);
    sliced_lists(name, Series::new(PlSmallStr::EMPTY, (0..n).map(value).collect::<Vec<T>>()), offsets)
}

impl Job for TokenLabelJob {
    fn columns(&self) -> Columns {
        Columns::Named(Vec::new())
    }
    fn text_kind(&self) -> TextKind {
        TextKind::Tokens
    }
    fn process(&mut self, frame: &DataFrame, _part: (usize, u64)) -> Result<Vec<Column>> {
        let split = sentences_of(frame)?;
        let (tokens, offsets) = (&split.tokens, &split.offsets);
        let applied = self.compiled.apply_split(&split, &self.apply, &NoProgress)?;
        let votes = &applied.matrix;
        let proba = self.model.predict_proba(votes, offsets)?;
        let hard = argmax_rows(&proba);
        let covered = votes.covered();
        let names = self.compiled.tags().tag_names();
        let mut cols = vec![per_token("tokens", offsets, |i| tokens[i].clone())];
        for (j, lf) in self.compiled.names().iter().enumerate() {
            cols.push(per_token(lf, offsets, |i| votes.row(i)[j]));
        }
        cols.extend(prob_columns(&names, offsets, &proba));
        cols.push(per_token("label", offsets, |i| names[hard[i] as usize].clone()));
        cols.push(per_token("covered", offsets, |i| covered[i]));
        Ok(cols)
    }
}

/// `prob_<tag>` list columns of a label model's per-token distributions.
fn prob_columns(names: &[String], offsets: &[usize], proba: &Proba) -> Vec<Column> {
    (0..names.len()).map(|k| per_token(&format!("prob_{}", names[k]), offsets, |i| proba.row(i)[k])).collect()
}

/// A tagger's tag distribution for every word of `sentences`, in order; `None` for a word the
/// model's maximum length cut.
pub fn word_distributions(
    model: &EndModel,
    sentences: &[&[String]],
    batch_size: usize,
) -> Result<Vec<Option<Vec<f32>>>> {
    let n: usize = sentences.iter().map(|s| s.len()).sum();
    let mut out: Vec<Option<Vec<f32>>> = vec![None; n];
    if sentences.is_empty() {
        return Ok(out);
    }
    let c = model.n_classes() as usize;
    let enc = model.encode_words(sentences)?;
    let p = train::predict_proba(model, &enc, batch_size, Padding::Bucketed)?;
    let flat = Vec::<f32>::try_from(p.flatten(0, -1)).ctx(|| "tag probabilities".into())?;
    let (mut u, mut base) = (0, 0);
    for (i, s) in sentences.iter().enumerate() {
        for w in enc.scored_words(i) {
            out[base + w] = Some(flat[u * c..(u + 1) * c].to_vec());
            u += 1;
        }
        base += s.len();
    }
    Ok(out)
}

/// Each word's most probable tag (the first maximum, as `train::predict`'s argmax); `O` for a
/// word without a distribution.
pub fn most_probable(proba: &[Option<Vec<f32>>]) -> Vec<Label> {
    proba
        .iter()
        .map(|p| {
            p.as_ref().map_or(crate::token::OUTSIDE, |p| {
                p.iter().enumerate().fold(0, |b, (k, &x)| if x > p[b] { k } else { b }) as Label
            })
        })
        .collect()
}

/// `prob_<tag>` list columns of a tagger's per-word distributions (null for a cut word).
pub fn tagger_prob_columns(tags: &[String], offsets: &[usize], proba: &[Option<Vec<f32>>]) -> Vec<Column> {
    (0..tags.len())
        .map(|k| per_token(&format!("prob_{}", tags[k]), offsets, |i| proba[i].as_ref().map(|p| p[k])))
        .collect()
}

/// A tagger over token records.
pub(super) struct TokenPredictJob {
    pub(super) model: EndModel,
    /// Tag names, the model's output order.
    pub(super) tags: Vec<String>,
    pub(super) batch_size: usize,
}

impl Job for TokenPredictJob {
    fn columns(&self) -> Columns {
        Columns::Named(Vec::new())
    }
    fn text_kind(&self) -> TextKind {
        TextKind::Tokens
    }
    fn process(&mut self, frame: &DataFrame, _part: (usize, u64)) -> Result<Vec<Column>> {
        let split = sentences_of(frame)?;
        let (tokens, offsets) = (&split.tokens, &split.offsets);
        let words: Vec<&[String]> = (0..split.n_sentences()).map(|s| split.sentence(s)).collect();
        let proba = word_distributions(&self.model, &words, self.batch_size)?;
        let pred = most_probable(&proba);
        let mut cols = vec![per_token("tokens", offsets, |i| tokens[i].clone())];
        cols.extend(tagger_prob_columns(&self.tags, offsets, &proba));
        cols.push(per_token("pred", offsets, |i| self.tags[pred[i] as usize].clone()));
        Ok(cols)
    }
}
