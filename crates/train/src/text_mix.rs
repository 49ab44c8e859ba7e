//! Plain text mixed into fine-tuning, so that it does not forget the base model's language:
//! fine-tuning on a narrow set of conversations alone raises the speedrun model's bits per byte
//! on held-out text from 2.13 to 4.70. The text is the pretraining run's own training split
//! (never its validation documents, on which the exam measures), cut into pieces of a full
//! context, each a fine-tuning row with every token trained: a pretraining step's rows, through
//! the one weighted loss. They join the conversations in the loader's shuffled, length-grouped
//! order, so they mostly form batches of their own among the conversations' batches.
//! (nanochat mixes general chat data into mid-training and fine-tuning instead; plain text is
//! what a run made from scratch has.)

use crate::heldout::pretraining_run;
use crate::run::Run;
use crate::sft::Rendered;
use crate::tokenize::load_split;
use crate::Error;
use minichat_tokenizer::Tokenizer;

/// `n` pieces of `t + 1` tokens from the training split of the pretraining run that `run`
/// descends from, spread evenly over it (overlapping when it is shorter than `n` pieces), each
/// with a mask that trains every token. Empty when `n` is 0.
pub fn pieces(run: &Run, tok: &Tokenizer, n: usize, t: usize) -> Result<Rendered, Error> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let holder = pretraining_run(run)?;
    let tokens = load_split(&holder.shards(), "train", tok.n_vocab(), tok.bos_id()?)?;
    if tokens.len() <= t + 1 {
        return Err(Error::Data(format!(
            "{}: {} training tokens, fewer than one piece of {} to mix into fine-tuning",
            holder.shards().display(),
            tokens.len(),
            t + 1
        )));
    }
    let last_start = tokens.len() - (t + 1);
    Ok((0..n)
        .map(|i| {
            let start = (i as u128 * last_start as u128 / (n - 1).max(1) as u128) as usize;
            (tokens[start..start + t + 1].to_vec(), vec![1u8; t + 1])
        })
        .collect())
}
