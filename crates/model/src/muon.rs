//! Muon (Keller Jordan et al. 2024, "Muon: An optimizer for hidden layers in neural
//! networks"): momentum SGD in which each 2-D weight matrix's update is replaced by the nearest
//! semi-orthogonal matrix (every singular value near 1), found by a few Newton-Schulz
//! iterations. Only the blocks' matrices take it; embeddings, the LM head, norms and biases
//! stay with AdamW (`params::hidden_matrices`), as in the paper and nanochat.
//!
//! Written to match `torch.optim.Muon` (torch 2.9+, defaults: Nesterov, 5 quintic steps,
//! coefficients (3.4445, -4.7750, 2.0315), the "original" learning-rate adjustment
//! `sqrt(max(1, rows / cols))`) step for step, with one difference: the iterations run in f32
//! where torch casts to bf16 (the more exact of the two; torch's bf16 products are faster on
//! CPUs with bf16 dot products, `bench/muon_step.sh`). Checked against fixtures from both
//! (`scripts/make_muon_fixture.py`).

use crate::cpu::huge_pages::zeroed;
use crate::cpu::linear::gemm_raw;
use crate::params::transpose;
use rayon::prelude::*;

/// The quintic's coefficients and step count (Jordan's, also torch's defaults): chosen to
/// raise small singular values fast, leaving them in about (0.7, 1.2) rather than at 1.
const NS: (f32, f32, f32) = (3.4445, -4.7750, 2.0315);
const NS_STEPS: usize = 5;
/// Floor on the Frobenius norm before the iterations (torch's `eps`).
const EPS: f32 = 1e-7;

/// One weight matrix inside the flat parameter buffer, `rows × cols` (`[out][in]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Matrix {
    pub offset: usize,
    pub rows: usize,
    pub cols: usize,
}

impl Matrix {
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// Settings and state: one momentum buffer per matrix, stored end to end.
#[derive(Clone, Debug)]
pub struct Muon {
    pub lr: f32,
    pub momentum: f32,
    pub weight_decay: f32,
    matrices: Vec<Matrix>,
    buf: Vec<f32>,
}

impl Muon {
    pub fn new(matrices: Vec<Matrix>, lr: f32, momentum: f32, weight_decay: f32) -> Muon {
        assert!(matrices.windows(2).all(|w| w[0].offset + w[0].len() <= w[1].offset), "matrices sorted, disjoint");
        let total = matrices.iter().map(Matrix::len).sum();
        Muon { lr, momentum, weight_decay, matrices, buf: zeroed(total) }
    }

    pub fn matrices(&self) -> &[Matrix] {
        &self.matrices
    }

    /// The momentum buffers, matrix after matrix (for checkpoints).
    pub fn momentum_buffer(&self) -> &[f32] {
        &self.buf
    }

    /// Restores momentum saved from an optimizer over the same matrices.
    pub fn restore(&mut self, buf: &[f32]) -> Result<(), crate::Error> {
        if buf.len() != self.buf.len() {
            return Err(crate::Error::Config(format!(
                "Muon's saved momentum holds {} values, this model's matrices {}",
                buf.len(),
                self.buf.len()
            )));
        }
        self.buf.copy_from_slice(buf);
        Ok(())
    }

