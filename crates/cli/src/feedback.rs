//! `minichat feedback export RUN|DB -o OUT.jsonl`: the votes the web page sent to
//! `minichat serve` as preference pairs in TRL's conversational format (prompt, chosen and
//! rejected as message lists), for a reward model or DPO.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use minichat_serve::feedback::{preference_pairs, Feedback, FILE};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum Command {
    /// Write the votes as preference pairs (JSONL: {"prompt", "chosen", "rejected"}): every
    /// reply voted up against every reply voted down to the same conversation.
    Export(ExportArgs),
}

#[derive(Args)]
pub struct ExportArgs {
    /// The served run's folder (its feedback.sqlite) or a votes file (`serve --feedback`).
    from: PathBuf,
    /// The JSONL file to write.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Export(a) => export(a),
    }
}

fn export(a: ExportArgs) -> Result<()> {
    let db = if a.from.is_dir() { a.from.join(FILE) } else { a.from.clone() };
    anyhow::ensure!(db.is_file(), "{}: no votes file (minichat serve keeps votes in RUN/{FILE})", db.display());
    let votes = Feedback::open(&db)?.votes()?;
    let (pairs, prompts) = preference_pairs(&votes);
    let mut text = String::new();
    for p in &pairs {
        text.push_str(&p.to_string());
        text.push('\n');
    }
    minichat_corpus::fs::atomic_write(&a.output, text.as_bytes())
        .with_context(|| format!("writing {}", a.output.display()))?;
    println!(
        "{} votes, {prompts} conversations with a reply voted up and one voted down: {} pairs -> {}",
        votes.len(),
        pairs.len(),
        a.output.display()
    );
    Ok(())
}
