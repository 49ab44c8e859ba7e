//! `minichat generate RUN --prompt ...`: continue a prompt with a base model, streaming the
//! text as it comes (never half a UTF-8 character), with every sampler setting; `--show-probs
//! K` prints, for each token, the top candidates before and after the sampler's filters and
//! which one was drawn.

use anyhow::{bail, Result};
use clap::Args;
use minichat_chat::generate::{generate, Finish, GenerateConfig};
use minichat_chat::sampler::{Draw, SamplerConfig};
use minichat_model::net::Net;
use minichat_tokenizer::stream::StreamDecoder;
use minichat_tokenizer::{tokenizer_file, Tokenizer};
use minichat_train::run::Run;
use minichat_train::tokenize::bos_id;
use std::io::Write;
use std::path::PathBuf;

/// The sampler flags (shared with `minichat chat`).
#[derive(Args, Clone)]
pub struct SamplerArgs {
    /// Temperature; 0 is greedy.
    #[arg(long, default_value_t = 0.8)]
    temperature: f32,
    /// Keep the K most likely tokens (0 = off).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Keep the most likely tokens up to this total probability (1 = off).
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    /// Keep tokens at least this fraction as likely as the best one (0 = off).
    #[arg(long, default_value_t = 0.0)]
    min_p: f32,
    /// Divide positive logits (multiply negative ones) of tokens already in the text (1 = off).
    #[arg(long, default_value_t = 1.0)]
    repetition_penalty: f32,
    /// Subtract count × this from generated tokens' logits (OpenAI's frequency_penalty).
    #[arg(long, default_value_t = 0.0)]
    frequency_penalty: f32,
    /// Subtract this from the logits of tokens generated at least once.
    #[arg(long, default_value_t = 0.0)]
    presence_penalty: f32,
    /// Add a bias to a token's logit: ID=BIAS (repeatable; -inf bans the token).
    #[arg(long, value_parser = parse_bias)]
    logit_bias: Vec<(u32, f32)>,
    /// Seed of the sampler: the same seed gives the same text.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn parse_bias(s: &str) -> Result<(u32, f32), String> {
    let (id, bias) = s.split_once('=').ok_or_else(|| format!("{s:?}: expected ID=BIAS"))?;
    let id = id.trim().parse().map_err(|_| format!("{id:?} is not a token id"))?;
    let bias = bias.trim().parse().map_err(|_| format!("{bias:?} is not a number"))?;
    Ok((id, bias))
}

impl SamplerArgs {
    pub fn config(&self) -> SamplerConfig {
        SamplerConfig {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repetition_penalty: self.repetition_penalty,
            frequency_penalty: self.frequency_penalty,
            presence_penalty: self.presence_penalty,
            logit_bias: self.logit_bias.clone(),
            seed: self.seed,
        }
    }
}

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

/// The model and tokenizer of a run's checkpoint.
pub fn load(run: &PathBuf, checkpoint: Option<PathBuf>, bf16: bool) -> Result<(Net, Tokenizer)> {
    let run = Run::new(run);
    let ckpt = crate::export::pick_checkpoint(&run, checkpoint)?;
    if !run.tokenizer().exists() {
        bail!("{} has no tokenizer ({} is missing)", run.path().display(), run.tokenizer().display());
    }
    let tok = tokenizer_file::load(&run.tokenizer().display().to_string(), "gpt4")?;
    let mut net = Net::load_dir(&ckpt)?;
    if bf16 {
        net.pack_for_inference();
    }
    if net.config().vocab_size != tok.n_vocab() {
        bail!(
            "the checkpoint's vocabulary ({}) differs from the run's tokenizer ({})",
            net.config().vocab_size,
            tok.n_vocab()
        );
    }
    Ok((net, tok))
}

pub fn run(a: GenerateArgs) -> Result<()> {
    let (net, tok) = load(&a.run, a.checkpoint, a.bf16)?;
    let bos = bos_id(&tok)?;
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
    let out = generate(&net, &prompt, &a.sampler.config(), &cfg, None, &mut |s, token, draw| {
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
        if Some(token) == cfg.stop_tokens.first().copied() {
            return;
        }
        match stream.push(&tok, token) {
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
