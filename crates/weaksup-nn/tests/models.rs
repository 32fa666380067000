//! End models and the trainer: MiniLM golden values, a tiny BERT that learns a toy task, the
//! n-gram model on the demo corpus, loss identities, checkpoint resume, HF export, bf16 parity.

use crate::common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};

use tch::{Device, Kind, Tensor};
use weaksup_core::data::{self, demo::DemoParams};
use weaksup_core::metrics::Metric;
use weaksup_core::progress::{NoProgress, Progress};
use weaksup_nn::model::ngram::{NgramClassifier, NgramConfig};
use weaksup_nn::model::tokenizer::TextTokenizer;
use weaksup_nn::model::transformer::{
    LoadReport, TransformerClassifier, TransformerConfig, TransformerOptions,
};
use weaksup_nn::model::{Pooling, Precision, TokenBatch};
use weaksup_nn::train::{self, Encoded, EndModel, EvalSet, TrainConfig, TrainSet, soft_cross_entropy};

use crate::common::torch_lock;

fn minilm() -> Option<std::path::PathBuf> {
    common::shared().map(|s| s.join("models/all-minilm-l6-v2"))
}

#[test]
fn minilm_matches_published_embeddings_and_hidden_states() {
    let _guard = torch_lock();
    let Some(dir) = minilm() else { return };
    let tok = TextTokenizer::from_file(&dir.join("tokenizer.json"), 128).unwrap();
    let texts = ["A man is eating food.", "A man is eating a piece of bread.", "A man is riding a horse."];
    let ids = tok.encode_batch(&texts).unwrap();
    assert_eq!(ids[0], vec![101, 1037, 2158, 2003, 5983, 2833, 1012, 102]);
    let opts = TransformerOptions { pooling: Pooling::Mean, ..Default::default() };
    let (model, report) = TransformerClassifier::from_pretrained(&dir, 2, opts, Device::Cpu, 0, &[]).unwrap();
    assert_eq!(report.missing, vec!["classifier.bias", "classifier.weight"]);
    assert!(report.unexpected.iter().any(|n| n.starts_with("pooler.")), "{:?}", report.unexpected);
    let enc = Encoded::tokens(ids, tok.pad_id, 128);
    let train::Input::Tokens(batch) = enc.collate(&[0, 1, 2], train::Padding::Dynamic, Device::Cpu) else {
        panic!()
    };
    let emb = tch::no_grad(|| model.features(&batch, false).unwrap());
    let emb = &emb / emb.norm_scalaropt_dim(2, [1], true);
    let cos = |a: i64, b: i64| (emb.get(a) * emb.get(b)).sum(Kind::Float).double_value(&[]);
    // Published for sentence-transformers/all-MiniLM-L6-v2; transformers 5 + torch 2.11 give
    // cos01 = 0.755337, cos02 = 0.247402 (mean pooling over real tokens, L2 norm).
    assert!((cos(0, 1) - 0.755337).abs() < 1e-4, "{}", cos(0, 1));
    assert!((cos(0, 2) - 0.247402).abs() < 1e-4, "{}", cos(0, 2));
    // AutoModel(...)(**tok(texts, padding=True)).last_hidden_state[0, 0, :4] and [1, 3, :4]
    let h = tch::no_grad(|| model.hidden_states(&batch, false).unwrap());
    let h00: Vec<f32> = Vec::try_from(h.get(0).get(0).narrow(0, 0, 4)).unwrap();
    let h13: Vec<f32> = Vec::try_from(h.get(1).get(3).narrow(0, 0, 4)).unwrap();
    for (g, w) in h00.iter().zip([-0.002550319, 0.117697448, 0.003737639, 0.244708315]) {
        assert!((*g as f64 - w).abs() < 1e-4, "{h00:?}");
    }
    for (g, w) in h13.iter().zip([0.515598714, 0.028692139, 0.158553153, 0.280112773]) {
        assert!((*g as f64 - w).abs() < 1e-4, "{h13:?}");
    }
    // F.normalize(mean_pool(last_hidden_state), dim=-1)[0, :4]
    let e0: Vec<f32> = Vec::try_from(emb.get(0).narrow(0, 0, 4)).unwrap();
    let want = [0.033241585, 0.004406029, -0.006276987, 0.048378699];
    for (g, w) in e0.iter().zip(want) {
        assert!((*g as f64 - w).abs() < 1e-5, "{e0:?}");
    }
}

