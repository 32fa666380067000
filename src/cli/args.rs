//! Command-line arguments shared by several commands. Every flag of a pipeline setting is an
//! `Option` that overrides one key of [`RunConfig`] (or of its [`DataConfig`]), so each default
//! exists in exactly one place, the config's `Default`; `--help` shows it ([`defaults`]).

use std::path::PathBuf;

use clap::Args;

use crate::data::{Format, LoadOptions, ModelInput};
use crate::label_model::{LabelModelChoice, Metric, TiePolicy, UncoveredPolicy};
use crate::lf::ApplyOptions;
use crate::model::{DeviceChoice, ModelSource, Pooling, PrecisionChoice};
use crate::run::{DataConfig, LfConfig, Method, RunConfig, Targets};
use crate::selftrain::{Distance, LambdaScale, PseudoLabels, Selection, Student, Teacher, Variant};
use crate::token::{TagScheme, Task};
use crate::train::{ClassWeights, OnNonFinite, Padding};

/// Where the data comes from (every command that reads a corpus).
#[derive(Args, Debug, Clone, Default)]
pub(super) struct DataArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Instead of --data: the training split's files (each a file, a folder or a glob in quotes,
    /// e.g. 'videos/train-*.csv'; several are concatenated).
    #[arg(long, num_args = 1.., conflicts_with = "data")]
    pub train: Vec<PathBuf>,
    /// Instead of --data: the validation split's files (gold labels make every choice measurable).
    #[arg(long, num_args = 1.., conflicts_with = "data")]
    pub valid: Vec<PathBuf>,
    /// Instead of --data: the test split's files.
    #[arg(long, num_args = 1.., conflicts_with = "data")]
    pub test: Vec<PathBuf>,
    /// Instead of --data: rows without gold labels that COSINE may pool (--unlabeled true).
    #[arg(long, num_args = 1.., conflicts_with = "data")]
    pub unlabeled_files: Vec<PathBuf>,
    /// Only this split: it must exist (for a single file whose name is no split name, the name it gets).
    #[arg(long)]
    pub split: Option<String>,
}

/// One dataset path and how to read it (the part of [`DataArgs`] that `data split` shares).
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct SourceArgs {
    /// Dataset: a WRENCH or COSINE folder, a folder of split files (train.csv, valid.csv, test.csv;
    /// or .tsv, .parquet, .jsonl), or one CSV/TSV, Parquet, JSONL, WRENCH or COSINE file. Omit for
    /// the demo corpus.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Force the format.
    #[arg(long)]
    pub format: Option<Format>,
    /// Column holding the text (tabular formats).
    #[arg(long)]
    pub text_col: Option<String>,
    /// Column holding gold labels, as names or ids (default: `label` when present).
    #[arg(long)]
    pub label_col: Option<String>,
    /// Class names, comma-separated (default: from label.json or classes.json, the LF file, or inferred).
    #[arg(long, value_delimiter = ',')]
    pub classes: Option<Vec<String>>,
    /// Text classification or sequence labeling (tagging); default: judged from the data.
    #[arg(long)]
    pub task: Option<Task>,
    /// Token data: tag names in id order, `O` first, comma-separated (default: from the files,
    /// tags.json or the readme).
    #[arg(long, value_delimiter = ',')]
    pub tags: Option<Vec<String>>,
    /// Token data: convert the tags to this scheme after loading.
    #[arg(long)]
    pub scheme: Option<TagScheme>,
}

impl SourceArgs {
    /// Overrides the keys of `data` these flags set.
    pub fn apply(&self, data: &mut DataConfig) {
        if let Some(p) = &self.data {
            data.path = Some(p.clone());
            data.splits = Default::default();
        }
        let load: &mut LoadOptions = &mut data.load;
        if let Some(f) = self.format {
            load.format = Some(f);
        }
        if let Some(t) = &self.text_col {
            load.text_col = t.clone();
        }
        if let Some(l) = &self.label_col {
            load.label_col = Some(l.clone());
        }
        if let Some(c) = &self.classes {
            load.classes = Some(c.clone());
        }
        if let Some(t) = self.task {
            data.task = t;
        }
        if let Some(t) = &self.tags {
            data.tokens.tags = Some(t.clone());
        }
        if let Some(s) = self.scheme {
            data.tokens.scheme = Some(s);
        }
    }
}

