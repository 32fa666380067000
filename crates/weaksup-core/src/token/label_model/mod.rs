//! Token label models: turn a token vote matrix into one tag distribution per token.
//!
//! The vote matrix is a [`LabelMatrix`] whose rows are the tokens of every sentence, flattened,
//! whose columns are LFs and whose classes are the tags of a [`TagSet`] (`O` = 0); `offsets`
//! (`n_sentences + 1` values) cut the rows into sentences. The output is a [`Proba`] with one row
//! per token.
//!
//! | model | what it learns | source |
//! |---|---|---|
//! | `mv` | nothing: vote shares, `O` where no LF fired | WRENCH / skweak majority voters |
//! | `ds` | per-LF confusion matrices + tag prior by EM, tokens independent | Dawid & Skene (1979) |
//! | `hmm` | per-LF emissions + tag start / transition probabilities by MAP-EM | Lison et al. (2020), skweak `HMM` |
//!
//! As elsewhere, params (serde, validated, documented defaults naming their source) are separate
//! from the fitted model: [`TokenParams::fit`] → [`TokenFitted`], which predicts, exposes what it
//! learned and saves to / loads from JSON. Fits are deterministic: work is split into fixed-size
//! chunks whose partial sums are added in chunk order, so results are bit-identical at any thread
//! count.

mod ds;
mod emission;
mod hmm;
mod mv;
pub mod synthetic;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use ds::{TokenDawidSkene, TokenDsParams};
pub use emission::Emissions;
pub use hmm::{HiddenMarkovModel, HmmParams};
pub use mv::{TokenMajorityVote, TokenMvParams};

use crate::error::{Error, Result};
pub use crate::label_model::Proba;
use crate::label_model::Votes;
use crate::matrix::{Label, LabelMatrix};
use crate::token::scheme::TagSet;

/// Tokens per parallel work item of the per-token models.
pub(crate) const CHUNK: usize = 4096;

/// A token label model by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum TokenLabelModelKind {
    /// Token majority vote.
    Mv,
    /// Token Dawid–Skene.
    Ds,
    /// Hidden Markov model (Lison et al., 2020).
    Hmm,
}

impl TokenLabelModelKind {
    /// Every token model.
    pub const ALL: [TokenLabelModelKind; 3] =
        [TokenLabelModelKind::Mv, TokenLabelModelKind::Ds, TokenLabelModelKind::Hmm];

    /// The CLI spelling: `mv`, `ds`, `hmm`.
    pub fn name(self) -> &'static str {
        match self {
            TokenLabelModelKind::Mv => "mv",
            TokenLabelModelKind::Ds => "ds",
            TokenLabelModelKind::Hmm => "hmm",
        }
    }
}

/// Which token label model a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum TokenLabelModelChoice {
    /// Every model, the best span F1 on valid; without gold on valid, `hmm` (skweak's default
    /// aggregator for sequence labeling).
    #[default]
    Auto,
    Mv,
    Ds,
    Hmm,
}

impl TokenLabelModelChoice {
    /// The one model chosen, `None` for `auto`.
    pub fn kind(self) -> Option<TokenLabelModelKind> {
        match self {
            TokenLabelModelChoice::Auto => None,
            TokenLabelModelChoice::Mv => Some(TokenLabelModelKind::Mv),
            TokenLabelModelChoice::Ds => Some(TokenLabelModelKind::Ds),
            TokenLabelModelChoice::Hmm => Some(TokenLabelModelKind::Hmm),
        }
    }
}

crate::cli_enum!(TokenLabelModelKind => "token label model", TokenLabelModelChoice => "token label model");

/// A model chosen by [`select_token_model`].
#[derive(Debug, Clone)]
pub struct TokenSelected {
    pub model: TokenFitted,
    /// Span F1 (conlleval chunking) of the chosen model on the dev split, when there is one.
    pub dev_score: Option<f64>,
    /// Every model tried and its dev span F1, in the order tried.
    pub candidates: Vec<(TokenLabelModelKind, Option<f64>)>,
    /// Seconds spent fitting every candidate.
    pub fit_seconds: f64,
}

