//! `minichat chat RUN`: a terminal chat with a chat model. Each turn renders the conversation in
//! the chat format (`minichat_chat::conversation`), generates the reply until
//! `<|assistant_end|>` and streams it. When the model writes a tool call, the tool runs
//! (`minichat_chat::tools`: the calculator, and search over `--search-index`) and its result
//! is forced into the reply, shown as
//! `[calculator 12*7 -> 84]`. Commands: /temperature X, /topk K, /system TEXT, /clear, /help,
//! /quit.

use crate::generate::SamplerArgs;
use anyhow::Result;
use clap::Args;
use minichat_chat::conversation::{
    parse_reply, prompt_for_reply, tool_result_tokens, ChatTokens, Message, Role, ToolCall,
};
use minichat_chat::generate::{generate, Finish, GenerateConfig, ToolHook};
use minichat_tokenizer::stream::StreamDecoder;
use std::io::{BufRead, Write};
use std::path::PathBuf;

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

/// The `search` tool over an index: the snippets of the best passages, as `tasks make` put
/// them into the training conversations.
pub(crate) fn search_tool(index: &minichat_data::index::Index) -> minichat_chat::tools::Search<'_> {
    use minichat_chat::tools::{SEARCH_HITS, SNIPPET_CHARS};
    Box::new(move |q: &str| index.snippets(q, SEARCH_HITS, SNIPPET_CHARS))
}

pub fn run(a: ChatArgs) -> Result<()> {
    let (net, tok) = crate::generate::load(&a.run, a.checkpoint, a.bf16)?;
    let ct = ChatTokens::of(&tok)?;
    let mut sampler = a.sampler.config();
    sampler.validate(tok.n_vocab())?;
    let index = a.search_index.as_ref().map(|p| minichat_data::index::Index::load(p)).transpose()?;
    let tools = minichat_chat::tools::Tools { search: index.as_ref().map(search_tool) };
    let mut system = a.system;
    let mut messages: Vec<Message> = Vec::new();
    eprintln!("chatting with {} ({:?}); /help for commands", a.run.display(), net.config().family);
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    let mut turn = 0u64;
    loop {
        eprint!("> ");
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end_matches(['\n', '\r']);
        if let Some(cmd) = line.strip_prefix('/') {
            let (name, arg) = cmd.split_once(' ').map_or((cmd, ""), |(n, a)| (n, a.trim()));
            match name {
                "quit" | "exit" => break,
                "help" => eprintln!("{HELP}"),
                "clear" => {
                    messages.clear();
                    eprintln!("(conversation cleared)");
                }
                "system" => {
                    system = (!arg.is_empty()).then(|| arg.to_string());
                    messages.clear();
                    eprintln!("(system prompt set; conversation cleared)");
                }
                "temperature" | "topk" => {
                    let mut next = sampler.clone();
                    let parsed = match name {
                        "temperature" => arg.parse().map(|t| next.temperature = t).is_ok(),
                        _ => arg.parse().map(|k| next.top_k = k).is_ok(),
                    };
                    match (parsed, next.validate(tok.n_vocab())) {
                        (true, Ok(())) => {
                            sampler = next;
                            eprintln!("({name} = {arg})");
                        }
                        (false, _) => eprintln!("/{name} needs a number"),
                        (_, Err(e)) => eprintln!("{e}"),
                    }
                }
                _ => eprintln!("unknown command /{name}; /help lists them"),
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let mut convo: Vec<Message> = system.iter().map(|s| Message::new(Role::System, s.clone())).collect();
        messages.push(Message::new(Role::User, line));
        convo.extend(messages.iter().cloned());
        let prompt = prompt_for_reply(&convo, &tok, &ct)?;
        let cfg = GenerateConfig {
            max_new_tokens: a.max_tokens,
            stop_tokens: vec![ct.assistant_end, ct.bos],
            samples: 1,
            show: 0,
            slide: false,
        };
        sampler.seed = sampler.seed.wrapping_add(turn);
        turn += 1;
        let mut stream = StreamDecoder::new();
        let mut reply = Vec::new();
        let mut run_tool = |call: &[u32]| {
            let text = String::from_utf8_lossy(&tok.decode_bytes(call).unwrap_or_default()).into_owned();
            tool_result_tokens(&tools.run(&ToolCall::parse(&text)), &tok, &ct)
        };
        let hook = ToolHook { start: ct.tool_call_start, end: ct.tool_call_end, call: &mut run_tool };
        let result = generate(&net, &prompt, &sampler, &cfg, Some(hook), &mut |_, token, _| {
            if cfg.stop_tokens.contains(&token) {
                return;
            }
            reply.push(token);
            // Tool calls and results shown as [NAME ARGS -> RESULT].
            let marker = match token {
                t if t == ct.tool_call_start => Some("["),
                t if t == ct.tool_call_end => Some(" -> "),
                t if t == ct.tool_result_start => Some(""),
                t if t == ct.tool_result_end => Some("] "),
                _ => None,
            };
            let text = match marker {
                Some(m) => Ok(m.to_string()),
                None => stream.push(&tok, token),
            };
            if let Ok(text) = text {
                let _ = write!(stdout, "{text}");
                let _ = stdout.flush();
            }
        });
        writeln!(stdout, "{}", stream.finish())?;
        match result {
            Ok(out) => {
                if out[0].finish == Finish::Context {
                    eprintln!("(the context of {} tokens is full: /clear to start over)", net.config().block_size);
                }
                let turn = parse_reply(&reply, &tok, &ct);
                let mut next = messages.clone();
                next.extend(turn);
                if minichat_chat::conversation::validate(&next).is_ok() {
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
