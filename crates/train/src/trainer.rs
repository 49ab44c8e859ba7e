//! The training loop every stage shares (`Loop`): pretraining (`pretrain`), fine-tuning
//! (`sft`) and, to come, reinforcement learning differ only in their data source (`Batches`).
//! One optimizer step: zero the gradients; for each micro-batch the source fills
//! `micro_batch` rows of up to `context` tokens (it picks the row length) with their per-token
//! weights (1 everywhere for pretraining; the assistant mask for fine-tuning; advantages for
//! GRPO), seeing the model as it is now (so it can sample rollouts from it); forward, take the
//! weighted mean next-token loss (`loss::weighted_nll`) and backward with its gradient scaled
//! by 1/accumulation; clip the global gradient norm; the optimizer (AdamW, or Muon with AdamW)
//! at the scheduled learning rate.
//! Around it: validation loss and bits per byte, samples from fixed prompts (through
//! `minichat-chat`'s generation engine), the metrics log and checkpoints at intervals, and a
//! clean stop (checkpoint first) when `stop` is raised (Ctrl-C).
//!
//! Everything that decides the numbers (weights, optimizer moments, step, loader position) is
//! in the checkpoint and the kernels are deterministic for a given thread count, so a resumed
//! run continues bit for bit.

use crate::checkpoint::{self, TrainerState};
use crate::config::TrainConfig;
use crate::loader::Position;
use crate::metrics::{Log, Record};
use crate::run::Run;
use crate::Error;
use minichat_chat::generate::{generate, GenerateConfig};
use minichat_chat::sampler::SamplerConfig;
use minichat_model::adamw::clip_grad_norm;
use minichat_model::cpu::cross_entropy::IGNORE;
use minichat_model::cpu::peak::fma_peak_gflops;
use minichat_model::net::{Net, NetActs};
use minichat_model::optimizer::Optimizer;
use minichat_model::{loss, params};
use minichat_tokenizer::Tokenizer;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What the loop reports as it goes (the CLI draws a progress bar from it).
pub trait Observer {
    /// Training starts (or resumes) at `step` of `total`.
    fn start(&mut self, step: u64, total: u64, parameters: usize);
    fn record(&mut self, record: &Record);
    fn message(&mut self, text: &str);
}

/// How a call to `train` ended.
#[derive(Debug)]
pub struct Outcome {
    pub step: u64,
    /// Stopped early by `stop`, after saving.
    pub interrupted: bool,
    pub checkpoint: PathBuf,
    /// (loss, bits per byte) of the last evaluation.
    pub val: Option<(f32, f32)>,
}

/// Where training starts: with `resume`, the run's latest checkpoint (weights, optimizer
/// moments, step and data position); else, or when a run was stopped before its first
/// checkpoint (killed), step 0, after `fresh` has set the weights (an initialisation, or a base
/// model's). Returns the state and the checkpoint resumed from.
pub fn start(
    run: &Run,
    resume: bool,
    net: &mut Net,
    opt: &mut Optimizer,
    obs: &mut dyn Observer,
    fresh: impl FnOnce(&mut Net, &mut dyn Observer) -> Result<(), Error>,
) -> Result<(TrainerState, Option<PathBuf>), Error> {
    match (resume, run.latest_checkpoint()?) {
        (true, Some(path)) => {
            let state = checkpoint::load(&path, net, opt)?;
            obs.message(&format!("resuming from {} (step {})", path.display(), state.step));
            Ok((state, Some(path)))
        }
        (true, None) => {
            obs.message(&format!("{}: no checkpoint yet; starting from step 0", run.checkpoints().display()));
            fresh(net, obs)?;
            Ok((TrainerState::default(), None))
        }
        (false, _) => {
            fresh(net, obs)?;
            Ok((TrainerState::default(), None))
        }
    }
}

/// Activations kept by row length, for a model run on rows of a few lengths.
pub type ActsByLength = Vec<(usize, NetActs)>;

/// `net`'s activations for `b` rows of `t` tokens from `cache`, made on first use.
pub fn acts_for<'c>(cache: &'c mut ActsByLength, net: &Net, b: usize, t: usize) -> Result<&'c mut NetActs, Error> {
    let i = match cache.iter().position(|(r, _)| *r == t) {
        Some(i) => i,
        None => {
            cache.push((t, net.acts(b, t)?));
            cache.len() - 1
        }
    };
    Ok(&mut cache[i].1)
}

