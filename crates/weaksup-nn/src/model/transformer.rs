//! Transformer encoders (BERT / MiniLM, RoBERTa, DistilBERT) built with Hugging Face tensor names, so
//! `model.safetensors` checkpoints load without conversion, plus a classification head on a
//! pooled representation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::nn::{self, Init};
use tch::{Device, Kind, Tensor};
use weaksup_core::data::ModelInput;

use super::dropout::dropout;
use super::{Head, Output, Pooling, Precision, TokenBatch, linear, linear_keep};
use crate::error::{Context, Error, Result};

/// The fields of a Hugging Face `config.json` that define the architecture (others are ignored).
/// DistilBERT's names (`dim`, `n_layers`, `n_heads`, `hidden_dim`, `dropout`, `attention_dropout`,
/// `activation`) are read as aliases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformerConfig {
    /// `bert` (BERT, MiniLM), `roberta` or `distilbert`.
    pub model_type: String,
    pub vocab_size: i64,
    #[serde(alias = "dim")]
    pub hidden_size: i64,
    #[serde(alias = "n_layers")]
    pub num_hidden_layers: i64,
    #[serde(alias = "n_heads")]
    pub num_attention_heads: i64,
    #[serde(alias = "hidden_dim")]
    pub intermediate_size: i64,
    pub max_position_embeddings: i64,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: i64,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_dropout", alias = "dropout")]
    pub hidden_dropout_prob: f64,
    #[serde(default = "default_dropout", alias = "attention_dropout")]
    pub attention_probs_dropout_prob: f64,
    #[serde(default)]
    pub pad_token_id: i64,
    #[serde(default = "default_act", alias = "activation")]
    pub hidden_act: String,
}

/// Where each tensor lives in a checkpoint of a given architecture.
struct Names {
    layers: &'static str,
    query: &'static str,
    key: &'static str,
    value: &'static str,
    attn_out: &'static str,
    attn_norm: &'static str,
    inter: &'static str,
    out: &'static str,
    out_norm: &'static str,
    token_types: bool,
}

impl Names {
    fn of(model_type: &str) -> Self {
        match model_type {
            "distilbert" => Names {
                layers: "transformer.layer",
                query: "attention.q_lin",
                key: "attention.k_lin",
                value: "attention.v_lin",
                attn_out: "attention.out_lin",
                attn_norm: "sa_layer_norm",
                inter: "ffn.lin1",
                out: "ffn.lin2",
                out_norm: "output_layer_norm",
                token_types: false,
            },
            _ => Names {
                layers: "encoder.layer",
                query: "attention.self.query",
                key: "attention.self.key",
                value: "attention.self.value",
                attn_out: "attention.output.dense",
                attn_norm: "attention.output.LayerNorm",
                inter: "intermediate.dense",
                out: "output.dense",
                out_norm: "output.LayerNorm",
                token_types: true,
            },
        }
    }
}

/// `root / "a.b.c"`.
fn sub<'a>(root: &nn::Path<'a>, dotted: &str) -> nn::Path<'a> {
    dotted.split('.').fold(root.clone(), |p, part| &p / part)
}

