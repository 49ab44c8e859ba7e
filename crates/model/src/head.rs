//! The LM head and the loss where the loss needs them. The output layer is the largest product
//! of a small model (the tiny preset's vocabulary of 8,192 against a width of 256: 40% of its
//! FLOPs), and fine-tuning, RL, DPO and reward models put a target on a fraction of the rows
//! only (the assistant's tokens, a reply, the last token). So when some rows have a target and
//! some do not, the final norm's rows with a target are gathered, and only they go through
//! the head, the cross-entropy and back: the others' log-probabilities are 0 and their
//! gradient is 0, exactly as when their logits were computed and then ignored (TRL's
//! GRPOTrainer keeps the completion's logits only, `logits_to_keep`; nanochat computes all).
//!
//! A pass where every row has a target (pretraining) or none does (a caller that wants the
//! logits themselves) runs the head over every row, as before.

use crate::backend::Backend;
use crate::cpu::cross_entropy::IGNORE;
use crate::cpu::linear::Dst;

/// A pass's loss buffers: the logits (of the rows that ran the head; the backward pass turns
/// them into their gradient), each row's log-sum-exp, and log p(target) per row.
pub struct Loss<'a, B: Backend> {
    pub logits: &'a mut B::Buf,
    pub lse: &'a mut B::Buf,
    pub logp: &'a mut B::Buf,
}

/// The rows of a pass that go through the head, and the compact buffers they use.
pub struct HeadRows<B: Backend> {
    /// Runs of consecutive rows with a target: (first row, rows); empty when every row goes.
    runs: Vec<(usize, usize)>,
    /// Rows with a target.
    m: usize,
    /// Their targets, and the loss's derivatives in their log-probabilities, in row order.
    targets: Vec<u32>,
    dlogp: Vec<f32>,
    /// Their final-norm rows `[m][c]` (room for all `n`), and the gradient in them.
    x: B::Buf,
    dx: B::Buf,
    /// Their log-probabilities `[m]`.
    logp: B::Buf,
}

impl<B: Backend> HeadRows<B> {
    pub fn new(ops: &B, n: usize, c: usize) -> HeadRows<B> {
        HeadRows {
            runs: Vec::new(),
            m: 0,
            targets: Vec::new(),
            dlogp: Vec::new(),
            x: ops.zeros(n * c),
            dx: ops.zeros(n * c),
            logp: ops.zeros(n),
        }
    }