fn toy_tokens(n: usize, seed: u64) -> (Encoded, Vec<u32>) {
    // Class 1 iff token 7 appears; texts are 4–12 random tokens from 10..50 plus maybe 7.
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut items = Vec::new();
    let mut labels = Vec::new();
    for _ in 0..n {
        let len = rng.gen_range(4..12);
        let mut t: Vec<i64> = vec![1];
        t.extend((0..len).map(|_| rng.gen_range(10..50)));
        let y = rng.gen_bool(0.5);
        if y {
            let pos = rng.gen_range(1..t.len());
            t[pos] = 7;
        }
        t.push(2);
        items.push(t);
        labels.push(y as u32);
    }
    (Encoded::tokens(items, 0, 16), labels)
}

#[test]
fn tiny_bert_learns_a_toy_task_to_near_zero_loss() {
    let _guard = torch_lock();
    let cfg = TransformerConfig::tiny(64, 32, 2, 2);
    let t = TransformerClassifier::new(
        cfg,
        2,
        TransformerOptions { head_dropout: 0.0, ..Default::default() },
        Device::Cpu,
        1,
    )
    .unwrap();
    let mut model = EndModel::Transformer(Box::new(t), None);
    let (enc, labels) = toy_tokens(512, 3);
    let rows: Vec<usize> = (0..enc.len()).collect();
    let set = TrainSet::hard(&enc, rows, &labels, 2);
    let cfg = TrainConfig {
        lr: Some(1e-3),
        max_steps: 300,
        eval_every: 300,
        batch_size: 32,
        warmup_ratio: 0.05,
        ..Default::default()
    };
    let report = train::train(&mut model, &set, None, &cfg, None, &NoProgress).unwrap();
    let tail: f64 = report.losses[report.losses.len() - 20..].iter().sum::<f64>() / 20.0;
    assert!(tail < 0.05, "final loss {tail}");
    let (test, gold) = toy_tokens(200, 4);
    let acc =
        train::evaluate(&model, &EvalSet::rows(&test, gold), 64, train::Padding::Bucketed, Metric::Accuracy)
            .unwrap();
    assert!(acc > 0.97, "{acc}");
}

fn demo_ngram(seed: u64) -> (EndModel, Encoded, Vec<u32>, Encoded, Vec<u32>) {
    let splits = data::demo_splits(&DemoParams::default()).unwrap();
    let model = EndModel::Ngram(
        NgramClassifier::new(
            NgramConfig { buckets: 1 << 16, ..Default::default() },
            4,
            Precision::Fp32,
            Device::Cpu,
            seed,
        )
        .unwrap(),
    );
    let enc = |name: &str| {
        let ds = splits.require(name).unwrap();
        let texts: Vec<&str> = ds.texts().unwrap().iter().flatten().collect();
        let gold: Vec<u32> = ds.gold().unwrap().into_iter().map(|g| g.unwrap()).collect();
        (model.encode(&texts).unwrap(), gold)
    };
    let (tr, ytr) = enc("train");
    let (te, yte) = enc("test");
    (model, tr, ytr, te, yte)
}

#[test]
fn ngram_model_learns_the_demo_corpus() {
    let _guard = torch_lock();
    let (mut model, tr, ytr, te, yte) = demo_ngram(0);
    let set = TrainSet::hard(&tr, (0..tr.len()).collect(), &ytr, 4);
    let cfg =
        TrainConfig { lr: Some(5e-3), max_steps: 400, eval_every: 100, batch_size: 32, ..Default::default() };
    let valid = EvalSet::rows(&te, yte.clone());
    let report = train::train(&mut model, &set, Some(&valid), &cfg, None, &NoProgress).unwrap();
    let acc = train::evaluate(&model, &valid, 64, train::Padding::Bucketed, Metric::Accuracy).unwrap();
    assert!(acc > 0.85, "demo test accuracy {acc} ({report:?})");
    assert_eq!(Some(acc), report.best_score, "best weights restored");
}