fn default_type_vocab() -> i64 {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_dropout() -> f64 {
    0.1
}
fn default_act() -> String {
    "gelu".into()
}

impl TransformerConfig {
    /// Reads `config.json`; unknown `model_type`s are rejected.
    pub fn load(path: &Path) -> Result<Self> {
        let cfg: Self = crate::data::read_json(path)?;
        cfg.validate().map_err(|(field, msg)| Error::parse(path, None, Some(field), msg))?;
        Ok(cfg)
    }

    /// Checks every value before any tensor is allocated: a corrupt or hostile `config.json`
    /// (zero heads, a billion layers) is an error naming the field, not a crash or an abort.
    pub fn validate(&self) -> std::result::Result<(), (&'static str, String)> {
        if !["bert", "roberta", "distilbert"].contains(&self.model_type.as_str()) {
            return Err((
                "model_type",
                format!("`{}` is not supported (bert, roberta, distilbert)", self.model_type),
            ));
        }
        let limits: [(&'static str, i64, i64); 7] = [
            ("vocab_size", self.vocab_size, 10_000_000),
            ("hidden_size", self.hidden_size, 16_384),
            ("num_hidden_layers", self.num_hidden_layers, 256),
            ("num_attention_heads", self.num_attention_heads, 1_024),
            ("intermediate_size", self.intermediate_size, 131_072),
            ("max_position_embeddings", self.max_position_embeddings, 1 << 20),
            ("type_vocab_size", self.type_vocab_size, 1_024),
        ];
        for (field, v, max) in limits {
            if !((1..=max).contains(&v) || (field == "type_vocab_size" && v == 0)) {
                return Err((field, format!("{v} is outside 1..={max}")));
            }
        }
        if self.hidden_size % self.num_attention_heads != 0 {
            return Err((
                "num_attention_heads",
                format!(
                    "hidden_size {} is not a multiple of {} heads",
                    self.hidden_size, self.num_attention_heads
                ),
            ));
        }
        if !(self.pad_token_id >= 0 && self.pad_token_id < self.vocab_size) {
            return Err(("pad_token_id", format!("{} is outside 0..{}", self.pad_token_id, self.vocab_size)));
        }
        if !(self.layer_norm_eps > 0.0 && self.layer_norm_eps < 1.0) {
            return Err(("layer_norm_eps", format!("{} is outside (0, 1)", self.layer_norm_eps)));
        }
        for (field, p) in [
            ("hidden_dropout_prob", self.hidden_dropout_prob),
            ("attention_probs_dropout_prob", self.attention_probs_dropout_prob),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err((field, format!("{p} is outside [0, 1)")));
            }
        }
        if !["gelu", "gelu_new", "relu"].contains(&self.hidden_act.as_str()) {
            return Err((
                "hidden_act",
                format!("`{}` is not supported (gelu, gelu_new, relu)", self.hidden_act),
            ));
        }
        Ok(())
    }

    /// Floating-point operations of one encoder forward pass over `rows` sequences padded to
    /// `seq_len` tokens: per token and layer, 2·(4h² + 2h·i) for the q/k/v/output and feed-forward
    /// products, and 4·seq_len·h for the attention scores and the weighted sum (embeddings,
    /// LayerNorm, activations, pooling and the head are left out). A training step costs 3× this
    /// (the backward pass is two products per forward product).
    pub fn forward_flops(&self, rows: usize, seq_len: usize) -> f64 {
        let (h, i, s) = (self.hidden_size as f64, self.intermediate_size as f64, seq_len as f64);
        let per_token_layer = 2.0 * (4.0 * h * h + 2.0 * h * i) + 4.0 * s * h;
        rows as f64 * s * self.num_hidden_layers as f64 * per_token_layer
    }

    /// RoBERTa numbers positions from `pad_token_id + 1`.
    fn position_offset(&self) -> i64 {
        if self.model_type == "roberta" { self.pad_token_id + 1 } else { 0 }
    }

    /// A small random BERT (for tests and the GPU smoke script).
    pub fn tiny(vocab_size: i64, hidden: i64, layers: i64, heads: i64) -> Self {
        Self {
            model_type: "bert".into(),
            vocab_size,
            hidden_size: hidden,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            intermediate_size: hidden * 4,
            max_position_embeddings: 512,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            pad_token_id: 0,
            hidden_act: "gelu".into(),
        }
    }
}

struct Lin {
    w: Tensor,
    b: Tensor,
}

impl Lin {
    fn new(p: nn::Path, inp: i64, out: i64) -> Self {
        Self {
            w: p.var("weight", &[out, inp], Init::Randn { mean: 0.0, stdev: 0.02 }),
            b: p.var("bias", &[out], Init::Const(0.0)),
        }
    }
    fn forward(&self, x: &Tensor, precision: Precision) -> Tensor {
        linear(x, &self.w, Some(&self.b), precision)
    }
    /// The output stays in the compute kind (see [`linear_keep`]).
    fn forward_keep(&self, x: &Tensor, precision: Precision) -> Tensor {
        linear_keep(x, &self.w, Some(&self.b), precision)
    }
}

struct Norm {
    w: Tensor,
    b: Tensor,
    eps: f64,
}

impl Norm {
    fn new(p: nn::Path, dim: i64, eps: f64) -> Self {
        Self { w: p.var("weight", &[dim], Init::Const(1.0)), b: p.var("bias", &[dim], Init::Const(0.0)), eps }
    }
    /// LayerNorm in fp32.
    fn forward(&self, x: &Tensor) -> Tensor {
        let d = self.w.size()[0];
        x.layer_norm([d], Some(&self.w), Some(&self.b), self.eps, true)
    }
}

struct Layer {
    query: Lin,
    key: Lin,
    value: Lin,
    attn_out: Lin,
    attn_norm: Norm,
    inter: Lin,
    out: Lin,
    out_norm: Norm,
}

/// A BERT-style encoder.
pub struct Encoder {
    cfg: TransformerConfig,
    word: Tensor,
    position: Tensor,
    /// Absent for DistilBERT.
    token_type: Option<Tensor>,
    emb_norm: Norm,
    layers: Vec<Layer>,
}

impl Encoder {
    fn new(p: &nn::Path, cfg: &TransformerConfig) -> Self {
        let (h, eps) = (cfg.hidden_size, cfg.layer_norm_eps);
        let e = p / "embeddings";
        let init = Init::Randn { mean: 0.0, stdev: 0.02 };
        let n = Names::of(&cfg.model_type);
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| {
                let l = &sub(p, n.layers) / i;
                Layer {
                    query: Lin::new(sub(&l, n.query), h, h),
                    key: Lin::new(sub(&l, n.key), h, h),
                    value: Lin::new(sub(&l, n.value), h, h),
                    attn_out: Lin::new(sub(&l, n.attn_out), h, h),
                    attn_norm: Norm::new(sub(&l, n.attn_norm), h, eps),
                    inter: Lin::new(sub(&l, n.inter), h, cfg.intermediate_size),
                    out: Lin::new(sub(&l, n.out), cfg.intermediate_size, h),
                    out_norm: Norm::new(sub(&l, n.out_norm), h, eps),
                }
            })
            .collect();
        Self {
            cfg: cfg.clone(),
            word: (&e / "word_embeddings").var("weight", &[cfg.vocab_size, h], init),
            position: (&e / "position_embeddings").var("weight", &[cfg.max_position_embeddings, h], init),
            token_type: n
                .token_types
                .then(|| (&e / "token_type_embeddings").var("weight", &[cfg.type_vocab_size, h], init)),
            emb_norm: Norm::new(&e / "LayerNorm", h, eps),
            layers,
        }
    }

    fn act(&self, x: &Tensor) -> Tensor {
        match self.cfg.hidden_act.as_str() {
            "relu" => x.relu(),
            "gelu_new" => x.gelu("tanh"),
            _ => x.gelu("none"),
        }
    }

    /// Token states.
    ///
    /// # Shapes
    /// `ids`, `mask`, `types`: `[b, s]` int64 → `[b, s, hidden]` fp32.
    pub fn forward(
        &self,
        ids: &Tensor,
        mask: &Tensor,
        types: Option<&Tensor>,
        train: bool,
        precision: Precision,
    ) -> Result<Tensor> {
        let (b, s) = ids.size2().ctx(|| "encoder input must be [batch, seq]".into())?;
        if s > self.cfg.max_position_embeddings - self.cfg.position_offset() {
            return Err(Error::Config(format!(
                "sequence length {s} exceeds the model's {} positions",
                self.cfg.max_position_embeddings
            )));
        }
        let dev = ids.device();
        let positions = Tensor::arange_start(
            self.cfg.position_offset(),
            s + self.cfg.position_offset(),
            (Kind::Int64, dev),
        );
        let words = Tensor::f_embedding(&self.word, ids, -1, false, false)
            .ctx(|| "token id outside the vocabulary".into())?;
        let mut x = words + Tensor::embedding(&self.position, &positions, -1, false, false).unsqueeze(0);
        if let Some(tt) = &self.token_type {
            // RoBERTa has one token type: its pairs are told apart by separators alone.
            let types = match types {
                Some(t) if self.cfg.type_vocab_size > 1 => t.shallow_clone(),
                _ => Tensor::zeros([b, s], (Kind::Int64, dev)),
            };
            x += Tensor::f_embedding(tt, &types, -1, false, false)
                .ctx(|| "token type outside the model's type vocabulary".into())?;
        }
        let mut x = dropout(&self.emb_norm.forward(&x), self.cfg.hidden_dropout_prob, train);
        let (heads, hd) = (self.cfg.num_attention_heads, self.cfg.hidden_size / self.cfg.num_attention_heads);
        let keep = mask.ne(0).view([b, 1, 1, s]);
        let attn_p = self.cfg.attention_probs_dropout_prob;
        let mut bias: Option<Tensor> = None;
        for l in &self.layers {
            // q, k, v, the attention context and the feed-forward activation stay in the compute
            // kind between matrix products; residual sums and LayerNorm are fp32.
            let split = |t: Tensor| t.view([b, s, heads, hd]).transpose(1, 2);
            let q = split(l.query.forward_keep(&x, precision));
            let k = split(l.key.forward_keep(&x, precision));
            let v = split(l.value.forward_keep(&x, precision));
            let ctx = attention(&q, &k, &v, &keep, &mut bias, attn_p, train);
            let ctx = ctx.transpose(1, 2).contiguous().view([b, s, heads * hd]);
            let a = l.attn_norm.forward(
                &(dropout(&l.attn_out.forward(&ctx, precision), self.cfg.hidden_dropout_prob, train) + &x),
            );
            let i = self.act(&l.inter.forward_keep(&a, precision));
            x = l
                .out_norm
                .forward(&(dropout(&l.out.forward(&i, precision), self.cfg.hidden_dropout_prob, train) + &a));
        }
        Ok(x)
    }
}

