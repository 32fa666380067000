//! Custom Rust labeling functions in your own binary, with the full `weaksup` CLI.
//!
//! In your crate: depend on `weaksup`, register functions by name, hand the registry to
//! `weaksup::cli::main_with`. LF files then use them with `kind = "custom"`:
//!
//! ```toml
//! [[lf]]
//! name = "shouting"
//! kind = "custom"
//! function = "mostly_uppercase"
//! label = "SPAM"
//! params = { min_letters = 8, ratio = 0.6 }
//! ```
//!
//! Try it on the shipped example file (built from this repository):
//!
//! ```sh
//! cargo run --release --example custom_lfs -- lf analyze \
//!     --data ../shared/datasets/youtube_spam_raw/Youtube01-Psy.csv --text-col CONTENT --label-col CLASS \
//!     --lfs examples/custom_lfs.toml
//! ```

use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::Arc;

use weaksup::lf::{FrameLf, Registry};
use weaksup::matrix::ABSTAIN;

fn main() -> ExitCode {
    // A captured resource shared by every row: a small lexicon of positive words.
    let positive: Arc<HashSet<&'static str>> =
        Arc::new(["love", "best", "amazing", "awesome", "great", "beautiful", "cool"].into_iter().collect());

    let registry = Registry::new()
        // A text predicate: votes the file's `label` where it returns true, abstains elsewhere.
        .with_predicate("has_positive_word", move |text| {
            text.split(|c: char| !c.is_alphanumeric()).any(|w| positive.contains(w.to_lowercase().as_str()))
        })
        // A factory reading `params` and building a frame-level LF (may use several columns).
        .with_lf("mostly_uppercase", |spec| {
            let min_letters =
                spec.params.get("min_letters").and_then(|v| v.as_integer()).unwrap_or(8) as usize;
            let ratio = spec.params.get("ratio").and_then(|v| v.as_float()).unwrap_or(0.6);
            let (label, column) = (spec.label, spec.column.to_string());
            Ok(Box::new(FrameLf::new(spec.name, move |df| {
                let texts = df
                    .column(&column)
                    .and_then(|c| c.str().cloned())
                    .map_err(|e| weaksup::Error::Config(format!("mostly_uppercase: {e}")))?;
                Ok(texts
                    .iter()
                    .map(|t| {
                        let t = t.unwrap_or("");
                        let letters = t.chars().filter(|c| c.is_alphabetic()).count();
                        let upper = t.chars().filter(|c| c.is_uppercase()).count();
                        if letters >= min_letters && upper as f64 >= ratio * letters as f64 {
                            label
                        } else {
                            ABSTAIN
                        }
                    })
                    .collect())
            })))
        })
        // A token LF for sequence labeling (token LF files, `kind = "custom"`): one tag id of the
        // corpus's tag set, or ABSTAIN, per token. Here: a number right after "under" or "below"
        // is a one-token span of the type named in `params` (default `Price`).
        .with_token_lf_factory("number_after_under", |spec| {
            let name = spec.params.get("type").and_then(|v| v.as_str()).unwrap_or("Price").to_string();
            let ty = spec
                .tags
                .types
                .iter()
                .position(|t| *t == name)
                .ok_or_else(|| weaksup::Error::Config(format!("no entity type `{name}`")))?;
            let tag = spec.tags.span_tag(0, 1, ty);
            Ok(Arc::new(move |tokens: &[String]| {
                (0..tokens.len())
                    .map(|i| {
                        let after = i > 0 && matches!(tokens[i - 1].as_str(), "under" | "below");
                        let number = !tokens[i].is_empty() && tokens[i].bytes().all(|b| b.is_ascii_digit());
                        if after && number { tag } else { ABSTAIN }
                    })
                    .collect()
            }))
        })
        // A custom preprocessor: LF files can read its column via `column = "no_urls"`.
        .with_text_preprocessor("strip_urls", |text| {
            text.split_whitespace().filter(|w| !w.starts_with("http")).collect::<Vec<_>>().join(" ")
        });

    weaksup::cli::main_with(registry)
}
