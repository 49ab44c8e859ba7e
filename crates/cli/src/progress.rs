//! What long commands show while they work: a bar over the input files' bytes (rate and ETA),
//! and the training bar (steps, loss, learning rate, throughput, MFU) with evaluations and
//! samples printed above it, drawn from the training loop's `Observer` reports.

use indicatif::{ProgressBar, ProgressStyle};
use minichat_train::metrics::Record;
use minichat_train::run::Run;
use minichat_train::trainer::{Observer, Outcome};
use std::path::PathBuf;

/// A progress bar over the input files' bytes, or a spinner for standard input.
pub fn input_bar(inputs: &[PathBuf], what: &str) -> ProgressBar {
    match minichat_corpus::documents::total_file_bytes(inputs) {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template(&format!(
                "{what} {{bar:30}} {{binary_bytes}}/{{binary_total_bytes}} ({{binary_bytes_per_sec}}, eta {{eta}}) {{msg}}"
            ))
            .expect("valid template"),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template(&format!("{{spinner}} {what}: {{binary_bytes}} ({{binary_bytes_per_sec}}) {{msg}}"))
                .expect("valid template"),
        ),
    }
}

/// Trains `run` with the training bar, then redraws its pictures (a failure to draw is only a
/// warning) and, when Ctrl-C stopped it, says how to resume: `resume` (`minichat sft --resume`)
/// and the run's folder.
pub fn train_with_bar(
    run: &Run,
    resume: &str,
    train: impl FnOnce(&mut TrainBar) -> Result<Outcome, minichat_train::Error>,
) -> anyhow::Result<Outcome> {
    eprintln!("run {} (config in {})", run.path().display(), run.config().display());
    let mut bar = TrainBar::new();
    let outcome = train(&mut bar);
    bar.bar.finish_and_clear();
    let plotted = run.plot_loss();
    let outcome = outcome?;
    if let Err(e) = plotted {
        eprintln!("warning: no loss curve: {e:#}");
    }
    if outcome.interrupted {
        eprintln!("resume with: {resume} {}", run.path().display());
    }
    Ok(outcome)
}

/// The training progress bar.
pub struct TrainBar {
    pub bar: ProgressBar,
    val: String,
}

impl TrainBar {
    pub fn new() -> TrainBar {
        let style = ProgressStyle::with_template("{bar:24} {pos}/{len} steps ({per_sec}, eta {eta}) {msg}")
            .expect("valid template");
        TrainBar { bar: ProgressBar::new(0).with_style(style), val: String::new() }
    }

    /// A line above the bar; on stderr directly when there is no terminal to draw the bar on.
    fn say(&self, line: String) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }
}

impl Observer for TrainBar {
    fn start(&mut self, step: u64, total: u64, parameters: usize) {
        self.bar.set_length(total);
        self.bar.set_position(step);
        self.say(format!("{:.2}M parameters, steps {step}..{total}", parameters as f64 / 1e6));
    }

    fn record(&mut self, record: &Record) {
        match record {
            Record::Step { step, loss, lr, grad_norm, tokens_per_s, mfu, .. } => {
                self.bar.set_position(*step);
                self.bar.set_message(format!(
                    "loss {loss:.3} lr {lr:.2e} |g| {grad_norm:.2} {tokens_per_s:.0} tok/s MFU {:.0}%{}",
                    mfu * 100.0,
                    self.val
                ));
            }
            Record::Eval { step, val_loss, val_bpb } => {
                self.val = format!(" val {val_loss:.3}");
                self.say(format!("step {step}: validation loss {val_loss:.4}, {val_bpb:.4} bits/byte"));
            }
            Record::Sample { step, prompt, greedy, sampled } => {
                self.say(format!("step {step}: {prompt:?} -> greedy {greedy:?} | sampled {sampled:?}"));
            }
            Record::Heldout { step, task, pass_at_1, pass_at_k, k, questions, samples } => {
                self.say(format!(
                    "step {step}: {task} held out ({questions} questions): pass@1 {:.1}%, pass@{k} {:.1}%",
                    pass_at_1 * 100.0,
                    pass_at_k * 100.0
                ));
                for s in samples {
                    let verdict = if s.right { "right" } else { "wrong" };
                    self.say(format!("  {:?} -> {:?} ({verdict})", s.question, s.reply));
                }
            }
            Record::Rollouts { reward, solved, reply_tokens, .. } => {
                self.val = format!(" reward {reward:.2} solved {:.0}% {reply_tokens:.0} tok", solved * 100.0);
            }
            Record::Preference { reward_margin, reward_accuracy, .. } => {
                self.val = format!(" margin {reward_margin:.3} acc {:.0}%", reward_accuracy * 100.0);
            }
            Record::HeldoutPairs { step, heldout_loss, heldout_accuracy, heldout_margin, pairs } => {
                self.say(format!(
                    "step {step}: held-out pairs ({pairs}): loss {heldout_loss:.4}, accuracy {:.1}%, margin {heldout_margin:.3}",
                    heldout_accuracy * 100.0
                ));
            }
        }
    }

    fn message(&mut self, text: &str) {
        self.say(text.to_string());
    }
}
