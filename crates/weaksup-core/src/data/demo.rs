//! The built-in demo corpus: a seeded generator of English customer-support messages in four
//! classes (`billing`, `shipping`, `technical`, `account`), with gold labels.
//!
//! It needs no external data, so `weaksup run` works anywhere, and tests and benchmarks get a
//! realistic corpus of any size. The texts are built so that weak supervision is neither trivial
//! nor hopeless (see `datasets/demo.md` for the full description and measured numbers):
//!
//! * every class has templates and slot vocabularies; a few of its words are the keywords of
//!   `labeling_functions/demo_topics.toml`, many more are *hidden* indicative words that no LF
//!   uses (`subscription`, `shipment`, `website`, `username`, ...), so some messages contain no
//!   LF keyword at all yet are still classifiable, and an end model can generalise beyond the LFs;
//! * some words are shared across classes (`my order` in billing messages, `my account` in billing
//!   and technical ones, `the app` in account ones), so keyword LFs disagree;
//! * with probability [`DemoParams::noise`] a message gets an aside about another class's topic
//!   ("Also, the app crashes when ..."), with probability [`DemoParams::typo_rate`] per word a
//!   letter is swapped, dropped or doubled, and casing and punctuation vary;
//! * a few messages are short, and a few are generic ("can someone call me back please?").
//!
//! Determinism: the same [`DemoParams`] give a byte-identical corpus on every platform. Each split
//! is drawn from its own `ChaCha8Rng` seeded from `seed` and the split's name, so changing
//! `n_test` does not change `train`. Changing `noise`, `typo_rate` or `class_balance` changes
//! every split. The corpus depends on rand 0.8 / rand_chacha 0.3's exact algorithms: upgrading
//! those crates may change it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// Class names of the demo corpus; a class's id is its position.
pub const DEMO_CLASSES: [&str; 4] = ["billing", "shipping", "technical", "account"];

/// The LF file written for the demo corpus (`labeling_functions/demo_topics.toml`), embedded so
/// the demo runs without any file on disk.
pub const DEMO_LF_TOML: &str = include_str!("../../../../labeling_functions/demo_topics.toml");

/// Parameters of the demo corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoParams {
    /// Rows of the `train` split. Default 2000.
    pub n_train: usize,
    /// Rows of the `valid` split. Default 250.
    pub n_valid: usize,
    /// Rows of the `test` split. Default 500.
    pub n_test: usize,
    /// Seed of every random draw. Default 42. In a run it is the run's seed
    /// ([`crate::seeds::Seeds::demo`]), never read from or written to a config file.
    #[serde(skip)]
    pub seed: u64,
    /// Relative class frequencies in [`DEMO_CLASSES`] order: 4 finite non-negative weights with a
    /// positive sum (normalised). Default `[0.35, 0.25, 0.25, 0.15]`.
    pub class_balance: Vec<f64>,
    /// Probability, per message, of an aside about another class's topic (cross-class
    /// ambiguity), in [0, 1]. Default 0.25.
    pub noise: f64,
    /// Probability, per word of 4 or more letters, of a typo (two letters swapped, one dropped or
    /// one doubled), in [0, 1]. Default 0.02.
    pub typo_rate: f64,
}

impl Default for DemoParams {
    fn default() -> Self {
        DemoParams {
            n_train: 2000,
            n_valid: 250,
            n_test: 500,
            seed: 42,
            class_balance: vec![0.35, 0.25, 0.25, 0.15],
            noise: 0.25,
            typo_rate: 0.02,
        }
    }
}

impl DemoParams {
    /// Checks the parameters; the message names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        if self.class_balance.len() != DEMO_CLASSES.len() {
            return Err(format!(
                "demo: class_balance must have {} weights (one per class: {}), got {}",
                DEMO_CLASSES.len(),
                DEMO_CLASSES.join(", "),
                self.class_balance.len()
            ));
        }
        if let Some(w) = self.class_balance.iter().find(|w| !w.is_finite() || **w < 0.0) {
            return Err(format!("demo: class_balance weights must be finite and non-negative, got {w}"));
        }
        let sum: f64 = self.class_balance.iter().sum();
        if sum <= 0.0 {
            return Err("demo: class_balance weights must have a positive sum, got 0".into());
        }
        if !(0.0..=1.0).contains(&self.noise) {
            return Err(format!("demo: noise must be in [0, 1], got {}", self.noise));
        }
        if !(0.0..=1.0).contains(&self.typo_rate) {
            return Err(format!("demo: typo_rate must be in [0, 1], got {}", self.typo_rate));
        }
        Ok(())
    }
}

