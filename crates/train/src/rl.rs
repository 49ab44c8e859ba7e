//! Reinforcement learning on tasks with checkable answers: a fine-tuned run's weights go on
//! learning from their own replies, scored by the task's checker, through the same optimizer
//! loop as pretraining and fine-tuning (`trainer::Loop`); only the data and the per-token
//! coefficients differ (`rl_loader::Grpo`: rollouts with the tools running, GRPO's objective).
//! Held-out questions (the tasks' test files) are asked before training and at each
//! evaluation: pass@1 greedily as the exam asks, pass@k sampled (`Record::Heldout`).
//!
//! A reinforcement-learning run is a run directory of its own (`run`), with the base run's
//! config and tokenizer and `rl.json` saying where it started, on which tasks and with which
//! settings (`RlSource`), so it resumes from its own checkpoints and samples the same replies.
//! The task files are read and checked before a new run is made, so bad data leaves nothing.

use crate::config::TrainConfig;
use crate::grpo::{LossType, Objective, ScaleRewards};
use crate::rl_loader::{Grpo, Heldout, Settings, Task};
use crate::rollout::Sampling;
use crate::run::Run;
use crate::trainer::{self, Loop, Observer, Outcome};
use crate::Error;
use minichat_chat::conversation::ChatTokens;
use minichat_chat::sampler::SamplerConfig;
use minichat_chat::tasks::file::questions;
use minichat_chat::tools::Tools;
use minichat_model::net::Net;
use minichat_tokenizer::Tokenizer;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// What a reinforcement-learning run needs beyond its config (`RUN/rl.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RlSource {
    /// The fine-tuned checkpoint the weights came from (and the KL penalty's reference).
    pub base_checkpoint: PathBuf,
    /// Task files to learn from (`tasks make`'s `TASK-train.jsonl`), and held-out ones to ask
    /// (`TASK-test.jsonl`), at most `heldout_questions` of each.
    pub tasks: Vec<PathBuf>,
    pub heldout: Vec<PathBuf>,
    pub heldout_questions: usize,
    /// Prompts per step, replies per prompt, tokens the model may draw per reply, and the
    /// sampling temperature.
    pub prompts: usize,
    pub group: usize,
    pub max_tokens: usize,
    pub temperature: f32,
    pub objective: Objective,
    pub scale: ScaleRewards,
    /// Added to a reply's reward when its calculator call is made of the question's numbers.
    #[serde(default)]
    pub format_reward: f32,
    /// RLHF: a reward model's checkpoint whose score is the reward (the checker's verdict is
    /// then logged as the gold reward). Given as the reward model's run; kept as its checkpoint.
    #[serde(default)]
    pub reward_model: Option<PathBuf>,
}

impl RlSource {
    pub fn read(run: &Run) -> Result<RlSource, Error> {
        run.read_source(&run.rl_source())
    }
}

/// A new reinforcement-learning run: of `base` (its `checkpoint`, or its newest) into `out`.
#[derive(Clone, Debug)]
pub struct NewRl {
    pub base: PathBuf,
    pub checkpoint: Option<PathBuf>,
    pub out: PathBuf,
    pub steps: u64,
    pub lr: f32,
    /// Replies per micro-batch (a step's `prompts × group` replies must fill whole ones).
    pub micro_batch: usize,
    /// Steps between evaluations and checkpoints (0 = at the end only).
    pub eval_every: u64,
    pub seed: Option<u64>,
    pub source: RlSource,
}

/// Which run to train.
pub enum RlStart {
    New(Box<NewRl>),
    /// An existing run, from its latest checkpoint.
    Resume(PathBuf),
}

/// A run ready to train.
pub struct Prepared {
    pub run: Run,
    pub config: TrainConfig,
    pub tok: Tokenizer,
    pub source: RlSource,
    pub tasks: Vec<Task>,
    pub heldout: Vec<Heldout>,
    pub resume: bool,
}

