//! Word ↔ word-piece alignment for tagging: each word's first piece (the position a
//! token-classification head reads), golden values from Hugging Face `tokenizers`, truncation,
//! byte-level BPE's prefix space, and the hashing tokenizer.

use crate::common;

use weaksup_nn::model::tokenizer::{TextTokenizer, WordPieces};

fn words(s: &[&str]) -> Vec<String> {
    s.iter().map(|w| w.to_string()).collect()
}

#[test]
fn minilm_word_heads_match_hugging_face() {
    let Some(dir) = common::shared().map(|s| s.join("models/all-minilm-l6-v2")) else { return };
    let path = dir.join("tokenizer.json");
    // python: t = tokenizers.Tokenizer.from_file(path); t.enable_truncation(128)
    //         e = t.encode(words, is_pretokenized=True); e.ids, e.word_ids
    let tok = TextTokenizer::from_file(&path, 128).unwrap();
    let a = words(&["New", "York-based", "chefs"]);
    let b = words(&["cheapest", "pizzeria", "---", "near", "me"]);
    let got = tok.encode_words(&[&a, &b]).unwrap();
    // word_ids [None, 0, 1, 1, 1, 2, None]
    assert_eq!(
        got[0],
        WordPieces {
            ids: vec![101, 2047, 2259, 1011, 2241, 27828, 102],
            heads: vec![Some(1), Some(2), Some(5)]
        }
    );
    // word_ids [None, 0, 0, 1, 1, 1, 2, 2, 2, 3, 4, None]
    assert_eq!(got[1].ids, [101, 10036, 4355, 14255, 13213, 11610, 1011, 1011, 1011, 2379, 2033, 102]);
    assert_eq!(got[1].heads, [Some(1), Some(3), Some(6), Some(9), Some(10)]);
    // t.enable_truncation(6): ids [101, 2047, 2259, 1011, 2241, 102], word_ids [None, 0, 1, 1, 1, None]
    let short = TextTokenizer::from_file(&path, 6).unwrap();
    let got = short.encode_words(&[&a]).unwrap();
    assert_eq!(
        got[0],
        WordPieces { ids: vec![101, 2047, 2259, 1011, 2241, 102], heads: vec![Some(1), Some(2), None] }
    );
}

/// A byte-level BPE tokenizer whose pre-tokenizer adds no prefix space (as RoBERTa's), with the
/// pieces `a`, `b` and their space-prefixed forms `Ġa`, `Ġb`.
const BYTE_LEVEL: &str = r#"{
  "version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
  "post_processor": null, "decoder": null,
  "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
            "vocab": {"Ġ": 0, "a": 1, "b": 2, "Ġa": 3, "Ġb": 4}, "merges": ["Ġ a", "Ġ b"]}
}"#;

#[test]
fn byte_level_words_get_the_prefix_space_of_running_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, BYTE_LEVEL).unwrap();
    let tok = TextTokenizer::from_file(&path, 16).unwrap();
    // Running text "a b" is [a, Ġb]; split into words, Hugging Face needs add_prefix_space=True
    // and gives [Ġa, Ġb]: every word as it would appear after a space.
    assert_eq!(tok.encode_batch(&["a b"]).unwrap()[0], [1, 4]);
    let got = tok.encode_words(&[&words(&["a", "b"])]).unwrap();
    assert_eq!(got[0], WordPieces { ids: vec![3, 4], heads: vec![Some(0), Some(1)] });
}

#[test]
fn hashing_tokenizer_gives_every_kept_word_a_head() {
    let tok = TextTokenizer::hashing(64, 6).unwrap();
    // [CLS] new york based ([UNK] for "---") … [SEP]: 4 pieces fit in max_len 6.
    let s = words(&["New", "York-based", "---", "chefs"]);
    let got = tok.encode_words(&[&s]).unwrap();
    let plain = tok.encode_batch(&["New York-based"]).unwrap();
    assert_eq!(got[0].ids[..4], plain[0][..4], "the same pieces as running text");
    assert_eq!(got[0].ids[4], 1, "a word without letters or digits is [UNK]");
    assert_eq!(got[0].ids.len(), 6);
    assert_eq!(*got[0].ids.last().unwrap(), 3);
    assert_eq!(got[0].heads, [Some(1), Some(2), Some(4), None]);
    // An empty sentence is [CLS] [SEP].
    assert_eq!(tok.encode_words(&[&[]]).unwrap()[0], WordPieces { ids: vec![2, 3], heads: vec![] });
}