#[test]
fn soft_targets_equal_cross_entropy_for_one_hot() {
    let _guard = torch_lock();
    // torch: F.cross_entropy(logits, y) == -(one_hot(y) * logits.log_softmax(-1)).sum(-1).mean()
    let logits = Tensor::from_slice(&[0.3f32, -1.2, 2.0, 0.5, 0.1, -0.4]).view([2, 3]);
    let y = Tensor::from_slice(&[2i64, 0]);
    let onehot = y.one_hot(3).to_kind(Kind::Float);
    let a = soft_cross_entropy(&logits, &onehot, None).double_value(&[]);
    let b = logits.cross_entropy_for_logits(&y).double_value(&[]);
    assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    // weights [1, 0] keep only the first row's loss, averaged over the batch of 2
    let w = Tensor::from_slice(&[1.0f32, 0.0]);
    let first = logits.get(0).unsqueeze(0).cross_entropy_for_logits(&y.get(0).unsqueeze(0)).double_value(&[]);
    assert!((soft_cross_entropy(&logits, &onehot, Some(&w)).double_value(&[]) - first / 2.0).abs() < 1e-6);
}

/// Panics (a simulated kill) once `at` steps have been reported.
struct KillAt {
    at: u64,
    seen: AtomicU64,
}

impl Progress for KillAt {
    fn advance(&self, n: u64) {
        if self.seen.fetch_add(n, Ordering::SeqCst) + n >= self.at {
            panic!("simulated kill");
        }
    }
}