/// Reads and checks the task files and, for a new run, makes its directory: the base's
/// tokenizer, `rl.json` and the config.
pub fn prepare(start: RlStart) -> Result<Prepared, Error> {
    let (existing, config, source, base) = match start {
        RlStart::Resume(dir) => {
            let run = Run::open(dir)?;
            let source = RlSource::read(&run)?;
            let config = run.read_config()?;
            (Ok(run), config, source, None)
        }
        RlStart::New(a) => {
            let base = Run::open(&a.base)?;
            let checkpoint = base.checkpoint(a.checkpoint.as_deref())?;
            let config = rl_config(base.read_config()?, &a)?;
            let abs = |p: &Path| std::path::absolute(p).map_err(Error::io(p));
            let all = |v: &[PathBuf]| v.iter().map(|p| abs(p)).collect::<Result<Vec<_>, _>>();
            let reward_model = match &a.source.reward_model {
                Some(dir) => Some(abs(&reward_model_checkpoint(&base, dir)?)?),
                None => None,
            };
            let source = RlSource {
                base_checkpoint: abs(&checkpoint)?,
                tasks: all(&a.source.tasks)?,
                heldout: all(&a.source.heldout)?,
                reward_model,
                ..a.source.clone()
            };
            (Err(a.out), config, source, Some(base))
        }
    };
    if source.reward_model.is_some() && source.format_reward != 0.0 {
        return Err(Error::Config(
            "a format reward and a reward model: the reward model's score is the whole reward".into(),
        ));
    }
    let tok = match (&base, &existing) {
        (Some(base), _) | (None, Ok(base)) => base.load_tokenizer()?,
        (None, Err(_)) => unreachable!("a new run has a base"),
    };
    let block = config.model.context;
    let tasks: Vec<Task> =
        source.tasks.iter().map(|p| read_tasks(p, usize::MAX, &tok, block)).collect::<Result<Vec<_>, _>>()?.concat();
    let heldout = source
        .heldout
        .iter()
        .map(|p| {
            let name =
                p.file_stem().map(|s| s.to_string_lossy().trim_end_matches("-test").to_string()).unwrap_or_default();
            Ok(Heldout { task: name, questions: read_tasks(p, source.heldout_questions, &tok, block)? })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    // Only now, with the tasks read, is a new run's directory made.
    let run = match existing {
        Ok(run) => run,
        Err(out) => Run::create(&out)?,
    };
    if let Some(base) = &base {
        run.start_from(base, &run.rl_source(), &source, &config)?;
    }
    Ok(Prepared { run, config, tok, source, tasks, heldout, resume: base.is_none() })
}

/// The newest checkpoint of the reward model's run at `dir`, which must read `base`'s tokenizer.
fn reward_model_checkpoint(base: &Run, dir: &Path) -> Result<PathBuf, Error> {
    let rm = Run::open(dir)?;
    let same = |r: &Run| std::fs::read(r.tokenizer()).map_err(Error::io(&r.tokenizer()));
    if same(&rm)? != same(base)? {
        return Err(Error::Data(format!(
            "the reward model {} reads another tokenizer than {} ({} and {} differ)",
            dir.display(),
            base.dir.display(),
            rm.tokenizer().display(),
            base.tokenizer().display()
        )));
    }
    rm.checkpoint(None)
}

/// The first `limit` questions of a task file, rendered for the assistant's reply; a question
/// that leaves no room for a reply in the context is an error naming it.
fn read_tasks(path: &Path, limit: usize, tok: &Tokenizer, block: usize) -> Result<Vec<Task>, Error> {
    let ct = ChatTokens::of(tok)?;
    let mut out = Vec::new();
    for (i, q) in questions(path, limit)?.iter().enumerate() {
        let task = Task::of(q, tok, &ct)?;
        if task.prompt.len() + 1 >= block {
            return Err(Error::Data(format!(
                "{}: question {}: {} tokens leave no room for a reply in the context of {block}",
                path.display(),
                i + 1,
                task.prompt.len()
            )));
        }
        out.push(task);
    }
    if out.is_empty() {
        return Err(Error::Data(format!("{}: no questions", path.display())));
    }
    Ok(out)
}

/// The base run's config with reinforcement learning's optimizer settings: a step is one
/// round of `prompts × group` replies in micro-batches of `micro_batch`; checkpoints at each
/// evaluation; no samples from fixed prompts (the rollouts are the samples).
fn rl_config(mut cfg: TrainConfig, a: &NewRl) -> Result<TrainConfig, Error> {
    let replies = a.source.prompts * a.source.group;
    let t = &mut cfg.train;
    t.restart(a.steps, a.lr, a.micro_batch, replies * cfg.model.context, 0);
    if let Some(s) = a.seed {
        t.seed = s;
    }
    (cfg.eval.every, cfg.checkpoint.every, cfg.sample.every) = (a.eval_every, a.eval_every, 0);
    cfg.sample.prompts.clear();
    cfg.data.corpus = a.source.tasks.clone();
    cfg.validate()?;
    Ok(cfg)
}

/// Trains a prepared run: from its base checkpoint on a fresh optimizer, or, when resuming,
/// from the run's own latest checkpoint.
pub fn train(p: Prepared, stop: &AtomicBool, obs: &mut dyn Observer) -> Result<Outcome, Error> {
    let Prepared { run, config: cfg, tok, source, tasks, heldout, resume } = p;
    cfg.validate()?;
    let tr = &cfg.train;
    let base = &source.base_checkpoint;
    let trainer::Started { mut net, mut opt, state, last_checkpoint } =
        trainer::from_base(&run, &cfg, tok.n_vocab(), resume, base, "reinforcement learning", obs)?;
    // The starting model, for the KL penalty (or, in RLHF, to measure the KL that reward
    // hacking is plotted against): its weights only (a checkpoint is a Hugging Face directory),
    // not its optimizer moments.
    let rlhf = source.reward_model.is_some();
    let reference = if source.objective.beta > 0.0 || rlhf { Some(Net::load_dir(base)?) } else { None };
    let tools = Tools { search: None };
    let settings = Settings {
        sampling: Sampling {
            sampler: SamplerConfig { temperature: source.temperature, ..Default::default() },
            group: source.group,
            max_tokens: source.max_tokens,
            seed: tr.seed,
        },
        prompts: source.prompts,
        objective: source.objective,
        scale: source.scale,
        format_reward: source.format_reward,
        eval_every: cfg.eval.every,
    };
    obs.message(&format!(
        "{} tasks; each step {} prompts x {} replies of up to {} tokens",
        tasks.len(),
        source.prompts,
        source.group,
        source.max_tokens
    ));
    let (b, t) = (tr.micro_batch, cfg.model.context);
    let mut batches =
        Grpo::new(tasks, &tok, &tools, settings, reference, b, t, state.loader)?.with_heldout(heldout, !resume);
    if let Some(rm) = &source.reward_model {
        obs.message(&format!("rewards from the reward model {} (the checker's are the gold score)", rm.display()));
        batches = batches.with_reward_model(Net::load_dir(rm)?)?;
    }
    let parts = Loop { run: &run, cfg: &cfg, tok: &tok, resume, stop, bos: None };
    parts.run(&mut net, &mut opt, state, last_checkpoint, &mut batches, None, obs)
}

/// The objective by TRL's names: `loss` one of grpo, dr_grpo (over `max_tokens`), dapo.
pub fn loss_type(name: &str, max_tokens: usize) -> Result<LossType, Error> {
    match name {
        "grpo" => Ok(LossType::Grpo),
        "dr_grpo" => Ok(LossType::DrGrpo { max_completion: max_tokens }),
        "dapo" => Ok(LossType::Dapo),
        other => Err(Error::Config(format!("loss {other:?}: one of grpo, dr_grpo, dapo"))),
    }
}

/// Reward scaling by TRL's names: group, batch, none.
pub fn scale_rewards(name: &str) -> Result<ScaleRewards, Error> {
    match name {
        "group" => Ok(ScaleRewards::Group),
        "batch" => Ok(ScaleRewards::Batch),
        "none" => Ok(ScaleRewards::None),
        other => Err(Error::Config(format!("scale-rewards {other:?}: one of group, batch, none"))),
    }
}
