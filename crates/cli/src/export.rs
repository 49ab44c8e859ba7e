//! `minichat export hf RUN OUT`: a run's checkpoint as a Hugging Face model directory;
//! `minichat export gguf RUN OUT.gguf`: as one GGUF file for llama.cpp, Ollama and LM Studio.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use minichat_train::gguf::Dtype;
use minichat_train::run::Run;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum Command {
    /// Write a Hugging Face model directory (safetensors, config.json, tokenizer.json) that
    /// transformers' AutoModelForCausalLM and AutoTokenizer load.
    Hf(HfArgs),
    /// Write one GGUF file (model and tokenizer) that llama.cpp, Ollama and LM Studio run.
    Gguf(GgufArgs),
}

#[derive(Args)]
pub struct GgufArgs {
    /// A run directory.
    run: PathBuf,
    /// The GGUF file to write.
    out: PathBuf,
    /// A checkpoint directory of the run (default: the latest).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// How to store the weight matrices: f32, f16 or bf16 (norms and biases stay f32).
    #[arg(long, default_value = "f32")]
    dtype: String,
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
    let a = match cmd {
        Command::Hf(a) => a,
        Command::Gguf(a) => return gguf(a),
    };
    let run = Run::open(&a.run)?;
    let ckpt = run.checkpoint(a.checkpoint.as_deref())?;
    minichat_train::export::hf_dir(&ckpt, &run.load_tokenizer()?, &a.out)?;
    eprintln!("wrote {} from {}", a.out.display(), ckpt.display());
    Ok(())
}

fn gguf(a: GgufArgs) -> Result<()> {
    let Some(dtype) = Dtype::parse(&a.dtype) else { bail!("--dtype {:?}: expected f32, f16 or bf16", a.dtype) };
    let run = Run::open(&a.run)?;
    let model = run.load_model(a.checkpoint.as_deref(), false)?;
    let name = a.run.file_name().map_or("minichat".into(), |n| n.to_string_lossy().into_owned());
    let bytes = minichat_train::gguf::render(&model.net, &model.tok, dtype, &name)?;
    minichat_corpus::atomic_write(&a.out, &bytes)?;
    eprintln!(
        "wrote {} ({:.1} MB, {:?}) from {}",
        a.out.display(),
        bytes.len() as f64 / 1e6,
        dtype,
        model.checkpoint.display()
    );
    Ok(())
}