/// Multi-head attention over `keep`'s positions. Inference (and any device but the CPU) uses
/// libtorch's fused `scaled_dot_product_attention`. CPU training writes it out: libtorch's fused
/// CPU kernel cannot drop attention weights (it falls back to an unfused path that draws its own
/// mask), and its backward pass is slower than the written-out one at these lengths (`docs/performance.md`).
/// Scores and softmax are fp32 there, the products in `q`'s kind; `bias` (the additive mask,
/// built once per forward) is filled on first use.
///
/// # Shapes
/// `q`, `k`, `v`: `[b, heads, s, hd]`; `keep`: `[b, 1, 1, s]` bool; `bias`: `[b, 1, 1, s]` fp32
/// → `[b, heads, s, hd]`.
fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    keep: &Tensor,
    bias: &mut Option<Tensor>,
    p: f64,
    train: bool,
) -> Tensor {
    if !train || q.device() != tch::Device::Cpu {
        return Tensor::scaled_dot_product_attention(
            q,
            k,
            v,
            Some(keep),
            if train { p } else { 0.0 },
            false,
            None,
            false,
        );
    }
    let bias = bias.get_or_insert_with(|| keep.logical_not().to_kind(Kind::Float) * f64::from(f32::MIN));
    let hd = q.size()[3];
    let scores = q.matmul(&k.transpose(-2, -1)).to_kind(Kind::Float) * (1.0 / (hd as f64).sqrt()) + &*bias;
    let weights = dropout(&scores.softmax(-1, Kind::Float), p, train);
    weights.to_kind(q.kind()).matmul(v)
}

