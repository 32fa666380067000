//! Training checkpoints: `model.safetensors`, `optimizer.safetensors`, `best.safetensors` and
//! `state.json` (step, data position, history, resolved config) in one folder, replaced
//! atomically (written beside it, then renamed), so a killed run never leaves a torn checkpoint.

use std::collections::HashMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use super::optim::AdamW;
use super::{EndModel, EvalRecord, TrainConfig, snapshot};
use crate::error::{Context, Error, Result};

/// What a checkpoint depends on, as ordered `(field, value)` pairs: a resumed run must match
/// every one (`fingerprint.json` in the checkpoint folder), so that a checkpoint of another
/// dataset, target set, model or config is refused instead of silently continued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint(pub Vec<(String, String)>);

/// File name of the fingerprint in a checkpoint folder.
pub const FINGERPRINT: &str = "fingerprint.json";

impl Fingerprint {
    /// The first field where `self` (this run) and `saved` differ: `(field, saved, now)`.
    pub fn first_difference<'a>(&'a self, saved: &'a Fingerprint) -> Option<(&'a str, &'a str, &'a str)> {
        let now: std::collections::BTreeMap<&str, &str> =
            self.0.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let then: std::collections::BTreeMap<&str, &str> =
            saved.0.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        for (k, v) in &self.0 {
            let old = then.get(k.as_str()).copied().unwrap_or("(absent)");
            if old != v {
                return Some((k, old, v));
            }
        }
        saved
            .0
            .iter()
            .find(|(k, _)| !now.contains_key(k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str(), "(absent)"))
    }

    /// Checks `dir` against this fingerprint before a resume (`resume`), or records it in a fresh
    /// checkpoint folder. A checkpoint made for anything else is refused, naming the first
    /// differing field.
    pub fn check_or_record(&self, dir: &Path, resume: bool) -> Result<()> {
        let path = dir.join(FINGERPRINT);
        let has_state =
            dir.is_dir() && std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.next().is_some();
        if resume && has_state {
            if !path.is_file() {
                return Err(Error::Config(format!(
                    "{}: this checkpoint records no fingerprint of its run (an older weaksup wrote it), so it cannot be checked; start over without --resume",
                    dir.display()
                )));
            }
            let saved: Fingerprint = crate::data::read_json(&path)?;
            if let Some((field, then, now)) = self.first_difference(&saved) {
                return Err(Error::Config(format!(
                    "{}: the checkpoint belongs to another run: `{field}` was {then}, this run has {now}; resume only the same run, or start over without --resume",
                    dir.display()
                )));
            }
            return Ok(());
        }
        if has_state {
            std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        crate::data::write_json(&path, self)
    }
}

/// Named weights (a model snapshot).
pub(crate) type Snapshot = Vec<(String, Tensor)>;

/// The trainer's resumable state.
pub(crate) struct State {
    pub step: usize,
    pub epoch: usize,
    pub batch_in_epoch: usize,
    pub losses: Vec<f64>,
    pub history: Vec<EvalRecord>,
    pub best_score: Option<f64>,
    pub best_step: Option<usize>,
    pub best: Option<Vec<(String, Tensor)>>,
    pub bad_evals: usize,
    pub skipped: usize,
    pub stopped_early: bool,
}