/// Fits `choice` (default params) on the train votes; for `auto`, fits every model and keeps
/// the best span F1 on `dev` (its votes, offsets and gold tags), ties to the earlier model in
/// [`TokenLabelModelKind::ALL`]; without `dev`, `auto` is `hmm`.
pub fn select_token_model(
    choice: TokenLabelModelChoice,
    train: (&LabelMatrix, &[usize]),
    dev: Option<(&LabelMatrix, &[usize], &[Label])>,
    tags: &TagSet,
) -> Result<TokenSelected> {
    let kinds: Vec<TokenLabelModelKind> = match (choice.kind(), dev) {
        (Some(k), _) => vec![k],
        (None, Some(_)) => TokenLabelModelKind::ALL.to_vec(),
        (None, None) => {
            tracing::warn!("no model selection (no valid split with gold tags): `auto` uses `hmm`");
            vec![TokenLabelModelKind::Hmm]
        }
    };
    let opts = TokenFitOptions { tags: Some(tags.clone()) };
    let t = std::time::Instant::now();
    let mut best: Option<(TokenFitted, Option<f64>)> = None;
    let mut candidates = Vec::new();
    for k in kinds {
        let model = TokenParams::defaults(k).fit(train.0, train.1, &opts)?;
        let score = match dev {
            Some((v, off, gold)) => {
                let pred = model.predict(v, off)?;
                Some(crate::token::metrics::evaluate_tags(gold, &pred, off, tags).span.micro.f1)
            }
            None => None,
        };
        tracing::debug!(model = k.name(), dev_span_f1 = ?score, "token label model candidate");
        candidates.push((k, score));
        if best
            .as_ref()
            .is_none_or(|(_, b)| score.unwrap_or(f64::NEG_INFINITY) > b.unwrap_or(f64::NEG_INFINITY))
        {
            best = Some((model, score));
        }
    }
    let (model, dev_score) = best.ok_or_else(|| Error::Config("no token label model to fit".into()))?;
    Ok(TokenSelected { model, dev_score, candidates, fit_seconds: t.elapsed().as_secs_f64() })
}

/// Options shared by every token fit.
#[derive(Debug, Clone, Default)]
pub struct TokenFitOptions {
    /// The tag set the votes' tag ids belong to. When given, its tag count must equal the vote
    /// matrix's cardinality, and the HMM gives the starts and transitions its scheme forbids
    /// (BIO `O → I-X`, BIOES `B-X → O`, …) probability 0, as skweak does.
    pub tags: Option<TagSet>,
}

/// How a fit went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFitInfo {
    /// EM iterations run (0 for `mv`).
    pub iterations: usize,
    /// Whether EM met its tolerance (true for `mv`).
    pub converged: bool,
    /// The final log-likelihood of the votes (`None` for `mv`).
    pub log_likelihood: Option<f64>,
    pub n_tokens: usize,
    pub n_sentences: usize,
    /// Tokens where no LF fired.
    pub n_uncovered: usize,
}

/// The parameters of any token model, tagged by `model = "..."` in TOML / JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case", deny_unknown_fields)]
pub enum TokenParams {
    Mv(TokenMvParams),
    Ds(TokenDsParams),
    Hmm(HmmParams),
}

impl TokenParams {
    /// The default params of a model.
    pub fn defaults(kind: TokenLabelModelKind) -> Self {
        match kind {
            TokenLabelModelKind::Mv => TokenParams::Mv(TokenMvParams::default()),
            TokenLabelModelKind::Ds => TokenParams::Ds(TokenDsParams::default()),
            TokenLabelModelKind::Hmm => TokenParams::Hmm(HmmParams::default()),
        }
    }
    pub fn kind(&self) -> TokenLabelModelKind {
        match self {
            TokenParams::Mv(_) => TokenLabelModelKind::Mv,
            TokenParams::Ds(_) => TokenLabelModelKind::Ds,
            TokenParams::Hmm(_) => TokenLabelModelKind::Hmm,
        }
    }
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Checks the parameter values.
    pub fn validate(&self) -> Result<()> {
        match self {
            TokenParams::Mv(_) => Ok(()),
            TokenParams::Ds(p) => p.validate(),
            TokenParams::Hmm(p) => p.validate(),
        }
    }