/// One split: texts and their gold class ids (indices into [`DEMO_CLASSES`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DemoSplit {
    pub texts: Vec<String>,
    pub labels: Vec<u32>,
}

impl DemoSplit {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// Whether the split has no rows.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }
}

/// The generated corpus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoCorpus {
    /// [`DEMO_CLASSES`] as owned strings.
    pub classes: Vec<String>,
    pub train: DemoSplit,
    pub valid: DemoSplit,
    pub test: DemoSplit,
}

/// Generates the demo corpus; `Err` with a plain message for invalid parameters.
pub fn generate(params: &DemoParams) -> Result<DemoCorpus, String> {
    params.validate()?;
    let total: f64 = params.class_balance.iter().sum();
    let mut cumulative = [0.0f64; 4];
    let mut acc = 0.0;
    for (c, w) in params.class_balance.iter().enumerate() {
        acc += w / total;
        cumulative[c] = acc;
    }
    // Rounding may leave the last cumulative weight just under 1; a draw above it goes to the
    // last class with a positive weight.
    let last_positive = params.class_balance.iter().rposition(|w| *w > 0.0).unwrap_or(0);
    let gen_split = |salt: u64, n: usize| {
        let mut rng = ChaCha8Rng::seed_from_u64(split_seed(params.seed, salt));
        let mut split = DemoSplit { texts: Vec::with_capacity(n), labels: Vec::with_capacity(n) };
        for _ in 0..n {
            let u: f64 = rng.r#gen();
            let label = cumulative.iter().position(|&c| u < c).unwrap_or(last_positive);
            split.texts.push(message(&mut rng, label, params));
            split.labels.push(label as u32);
        }
        split
    };
    Ok(DemoCorpus {
        classes: DEMO_CLASSES.iter().map(|c| c.to_string()).collect(),
        train: gen_split(SALT_TRAIN, params.n_train),
        valid: gen_split(SALT_VALID, params.n_valid),
        test: gen_split(SALT_TEST, params.n_test),
    })
}

// ------------------------------------------------------------------------------------ seeding

const SALT_TRAIN: u64 = u64::from_le_bytes(*b"trainspl");
const SALT_VALID: u64 = u64::from_le_bytes(*b"validspl");
const SALT_TEST: u64 = u64::from_le_bytes(*b"test_spl");

/// SplitMix64 finaliser of `seed ^ salt`: independent, well-mixed seeds per split (so that, e.g.,
/// seed 43's train is not seed 42's valid).
fn split_seed(seed: u64, salt: u64) -> u64 {
    let mut z = (seed ^ salt).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// --------------------------------------------------------------------------------- vocabulary

/// The corpus's word lists and templates, a data file compiled in.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vocabulary {
    /// Probability of a topic-free message from `generic`.
    generic_rate: f64,
    generic: Vec<String>,
    greetings: Vec<String>,
    fillers: Vec<String>,
    closings: Vec<String>,
    connectors: Vec<String>,
    /// Values of each `{slot}`.
    slots: BTreeMap<String, Vec<String>>,
    /// In the order of [`DEMO_CLASSES`].
    classes: Vec<ClassSpec>,
}

/// Per class: full-sentence templates, short messages, and the probability of a short message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassSpec {
    /// Checked against [`DEMO_CLASSES`] by `vocabulary_is_complete`.
    #[cfg_attr(not(test), allow(dead_code))]
    name: String,
    short_rate: f64,
    templates: Vec<String>,
    short: Vec<String>,
}

const VOCABULARY_TOML: &str = include_str!("demo_vocabulary.toml");

/// The parsed vocabulary; `vocabulary_is_complete` checks the file (it parses, names the demo's
/// classes in order, and every slot a template uses has values), so the `expect` cannot fire.
static VOCABULARY: LazyLock<Vocabulary> =
    LazyLock::new(|| toml::from_str(VOCABULARY_TOML).expect("the compiled-in demo vocabulary parses"));

impl Vocabulary {
    fn slot(&self, name: &str) -> &[String] {
        self.slots.get(name).map_or(&[], Vec::as_slice)
    }
}

// --------------------------------------------------------------------------------- generation