mod token_head {
    use tch::{Device, Kind};
    use weaksup_nn::model::tokenizer::TextTokenizer;
    use weaksup_nn::model::transformer::{TransformerClassifier, TransformerConfig, TransformerOptions};
    use weaksup_nn::model::{Head, Pooling};
    use weaksup_nn::train::{EndModel, Input, Padding};

    use crate::common::torch_lock;

    fn tagger(options: TransformerOptions) -> weaksup_nn::Result<EndModel> {
        let t =
            TransformerClassifier::new(TransformerConfig::tiny(64, 16, 1, 2), 5, options, Device::Cpu, 3)?;
        Ok(EndModel::Transformer(Box::new(t), Some(TextTokenizer::hashing(64, 8).unwrap())))
    }

    #[test]
    fn one_output_row_per_scored_word_read_at_its_first_piece() {
        let _guard = torch_lock();
        let model = tagger(TransformerOptions { head: Head::Token, ..Default::default() }).unwrap();
        // Sentence 0: "York-based" is two pieces, one word; sentence 1 is cut after 6 pieces.
        let a: Vec<String> = ["new", "York-based", "chefs"].iter().map(|w| w.to_string()).collect();
        let b: Vec<String> = ["a", "b", "c", "d", "e", "f", "g"].iter().map(|w| w.to_string()).collect();
        let enc = model.encode_words(&[&a, &b]).unwrap();
        assert_eq!((enc.units(0), enc.units(1)), (3, 6));
        assert_eq!(enc.scored_words(1).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
        let Input::Tokens(batch) = enc.collate(&[0, 1], Padding::Dynamic, Device::Cpu) else { panic!() };
        let out = model.forward(&Input::Tokens(batch), false).unwrap();
        assert_eq!(out.logits.size(), [9, 5]);
        assert_eq!(out.features.size(), [9, 16]);
        // python: states = model.bert(ids, mask).last_hidden_state
        //         logits = model.classifier(states[rows, heads])  (heads: the first pieces)
        let EndModel::Transformer(t, _) = &model else { panic!() };
        let Input::Tokens(batch) = enc.collate(&[0, 1], Padding::Dynamic, Device::Cpu) else { panic!() };
        let states = t.hidden_states(&batch, false).unwrap();
        let vars = t.vs.variables();
        let (w, bias) = (&vars["classifier.weight"], &vars["classifier.bias"]);
        let picks = [(0, 1), (0, 2), (0, 4), (1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 6)];
        for (k, &(r, p)) in picks.iter().enumerate() {
            let want = states.get(r).get(p).unsqueeze(0).linear(w, Some(bias));
            let got = out.logits.get(k as i64).unsqueeze(0);
            let diff = (got - want).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "unit {k}: {diff}");
        }
        // Dropping a sentence's last word changes no other sentence's rows.
        let fewer = model.encode_words(&[&a, &b[..3]]).unwrap();
        let Input::Tokens(batch) = fewer.collate(&[0, 1], Padding::Dynamic, Device::Cpu) else { panic!() };
        let out2 = model.forward(&Input::Tokens(batch), false).unwrap();
        assert_eq!(out2.logits.size(), [6, 5]);
        let same = (out2.logits.narrow(0, 0, 3) - out.logits.narrow(0, 0, 3)).abs().max().double_value(&[]);
        assert!(same < 1e-5, "{same}");
        assert_eq!(out.logits.kind(), Kind::Float);
    }