    /// The head (the matrix at `weight` in `w`, `[v][c]`) and the cross-entropy over the final
    /// norm's rows `x` (`[n][c]`), on the rows with a target only where some have none.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &mut self,
        ops: &B,
        loss: Loss<B>,
        x: &B::Buf,
        w: &B::Buf,
        weight: usize,
        targets: &[u32],
        c: usize,
        v: usize,
    ) {
        if self.select(targets) {
            self.gather(ops, x, c);
            ops.linear(loss.logits, &self.x, w, weight, None, self.m, c, v);
            ops.cross_entropy(&mut self.logp, loss.lse, loss.logits, &self.targets, v);
            self.scatter_logp(ops, loss.logp);
        } else {
            ops.linear(loss.logits, x, w, weight, None, targets.len(), c, v);
            ops.cross_entropy(loss.logp, loss.lse, loss.logits, targets, v);
        }
    }

    /// The backward pass of `forward`: writes the gradient in `x` into `dx` and adds the head's
    /// into `g`; the logits become their gradient.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &mut self,
        ops: &B,
        loss: Loss<B>,
        (x, dx): (&B::Buf, &mut B::Buf),
        (w, weight, g): (&B::Buf, usize, &mut B::Buf),
        targets: &[u32],
        dlogp: &[f32],
        c: usize,
        v: usize,
    ) {
        if self.selected() {
            self.gather_dlogp(dlogp);
            ops.cross_entropy_backward(loss.logits, loss.lse, &self.targets, &self.dlogp, v);
            ops.linear_backward(&mut self.dx, Dst::Write, g, weight, None, loss.logits, &self.x, w, self.m, c, v);
            self.scatter_dx(ops, dx, c);
        } else {
            ops.cross_entropy_backward(loss.logits, loss.lse, targets, dlogp, v);
            ops.linear_backward(dx, Dst::Write, g, weight, None, loss.logits, x, w, targets.len(), c, v);
        }
    }

    /// Finds the rows with a target; whether only those go through the head (some rows
    /// have a target and some do not).
    fn select(&mut self, targets: &[u32]) -> bool {
        self.runs.clear();
        self.targets.clear();
        for (i, &t) in targets.iter().enumerate() {
            if t == IGNORE {
                continue;
            }
            match self.runs.last_mut() {
                Some((first, rows)) if *first + *rows == i => *rows += 1,
                _ => self.runs.push((i, 1)),
            }
            self.targets.push(t);
        }
        self.m = self.targets.len();
        if self.m == 0 || self.m == targets.len() {
            self.runs.clear();
        }
        self.selected()
    }

    /// Rows of the last forward pass (of `n`) that went through the head.
    pub fn rows(&self, n: usize) -> usize {
        if self.selected() {
            self.m
        } else {
            n
        }
    }

    /// Whether the last `select` chose some rows only.
    fn selected(&self) -> bool {
        !self.runs.is_empty()
    }

    /// Gathers the chosen rows of `x` (`[n][c]`) into `self.x`.
    fn gather(&mut self, ops: &B, x: &B::Buf, c: usize) {
        let mut at = 0;
        for &(first, rows) in &self.runs {
            ops.copy_rows(&mut self.x, (at * c, c), x, (first * c, c), rows, c);
            at += rows;
        }
    }

    /// Writes the chosen rows' log-probabilities into `logp` (`[n]`), 0 elsewhere.
    fn scatter_logp(&self, ops: &B, logp: &mut B::Buf) {
        ops.fill(logp, 0.0);
        self.scatter(ops, logp, &self.logp, 1);
    }

    /// Takes the chosen rows' derivatives out of `dlogp` (`[n]`).
    fn gather_dlogp(&mut self, dlogp: &[f32]) {
        self.dlogp.clear();
        for &(first, rows) in &self.runs {
            self.dlogp.extend_from_slice(&dlogp[first..first + rows]);
        }
    }

    /// Writes the gradient of the chosen rows (`self.dx`) into `dx` (`[n][c]`), 0 elsewhere.
    fn scatter_dx(&self, ops: &B, dx: &mut B::Buf, c: usize) {
        ops.fill(dx, 0.0);
        self.scatter(ops, dx, &self.dx, c);
    }

    fn scatter(&self, ops: &B, dst: &mut B::Buf, src: &B::Buf, c: usize) {
        let mut at = 0;
        for &(first, rows) in &self.runs {
            ops.copy_rows(dst, (first * c, c), src, (at * c, c), rows, c);
            at += rows;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::backend::Cpu;

    #[test]
    fn rows_with_a_target_are_gathered_in_runs_and_scattered_back() {
        let mut h = HeadRows::<Cpu>::new(&Cpu, 6, 2);
        assert!(!h.select(&[1, 2, 3, 4, 5, 6]) && h.m == 6);
        assert!(!h.select(&[IGNORE; 6]) && h.m == 0);
        assert!(h.select(&[IGNORE, 7, 8, IGNORE, IGNORE, 9]));
        assert_eq!((h.m, &h.targets[..], &h.runs[..]), (3, &[7, 8, 9][..], &[(1, 2), (5, 1)][..]));
        let x: Vec<f32> = (0..12).map(|i| i as f32).collect();
        h.gather(&Cpu, &x, 2);
        assert_eq!(h.x[..6], [2.0, 3.0, 4.0, 5.0, 10.0, 11.0]);
        h.gather_dlogp(&[9.0, 1.0, 2.0, 9.0, 9.0, 3.0]);
        assert_eq!(h.dlogp, [1.0, 2.0, 3.0]);
        h.logp[..3].copy_from_slice(&[-1.0, -2.0, -3.0]);
        let mut logp = vec![5.0; 6];
        h.scatter_logp(&Cpu, &mut logp);
        assert_eq!(logp, [0.0, -1.0, -2.0, 0.0, 0.0, -3.0]);
        h.dx[..6].copy_from_slice(&[1.0, 1.0, 2.0, 2.0, 3.0, 3.0]);
        let mut dx = vec![7.0; 12];
        h.scatter_dx(&Cpu, &mut dx, 2);
        assert_eq!(dx, [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.0, 3.0, 3.0]);
    }
}
