//! The run's metrics log, `metrics.jsonl`: one JSON object per line, appended as training goes.
//! `{"step", "loss", "lr", "grad_norm", "tokens_per_s", "mfu", "tokens", "seconds",
//! "data_seconds"}` after each optimizer step, `{"step", "val_loss", "val_bpb"}` after each
//! evaluation and `{"step", "prompt", "greedy", "sampled"}` for each sample, and after each
//! step of reinforcement learning what its rollouts did (`Rollouts`) and, at evaluations, how it
//! does on held-out questions (`Heldout`); after each step of preference training its pairs'
//! implicit rewards (`Preference`) and, at evaluations, the held-out pairs' (`HeldoutPairs`).

use crate::Error;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A held-out question and the model's greedy reply to it as one line (calls and results
/// shown, as `minichat eval` shows them), and whether it was right.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub question: String,
    pub reply: String,
    pub right: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Record {
    Step {
        step: u64,
        loss: f32,
        lr: f32,
        grad_norm: f32,
        tokens_per_s: f64,
        /// Model FLOPs utilisation of the forward, backward and update alone: the time the step
        /// waited for its rows (`data_seconds`) is left out, and so are the LM head's FLOPs on
        /// rows that skip it (rows without a target, `minichat_model::head`).
        mfu: f64,
        tokens: u64,
        seconds: f64,
        /// Seconds of this step spent producing its rows: reading data, or in reinforcement
        /// learning sampling the rollouts and the reference's log-probabilities (0 in logs
        /// written before it was recorded).
        #[serde(default)]
        data_seconds: f64,
    },
    Eval {
        step: u64,
        val_loss: f32,
        val_bpb: f32,
    },
    Sample {
        step: u64,
        prompt: String,
        greedy: String,
        sampled: String,
    },
    /// A reinforcement-learning step's rollouts: mean reward, the fraction of replies whose
    /// reward was full (pass@1 when sampled), mean tokens the model drew per reply, and over
    /// the trained tokens the fractions clipped below and above, the mean importance ratio and
    /// the KL estimate to the starting model (0 without one), and the groups that teach nothing.
    /// Where the reward is a reward
    /// model's score (RLHF), `gold` is the task checker's mean reward on the same replies: what
    /// the proxy stands in for (and `solved` counts right answers).
    Rollouts {
        step: u64,
        reward: f32,
        solved: f32,
        reply_tokens: f32,
        clipped_low: f32,
        clipped_high: f32,
        ratio: f32,
        kl: f32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gold: Option<f32>,
        /// The share of groups that teach nothing: every reply's reward alike, or a reward that
        /// is not a number (NaN or infinite, counted in `invalid`), whose group gets advantage 0.
        #[serde(default)]
        flat_groups: f32,
        #[serde(default)]
        invalid: usize,
    },
    /// A task's held-out questions after step `step` (0: before training): the share answered
    /// right greedily (pass@1, as the exam asks), and the share with at least one right reply
    /// among `k` sampled (pass@k), with the first few greedy replies to read what the numbers
    /// mean (none in logs written before they were kept).
    Heldout {
        step: u64,
        task: String,
        pass_at_1: f32,
        pass_at_k: f32,
        k: usize,
        questions: usize,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        samples: Vec<Reply>,
    },
    /// A preference step's pairs (DPO): the mean implicit rewards `β (π - ref)` of the chosen
    /// and rejected replies, their mean margin, and the share of pairs whose chosen reply has
    /// the higher reward (TRL's `rewards/chosen`, `rewards/rejected`, `rewards/margins`,
    /// `rewards/accuracies`).
    Preference {
        step: u64,
        reward_chosen: f32,
        reward_rejected: f32,
        reward_margin: f32,
        reward_accuracy: f32,
    },
    /// The same on held-out pairs after step `step`, with their mean loss.
    HeldoutPairs {
        step: u64,
        heldout_loss: f32,
        heldout_accuracy: f32,
        heldout_margin: f32,
        pairs: usize,
    },
}

impl Record {
    pub fn step(&self) -> u64 {
        match self {
            Record::Step { step, .. }
            | Record::Eval { step, .. }
            | Record::Sample { step, .. }
            | Record::Rollouts { step, .. }
            | Record::Heldout { step, .. }
            | Record::Preference { step, .. }
            | Record::HeldoutPairs { step, .. } => *step,
        }
    }
}

/// Appends records to a run's log.
pub struct Log {
    path: PathBuf,
    file: std::fs::File,
}

impl Log {
    /// Opens `path` for appending, first dropping records past `resume_step` (written after the
    /// checkpoint being resumed from, by a run that then died), so the log matches the state.
    pub fn open(path: &Path, resume_step: Option<u64>) -> Result<Log, Error> {
        let io = |e: std::io::Error| Error::Io { path: path.display().to_string(), source: e };
        match resume_step {
            Some(step) if path.exists() => {
                let kept: Vec<Record> = read(path)?.into_iter().filter(|r| r.step() <= step).collect();
                let text: String = kept.iter().map(|r| serde_json::to_string(r).expect("serialises") + "\n").collect();
                minichat_corpus::atomic_write(path, text.as_bytes())?;
            }
            Some(_) => {}
            None => minichat_corpus::atomic_write(path, b"")?,
        }
        let file = std::fs::OpenOptions::new().append(true).create(true).open(path).map_err(io)?;
        Ok(Log { path: path.to_path_buf(), file })
    }

    pub fn write(&mut self, record: &Record) -> Result<(), Error> {
        let line = serde_json::to_string(record).expect("a record serialises") + "\n";
        self.file.write_all(line.as_bytes()).map_err(|e| Error::Io { path: self.path.display().to_string(), source: e })
    }
}

/// All records of a log; a line that is not a record is an error naming it.
pub fn read(path: &Path) -> Result<Vec<Record>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io { path: path.display().to_string(), source: e })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| Error::Data(format!("{}:{}: {e}", path.display(), i + 1))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_drops_records_past_the_checkpoint() {
        let dir = std::env::temp_dir().join(format!("minichat-metrics-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("metrics.jsonl");
        let mut log = Log::open(&path, None).unwrap();
        for step in 1..=5 {
            log.write(&Record::Step {
                step,
                loss: 1.0,
                lr: 0.1,
                grad_norm: 1.0,
                tokens_per_s: 1.0,
                mfu: 0.1,
                tokens: step,
                seconds: 1.0,
                data_seconds: 0.5,
            })
            .unwrap();
        }
        log.write(&Record::Eval { step: 5, val_loss: 2.0, val_bpb: 1.0 }).unwrap();
        drop(log);
        Log::open(&path, Some(3)).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back.len(), 3);
        assert!(matches!(back[2], Record::Step { step: 3, .. }));
        std::fs::write(&path, "{\"step\": 1}\nnot json\n").unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("metrics.jsonl:1"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
