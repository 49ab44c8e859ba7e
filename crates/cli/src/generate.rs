//! `minichat generate RUN --prompt ...`: continue a prompt with a base model, streaming the
//! text as it comes (never half a UTF-8 character), with every sampler setting; `--show-probs
//! K` prints, for each token, the top candidates before and after the sampler's filters and
//! which one was drawn.

use crate::args::SamplerArgs;
use anyhow::Result;
use clap::Args;
use minichat_chat::generate::{generate, Finish, GenerateConfig};
use minichat_chat::sampler::Draw;
use minichat_tokenizer::stream::StreamDecoder;
use minichat_train::run::Run;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct GenerateArgs {
    /// A run directory (made by `minichat pretrain`).
    run: PathBuf,
    /// The text to continue (after a bos token, as documents start in training). Special-token
    /// text in it is ordinary text, never a control token.
    #[arg(short, long)]
    prompt: String,
    /// A checkpoint directory of the run (default: the latest).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// New tokens at most.
    #[arg(short = 'n', long, default_value_t = 100)]
    max_tokens: usize,
    /// Samples of the prompt (they share its prefill).
    #[arg(long, default_value_t = 1)]
    samples: usize,
    /// For each token, print the K most likely candidates before and after sampling's filters.
    #[arg(long, default_value_t = 0)]
    show_probs: usize,
    /// At the context limit keep the newest half of the context and go on (instead of stopping).
    #[arg(long)]
    slide: bool,
    /// Decode with the weights packed to bf16: about 2x faster on GPT-2-small-sized models
    /// (half the memory traffic per token), logits within about 1e-2 of f32.
    #[arg(long)]
    bf16: bool,
    #[command(flatten)]
    sampler: SamplerArgs,
}

pub fn run(a: GenerateArgs) -> Result<()> {
    let model = Run::open(&a.run)?.load_model(a.checkpoint.as_deref(), a.bf16)?;
    let (net, tok) = (&model.net, &model.tok);
    let bos = tok.bos_id()?;
    let mut prompt = vec![bos];
    prompt.extend(tok.encode_ordinary(&a.prompt));
    let cfg = GenerateConfig {
        max_new_tokens: a.max_tokens,
        stop_tokens: vec![bos],
        samples: a.samples,
        show: a.show_probs,
        slide: a.slide,
    };
    let piece = |id: u32| String::from_utf8_lossy(&tok.decode_bytes(&[id]).unwrap_or_default()).into_owned();
    let mut stream = StreamDecoder::new();
    let mut current = usize::MAX;
    let mut stdout = std::io::stdout().lock();
    let mut failed = None;
    let out = generate(net, &prompt, &a.sampler.config(), &cfg, None, &mut |s, token, draw| {
        if s != current {
            let _ = write!(stdout, "{}", stream.finish());
            if a.samples > 1 {
                let _ = writeln!(stdout, "{}--- sample {} ---", if s > 0 { "\n" } else { "" }, s + 1);
            }
            let _ = write!(stdout, "{}", a.prompt);
            current = s;
        }
        if let Some(d) = draw.filter(|_| a.show_probs > 0) {
            let _ = writeln!(stdout, "\n{}", show(d, &piece));
        }
        if token == bos {
            return;
        }
        match stream.push(tok, token) {
            Ok(text) => {
                let _ = write!(stdout, "{text}");
                let _ = stdout.flush();
            }
            Err(e) => failed = Some(e),
        }
    })?;
    writeln!(stdout, "{}", stream.finish())?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    for (s, c) in out.iter().enumerate() {
        let why = match c.finish {
            Finish::Stop(_) => "end of document".to_string(),
            Finish::Length => format!("{} tokens (--max-tokens)", c.tokens.len()),
            Finish::Context => {
                format!("the context of {} tokens is full (--slide keeps going)", net.config().block_size)
            }
        };
        eprintln!("[sample {}: {} tokens, stopped at {why}]", s + 1, c.tokens.len());
    }
    Ok(())
}

/// `--show-probs`: the candidates before and after the filters, and the draw.
fn show(d: &Draw, piece: &dyn Fn(u32) -> String) -> String {
    let list = |c: &[(u32, f32)]| {
        c.iter().map(|&(id, p)| format!("{:?} {:.1}%", piece(id), p * 100.0)).collect::<Vec<_>>().join(", ")
    };
    format!("  [model: {}]\n  [after filters: {}]\n  [drawn: {:?}]", list(&d.before), list(&d.after), piece(d.token))
}
