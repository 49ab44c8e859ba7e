//! The run config: one TOML file (`config.toml` in every run directory holds the fully resolved
//! one), built from a preset sized by one dial (`depth`, nanochat style) plus overrides.

use crate::schedule::{Kind, Schedule};
use crate::Error;
use minichat_model::adamw::AdamW;
use minichat_model::muon::Muon;
use minichat_model::optimizer::Optimizer;
use minichat_model::{params, Family, ModelConfig};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub model: ModelSection,
    pub data: DataSection,
    pub train: TrainSection,
    pub eval: EvalSection,
    pub sample: SampleSection,
    pub checkpoint: CheckpointSection,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// "gpt2" or "llama".
    pub family: String,
    /// The one dial: layers, and width 64 × depth unless `n_embd` says otherwise.
    pub depth: usize,
    pub n_embd: Option<usize>,
    pub n_head: Option<usize>,
    pub n_kv_head: Option<usize>,
    /// Context length: sequences are this long in training, and generation stops here.
    pub context: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// Text, JSONL or Parquet files.
    pub corpus: Vec<PathBuf>,
    /// A tokenizer file (`.mctok`, `.tiktoken`) or a built-in name (`cl100k_base`, ...).
    pub tokenizer: String,
    pub val_fraction: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    pub steps: u64,
    /// Sequences per forward/backward pass.
    pub micro_batch: usize,
    /// Tokens per optimizer step: a multiple of micro_batch × context; gradients of the
    /// micro-batches in between accumulate.
    pub batch_tokens: usize,
    pub lr: f32,
    pub schedule: Kind,
    pub warmup_steps: u64,
    pub final_lr_frac: f32,
    /// WSD only: the fraction of steps that decay.
    pub decay_frac: f32,
    pub weight_decay: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// Global gradient-norm clip (0 = off).
    pub grad_clip: f32,
    pub seed: u64,
    /// f32 FMA peak of this machine in GFLOP/s for the MFU estimate (0 = measure at start).
    pub peak_gflops: f64,
    /// `adamw`, or `muon`: Muon for the blocks' matrices at `muon_lr`, AdamW for the rest at
    /// `lr` (`minichat_model::optimizer`), both on the one schedule.
    #[serde(default)]
    pub optimizer: OptimizerKind,
    #[serde(default = "default_muon_lr")]
    pub muon_lr: f32,
}

impl TrainSection {
    /// The settings of a stage that goes on from a base run (fine-tuning, RL, preferences):
    /// its own steps, batch and warm-up, and AdamW at its own learning rate, whatever optimizer
    /// the base was trained with.
    pub fn restart(&mut self, steps: u64, lr: f32, micro_batch: usize, batch_tokens: usize, warmup_steps: u64) {
        (self.steps, self.lr, self.micro_batch, self.batch_tokens) = (steps, lr, micro_batch, batch_tokens);
        self.warmup_steps = warmup_steps;
        self.optimizer = OptimizerKind::Adamw;
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    #[default]
    Adamw,
    Muon,
}

impl std::str::FromStr for OptimizerKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "adamw" => Ok(OptimizerKind::Adamw),
            "muon" => Ok(OptimizerKind::Muon),
            other => Err(Error::Config(format!("optimizer {other:?}: adamw or muon"))),
        }
    }
}

/// Muon's peak learning rate: Jordan's and nanochat's 0.02 (measured here on the tiny preset
/// in docs/pretraining.md).
fn default_muon_lr() -> f32 {
    0.02
}

