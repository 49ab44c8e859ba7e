//! Checkpoints: everything a run needs to continue bit for bit, in one directory per step:
//!
//! ```text
//! checkpoints/step_000300/model.safetensors   weights, Hugging Face names (+ config.json)
//!                        /optimizer.safetensors AdamW moments `m`, `v` (+ Muon's `muon_momentum`)
//!                        /trainer.json          step, loader position, counters, file checksums
//! checkpoints/LATEST                            the newest complete checkpoint's directory name
//! ```
//!
//! A checkpoint is written into a hidden temporary directory and renamed into place, and only
//! then does `LATEST` (itself written atomically) point to it, so a crash or a full disk during
//! a save leaves the previous checkpoint intact. The oldest beyond `keep` are removed after.
//! Loading verifies each file's CRC-32 against `trainer.json`.

use crate::loader::Position;
use crate::Error;
use minichat_corpus::atomic_write;
use minichat_model::net::Net;
use minichat_model::optimizer::Optimizer;
use minichat_model::safetensors::{self, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The training loop's state besides weights and optimizer moments.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Optimizer steps completed.
    pub step: u64,
    pub loader: Position,
    pub tokens_seen: u64,
    /// Training seconds so far (not counting evaluation and saving).
    pub train_seconds: f64,
    pub last_val_loss: Option<f32>,
    /// CRC-32 of each file of the checkpoint, by name.
    pub checksums: BTreeMap<String, u32>,
}

/// Muon's momentum in optimizer.safetensors.
const MUON: &str = "muon_momentum";

const FILES: [&str; 3] = ["model.safetensors", "config.json", "optimizer.safetensors"];
/// The model's files among them (all a stage that starts its own optimizer reads).
const MODEL_FILES: [&str; 2] = ["model.safetensors", "config.json"];

/// Saves a checkpoint for `state.step` under `dir`; keeps the newest `keep`. Returns its path.
pub fn save(dir: &Path, net: &Net, opt: &Optimizer, state: &TrainerState, keep: usize) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let name = format!("step_{:06}", state.step);
    let (tmp, fin) = (dir.join(format!(".{name}.tmp")), dir.join(&name));
    let result = write_into(&tmp, net, opt, state);
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if fin.exists() {
        std::fs::remove_dir_all(&fin).map_err(Error::io(&fin))?;
    }
    std::fs::rename(&tmp, &fin).map_err(Error::io(&fin))?;
    atomic_write(&dir.join("LATEST"), name.as_bytes())?;
    prune(dir, keep)?;
    Ok(fin)
}

fn write_into(tmp: &Path, net: &Net, opt: &Optimizer, state: &TrainerState) -> Result<(), Error> {
    if tmp.exists() {
        std::fs::remove_dir_all(tmp).map_err(Error::io(tmp))?;
    }
    std::fs::create_dir_all(tmp).map_err(Error::io(tmp))?;
    for (name, bytes) in net.hf_files() {
        atomic_write(&tmp.join(name), &bytes)?;
    }
    let (m, v) = opt.adamw.moments();
    let mut tensors = BTreeMap::from([
        ("m".to_string(), Tensor { shape: vec![m.len()], data: m.to_vec() }),
        ("v".to_string(), Tensor { shape: vec![v.len()], data: v.to_vec() }),
    ]);
    if let Some(muon) = &opt.muon {
        let b = muon.momentum_buffer();
        tensors.insert(MUON.into(), Tensor { shape: vec![b.len()], data: b.to_vec() });
    }
    atomic_write(&tmp.join("optimizer.safetensors"), &safetensors::serialize(&tensors, &BTreeMap::new()))?;
    let mut state = state.clone();
    for f in FILES {
        let path = tmp.join(f);
        state.checksums.insert(f.into(), crc32fast::hash(&std::fs::read(&path).map_err(Error::io(&path))?));
    }
    let json = serde_json::to_string_pretty(&state).expect("state serialises");
    Ok(atomic_write(&tmp.join("trainer.json"), json.as_bytes())?)
}