/// Pools token states into one vector per text.
///
/// # Shapes
/// `states`: `[b, s, d]`, `mask`: `[b, s]`, `anchors`: `[b, 2]` → `[b, d]` (`[b, 2d]` for
/// [`Pooling::Entity`]: the states at the two anchor positions, concatenated).
pub fn pool(states: &Tensor, mask: &Tensor, anchors: Option<&Tensor>, pooling: Pooling) -> Result<Tensor> {
    Ok(match pooling {
        Pooling::Cls => states.select(1, 0),
        Pooling::Mean => {
            let m = mask.to_kind(Kind::Float).unsqueeze(-1);
            (states * &m).sum_dim_intlist(1, false, Kind::Float)
                / m.sum_dim_intlist(1, false, Kind::Float).clamp_min(1.0)
        }
        Pooling::Entity => {
            let a = anchors.ok_or_else(|| {
                Error::Config(
                    "entity pooling needs marked entities (end_model.input = relation or pair)".into(),
                )
            })?;
            let (b, _, d) = states.size3().ctx(|| "token states must be [batch, seq, dim]".into())?;
            let idx = a.unsqueeze(-1).expand([b, 2, d], false);
            states
                .f_gather(1, &idx, false)
                .ctx(|| "entity marker position outside the batch".into())?
                .reshape([b, 2 * d])
        }
    })
}

