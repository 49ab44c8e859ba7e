//! `minichat tokenizer inspect`: text as coloured token spans plus the ids, like the
//! tiktokenizer web app Karpathy uses in his lectures.

use super::{as_text, read_input, TokenizerArg};
use anyhow::Result;
use clap::{Args, ValueEnum};
use minichat_tokenizer::stream::spans;
use minichat_tokenizer::Tokenizer;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args)]
pub struct InspectArgs {
    #[command(flatten)]
    tokenizer: TokenizerArg,
    /// File to inspect (default: standard input).
    file: Option<PathBuf>,
    /// Text to inspect, instead of a file.
    #[arg(long, conflicts_with = "file")]
    text: Option<String>,
    /// A conversation file (JSONL: OpenAI messages, ShareGPT or Alpaca) to show in the chat
    /// format, with the tokens training learns from (the assistant's) marked: green, or
    /// `[...]` without colour. Needs a tokenizer with minichat's chat tokens.
    #[arg(long, conflicts_with_all = ["file", "text"])]
    chat: Option<PathBuf>,
    /// With --chat: how many conversations to show.
    #[arg(long, default_value_t = 3)]
    conversations: usize,
    /// Colour the spans: auto (when writing to a terminal), always, never (spans separated by |).
    #[arg(long, value_enum, default_value = "auto")]
    color: Color,
    /// Show spaces as ⋅, tabs as → and newlines as ↵.
    #[arg(long)]
    show_whitespace: bool,
    /// Also list each span with its ids, one per line.
    #[arg(long)]
    table: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Color {
    Auto,
    Always,
    Never,
}

/// Pastel 256-colour backgrounds, cycled per span (the web app cycles Tailwind's -200 shades).
const PALETTE: [u8; 8] = [153, 187, 224, 194, 223, 189, 230, 217];

fn visible(text: &str, show_whitespace: bool) -> String {
    if !show_whitespace {
        return text.to_string();
    }
    text.replace(' ', "⋅").replace('\t', "→").replace('\r', "␍").replace('\n', "↵\n")
}

/// Prints the first conversations of a file as rendered for training, trained tokens marked.
fn run_chat(a: &InspectArgs, path: &std::path::Path, tok: &Tokenizer, color: bool) -> Result<()> {
    use minichat_chat::conversation::{learned_spans, render, ChatTokens};
    let ct = ChatTokens::of(tok)?;
    let read = minichat_chat::dataset::read_file(path, false)?;
    for problem in &read.problems {
        eprintln!("skipped: {problem}");
    }
    for (n, conversation) in read.conversations.iter().take(a.conversations).enumerate() {
        let (ids, mask) = render(conversation, tok, &ct)?;
        let trained = mask.iter().filter(|&&m| m == 1).count();
        println!("conversation {}: {} tokens, {trained} trained (the assistant's)", n + 1, ids.len());
        let (mut out, mut in_run) = (String::new(), false);
        for (span, learn) in learned_spans(tok, &ids, &mask)? {
            let shown = visible(&span.text, a.show_whitespace);
            if color {
                // Green background for what is learned, grey text for what is given.
                let paint = if learn { "\x1b[48;5;194m\x1b[30m" } else { "\x1b[90m" };
                out.push_str(&format!("{paint}{shown}\x1b[0m"));
                continue;
            }
            // Without colour, each run of learned tokens is bracketed.
            if learn != in_run {
                out.push(if learn { '[' } else { ']' });
                in_run = learn;
            }
            out.push_str(&shown);
        }
        if in_run {
            out.push(']');
        }
        println!("{out}\n");
    }
    println!(
        "{}: {} conversations ({} skipped); showing {}",
        path.display(),
        read.conversations.len(),
        read.skipped,
        read.conversations.len().min(a.conversations)
    );
    Ok(())
}

pub fn run(a: InspectArgs) -> Result<()> {
    let tok = a.tokenizer.load()?;
    let color = match a.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal(),
    };
    if let Some(path) = &a.chat {
        return run_chat(&a, path, &tok, color);
    }
    let text = as_text(read_input(&a.text, &a.file)?, "the input")?;
    let ids = tok.encode_with_special_tokens(&text);
    let mut out = String::new();
    let spans = spans(&tok, &ids)?;
    for (i, span) in spans.iter().enumerate() {
        let shown = visible(&span.text, a.show_whitespace);
        if color {
            // Colour each line separately so a newline inside a span does not paint the margin.
            let bg = PALETTE[i % PALETTE.len()];
            let painted: Vec<String> = shown
                .split('\n')
                .map(|l| if l.is_empty() { String::new() } else { format!("\x1b[48;5;{bg}m\x1b[30m{l}\x1b[0m") })
                .collect();
            out.push_str(&painted.join("\n"));
        } else {
            if i > 0 {
                out.push('|');
            }
            out.push_str(&shown);
        }
    }
    let per_token = if ids.is_empty() { 0.0 } else { text.len() as f64 / ids.len() as f64 };
    println!(
        "{}: {} tokens, {} chars, {} bytes ({per_token:.2} bytes/token)",
        tok.name(),
        ids.len(),
        text.chars().count(),
        text.len()
    );
    println!("{out}");
    println!("ids: {ids:?}");
    if a.table {
        for span in &spans {
            let ids: Vec<String> = span.ids.iter().map(u32::to_string).collect();
            println!("{:>20}  {:?}", ids.join(" "), span.text);
        }
    }
    Ok(())
}
