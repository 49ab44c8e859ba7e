//! `minichat tokenizer train`.

use anyhow::{bail, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use minichat_corpus::documents;
use minichat_tokenizer::train::{TrainConfig, Trainer};
use minichat_tokenizer::{tokenizer_file, CHAT_SPECIAL_TOKENS};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args)]
pub struct TrainArgs {
    /// Training text: .txt (any other name), .jsonl (`text` field) or .parquet (`text` column)
    /// files, optionally .gz, or folders of them; `-` reads standard input.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Vocabulary size, special tokens included.
    #[arg(short, long, default_value_t = 32768)]
    vocab_size: usize,
    /// Split pattern: gpt4 (cl100k), o200k, gpt2, nanochat (gpt4 with 1-2 digit numbers), or a regex.
    #[arg(short, long, default_value = "gpt4")]
    pattern: String,
    /// Special tokens appended after the merges (comma-separated). Default: minichat's chat tokens.
    #[arg(long, value_delimiter = ',', conflicts_with = "no_special")]
    special: Option<Vec<String>>,
    /// Register no special tokens.
    #[arg(long)]
    no_special: bool,
    /// Truncate each document to this many chars (nanochat uses 10000).
    #[arg(long)]
    max_doc_chars: Option<usize>,
    /// Stop reading after this many bytes of text.
    #[arg(long)]
    max_bytes: Option<u64>,
    /// Output tokenizer file (minichat format; `export` converts it).
    #[arg(short, long)]
    output: PathBuf,
    /// Name recorded in the tokenizer file (default: the output file's stem).
    #[arg(long)]
    name: Option<String>,
    /// Make every digit run the pattern cuts (1 to 3 digits for gpt4 and o200k, 1 to 2 for
    /// nanochat) a token of its own, as cl100k_base has them, so that every number is cut the
    /// same way; small vocabularies otherwise learn only the frequent ones.
    #[arg(long)]
    number_tokens: bool,
}

pub fn run(a: TrainArgs) -> Result<()> {
    let special_tokens = match (a.no_special, a.special) {
        (true, _) => vec![],
        (false, Some(list)) => list,
        (false, None) => CHAT_SPECIAL_TOKENS.iter().map(|s| s.to_string()).collect(),
    };
    let name =
        a.name.unwrap_or_else(|| a.output.file_stem().map_or("tokenizer".into(), |s| s.to_string_lossy().into_owned()));
    let config = TrainConfig {
        vocab_size: a.vocab_size,
        pattern: a.pattern,
        special_tokens,
        max_doc_chars: a.max_doc_chars,
        name,
        number_tokens: a.number_tokens,
    };
    let mut trainer = Trainer::new(config)?;
    let started = Instant::now();

    let reading = crate::progress::input_bar(&a.inputs, "counting pieces");
    let max_bytes = a.max_bytes.unwrap_or(u64::MAX);
    let mut read = 0u64;
    let stats = documents::for_each_batch(&a.inputs, 8 << 20, |batch, consumed| {
        read += batch.iter().map(|d| d.len() as u64).sum::<u64>();
        trainer.add_documents(&batch);
        reading.set_position(consumed);
        reading.set_message(format!("{} distinct pieces", trainer.distinct_pieces()));
        read < max_bytes
    })?;
    reading.finish_and_clear();
    if stats.documents == 0 {
        bail!("no documents in {:?}: nothing to train on", a.inputs);
    }
    for p in &stats.problems {
        eprintln!("warning: skipped {p}");
    }

    let merging = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("merges {bar:30} {pos}/{len} ({per_sec}, eta {eta})").expect("valid template"),
    );
    let (tok, report) = trainer.finish(|done, total| {
        merging.set_length(total as u64);
        if done % 256 == 0 || done == total {
            merging.set_position(done as u64);
        }
    })?;
    merging.finish_and_clear();
    minichat_corpus::atomic_write(&a.output, tokenizer_file::render(&tok).as_bytes())?;

    eprintln!(
        "read {} documents, {:.1} MB ({} records skipped, {} invalid UTF-8 sequences replaced)",
        stats.documents,
        stats.bytes as f64 / 1e6,
        stats.skipped,
        stats.replaced
    );
    eprintln!(
        "{} pieces, {} distinct; {} merges; counting {:.2}s, merging {:.2}s, total {:.2}s",
        report.pieces,
        report.distinct_pieces,
        report.merges,
        report.count_seconds,
        report.merge_seconds,
        started.elapsed().as_secs_f64()
    );
    if report.merges < a.vocab_size - 256 - tok.special_tokens().len() {
        eprintln!(
            "note: the corpus ran out of pairs; the vocabulary has {} ids instead of {}",
            tok.n_vocab(),
            a.vocab_size
        );
    }
    eprintln!("wrote {} ({} ids)", a.output.display(), tok.n_vocab());
    Ok(())
}
