//! Batches for supervised fine-tuning: one conversation per row, never two, so no token
//! attends to another conversation (the causal attention has no masks between documents);
//! the rest of a row is padding that neither trains nor is attended to by the conversation.
//! Each row holds a conversation's first `t + 1` tokens at most (longer ones are cut there and
//! counted). Targets are the next tokens where the chat mask says the assistant wrote them,
//! `IGNORE` elsewhere, and the weight is 1 on those targets: `loss::weighted_nll` then gives
//! the mean loss over the assistant's tokens.
//!
//! Padding would cost most of the compute when conversations are much shorter than the
//! context, so a batch's rows are only as long as its longest conversation needs (rounded up
//! to a few sizes, `row_len`), and conversations of like length are batched together: the
//! epoch's shuffled order is cut into groups of `GROUP` batches, each sorted by length (the
//! "megabatches" of Hugging Face's `group_by_length`). The order depends only on the seed and
//! the epoch, so the position in it is the loader's whole state, saved with checkpoints.
//! (nanochat packs conversations into full rows instead and lets them see each other.)

use crate::loader::{shuffled, Position};
use crate::Error;
use minichat_model::cpu::cross_entropy::IGNORE;

/// Batches per length-sorted group.
const GROUP: usize = 32;

pub struct SftLoader {
    /// Each conversation's tokens and chat mask (1 = the assistant's), cut to `t + 1`.
    rows: Vec<(Vec<u32>, Vec<u8>)>,
    t: usize,
    b: usize,
    seed: u64,
    pad: u32,
    order: Vec<u32>,
    pub position: Position,
    /// Conversations longer than `t + 1` tokens, cut.
    pub truncated: usize,
}

/// The row length for inputs of `n` tokens: the next of 16, 24, 32, 48, 64, 96, ... (powers
/// of two and their halfway points, so at most a third of a row is padding and few
/// activation shapes are needed), at most `t`.
pub fn row_len(n: usize, t: usize) -> usize {
    let mut size = 16;
    while size < n {
        size = if size.is_power_of_two() { size + size / 2 } else { (size / 3) * 4 };
    }
    size.min(t)
}

impl SftLoader {
    /// A loader over rendered conversations (`conversation::render`'s ids and mask) for
    /// batches of `b` rows of at most `t` tokens, padded with `pad`. Conversations that train
    /// no token after the cut are left out; none left is an error.
    pub fn new(
        conversations: Vec<(Vec<u32>, Vec<u8>)>,
        t: usize,
        b: usize,
        seed: u64,
        pad: u32,
        position: Position,
    ) -> Result<SftLoader, Error> {
        let mut truncated = 0;
        let rows: Vec<(Vec<u32>, Vec<u8>)> = conversations
            .into_iter()
            .map(|(mut ids, mut mask)| {
                if ids.len() > t + 1 {
                    truncated += 1;
                    ids.truncate(t + 1);
                    mask.truncate(t + 1);
                }
                (ids, mask)
            })
            .filter(|(_, mask)| mask.iter().skip(1).any(|&m| m == 1))
            .collect();
        if t == 0 || b == 0 || rows.is_empty() {
            return Err(Error::Data(format!("no conversation has an assistant token within a context of {t}")));
        }
        if position.window as usize > rows.len() {
            return Err(Error::Data(format!("loader position {position:?} is past the {} conversations", rows.len())));
        }
        let mut loader = SftLoader { rows, t, b, seed, pad, order: Vec::new(), position, truncated };
        loader.order = loader.grouped_order(position.epoch);
        Ok(loader)
    }

    /// The epoch's shuffled order, sorted by length (longest first) within each group of
    /// `GROUP` batches.
    fn grouped_order(&self, epoch: u64) -> Vec<u32> {
        let mut order = shuffled(self.rows.len(), self.seed, epoch);
        for group in order.chunks_mut(GROUP * self.b) {
            group.sort_by_key(|&i| std::cmp::Reverse(self.rows[i as usize].0.len()));
        }
        order
    }

    /// Conversations per epoch.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Fills `ids`, `targets` and `weights` (room for `b × t`) with the next `b` conversations
    /// in rows of the length they need; returns that length.
    pub fn next_batch(&mut self, ids: &mut [u32], targets: &mut [u32], weights: &mut [f32]) -> usize {
        let mut picked = Vec::with_capacity(self.b);
        while picked.len() < self.b {
            if self.position.window as usize >= self.order.len() {
                self.position = Position { epoch: self.position.epoch + 1, window: 0 };
                self.order = self.grouped_order(self.position.epoch);
            }
            picked.push(self.order[self.position.window as usize] as usize);
            self.position.window += 1;
        }
        let longest = picked.iter().map(|&i| self.rows[i].0.len() - 1).max().unwrap_or(1);
        let row = row_len(longest, self.t);
        for (r, &index) in picked.iter().enumerate() {
            let span = r * row..(r + 1) * row;
            self.fill(index, &mut ids[span.clone()], &mut targets[span.clone()], &mut weights[span]);
        }
        row
    }