impl DataArgs {
    /// Overrides the keys of `data` these flags set.
    pub fn apply(&self, data: &mut DataConfig) {
        self.source.apply(data);
        let files = [
            (&self.train, &mut data.splits.train),
            (&self.valid, &mut data.splits.valid),
            (&self.test, &mut data.splits.test),
            (&self.unlabeled_files, &mut data.splits.unlabeled),
        ];
        let mut any = false;
        for (given, slot) in files {
            if !given.is_empty() {
                *slot = given.clone();
                any = true;
            }
        }
        if any {
            data.path = None;
        }
        if let Some(s) = &self.split {
            data.load.split = Some(s.clone());
        }
    }
    /// The data config of these flags over the defaults.
    pub fn config(&self) -> DataConfig {
        let mut d = DataConfig::default();
        self.apply(&mut d);
        d
    }
}

/// How LFs are applied.
#[derive(Args, Debug, Clone, Default)]
pub(super) struct ApplyArgs {
    /// Rows per parallel work item.
    #[arg(long, value_parser = super::positive)]
    pub chunk_size: Option<usize>,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = super::positive)]
    pub threads: Option<usize>,
    /// Count LF failures per LF instead of stopping at the first.
    #[arg(long)]
    pub fault_tolerant: bool,
}

impl ApplyArgs {
    pub fn apply(&self, o: &mut ApplyOptions) {
        if let Some(c) = self.chunk_size {
            o.chunk_size = c;
        }
        if self.threads.is_some() {
            o.threads = self.threads;
        }
        o.fault_tolerant |= self.fault_tolerant;
    }
    pub fn options(&self) -> ApplyOptions {
        let mut o = ApplyOptions::default();
        self.apply(&mut o);
        o
    }
}