/// Uniform index in `lo..hi`, drawn as `u32` so the stream is the same on 32- and 64-bit
/// platforms (rand samples `usize` ranges with the platform's width).
fn index(rng: &mut ChaCha8Rng, lo: usize, hi: usize) -> usize {
    rng.gen_range(lo as u32..hi as u32) as usize
}

fn pick<'a>(rng: &mut ChaCha8Rng, items: &'a [String]) -> &'a str {
    &items[index(rng, 0, items.len())]
}

fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    rng.r#gen::<f64>() < p
}

/// Fills the `{slot}`s of a template.
fn fill(rng: &mut ChaCha8Rng, template: &str) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').expect("unclosed slot in a demo template");
        slot(rng, &rest[open + 1..close], &mut out);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

fn slot(rng: &mut ChaCha8Rng, name: &str, out: &mut String) {
    use std::fmt::Write;
    let v = &*VOCABULARY;
    match name {
        "days" => {
            let _ = write!(out, "{}", rng.gen_range(2..=21u32));
        }
        "amount" => {
            let whole = rng.gen_range(5..=300u32);
            let cents = rng.gen_range(0..100u32);
            let _ = match rng.gen_range(0..20u32) {
                0..=12 => write!(out, "${whole}.{cents:02}"),
                13..=16 => write!(out, "{whole}.{cents:02} dollars"),
                _ => write!(out, "EUR {whole}.{cents:02}"),
            };
        }
        "order" => {
            let n = rng.gen_range(10_000..10_000_000u32);
            let _ = match rng.gen_range(0..20u32) {
                0..=8 => write!(out, "order #{n}"),
                9..=12 => write!(out, "order number {n}"),
                13..=16 => write!(out, "order {n}"),
                _ => write!(out, "#{n}"),
            };
        }
        "version" => {
            let major = rng.gen_range(2..=6u32);
            let minor = rng.gen_range(0..10u32);
            let _ = match rng.gen_range(0..3u32) {
                0 => write!(out, "version {major}.{minor}"),
                1 => write!(out, "v{major}.{minor}.{}", rng.gen_range(0..5u32)),
                _ => write!(out, "the {major}.{minor} release"),
            };
        }
        "email" => {
            let first = pick(rng, v.slot("name")).to_ascii_lowercase();
            let last = pick(rng, v.slot("surname"));
            let domain = pick(rng, v.slot("domain"));
            let _ = if chance(rng, 0.5) {
                write!(out, "{first}.{last}@{domain}")
            } else {
                write!(out, "{first}{}@{domain}", rng.gen_range(1..100u32))
            };
        }
        "username" => {
            let first = pick(rng, v.slot("name")).to_ascii_lowercase();
            let last = pick(rng, v.slot("surname"));
            let _ = write!(out, "{first}_{last}{}", rng.gen_range(1..100u32));
        }
        other => {
            let list = v.slot(other);
            assert!(!list.is_empty(), "unknown slot {{{other}}} in the demo vocabulary");
            out.push_str(pick(rng, list));
        }
    }
}

/// Capitalises the first character (templates may start with a lower-case slot value).
fn capitalise(s: &mut String) {
    if let Some(c) = s.chars().next().filter(char::is_ascii_lowercase) {
        s.replace_range(0..1, &c.to_ascii_uppercase().to_string());
    }
}

/// Lower-cases the first character unless the first word is "I"/"I'..." or not a plain
/// capitalised word (e.g. "UPS", "PayPal").
fn decapitalise(s: &mut String) {
    let first_word = s.split(' ').next().unwrap_or("");
    if first_word == "I" || first_word.starts_with("I'") {
        return;
    }
    let mut chars = first_word.chars();
    let (Some(c0), rest) = (chars.next(), chars.as_str()) else {
        return;
    };
    if c0.is_ascii_uppercase() && !rest.chars().any(|c| c.is_ascii_uppercase()) {
        s.replace_range(0..1, &c0.to_ascii_lowercase().to_string());
    }
}

/// Varies the final punctuation of a sentence.
fn vary_punctuation(rng: &mut ChaCha8Rng, s: &mut String) {
    let u: f64 = rng.r#gen();
    if s.ends_with('.') {
        let replacement = match u {
            u if u < 0.08 => "!",
            u if u < 0.11 => "!!",
            u if u < 0.14 => "...",
            u if u < 0.19 => "",
            _ => return,
        };
        s.pop();
        s.push_str(replacement);
    } else if s.ends_with('?') {
        let replacement = match u {
            u if u < 0.10 => "??",
            u if u < 0.14 => "?!",
            u if u < 0.18 => "",
            _ => return,
        };
        s.pop();
        s.push_str(replacement);
    }
}

