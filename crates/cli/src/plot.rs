//! `minichat plot RUN`: (re)draws RUN/loss.svg from RUN/metrics.jsonl.

use anyhow::Result;
use clap::Args;
use minichat_train::run::Run;
use std::path::PathBuf;

#[derive(Args)]
pub struct PlotArgs {
    /// A run directory.
    run: PathBuf,
}

pub fn run(a: PlotArgs) -> Result<()> {
    let run = Run::open(a.run)?;
    run.plot_loss()?;
    eprintln!("wrote {}", run.plot().display());
    Ok(())
}
