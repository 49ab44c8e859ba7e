//! Ctrl-C for long commands: the first one sets a flag the work checks between steps, so the
//! command can save what is done; a second one quits at once (exit code 130).

use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Installs the handler; `saving` says what the command does on the first Ctrl-C.
pub fn stop_flag(saving: &'static str) -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            // A second Ctrl-C: the user does not want to wait for the save.
            std::process::exit(130);
        }
        eprintln!("\nCtrl-C: {saving} (Ctrl-C again to quit now)");
    })
    .context("installing the Ctrl-C handler")?;
    Ok(stop)
}
