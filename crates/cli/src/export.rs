//! `minichat export hf RUN OUT`: a run's checkpoint as a Hugging Face model directory.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use minichat_tokenizer::tokenizer_file;
use minichat_train::checkpoint;
use minichat_train::run::Run;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum Command {
    /// Write a Hugging Face model directory (safetensors, config.json, tokenizer.json) that
    /// transformers' AutoModelForCausalLM and AutoTokenizer load.
    Hf(HfArgs),
}

#[derive(Args)]
pub struct HfArgs {
    /// A run directory (made by `minichat pretrain`).
    run: PathBuf,
    /// Output directory.
    out: PathBuf,
    /// A checkpoint directory of the run (default: the latest).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Hf(a) => hf(a),
    }
}

/// The checkpoint to use: the given one or the run's latest.
pub fn pick_checkpoint(run: &Run, given: Option<PathBuf>) -> Result<PathBuf> {
    match given {
        Some(c) => Ok(c),
        None => checkpoint::latest(&run.checkpoints())?
            .with_context(|| format!("{} has no checkpoint yet", run.checkpoints().display())),
    }
}

fn hf(a: HfArgs) -> Result<()> {
    let run = Run::new(&a.run);
    let ckpt = pick_checkpoint(&run, a.checkpoint)?;
    let tok = tokenizer_file::load(&run.tokenizer().display().to_string(), "gpt4")?;
    minichat_train::export::hf_dir(&ckpt, &tok, &a.out)?;
    eprintln!("wrote {} from {}", a.out.display(), ckpt.display());
    Ok(())
}
