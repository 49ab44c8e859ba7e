//! Learning from preference pairs (pairs of replies to the same prompt, one preferred: TRL's
//! files, `minichat_chat::preference`), one of two ways (`Method`), through the same optimizer
//! loop as pretraining, fine-tuning and GRPO (`trainer::Loop`); only the data and the per-token
//! coefficients differ (`preference_loader`):
//!
//! - direct preference optimisation (`dpo`): the chat model itself learns to prefer the chosen
//!   replies. No reward model and no sampling: the starting model's log-probabilities of every
//!   pair, computed once, stand in for both;
//! - a reward model (`reward_model`): a copy of the chat model learns to score conversations,
//!   the chosen one above the rejected one, to stand in for a person in RLHF.
//!
//! Either is a run directory of its own (`run`), with the base run's config and tokenizer and
//! `preference.json` saying where it started, on which pairs, how and with which settings
//! (`PreferenceSource`), so it resumes from its own checkpoints on the same pairs. Pairs go to
//! training or held out by a hash of their tokens, so the split does not depend on file order.
//! The pair files are read and checked before a new run is made, so bad data leaves nothing.

use crate::config::TrainConfig;
use crate::preference_loader::{render_pair, Method, PairRows, PreferencePairs};
use crate::run::Run;
use crate::trainer::{self, Loop, Observer, Outcome};
use crate::Error;
use minichat_chat::conversation::ChatTokens;
use minichat_chat::preference;
use minichat_model::net::Net;
use minichat_tokenizer::Tokenizer;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// What a preference run needs beyond its config (`RUN/preference.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreferenceSource {
    /// The fine-tuned checkpoint the weights came from (DPO's reference model).
    pub base_checkpoint: PathBuf,
    /// Preference-pair files, in order.
    pub pairs: Vec<PathBuf>,
    /// The share of pairs held out for evaluation.
    pub val_fraction: f64,
    pub method: Method,
}

/// A new preference run: of `base` (its `checkpoint`, or its newest) into `out`.
#[derive(Clone, Debug)]
pub struct NewPreference {
    pub base: PathBuf,
    pub checkpoint: Option<PathBuf>,
    pub out: PathBuf,
    pub steps: u64,
    pub lr: f32,
    /// Pairs per optimizer step and per micro-batch (a multiple of it).
    pub batch_pairs: usize,
    pub micro_pairs: usize,
    /// Steps between evaluations and checkpoints (0 = at the end only).
    pub eval_every: u64,
    pub seed: Option<u64>,
    pub source: PreferenceSource,
}

/// Which run to train.
pub enum PreferenceStart {
    New(Box<NewPreference>),
    /// An existing run, from its latest checkpoint.
    Resume(PathBuf),
}

/// A run ready to train.
pub struct Prepared {
    pub run: Run,
    pub config: TrainConfig,
    pub tok: Tokenizer,
    pub source: PreferenceSource,
    /// Rendered (training, held-out) pairs, and how many were cut to the context.
    pub pairs: (Vec<PairRows>, Vec<PairRows>),
    pub truncated: usize,
    pub resume: bool,
}

/// Reads, checks and renders the pair files (bad lines go to `skipped` as `FILE:LINE: reason`
/// and are left out; with `strict` the first one is an error) and, for a new run, makes its
/// directory: the base's tokenizer, `dpo.json` and the config.
pub fn prepare(start: PreferenceStart, strict: bool, mut skipped: impl FnMut(&str)) -> Result<Prepared, Error> {
    let (existing, config, source, base) = match start {
        PreferenceStart::Resume(dir) => {
            let run = Run::open(dir)?;
            let source: PreferenceSource = run.read_source(&run.preference_source())?;
            let config = run.read_config()?;
            (Ok(run), config, source, None)
        }
        PreferenceStart::New(a) => {
            let base = Run::open(&a.base)?;
            let checkpoint = base.checkpoint(a.checkpoint.as_deref())?;
            let config = preference_config(base.read_config()?, &a)?;
            let abs = |p: &Path| std::path::absolute(p).map_err(Error::io(p));
            let source = PreferenceSource {
                base_checkpoint: abs(&checkpoint)?,
                pairs: a.source.pairs.iter().map(|p| abs(p)).collect::<Result<_, _>>()?,
                ..a.source.clone()
            };
            (Err(a.out), config, source, Some(base))
        }
    };
    if let Method::Dpo(objective) = source.method {
        objective.check()?;
    }
    if !(0.0..1.0).contains(&source.val_fraction) {
        return Err(Error::Config(format!("a held-out share of {} (it must be in [0, 1))", source.val_fraction)));
    }
    let tok = match (&base, &existing) {
        (Some(base), _) | (None, Ok(base)) => base.load_tokenizer()?,
        (None, Err(_)) => unreachable!("a new run has a base"),
    };
    let ct = ChatTokens::of(&tok)?;
    let (mut rendered, mut truncated) = (Vec::new(), 0);
    for path in &source.pairs {
        let read = preference::read_file(path, strict)?;
        read.problems.iter().for_each(|p| skipped(p));
        if read.skipped > read.problems.len() {
            skipped(&format!("... {} lines skipped in all in {}", read.skipped, path.display()));
        }
        for pair in &read.pairs {
            let (rows, cut) = render_pair(pair, &tok, &ct, config.model.context)
                .map_err(|e| Error::Data(format!("{}: {e}", path.display())))?;
            truncated += usize::from(cut);
            rendered.push(rows);
        }
    }
    let (train, heldout) = split(rendered, source.val_fraction);
    if train.is_empty() {
        return Err(Error::Data("no preference pairs left to learn from".into()));
    }
    // Only now, with the pairs read, is a new run's directory made.
    let run = match existing {
        Ok(run) => run,
        Err(out) => Run::create(&out)?,
    };
    if let Some(base) = &base {
        run.start_from(base, &run.preference_source(), &source, &config)?;
    }
    Ok(Prepared { run, config, tok, source, pairs: (train, heldout), truncated, resume: base.is_none() })
}