/// Removes all but the newest `keep` checkpoints, and temporary leftovers of saves that died.
/// Keeps the newest `keep` checkpoints under `dir` and removes the rest, with what a killed
/// save or prune left (hidden `.step_*.tmp` folders). An old checkpoint is renamed to such a
/// name before it is removed, so that a kill halfway never leaves a part of one under its name.
/// Runs after each save, and when a run resumes (a kill may have come during the last prune).
pub fn prune(dir: &Path, keep: usize) -> Result<(), Error> {
    if !dir.is_dir() {
        return Ok(());
    }
    let entries: Vec<PathBuf> =
        std::fs::read_dir(dir).map_err(Error::io(dir))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    let name = |p: &PathBuf| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for tmp in entries.iter().filter(|p| p.is_dir() && name(p).starts_with(".step_") && name(p).ends_with(".tmp")) {
        std::fs::remove_dir_all(tmp).map_err(Error::io(tmp))?;
    }
    let mut steps: Vec<&PathBuf> = entries.iter().filter(|p| p.is_dir() && name(p).starts_with("step_")).collect();
    steps.sort();
    let excess = steps.len().saturating_sub(keep);
    for old in &steps[..excess] {
        let doomed = dir.join(format!(".{}.tmp", name(old)));
        std::fs::rename(old, &doomed).map_err(Error::io(old))?;
        std::fs::remove_dir_all(&doomed).map_err(Error::io(&doomed))?;
    }
    Ok(())
}

/// The newest complete checkpoint under `dir`, if any.
pub fn latest(dir: &Path) -> Result<Option<PathBuf>, Error> {
    let marker = dir.join("LATEST");
    match std::fs::read_to_string(&marker) {
        Ok(name) => {
            let path = dir.join(name.trim());
            if !path.is_dir() {
                return Err(Error::Checkpoint {
                    path: marker.display().to_string(),
                    message: format!("points to {}, which does not exist", path.display()),
                });
            }
            Ok(Some(path))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Io { path: marker.display().to_string(), source: e }),
    }
}

/// Loads a checkpoint into `net` and `opt` (built for the same config); returns its state.
pub fn load(ckpt: &Path, net: &mut Net, opt: &mut Optimizer) -> Result<TrainerState, Error> {
    let (state, files) = read_checked(ckpt, net, &FILES)?;
    let bad = |message: String| Error::Checkpoint { path: ckpt.display().to_string(), message };
    let opt_file = safetensors::parse(&files["optimizer.safetensors"], "optimizer.safetensors")?;
    let (Some(m), Some(v)) = (opt_file.get("m"), opt_file.get("v")) else {
        return Err(bad("optimizer.safetensors lacks m or v".into()));
    };
    // One AdamW update per optimizer step: its step count is the trainer's.
    opt.adamw.restore(&m.data, &v.data, state.step)?;
    match (&mut opt.muon, opt_file.get(MUON)) {
        (Some(muon), Some(b)) => muon.restore(&b.data)?,
        (None, None) => {}
        (Some(_), None) => return Err(bad("trained with AdamW alone; this run's config asks for Muon".into())),
        (None, Some(_)) => return Err(bad("trained with Muon; this run's config asks for AdamW alone".into())),
    }
    Ok(state)
}

/// Loads only the weights of a checkpoint into `net` (built for the same model), for a stage
/// that starts its own optimizer.
pub fn load_weights(ckpt: &Path, net: &mut Net) -> Result<(), Error> {
    read_checked(ckpt, net, &MODEL_FILES).map(|_| ())
}

