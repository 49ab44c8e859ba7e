//! Supervised fine-tuning: a pretrained run's weights go on learning from conversations in the
//! chat format, through the same optimizer loop as pretraining (`trainer::Loop`); only the data
//! differs: one conversation per row (`sft_loader`) and weight 1 on the assistant's tokens, 0
//! elsewhere. Conversations go to training or validation by a hash of their tokens, so the
//! split does not depend on file order. Validation is the mean loss (and bits per byte) over
//! the assistant's tokens of the held-out conversations. Pieces of the pretraining run's text
//! can join the training conversations (`text_mix`), so that the model keeps its language.
//!
//! A fine-tuning run is a run directory of its own (`run`), with the base run's config and
//! tokenizer and `sft.json` saying where it started (`SftSource`), so it resumes from its own
//! checkpoints with the same conversations. The conversation files are read before a new run
//! is made, so bad data (with `strict`) leaves nothing behind.

use crate::config::TrainConfig;
use crate::loader::Position;
use crate::run::Run;
use crate::sft_loader::SftLoader;
use crate::trainer::{self, Loop, Observer, Outcome};
use crate::Error;
use minichat_chat::conversation::{render, ChatTokens};
use minichat_model::net::{Net, NetActs};
use minichat_tokenizer::Tokenizer;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Rendered conversations: token ids and the assistant mask.
pub type Rendered = Vec<(Vec<u32>, Vec<u8>)>;

/// Splits rendered conversations into (train, validation): a conversation is held out when
/// the hash of its tokens falls in the first `val_fraction` of the range.
pub fn split(conversations: Rendered, val_fraction: f64) -> (Rendered, Rendered) {
    conversations.into_iter().partition(|(ids, _)| {
        let bytes: Vec<u8> = ids.iter().flat_map(|t| t.to_le_bytes()).collect();
        (crc32fast::hash(&bytes) as f64 / u32::MAX as f64) >= val_fraction
    })
}

/// Mean loss over the assistant's tokens of every validation conversation, and bits per byte
/// of those tokens.
fn evaluate(
    net: &Net,
    acts: &mut NetActs,
    val: &SftLoader,
    tok: &Tokenizer,
    b: usize,
    t: usize,
) -> Result<(f32, f32), Error> {
    let (mut ids, mut targets, mut weights) = (vec![0u32; b * t], vec![0u32; b * t], vec![0f32; b * t]);
    let (mut nats, mut count, mut bytes) = (0.0f64, 0u64, 0.0f64);
    for first in (0..val.len()).step_by(b) {
        for row in 0..b {
            let r = row * t..(row + 1) * t;
            match first + row < val.len() {
                true => val.fill(first + row, &mut ids[r.clone()], &mut targets[r.clone()], &mut weights[r]),
                false => weights[r].fill(0.0),
            }
        }
        net.forward(acts, &ids, &targets)?;
        for ((&lp, &y), &w) in acts.logp().iter().zip(&targets).zip(&weights) {
            if w != 0.0 {
                nats -= lp as f64;
                count += 1;
                bytes += tok.token_bytes(y).map(|s| s.len()).unwrap_or(0) as f64;
            }
        }
    }
    Ok(((nats / count.max(1) as f64) as f32, (nats / (std::f64::consts::LN_2 * bytes.max(1.0))) as f32))
}

/// What a fine-tuning run needs beyond its config (`RUN/sft.json`): where it started and from
/// which conversations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SftSource {
    /// The base run's checkpoint the weights came from.
    pub base_checkpoint: PathBuf,
    /// The conversation files, in order; a file named N times counts N times.
    pub conversations: Vec<PathBuf>,
    pub val_fraction: f64,
    /// Pieces of the pretraining run's text mixed into training (`text_mix`); 0 before they
    /// existed.
    #[serde(default)]
    pub text_pieces: usize,
}

impl SftSource {
    pub fn read(run: &Run) -> Result<SftSource, Error> {
        run.read_source(&run.sft_source())
    }
}

/// A new fine-tuning run: of `base` (its `checkpoint`, or its newest) on `conversations`, into
/// `out`, with the base run's config but these optimizer settings.
#[derive(Clone, Debug)]
pub struct NewSft {
    pub base: PathBuf,
    pub checkpoint: Option<PathBuf>,
    pub conversations: Vec<PathBuf>,
    pub out: PathBuf,
    pub steps: u64,
    pub lr: f32,
    /// Conversations per optimizer step.
    pub micro_batch: usize,
    pub val_fraction: f64,
    /// Pieces of pretraining text (a context each) mixed into the conversations (`text_mix`).
    pub text_pieces: usize,
    /// Steps between validation passes and checkpoints (0 = at the end only).
    pub eval_every: u64,
    pub seed: Option<u64>,
}

/// Which fine-tuning run to train.
pub enum SftStart {
    New(NewSft),
    /// An existing fine-tuning run, from its latest checkpoint.
    Resume(PathBuf),
}

/// A fine-tuning run ready to train.
pub struct Prepared {
    pub run: Run,
    pub config: TrainConfig,
    pub tok: Tokenizer,
    pub source: SftSource,
    /// Rendered (training, validation) conversations; training's end with the text pieces.
    pub data: (Rendered, Rendered),
    pub resume: bool,
}