    /// Fits on the token votes `votes` cut into sentences by `offsets`. Errors on bad params, on
    /// offsets that do not partition the rows, on a tag set whose size is not the matrix's
    /// cardinality, and when no LF fired on any token (nothing to fit). Warns (tracing) when
    /// Dawid–Skene's EM did not converge (the HMM's stops after a few iterations by design).
    pub fn fit(&self, votes: &LabelMatrix, offsets: &[usize], opts: &TokenFitOptions) -> Result<TokenFitted> {
        self.validate()?;
        check_offsets(offsets, votes.n_rows())?;
        if let Some(tags) = &opts.tags
            && tags.n_tags() != votes.cardinality()
        {
            return Err(Error::invalid(
                format!("token label model `{}`", self.name()),
                format!(
                    "the tag set has {} tags but the vote matrix {} classes",
                    tags.n_tags(),
                    votes.cardinality()
                ),
            ));
        }
        let sparse = Votes::new(votes);
        let covered = sparse.covered().len();
        if covered == 0 {
            return Err(Error::invalid(
                format!("token label model `{}`", self.name()),
                format!("no LF fired on any of the {} tokens: nothing to fit", votes.n_rows()),
            ));
        }
        let (m, t) = (votes.n_lfs(), votes.cardinality());
        let mut fitted = match self {
            TokenParams::Mv(_) => TokenFitted::Mv(TokenMajorityVote {
                n_lfs: m,
                n_tags: t,
                info: TokenFitInfo { converged: true, ..TokenFitInfo::default() },
            }),
            TokenParams::Ds(p) => TokenFitted::Ds(p.fit(&sparse)?),
            TokenParams::Hmm(p) => {
                let allowed = opts.tags.as_ref().map_or_else(|| hmm::Allowed::all(t), hmm::Allowed::of);
                TokenFitted::Hmm(p.fit(&sparse, offsets, &allowed)?)
            }
        };
        let info = fitted.info_mut();
        info.n_tokens = votes.n_rows();
        info.n_sentences = offsets.len() - 1;
        info.n_uncovered = votes.n_rows() - covered;
        // The HMM stops early on purpose (skweak's 4 iterations, see `HmmParams::max_iter`).
        if !fitted.info().converged && !matches!(fitted, TokenFitted::Hmm(_)) {
            tracing::warn!(
                model = fitted.name(),
                iterations = fitted.info().iterations,
                "the token label model did not converge; raise its max_iter"
            );
        }
        Ok(fitted)
    }
}

/// Any fitted token model; saved as JSON tagged by `model`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum TokenFitted {
    Mv(TokenMajorityVote),
    Ds(TokenDawidSkene),
    Hmm(HiddenMarkovModel),
}

impl TokenFitted {
    pub fn kind(&self) -> TokenLabelModelKind {
        match self {
            TokenFitted::Mv(_) => TokenLabelModelKind::Mv,
            TokenFitted::Ds(_) => TokenLabelModelKind::Ds,
            TokenFitted::Hmm(_) => TokenLabelModelKind::Hmm,
        }
    }
    /// `mv`, `ds` or `hmm`.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }
    /// How the fit went.
    pub fn info(&self) -> &TokenFitInfo {
        match self {
            TokenFitted::Mv(m) => &m.info,
            TokenFitted::Ds(m) => &m.info,
            TokenFitted::Hmm(m) => &m.info,
        }
    }
    fn info_mut(&mut self) -> &mut TokenFitInfo {
        match self {
            TokenFitted::Mv(m) => &mut m.info,
            TokenFitted::Ds(m) => &mut m.info,
            TokenFitted::Hmm(m) => &mut m.info,
        }
    }
    /// The number of LFs the model was fitted on.
    pub fn n_lfs(&self) -> usize {
        match self {
            TokenFitted::Mv(m) => m.n_lfs,
            TokenFitted::Ds(m) => m.n_lfs,
            TokenFitted::Hmm(m) => m.n_lfs,
        }
    }
    /// The number of tags.
    pub fn n_tags(&self) -> usize {
        match self {
            TokenFitted::Mv(m) => m.n_tags,
            TokenFitted::Ds(m) => m.n_tags,
            TokenFitted::Hmm(m) => m.n_tags,
        }
    }