/// Reads `files` of a checkpoint (the model's two among them), each once, checks them against
/// `trainer.json`'s checksums and its model config against `net`'s, and loads its weights into
/// `net`. Returns the state and the files' bytes by name.
fn read_checked(
    ckpt: &Path,
    net: &mut Net,
    files: &[&'static str],
) -> Result<(TrainerState, BTreeMap<&'static str, Vec<u8>>), Error> {
    let bad = |message: String| Error::Checkpoint { path: ckpt.display().to_string(), message };
    let state_path = ckpt.join("trainer.json");
    let text = std::fs::read_to_string(&state_path).map_err(Error::io(&state_path))?;
    let state: TrainerState = serde_json::from_str(&text).map_err(|e| bad(format!("trainer.json: {e}")))?;
    let mut read = BTreeMap::new();
    for &f in files {
        let path = ckpt.join(f);
        let bytes = std::fs::read(&path).map_err(Error::io(&path))?;
        let want = state.checksums.get(f).ok_or_else(|| bad(format!("trainer.json has no checksum for {f}")))?;
        if crc32fast::hash(&bytes) != *want {
            return Err(bad(format!("{f} is corrupt or truncated (checksum mismatch)")));
        }
        read.insert(f, bytes);
    }
    let config_text = String::from_utf8_lossy(&read["config.json"]);
    let saved = minichat_model::ModelConfig::from_hf_json(&config_text)?;
    if &saved != net.config() {
        return Err(bad(format!("its model config {saved:?} differs from this run's {:?}", net.config())));
    }
    net.load_hf(&safetensors::parse(&read["model.safetensors"], "model.safetensors")?, "model.safetensors")?;
    Ok((state, read))
}

#[cfg(test)]
mod tests {
    use super::*;
    use minichat_model::adamw::AdamW;
    use minichat_model::muon::Muon;
    use minichat_model::{params, Family, ModelConfig};

    fn net() -> Net {
        let mut cfg = ModelConfig::from_depth(Family::Gpt2, 1, 50);
        (cfg.n_embd, cfg.n_head, cfg.n_kv_head, cfg.intermediate_size, cfg.block_size) = (16, 2, 2, 64, 8);
        Net::new(cfg).unwrap()
    }

    fn adamw(net: &Net) -> Optimizer {
        Optimizer::new(AdamW::new(net.weights().len(), 1e-3, (0.9, 0.95), 1e-8, 0.0), None)
    }

    fn state(step: u64) -> TrainerState {
        TrainerState {
            step,
            loader: Position::default(),
            tokens_seen: 0,
            train_seconds: 0.0,
            last_val_loss: None,
            checksums: Default::default(),
        }
    }

    #[test]
    fn a_failed_save_leaves_the_previous_checkpoint() {
        let dir = std::env::temp_dir().join(format!("minichat-ckpt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut net = net();
        net.buffers().0.iter_mut().enumerate().for_each(|(i, w)| *w = i as f32 * 1e-3);
        let opt = adamw(&net);
        let first = save(&dir, &net, &opt, &state(1), 2).unwrap();
        // The next save cannot write its files (as on a full disk): it fails and cleans up.
        std::fs::write(dir.join(".step_000002.tmp"), b"in the way").unwrap();
        assert!(save(&dir, &net, &opt, &state(2), 2).is_err());
        assert_eq!(latest(&dir).unwrap(), Some(first.clone()));
        let mut back = super::tests::net();
        let mut opt2 = adamw(&back);
        assert_eq!(load(&first, &mut back, &mut opt2).unwrap().step, 1);
        assert_eq!(back.weights(), net.weights());
        // Keep the newest two.
        std::fs::remove_file(dir.join(".step_000002.tmp")).unwrap();
        for step in 2..=4 {
            save(&dir, &net, &opt, &state(step), 2).unwrap();
        }
        let mut names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, ["LATEST", "step_000003", "step_000004"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn muon_momentum_is_saved_and_an_optimizer_change_is_named() {
        let dir = std::env::temp_dir().join(format!("minichat-ckpt-muon-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut net = net();
        let with_muon = |net: &Net| {
            let muon = Muon::new(params::hidden_matrices(net.params()), 0.02, 0.95, 0.0);
            Optimizer::new(AdamW::new(net.weights().len(), 1e-3, (0.9, 0.95), 1e-8, 0.0), Some(muon))
        };
        let mut opt = with_muon(&net);
        let grads: Vec<f32> = (0..net.weights().len()).map(|i| ((i * 7919) % 13) as f32 - 6.0).collect();
        opt.update(net.buffers().0, &grads, &[]);
        let path = save(&dir, &net, &opt, &state(1), 2).unwrap();
        let mut back = with_muon(&net);
        load(&path, &mut net, &mut back).unwrap();
        let saved = opt.muon.as_ref().unwrap().momentum_buffer();
        assert!(saved.iter().any(|&b| b != 0.0));
        assert_eq!(back.muon.as_ref().unwrap().momentum_buffer(), saved);
        let mut plain = adamw(&net);
        let err = load(&path, &mut net, &mut plain).unwrap_err().to_string();
        assert!(err.contains("trained with Muon"), "{err}");
        load_weights(&path, &mut net).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
