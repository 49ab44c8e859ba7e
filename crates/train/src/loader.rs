//! Batches for training: the token stream is cut into non-overlapping windows of `t + 1`
//! tokens (inputs and their next-token targets), visited in a seeded random order that is
//! reshuffled every epoch. The position (epoch, window) is all the state there is, so saving
//! it with a checkpoint resumes the exact same batch sequence.

use crate::Error;
use minichat_model::rng::SplitMix64;
use serde::{Deserialize, Serialize};

/// Where the loader is: the next window to hand out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub epoch: u64,
    pub window: u64,
}

/// `0..n` in the order of `epoch` (Fisher-Yates with a generator seeded by seed and epoch).
pub(crate) fn shuffled(n: usize, seed: u64, epoch: u64) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    SplitMix64::new(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15)).shuffle(&mut order);
    order
}

pub struct Loader {
    tokens: Vec<u32>,
    t: usize,
    seed: u64,
    order: Vec<u32>,
    pub position: Position,
}

impl Loader {
    /// A loader over `tokens` for sequences of `t`, at `position`.
    pub fn new(tokens: Vec<u32>, t: usize, seed: u64, position: Position) -> Result<Loader, Error> {
        let windows = tokens.len().saturating_sub(1) / t.max(1);
        if t == 0 || windows == 0 {
            return Err(Error::Data(format!(
                "{} tokens are too few for one sequence of context length {t} (need {})",
                tokens.len(),
                t + 1
            )));
        }
        if windows > u32::MAX as usize {
            return Err(Error::Data(format!("{windows} windows: more than this loader indexes")));
        }
        let mut loader = Loader { tokens, t, seed, order: Vec::new(), position };
        loader.shuffle();
        if position.window as usize > windows {
            return Err(Error::Data(format!(
                "loader position {position:?} is past the {windows} windows of this data"
            )));
        }
        Ok(loader)
    }

    /// Windows per epoch.
    pub fn windows(&self) -> usize {
        self.order.len()
    }

    /// The order of this epoch's windows.
    fn shuffle(&mut self) {
        self.order = shuffled(self.tokens.len().saturating_sub(1) / self.t, self.seed, self.position.epoch);
    }

    /// Fills `ids` and `targets` (`b × t`, `b = ids.len() / t`) with the next `b` windows.
    pub fn next_batch(&mut self, ids: &mut [u32], targets: &mut [u32]) {
        let t = self.t;
        for (row_ids, row_targets) in ids.chunks_exact_mut(t).zip(targets.chunks_exact_mut(t)) {
            if self.position.window as usize >= self.order.len() {
                self.position = Position { epoch: self.position.epoch + 1, window: 0 };
                self.shuffle();
            }
            let start = self.order[self.position.window as usize] as usize * t;
            row_ids.copy_from_slice(&self.tokens[start..start + t]);
            row_targets.copy_from_slice(&self.tokens[start + 1..start + t + 1]);
            self.position.window += 1;
        }
    }
}

/// Pretraining's batches: every target weighs 1.
impl crate::trainer::Batches for Loader {
    fn next(
        &mut self,
        _: &minichat_model::net::Net,
        ids: &mut [u32],
        targets: &mut [u32],
        weights: &mut [f32],
    ) -> Result<usize, Error> {
        self.next_batch(ids, targets);
        weights.fill(1.0);
        Ok(self.t)
    }

    fn position(&self) -> Position {
        self.position
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_every_window_once_per_epoch_and_resume_exactly() {
        let tokens: Vec<u32> = (0..101).collect();
        let mut a = Loader::new(tokens.clone(), 10, 7, Position::default()).unwrap();
        assert_eq!(a.windows(), 10);
        let (mut ids, mut targets) = (vec![0; 20], vec![0; 20]);
        let mut starts = Vec::new();
        for _ in 0..5 {
            a.next_batch(&mut ids, &mut targets);
            for row in 0..2 {
                assert!(ids[row * 10..(row + 1) * 10].iter().zip(&targets[row * 10..]).all(|(i, t)| t == &(i + 1)));
                starts.push(ids[row * 10]);
            }
        }
        starts.sort();
        assert_eq!(starts, (0..10).map(|i| i * 10).collect::<Vec<_>>());
        // Resuming from a saved position gives the same next batches.
        let saved = a.position;
        let mut b = Loader::new(tokens.clone(), 10, 7, saved).unwrap();
        let (mut ids2, mut targets2) = (vec![0; 20], vec![0; 20]);
        for _ in 0..7 {
            a.next_batch(&mut ids, &mut targets);
            b.next_batch(&mut ids2, &mut targets2);
            assert_eq!((&ids, &targets), (&ids2, &targets2));
        }
        // Another seed, another order.
        let mut c = Loader::new(tokens, 10, 8, Position::default()).unwrap();
        let mut d = Loader::new((0..101).collect(), 10, 7, Position::default()).unwrap();
        c.next_batch(&mut ids, &mut targets);
        d.next_batch(&mut ids2, &mut targets2);
        assert_ne!(ids, ids2);
    }

    #[test]
    fn too_little_data_is_a_clear_error() {
        let err = Loader::new(vec![1, 2, 3], 8, 0, Position::default()).err().unwrap().to_string();
        assert!(err.contains("too few") && err.contains("context length 8"), "{err}");
    }
}