    /// Tag probabilities for every token of `votes` (sentences cut by `offsets`). Errors when the
    /// matrix's LF count or tag count differs from the fitted model's, or on bad offsets.
    pub fn predict_proba(&self, votes: &LabelMatrix, offsets: &[usize]) -> Result<Proba> {
        if votes.n_lfs() != self.n_lfs() || votes.cardinality() != self.n_tags() {
            return Err(Error::invalid(
                format!("token label model `{}`", self.name()),
                format!(
                    "fitted on {} LFs × {} tags, given a vote matrix of {} LFs × {} tags",
                    self.n_lfs(),
                    self.n_tags(),
                    votes.n_lfs(),
                    votes.cardinality()
                ),
            ));
        }
        check_offsets(offsets, votes.n_rows())?;
        let sparse = Votes::new(votes);
        match self {
            TokenFitted::Mv(m) => m.proba(&sparse),
            TokenFitted::Ds(m) => m.proba(&sparse),
            TokenFitted::Hmm(m) => m.proba(&sparse, offsets),
        }
    }

    /// The most probable tag of every token; ties (probabilities within 1e-9 of the best, float
    /// noise from normalisation included) go to the lowest tag id, so an `O`-vs-entity tie gives `O`.
    pub fn predict(&self, votes: &LabelMatrix, offsets: &[usize]) -> Result<Vec<Label>> {
        Ok(argmax_rows(&self.predict_proba(votes, offsets)?))
    }

    /// Learned per-LF accuracy: P(the LF's vote is the token's tag | the LF fires), under the
    /// model's tag frequencies; `None` for `mv`, which learns none.
    pub fn lf_accuracies(&self) -> Option<Vec<f64>> {
        match self {
            TokenFitted::Mv(_) => None,
            TokenFitted::Ds(m) => Some(m.emissions.accuracies(&m.class_balance)),
            TokenFitted::Hmm(m) => Some(m.emissions.accuracies(&m.tag_balance)),
        }
    }
    /// The learned emission matrices (`None` for `mv`).
    pub fn emissions(&self) -> Option<&Emissions> {
        match self {
            TokenFitted::Mv(_) => None,
            TokenFitted::Ds(m) => Some(&m.emissions),
            TokenFitted::Hmm(m) => Some(&m.emissions),
        }
    }
    /// The model's tag frequencies: the prior for `ds`, the expected frequencies over the fitted
    /// tokens for `hmm`; `None` for `mv`.
    pub fn tag_balance(&self) -> Option<&[f64]> {
        match self {
            TokenFitted::Mv(_) => None,
            TokenFitted::Ds(m) => Some(&m.class_balance),
            TokenFitted::Hmm(m) => Some(&m.tag_balance),
        }
    }

    /// Writes the model as pretty JSON (atomically).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::write_json(path, self)
    }
    /// Reads a model written by [`TokenFitted::save`], checking its arrays against its shape.
    pub fn load(path: &Path) -> Result<Self> {
        let m: Self = crate::io::read_json(path)?;
        let checked = match &m {
            TokenFitted::Mv(x) => x.check(),
            TokenFitted::Ds(x) => x.check(),
            TokenFitted::Hmm(x) => x.check(),
        };
        checked.map_err(|msg| {
            Error::parse(path, None, None, format!("not a consistent token label model: {msg}"))
        })?;
        Ok(m)
    }
}

impl HiddenMarkovModel {
    /// An HMM with given parameters (no fit): `start` and each row of the row-major `T × T`
    /// `transitions` must be distributions, `emissions` must have `T` tags.
    pub fn from_parts(
        start: Vec<f64>,
        transitions: Vec<f64>,
        emissions: Emissions,
        restrict_to_voted: bool,
    ) -> Result<Self> {
        let t = emissions.n_tags();
        let tag_balance = start.clone();
        let m = Self {
            n_lfs: emissions.n_lfs(),
            n_tags: t,
            start,
            transitions,
            emissions,
            tag_balance,
            restrict_to_voted,
            log_likelihood_history: Vec::new(),
            info: TokenFitInfo::default(),
        };
        m.check().map_err(|msg| Error::invalid("hmm", msg))?;
        Ok(m)
    }
}