fn weights(m: &EndModel) -> Vec<(String, Vec<f32>)> {
    let mut v: Vec<(String, Vec<f32>)> = m
        .vs()
        .variables()
        .into_iter()
        .map(|(n, t)| (n, Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn killed_run_resumes_to_the_same_weights() {
    let _guard = torch_lock();
    let cfg = TrainConfig {
        lr: Some(5e-3),
        max_steps: 60,
        eval_every: 20,
        checkpoint_every: 10,
        batch_size: 16,
        ..Default::default()
    };
    let (mut a, tr, ytr, te, yte) = demo_ngram(5);
    let set = TrainSet::hard(&tr, (0..tr.len()).collect(), &ytr, 4);
    let valid = EvalSet::rows(&te, yte);
    let full = train::train(&mut a, &set, Some(&valid), &cfg, None, &NoProgress).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("checkpoint");
    let (mut b, ..) = demo_ngram(5);
    let killed = catch_unwind(AssertUnwindSafe(|| {
        let _ = train::train(
            &mut b,
            &set,
            Some(&valid),
            &cfg,
            Some(&ckpt),
            &KillAt { at: 35, seen: AtomicU64::new(0) },
        );
    }));
    assert!(killed.is_err(), "the run was killed");
    let (mut c, ..) = demo_ngram(5);
    let resumed = train::train(&mut c, &set, Some(&valid), &cfg, Some(&ckpt), &NoProgress).unwrap();
    assert_eq!(resumed.losses, full.losses);
    assert_eq!(weights(&c), weights(&a));
}

/// An exported folder loaded back with default options on the CPU (no added tokens).
fn reload(dir: &std::path::Path, n_classes: i64) -> (TransformerClassifier, LoadReport) {
    TransformerClassifier::from_pretrained(dir, n_classes, TransformerOptions::default(), Device::Cpu, 0, &[])
        .unwrap()
}

#[test]
fn hf_export_reloads_to_identical_logits_and_bf16_matches_fp32() {
    let _guard = torch_lock();
    let cfg = TransformerConfig::tiny(64, 32, 2, 2);
    let model = TransformerClassifier::new(cfg, 3, TransformerOptions::default(), Device::Cpu, 9).unwrap();
    let (enc, _) = toy_tokens(8, 1);
    let train::Input::Tokens(batch) =
        enc.collate(&(0..8).collect::<Vec<_>>(), train::Padding::Dynamic, Device::Cpu)
    else {
        panic!()
    };
    let logits = tch::no_grad(|| model.forward(&batch, false).unwrap().logits);
    let dir = tempfile::tempdir().unwrap();
    model.export_hf(dir.path(), None).unwrap();
    let (back, report) = reload(dir.path(), 3);
    assert!(report.missing.is_empty() && report.unexpected.is_empty(), "{report:?}");
    let again = tch::no_grad(|| back.forward(&batch, false).unwrap().logits);
    assert_eq!(
        Vec::<f32>::try_from(logits.flatten(0, -1)).unwrap(),
        Vec::<f32>::try_from(again.flatten(0, -1)).unwrap()
    );

    let bf = TransformerClassifier::from_pretrained(
        dir.path(),
        3,
        TransformerOptions { precision: Precision::Bf16, ..Default::default() },
        Device::Cpu,
        0,
        &[],
    )
    .unwrap()
    .0;
    let lb = tch::no_grad(|| bf.forward(&batch, false).unwrap().logits);
    let diff = (&lb - &logits).abs().max().double_value(&[]);
    assert!(diff < 0.05, "bf16 vs fp32 max |Δlogit| {diff}");
    assert!(diff > 0.0, "bf16 really ran in bf16");
}

#[test]
fn roberta_and_distilbert_layouts_export_and_reload() {
    let _guard = torch_lock();
    for (kind, probe) in [
        ("roberta", "encoder.layer.1.attention.self.query.weight"),
        ("distilbert", "transformer.layer.1.attention.q_lin.weight"),
    ] {
        let mut cfg = TransformerConfig::tiny(64, 32, 2, 2);
        cfg.model_type = kind.into();
        cfg.pad_token_id = 1;
        let model = TransformerClassifier::new(cfg.clone(), 2, TransformerOptions::default(), Device::Cpu, 4)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        model.export_hf(dir.path(), None).unwrap();
        let names: Vec<String> = Tensor::read_safetensors(dir.path().join("model.safetensors"))
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert!(names.contains(&probe.to_string()), "{kind}: {names:?}");
        assert_eq!(names.iter().any(|n| n.contains("token_type")), kind != "distilbert", "{kind}");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
        if kind == "distilbert" {
            assert_eq!(json["dim"], 32, "HF DistilBertConfig names");
        }
        let (back, report) = reload(dir.path(), 2);
        assert!(report.missing.is_empty() && report.unexpected.is_empty(), "{kind}: {report:?}");
        assert_eq!(back.config, cfg);
        let (enc, _) = toy_tokens(4, 8);
        let train::Input::Tokens(b) = enc.collate(&[0, 1, 2, 3], train::Padding::Dynamic, Device::Cpu) else {
            panic!()
        };
        let a = tch::no_grad(|| model.forward(&b, false).unwrap().logits);
        let c = tch::no_grad(|| back.forward(&b, false).unwrap().logits);
        assert_eq!(
            Vec::<f32>::try_from(a.flatten(0, -1)).unwrap(),
            Vec::<f32>::try_from(c.flatten(0, -1)).unwrap(),
            "{kind}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let load_error = || {
        TransformerClassifier::from_pretrained(
            dir.path(),
            2,
            TransformerOptions::default(),
            Device::Cpu,
            0,
            &[],
        )
        .unwrap_err()
        .to_string()
    };
    std::fs::write(dir.path().join("config.json"), r#"{"model_type": "gpt2", "vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 32}"#).unwrap();
    let e = load_error();
    assert!(e.contains("(field `model_type`): `gpt2` is not supported"), "{e}");
    // A corrupt or hostile config.json is an error naming the field, never a crash or an abort.
    for (field, bad) in [
        ("num_attention_heads", 0.0),
        ("num_hidden_layers", 1e8),
        ("hidden_size", -8.0),
        ("layer_norm_eps", 0.0),
    ] {
        let mut cfg = serde_json::json!({"model_type": "bert", "vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16, "max_position_embeddings": 32});
        cfg[field] =
            if field == "layer_norm_eps" { serde_json::json!(bad) } else { serde_json::json!(bad as i64) };
        std::fs::write(dir.path().join("config.json"), cfg.to_string()).unwrap();
        let e = load_error();
        assert!(e.contains(&format!("(field `{field}`)")), "{field} = {bad}: {e}");
    }
}

#[test]
fn cuda_forward_matches_cpu_when_available() {
    let _guard = torch_lock();
    if !tch::Cuda::is_available() {
        eprintln!("SKIPPED: no CUDA device");
        return;
    }
    let cfg = TransformerConfig::tiny(64, 32, 2, 2);
    let cpu =
        TransformerClassifier::new(cfg.clone(), 2, TransformerOptions::default(), Device::Cpu, 3).unwrap();
    let dir = tempfile::tempdir().unwrap();
    cpu.export_hf(dir.path(), None).unwrap();
    let gpu = TransformerClassifier::from_pretrained(
        dir.path(),
        2,
        TransformerOptions::default(),
        Device::Cuda(0),
        3,
        &[],
    )
    .unwrap()
    .0;
    let (enc, _) = toy_tokens(4, 2);
    let train::Input::Tokens(b) = enc.collate(&[0, 1, 2, 3], train::Padding::Dynamic, Device::Cpu) else {
        panic!()
    };
    let gb = TokenBatch::plain(b.ids.to_device(Device::Cuda(0)), b.mask.to_device(Device::Cuda(0)));
    let a = tch::no_grad(|| cpu.forward(&b, false).unwrap().logits);
    let g = tch::no_grad(|| gpu.forward(&gb, false).unwrap().logits.to_device(Device::Cpu));
    assert!((a - g).abs().max().double_value(&[]) < 1e-3);
}

#[test]
fn minilm_gets_entity_markers_and_encodes_pairs() {
    use weaksup_core::data::ENTITY_MARKERS;
    use weaksup_nn::model::transformer::NewToken;
    let _guard = torch_lock();
    let Some(dir) = minilm() else { return };
    let mut tok = TextTokenizer::from_file(&dir.join("tokenizer.json"), 64).unwrap();
    assert_eq!(tok.token_id("[E1]"), None);
    // Appended after BERT's 30,522 word pieces, in order; adding again changes nothing.
    assert_eq!(tok.add_markers(&ENTITY_MARKERS), [30522, 30523, 30524, 30525]);
    assert_eq!(tok.add_markers(&ENTITY_MARKERS[..2]), [30522, 30523]);
    let first = ["[E1] Run [/E1] rogue."];
    let second = ["She [E2] ran [/E2] 10 miles that day."];
    let enc = tok.encode(&first, Some(&second)).unwrap();
    let ids = &enc[0].ids;
    // tokenizer("[E1] Run [/E1] rogue.", "She [E2] ran [/E2] 10 miles that day.") with the markers
    // added as special tokens: [CLS] [E1] run [/E1] rogue . [SEP] she [E2] ran [/E2] 10 miles that day . [SEP]
    assert_eq!(&ids[..7], &[101, 30522, 2448, 30523, 12406, 1012, 102]);
    assert_eq!(enc[0].segment, Some(7), "token type 1 starts after the first [SEP]");
    assert_eq!(ids[8], 30524);
    assert_eq!(*ids.last().unwrap(), 102);
    // Pairs truncate to max_len, longest side first.
    let long = ["word ".repeat(200)];
    let cut = tok.encode(&[long[0].as_str()], Some(&second)).unwrap();
    assert_eq!(cut[0].ids.len(), 64);
    assert!(cut[0].ids.contains(&30524), "the short side keeps its marker");

    let added: Vec<NewToken> = ["start of first entity", "end of first entity"]
        .iter()
        .enumerate()
        .map(|(k, w)| NewToken { id: 30522 + k as i64, init_from: tok.word_ids(w).unwrap() })
        .collect();
    assert_eq!(added[0].init_from.len(), 4);
    let (model, _) = TransformerClassifier::from_pretrained(
        &dir,
        2,
        TransformerOptions::default(),
        Device::Cpu,
        0,
        &added,
    )
    .unwrap();
    assert_eq!(model.config.vocab_size, 30524);
    let w = model.vs.variables()["embeddings.word_embeddings.weight"].shallow_clone();
    let ckpt: std::collections::HashMap<String, Tensor> =
        Tensor::read_safetensors(dir.join("model.safetensors")).unwrap().into_iter().collect();
    let src = ckpt.iter().find(|(n, _)| n.ends_with("word_embeddings.weight")).unwrap().1;
    // W_new[30522] == W[tokenizer("start of first entity", add_special_tokens=False).input_ids].mean(0)
    let want = src.index_select(0, &Tensor::from_slice(&added[0].init_from)).mean_dim(0, false, Kind::Float);
    let diff = (w.get(30522) - &want).abs().max().double_value(&[]);
    assert!(diff < 1e-6, "marker row is the mean of its description's rows: {diff}");
    let old = (w.narrow(0, 0, 30522) - src.to_kind(Kind::Float)).abs().max().double_value(&[]);
    assert_eq!(old, 0.0, "the pre-trained rows are untouched");
    assert!((w.get(30522) - w.get(30523)).abs().max().double_value(&[]) > 1e-3, "markers start apart");
}

#[test]
fn entity_pooling_concatenates_the_marker_states() {
    use weaksup_nn::model::transformer::pool;
    // states[b, s, d] = 100 b + 10 s + d; anchors pick s = 2, 0 for row 0 and 1, 3 for row 1.
    let states = Tensor::arange(2 * 4 * 2, (Kind::Float, Device::Cpu)).view([2, 4, 2]);
    let states = states.shallow_clone() * 0.0
        + Tensor::from_slice(&[0f32, 100.0]).view([2, 1, 1])
        + Tensor::from_slice(&[0f32, 10.0, 20.0, 30.0]).view([1, 4, 1])
        + Tensor::from_slice(&[0f32, 1.0]).view([1, 1, 2]);
    let mask = Tensor::ones([2, 4], (Kind::Int64, Device::Cpu));
    let anchors = Tensor::from_slice(&[2i64, 0, 1, 3]).view([2, 2]);
    let p = pool(&states, &mask, Some(&anchors), Pooling::Entity).unwrap();
    assert_eq!(p.size(), [2, 4]);
    assert_eq!(Vec::<f32>::try_from(p.flatten(0, -1)).unwrap(), [20., 21., 0., 1., 110., 111., 130., 131.]);
    let e = pool(&states, &mask, None, Pooling::Entity).unwrap_err().to_string();
    assert!(e.contains("entity pooling needs marked entities"), "{e}");
}

#[test]
fn relation_model_saves_and_reloads_with_its_markers() {
    use weaksup_core::data::{ModelInput, ModelTexts};
    use weaksup_nn::model::{EndModelConfig, ModelSource};
    let _guard = torch_lock();
    let cfg = EndModelConfig {
        model: ModelSource::TinyBert,
        input: ModelInput::Relation,
        pooling: Pooling::Entity,
        max_len: 16,
        device: weaksup_nn::model::DeviceChoice::Cpu,
        precision: weaksup_nn::model::PrecisionChoice::Fp32,
    };
    let model = cfg.resolve().unwrap().build(3, 5).unwrap();
    let texts = ModelTexts {
        first: vec![
            "binding of [E2] er alpha [/E2] to [E1] tamoxifen [/E1]".into(),
            "[E1] ca [/E1] activates [E2] cam [/E2] strongly in cells".into(),
            // Cut at 16 tokens: [E2] is lost, so that anchor falls back to the first token.
            format!("[E1] x [/E1] {} [E2] y [/E2]", "w ".repeat(30)),
        ],
        second: None,
    };
    let enc = model.encode_inputs(&texts).unwrap();
    // Hashing tokenizer: [CLS]=2, words, markers after the 8192 hashed ids.
    assert_eq!(enc.items[0][3], 8192 + 2, "[E2] is one token");
    assert_eq!(enc.anchors.as_ref().unwrap()[..2], [[8, 3], [1, 5]]);
    assert_eq!(enc.anchors.as_ref().unwrap()[2], [1, 0]);
    let p = train::predict_proba(&model, &enc, 8, train::Padding::Dynamic).unwrap();
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path(), &["a".into(), "b".into(), "c".into()]).unwrap();
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("weaksup.json")).unwrap()).unwrap();
    assert_eq!(
        (meta["options"]["input"].as_str(), meta["options"]["pooling"].as_str()),
        (Some("relation"), Some("entity"))
    );
    let (back, _) = EndModel::load(dir.path(), Device::Cpu).unwrap();
    assert_eq!(back.input(), ModelInput::Relation);
    let again = train::predict_proba(&back, &back.encode_inputs(&texts).unwrap(), 8, train::Padding::Dynamic)
        .unwrap();
    assert_eq!(
        Vec::<f32>::try_from(p.flatten(0, -1)).unwrap(),
        Vec::<f32>::try_from(again.flatten(0, -1)).unwrap()
    );
    // Entity pooling on unmarked text is refused before any data is read.
    let e = EndModelConfig { input: ModelInput::Text, ..cfg }.validate().unwrap_err().to_string();
    assert!(e.contains("--pooling") && e.contains("--input"), "{e}");
}

/// The FLOP count the throughput figures are computed from, for MiniLM's shape (h 384, i 1536,
/// 6 layers): 6 · (2 · (4 · 384² + 2 · 384 · 1536) + 4 · 24 · 384) per token at length 24.
#[test]
fn forward_flops_count_the_products_of_every_layer() {
    let mut cfg = TransformerConfig::tiny(100, 384, 6, 12);
    cfg.intermediate_size = 1536;
    let per_token = 6.0 * (2.0 * (4.0 * 384.0 * 384.0 + 2.0 * 384.0 * 1536.0) + 4.0 * 24.0 * 384.0);
    assert_eq!(cfg.forward_flops(1, 24), 24.0 * per_token);
    assert_eq!(cfg.forward_flops(32, 24), 32.0 * 24.0 * per_token);
    assert_eq!(per_token, 21_454_848.0);
}