/// Where votes come from: LF files applied on the fly, a folder of saved votes, or the data's own.
#[derive(Args, Debug, Clone, Default)]
pub(super) struct VotesArgs {
    /// LF files to apply (default: the votes stored with the data, e.g. WRENCH weak_labels).
    #[arg(long, num_args = 1..)]
    pub lfs: Vec<PathBuf>,
    /// A folder written by `weaksup lf apply` (`<split>.votes.parquet`).
    #[arg(long, conflicts_with = "lfs")]
    pub votes: Option<PathBuf>,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

impl VotesArgs {
    pub fn apply(&self, lfs: &mut LfConfig) {
        if !self.lfs.is_empty() {
            lfs.files = self.lfs.clone();
        }
        if self.votes.is_some() {
            lfs.votes = self.votes.clone();
        }
        self.apply.apply(&mut lfs.apply);
    }
    pub fn config(&self) -> LfConfig {
        let mut l = LfConfig::default();
        self.apply(&mut l);
        l
    }
}

/// Label-model prediction policies and selection (the `label-model` commands).
#[derive(Args, Debug, Clone)]
pub(super) struct PolicyArgs {
    /// Ties between classes on covered rows.
    #[arg(long, default_value_t = TiePolicy::default())]
    pub tie: TiePolicy,
    /// Rows where every LF abstains (`random` is WRENCH's protocol).
    #[arg(long, default_value_t = UncoveredPolicy::default())]
    pub uncovered: UncoveredPolicy,
    /// Metric for model selection on valid and for the report.
    #[arg(long, default_value_t = Metric::default())]
    pub metric: Metric,
    /// Known class balance, comma-separated (default: estimated by each model).
    #[arg(long, value_delimiter = ',')]
    pub class_balance: Option<Vec<f64>>,
    /// Do not use the valid split for hyper-parameter selection (default: use it when it has gold labels).
    #[arg(long)]
    pub no_select: bool,
    /// Seed of everything random: the demo corpus (without --data) and the random tie /
    /// uncovered-row draws ([`Seeds`]).
    #[arg(long, default_value_t = RunConfig::default().seed)]
    pub seed: u64,
}

/// Every setting of a pipeline run (`run`, `train`, `cosine`): each flag overrides one config key.
#[derive(Args, Debug, Clone, Default)]
pub(super) struct PipelineArgs {
    /// A TOML config (every section optional); the flags below override its keys.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Output folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The run's seed: the demo corpus, label-model draws, initialisation, shuffling, dropout.
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub votes: VotesArgs,
    /// Label model for the weak labels.
    #[arg(long)]
    pub label_model: Option<LabelModelChoice>,
    /// Training targets: `label_model` (weak labels), `gold` (supervised), `valid` (half of the clean
    /// validation set trains, half early-stops) or `column:<name>` (class ids or names).
    #[arg(long)]
    pub targets: Option<Targets>,
    /// Train on the label model's probabilities instead of its hard labels.
    #[arg(long)]
    pub soft: bool,
    /// Leave rows whose LF votes tie between classes out of stage 1 (WRENCH's `cut_tied`); they
    /// stay in COSINE's pseudo-label pool.
    #[arg(long)]
    pub drop_tied: bool,
    /// Tagging: leave words no LF voted on out of stage 1's loss; they stay in COSINE's pool.
    #[arg(long)]
    pub drop_uncovered: bool,
    /// End model: `auto`, `ngram`, `minilm` (the encoder installed by set-up), `tiny-bert` (a random
    /// 2-layer BERT for smoke tests) or a Hugging Face folder.
    #[arg(long)]
    pub model: Option<ModelSource>,
    /// `auto` is bf16 for transformers on CUDA or on CPUs with AVX512-BF16.
    #[arg(long)]
    pub precision: Option<PrecisionChoice>,
    /// auto, cpu, cuda, cuda:N.
    #[arg(long)]
    pub device: Option<DeviceChoice>,
    /// Pooling of token states (transformers); `entity` concatenates the `[E1]` and `[E2]`
    /// marker states (with `--input relation` or `pair`).
    #[arg(long)]
    pub pooling: Option<Pooling>,
    /// What the end model reads: `text`, `relation` (entities marked from span columns or inline
    /// `[TAG]…[\TAG]` tags) or `pair` (`sentence1`/`sentence2`, target word marked when offsets exist).
    #[arg(long)]
    pub input: Option<ModelInput>,
    /// Maximum tokens per text (transformers).
    #[arg(long, value_parser = super::positive)]
    pub max_len: Option<usize>,
    #[arg(long, value_parser = super::positive)]
    pub batch_size: Option<usize>,
    /// Stage-1 steps at most.
    #[arg(long, value_parser = super::positive)]
    pub max_steps: Option<usize>,
    /// Peak learning rate (default: 5e-5 for transformers, 5e-3 for the n-gram model).
    #[arg(long, value_parser = super::positive_f64)]
    pub lr: Option<f64>,
    /// Validate every this many steps.
    #[arg(long, value_parser = super::positive)]
    pub eval_every: Option<usize>,
    /// Stop after this many validations without improvement.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Validation (and label-model selection) metric.
    #[arg(long)]
    pub metric: Option<Metric>,
    #[arg(long)]
    pub padding: Option<Padding>,
    /// Row weights by class: none, or valid_prior (each class weighs its share of the valid
    /// split's gold labels, correcting a class shift of the training targets).
    #[arg(long)]
    pub class_weights: Option<ClassWeights>,
    /// A non-finite loss or gradient: stop with an error, or skip the batch.
    #[arg(long)]
    pub on_nonfinite: Option<OnNonFinite>,
    /// COSINE stage-2 steps (T2).
    #[arg(long, value_parser = super::positive)]
    pub t2: Option<usize>,
    /// COSINE: the `unlabeled` split (the paper's unlabeled_data.json) joins the pseudo-label pool.
    #[arg(long)]
    pub unlabeled: Option<bool>,
    /// COSINE steps per round (T3; teacher refresh period).
    #[arg(long, value_parser = super::positive)]
    pub t3: Option<usize>,
    /// COSINE confidence threshold ξ.
    #[arg(long, value_parser = super::unit_interval)]
    pub xi: Option<f64>,
    /// COSINE confidence-regulariser weight λ.
    #[arg(long, value_parser = super::non_negative_f64)]
    pub lambda: Option<f64>,
    /// COSINE contrastive-regulariser weight μ.
    #[arg(long, value_parser = super::non_negative_f64)]
    pub mu: Option<f64>,
    /// COSINE contrastive margin γ.
    #[arg(long, value_parser = super::positive_f64)]
    pub gamma: Option<f64>,
    /// COSINE on token data: the tokens of a batch its contrastive term pairs (a seeded draw).
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..))]
    pub con_tokens: Option<u64>,
    /// COSINE semantics: paper, official (the authors' code) or wrench (WRENCH's end model).
    #[arg(long)]
    pub variant: Option<Variant>,
    /// Rows a COSINE round trains on (`paper` variant): balanced (as many as pass ξ, shared among
    /// classes by the valid split's class balance) or threshold (ω > ξ).
    #[arg(long)]
    pub selection: Option<Selection>,
    /// Distance between features in COSINE's contrastive term.
    #[arg(long)]
    pub distance: Option<Distance>,
    /// How λ scales with the number of classes (`paper` variant): classes (λ·C, the official
    /// code's balance) or one.
    #[arg(long)]
    pub lambda_scale: Option<LambdaScale>,
    /// Where each COSINE round's student starts: continue (from the teacher) or pretrained (a
    /// new student from stage 1's starting weights each round; use with a long --t3).
    #[arg(long)]
    pub student: Option<Student>,
    /// Pool rows COSINE's teacher labels per round, drawn afresh each round (default: 8 × T3 ×
    /// batch size; a smaller pool is labelled whole).
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..))]
    pub pool_per_round: Option<u64>,
    /// Which weights teach the next COSINE round: last (the student as the round ends) or
    /// best_in_round (the round's student at its best validation).
    #[arg(long)]
    pub teacher: Option<Teacher>,
    /// COSINE's soft pseudo-labels: frequency (g^p / f, the paper) or power (g^p alone, for
    /// imbalanced tasks such as tagging).
    #[arg(long)]
    pub pseudo_labels: Option<PseudoLabels>,
    /// Power of the teacher's probabilities in COSINE's soft pseudo-labels.
    #[arg(long, value_parser = super::positive_f64)]
    pub power: Option<f64>,
    /// Continue end-model training from <out>/checkpoint (refused unless it belongs to the same run).
    #[arg(long)]
    pub resume: bool,
    /// Print the resolved config and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Test hook: end the process abruptly after this many training steps (stage 1 and 2).
    #[arg(long, hide = true)]
    pub kill_after_steps: Option<u64>,
}

