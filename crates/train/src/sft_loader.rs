//! Batches for supervised fine-tuning: one conversation per row, never two, so no token
//! attends to another conversation (the causal attention has no masks between documents);
//! the rest of a row is padding that neither trains nor is attended to by the conversation.
//! Each row holds a conversation's first `t + 1` tokens at most (longer ones are cut there and
//! counted). Targets are the next tokens where the chat mask says the assistant wrote them,
//! `IGNORE` elsewhere, and the weight is 1 on those targets: `loss::weighted_nll` then gives
//! the mean loss over the assistant's tokens. Rows are visited in a seeded order reshuffled
//! every epoch; the position is the loader's whole state, saved with checkpoints.
//!
//! Padding costs compute when conversations are much shorter than the context: the price of
//! no leakage (nanochat packs conversations into rows instead and lets them see each other).

use crate::loader::{shuffled, Position};
use crate::Error;
use minichat_model::cpu::cross_entropy::IGNORE;

pub struct SftLoader {
    /// Each conversation's tokens and chat mask (1 = the assistant's), cut to `t + 1`.
    rows: Vec<(Vec<u32>, Vec<u8>)>,
    t: usize,
    seed: u64,
    pad: u32,
    order: Vec<u32>,
    pub position: Position,
    /// Conversations longer than `t + 1` tokens, cut.
    pub truncated: usize,
}

impl SftLoader {
    /// A loader over rendered conversations (`conversation::render`'s ids and mask) for rows
    /// of `t` tokens, padded with `pad`. Conversations that train no token after the cut are
    /// left out; none left is an error.
    pub fn new(
        conversations: Vec<(Vec<u32>, Vec<u8>)>,
        t: usize,
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
        if t == 0 || rows.is_empty() {
            return Err(Error::Data(format!("no conversation has an assistant token within a context of {t}")));
        }
        if position.window as usize > rows.len() {
            return Err(Error::Data(format!("loader position {position:?} is past the {} conversations", rows.len())));
        }
        let order = shuffled(rows.len(), seed, position.epoch);
        Ok(SftLoader { rows, t, seed, pad, order, position, truncated })
    }

    /// Conversations per epoch.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Fills `ids`, `targets` and `weights` (`b × t`) with the next `b` conversations.
    pub fn next_batch(&mut self, ids: &mut [u32], targets: &mut [u32], weights: &mut [f32]) {
        let t = self.t;
        let rows = ids.chunks_exact_mut(t).zip(targets.chunks_exact_mut(t)).zip(weights.chunks_exact_mut(t));
        for ((row_ids, row_targets), row_weights) in rows {
            if self.position.window as usize >= self.order.len() {
                self.position = Position { epoch: self.position.epoch + 1, window: 0 };
                self.order = shuffled(self.rows.len(), self.seed, self.position.epoch);
            }
            let index = self.order[self.position.window as usize] as usize;
            self.position.window += 1;
            self.fill(index, row_ids, row_targets, row_weights);
        }
    }

    /// Fills one row (`t` tokens) with conversation `index`, padded.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_hold_one_conversation_and_train_only_the_assistant() {
        // Token 100 + i; the mask trains positions 3 and 4 of the first conversation.
        let a = ((100..106).collect::<Vec<u32>>(), vec![0, 0, 0, 1, 1, 0]);
        let long = ((0..20).collect::<Vec<u32>>(), [vec![0; 5], vec![1; 15]].concat());
        let nothing = (vec![1, 2, 3], vec![0, 0, 0]);
        let mut loader = SftLoader::new(vec![a, long, nothing], 8, 1, 0, Position::default()).unwrap();
        assert_eq!((loader.len(), loader.truncated), (2, 1));
        let (mut ids, mut targets, mut weights) = (vec![0; 16], vec![0; 16], vec![0.0; 16]);
        loader.next_batch(&mut ids, &mut targets, &mut weights);
        let row = (0..2).find(|&r| ids[r * 8] == 100).unwrap() * 8;
        assert_eq!(&ids[row..row + 8], &[100, 101, 102, 103, 104, 0, 0, 0]);
        assert_eq!(&targets[row..row + 8], &[IGNORE, IGNORE, 103, 104, IGNORE, IGNORE, IGNORE, IGNORE]);
        assert_eq!(&weights[row..row + 8], &[0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
        // The long one is cut to 9 tokens: 8 inputs, targets 1..=8, trained from position 4.
        let other = 8 - row;
        assert_eq!(&ids[other..other + 8], &[0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(&targets[other + 4..other + 8], &[5, 6, 7, 8]);
        // Resuming from the position gives the same batches.
        let mut again = SftLoader::new(
            vec![
                ((100..106).collect(), vec![0, 0, 0, 1, 1, 0]),
                ((0..20).collect(), [vec![0; 5], vec![1; 15]].concat()),
            ],
            8,
            1,
            0,
            loader.position,
        )
        .unwrap();
        let (mut ids2, mut targets2, mut weights2) = (vec![0; 16], vec![0; 16], vec![0.0; 16]);
        for _ in 0..3 {
            loader.next_batch(&mut ids, &mut targets, &mut weights);
            again.next_batch(&mut ids2, &mut targets2, &mut weights2);
            assert_eq!((&ids, &targets), (&ids2, &targets2));
        }
        assert!(SftLoader::new(vec![(vec![1, 2], vec![0, 0])], 8, 1, 0, Position::default()).is_err());
    }
}