/// Which tensors a checkpoint lacked and which it had in excess.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LoadReport {
    /// Model tensors absent from the checkpoint (left at their initialisation).
    pub missing: Vec<String>,
    /// Checkpoint tensors the model does not use (e.g. `pooler.*`).
    pub unexpected: Vec<String>,
}

/// A token added to a pre-trained vocabulary (an entity marker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub id: i64,
    /// Ids whose mean embedding the new one starts from.
    pub init_from: Vec<i64>,
}

/// Options of a transformer classifier.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransformerOptions {
    /// Default mean pooling (sentence-transformers; MiniLM was trained with it).
    pub pooling: Pooling,
    /// Dropout before the classification head. Default 0.1 (BERT's `hidden_dropout_prob`).
    pub head_dropout: f64,
    pub precision: Precision,
    /// What the model reads from each row (saved with it, so predictions build the same input).
    pub input: ModelInput,
    /// A sequence head (default) or a token head (tagging). Models saved before the field
    /// existed load as sequence models.
    pub head: Head,
}

impl TransformerOptions {
    /// Width of the features the head reads: the hidden size, twice it for entity pooling (a
    /// token head reads one hidden state).
    pub fn feature_dim(&self, hidden: i64) -> i64 {
        if self.pooling == Pooling::Entity && self.head == Head::Sequence { 2 * hidden } else { hidden }
    }
}

impl Default for TransformerOptions {
    fn default() -> Self {
        Self {
            pooling: Pooling::Mean,
            head_dropout: 0.1,
            precision: Precision::Fp32,
            input: ModelInput::Text,
            head: Head::Sequence,
        }
    }
}

/// A transformer encoder with a linear classification head on the pooled representation.
pub struct TransformerClassifier {
    pub vs: nn::VarStore,
    pub config: TransformerConfig,
    pub options: TransformerOptions,
    pub n_classes: i64,
    encoder: Encoder,
    head: Lin,
}

impl std::fmt::Debug for TransformerClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransformerClassifier")
            .field("config", &self.config)
            .field("n_classes", &self.n_classes)
            .finish()
    }
}

/// Checkpoint names may carry the task model's prefix (`bert.`, `roberta.`, `distilbert.`).
fn strip_prefix(name: &str) -> &str {
    ["bert.", "roberta.", "distilbert."].iter().find_map(|p| name.strip_prefix(p)).unwrap_or(name)
}