macro_rules! overlay {
    ($($flag:expr => $key:expr),+ $(,)?) => {$(
        if let Some(v) = $flag.clone() {
            $key = v;
        }
    )+};
}

impl PipelineArgs {
    /// The config file (or the defaults) with every given flag applied, and `method` when the
    /// command fixes or overrides it.
    pub fn config(&self, method: Option<Method>) -> anyhow::Result<RunConfig> {
        let mut c = match &self.config {
            Some(p) => RunConfig::load(p)?,
            None => RunConfig::default(),
        };
        self.data.apply(&mut c.data);
        self.votes.apply(&mut c.lfs);
        if let Some(l) = self.label_model {
            c.label_model.model = l;
        }
        overlay!(
            self.out => c.out,
            self.seed => c.seed,
            self.targets => c.targets,
            self.model => c.end_model.model,
            self.precision => c.end_model.precision,
            self.device => c.end_model.device,
            self.pooling => c.end_model.pooling,
            self.input => c.end_model.input,
            self.max_len => c.end_model.max_len,
            self.batch_size => c.train.batch_size,
            self.max_steps => c.train.max_steps,
            self.eval_every => c.train.eval_every,
            self.patience => c.train.patience,
            self.padding => c.train.padding,
            self.on_nonfinite => c.train.on_nonfinite,
            self.class_weights => c.train.class_weights,
            self.t2 => c.cosine.t2,
            self.unlabeled => c.cosine.unlabeled,
            self.t3 => c.cosine.t3,
            self.xi => c.cosine.xi,
            self.lambda => c.cosine.lambda,
            self.mu => c.cosine.mu,
            self.gamma => c.cosine.gamma,
            self.variant => c.cosine.variant,
            self.lambda_scale => c.cosine.lambda_scale,
            self.student => c.cosine.student,
            self.teacher => c.cosine.teacher,
            self.power => c.cosine.power,
            self.pseudo_labels => c.cosine.pseudo_labels,
            self.distance => c.cosine.distance,
            self.selection => c.cosine.selection,
        );
        if self.lr.is_some() {
            c.train.lr = self.lr;
        }
        if let Some(n) = self.pool_per_round {
            c.cosine.pool_per_round = Some(n as usize);
        }
        if let Some(n) = self.con_tokens {
            c.cosine.con_tokens = n as usize;
        }
        if let Some(m) = self.metric {
            // One metric for early stopping and for choosing the label model.
            c.train.metric = m;
            c.label_model.metric = m;
        }
        c.soft |= self.soft;
        c.drop_tied |= self.drop_tied;
        c.drop_uncovered |= self.drop_uncovered;
        if let Some(m) = method {
            c.method = m;
        }
        Ok(c)
    }
}

