//! Where a MiniLM training step spends its time on this machine: collation, forward (with the
//! loss), zeroing gradients, backward, the gradient norm and clipping, and the AdamW update; then
//! inference examples/s. The work is `cargo bench --bench end_models`' (WRENCH YouTube train
//! texts, batch 32, max length 64, bucketed batches, AdamW lr 2e-5, clipping at 1).
//!
//! ```sh
//! cargo run --release --example step_phases -- [fp32|bf16] [steps] [inference batch, default 32]
//! ```

use std::time::Instant;

use tch::{Device, Kind, Tensor};
use weaksup::model::Precision;
use weaksup::model::tokenizer::TextTokenizer;
use weaksup::model::transformer::{TransformerClassifier, TransformerOptions};
use weaksup::train::{
    AdamW, Encoded, EndModel, Padding, epoch_batches, inference_batches, soft_cross_entropy,
};

fn main() -> anyhow::Result<()> {
    weaksup::runtime::tune_allocator();
    let mut args = std::env::args().skip(1);
    let precision = match args.next().as_deref() {
        Some("fp32") => Precision::Fp32,
        _ => Precision::Bf16,
    };
    let steps: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(60);
    let infer_batch: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(32);
    let shared =
        std::env::var_os("WEAKSUP_SHARED").map_or_else(|| "../shared".into(), std::path::PathBuf::from);
    let splits = weaksup::data::load_wrench(&shared.join("datasets/wrench_youtube"))?;
    let texts: Vec<String> =
        splits.require("train")?.texts()?.iter().map(|t| t.unwrap_or("").to_string()).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let minilm = shared.join("models/all-minilm-l6-v2");
    let max_len = 64;
    let tok = TextTokenizer::from_file(&minilm.join("tokenizer.json"), max_len)?;
    let enc = Encoded::tokens(tok.encode_batch(&texts)?, tok.pad_id, max_len);
    let lengths: Vec<usize> = enc.items.iter().map(Vec::len).collect();
    let rows: Vec<usize> = (0..enc.len()).collect();
    let opts = TransformerOptions { precision, ..Default::default() };
    let (m, _) = TransformerClassifier::from_pretrained(&minilm, 2, opts, Device::Cpu, 0, &[])?;
    let config = m.config.clone();
    // FLOPs of a batch (`TransformerConfig::forward_flops` at the batch's padded length).
    let flops =
        |idx: &[usize]| config.forward_flops(idx.len(), idx.iter().map(|&i| lengths[i]).max().unwrap_or(0));
    let model = EndModel::Transformer(Box::new(m), None);
    let names: Vec<String> = model.vs().variables().into_keys().collect();
    let mut opt = AdamW::new(model.vs(), &names, 0.01, |n| n.ends_with(".bias"));
    let batches = epoch_batches(&rows, &lengths, 32, Padding::Bucketed, 1);
    const PHASES: [&str; 6] = ["collate", "forward", "zero_grad", "backward", "clip", "adamw"];
    let (mut spent, mut train_flops) = ([0f64; 6], 0.0);
    let warm_up = 5;
    for k in 0..steps + warm_up {
        let idx = &batches[k % batches.len()];
        let mut marks = [Instant::now(); 7];
        let input = enc.collate(idx, Padding::Bucketed, Device::Cpu);
        marks[1] = Instant::now();
        let out = model.forward(&input, true)?;
        let c = out.logits.size()[1];
        let targets = Tensor::full([idx.len() as i64, c], 1.0 / c as f64, (Kind::Float, Device::Cpu));
        let loss = soft_cross_entropy(&out.logits, &targets, None);
        let _ = loss.double_value(&[]);
        marks[2] = Instant::now();
        opt.zero_grad();
        marks[3] = Instant::now();
        loss.backward();
        marks[4] = Instant::now();
        let _ = opt.clip_grad_norm(1.0);
        marks[5] = Instant::now();
        opt.step(2e-5);
        marks[6] = Instant::now();
        if k >= warm_up {
            train_flops += 3.0 * flops(idx);
            for (s, w) in spent.iter_mut().zip(marks.windows(2)) {
                *s += (w[1] - w[0]).as_secs_f64();
            }
        }
    }
    let total: f64 = spent.iter().sum();
    println!("{precision:?} training, ms per step over {steps} steps:");
    for (name, s) in PHASES.iter().zip(spent) {
        println!("  {name:<10} {:7.1}", 1e3 * s / steps as f64);
    }
    println!(
        "  {:<10} {:7.1}  ({:.1} examples/s, {:.0} GFLOP/s)",
        "total",
        1e3 * total / steps as f64,
        32.0 * steps as f64 / total,
        train_flops / total / 1e9
    );
    let inf = inference_batches(enc.len(), &lengths, infer_batch, Padding::Bucketed);
    let (started, mut seen, mut infer_flops) = (Instant::now(), 0, 0.0);
    for idx in inf.iter().cycle().take((32 * steps / infer_batch).max(inf.len())) {
        let input = enc.collate(idx, Padding::Bucketed, Device::Cpu);
        tch::no_grad(|| model.forward(&input, false))?;
        seen += idx.len();
        infer_flops += flops(idx);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{precision:?} inference, batch {infer_batch}: {:.1} examples/s, {:.0} GFLOP/s",
        seen as f64 / secs,
        infer_flops / secs / 1e9
    );
    Ok(())
}
