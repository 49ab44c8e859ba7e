//! `minichat`: one binary for every stage of building a ChatGPT-like assistant.
//!
//! Each pipeline stage is a subcommand backed by its library crate: a command file parses its
//! arguments, calls its library, shows progress and prints; errors are reported with `anyhow`.
//! Flags several commands share are in `args`, progress bars in `progress`, Ctrl-C in
//! `ctrl_c`; no command imports another.

mod args;
mod chat;
mod ctrl_c;
mod data;
mod dpo;
mod eval;
mod export;
mod feedback;
mod generate;
mod next;
mod pairs;
mod plot;
mod pretrain;
mod progress;
mod rl;
mod rm;
mod serve;
mod sft;
mod speedrun;
mod tasks;
mod tokenizer;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "minichat", version, about = "Build a ChatGPT-like assistant from scratch, every stage in Rust")]
struct Cli {
    /// Worker threads for parallel stages (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every stage on the embedded data, on a CPU: web data, tokenizer, pretraining, SFT, the
    /// exam and its report card (resumable: finished stages are kept).
    Speedrun(speedrun::SpeedrunArgs),
    /// Byte-level BPE: train, encode, decode, inspect, stats, export.
    #[command(subcommand)]
    Tokenizer(tokenizer::Command),
    /// Pretrain a GPT on a corpus: token shards, training loop, checkpoints, metrics, loss curve.
    Pretrain(pretrain::PretrainArgs),
    /// Fine-tune a pretrained run on conversations (the assistant's tokens only).
    Sft(sft::SftArgs),
    /// Reinforcement learning (GRPO) of a fine-tuned run on tasks with checkable answers: groups
    /// of replies with the tools running, rewards from the task's checker, held-out pass rates.
    Rl(rl::RlArgs),
    /// Preference pairs from a chat model's own replies to questions with exact answers: a right
    /// reply preferred to a wrong one (TRL's JSONL).
    Pairs(pairs::PairsArgs),
    /// Direct preference optimisation (DPO) of a fine-tuned run on preference pairs: implicit
    /// rewards, held-out pair accuracy.
    Dpo(dpo::DpoArgs),
    /// Reward models: train one on preference pairs (a score for a conversation), score pairs
    /// or conversations with it.
    #[command(subcommand)]
    Rm(rm::Command),
    /// The exam: held-out bits per byte, generated tasks by exact answer, multiple choice by
    /// log-likelihood, for one or more runs; a report card (markdown + SVG).
    Eval(eval::EvalArgs),
    /// Draw a run's loss curve (RUN/loss.svg) from its metrics.
    Plot(plot::PlotArgs),
    /// Export a run's checkpoint (hf: a Hugging Face model directory).
    #[command(subcommand)]
    Export(export::Command),
    /// Show the model's next-token distribution after a text.
    Next(next::NextArgs),
    /// Continue a prompt with a base model (streamed; every sampler setting; --show-probs).
    Generate(generate::GenerateArgs),
    /// Chat with a chat model in the terminal (/help for commands).
    Chat(chat::ChatArgs),
    /// Serve a chat model over an OpenAI-compatible HTTP API (chat and text completions) and
    /// a chat page in the browser at its address.
    Serve(serve::ServeArgs),
    /// Votes on replies from the chat page: export them as preference pairs.
    #[command(subcommand)]
    Feedback(feedback::Command),
    /// The web-data pipeline: WARC files to clean, deduplicated text shards and a search index.
    #[command(subcommand)]
    Data(data::Command),
    /// Generated conversations with exact answers (arithmetic with the calculator, spelling,
    /// identity) for fine-tuning and the exam.
    #[command(subcommand)]
    Tasks(tasks::Command),
}

fn main() {
    // Rust ignores SIGPIPE, so printing into a closed pipe (`minichat ... | head`) would panic;
    // restore the default: the process ends quietly, as other command-line tools do.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to the default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    if let Some(n) = cli.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(n).build_global() {
            eprintln!("error: cannot start {n} threads: {e}");
            std::process::exit(2);
        }
    }
    let result = match cli.command {
        Command::Speedrun(a) => speedrun::run(a),
        Command::Tokenizer(cmd) => tokenizer::run(cmd),
        Command::Pretrain(a) => pretrain::run(a),
        Command::Rl(a) => rl::run(a),
        Command::Pairs(a) => pairs::run(a),
        Command::Dpo(a) => dpo::run(a),
        Command::Rm(cmd) => rm::run(cmd),
        Command::Sft(a) => sft::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Plot(a) => plot::run(a),
        Command::Export(cmd) => export::run(cmd),
        Command::Next(a) => next::run(a),
        Command::Generate(a) => generate::run(a),
        Command::Chat(a) => chat::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Feedback(cmd) => feedback::run(cmd),
        Command::Data(cmd) => data::run(cmd),
        Command::Tasks(cmd) => tasks::run(cmd),
    };
    if let Err(e) = result {
        // A closed pipe (`minichat ... | head`) is not an error worth reporting.
        if e.chain()
            .any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
        {
            std::process::exit(0);
        }
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn the_commands_flags_are_consistent() {
        // clap's own checks: no two flags share a name, conflicts and requirements name flags
        // that exist (flattened groups such as `args::PreferenceArgs` included).
        Cli::command().debug_assert();
    }
}
