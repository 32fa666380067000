//! Fuzz targets of `weaksup-core`'s parsers: the tabular, WRENCH and COSINE loaders, LF files and
//! SQL LFs, driven by arbitrary bytes. Each must return (with an error or not) and never panic,
//! abort or hang. `weaksup::fuzz` adds the model targets and dispatches them all to libFuzzer
//! (`fuzz/`) and the test suite.
//!
//! They call the inner functions, below the `catch_unwind` safety nets of the loaders and the LF
//! applier, so that a panic is found rather than turned into an error.

#![doc(hidden)]

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::data::records::{self, Columns, InputFormat, OnBadRow, ReadSpec, TextKind};
use crate::data::{Format, LoadOptions};

/// A scratch folder per process and thread (targets write their input to a file, as users do).
pub fn scratch() -> PathBuf {
    thread_local! {
        static DIR: PathBuf = {
            let shm = Path::new("/dev/shm");
            let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
            let thread = format!("{:?}", std::thread::current().id()).replace(['(', ')'], "");
            let d = base.join(format!("weaksup-fuzz-{}-{thread}", std::process::id()));
            let _ = std::fs::create_dir_all(&d);
            d
        };
    }
    DIR.with(|d| d.clone())
}

/// Writes `data` to `name` in the scratch folder.
pub fn write(name: &str, data: &[u8]) -> PathBuf {
    let p = scratch().join(name);
    let _ = std::fs::write(&p, data);
    p
}

/// Loads `path` as the dataset loader does (columns `text` / `label`), then reads it again as
/// batch runs do: record by record, in chunks of 3, skipping bad rows.
fn tabular(path: &Path, format: Format, input: InputFormat) {
    for label_col in [None, Some("label".to_string())] {
        let opts = LoadOptions { format: Some(format), label_col, classes: None, ..LoadOptions::default() };
        let _ = crate::data::load_inner(path, &opts);
    }
    let opts = LoadOptions {
        format: Some(format),
        classes: Some(vec!["a".into(), "b".into()]),
        ..LoadOptions::default()
    };
    let _ = crate::data::load_inner(path, &opts);
    for text_kind in [TextKind::Text, TextKind::Tokens] {
        let spec = ReadSpec {
            text_col: "text".into(),
            text_kind,
            id_col: None,
            columns: Columns::All,
            on_bad_row: OnBadRow::Skip,
        };
        if let Ok(mut src) = records::open(path, input, &spec) {
            for _ in 0..10_000 {
                match src.next_block(3, true) {
                    Ok(b) if b.rows_in == 3 => {}
                    _ => break,
                }
            }
        }
    }
}

/// CSV bytes through the loader and the batch reader.
pub fn csv(data: &[u8]) {
    tabular(&write("data.csv", data), Format::Csv, InputFormat::Csv);
}

/// JSON Lines bytes through the loader and the batch reader.
pub fn jsonl(data: &[u8]) {
    tabular(&write("data.jsonl", data), Format::Jsonl, InputFormat::Jsonl);
}

/// A WRENCH folder whose `train.json` is `data` (and whose `label.json` is the first line of
/// `data` when it has several lines, else two classes).
pub fn wrench(data: &[u8]) {
    let dir = scratch().join("wrench");
    let _ = std::fs::create_dir_all(&dir);
    let (labels, split) = match data.iter().position(|&b| b == b'\n') {
        Some(i) if data.starts_with(b"{\"0\"") => (&data[..i], &data[i + 1..]),
        _ => (&b"{\"0\": \"HAM\", \"1\": \"SPAM\"}"[..], data),
    };
    let _ = std::fs::write(dir.join("label.json"), labels);
    let _ = std::fs::write(dir.join("train.json"), split);
    let _ = crate::data::load_inner(
        &dir,
        &LoadOptions { format: Some(Format::Wrench), ..LoadOptions::default() },
    );
}

/// A COSINE-paper JSON array.
pub fn cosine(data: &[u8]) {
    let p = write("train_data.json", data);
    let _ =
        crate::data::load_inner(&p, &LoadOptions { format: Some(Format::Cosine), ..LoadOptions::default() });
}

/// A frame with a column of each type SQL LFs read.
fn sample_frame() -> DataFrame {
    DataFrame::new_infer_height(vec![
        Column::new(
            "text".into(),
            [Some("Check out my channel"), Some("ΟΔΟΣ ΣΑΣ"), None, Some(""), Some("a%b_c\\d\n")],
        ),
        Column::new("AUTHOR".into(), [Some("Vevo"), None, Some("x"), Some("007"), Some("")]),
        Column::new("n".into(), [Some(5i64), None, Some(i64::MAX), Some(i64::MIN), Some(0)]),
        Column::new("x".into(), [Some(0.5f64), Some(-1.0), None, Some(1e308), Some(f64::NAN)]),
        Column::new("flag".into(), [Some(true), None, Some(false), Some(true), None]),
    ])
    .expect("sample frame")
}

/// An LF file: parsed, checked, compiled and applied to [`sample_frame`] on one thread.
pub fn lf_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(file) = crate::lf::LfFile::parse(Path::new("fuzz.toml"), text.to_string()) else { return };
    let Ok(mut set) = crate::lf::LfSet::new(file.classes().to_vec()) else { return };
    if file.add_to(&mut set, &crate::lf::Registry::new()).is_err() {
        return;
    }
    let Ok(compiled) = set.compile() else { return };
    let opts = crate::lf::ApplyOptions { chunk_size: 2, fault_tolerant: true, threads: Some(1) };
    let _ = compiled.apply(&sample_frame(), &opts, &crate::progress::NoProgress);
}

/// An SQL LF expression: the allow-list, then evaluation over [`sample_frame`].
pub fn sql(data: &[u8]) {
    let Ok(expr) = std::str::from_utf8(data) else { return };
    let lf = crate::lf::SqlLf::new("fuzz", expr, 1);
    let Ok(compiled) = lf.compile() else { return };
    let mut frame = sample_frame();
    for c in compiled.lowered() {
        let _ = crate::lf::sql::add_lowered(&mut frame, &c);
    }
    let _ = compiled.votes(&frame, 0, expr);
}
