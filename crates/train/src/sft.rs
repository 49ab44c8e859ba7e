//! Supervised fine-tuning: a pretrained run's weights go on learning from conversations in the
//! chat format, through the same optimizer loop as pretraining (`trainer::Loop`); only the data
//! differs: one conversation per row (`sft_loader`) and weight 1 on the assistant's tokens, 0
//! elsewhere. Conversations go to training or validation by a hash of their tokens, so the
//! split does not depend on file order. Validation is the mean loss (and bits per byte) over
//! the assistant's tokens of the held-out conversations.

use crate::checkpoint::{self, TrainerState};
use crate::config::TrainConfig;
use crate::loader::Position;
use crate::run::Run;
use crate::sft_loader::SftLoader;
use crate::trainer::{Loop, Observer, Outcome};
use crate::Error;
use minichat_model::adamw::AdamW;
use minichat_model::net::{Net, NetActs};
use minichat_tokenizer::Tokenizer;
use std::path::Path;
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

/// Fine-tunes: from `base` (a checkpoint of the pretrained run) on a fresh optimizer, or, with
/// `resume`, from the run's own latest checkpoint.
#[allow(clippy::too_many_arguments)]
pub fn train(
    run: &Run,
    cfg: &TrainConfig,
    tok: &Tokenizer,
    base: &Path,
    data: (Rendered, Rendered),
    resume: bool,
    stop: &AtomicBool,
    obs: &mut dyn Observer,
) -> Result<Outcome, Error> {
    cfg.validate()?;
    let (t, b) = (cfg.model.context, cfg.train.micro_batch);
    let mut net = Net::new(cfg.model_config(tok.n_vocab())?)?;
    let tr = &cfg.train;
    let fresh_opt = |n| AdamW::new(n, tr.lr, (tr.beta1, tr.beta2), tr.eps, tr.weight_decay);
    let mut opt = fresh_opt(net.weights().len());
    let (state, last_ckpt) = match (resume, checkpoint::latest(&run.checkpoints())?) {
        (true, Some(path)) => {
            let state = checkpoint::load(&path, &mut net, &mut opt)?;
            obs.message(&format!("resuming from {} (step {})", path.display(), state.step));
            (state, Some(path))
        }
        (true, None) => {
            return Err(Error::Data(format!("{}: no checkpoint to resume from", run.checkpoints().display())))
        }
        (false, _) => {
            // The base run's weights; its optimizer moments and step are not carried over.
            checkpoint::load(base, &mut net, &mut opt)?;
            opt = fresh_opt(net.weights().len());
            obs.message(&format!("fine-tuning from {}", base.display()));
            let fresh = TrainerState {
                step: 0,
                loader: Position::default(),
                tokens_seen: 0,
                train_seconds: 0.0,
                last_val_loss: None,
                checksums: Default::default(),
            };
            (fresh, None)
        }
    };
    let pad = crate::tokenize::bos_id(tok)?;
    let (train, val) = data;
    let mut loader = SftLoader::new(train, t, b, tr.seed, pad, state.loader)?;
    let val = SftLoader::new(val, t, b, tr.seed, pad, Position::default())?;
    obs.message(&format!(
        "{} training conversations ({} cut to the context of {t}), {} for validation",
        loader.len(),
        loader.truncated,
        val.len()
    ));
    let mut batches = |ids: &mut [u32], targets: &mut [u32], weights: &mut [f32]| {
        let row = loader.next_batch(ids, targets, weights);
        (loader.position, row)
    };
    let mut validate = |net: &Net, acts: &mut NetActs| evaluate(net, acts, &val, tok, b, t);
    let parts = Loop { run, cfg, tok, resume, stop, bos: None };
    parts.run(&mut net, &mut opt, state, last_ckpt, &mut batches, &mut validate, obs)
}
