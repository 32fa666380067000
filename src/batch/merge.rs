//! `batch merge`: checks the output folders of the N shards of one run and combines them into one
//! folder laid out exactly like a single-machine run's (same part names and contents).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::manifest::{MANIFEST, Manifest, PartRecord, write_rejected};
use super::{Shard, Summary};
use crate::error::{Error, Result};

/// Combines shard output folders into `out`. Errors when the shards ran different options or
/// inputs, when one is unfinished, when a part is missing (naming file, chunk and the shard that
/// owns it) or when two folders hold the same part.
pub fn merge(shards: &[PathBuf], out: &Path) -> Result<Summary> {
    if shards.is_empty() {
        return Err(Error::Config("batch merge: no shard folders given".into()));
    }
    let manifests = shards.iter().map(|d| Manifest::load(d)).collect::<Result<Vec<_>>>()?;
    let first = &manifests[0];
    let n = first.shard.n;
    for (dir, m) in shards.iter().zip(&manifests) {
        first.same_run(m).map_err(|why| {
            Error::invalid(
                dir.display().to_string(),
                format!("not a shard of the same run as {}: {why}", shards[0].display()),
            )
        })?;
        if m.shard.n != n {
            return Err(Error::invalid(
                dir.display().to_string(),
                format!("shard {} of a {n}-way run", m.shard),
            ));
        }
        if !m.complete {
            return Err(Error::invalid(
                dir.display().to_string(),
                format!(
                    "shard {} is not finished ({} parts written); rerun it to resume",
                    m.shard,
                    m.parts.len()
                ),
            ));
        }
    }
    // Record counts per file: every shard read every file to its end, so they must agree.
    let mut merged =
        Manifest::new(&first.kind, first.settings.clone(), Shard::default(), first.inputs.clone());
    for (f, input) in merged.inputs.iter_mut().enumerate() {
        input.rows = manifests.iter().find_map(|m| m.inputs[f].rows);
        if let Some((dir, m)) = shards
            .iter()
            .zip(&manifests)
            .find(|(_, m)| m.inputs[f].rows.is_some_and(|r| Some(r) != input.rows))
        {
            return Err(Error::invalid(
                dir.display().to_string(),
                format!(
                    "{}: {} records, other shards read {}",
                    input.path,
                    m.inputs[f].rows.unwrap_or(0),
                    input.rows.unwrap_or(0)
                ),
            ));
        }
    }
    let mut have: BTreeMap<(usize, u64), (&PathBuf, &PartRecord)> = BTreeMap::new();
    for (dir, m) in shards.iter().zip(&manifests) {
        for p in &m.parts {
            if let Some((other, _)) = have.insert((p.file, p.chunk), (dir, p)) {
                return Err(Error::invalid(
                    "batch merge",
                    format!(
                        "duplicate part {} (file {}, chunk {}) in {} and {}",
                        p.name,
                        p.file,
                        p.chunk,
                        other.display(),
                        dir.display()
                    ),
                ));
            }
            for f in std::iter::once(&p.name).chain(&p.rejections) {
                if !dir.join(f).is_file() {
                    return Err(Error::invalid(
                        dir.display().to_string(),
                        format!("{f} is listed in {MANIFEST} but missing"),
                    ));
                }
            }
        }
    }
    let expected = merged.expected_parts()?;
    let missing: Vec<String> = expected
        .iter()
        .filter(|k| !have.contains_key(k))
        .map(|&(f, c)| {
            let owner = Shard { k: ((f as u64 + c) % n as u64) as u32, n };
            format!(
                "{} ({}, records from {}, shard {owner})",
                super::manifest::part_name(f, c),
                merged.inputs[f].path,
                c * chunk_rows(&merged)
            )
        })
        .collect();
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(10).map(String::as_str).collect();
        return Err(Error::invalid(
            "batch merge",
            format!(
                "{} missing parts: {}{}",
                missing.len(),
                shown.join("; "),
                if missing.len() > 10 { "; …" } else { "" }
            ),
        ));
    }
    if let Some(&(f, c)) = have.keys().find(|k| !expected.contains(k)) {
        return Err(Error::invalid(
            "batch merge",
            format!("part (file {f}, chunk {c}) is beyond the end of {}", merged.inputs[f].path),
        ));
    }

    let out_canon = std::fs::canonicalize(out).ok();
    if shards.iter().any(|d| std::fs::canonicalize(d).ok() == out_canon && out_canon.is_some()) {
        return Err(Error::Config(format!(
            "batch merge: the output folder {} is one of the shards",
            out.display()
        )));
    }
    if out.join(MANIFEST).is_file() {
        return Err(Error::Config(format!(
            "batch merge: {} already holds a batch output; use a new folder",
            out.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    for (dir, p) in have.values() {
        for f in std::iter::once(&p.name).chain(&p.rejections) {
            copy_atomic(&dir.join(f), &out.join(f))?;
        }
        merged.parts.push((*p).clone());
    }
    merged.complete = true;
    let summary = merged.summarize();
    merged.summary = Some(summary.clone());
    write_rejected(out, &merged.parts)?;
    merged.save(out)?;
    Ok(summary)
}

fn chunk_rows(m: &Manifest) -> u64 {
    m.settings["batch"]["chunk_rows"].as_u64().unwrap_or(0)
}

/// A hard link where the file system allows one, else a copy; through a temporary name.
fn copy_atomic(from: &Path, to: &Path) -> Result<()> {
    let tmp = crate::data::with_suffix(to, &format!(".tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    if std::fs::hard_link(from, &tmp).is_err() {
        std::fs::copy(from, &tmp).map_err(|e| Error::io(from, e))?;
    }
    std::fs::rename(&tmp, to).map_err(|e| Error::io(to, e))
}