/// One sentence of class `class`: a filled template with capitalised start and varied ending.
fn sentence(rng: &mut ChaCha8Rng, class: usize, template: usize) -> String {
    let mut s = fill(rng, &VOCABULARY.classes[class].templates[template]);
    capitalise(&mut s);
    vary_punctuation(rng, &mut s);
    s
}

/// Longest message, in whitespace-separated words.
const MAX_WORDS: usize = 60;

/// One message of class `class`.
fn message(rng: &mut ChaCha8Rng, class: usize, params: &DemoParams) -> String {
    let v = &*VOCABULARY;
    let spec = &v.classes[class];
    let text = if chance(rng, v.generic_rate) {
        pick(rng, &v.generic).to_string()
    } else if chance(rng, spec.short_rate) {
        pick(rng, &spec.short).to_string()
    } else {
        // Every random draw happens in a fixed order; optional parts are dropped only afterwards
        // (if the message is too long), so the draw sequence never depends on lengths.
        let greeting = chance(rng, 0.45).then(|| pick(rng, &v.greetings).to_string());
        let filler = chance(rng, 0.25).then(|| pick(rng, &v.fillers).to_string());
        let main_t = index(rng, 0, spec.templates.len());
        let main = sentence(rng, class, main_t);
        let second = chance(rng, 0.4).then(|| {
            // A different template of the same class.
            let t = (main_t + index(rng, 1, spec.templates.len())) % spec.templates.len();
            sentence(rng, class, t)
        });
        let aside = chance(rng, params.noise).then(|| {
            let other = (class + index(rng, 1, v.classes.len())) % v.classes.len();
            let t = index(rng, 0, v.classes[other].templates.len());
            let mut s = sentence(rng, other, t);
            decapitalise(&mut s);
            let before_second = chance(rng, 0.4);
            (format!("{}{s}", pick(rng, &v.connectors)), before_second)
        });
        let closing = chance(rng, 0.5).then(|| {
            let template = pick(rng, &v.closings);
            fill(rng, template)
        });

        let mut parts: Vec<Option<String>> = vec![greeting, filler, Some(main)];
        let (aside, before_second) = match aside {
            Some((a, b)) => (Some(a), b),
            None => (None, false),
        };
        if before_second {
            parts.extend([aside, second, closing]);
        } else {
            parts.extend([second, aside, closing]);
        }
        let words = |parts: &[Option<String>]| -> usize {
            parts.iter().flatten().map(|p| p.split_whitespace().count()).sum()
        };
        // Drop optional parts until the message fits: filler, then greeting, then closing.
        for drop in [1usize, 0, 5] {
            if words(&parts) <= MAX_WORDS {
                break;
            }
            parts[drop] = None;
        }
        parts.into_iter().flatten().collect::<Vec<_>>().join(" ")
    };
    let mut text = add_typos(rng, &text, params.typo_rate);
    let u: f64 = rng.r#gen();
    if u < 0.12 {
        text.make_ascii_lowercase();
    } else if u < 0.135 {
        text.make_ascii_uppercase();
    } else if u < 0.215 {
        decapitalise(&mut text);
    }
    text
}

/// Applies a typo, with probability `rate`, to each word of 4+ ASCII letters (trailing
/// punctuation allowed): two adjacent letters swapped, one dropped, or one doubled. Words with
/// digits or symbols (amounts, e-mail addresses, order numbers) are left alone.
fn add_typos(rng: &mut ChaCha8Rng, text: &str, rate: f64) -> String {
    if rate <= 0.0 {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let core_len = word.trim_end_matches(['.', ',', '!', '?', ';', ':']).len();
        let (core, tail) = word.split_at(core_len);
        if core_len < 4 || !core.bytes().all(|b| b.is_ascii_alphabetic()) || !chance(rng, rate) {
            out.push_str(word);
            continue;
        }
        let mut b = core.as_bytes().to_vec();
        let pos = index(rng, 1, b.len() - 1); // keep the first letter
        match rng.gen_range(0..3u32) {
            0 => b.swap(pos, pos + 1),
            1 => {
                b.remove(pos);
            }
            _ => b.insert(pos, b[pos]),
        }
        out.push_str(std::str::from_utf8(&b).expect("ASCII letters"));
        out.push_str(tail);
    }
    out
}

