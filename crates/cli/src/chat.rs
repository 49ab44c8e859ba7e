//! `minichat chat RUN`: a terminal chat with a chat model, a `minichat_chat::session` through
//! the library's assistant turn: the reply streams as it comes, tool calls run (the calculator,
//! and search over `--search-index`) and show as `[calculator 12*7 -> 84]`. Commands:
//! /temperature X, /topk K, /system TEXT, /clear, /help, /quit.

use crate::args::SamplerArgs;
use anyhow::Result;
use clap::Args;
use minichat_chat::assistant::{Assistant, Event, FinishReason};
use minichat_chat::session::{Answer, Session};
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

pub fn run(a: ChatArgs) -> Result<()> {
    let model = Run::open(&a.run)?.load_model(a.checkpoint.as_deref(), a.bf16)?;
    let index = a.search_index.as_ref().map(|p| minichat_data::index::Index::load(p)).transpose()?;
    let tools = Tools { search: index.as_ref().map(|i| Box::new(|q: &str| i.tool_result(q)) as _) };
    let assistant = Assistant::new(&model.net, &model.tok, Some(&tools))?;
    let sampler = a.sampler.config();
    sampler.validate(model.tok.n_vocab())?;
    let mut session = Session::new(a.system, sampler, a.max_tokens);
    eprintln!("chatting with {} ({:?}); /help for commands", a.run.display(), model.net.config().family);
    loop {
        eprint!("> ");
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end_matches(['\n', '\r']);
        if let Some(cmd) = line.strip_prefix('/') {
            match session.command(cmd, model.tok.n_vocab()) {
                Some(said) => eprintln!("{said}"),
                None => break,
            }
        } else if !line.trim().is_empty() {
            let mut stdout = std::io::stdout().lock();
            let mut show = |e: Event| {
                let text = match e {
                    Event::Text(t) => t,
                    Event::ToolCall(call) => format!("[{}", call.text()),
                    Event::ToolResult(result) => format!(" -> {result}] "),
                    Event::Done { .. } | Event::Token(_) => return,
                };
                let _ = write!(stdout, "{text}");
                let _ = stdout.flush();
            };
            let answer = session.ask(&assistant, line, &AtomicBool::new(false), &mut show);
            writeln!(std::io::stdout())?;
            match answer {
                Ok(Answer { reply, kept, dropped }) => {
                    if dropped > 0 {
                        let t = model.net.config().block_size;
                        eprintln!(
                            "(the context of {t} tokens was full: the oldest {dropped} exchange(s) were dropped)"
                        );
                    }
                    if reply.finish == FinishReason::Context {
                        let t = model.net.config().block_size;
                        eprintln!("(the context of {t} tokens is full: /clear to start over)");
                    }
                    if !kept {
                        eprintln!("(no reply)");
                    }
                }
                Err(e) => eprintln!("{e} (/clear to start over)"),
            }
        }
    }
    Ok(())
}