/// Muon's momentum (Nesterov): Jordan's, nanochat's and torch's 0.95.
const MUON_MOMENTUM: f32 = 0.95;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSection {
    /// Steps between validation passes (0 = only at the end).
    pub every: u64,
    /// Validation tokens per pass at most.
    pub tokens: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleSection {
    /// Steps between samples (0 = only at the end).
    pub every: u64,
    pub prompts: Vec<String>,
    pub max_tokens: usize,
    pub temperature: f32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointSection {
    /// Steps between checkpoints (0 = only at the end and on Ctrl-C).
    pub every: u64,
    /// Checkpoints kept (the newest).
    pub keep: usize,
}

/// Settings given on top of a preset or a config file (the command line's flags); `None`
/// keeps the config's value.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub corpus: Vec<PathBuf>,
    pub tokenizer: Option<String>,
    pub family: Option<String>,
    pub depth: Option<usize>,
    pub context: Option<usize>,
    pub steps: Option<u64>,
    pub micro_batch: Option<usize>,
    pub batch_tokens: Option<usize>,
    pub lr: Option<f32>,
    pub optimizer: Option<OptimizerKind>,
    pub muon_lr: Option<f32>,
    pub eval_every: Option<u64>,
    pub sample_every: Option<u64>,
    pub checkpoint_every: Option<u64>,
    pub seed: Option<u64>,
}

impl TrainConfig {
    /// The preset's pretraining config (`preset::PRESETS`); `depth` then sizes the model.
    pub fn preset(name: &str, corpus: Vec<PathBuf>, tokenizer: String) -> Result<TrainConfig, Error> {
        let p = crate::preset::preset(name)?;
        let (depth, context, micro_batch, steps, lr) =
            (p.depth, p.context, p.micro_batch, p.pretrain_steps, p.pretrain_lr);
        Ok(TrainConfig {
            model: ModelSection {
                family: p.family.into(),
                depth,
                n_embd: None,
                n_head: None,
                n_kv_head: None,
                context,
            },
            data: DataSection { corpus, tokenizer, val_fraction: 0.02 },
            train: TrainSection {
                steps,
                micro_batch,
                batch_tokens: micro_batch * context,
                lr,
                schedule: Kind::Cosine,
                warmup_steps: steps / 20,
                final_lr_frac: 0.1,
                decay_frac: 0.2,
                weight_decay: 0.1,
                beta1: 0.9,
                beta2: 0.95,
                eps: 1e-8,
                grad_clip: 1.0,
                seed: 1337,
                peak_gflops: 0.0,
                optimizer: p.pretrain_optimizer,
                muon_lr: default_muon_lr(),
            },
            eval: EvalSection { every: steps / 10, tokens: 32 * 1024 },
            sample: SampleSection {
                every: steps / 5,
                prompts: vec!["The".into(), "Once upon a time".into(), "The meaning of".into()],
                max_tokens: 40,
                temperature: 0.8,
            },
            checkpoint: CheckpointSection { every: steps / 5, keep: 2 },
        })
    }

    /// Applies `o`, then checks the result. Without an explicit batch size, a config whose step
    /// was one micro-batch stays at one micro-batch when the micro-batch or context changes.
    pub fn with(mut self, o: &Overrides) -> Result<TrainConfig, Error> {
        if !o.corpus.is_empty() {
            self.data.corpus = o.corpus.clone();
        }
        if let Some(t) = &o.tokenizer {
            self.data.tokenizer = t.clone();
        }
        if let Some(f) = &o.family {
            self.model.family = f.clone();
        }
        self.model.depth = o.depth.unwrap_or(self.model.depth);
        let t = &mut self.train;
        let follows_micro = t.batch_tokens == t.micro_batch * self.model.context;
        self.model.context = o.context.unwrap_or(self.model.context);
        t.micro_batch = o.micro_batch.unwrap_or(t.micro_batch);
        t.batch_tokens = match o.batch_tokens {
            Some(n) => n,
            None if follows_micro => t.micro_batch * self.model.context,
            None => t.batch_tokens,
        };
        if let Some(s) = o.steps {
            t.steps = s;
            t.warmup_steps = t.warmup_steps.min(s);
        }
        t.lr = o.lr.unwrap_or(t.lr);
        t.optimizer = o.optimizer.unwrap_or(t.optimizer);
        t.muon_lr = o.muon_lr.unwrap_or(t.muon_lr);
        t.seed = o.seed.unwrap_or(t.seed);
        self.eval.every = o.eval_every.unwrap_or(self.eval.every);
        self.sample.every = o.sample_every.unwrap_or(self.sample.every);
        self.checkpoint.every = o.checkpoint_every.unwrap_or(self.checkpoint.every);
        self.validate()?;
        Ok(self)
    }

    pub fn from_toml(text: &str, source: &str) -> Result<TrainConfig, Error> {
        toml::from_str(text).map_err(|e| Error::Config(format!("{source}: {e}")))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a config serialises")
    }

    /// The model this config builds for a tokenizer of `vocab_size` tokens.
    pub fn model_config(&self, vocab_size: usize) -> Result<ModelConfig, Error> {
        let m = &self.model;
        let family = match m.family.as_str() {
            "gpt2" => Family::Gpt2,
            "llama" => Family::Llama,
            other => return Err(Error::Config(format!("model.family {other:?}: gpt2 or llama"))),
        };
        let mut cfg = ModelConfig::from_depth(family, m.depth, vocab_size);
        if let Some(c) = m.n_embd {
            cfg.n_embd = c;
            cfg.intermediate_size = match family {
                Family::Gpt2 => 4 * c,
                Family::Llama => (8 * c / 3).div_ceil(64) * 64,
            };
        }
        if let Some(h) = m.n_head {
            cfg.n_head = h;
            cfg.n_kv_head = h;
        }
        if let Some(h) = m.n_kv_head {
            cfg.n_kv_head = h;
        }
        cfg.block_size = m.context;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Micro-batches per optimizer step.
    pub fn accumulation(&self) -> Result<usize, Error> {
        let per_micro = self.train.micro_batch * self.model.context;
        if per_micro == 0 || self.train.batch_tokens == 0 || !self.train.batch_tokens.is_multiple_of(per_micro) {
            return Err(Error::Config(format!(
                "train.batch_tokens {} must be a positive multiple of micro_batch × context = {per_micro}",
                self.train.batch_tokens
            )));
        }
        Ok(self.train.batch_tokens / per_micro)
    }

    pub fn schedule(&self) -> Schedule {
        let t = &self.train;
        Schedule {
            kind: t.schedule,
            peak: t.lr,
            warmup_steps: t.warmup_steps,
            total_steps: t.steps,
            final_frac: t.final_lr_frac,
            decay_frac: t.decay_frac,
        }
    }

    /// The optimizer `train` asks for, over `net`'s parameters. Muon's weight decay is 0, as in
    /// Jordan's and nanochat's first versions; AdamW decays what `params::decayed_ranges` lists
    /// and Muon does not own.
    pub fn optimizer(&self, net: &minichat_model::net::Net) -> Optimizer {
        let t = &self.train;
        let adamw = AdamW::new(net.weights().len(), t.lr, (t.beta1, t.beta2), t.eps, t.weight_decay);
        let muon = (t.optimizer == OptimizerKind::Muon)
            .then(|| Muon::new(params::hidden_matrices(net.params()), t.muon_lr, MUON_MOMENTUM, 0.0));
        Optimizer::new(adamw, muon)
    }

    /// Checks what can be checked before any work.
    pub fn validate(&self) -> Result<(), Error> {
        self.accumulation()?;
        let t = &self.train;
        if !t.muon_lr.is_finite() || t.muon_lr <= 0.0 {
            return Err(Error::Config(format!("train.muon_lr {} must be positive", t.muon_lr)));
        }
        if t.steps == 0 || !t.lr.is_finite() || t.lr <= 0.0 || t.warmup_steps > t.steps {
            return Err(Error::Config(format!(
                "train.steps {} must be positive, lr {} positive, warmup_steps {} at most steps",
                t.steps, t.lr, t.warmup_steps
            )));
        }
        if self.checkpoint.keep == 0 {
            return Err(Error::Config("checkpoint.keep must be at least 1".into()));
        }
        self.model_config(256)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_round_trip_through_toml_and_validate() {
        for p in &crate::preset::PRESETS {
            let cfg = TrainConfig::preset(p.name, vec!["c.jsonl".into()], "cl100k_base".into()).unwrap();
            cfg.validate().unwrap();
            assert_eq!(TrainConfig::from_toml(&cfg.to_toml(), "x").unwrap(), cfg);
        }
        assert!(TrainConfig::preset("huge", vec![], String::new())
            .unwrap_err()
            .to_string()
            .contains("known: tiny, small"));
    }

    #[test]
    fn overrides_apply_and_one_micro_batch_stays_one() {
        let base = TrainConfig::preset("tiny", vec![], "x".into()).unwrap();
        let o = Overrides { context: Some(64), micro_batch: Some(2), steps: Some(10), ..Default::default() };
        let cfg = base.clone().with(&o).unwrap();
        assert_eq!((cfg.model.context, cfg.train.batch_tokens, cfg.train.steps), (64, 128, 10));
        assert!(cfg.train.warmup_steps <= 10);
        let o = Overrides { batch_tokens: Some(4 * 8 * 256), ..Default::default() };
        assert_eq!(base.clone().with(&o).unwrap().accumulation().unwrap(), 4);
        let bad = Overrides { batch_tokens: Some(100), ..Default::default() };
        assert!(base.with(&bad).unwrap_err().to_string().contains("batch_tokens"));
    }

    #[test]
    fn bad_configs_are_named() {
        let mut cfg = TrainConfig::preset("tiny", vec![], "x".into()).unwrap();
        cfg.train.batch_tokens += 1;
        assert!(cfg.validate().unwrap_err().to_string().contains("batch_tokens"));
        let text =
            TrainConfig::preset("tiny", vec![], "x".into()).unwrap().to_toml().replace("[eval]", "[eval]\nevry = 3");
        assert!(TrainConfig::from_toml(&text, "run.toml").unwrap_err().to_string().contains("run.toml"));
    }
}
