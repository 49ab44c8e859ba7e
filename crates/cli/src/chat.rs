//! `minichat chat RUN`: a terminal chat with a chat model, through the library's assistant turn
//! (`minichat_chat::assistant`): the reply streams as it comes, tool calls run (the calculator,
//! and search over `--search-index`) and show as `[calculator 12*7 -> 84]`. Commands:
//! /temperature X, /topk K, /system TEXT, /clear, /help, /quit.

use crate::args::SamplerArgs;
use anyhow::Result;
use clap::Args;
use minichat_chat::assistant::{Assistant, Event, FinishReason, Settings};
use minichat_chat::conversation::{validate, Message, Role};
use minichat_chat::sampler::SamplerConfig;
use minichat_chat::tools::Tools;
use minichat_train::run::Run;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

#[derive(Args)]
pub struct ChatArgs {
    /// A run directory with a chat model (its tokenizer must have the chat special tokens).
    run: PathBuf,
    /// A checkpoint directory of the run (default: the latest).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// A system prompt (it opens the first user message).
    #[arg(long)]
    system: Option<String>,
    /// Decode with the weights packed to bf16 (faster; logits within about 1e-2 of f32).
    #[arg(long)]
    bf16: bool,
    /// A search index (`minichat data index`) for the model's `search` tool calls.
    #[arg(long)]
    search_index: Option<PathBuf>,
    /// Reply tokens at most.
    #[arg(short = 'n', long, default_value_t = 256)]
    max_tokens: usize,
    #[command(flatten)]
    sampler: SamplerArgs,
}

const HELP: &str = "/temperature X   set the temperature (0 = greedy)\n/topk K          keep the K most likely tokens (0 = off)\n/system TEXT     set the system prompt and start over\n/clear           start over\n/help            this list\n/quit            leave (Ctrl-D too)";

pub fn run(a: ChatArgs) -> Result<()> {
    let model = Run::open(&a.run)?.load_model(a.checkpoint.as_deref(), a.bf16)?;
    let index = a.search_index.as_ref().map(|p| minichat_data::index::Index::load(p)).transpose()?;
    let tools = Tools { search: index.as_ref().map(|i| Box::new(|q: &str| i.tool_result(q)) as _) };
    let assistant = Assistant::new(&model.net, &model.tok, Some(&tools))?;
    let mut sampler = a.sampler.config();
    sampler.validate(model.tok.n_vocab())?;
    let (mut system, mut messages) = (a.system, Vec::<Message>::new());
    eprintln!("chatting with {} ({:?}); /help for commands", a.run.display(), model.net.config().family);
    let stdin = std::io::stdin();
    let mut turn = 0u64;
    loop {
        eprint!("> ");
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end_matches(['\n', '\r']);
        if let Some(cmd) = line.strip_prefix('/') {
            match command(cmd, &mut sampler, &mut system, &mut messages, model.tok.n_vocab()) {
                Some(reply) => eprintln!("{reply}"),
                None => break,
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let mut convo: Vec<Message> = system.iter().map(|s| Message::new(Role::System, s.clone())).collect();
        messages.push(Message::new(Role::User, line));
        convo.extend(messages.iter().cloned());
        // Each turn draws from its own seed (the same seeds in the same order: the same chat).
        sampler.seed = sampler.seed.wrapping_add(turn);
        turn += 1;
        let settings = Settings { sampler: sampler.clone(), max_tokens: a.max_tokens };
        let mut stdout = std::io::stdout().lock();
        let mut show = |e: Event| {
            let text = match e {
                Event::Text(t) => t,
                Event::ToolCall(call) => format!("[{}", call.text()),
                Event::ToolResult(result) => format!(" -> {result}] "),
                Event::Done { .. } => return,
            };
            let _ = write!(stdout, "{text}");
            let _ = stdout.flush();
        };
        let replied = assistant.reply(&convo, &settings, &AtomicBool::new(false), &mut show);
        writeln!(std::io::stdout())?;
        match replied {
            Ok(reply) => {
                if reply.finish == FinishReason::Context {
                    eprintln!(
                        "(the context of {} tokens is full: /clear to start over)",
                        model.net.config().block_size
                    );
                }
                let mut next = messages.clone();
                next.extend(reply.messages);
                if validate(&next).is_ok() {
                    messages = next;
                } else {
                    // Nothing usable came back (an empty reply): forget the question too.
                    messages.pop();
                    eprintln!("(no reply)");
                }
            }
            Err(e) => {
                messages.pop();
                eprintln!("{e} (/clear to start over)");
            }
        }
    }
    Ok(())
}

/// A /command: changes the settings or the conversation and says what it did; None is /quit.
fn command(
    cmd: &str,
    sampler: &mut SamplerConfig,
    system: &mut Option<String>,
    messages: &mut Vec<Message>,
    vocab: usize,
) -> Option<String> {
    let (name, arg) = cmd.split_once(' ').map_or((cmd, ""), |(n, a)| (n, a.trim()));
    Some(match name {
        "quit" | "exit" => return None,
        "help" => HELP.to_string(),
        "clear" => {
            messages.clear();
            "(conversation cleared)".into()
        }
        "system" => {
            *system = (!arg.is_empty()).then(|| arg.to_string());
            messages.clear();
            "(system prompt set; conversation cleared)".into()
        }
        "temperature" | "topk" => {
            let mut next = sampler.clone();
            let parsed = match name {
                "temperature" => arg.parse().map(|t| next.temperature = t).is_ok(),
                _ => arg.parse().map(|k| next.top_k = k).is_ok(),
            };
            match (parsed, next.validate(vocab)) {
                (true, Ok(())) => {
                    *sampler = next;
                    format!("({name} = {arg})")
                }
                (false, _) => format!("/{name} needs a number"),
                (_, Err(e)) => e.to_string(),
            }
        }
        _ => format!("unknown command /{name}; /help lists them"),
    })
}
