//! `minichat sft`: supervised fine-tuning of a pretrained run on conversation files, into a
//! run directory of its own (same checkpoints, resume, metrics and loss curve as pretraining).

use anyhow::{bail, Context, Result};
use clap::Args;
use minichat_chat::conversation::{render, ChatTokens};
use minichat_tokenizer::tokenizer_file;
use minichat_train::run::Run;
use std::path::PathBuf;

#[derive(Args)]
pub struct SftArgs {
    /// The pretrained run to start from.
    #[arg(long, required_unless_present = "resume")]
    base: Option<PathBuf>,
    /// A checkpoint directory of the base run (default: its latest).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Conversation files (JSONL: OpenAI messages, ShareGPT or Alpaca; `tasks make` writes them).
    /// A file given N times counts N times: the weights of a mixture.
    #[arg(long, num_args = 1.., required_unless_present = "resume")]
    conversations: Vec<PathBuf>,
    /// The fine-tuning run's directory (created).
    #[arg(short, long, required_unless_present = "resume")]
    out: Option<PathBuf>,
    /// Continue this fine-tuning run from its latest checkpoint.
    #[arg(long, conflicts_with_all = ["base", "out"])]
    resume: Option<PathBuf>,
    /// Optimizer steps.
    #[arg(long, default_value_t = 300)]
    steps: u64,
    /// Peak learning rate (lower than pretraining's).
    #[arg(long, default_value_t = 3e-4)]
    lr: f32,
    /// Conversations per optimizer step.
    #[arg(long, default_value_t = 16)]
    micro_batch: usize,
    /// Share of conversations held out for validation.
    #[arg(long, default_value_t = 0.05)]
    val_fraction: f64,
    /// Steps between validation passes and checkpoints (0 = at the end only).
    #[arg(long, default_value_t = 100)]
    eval_every: u64,
    #[arg(long)]
    seed: Option<u64>,
    /// Stop at the first malformed conversation instead of skipping it (and reporting its line).
    #[arg(long)]
    strict: bool,
}

/// What the run needs beyond its config: where it started and from which conversations.
#[derive(serde::Serialize, serde::Deserialize)]
struct SftSource {
    base_checkpoint: PathBuf,
    conversations: Vec<PathBuf>,
    val_fraction: f64,
}

pub fn run(a: SftArgs) -> Result<()> {
    let stop = crate::ctrl_c::stop_flag("finishing this step and saving a checkpoint")?;
    let (run, cfg, source, base) = match &a.resume {
        Some(dir) => {
            let run = Run::new(dir);
            let cfg = crate::pretrain::run_config(&run)?;
            let source: SftSource = serde_json::from_slice(&std::fs::read(run.path().join("sft.json"))?)
                .with_context(|| format!("reading {}/sft.json", run.path().display()))?;
            (run, cfg, source, None)
        }
        None => {
            let base = Run::new(a.base.clone().expect("clap requires --base"));
            let run = Run::new(a.out.clone().expect("clap requires --out"));
            if run.config().exists() {
                bail!(
                    "{} already holds a run: resume it with --resume {0}, or pick another --out",
                    run.path().display()
                );
            }
            let mut cfg = crate::pretrain::run_config(&base)?;
            let checkpoint = match &a.checkpoint {
                Some(c) => c.clone(),
                None => minichat_train::checkpoint::latest(&base.checkpoints())?
                    .with_context(|| format!("{}: no checkpoint to fine-tune", base.checkpoints().display()))?,
            };
            let t = &mut cfg.train;
            (t.steps, t.lr, t.micro_batch, t.warmup_steps) = (a.steps, a.lr, a.micro_batch, (a.steps / 20).max(1));
            t.batch_tokens = a.micro_batch * cfg.model.context;
            if let Some(s) = a.seed {
                t.seed = s;
            }
            (cfg.eval.every, cfg.checkpoint.every, cfg.sample.every) = (a.eval_every, a.eval_every, 0);
            cfg.sample.prompts.clear();
            cfg.data.corpus = a.conversations.clone();
            cfg.data.tokenizer = run.tokenizer().display().to_string();
            cfg.validate()?;
            let source = SftSource {
                base_checkpoint: std::path::absolute(&checkpoint)?,
                conversations: a.conversations.iter().map(std::path::absolute).collect::<Result<_, _>>()?,
                val_fraction: a.val_fraction,
            };
            (run, cfg, source, Some(base))
        }
    };
    // The conversations are read before a new run is made, so that bad data (--strict) leaves
    // nothing behind.
    let tokenizer = base.as_ref().map_or(run.tokenizer(), |b| b.tokenizer());
    let tok = tokenizer_file::load(&tokenizer.display().to_string(), "gpt4")?;
    let ct = ChatTokens::of(&tok)?;
    let mut rendered = Vec::new();
    for path in &source.conversations {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let read = minichat_chat::dataset::read(&text, &path.display().to_string(), a.strict)?;
        for p in &read.problems {
            eprintln!("skipped: {p}");
        }
        if read.skipped > read.problems.len() {
            eprintln!("... {} lines skipped in all in {}", read.skipped, path.display());
        }
        for c in &read.conversations {
            rendered.push(render(c, &tok, &ct)?);
        }
    }
    if let Some(base) = &base {
        std::fs::create_dir_all(run.path()).with_context(|| format!("creating {}", run.path().display()))?;
        std::fs::copy(base.tokenizer(), run.tokenizer())
            .with_context(|| format!("copying {}", base.tokenizer().display()))?;
        minichat_train::atomic_write(&run.path().join("sft.json"), &serde_json::to_vec_pretty(&source)?)?;
        minichat_train::atomic_write(&run.config(), cfg.to_toml().as_bytes())?;
    }
    let resume = base.is_none();
    let data = minichat_train::sft::split(rendered, source.val_fraction);
    eprintln!("run {} (config in {})", run.path().display(), run.config().display());
    let mut bar = crate::pretrain::Bar::new();
    let outcome = minichat_train::sft::train(&run, &cfg, &tok, &source.base_checkpoint, data, resume, &stop, &mut bar);
    bar.bar.finish_and_clear();
    let plotted = crate::pretrain::plot_run(&run);
    let outcome = outcome?;
    if let Err(e) = plotted {
        eprintln!("warning: no loss curve: {e:#}");
    }
    if let Some((loss, bpb)) = outcome.val {
        eprintln!(
            "step {}: validation loss {loss:.4} nats/token on the assistant's tokens ({bpb:.4} bits/byte); checkpoint {}",
            outcome.step,
            outcome.checkpoint.display()
        );
    }
    if outcome.interrupted {
        eprintln!("resume with: minichat sft --resume {}", run.path().display());
    } else {
        eprintln!("chat with it: minichat chat {}", run.path().display());
    }
    Ok(())
}
