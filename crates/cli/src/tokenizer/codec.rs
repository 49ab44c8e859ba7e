//! `encode` and `decode`.

use super::{as_text, read_input, SpecialArgs, TokenizerArg};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub enum IdFormat {
    /// Space-separated decimal ids.
    Text,
    /// A JSON array.
    Json,
    /// Little-endian u32 per id.
    U32,
    /// Little-endian u16 per id (vocabularies up to 65,536).
    U16,
}

#[derive(Args)]
pub struct EncodeArgs {
    #[command(flatten)]
    tokenizer: TokenizerArg,
    #[command(flatten)]
    special: SpecialArgs,
    /// File to encode (default: standard input).
    file: Option<PathBuf>,
    /// Text to encode, instead of a file.
    #[arg(long, conflicts_with = "file")]
    text: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "text")]
    format: IdFormat,
    /// Write to this file instead of standard output (atomically).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Print only the number of tokens.
    #[arg(long)]
    count: bool,
}

pub fn encode(a: EncodeArgs) -> Result<()> {
    let tok = a.tokenizer.load()?;
    let text = as_text(read_input(&a.text, &a.file)?, "the input")?;
    let (allowed, disallowed) = a.special.sets();
    let ids = tok.encode(&text, &allowed, &disallowed)?;
    if a.count {
        println!("{}", ids.len());
        return Ok(());
    }
    let mut out: Vec<u8> = Vec::with_capacity(ids.len() * 6);
    match a.format {
        IdFormat::Text => {
            let s: Vec<String> = ids.iter().map(u32::to_string).collect();
            out.extend_from_slice(s.join(" ").as_bytes());
            out.push(b'\n');
        }
        IdFormat::Json => {
            out.extend_from_slice(serde_json::to_string(&ids)?.as_bytes());
            out.push(b'\n');
        }
        IdFormat::U32 => ids.iter().for_each(|id| out.extend_from_slice(&id.to_le_bytes())),
        IdFormat::U16 => {
            if tok.n_vocab() > 1 << 16 {
                bail!("{} has {} ids, too many for u16; use --format u32", tok.name(), tok.n_vocab());
            }
            ids.iter().for_each(|&id| out.extend_from_slice(&(id as u16).to_le_bytes()));
        }
    }
    write_output(&a.output, &out)
}

fn write_output(path: &Option<PathBuf>, data: &[u8]) -> Result<()> {
    match path {
        Some(p) => Ok(minichat_corpus::atomic_write(p, data)?),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(data)?;
            Ok(stdout.flush()?)
        }
    }
}

#[derive(Args)]
pub struct DecodeArgs {
    #[command(flatten)]
    tokenizer: TokenizerArg,
    /// File of ids (default: standard input).
    file: Option<PathBuf>,
    /// Ids to decode, e.g. "9906 11 1917", instead of a file.
    #[arg(long, conflicts_with = "file")]
    ids: Option<String>,
    /// Input format: text/json accept decimal ids separated by spaces, commas or brackets.
    #[arg(short, long, value_enum, default_value = "text")]
    format: IdFormat,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn decode(a: DecodeArgs) -> Result<()> {
    let tok = a.tokenizer.load()?;
    let raw = read_input(&a.ids, &a.file)?;
    let ids = parse_ids(&raw, a.format)?;
    // Raw bytes, not lossy text: a decode of an encode gives back the input exactly.
    let bytes = tok.decode_bytes(&ids)?;
    write_output(&a.output, &bytes)
}

fn parse_ids(raw: &[u8], format: IdFormat) -> Result<Vec<u32>> {
    match format {
        IdFormat::U32 | IdFormat::U16 => {
            let width = if format == IdFormat::U32 { 4 } else { 2 };
            if !raw.len().is_multiple_of(width) {
                bail!("binary input is {} bytes, not a multiple of {width}", raw.len());
            }
            Ok(raw
                .chunks(width)
                .map(|c| {
                    if width == 4 {
                        u32::from_le_bytes([c[0], c[1], c[2], c[3]])
                    } else {
                        u16::from_le_bytes([c[0], c[1]]) as u32
                    }
                })
                .collect())
        }
        IdFormat::Text | IdFormat::Json => {
            let text = std::str::from_utf8(raw).context("ids are not text; use --format u32 for binary")?;
            text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '[' | ']'))
                .filter(|s| !s.is_empty())
                .enumerate()
                .map(|(i, s)| s.parse::<u32>().with_context(|| format!("id #{} is not a token id: {s:?}", i + 1)))
                .collect()
        }
    }
}