/// (training, held out): a pair is held out when the hash of its tokens falls in the first
/// `val_fraction` of the range.
fn split(pairs: Vec<PairRows>, val_fraction: f64) -> (Vec<PairRows>, Vec<PairRows>) {
    pairs.into_iter().partition(|[c, r]| {
        let bytes: Vec<u8> = c.ids.iter().chain(&r.ids).flat_map(|t| t.to_le_bytes()).collect();
        (crc32fast::hash(&bytes) as f64 / u32::MAX as f64) >= val_fraction
    })
}

/// The base run's config with a preference run's optimizer settings: a micro-batch is `micro_pairs` pairs
/// (two rows each), a step `batch_pairs`; warm-up over the first 10% of steps (TRL's examples
/// use 0.1); checkpoints at each evaluation; no samples from fixed prompts.
fn preference_config(mut cfg: TrainConfig, a: &NewPreference) -> Result<TrainConfig, Error> {
    if a.micro_pairs == 0 || a.batch_pairs == 0 || !a.batch_pairs.is_multiple_of(a.micro_pairs) {
        return Err(Error::Config(format!(
            "{} pairs a step do not split into micro-batches of {} pairs",
            a.batch_pairs, a.micro_pairs
        )));
    }
    let t = &mut cfg.train;
    t.restart(a.steps, a.lr, 2 * a.micro_pairs, 2 * a.batch_pairs * cfg.model.context, a.steps / 10);
    if let Some(s) = a.seed {
        t.seed = s;
    }
    (cfg.eval.every, cfg.checkpoint.every, cfg.sample.every) = (a.eval_every, a.eval_every, 0);
    cfg.sample.prompts.clear();
    cfg.data.corpus = a.source.pairs.clone();
    cfg.validate()?;
    Ok(cfg)
}

/// Trains a prepared run: from its base checkpoint on a fresh optimizer, or, when resuming,
/// from the run's own latest checkpoint.
pub fn train(p: Prepared, stop: &AtomicBool, obs: &mut dyn Observer) -> Result<Outcome, Error> {
    let Prepared { run, config: cfg, tok, source, pairs: (train, heldout), truncated, resume } = p;
    cfg.validate()?;
    let tr = &cfg.train;
    let base = &source.base_checkpoint;
    let what = match source.method {
        Method::Dpo(_) => "direct preference optimisation (DPO)",
        Method::RewardModel => "a reward model",
    };
    let trainer::Started { mut net, mut opt, state, last_checkpoint } =
        trainer::from_base(&run, &cfg, tok.n_vocab(), resume, base, what, obs)?;
    obs.message(&format!(
        "{} training pairs, {} held out ({truncated} cut to the context of {})",
        train.len(),
        heldout.len(),
        cfg.model.context
    ));
    // DPO's reference: the starting model's weights only (a checkpoint is a Hugging Face
    // directory), run once over every pair and dropped.
    let reference = match source.method {
        Method::Dpo(_) => Some(Net::load_dir(base)?),
        Method::RewardModel => None,
    };
    let (b, t) = (tr.micro_batch, cfg.model.context);
    let (bos, method) = (tok.bos_id()?, source.method);
    let mut batches = PreferencePairs::new(
        train,
        heldout,
        method,
        reference.as_ref(),
        b,
        t,
        bos,
        tr.seed,
        state.loader,
        cfg.eval.every,
    )?;
    drop(reference);
    let parts = Loop { run: &run, cfg: &cfg, tok: &tok, resume, stop, bos: None };
    parts.run(&mut net, &mut opt, state, last_checkpoint, &mut batches, None, obs)
}