    /// One update of the matrices of `params` from `grads` (flat buffers of the whole model;
    /// other parameters are not touched).
    pub fn update(&mut self, params: &mut [f32], grads: &[f32]) {
        assert!(self.matrices.iter().all(|m| m.offset + m.len() <= params.len().min(grads.len())));
        let (lr, mu, wd) = (self.lr, self.momentum, self.weight_decay);
        // Each matrix's own slices of the parameters and of the momentum, split off in order
        // (the matrices are disjoint and sorted, `new` checks), so the tasks share nothing.
        let (mut ps, mut bufs) = (Vec::with_capacity(self.matrices.len()), Vec::with_capacity(self.matrices.len()));
        let (mut p_rest, mut b_rest, mut at) = (&mut params[..], &mut self.buf[..], 0);
        for m in &self.matrices {
            let (_, p_tail) = std::mem::take(&mut p_rest).split_at_mut(m.offset - at);
            let (p, p_tail) = p_tail.split_at_mut(m.len());
            let (b, b_tail) = std::mem::take(&mut b_rest).split_at_mut(m.len());
            (p_rest, b_rest, at) = (p_tail, b_tail, m.offset + m.len());
            ps.push(p);
            bufs.push(b);
        }
        // One matrix per task, each product single-threaded: a model has tens of matrices,
        // enough to keep every thread busy without splitting a product.
        self.matrices.par_iter().zip(ps).zip(bufs).for_each(|((m, p), buf)| {
            let g = &grads[m.range()];
            // torch: buf.lerp_(grad, 1 - momentum), then grad.lerp(buf, momentum) (Nesterov).
            let mut update = vec![0f32; m.len()];
            for ((b, u), &g) in buf.iter_mut().zip(&mut update).zip(g) {
                *b += (1.0 - mu) * (g - *b);
                *u = g + mu * (*b - g);
            }
            let o = orthogonalize(update, m.rows, m.cols);
            let scaled = lr * (m.rows as f32 / m.cols as f32).max(1.0).sqrt();
            for (p, o) in p.iter_mut().zip(&o) {
                *p *= 1.0 - lr * wd;
                *p -= scaled * o;
            }
        });
    }
}

/// The semi-orthogonal matrix nearest `g` (`rows × cols`), approximately: `g` scaled to unit
/// Frobenius norm, then `NS_STEPS` of `X <- aX + (bXX^T + c(XX^T)^2)X` on the wide orientation
/// (rows <= cols, so the Gram matrix is the small one), as `torch.optim.Muon` computes it.
/// A wide `g` is worked on in place.
pub fn orthogonalize(g: Vec<f32>, rows: usize, cols: usize) -> Vec<f32> {
    assert_eq!(g.len(), rows * cols);
    let tall = rows > cols;
    let (m, n) = if tall { (cols, rows) } else { (rows, cols) };
    let mut x = g;
    if tall {
        let mut t = vec![0f32; m * n];
        transpose(&mut t, &x, rows, cols);
        x = t;
    }
    let norm = x.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt() as f32;
    let inv = 1.0 / norm.max(EPS);
    x.iter_mut().for_each(|v| *v *= inv);
    let (a, b, c) = NS;
    let (mut gram, mut poly, mut next) = (vec![0f32; m * m], vec![0f32; m * m], vec![0f32; m * n]);
    for _ in 0..NS_STEPS {
        // SAFETY: every operand is a whole row-major buffer of the sizes given: gram = X X^T
        // (m×n by n×m, X^T read through strides), poly = gram gram, next = poly X.
        unsafe {
            gemm_raw(m, m, n, gram.as_mut_ptr(), m, false, x.as_ptr(), (n, 1), x.as_ptr(), (1, n));
            gemm_raw(m, m, m, poly.as_mut_ptr(), m, false, gram.as_ptr(), (m, 1), gram.as_ptr(), (m, 1));
        }
        poly.iter_mut().zip(&gram).for_each(|(p, &g)| *p = b * g + c * *p);
        // SAFETY: as above.
        unsafe { gemm_raw(m, n, m, next.as_mut_ptr(), n, false, poly.as_ptr(), (m, 1), x.as_ptr(), (n, 1)) };
        next.iter_mut().zip(&x).for_each(|(y, &x)| *y += a * x);
        std::mem::swap(&mut x, &mut next);
    }
    if tall {
        let mut out = vec![0f32; rows * cols];
        transpose(&mut out, &x, m, n);
        out
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `a^T a` for `a` of `rows × cols`.
    fn gram_t(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        let mut out = vec![0f32; cols * cols];
        for i in 0..cols {
            for j in 0..cols {
                out[i * cols + j] = (0..rows).map(|r| a[r * cols + i] * a[r * cols + j]).sum();
            }
        }
        out
    }

    fn random(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = crate::rng::SplitMix64::new(seed);
        (0..n).map(|_| rng.gaussian_pair().0 as f32).collect()
    }

    #[test]
    fn singular_values_come_out_near_one() {
        // O^T O (tall) or O O^T (wide) has O's squared singular values as eigenvalues; the
        // quintic leaves them in about (0.7, 1.2), so the diagonal is near 1 and the rest small.
        for (rows, cols) in [(24, 8), (8, 24), (16, 16)] {
            let o = orthogonalize(random(rows * cols, 7), rows, cols);
            let (small, gram) = if rows > cols {
                (cols, gram_t(&o, rows, cols))
            } else {
                (rows, gram_t(&transposed(&o, rows, cols), cols, rows))
            };
            for i in 0..small {
                let d = gram[i * small + i];
                assert!((0.4..1.5).contains(&d), "{rows}x{cols}: diagonal {i} is {d}");
            }
            let off: f32 = (0..small * small).filter(|k| k % (small + 1) != 0).map(|k| gram[k].abs()).sum::<f32>()
                / (small * small - small) as f32;
            assert!(off < 0.15, "{rows}x{cols}: mean off-diagonal {off}");
        }
    }

    fn transposed(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        let mut t = vec![0f32; a.len()];
        transpose(&mut t, a, rows, cols);
        t
    }

    #[test]
    fn scale_does_not_matter_and_zero_stays_zero() {
        let g = random(12 * 20, 3);
        let (a, b) = (orthogonalize(g.clone(), 12, 20), orthogonalize(g.iter().map(|x| x * 1e3).collect(), 12, 20));
        assert!(a.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-4));
        assert!(orthogonalize(vec![0.0; 6], 2, 3).iter().all(|&x| x == 0.0));
    }

    #[test]
    fn update_touches_only_its_matrices() {
        let mut params = vec![1.0f32; 40];
        let grads = random(40, 5);
        let m = Matrix { offset: 10, rows: 4, cols: 5 };
        let mut opt = Muon::new(vec![m], 0.1, 0.95, 0.0);
        opt.update(&mut params, &grads);
        assert!(params[..10].iter().chain(&params[30..]).all(|&p| p == 1.0));
        assert!(params[10..30].iter().any(|&p| p != 1.0));
        // The first step's momentum is (1 - mu) g.
        assert!(opt.momentum_buffer().iter().zip(&grads[10..30]).all(|(b, g)| (b - 0.05 * g).abs() < 1e-6));
    }
}