/// Reads and renders the conversations (bad lines go to `skipped` as `FILE:LINE: reason` and
/// are left out; with `strict` the first one is an error) and, for a new run, makes its
/// directory: the base's tokenizer, `sft.json` and the config.
pub fn prepare(start: SftStart, strict: bool, mut skipped: impl FnMut(&str)) -> Result<Prepared, Error> {
    let (run, config, source, base) = match start {
        SftStart::Resume(dir) => {
            let run = Run::open(dir)?;
            let source = SftSource::read(&run)?;
            (run.clone(), run.read_config()?, source, None)
        }
        SftStart::New(a) => {
            let base = Run::open(&a.base)?;
            let run = Run::create(&a.out)?;
            let checkpoint = base.checkpoint(a.checkpoint.as_deref())?;
            let config = sft_config(base.read_config()?, &a, &run)?;
            let abs = |p: &Path| std::path::absolute(p).map_err(Error::io(p));
            let source = SftSource {
                base_checkpoint: abs(&checkpoint)?,
                conversations: a.conversations.iter().map(|p| abs(p)).collect::<Result<_, _>>()?,
                val_fraction: a.val_fraction,
                text_pieces: a.text_pieces,
            };
            (run, config, source, Some(base))
        }
    };
    let tok = base.as_ref().unwrap_or(&run).load_tokenizer()?;
    let ct = ChatTokens::of(&tok)?;
    // A file named N times (a mixture's weight) is read and rendered once, and counts N times.
    let mut read: std::collections::HashMap<&Path, (Rendered, Vec<String>)> = Default::default();
    let mut rendered = Vec::new();
    for path in &source.conversations {
        if !read.contains_key(path.as_path()) {
            read.insert(path, read_conversations(path, &tok, &ct, strict)?);
        }
        let (conversations, problems) = &read[path.as_path()];
        problems.iter().for_each(|p| skipped(p));
        rendered.extend(conversations.iter().cloned());
    }
    // From the base run (a new run's sft.json is not written yet: bad data leaves no run).
    let text = crate::text_mix::pieces(base.as_ref().unwrap_or(&run), &tok, source.text_pieces, config.model.context)?;
    if let Some(base) = &base {
        run.start_from(base, &run.sft_source(), &source, &config)?;
    }
    let (mut train, val) = split(rendered, source.val_fraction);
    train.extend(text);
    let data = (train, val);
    Ok(Prepared { run, config, tok, source, data, resume: base.is_none() })
}

/// The rendered conversations of one file, and its bad lines as `FILE:LINE: reason` (with a
/// total when there are more than are listed).
fn read_conversations(
    path: &Path,
    tok: &Tokenizer,
    ct: &ChatTokens,
    strict: bool,
) -> Result<(Rendered, Vec<String>), Error> {
    let minichat_chat::dataset::Read { conversations, skipped, mut problems } =
        minichat_chat::dataset::read_file(path, strict)?;
    if skipped > problems.len() {
        problems.push(format!("... {skipped} lines skipped in all in {}", path.display()));
    }
    let rendered = conversations.iter().map(|c| render(c, tok, ct)).collect::<Result<_, _>>()?;
    Ok((rendered, problems))
}

/// The base run's config with fine-tuning's optimizer settings: no samples, checkpoints at
/// each evaluation, warm-up over the first 5% of steps.
fn sft_config(mut cfg: TrainConfig, a: &NewSft, run: &Run) -> Result<TrainConfig, Error> {
    let t = &mut cfg.train;
    t.restart(a.steps, a.lr, a.micro_batch, a.micro_batch * cfg.model.context, (a.steps / 20).max(1));
    if let Some(s) = a.seed {
        t.seed = s;
    }
    (cfg.eval.every, cfg.checkpoint.every, cfg.sample.every) = (a.eval_every, a.eval_every, 0);
    cfg.sample.prompts.clear();
    cfg.data.corpus = a.conversations.clone();
    cfg.data.tokenizer = run.tokenizer().display().to_string();
    cfg.validate()?;
    Ok(cfg)
}

/// Fine-tunes a prepared run: from its base checkpoint on a fresh optimizer, or, when
/// resuming, from the run's own latest checkpoint.
pub fn train(p: Prepared, stop: &AtomicBool, obs: &mut dyn Observer) -> Result<Outcome, Error> {
    let Prepared { run, config: cfg, tok, source, data, resume } = p;
    cfg.validate()?;
    let (t, b) = (cfg.model.context, cfg.train.micro_batch);
    let tr = &cfg.train;
    let trainer::Started { mut net, mut opt, state, last_checkpoint } =
        trainer::from_base(&run, &cfg, tok.n_vocab(), resume, &source.base_checkpoint, "fine-tuning", obs)?;
    let pad = tok.bos_id()?;
    let (train, val) = data;
    let mut loader = SftLoader::new(train, t, b, tr.seed, pad, state.loader)?;
    let val = SftLoader::new(val, t, b, tr.seed, pad, Position::default())?;
    let text = match source.text_pieces {
        0 => String::new(),
        n => format!(", and {n} pieces of pretraining text"),
    };
    obs.message(&format!(
        "{} training conversations ({} cut to the context of {t}), {} for validation{text}",
        loader.len() - source.text_pieces,
        loader.truncated,
        val.len()
    ));
    let mut validate = |net: &Net, acts: &mut NetActs| evaluate(net, acts, &val, &tok, b, t);
    let parts = Loop { run: &run, cfg: &cfg, tok: &tok, resume, stop, bos: None };
    parts.run(&mut net, &mut opt, state, last_checkpoint, &mut loader, Some(&mut validate), obs)
}