/// A model and optimizer ready for the loop, and where they start.
pub struct Started {
    pub net: Net,
    pub opt: Optimizer,
    pub state: TrainerState,
    pub last_checkpoint: Option<PathBuf>,
}

/// A stage that goes on from another run's checkpoint (fine-tuning, reinforcement learning,
/// preferences): the model of `cfg` with `base`'s weights on a fresh optimizer (not its moments
/// or step, whatever optimizer it had), or, when resuming, the run's own latest checkpoint. `what` names the stage in the
/// message ("fine-tuning").
pub fn from_base(
    run: &Run,
    cfg: &TrainConfig,
    n_vocab: usize,
    resume: bool,
    base: &std::path::Path,
    what: &str,
    obs: &mut dyn Observer,
) -> Result<Started, Error> {
    let mut net = Net::new(cfg.model_config(n_vocab)?)?;
    let mut opt = cfg.optimizer(&net);
    let (state, last_checkpoint) = start(run, resume, &mut net, &mut opt, obs, |net, obs| {
        checkpoint::load_weights(base, net)?;
        obs.message(&format!("{what} from {}", base.display()));
        Ok(())
    })?;
    Ok(Started { net, opt, state, last_checkpoint })
}

/// A source of micro-batches: fills `micro_batch × t` ids, targets and weights (buffers of
/// `micro_batch × context`, rows `t` apart) for a row length `t` of its choosing, at most the
/// context, and returns `t`. It sees the model being trained, as it is at this step.
pub trait Batches {
    fn next(&mut self, net: &Net, ids: &mut [u32], targets: &mut [u32], weights: &mut [f32]) -> Result<usize, Error>;
    /// Where the source is, saved with each checkpoint (and handed back on resume).
    fn position(&self) -> Position;
    /// The last micro-batch's loss from its targets' log-probabilities, with the loss's
    /// gradient with respect to each written to `dlogp`: by default the weighted mean
    /// next-token loss (`loss::weighted_nll`). A source whose per-token coefficients depend on
    /// the log-probabilities themselves (GRPO's clipped ratio) computes its own.
    fn loss(&mut self, logp: &[f32], weights: &[f32], dlogp: &mut [f32], step: u64) -> Result<f32, Error> {
        loss::weighted_nll(logp, weights, dlogp, step).map_err(|e| Error::Data(e.to_string()))
    }
    /// What the source has to add to the metrics log after optimizer step `step` (of
    /// `steps`), with the model as that step left it.
    fn records(&mut self, _net: &Net, _step: u64, _steps: u64) -> Result<Vec<Record>, Error> {
        Ok(Vec::new())
    }
}

/// The optimizer loop every stage shares, around its data: `batches` fills each micro-batch of
/// inputs, targets and per-token weights; `validate` gives (loss, bits per byte) (None: the
/// source measures the model itself, in its `records`).
pub struct Loop<'a> {
    pub run: &'a Run,
    pub cfg: &'a TrainConfig,
    pub tok: &'a Tokenizer,
    pub resume: bool,
    pub stop: &'a AtomicBool,
    /// Draw samples from `cfg.sample.prompts` after this document token (None: no samples).
    pub bos: Option<u32>,
}

/// The validation pass: (loss, bits per byte).
pub type Validate<'a> = dyn FnMut(&Net, &mut NetActs) -> Result<(f32, f32), Error> + 'a;

