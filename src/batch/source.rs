//! The batch reader thread: cuts every input file into chunks of `chunk_rows` records (read by
//! [`crate::data::records`], the same reader the dataset loader uses) and sends the ones this run
//! must process; the others are only counted.

use std::collections::HashSet;
use std::path::Path;
use std::sync::mpsc::SyncSender;

use polars::prelude::*;

use super::{InputFile, Shard};
use crate::data::records::{self, OnBadRow, ReadSpec, Rejection};
use crate::error::{Error, Result};

/// What the reader thread needs to know.
pub(crate) struct ReadPlan {
    pub spec: ReadSpec,
    pub chunk_rows: usize,
    pub shard: Shard,
    /// Parts already written (a resumed run): counted, not sent.
    pub done: HashSet<(usize, u64)>,
}

/// Records `[index·chunk_rows, …)` of input `file`, the rejected ones left out of `frame`.
pub(crate) struct Chunk {
    pub file: usize,
    pub index: u64,
    pub rows_in: u64,
    /// Input bytes the chunk spans (progress estimates).
    pub bytes: u64,
    /// `row`, `text`, the id column, the extra columns.
    pub frame: DataFrame,
    pub rejected: Vec<Rejection>,
}

pub(crate) enum Msg {
    Chunk(Chunk),
    /// A file was read to its end: it has `rows` records.
    FileDone {
        file: usize,
        rows: u64,
    },
}

/// Reads every file in order, sending the chunks this run owns. Returns early (Ok) when the
/// receiver hung up.
pub(crate) fn read_all(files: &[InputFile], plan: &ReadPlan, tx: &SyncSender<Msg>) -> Result<()> {
    for (f, input) in files.iter().enumerate() {
        // A panic in a parser becomes an error naming the file.
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read_file(f, input, plan, tx)));
        match read {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return Ok(()),
            Ok(Err(e)) => return Err(e),
            Err(p) => {
                return Err(Error::parse(
                    &input.path,
                    None,
                    None,
                    format!("the reader panicked: {}", crate::error::panic_message(&p)),
                ));
            }
        }
    }
    Ok(())
}

/// Reads one file; `false` when the receiver hung up.
fn read_file(f: usize, input: &InputFile, plan: &ReadPlan, tx: &SyncSender<Msg>) -> Result<bool> {
    let mut src = records::open(Path::new(&input.path), input.format, &plan.spec)?;
    let (mut c, mut rows) = (0u64, 0u64);
    loop {
        let keep = plan.shard.owns(f, c) && !plan.done.contains(&(f, c));
        let t = std::time::Instant::now();
        let block = src.next_block(plan.chunk_rows, keep).map_err(|e| match (&e, plan.spec.on_bad_row) {
            (Error::Parse { .. }, OnBadRow::Fail) => Error::invalid(
                e.to_string(),
                "stopped at this bad row (--on-bad-row skip skips and records such rows)",
            ),
            _ => e,
        })?;
        tracing::debug!(
            file = f,
            chunk = c,
            keep,
            rows = block.rows_in,
            read_s = t.elapsed().as_secs_f64(),
            "chunk read"
        );
        if block.rows_in == 0 {
            break;
        }
        rows += block.rows_in;
        if let Some(frame) = block.frame {
            let chunk = Chunk {
                file: f,
                index: c,
                rows_in: block.rows_in,
                bytes: block.bytes,
                frame,
                rejected: block.rejected,
            };
            if tx.send(Msg::Chunk(chunk)).is_err() {
                return Ok(false);
            }
        }
        if block.rows_in < plan.chunk_rows as u64 {
            break;
        }
        c += 1;
    }
    if tx.send(Msg::FileDone { file: f, rows }).is_err() {
        return Ok(false);
    }
    Ok(true)
}
