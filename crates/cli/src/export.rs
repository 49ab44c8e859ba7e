//! `minichat export hf RUN OUT`: a run's checkpoint as a Hugging Face model directory.

use anyhow::Result;
use clap::{Args, Subcommand};
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
    let Command::Hf(a) = cmd;
    let run = Run::open(&a.run)?;
    let ckpt = run.checkpoint(a.checkpoint.as_deref())?;
    minichat_train::export::hf_dir(&ckpt, &run.load_tokenizer()?, &a.out)?;
    eprintln!("wrote {} from {}", a.out.display(), ckpt.display());
    Ok(())
}