impl Loop<'_> {
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        net: &mut Net,
        opt: &mut Optimizer,
        mut state: TrainerState,
        mut last_ckpt: Option<PathBuf>,
        batches: &mut dyn Batches,
        mut validate: Option<&mut Validate>,
        obs: &mut dyn Observer,
    ) -> Result<Outcome, Error> {
        let (run, cfg, tok, tr) = (self.run, self.cfg, self.tok, &self.cfg.train);
        let (t, b, accum) = (cfg.model.context, tr.micro_batch, cfg.accumulation()?);
        let decayed = params::decayed_ranges(net.params());
        let n_params = net.weights().len();
        let mut log = Log::open(&run.metrics(), self.resume.then_some(state.step))?;
        if self.resume {
            // What a run killed while saving or pruning left.
            checkpoint::prune(&run.checkpoints(), cfg.checkpoint.keep)?;
        }
        let peak = if tr.peak_gflops > 0.0 {
            tr.peak_gflops
        } else {
            fma_peak_gflops(Duration::from_millis(200)).unwrap_or(f64::NAN)
        };
        // Per row length: activations and FLOPs per token. The full context's come first (for
        // validation); each shorter length the data asks for is added when first needed.
        let mut by_row: Vec<(usize, NetActs, f64)> = vec![(t, net.acts(b, t)?, net.flops_per_token(t))];
        let (mut ids, mut targets) = (vec![0u32; b * t], vec![0u32; b * t]);
        let (mut weights, mut dlogp) = (vec![1.0f32; b * t], vec![0.0f32; b * t]);
        let schedule = cfg.schedule();
        let mut val = None;
        obs.start(state.step, tr.steps, n_params);
        while state.step < tr.steps {
            if self.stop.load(Ordering::SeqCst) {
                let path = checkpoint::save(&run.checkpoints(), net, opt, &state, cfg.checkpoint.keep)?;
                obs.message(&format!("stopped at step {}: saved {}", state.step, path.display()));
                return Ok(Outcome { step: state.step, interrupted: true, checkpoint: path, val });
            }
            let started = Instant::now();
            let step = state.step + 1;
            let last_good = || last_ckpt.as_ref().map_or("none yet".to_string(), |p: &PathBuf| p.display().to_string());
            net.buffers().1.fill(0.0);
            let (mut loss_sum, mut tokens, mut flops) = (0.0f32, 0usize, 0.0f64);
            let mut data_seconds = 0.0;
            for _ in 0..accum {
                let fetched = Instant::now();
                let row = batches.next(net, &mut ids, &mut targets, &mut weights)?;
                data_seconds += fetched.elapsed().as_secs_f64();
                state.loader = batches.position();
                if row == 0 || row > t {
                    return Err(Error::Data(format!("a batch of rows of {row} tokens (the context is {t})")));
                }
                let i = match by_row.iter().position(|(r, _, _)| *r == row) {
                    Some(i) => i,
                    None => {
                        by_row.push((row, net.acts(b, row)?, net.flops_per_token(row)));
                        by_row.len() - 1
                    }
                };
                let (_, acts, flops_per_token) = &mut by_row[i];
                let n = b * row;
                let (ids, targets, dlogp) = (&ids[..n], &targets[..n], &mut dlogp[..n]);
                net.forward(acts, ids, targets)?;
                let loss = batches
                    .loss(acts.logp(), &weights[..n], dlogp, step)
                    .map_err(|e| Error::Data(format!("{e}; the last good checkpoint is {}", last_good())))?;
                dlogp.iter_mut().for_each(|d| *d /= accum as f32);
                net.backward(acts, ids, targets, dlogp);
                loss_sum += loss;
                tokens += n;
                let skipped = n - acts.head_rows();
                flops += n as f64 * *flops_per_token - skipped as f64 * net.head_flops_per_token();
            }
            let (weights_buf, grads) = net.buffers();
            let grad_norm = if tr.grad_clip > 0.0 {
                clip_grad_norm(grads, tr.grad_clip)
            } else {
                clip_grad_norm(grads, f32::INFINITY)
            };
            if !grad_norm.is_finite() {
                return Err(Error::Data(format!(
                    "step {step}: gradient norm is {grad_norm}; the last good checkpoint is {}",
                    last_good()
                )));
            }
            opt.set_lr_frac(schedule.lr(state.step) / schedule.peak);
            opt.update(weights_buf, grads, &decayed);
            let seconds = started.elapsed().as_secs_f64();
            state.step = step;
            state.tokens_seen += tokens as u64;
            state.train_seconds += seconds;
            let tokens_per_s = tokens as f64 / seconds;
            let record = Record::Step {
                step,
                loss: loss_sum / accum as f32,
                lr: opt.adamw.lr,
                grad_norm,
                tokens_per_s,
                // The model's own work: RL's rollouts would otherwise count as training time
                // and make the utilisation read as if sampling ran at the training peak.
                mfu: flops / (seconds - data_seconds).max(1e-9) / (peak * 1e9),
                tokens: state.tokens_seen,
                seconds: state.train_seconds,
                data_seconds,
            };
            log.write(&record)?;
            obs.record(&record);
            for record in batches.records(net, step, tr.steps)? {
                log.write(&record)?;
                obs.record(&record);
            }
            let due = |every: u64| (every > 0 && step.is_multiple_of(every)) || step == tr.steps;
            if let Some(validate) = validate.as_mut().filter(|_| due(cfg.eval.every)) {
                let (val_loss, val_bpb) = validate(net, &mut by_row[0].1)?;
                state.last_val_loss = Some(val_loss);
                val = Some((val_loss, val_bpb));
                let record = Record::Eval { step, val_loss, val_bpb };
                log.write(&record)?;
                obs.record(&record);
            }
            if let Some(bos) = self.bos.filter(|_| due(cfg.sample.every)) {
                for prompt in &cfg.sample.prompts {
                    let record = samples(net, tok, bos, prompt, cfg, step)?;
                    log.write(&record)?;
                    obs.record(&record);
                }
            }
            if due(cfg.checkpoint.every) {
                last_ckpt = Some(checkpoint::save(&run.checkpoints(), net, opt, &state, cfg.checkpoint.keep)?);
            }
        }
        let checkpoint = match last_ckpt {
            Some(p) => p,
            None => checkpoint::save(&run.checkpoints(), net, opt, &state, cfg.checkpoint.keep)?,
        };
        Ok(Outcome { step: state.step, interrupted: false, checkpoint, val })
    }
}