    #[test]
    fn token_heads_refuse_what_they_cannot_read() {
        let _guard = torch_lock();
        let e =
            tagger(TransformerOptions { head: Head::Token, pooling: Pooling::Entity, ..Default::default() })
                .unwrap_err()
                .to_string();
        assert!(e.contains("token-classification head"), "{e}");
        // A token model fed texts (no word heads) says what is missing.
        let model = tagger(TransformerOptions { head: Head::Token, ..Default::default() }).unwrap();
        let enc = model.encode(&["plain text"]).unwrap();
        let e =
            model.forward(&enc.collate(&[0], Padding::Dynamic, Device::Cpu), false).unwrap_err().to_string();
        assert!(e.contains("first piece"), "{e}");
        // The n-gram model cannot tag.
        let ngram = weaksup_nn::model::ngram::NgramClassifier::new(
            weaksup_nn::model::ngram::NgramConfig::default(),
            3,
            weaksup_nn::model::Precision::Fp32,
            Device::Cpu,
            1,
        )
        .unwrap();
        let e = EndModel::Ngram(ngram).encode_words(&[&[]]).unwrap_err().to_string();
        assert!(e.contains("cannot tag"), "{e}");
        // Options saved before the head existed load as a sequence head.
        let old: TransformerOptions = serde_json::from_str(
            r#"{"pooling": "mean", "head_dropout": 0.1, "precision": "fp32", "input": "text"}"#,
        )
        .unwrap();
        assert_eq!(old.head, Head::Sequence);
    }
}

mod tagging {
    use rand::{Rng, SeedableRng};
    use tch::Device;
    use weaksup_core::metrics::Metric;
    use weaksup_core::progress::NoProgress;
    use weaksup_core::token::{TagScheme, TagSet};
    use weaksup_nn::model::Head;
    use weaksup_nn::model::tokenizer::TextTokenizer;
    use weaksup_nn::model::transformer::{TransformerClassifier, TransformerConfig, TransformerOptions};
    use weaksup_nn::train::{self, EndModel, EvalSet, Padding, SpanEval, TrainConfig, TrainSet, Units};

    use crate::common::torch_lock;

    /// Sentences of `o*` words (O) with names: a `p*` word (B-PER) and up to two `q*` words
    /// (I-PER). Returns the sentences, word offsets and BIO tag ids (O 0, B-PER 1, I-PER 2).
    fn corpus(n: usize, seed: u64) -> (Vec<Vec<String>>, Vec<usize>, Vec<i16>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let (mut sents, mut offsets, mut tags) = (Vec::new(), vec![0], Vec::new());
        for _ in 0..n {
            let mut s = Vec::new();
            while s.len() < rng.gen_range(4..10) {
                if rng.gen_bool(0.3) {
                    s.push(format!("p{}", rng.gen_range(0..6)));
                    tags.push(1);
                    for _ in 0..rng.gen_range(0..3) {
                        s.push(format!("q{}", rng.gen_range(0..6)));
                        tags.push(2);
                    }
                } else {
                    s.push(format!("o{}", rng.gen_range(0..9)));
                    tags.push(0);
                }
            }
            offsets.push(offsets[offsets.len() - 1] + s.len());
            sents.push(s);
        }
        (sents, offsets, tags)
    }

