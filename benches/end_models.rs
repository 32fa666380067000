//! End-model throughput on the 2-core CPU: MiniLM training steps and inference batches (batch 32,
//! max length 64 and 128; fixed padding, per-batch dynamic padding, length bucketing; fp32 and
//! bf16) over the WRENCH YouTube texts, and the n-gram model. One iteration = one batch of 32, so
//! criterion's elements/s is examples/s.

use std::path::PathBuf;

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tch::Device;
use weaksup::model::Precision;
use weaksup::model::ngram::{NgramClassifier, NgramConfig};
use weaksup::model::tokenizer::TextTokenizer;
use weaksup::model::transformer::{TransformerClassifier, TransformerOptions};
use weaksup::train::{
    AdamW, Encoded, EndModel, Padding, epoch_batches, inference_batches, soft_cross_entropy,
};

fn step(model: &EndModel, opt: &mut AdamW, enc: &Encoded, idx: &[usize], padding: Padding) {
    let input = enc.collate(idx, padding, Device::Cpu);
    let out = model.forward(&input, true).unwrap();
    let c = out.logits.size()[1];
    let targets =
        tch::Tensor::zeros([idx.len() as i64, c], (tch::Kind::Float, Device::Cpu)).fill_(1.0 / c as f64);
    let loss = soft_cross_entropy(&out.logits, &targets, None);
    opt.zero_grad();
    loss.backward();
    let _ = opt.clip_grad_norm(1.0);
    opt.step(2e-5);
}

fn bench(c: &mut Criterion) {
    weaksup::runtime::tune_allocator();
    let Some(shared) = common::shared() else { return };
    let splits = weaksup::data::load_wrench(&shared.join("datasets/wrench_youtube")).unwrap();
    let texts: Vec<String> = splits
        .require("train")
        .unwrap()
        .texts()
        .unwrap()
        .iter()
        .map(|t| t.unwrap_or("").to_string())
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let minilm = std::env::var_os("WEAKSUP_MINILM")
        .map(PathBuf::from)
        .unwrap_or_else(|| shared.join("models/all-minilm-l6-v2"));
    let mut g = c.benchmark_group("minilm");
    g.sample_size(10);
    g.throughput(Throughput::Elements(32));
    for max_len in [64usize, 128] {
        let tok = TextTokenizer::from_file(&minilm.join("tokenizer.json"), max_len).unwrap();
        let enc = Encoded::tokens(tok.encode_batch(&texts).unwrap(), tok.pad_id, max_len);
        let lengths: Vec<usize> = enc.items.iter().map(Vec::len).collect();
        let rows: Vec<usize> = (0..enc.len()).collect();
        for precision in [Precision::Fp32, Precision::Bf16] {
            let opts = TransformerOptions { precision, ..Default::default() };
            let (m, _) =
                TransformerClassifier::from_pretrained(&minilm, 2, opts, Device::Cpu, 0, &[]).unwrap();
            let model = EndModel::Transformer(Box::new(m), None);
            let names: Vec<String> = model.vs().variables().into_keys().collect();
            let mut opt = AdamW::new(model.vs(), &names, 0.01, |n| n.ends_with(".bias"));
            for padding in [Padding::Fixed, Padding::Dynamic, Padding::Bucketed] {
                let tag = format!("{precision:?}_len{max_len}_{padding:?}").to_lowercase();
                let batches = epoch_batches(&rows, &lengths, 32, padding, 1);
                let mut k = 0;
                g.bench_function(format!("train/{tag}"), |b| {
                    b.iter(|| {
                        step(&model, &mut opt, &enc, &batches[k % batches.len()], padding);
                        k += 1;
                    })
                });
                let inf = inference_batches(enc.len(), &lengths, 32, padding);
                let mut k = 0;
                g.bench_function(format!("infer/{tag}"), |b| {
                    b.iter(|| {
                        let input = enc.collate(&inf[k % inf.len()], padding, Device::Cpu);
                        tch::no_grad(|| model.forward(&input, false).unwrap());
                        k += 1;
                    })
                });
            }
        }
    }
    g.finish();
    let mut g = c.benchmark_group("ngram");
    g.throughput(Throughput::Elements(32));
    let model = EndModel::Ngram(
        NgramClassifier::new(NgramConfig::default(), 2, Precision::Fp32, Device::Cpu, 0).unwrap(),
    );
    let enc = model.encode(&texts).unwrap();
    let lengths: Vec<usize> = enc.items.iter().map(Vec::len).collect();
    let rows: Vec<usize> = (0..enc.len()).collect();
    let batches = epoch_batches(&rows, &lengths, 32, Padding::Dynamic, 1);
    let names: Vec<String> = model.vs().variables().into_keys().collect();
    let mut opt = AdamW::new(model.vs(), &names, 0.01, |n| n.ends_with(".bias"));
    let mut k = 0;
    g.bench_function("train", |b| {
        b.iter(|| {
            step(&model, &mut opt, &enc, &batches[k % batches.len()], Padding::Dynamic);
            k += 1;
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