impl TransformerClassifier {
    /// A randomly initialised model (seeded) on `device`.
    pub fn new(
        config: TransformerConfig,
        n_classes: i64,
        options: TransformerOptions,
        device: Device,
        seed: u64,
    ) -> Result<Self> {
        config
            .validate()
            .map_err(|(field, msg)| Error::Config(format!("transformer config `{field}`: {msg}")))?;
        if n_classes < 2 {
            return Err(Error::Config(format!("{n_classes} classes: need at least 2")));
        }
        if options.head == Head::Token
            && (options.pooling == Pooling::Entity || options.input != ModelInput::Text)
        {
            return Err(Error::Config(
                "a token-classification head reads words of single texts: no entity pooling, no relation or pair input"
                    .into(),
            ));
        }
        super::manual_seed(seed);
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let encoder = Encoder::new(&root, &config);
        let head = Lin::new(&root / "classifier", options.feature_dim(config.hidden_size), n_classes);
        Ok(Self { vs, config, options, n_classes, encoder, head })
    }

    /// Loads `config.json` and `model.safetensors` from a Hugging Face folder; the head is new.
    /// Every encoder tensor must be in the checkpoint (a partially random encoder is an error).
    /// `added` tokens (entity markers new to the tokenizer) grow the word embeddings where their
    /// ids lie beyond the checkpoint's vocabulary, and each starts at the mean embedding of its
    /// description's word pieces (the mean of all embeddings when it has none): new tokens start
    /// inside the distribution of the trained ones (Hewitt 2021, "Initializing new word
    /// embeddings for pretrained language models") and apart from one another.
    pub fn from_pretrained(
        dir: &Path,
        n_classes: i64,
        options: TransformerOptions,
        device: Device,
        seed: u64,
        added: &[NewToken],
    ) -> Result<(Self, LoadReport)> {
        let mut config = TransformerConfig::load(&dir.join("config.json"))?;
        let base_vocab = config.vocab_size;
        config.vocab_size = added.iter().map(|t| t.id + 1).fold(base_vocab, i64::max);
        let grown = (config.vocab_size > base_vocab).then_some(base_vocab);
        let mut model = Self::new(config, n_classes, options, device, seed)?;
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            return Err(Error::io(&weights, std::io::Error::from(std::io::ErrorKind::NotFound)));
        }
        let report = model.load_weights_grown(&weights, grown)?;
        let missing_encoder: Vec<&String> =
            report.missing.iter().filter(|n| !n.starts_with("classifier.")).collect();
        if !missing_encoder.is_empty() {
            return Err(Error::invalid(
                weights.display().to_string(),
                format!("checkpoint lacks encoder tensors: {missing_encoder:?}"),
            ));
        }
        if !report.unexpected.is_empty() {
            tracing::debug!(unexpected = ?report.unexpected, "checkpoint tensors not used by the model");
        }
        model.init_tokens(added, base_vocab)?;
        Ok((model, report))
    }

    /// Sets each added token's embedding row to the mean of its description's rows.
    fn init_tokens(&mut self, added: &[NewToken], base_vocab: i64) -> Result<()> {
        let w = &self.encoder.word;
        tch::no_grad(|| -> Result<()> {
            for t in added {
                let from: Vec<i64> = t.init_from.iter().copied().filter(|&i| i < base_vocab).collect();
                let mean = if from.is_empty() {
                    w.narrow(0, 0, base_vocab).mean_dim(0, false, Kind::Float)
                } else {
                    w.index_select(0, &Tensor::from_slice(&from).to_device(w.device())).mean_dim(
                        0,
                        false,
                        Kind::Float,
                    )
                };
                w.get(t.id).f_copy_(&mean).ctx(|| format!("initialising token {}", t.id))?;
            }
            Ok(())
        })
    }

    /// Copies every tensor of a safetensors file whose (prefix-stripped) name matches a model
    /// variable, checking shapes.
    pub fn load_weights(&mut self, path: &Path) -> Result<LoadReport> {
        self.load_weights_grown(path, None)
    }

    /// [`Self::load_weights`]; with `grown_from`, the word embeddings may have that many rows in
    /// the checkpoint and more in the model (added tokens), the first rows copied.
    fn load_weights_grown(&mut self, path: &Path, grown_from: Option<i64>) -> Result<LoadReport> {
        let tensors = Tensor::read_safetensors(path).ctx(|| format!("reading {}", path.display()))?;
        let by_name: HashMap<String, Tensor> =
            tensors.into_iter().map(|(n, t)| (strip_prefix(&n).to_string(), t)).collect();
        let mut vars = self.vs.variables();
        let mut report = LoadReport::default();
        let mut names: Vec<&String> = vars.keys().collect();
        names.sort();
        let names: Vec<String> = names.into_iter().cloned().collect();
        for name in &names {
            let var = vars.get_mut(name).expect("listed variable");
            match by_name.get(name) {
                Some(src) => {
                    let grown = grown_from.filter(|&rows| {
                        name.ends_with("word_embeddings.weight")
                            && src.size() == [rows, var.size()[1]]
                            && var.size()[0] > rows
                    });
                    if let Some(rows) = grown {
                        tch::no_grad(|| var.narrow(0, 0, rows).f_copy_(&src.to_kind(Kind::Float)))
                            .ctx(|| format!("loading `{name}`"))?;
                        continue;
                    }
                    if src.size() != var.size() {
                        return Err(Error::invalid(
                            path.display().to_string(),
                            format!(
                                "tensor `{name}` has shape {:?}, the model expects {:?}",
                                src.size(),
                                var.size()
                            ),
                        ));
                    }
                    tch::no_grad(|| var.f_copy_(&src.to_kind(Kind::Float)))
                        .ctx(|| format!("loading `{name}`"))?;
                }
                None => report.missing.push(name.clone()),
            }
        }
        let mut unexpected: Vec<String> =
            by_name.keys().filter(|n| !vars.contains_key(*n)).cloned().collect();
        unexpected.sort();
        report.unexpected = unexpected;
        Ok(report)
    }

    /// The last layer's token states.
    ///
    /// # Shapes
    /// → `[b, s, hidden]`.
    pub fn hidden_states(&self, batch: &TokenBatch, train: bool) -> Result<Tensor> {
        self.encoder.forward(&batch.ids, &batch.mask, batch.types.as_ref(), train, self.options.precision)
    }

    /// Pooled features (no head).
    ///
    /// # Shapes
    /// → `[b, hidden]` (`[b, 2 · hidden]` for entity pooling).
    pub fn features(&self, batch: &TokenBatch, train: bool) -> Result<Tensor> {
        let states = self.hidden_states(batch, train)?;
        pool(&states, &batch.mask, batch.anchors.as_ref(), self.options.pooling)
    }

    /// Logits and pooled features.
    ///
    /// # Shapes
    /// → logits `[b, n_classes]`, features `[b, hidden]` (`[b, 2 · hidden]` for entity pooling).
    pub fn forward(&self, batch: &TokenBatch, train: bool) -> Result<Output> {
        if self.options.head == Head::Token {
            return self.token_forward(batch, train);
        }
        let features = self.features(batch, train)?;
        let logits =
            self.head.forward(&dropout(&features, self.options.head_dropout, train), self.options.precision);
        Ok(Output { logits, features })
    }

    /// Token head: the logits of each scored word, read from the hidden state of its first piece
    /// (Hugging Face's `*ForTokenClassification`, computed only where a label would be).
    ///
    /// # Shapes
    /// states `[b, s, h]`, `heads` and `unit_mask` `[b, u]` → gathered `[b, u, h]` → kept
    /// `[n, h]` (`n` = the batch's units, row after row) → logits `[n, C]`, features `[n, h]`.
    fn token_forward(&self, batch: &TokenBatch, train: bool) -> Result<Output> {
        let (Some(heads), Some(unit_mask)) = (&batch.heads, &batch.unit_mask) else {
            return Err(Error::Config(
                "a token-classification model needs each word's first piece (encode the words, not texts)"
                    .into(),
            ));
        };
        let states = self.hidden_states(batch, train)?;
        let (b, u) = heads.size2().ctx(|| "word heads must be [batch, units]".into())?;
        let h = self.config.hidden_size;
        let gathered = states
            .f_gather(1, &heads.unsqueeze(-1).expand([b, u, h], false), false)
            .ctx(|| "gathering the first piece of each word".into())?;
        let keep = unit_mask.reshape([-1]).nonzero().squeeze_dim(1);
        let features = gathered.reshape([b * u, h]).index_select(0, &keep);
        let logits =
            self.head.forward(&dropout(&features, self.options.head_dropout, train), self.options.precision);
        Ok(Output { logits, features })
    }

    /// Writes a Hugging Face folder: `config.json`, `model.safetensors` (encoder + `classifier.*`),
    /// and the tokenizer if given, so `transformers` (and this type) can load it.
    pub fn export_hf(&self, dir: &Path, tokenizer: Option<&super::tokenizer::TextTokenizer>) -> Result<()> {
        self.export_hf_with(dir, tokenizer, None)
    }

    /// [`export_hf`](Self::export_hf) with the class (tag) names. A token head is written as
    /// Hugging Face's `*ForTokenClassification`: encoder tensors under the base model's prefix
    /// (`bert.`, `roberta.`, `distilbert.`), the head as `classifier.*`, `id2label` / `label2id`
    /// from `labels`, so `AutoModelForTokenClassification` loads it with its trained head.
    pub fn export_hf_with(
        &self,
        dir: &Path,
        tokenizer: Option<&super::tokenizer::TextTokenizer>,
        labels: Option<&[String]>,
    ) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut cfg = serde_json::to_value(&self.config).map_err(|e| Error::Config(e.to_string()))?;
        let token = self.options.head == Head::Token;
        let (arch, prefix) = match (self.config.model_type.as_str(), token) {
            ("roberta", false) => ("RobertaModel", ""),
            ("distilbert", false) => ("DistilBertModel", ""),
            (_, false) => ("BertModel", ""),
            ("roberta", true) => ("RobertaForTokenClassification", "roberta."),
            ("distilbert", true) => ("DistilBertForTokenClassification", "distilbert."),
            (_, true) => ("BertForTokenClassification", "bert."),
        };
        if self.config.model_type == "distilbert" {
            // transformers' DistilBertConfig spells the sizes its own way.
            let obj = cfg.as_object_mut().expect("config serialises to an object");
            for (ours, theirs) in [
                ("hidden_size", "dim"),
                ("num_hidden_layers", "n_layers"),
                ("num_attention_heads", "n_heads"),
                ("intermediate_size", "hidden_dim"),
                ("hidden_dropout_prob", "dropout"),
                ("attention_probs_dropout_prob", "attention_dropout"),
                ("hidden_act", "activation"),
            ] {
                if let Some(v) = obj.remove(ours) {
                    obj.insert(theirs.to_string(), v);
                }
            }
        }
        cfg["architectures"] = serde_json::json!([arch]);
        cfg["num_labels"] = serde_json::json!(self.n_classes);
        if let Some(labels) = labels.filter(|l| l.len() == self.n_classes as usize) {
            let id2label: serde_json::Map<String, serde_json::Value> =
                labels.iter().enumerate().map(|(i, l)| (i.to_string(), serde_json::json!(l))).collect();
            let label2id: serde_json::Map<String, serde_json::Value> =
                labels.iter().enumerate().map(|(i, l)| (l.clone(), serde_json::json!(i))).collect();
            cfg["id2label"] = serde_json::Value::Object(id2label);
            cfg["label2id"] = serde_json::Value::Object(label2id);
        }
        crate::data::write_json(&dir.join("config.json"), &cfg)?;
        let vars = self.vs.variables();
        let mut named: Vec<(String, Tensor)> = vars
            .into_iter()
            .map(|(n, t)| {
                let n = if n.starts_with("classifier.") { n } else { format!("{prefix}{n}") };
                (n, t.to_device(Device::Cpu).contiguous())
            })
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let path: PathBuf = dir.join("model.safetensors");
        let tmp = dir.join("model.safetensors.tmp");
        Tensor::write_safetensors(&named, &tmp).ctx(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        if let Some(t) = tokenizer {
            t.save(&dir.join("tokenizer.json"))?;
        }
        Ok(())
    }
}