    /// Fills one row with conversation `index`, padded to the row's length.
    pub fn fill(&self, index: usize, row_ids: &mut [u32], row_targets: &mut [u32], row_weights: &mut [f32]) {
        let (conv, mask) = &self.rows[index];
        row_ids.fill(self.pad);
        row_targets.fill(IGNORE);
        row_weights.fill(0.0);
        let n = conv.len() - 1;
        row_ids[..n].copy_from_slice(&conv[..n]);
        for i in 0..n {
            if mask[i + 1] == 1 {
                row_targets[i] = conv[i + 1];
                row_weights[i] = 1.0;
            }
        }
    }
}

/// Fine-tuning's batches: weight 1 on the assistant's tokens.
impl crate::trainer::Batches for SftLoader {
    fn next(
        &mut self,
        _: &minichat_model::net::Net,
        ids: &mut [u32],
        targets: &mut [u32],
        weights: &mut [f32],
    ) -> Result<usize, Error> {
        Ok(self.next_batch(ids, targets, weights))
    }

    fn position(&self) -> Position {
        self.position
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_hold_one_conversation_and_train_only_the_assistant() {
        // Token 100 + i; the mask trains positions 3 and 4 of the first conversation.
        let a = ((100..106).collect::<Vec<u32>>(), vec![0, 0, 0, 1, 1, 0]);
        let long = ((0..20).collect::<Vec<u32>>(), [vec![0; 5], vec![1; 15]].concat());
        let nothing = (vec![1, 2, 3], vec![0, 0, 0]);
        let data = vec![a, long, nothing];
        let mut loader = SftLoader::new(data.clone(), 8, 2, 1, 0, Position::default()).unwrap();
        assert_eq!((loader.len(), loader.truncated), (2, 1));
        let (mut ids, mut targets, mut weights) = (vec![0; 16], vec![0; 16], vec![0.0; 16]);
        assert_eq!(loader.next_batch(&mut ids, &mut targets, &mut weights), 8);
        let row = (0..2).find(|&r| ids[r * 8] == 100).unwrap() * 8;
        assert_eq!(&ids[row..row + 8], &[100, 101, 102, 103, 104, 0, 0, 0]);
        assert_eq!(&targets[row..row + 8], &[IGNORE, IGNORE, 103, 104, IGNORE, IGNORE, IGNORE, IGNORE]);
        assert_eq!(&weights[row..row + 8], &[0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
        // The long one is cut to 9 tokens: 8 inputs, targets 1..=8, trained from position 4.
        let other = 8 - row;
        assert_eq!(&ids[other..other + 8], &[0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(&targets[other + 4..other + 8], &[5, 6, 7, 8]);
        // Resuming from the position gives the same batches.
        let mut again = SftLoader::new(data, 8, 2, 1, 0, loader.position).unwrap();
        let (mut ids2, mut targets2, mut weights2) = (vec![0; 16], vec![0; 16], vec![0.0; 16]);
        for _ in 0..3 {
            loader.next_batch(&mut ids, &mut targets, &mut weights);
            again.next_batch(&mut ids2, &mut targets2, &mut weights2);
            assert_eq!((&ids, &targets), (&ids2, &targets2));
        }
        assert!(SftLoader::new(vec![(vec![1, 2], vec![0, 0])], 8, 2, 1, 0, Position::default()).is_err());
    }

    #[test]
    fn rows_are_as_long_as_their_batch_needs() {
        assert_eq!(
            [1, 16, 17, 25, 33, 49, 65, 97, 129, 200].map(|n| row_len(n, 1024)),
            [16, 16, 24, 32, 48, 64, 96, 128, 192, 256]
        );
        assert_eq!(row_len(200, 100), 100);
        // Short (10 tokens) and long (60 tokens) conversations, shuffled together: batches of
        // like length, so padding stays small.
        let conv = |n: usize| ((0..n as u32).collect::<Vec<u32>>(), vec![1u8; n]);
        let data: Vec<_> = (0..512).map(|i| conv(if i % 3 == 0 { 60 } else { 10 })).collect();
        let mut loader = SftLoader::new(data, 256, 4, 7, 0, Position::default()).unwrap();
        let (mut ids, mut targets, mut weights) = (vec![0; 1024], vec![0; 1024], vec![0.0; 1024]);
        let (mut padded, mut trained) = (0, 0.0);
        for _ in 0..128 {
            let row = loader.next_batch(&mut ids, &mut targets, &mut weights);
            assert!(row == 16 || row == 64, "row of {row}");
            padded += 4 * row;
            trained += weights[..4 * row].iter().sum::<f32>();
        }
        // 512 conversations of 9 or 59 targets each, with at most one mixed batch per group.
        assert_eq!(trained as usize, 171 * 59 + 341 * 9);
        assert!(padded <= 171 * 64 + 341 * 16 + 4 * 4 * 48, "{padded} tokens for one epoch");
    }
}
