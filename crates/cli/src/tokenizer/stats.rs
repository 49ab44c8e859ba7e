//! `minichat tokenizer stats`: bytes per token of several tokenizers on one corpus.

use super::TokenizerArg;
use anyhow::{bail, Result};
use clap::Args;
use minichat_corpus::documents;
use minichat_tokenizer::stats::Compression;
use minichat_tokenizer::Tokenizer;
use std::path::PathBuf;

#[derive(Args)]
pub struct StatsArgs {
    /// Corpus files (.txt, .jsonl, .parquet, optionally .gz; `-` for standard input).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Tokenizers to compare (repeat the flag): built-in names or files.
    #[arg(short, long = "tokenizer", default_values_t = ["cl100k_base".to_string(), "o200k_base".to_string()])]
    tokenizers: Vec<String>,
    /// Split pattern for bare .tiktoken files (see `encode --help`).
    #[arg(long, default_value = "gpt4")]
    pattern: String,
}

pub fn run(a: StatsArgs) -> Result<()> {
    let toks: Vec<Tokenizer> = a
        .tokenizers
        .iter()
        .map(|t| TokenizerArg { tokenizer: t.clone(), pattern: a.pattern.clone() }.load())
        .collect::<Result<_>>()?;
    let mut totals = vec![Compression::default(); toks.len()];
    let bar = crate::progress::input_bar(&a.inputs, "encoding");
    let stats = documents::for_each_batch(&a.inputs, 4 << 20, |batch, consumed| {
        for (tok, total) in toks.iter().zip(totals.iter_mut()) {
            total.add(tok, &batch);
        }
        bar.set_position(consumed);
        true
    })?;
    bar.finish_and_clear();
    if stats.documents == 0 {
        bail!("no documents in {:?}", a.inputs);
    }
    for p in &stats.problems {
        eprintln!("warning: skipped {p}");
    }
    println!("corpus: {} documents, {} bytes ({} records skipped)", stats.documents, stats.bytes, stats.skipped);
    println!("{:<28} {:>9} {:>12} {:>12} {:>10}", "tokenizer", "vocab", "tokens", "bytes/token", "vs first");
    let base = totals[0].bytes_per_token();
    for (tok, total) in toks.iter().zip(&totals) {
        let ratio = if base > 0.0 { total.bytes_per_token() / base } else { 0.0 };
        println!(
            "{:<28} {:>9} {:>12} {:>12.3} {:>9.3}x",
            tok.name(),
            tok.n_vocab(),
            total.tokens,
            total.bytes_per_token(),
            ratio
        );
    }
    Ok(())
}
