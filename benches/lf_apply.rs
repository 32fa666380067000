//! LF application throughput: the 15-LF YouTube benchmark set (10 keyword + 5 regex, see
//! `shared/bench/youtube_15_lfs.json`) over the WRENCH YouTube texts repeated to 200,000 rows,
//! on all cores and on one. The 1,000,000-row figure in docs/results.md comes from `weaksup lf bench`.

use std::path::PathBuf;

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use weaksup::data;
use weaksup::lf::{ApplyOptions, LfFile, Registry};
use weaksup::progress::NoProgress;

fn bench(c: &mut Criterion) {
    let Some(shared) = common::shared() else { return };
    let splits = data::load_wrench(&shared.join("datasets/wrench_youtube")).expect("wrench_youtube");
    let texts = data::concat_texts(&splits).unwrap();
    let n = 200_000;
    let frame = data::repeat_rows(&texts, n).unwrap();
    let lfs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("labeling_functions/youtube_bench15.toml");
    let (set, _) = LfFile::load_set(&[lfs], &Registry::new()).unwrap();
    let compiled = set.compile().unwrap();
    let mut g = c.benchmark_group("lf_apply_youtube15");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    for threads in [None, Some(1)] {
        let opts = ApplyOptions { threads, ..ApplyOptions::default() };
        let name = threads.map_or("all_cores".to_string(), |t| format!("{t}_thread"));
        g.bench_function(name, |b| b.iter(|| compiled.apply(&frame, &opts, &NoProgress).unwrap()));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