    #[test]
    fn a_tiny_bert_learns_to_tag_and_stops_on_span_f1() {
        let _guard = torch_lock();
        let tags = TagSet::new(TagScheme::Bio, vec!["PER".into()]).unwrap();
        let t = TransformerClassifier::new(
            TransformerConfig::tiny(512, 32, 2, 2),
            3,
            TransformerOptions { head: Head::Token, head_dropout: 0.0, ..Default::default() },
            Device::Cpu,
            1,
        )
        .unwrap();
        let mut model = EndModel::Transformer(Box::new(t), Some(TextTokenizer::hashing(512, 16).unwrap()));
        let (train_s, _, train_tags) = corpus(400, 1);
        let refs: Vec<&[String]> = train_s.iter().map(Vec::as_slice).collect();
        let enc = model.encode_words(&refs).unwrap();
        let rows: Vec<usize> = (0..enc.len()).collect();
        // Words past max_len 16 have no unit: targets are for the scored words only.
        let units = Units::of(&enc, rows.iter().copied());
        let mut targets = vec![0f32; units.total() * 3];
        let mut u = 0;
        let mut base = 0;
        for (i, s) in train_s.iter().enumerate() {
            for w in enc.scored_words(i) {
                targets[u * 3 + train_tags[base + w] as usize] = 1.0;
                u += 1;
            }
            base += s.len();
        }
        assert_eq!(u, units.total());
        let set = TrainSet { encoded: &enc, rows, targets, weights: None };
        let (valid_s, valid_off, valid_tags) = corpus(100, 2);
        let vrefs: Vec<&[String]> = valid_s.iter().map(Vec::as_slice).collect();
        let venc = model.encode_words(&vrefs).unwrap();
        let vgold: Vec<u32> = {
            let mut g = Vec::new();
            for i in 0..venc.len() {
                g.extend(venc.scored_words(i).map(|w| valid_tags[valid_off[i] + w] as u32));
            }
            g
        };
        let valid = EvalSet {
            encoded: &venc,
            gold: vgold,
            spans: Some(SpanEval { tags: &tags, offsets: &valid_off, gold: &valid_tags }),
        };
        let cfg = TrainConfig {
            lr: Some(2e-3),
            max_steps: 160,
            eval_every: 20,
            batch_size: 16,
            warmup_ratio: 0.1,
            ..Default::default()
        };
        let report = train::train(&mut model, &set, Some(&valid), &cfg, None, &NoProgress).unwrap();
        let best = report.best_score.unwrap();
        assert!(best > 0.95, "best valid span F1 {best}: {:?}", report.history);
        // The restored best weights score what the report says.
        let again = train::evaluate(&model, &valid, 64, Padding::Bucketed, Metric::Accuracy).unwrap();
        assert!((again - best).abs() < 1e-9, "{again} vs {best}");
        // Predictions: a row per scored word.
        let p = train::predict(&model, &venc, 64, Padding::Bucketed).unwrap();
        assert_eq!(p.len(), valid.gold.len());
        // A bad target width is refused.
        let bad = TrainSet { targets: vec![0.0; 3], ..set.clone() };
        let e = train::train(&mut model, &bad, None, &cfg, None, &NoProgress).unwrap_err().to_string();
        assert!(e.contains("units"), "{e}");
    }
}

mod export {
    use tch::Device;
    use weaksup_nn::model::Head;
    use weaksup_nn::model::tokenizer::TextTokenizer;
    use weaksup_nn::model::transformer::{TransformerClassifier, TransformerConfig, TransformerOptions};
    use weaksup_nn::train::{EndModel, Padding};

    use crate::common::torch_lock;

    #[test]
    fn a_tagger_exports_as_token_classification_and_reloads_to_identical_logits() {
        let _guard = torch_lock();
        let t = TransformerClassifier::new(
            TransformerConfig::tiny(64, 16, 1, 2),
            3,
            TransformerOptions { head: Head::Token, ..Default::default() },
            Device::Cpu,
            5,
        )
        .unwrap();
        let model = EndModel::Transformer(Box::new(t), Some(TextTokenizer::hashing(64, 12).unwrap()));
        let dir = tempfile::tempdir().unwrap();
        let tags: Vec<String> = ["O", "B-PER", "I-PER"].iter().map(|s| s.to_string()).collect();
        model.save(dir.path(), &tags).unwrap();
        // transformers: AutoModelForTokenClassification.from_pretrained(dir) reads these.
        let cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap()).unwrap();
        assert_eq!(cfg["architectures"][0], "BertForTokenClassification");
        assert_eq!(cfg["id2label"]["1"], "B-PER");
        assert_eq!(cfg["label2id"]["I-PER"], 2);
        let names: Vec<String> = tch::Tensor::read_safetensors(dir.path().join("model.safetensors"))
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert!(names.iter().all(|n| n.starts_with("bert.") || n.starts_with("classifier.")), "{names:?}");
        assert!(names.iter().any(|n| n == "classifier.weight"));
        // weaksup reads it back: same head, same logits.
        let (back, classes) = EndModel::load(dir.path(), Device::Cpu).unwrap();
        assert_eq!(classes, tags);
        assert_eq!(back.head(), Head::Token);
        let words: Vec<String> =
            ["ann", "met", "bob", "smith", "today"].iter().map(|s| s.to_string()).collect();
        let p = |m: &EndModel| {
            let enc = m.encode_words(&[&words]).unwrap();
            weaksup_nn::train::predict_proba(m, &enc, 8, Padding::Dynamic).unwrap()
        };
        let (a, b) = (p(&model), p(&back));
        assert_eq!(a.size(), [5, 3]);
        assert!((a - b).abs().max().double_value(&[]) < 1e-6);
    }
}
