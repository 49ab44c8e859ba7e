//! Bits per byte on held-out text, for the exam: measured as pretraining's validation measures
//! it (`trainer::evaluate`), on the same documents pretraining held out.
//!
//! By default the text is the run's own validation shards; a fine-tuning, reinforcement-learning
//! or preference run has none, so those of the pretraining run it descends from are used (the
//! text it was pretrained on, held out). Corpus files can be given
//! instead: they are read by the one document reader (`minichat-corpus`, so plain text is cut
//! into the same 64 KiB documents as in pretraining) and their held-out documents are the ones
//! whose hash falls in the validation share (`tokenize::is_val`), as pretraining's split.

use crate::run::Run;
use crate::tokenize::{is_val, load_split};
use crate::Error;
use minichat_corpus::documents::{self, Options};
use minichat_model::net::Net;
use minichat_tokenizer::Tokenizer;
use std::path::PathBuf;

/// Validation tokens at most per measurement (the exam's budget).
pub const MAX_TOKENS: usize = 200_000;

/// The run that holds the validation shards of `run`'s model: `run` itself, or for a run that
/// a later stage made from a checkpoint (`Run::base_checkpoint`), the run of that checkpoint,
/// and so on back to pretraining.
pub fn pretraining_run(run: &Run) -> Result<Run, Error> {
    let mut current = run.clone();
    // A chain of stages is short; the bound only stops a loop of runs that name each other.
    for _ in 0..16 {
        let Some(checkpoint) = current.base_checkpoint()? else { return Ok(current) };
        // RUN/checkpoints/step_NNNNNN: two folders up is the base run.
        match checkpoint.parent().and_then(|p| p.parent()) {
            Some(dir) if dir.join("config.toml").is_file() => current = Run::open(dir)?,
            _ => {
                return Err(Error::Data(format!(
                    "{}: its base checkpoint {} is not inside a run; name the held-out text instead",
                    current.path().display(),
                    checkpoint.display()
                )))
            }
        }
    }
    Err(Error::Data(format!("{}: more than 16 runs back to pretraining", run.path().display())))
}

/// The held-out tokens of `run`'s model (see `pretraining_run`), documents separated by bos.
pub fn validation_tokens(run: &Run, tok: &Tokenizer) -> Result<Vec<u32>, Error> {
    let holder = pretraining_run(run)?;
    load_split(&holder.shards(), "val", tok.n_vocab(), tok.bos_id()?)
}

/// The held-out documents of corpus files (pretraining's split at `val_fraction`), each
/// after a bos token.
pub fn corpus_tokens(paths: &[PathBuf], tok: &Tokenizer, val_fraction: f64) -> Result<Vec<u32>, Error> {
    let bos = tok.bos_id()?;
    let (docs, _) = documents::read_all(paths, &Options::default())?;
    let mut ids = Vec::new();
    for d in docs.iter().filter(|d| is_val(d, val_fraction)) {
        ids.push(bos);
        tok.encode_ordinary_into(d, &mut ids);
    }
    Ok(ids)
}

/// Bits per byte of `net` on `tokens` (at most `MAX_TOKENS`); None when they are fewer than one
/// sequence of the model's context.
pub fn bits_per_byte(net: &Net, tok: &Tokenizer, tokens: &[u32]) -> Result<Option<f32>, Error> {
    let t = net.config().block_size;
    if tokens.len() <= t {
        return Ok(None);
    }
    let mut acts = net.acts(4, t)?;
    Ok(Some(crate::trainer::evaluate(net, &mut acts, tokens, tok, MAX_TOKENS)?.1))
}