impl Emissions {
    /// Emission matrices from probabilities, `probs[(j * T + y) * (T + 1) + l]` = P(LF `j` outputs
    /// `l` | tag `y`), `l = T` meaning abstain; every row must be positive and sum to 1.
    pub fn new(n_lfs: usize, n_tags: usize, probs: Vec<f64>) -> Result<Self> {
        let e = Self::from_raw(n_lfs, n_tags, probs);
        e.check().map_err(|msg| Error::invalid("emissions", msg))?;
        Ok(e)
    }
}

/// Checks that `offsets` cut `n_rows` token rows into sentences: at least one value, starting at 0,
/// non-decreasing, ending at `n_rows`. Errors name the first offending sentence.
pub fn check_offsets(offsets: &[usize], n_rows: usize) -> Result<()> {
    let ctx = "sentence offsets";
    match offsets.first() {
        None => {
            return Err(Error::invalid(ctx, "empty: need n_sentences + 1 values starting at 0"));
        }
        Some(&first) if first != 0 => {
            return Err(Error::invalid(ctx, format!("sentence 0 starts at token {first}, not 0")));
        }
        _ => {}
    }
    if let Some(s) = offsets.windows(2).position(|w| w[0] > w[1]) {
        return Err(Error::invalid(
            ctx,
            format!("sentence {s} ends at token {} before it starts at {}", offsets[s + 1], offsets[s]),
        ));
    }
    let last = offsets[offsets.len() - 1];
    if last != n_rows {
        let msg = match offsets.len() - 1 {
            0 => format!("no sentences, but the vote matrix has {n_rows} token rows"),
            n => format!(
                "the last sentence ({}) ends at token {last}, but the vote matrix has {n_rows} token rows",
                n - 1
            ),
        };
        return Err(Error::invalid(ctx, msg));
    }
    Ok(())
}

/// The most probable tag of every row (the first of near-ties within 1e-9): what
/// [`TokenFitted::predict`] returns, for callers that already hold the probabilities.
pub fn argmax_rows(p: &Proba) -> Vec<Label> {
    (0..p.n_rows())
        .map(|i| {
            let row = p.row(i);
            let best = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            row.iter().position(|&x| x >= best - 1e-9).unwrap_or(0) as Label
        })
        .collect()
}

/// Checks a saved distribution: `n` finite non-negative values summing to 1.
pub(crate) fn check_distribution(name: &str, v: &[f64], n: usize) -> std::result::Result<(), String> {
    let s: f64 = v.iter().sum();
    if v.len() != n || v.iter().any(|p| !(p.is_finite() && *p >= 0.0)) || (s - 1.0).abs() > 1e-6 {
        return Err(format!("{name}: need {n} non-negative values summing to 1, got {v:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_checked_naming_the_sentence() {
        assert!(check_offsets(&[0, 2, 2, 5], 5).is_ok());
        assert!(check_offsets(&[0], 0).is_ok());
        let e = |o: &[usize], n| check_offsets(o, n).unwrap_err().to_string();
        assert!(e(&[], 3).contains("empty"));
        assert!(e(&[1, 3], 3).contains("sentence 0 starts at token 1"));
        assert!(e(&[0, 3, 2, 4], 4).contains("sentence 1 ends at token 2"), "{}", e(&[0, 3, 2, 4], 4));
        assert!(e(&[0, 2, 4], 5).contains("ends at token 4, but the vote matrix has 5"));
    }

    #[test]
    fn kinds_parse_and_print_their_cli_spelling() {
        for k in TokenLabelModelKind::ALL {
            assert_eq!(k.name().parse::<TokenLabelModelKind>().unwrap(), k);
            assert_eq!(k.to_string(), k.name());
            assert_eq!(TokenParams::defaults(k).kind(), k);
        }
        assert!("crf".parse::<TokenLabelModelKind>().is_err());
        let p: TokenParams = serde_json::from_str(r#"{"model": "hmm", "max_iter": 4}"#).unwrap();
        assert_eq!(p, TokenParams::Hmm(HmmParams { max_iter: 4, ..HmmParams::default() }));
    }

    #[test]
    fn argmax_breaks_ties_to_the_lowest_id() {
        let p = Proba::new(2, 3, vec![0.2, 0.4, 0.4, 0.5, 0.5, 0.0]).unwrap();
        assert_eq!(argmax_rows(&p), vec![1, 0]);
    }
}