/// Mean loss (nats/token) and bits per byte over up to `max_tokens` validation tokens, in
/// order. Targets that are special tokens (document separators) are left out of both, as
/// nanochat's `evaluate_bpb` does: bpb = nats / (ln 2 × UTF-8 bytes of the target tokens).
pub fn evaluate(
    net: &Net,
    acts: &mut NetActs,
    val: &[u32],
    tok: &Tokenizer,
    max_tokens: usize,
) -> Result<(f32, f32), Error> {
    let (b, t) = (acts_shape(acts).0, net.config().block_size.min(acts_shape(acts).1));
    let windows = ((val.len() - 1) / t).min((max_tokens / t).max(1));
    let token_bytes = |id: u32| tok.token_bytes(id).map(|s| s.len()).unwrap_or(0) as f64;
    let special: std::collections::HashSet<u32> = tok.special_tokens().iter().into_iter().map(|(_, id)| id).collect();
    let (mut ids, mut targets) = (vec![0u32; b * t], vec![IGNORE; b * t]);
    let (mut nats, mut count, mut bytes) = (0.0f64, 0u64, 0.0f64);
    for first in (0..windows).step_by(b) {
        ids.fill(0);
        targets.fill(IGNORE);
        for (row, w) in (first..windows.min(first + b)).enumerate() {
            ids[row * t..(row + 1) * t].copy_from_slice(&val[w * t..w * t + t]);
            for (dst, &y) in targets[row * t..(row + 1) * t].iter_mut().zip(&val[w * t + 1..w * t + t + 1]) {
                if !special.contains(&y) {
                    *dst = y;
                }
            }
        }
        net.forward(acts, &ids, &targets)?;
        for (&lp, &y) in acts.logp().iter().zip(&targets) {
            if y != IGNORE {
                nats -= lp as f64;
                count += 1;
                bytes += token_bytes(y);
            }
        }
    }
    let loss = (nats / count.max(1) as f64) as f32;
    let bpb = (nats / (std::f64::consts::LN_2 * bytes.max(1.0))) as f32;
    Ok((loss, bpb))
}

fn acts_shape(acts: &NetActs) -> (usize, usize) {
    match acts {
        NetActs::Gpt(a) => (a.b, a.t),
        NetActs::Llama(a) => (a.b, a.t),
    }
}

/// A prompt continued greedily and at the configured temperature (seeded by the step).
fn samples(net: &Net, tok: &Tokenizer, bos: u32, prompt: &str, cfg: &TrainConfig, step: u64) -> Result<Record, Error> {
    let mut ids = vec![bos];
    ids.extend(tok.encode_ordinary(prompt));
    let s = &cfg.sample;
    let text = |out: Vec<u32>| String::from_utf8_lossy(&tok.decode_bytes(&out).unwrap_or_default()).into_owned();
    // The inference stage's engine: stop at the next document, the length, or the context.
    let gen =
        GenerateConfig { max_new_tokens: s.max_tokens, stop_tokens: vec![bos], samples: 1, show: 0, slide: false };
    let run = |sampler: SamplerConfig| -> Result<Vec<u32>, Error> {
        Ok(generate(net, &ids, &sampler, &gen, None, &mut |_, _, _| {})?.remove(0).tokens)
    };
    let greedy = run(SamplerConfig { temperature: 0.0, ..Default::default() })?;
    let sampled = run(SamplerConfig { temperature: s.temperature, seed: cfg.train.seed ^ step, ..Default::default() })?;
    Ok(Record::Sample { step, prompt: prompt.into(), greedy: text(greedy), sampled: text(sampled) })
}
