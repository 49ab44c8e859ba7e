//! `minichat plot RUN...`: (re)draws each RUN/loss.svg (and an RLHF run's rlhf.svg) from
//! RUN/metrics.jsonl; with `--rlhf OUT.svg`, the RLHF runs' reward hacking in one picture.

use anyhow::Result;
use clap::Args;
use minichat_train::metrics;
use minichat_train::run::Run;
use std::path::PathBuf;

#[derive(Args)]
pub struct PlotArgs {
    /// Run directories.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// Draw the RLHF runs' proxy and gold rewards against the KL into this one SVG, a colour
    /// per run (say runs with and without a KL penalty), instead of each run's own pictures.
    #[arg(long)]
    rlhf: Option<PathBuf>,
}

pub fn run(a: PlotArgs) -> Result<()> {
    let runs = a.runs.into_iter().map(Run::open).collect::<Result<Vec<_>, _>>()?;
    let Some(out) = a.rlhf else {
        for run in &runs {
            run.plot_loss()?;
            eprintln!("wrote {}", run.plot().display());
        }
        return Ok(());
    };
    let named = runs.iter().map(|run| Ok((run.name(), metrics::read(&run.metrics())?))).collect::<Result<Vec<_>>>()?;
    minichat_train::plot::reward_hacking(&named, "RLHF: proxy and gold against the KL", &out)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
