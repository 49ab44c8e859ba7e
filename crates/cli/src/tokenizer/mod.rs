//! `minichat tokenizer ...`: train, encode, decode, inspect, stats, export.

mod codec;
mod inspect;
mod stats;
mod train;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use minichat_tokenizer::{hf, rank_file, tokenizer_file, SpecialSet, Tokenizer};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum Command {
    /// Train a byte-level BPE vocabulary on text, JSONL (`text` field) or Parquet (`text` column).
    Train(train::TrainArgs),
    /// Encode text to token ids.
    Encode(codec::EncodeArgs),
    /// Decode token ids to text.
    Decode(codec::DecodeArgs),
    /// Show text split into coloured tokens with their ids (like the tiktokenizer web app).
    Inspect(inspect::InspectArgs),
    /// Compare tokenizers' compression (bytes per token) on a corpus.
    Stats(stats::StatsArgs),
    /// Write a tokenizer as a minichat tokenizer file, a .tiktoken rank file or an HF tokenizer.json.
    Export(ExportArgs),
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Train(a) => train::run(a),
        Command::Encode(a) => codec::encode(a),
        Command::Decode(a) => codec::decode(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Stats(a) => stats::run(a),
        Command::Export(a) => export(a),
    }
}

/// Which tokenizer to use.
#[derive(Args, Clone)]
pub struct TokenizerArg {
    /// A built-in encoding (cl100k_base, o200k_base, r50k_base), a minichat tokenizer file, or a
    /// .tiktoken rank file (optionally .gz).
    #[arg(short, long, default_value = "cl100k_base")]
    pub tokenizer: String,
    /// Split pattern for a bare .tiktoken file that is not a built-in encoding: a preset
    /// (gpt4, o200k, gpt2, nanochat) or a regex.
    #[arg(long, default_value = "gpt4")]
    pub pattern: String,
}

impl TokenizerArg {
    pub fn load(&self) -> Result<Tokenizer> {
        tokenizer_file::load(&self.tokenizer, &self.pattern)
            .with_context(|| format!("loading tokenizer {}", self.tokenizer))
    }
}

/// tiktoken-style special-token options.
#[derive(Args, Clone)]
pub struct SpecialArgs {
    /// Special tokens to encode as their ids: `all`, `none`, or a comma-separated list.
    #[arg(long, default_value = "none")]
    pub allowed_special: String,
    /// Special tokens whose appearance in the text is an error: `all` (minus the allowed ones),
    /// `none` (encode them as ordinary text), or a comma-separated list.
    #[arg(long, default_value = "all")]
    pub disallowed_special: String,
}

impl SpecialArgs {
    pub fn sets(&self) -> (SpecialSet, SpecialSet) {
        (parse_set(&self.allowed_special), parse_set(&self.disallowed_special))
    }
}

fn parse_set(s: &str) -> SpecialSet {
    match s {
        "all" => SpecialSet::All,
        "none" | "" => SpecialSet::None,
        list => SpecialSet::Only(list.split(',').map(|t| t.trim().to_string()).collect()),
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    /// minichat's tokenizer file (ranks + pattern + special tokens).
    Minichat,
    /// A .tiktoken rank file (ranks only).
    Tiktoken,
    /// A Hugging Face tokenizers `tokenizer.json`.
    Hf,
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    tokenizer: TokenizerArg,
    /// Output format.
    #[arg(short, long, value_enum)]
    format: ExportFormat,
    /// Output file.
    #[arg(short, long)]
    output: PathBuf,
}

fn export(a: ExportArgs) -> Result<()> {
    let tok = a.tokenizer.load()?;
    let data = match a.format {
        ExportFormat::Minichat => tokenizer_file::render(&tok),
        ExportFormat::Tiktoken => rank_file::render(&tok.vocab().ranks()),
        ExportFormat::Hf => serde_json::to_string_pretty(&hf::export(&tok))?,
    };
    minichat_corpus::atomic_write(&a.output, data.as_bytes())?;
    eprintln!("wrote {} ({} tokens, {} bytes)", a.output.display(), tok.n_vocab(), data.len());
    Ok(())
}

/// Reads the text to work on: `--text`, else the file, else standard input.
pub fn read_input(text: &Option<String>, file: &Option<PathBuf>) -> Result<Vec<u8>> {
    use std::io::Read;
    if let Some(t) = text {
        return Ok(t.clone().into_bytes());
    }
    match file {
        Some(p) if p.as_os_str() != "-" => std::fs::read(p).with_context(|| format!("reading {}", p.display())),
        _ => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).context("reading standard input")?;
            Ok(buf)
        }
    }
}

/// Input bytes as text; invalid UTF-8 is an error that names the byte offset.
pub fn as_text(bytes: Vec<u8>, what: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{what} is not valid UTF-8 (first bad byte at offset {}); tokenizers encode text, not arbitrary bytes",
            e.utf8_error().valid_up_to()
        )
    })
}