/// `(argument id, default)` of every pipeline flag, read from [`RunConfig::default`]: what
/// `--help` shows after each flag's text.
pub(super) fn defaults() -> Vec<(&'static str, String)> {
    let c = RunConfig::default();
    let l = LoadOptions::default();
    vec![
        ("out", c.out.display().to_string()),
        ("seed", c.seed.to_string()),
        ("text_col", l.text_col),
        ("chunk_size", c.lfs.apply.chunk_size.to_string()),
        ("label_model", c.label_model.model.to_string()),
        ("targets", c.targets.to_string()),
        ("model", c.end_model.model.to_string()),
        ("precision", c.end_model.precision.to_string()),
        ("device", c.end_model.device.to_string()),
        ("pooling", c.end_model.pooling.to_string()),
        ("input", c.end_model.input.to_string()),
        ("max_len", c.end_model.max_len.to_string()),
        ("batch_size", c.train.batch_size.to_string()),
        ("max_steps", c.train.max_steps.to_string()),
        ("eval_every", c.train.eval_every.to_string()),
        ("patience", c.train.patience.to_string()),
        ("metric", c.train.metric.to_string()),
        ("padding", c.train.padding.to_string()),
        ("on_nonfinite", c.train.on_nonfinite.to_string()),
        ("class_weights", c.train.class_weights.to_string()),
        ("t2", c.cosine.t2.to_string()),
        ("unlabeled", c.cosine.unlabeled.to_string()),
        ("t3", c.cosine.t3.to_string()),
        ("xi", c.cosine.xi.to_string()),
        ("lambda", c.cosine.lambda.to_string()),
        ("mu", c.cosine.mu.to_string()),
        ("gamma", c.cosine.gamma.to_string()),
        ("con_tokens", c.cosine.con_tokens.to_string()),
        ("variant", c.cosine.variant.to_string()),
        ("lambda_scale", c.cosine.lambda_scale.to_string()),
        ("student", c.cosine.student.to_string()),
        ("pool_per_round", "8 × t3 × batch size".to_string()),
        ("teacher", c.cosine.teacher.to_string()),
        ("power", c.cosine.power.to_string()),
        ("pseudo_labels", c.cosine.pseudo_labels.to_string()),
        ("distance", c.cosine.distance.to_string()),
        ("selection", c.cosine.selection.to_string()),
    ]
}