// -------------------------------------------------------------------------------------- tests

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn params(n_train: usize, seed: u64) -> DemoParams {
        DemoParams { n_train, n_valid: 50, n_test: 50, seed, ..DemoParams::default() }
    }

    #[test]
    fn same_seed_same_corpus_and_different_seed_different() {
        let a = generate(&params(500, 7)).unwrap();
        let b = generate(&params(500, 7)).unwrap();
        assert_eq!(a, b);
        let c = generate(&params(500, 8)).unwrap();
        assert_ne!(a.train, c.train);
        assert_ne!(a.valid, c.valid);
        assert_ne!(a.test, c.test);
    }

    #[test]
    fn splits_are_independent_streams() {
        let base = generate(&DemoParams::default()).unwrap();
        let more_test = generate(&DemoParams { n_test: 900, n_valid: 3, ..DemoParams::default() }).unwrap();
        assert_eq!(base.train, more_test.train);
        assert_eq!(base.test.texts[..], more_test.test.texts[..500]);
        assert_eq!(base.valid.texts[..3], more_test.valid.texts[..]);
        // No split is a copy of another.
        assert_ne!(base.train.texts[..250], base.valid.texts[..]);
        assert_ne!(base.train.texts[..500], base.test.texts[..]);
    }

    #[test]
    fn vocabulary_is_complete() {
        let v: Vocabulary = toml::from_str(VOCABULARY_TOML).unwrap();
        let names: Vec<&str> = v.classes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, DEMO_CLASSES);
        for list in [&v.generic, &v.greetings, &v.fillers, &v.closings, &v.connectors] {
            assert!(!list.is_empty());
        }
        assert!((0.0..1.0).contains(&v.generic_rate));
        let computed = ["days", "amount", "order", "version", "email", "username"];
        for name in ["name", "surname", "domain"] {
            assert!(!v.slot(name).is_empty(), "{name}");
        }
        let texts = v.classes.iter().flat_map(|c| {
            assert!(
                (0.0..1.0).contains(&c.short_rate) && c.templates.len() >= 2 && !c.short.is_empty(),
                "{}",
                c.name
            );
            c.templates.iter()
        });
        for text in texts.chain(&v.closings) {
            let mut rest = text.as_str();
            while let Some(open) = rest.find('{') {
                let close =
                    open + rest[open..].find('}').unwrap_or_else(|| panic!("unclosed slot in {text:?}"));
                let name = &rest[open + 1..close];
                assert!(
                    computed.contains(&name) || !v.slot(name).is_empty(),
                    "{{{name}}} in {text:?} has no values"
                );
                rest = &rest[close + 1..];
            }
        }
    }

    #[test]
    fn default_corpus_is_pinned() {
        // Pins the generator's output (FNV-1a over every text of the default corpus): if this
        // changes, the corpus documented in datasets/demo.md, and any result saved on it, changed.
        let c = generate(&DemoParams::default()).unwrap();
        let digest = c
            .train
            .texts
            .iter()
            .chain(&c.valid.texts)
            .chain(&c.test.texts)
            .flat_map(|t| t.bytes().chain([0u8]))
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
        let labels: Vec<u32> = c.train.labels[..12].to_vec();
        assert_eq!((digest, labels), (GOLDEN_DIGEST, GOLDEN_LABELS.to_vec()));
    }
    // To update after an intended change of the generator: run the test, copy the `left` values
    // here, and re-measure the numbers in datasets/demo.md.
    const GOLDEN_DIGEST: u64 = 9796304217263036779;
    const GOLDEN_LABELS: [u32; 12] = [0, 3, 3, 2, 2, 3, 2, 3, 0, 0, 1, 3];

    #[test]
    fn row_counts_and_classes() {
        let c = generate(&DemoParams { n_train: 123, n_valid: 0, n_test: 7, ..Default::default() }).unwrap();
        assert_eq!(c.classes, DEMO_CLASSES.to_vec());
        assert_eq!((c.train.len(), c.train.labels.len()), (123, 123));
        assert!(c.valid.is_empty() && c.valid.labels.is_empty());
        assert_eq!((c.test.len(), c.test.labels.len()), (7, 7));
        let d = DemoParams::default();
        let c = generate(&d).unwrap();
        assert_eq!((c.train.len(), c.valid.len(), c.test.len()), (2000, 250, 500));
    }

    #[test]
    fn texts_are_non_empty_ascii_and_5_to_60_words() {
        for p in [
            DemoParams::default(),
            DemoParams { noise: 1.0, typo_rate: 1.0, seed: 3, ..DemoParams::default() },
            DemoParams { noise: 0.0, typo_rate: 0.0, seed: 4, ..DemoParams::default() },
        ] {
            let c = generate(&p).unwrap();
            for split in [&c.train, &c.valid, &c.test] {
                for (t, &l) in split.texts.iter().zip(&split.labels) {
                    assert!(!t.trim().is_empty());
                    assert!(t.is_ascii(), "{t}");
                    assert_eq!(t, t.trim(), "no leading/trailing space: {t:?}");
                    assert!(!t.contains("  ") && !t.contains('{'), "{t:?}");
                    let n = t.split_whitespace().count();
                    assert!((5..=MAX_WORDS).contains(&n), "{n} words: {t}");
                    assert!(l < 4);
                }
            }
        }
    }

    #[test]
    fn class_balance_follows_params() {
        for balance in [vec![0.35, 0.25, 0.25, 0.15], vec![1.0, 1.0, 0.0, 2.0]] {
            let p = DemoParams {
                n_train: 20_000,
                n_valid: 0,
                n_test: 0,
                class_balance: balance.clone(),
                ..DemoParams::default()
            };
            let c = generate(&p).unwrap();
            let sum: f64 = balance.iter().sum();
            for (k, w) in balance.iter().enumerate() {
                let freq = c.train.labels.iter().filter(|&&l| l == k as u32).count() as f64 / 20_000.0;
                assert!((freq - w / sum).abs() < 0.02, "class {k}: {freq} vs {}", w / sum);
                if *w == 0.0 {
                    assert_eq!(freq, 0.0);
                }
            }
        }
    }

    #[test]
    fn invalid_params_are_rejected() {
        let bad = |f: fn(&mut DemoParams)| {
            let mut p = DemoParams::default();
            f(&mut p);
            generate(&p).unwrap_err()
        };
        assert!(bad(|p| p.class_balance = vec![0.5, 0.5]).contains("class_balance"));
        assert!(bad(|p| p.class_balance = vec![0.5, 0.5, 0.5, 0.5, 0.5]).contains("4 weights"));
        assert!(bad(|p| p.class_balance = vec![0.5, -0.1, 0.3, 0.3]).contains("non-negative"));
        assert!(bad(|p| p.class_balance = vec![0.5, f64::NAN, 0.3, 0.3]).contains("finite"));
        assert!(bad(|p| p.class_balance = vec![0.0; 4]).contains("positive sum"));
        assert!(bad(|p| p.noise = 1.5).contains("noise"));
        assert!(bad(|p| p.noise = -0.1).contains("noise"));
        assert!(bad(|p| p.noise = f64::NAN).contains("noise"));
        assert!(bad(|p| p.typo_rate = 2.0).contains("typo_rate"));
        assert!(generate(&DemoParams { noise: 0.0, typo_rate: 1.0, ..Default::default() }).is_ok());
    }

    #[test]
    fn params_serde_defaults_and_unknown_fields() {
        assert!(DemoParams::default().validate().is_ok());
        let p: DemoParams = toml::from_str("n_valid = 7\nnoise = 0.1").unwrap();
        assert_eq!(p, DemoParams { n_valid: 7, noise: 0.1, ..DemoParams::default() });
        // The seed is the run's, not a setting of the corpus.
        assert!(
            toml::from_str::<DemoParams>("seed = 7")
                .unwrap_err()
                .to_string()
                .contains("unknown field `seed`")
        );
        assert_eq!(toml::from_str::<DemoParams>("").unwrap(), DemoParams::default());
        let err = toml::from_str::<DemoParams>("sed = 7").unwrap_err().to_string();
        assert!(err.contains("sed"), "{err}");
    }

    // ----- a tiny re-implementation of the keyword LFs of labeling_functions/demo_topics.toml

    /// (name, class, word_boundary, keywords) of every `kind = "keyword"` LF of the TOML.
    const KEYWORD_LFS: &[(&str, usize, bool, &[&str])] = &[
        ("kw_refund", 0, false, &["refund", "money back"]),
        ("kw_charged_invoice", 0, false, &["charged", "invoice", "billed"]),
        ("kw_delivery_tracking", 1, false, &["delivery", "delivered", "tracking"]),
        ("kw_package", 1, false, &["package", "parcel", "courier"]),
        ("kw_my_order", 1, false, &["my order"]),
        ("kw_error_crash", 2, false, &["error", "crash"]),
        ("kw_bug", 2, true, &["bug", "bugs", "glitch", "glitches"]),
        ("kw_the_app", 2, false, &["the app"]),
        ("kw_password_login", 3, false, &["password", "log in", "login"]),
        ("kw_my_account", 3, false, &["my account"]),
        ("kw_verification", 3, false, &["verification code", "two-factor", "2fa"]),
    ];

    fn contains_kw(lower: &str, kw: &str, word_boundary: bool) -> bool {
        if !word_boundary {
            return lower.contains(kw);
        }
        let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        lower.match_indices(kw).any(|(i, _)| {
            !is_word(lower[..i].chars().next_back()) && !is_word(lower[i + kw.len()..].chars().next())
        })
    }

    /// Votes per class of the keyword LFs on one text.
    fn keyword_votes(text: &str) -> [u32; 4] {
        let lower = text.to_lowercase();
        let mut votes = [0u32; 4];
        for (_, class, wb, kws) in KEYWORD_LFS {
            if kws.iter().any(|kw| contains_kw(&lower, kw, *wb)) {
                votes[*class] += 1;
            }
        }
        votes
    }

    /// (coverage, expected majority-vote accuracy on covered rows with ties broken uniformly at
    /// random, fraction of rows with at least two classes voted).
    fn keyword_stats(split: &DemoSplit) -> (f64, f64, f64) {
        let (mut covered, mut correct, mut conflict) = (0usize, 0.0f64, 0usize);
        for (t, &l) in split.texts.iter().zip(&split.labels) {
            let v = keyword_votes(t);
            let max = *v.iter().max().unwrap();
            if max == 0 {
                continue;
            }
            covered += 1;
            let tied = v.iter().filter(|&&x| x == max).count();
            if v[l as usize] == max {
                correct += 1.0 / tied as f64;
            }
            if v.iter().filter(|&&x| x > 0).count() > 1 {
                conflict += 1;
            }
        }
        let n = split.len() as f64;
        (covered as f64 / n, correct / covered as f64, conflict as f64 / n)
    }

    #[test]
    fn keyword_table_matches_the_toml_file() {
        for (name, class, wb, kws) in KEYWORD_LFS {
            let start = DEMO_LF_TOML
                .find(&format!("name = \"{name}\""))
                .unwrap_or_else(|| panic!("{name} missing from demo_topics.toml"));
            let block = &DEMO_LF_TOML[start..];
            let block = &block[..block[1..].find("[[lf]]").map_or(block.len(), |e| e + 1)];
            assert!(block.contains("kind = \"keyword\""), "{name}");
            assert!(block.contains(&format!("label = \"{}\"", DEMO_CLASSES[*class])), "{name}");
            let list = kws.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ");
            assert!(block.contains(&format!("keywords = [{list}]")), "{name}: {list}");
            assert_eq!(block.contains("word_boundary = true"), *wb, "{name}");
        }
        assert_eq!(DEMO_LF_TOML.matches("kind = \"keyword\"").count(), KEYWORD_LFS.len());
        let classes = DEMO_CLASSES.map(|c| format!("\"{c}\"")).join(", ");
        assert!(DEMO_LF_TOML.contains(&format!("classes = [{classes}]")));
    }

    #[test]
    fn keyword_lfs_are_ambiguous_and_incomplete() {
        let c = generate(&DemoParams { n_train: 5000, ..DemoParams::default() }).unwrap();
        let (coverage, mv_acc, conflict) = keyword_stats(&c.train);
        assert!((0.55..=0.9).contains(&coverage), "coverage {coverage}");
        assert!((0.6..=0.92).contains(&mv_acc), "MV accuracy {mv_acc}");
        assert!(conflict > 0.03, "conflict {conflict}");
        // At least 10% of rows carry no LF keyword at all.
        assert!(1.0 - coverage >= 0.10, "uncovered {}", 1.0 - coverage);
        // Every keyword LF is imperfect or at least not the only evidence: each fires somewhere
        // and none covers everything of its class.
        for (name, class, wb, kws) in KEYWORD_LFS {
            let fired: Vec<u32> = c
                .train
                .texts
                .iter()
                .zip(&c.train.labels)
                .filter(|(t, _)| kws.iter().any(|k| contains_kw(&t.to_lowercase(), k, *wb)))
                .map(|(_, &l)| l)
                .collect();
            assert!(fired.len() >= 20, "{name} fires {} times", fired.len());
            let class_rows = c.train.labels.iter().filter(|&&l| l as usize == *class).count();
            assert!(fired.len() < class_rows, "{name}");
        }
        // No noise and no typos ⇒ LFs get more accurate: the noise parameter does something.
        let clean = generate(&DemoParams { n_train: 5000, noise: 0.0, ..DemoParams::default() }).unwrap();
        let (_, clean_acc, clean_conflict) = keyword_stats(&clean.train);
        assert!(clean_acc > mv_acc + 0.03, "{clean_acc} vs {mv_acc}");
        assert!(clean_conflict < conflict, "{clean_conflict} vs {conflict}");
    }

    fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
        text.split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
            .filter(|w| w.len() > 1)
            .map(|w| w.to_ascii_lowercase())
    }

    #[test]
    fn every_class_has_many_indicative_words_no_lf_uses() {
        let c = generate(&DemoParams { n_train: 10_000, ..DemoParams::default() }).unwrap();
        let mut counts: BTreeMap<String, [usize; 4]> = BTreeMap::new();
        for (t, &l) in c.train.texts.iter().zip(&c.train.labels) {
            let mut seen: Vec<String> = tokens(t).collect();
            seen.sort();
            seen.dedup();
            for w in seen {
                counts.entry(w).or_default()[l as usize] += 1;
            }
        }
        let all_kws: Vec<&str> = KEYWORD_LFS.iter().flat_map(|(_, _, _, k)| k.iter().copied()).collect();
        for class in 0..4 {
            let hidden: Vec<&String> = counts
                .iter()
                .filter(|(w, n)| {
                    let total: usize = n.iter().sum();
                    total >= 30
                        && n[class] as f64 / total as f64 >= 0.6
                        && !all_kws.iter().any(|k| w.contains(k) || k.contains(w.as_str()))
                })
                .map(|(w, _)| w)
                .collect();
            assert!(hidden.len() >= 15, "{}: {hidden:?}", DEMO_CLASSES[class]);
        }
    }

    #[test]
    fn rows_without_keywords_are_still_classifiable() {
        // Multinomial naive Bayes on the gold train labels, evaluated on test rows where no
        // keyword LF fires: far above the 35% of always predicting the majority class.
        let c = generate(&DemoParams { n_train: 4000, n_test: 2000, ..DemoParams::default() }).unwrap();
        let mut word_counts: BTreeMap<String, [f64; 4]> = BTreeMap::new();
        let mut class_words = [0.0f64; 4];
        let mut class_docs = [0.0f64; 4];
        for (t, &l) in c.train.texts.iter().zip(&c.train.labels) {
            class_docs[l as usize] += 1.0;
            for w in tokens(t) {
                word_counts.entry(w).or_default()[l as usize] += 1.0;
                class_words[l as usize] += 1.0;
            }
        }
        let vocab = word_counts.len() as f64;
        let predict = |t: &str| -> usize {
            let mut best = (f64::NEG_INFINITY, 0);
            for k in 0..4 {
                let mut s = class_docs[k].ln();
                for w in tokens(t) {
                    let n = word_counts.get(&w).map_or(0.0, |n| n[k]);
                    s += ((n + 1.0) / (class_words[k] + vocab)).ln();
                }
                if s > best.0 {
                    best = (s, k);
                }
            }
            best.1
        };
        let (mut n, mut ok) = (0usize, 0usize);
        for (t, &l) in c.test.texts.iter().zip(&c.test.labels) {
            if keyword_votes(t).iter().all(|&v| v == 0) {
                n += 1;
                ok += (predict(t) == l as usize) as usize;
            }
        }
        let acc = ok as f64 / n as f64;
        assert!(n >= 200, "{n} keyword-free test rows");
        assert!(acc >= 0.7, "NB accuracy on keyword-free rows {acc}");
    }
}
