//! `minichat serve RUN`: the run's chat model behind an OpenAI-compatible API
//! (`minichat_serve`): chat and text completions, streamed or not, many clients at once.
//! It binds 127.0.0.1 unless told otherwise, prints the URL, and stops cleanly on Ctrl-C.

use anyhow::{bail, Context, Result};
use clap::Args;
use minichat_serve::{serve_until_signal, Model, Options};
use minichat_train::run::Run;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args)]
pub struct ServeArgs {
    /// A run directory with a chat model.
    run: PathBuf,
    /// A checkpoint directory of the run (default: the latest).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// The address to listen on (another than 127.0.0.1 lets other machines in).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Clients must send this key (`Authorization: Bearer KEY`); /health stays open.
    #[arg(long, conflicts_with = "api_key_file")]
    api_key: Option<String>,
    /// Read the key from this file (first line), so it is not in the process list.
    #[arg(long)]
    api_key_file: Option<PathBuf>,
    /// The model's id in the API (default: the run folder's name).
    #[arg(long)]
    model_name: Option<String>,
    /// A search index (`minichat data index`) for the model's `search` tool calls.
    #[arg(long)]
    search_index: Option<PathBuf>,
    /// Replies generated at once.
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    /// Requests that may wait for a slot; more are answered 503 with Retry-After.
    #[arg(long, default_value_t = 64)]
    queue: usize,
    /// Reply tokens at most (and the default).
    #[arg(long, default_value_t = 512)]
    max_tokens: usize,
    /// A request's time limit in seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Request bodies larger than this many bytes are refused (413).
    #[arg(long, default_value_t = 2 << 20)]
    max_body: usize,
    /// Prompt tokens fed per step while a prompt prefills (others decode between chunks).
    #[arg(long, default_value_t = 256)]
    prefill_chunk: usize,
    /// Feed every prompt whole: keep no finished reply's KV cache for prompts that share its
    /// start (replies are the same either way; this only costs time).
    #[arg(long)]
    no_prompt_cache: bool,
    /// The SQLite file that keeps votes on replies from the web page (default:
    /// RUN/feedback.sqlite); `minichat feedback export` turns them into preference pairs.
    #[arg(long)]
    feedback: Option<PathBuf>,
    /// An origin allowed to call from a browser (repeatable; `*` for any).
    #[arg(long)]
    cors_origin: Vec<String>,
    /// Decode with the weights packed to bf16 (faster; logits within about 1e-2 of f32).
    #[arg(long)]
    bf16: bool,
}

pub fn run(a: ServeArgs) -> Result<()> {
    let api_key = match (&a.api_key, &a.api_key_file) {
        (Some(k), _) => Some(k.clone()),
        (None, Some(f)) => {
            let text =
                std::fs::read_to_string(f).with_context(|| format!("reading the API key from {}", f.display()))?;
            let key = text.lines().next().unwrap_or("").trim().to_string();
            if key.is_empty() {
                bail!("{}: the first line is empty (it should hold the API key)", f.display());
            }
            Some(key)
        }
        (None, None) => None,
    };
    let run = Run::open(&a.run)?;
    let model = run.load_model(a.checkpoint.as_deref(), a.bf16)?;
    let index = a.search_index.as_ref().map(|p| minichat_data::index::Index::load(p)).transpose()?;
    let search = index.map(|i| Box::new(move |q: &str| i.tool_result(q)) as minichat_serve::SearchFn);
    let id = a.model_name.clone().unwrap_or_else(|| {
        let name = a.run.canonicalize().ok().and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
        name.unwrap_or_else(|| "minichat".into())
    });
    let options = Options {
        host: a.host.clone(),
        port: a.port,
        api_key,
        parallel: a.parallel,
        queue: a.queue,
        max_tokens: a.max_tokens,
        timeout: Duration::from_secs(a.timeout),
        max_body_bytes: a.max_body,
        prefill_chunk: a.prefill_chunk,
        prompt_cache: !a.no_prompt_cache,
        feedback: Some(a.feedback.clone().unwrap_or_else(|| a.run.join(minichat_serve::feedback::FILE))),
        metrics: Some(run.metrics()),
        cors_origins: a.cors_origin.clone(),
        ..Options::default()
    };
    let parallel = a.parallel;
    // Writing to a socket whose client has gone must be an error, not the end of the server.
    #[cfg(unix)]
    // SAFETY: sets SIGPIPE's disposition (process-wide, no handler runs) before serving.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    let served =
        serve_until_signal(Model { net: model.net, tok: model.tok, search, id: id.clone() }, options, |addr| {
            eprintln!("serving {id} ({parallel} at once) on http://{addr}/v1  (Ctrl-C stops)");
        });
    served.with_context(|| format!("serving on {}:{}", a.host, a.port))?;
    eprintln!("stopped");
    Ok(())
}