impl State {
    pub fn fresh() -> Self {
        Self {
            step: 0,
            epoch: 0,
            batch_in_epoch: 0,
            losses: Vec::new(),
            history: Vec::new(),
            best_score: None,
            best_step: None,
            best: None,
            bad_evals: 0,
            skipped: 0,
            stopped_early: false,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[doc(hidden)]
pub struct StateFile {
    step: usize,
    epoch: usize,
    batch_in_epoch: usize,
    adam_t: i64,
    losses: Vec<f64>,
    history: Vec<EvalRecord>,
    best_score: Option<f64>,
    best_step: Option<usize>,
    bad_evals: usize,
    skipped: usize,
    stopped_early: bool,
    config: TrainConfig,
}

fn to_cpu(v: Vec<(String, Tensor)>) -> Vec<(String, Tensor)> {
    v.into_iter().map(|(n, t)| (n, t.to_device(Device::Cpu).contiguous())).collect()
}

pub(crate) fn save(
    dir: &Path,
    model: &EndModel,
    opt: &AdamW,
    state: &State,
    cfg: &TrainConfig,
) -> Result<()> {
    let file = StateFile {
        step: state.step,
        epoch: state.epoch,
        batch_in_epoch: state.batch_in_epoch,
        adam_t: opt.t,
        losses: state.losses.clone(),
        history: state.history.clone(),
        best_score: state.best_score,
        best_step: state.best_step,
        bad_evals: state.bad_evals,
        skipped: state.skipped,
        stopped_early: state.stopped_early,
        config: cfg.clone(),
    };
    write_dir(dir, model, opt, state.best.as_deref(), &file)
}

/// Writes a checkpoint folder atomically: the model, the optimizer, the best weights (if any)
/// and `state.json` (with `adam_t` set from `opt`), written beside `dir` and renamed over it.
pub(crate) fn write_dir<S: Serialize>(
    dir: &Path,
    model: &EndModel,
    opt: &AdamW,
    best: Option<&[(String, Tensor)]>,
    state: &S,
) -> Result<()> {
    let tmp = dir.with_extension("tmp");
    let old = dir.with_extension("old");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    Tensor::write_safetensors(&to_cpu(snapshot(model)), tmp.join("model.safetensors"))
        .ctx(|| "writing checkpoint model".into())?;
    Tensor::write_safetensors(&to_cpu(opt.named_state()), tmp.join("optimizer.safetensors"))
        .ctx(|| "writing checkpoint optimizer".into())?;
    if let Some(best) = best {
        let best: Vec<(String, Tensor)> = best.iter().map(|(n, t)| (n.clone(), t.shallow_clone())).collect();
        Tensor::write_safetensors(&to_cpu(best), tmp.join("best.safetensors"))
            .ctx(|| "writing checkpoint best".into())?;
    }
    crate::data::write_json(&tmp.join("state.json"), state)?;
    let _ = std::fs::remove_dir_all(&old);
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

fn read(path: &Path, device: Device) -> Result<HashMap<String, Tensor>> {
    Ok(Tensor::read_safetensors(path)
        .ctx(|| format!("reading {}", path.display()))?
        .into_iter()
        .map(|(n, t)| (n, t.to_device(device)))
        .collect())
}

/// Loads a checkpoint folder written by [`write_dir`] into `model` and `opt`: its state (`None`
/// when there is none) and best weights. `adam_t` reads the optimizer's step count from the state.
pub(crate) fn read_dir<S: DeserializeOwned>(
    dir: &Path,
    model: &mut EndModel,
    opt: &mut AdamW,
    adam_t: fn(&S) -> i64,
) -> Result<Option<(S, Option<Snapshot>)>> {
    // A crash between the two renames of `write_dir` leaves the previous checkpoint as `.old`.
    let dir = if dir.join("state.json").is_file() {
        dir.to_path_buf()
    } else if dir.with_extension("old").join("state.json").is_file() {
        dir.with_extension("old")
    } else {
        return Ok(None);
    };
    let file: S = crate::data::read_json(&dir.join("state.json"))?;
    let device = model.device();
    super::copy_into(model, &read(&dir.join("model.safetensors"), device)?, &dir.display().to_string())?;
    opt.load_state(&read(&dir.join("optimizer.safetensors"), device)?, adam_t(&file))?;
    let best_path = dir.join("best.safetensors");
    let best = if best_path.is_file() {
        let mut b: Vec<(String, Tensor)> = read(&best_path, device)?.into_iter().collect();
        b.sort_by(|x, y| x.0.cmp(&y.0));
        Some(b)
    } else {
        None
    };
    Ok(Some((file, best)))
}

/// Loads a trainer checkpoint into `model` and `opt`; `None` when the folder holds none.
pub(crate) fn load(dir: &Path, model: &mut EndModel, opt: &mut AdamW) -> Result<Option<State>> {
    let Some((file, best)) = read_dir::<StateFile>(dir, model, opt, |f| f.adam_t)? else { return Ok(None) };
    Ok(Some(State {
        step: file.step,
        epoch: file.epoch,
        batch_in_epoch: file.batch_in_epoch,
        losses: file.losses,
        history: file.history,
        best_score: file.best_score,
        best_step: file.best_step,
        best,
        bad_evals: file.bad_evals,
        skipped: file.skipped,
        stopped_early: file.stopped_early,
    }))
}
