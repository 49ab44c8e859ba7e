//! Linear layer `out = inp · W^T + bias` with `W` laid out `[out_features][in_features]` like
//! `torch.nn.Linear` (GPT-2's Conv1D checkpoints are transposed on load).
//!
//! The f32 path runs on the `gemm` crate; a generic loop version (`*_ref`) is the f64 reference
//! for finite-difference checks and the oracle the gemm path is tested against.

use super::float::Float;
use super::Shared;
use rayon::prelude::*;

/// Whether a kernel overwrites its output buffer or adds into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dst {
    /// `dst = result` (no need to clear `dst` first).
    Write,
    /// `dst += result` (a gradient with several contributions).
    Add,
}

/// Runs gemm: `dst[m×n] = (bias | dst | 0) + lhs[m×k] · rhs[k×n]`, each operand given by
/// (row stride, col stride); `bias` (length n) is broadcast over the rows.
/// `threads` is how many row bands the product may be split into.
#[allow(clippy::too_many_arguments)]
fn gemm_f32(
    threads: usize,
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    mode: Dst,
    bias: Option<&[f32]>,
    lhs: &[f32],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[f32],
    (rhs_rs, rhs_cs): (usize, usize),
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        dst.len() >= m * n
            && (k == 0
                || lhs.len() > (m - 1) * lhs_rs + (k - 1) * lhs_cs && rhs.len() > (k - 1) * rhs_rs + (n - 1) * rhs_cs)
            && bias.is_none_or(|b| b.len() >= n)
    );
    // A few rows (decoding one token): split the columns instead, so every thread streams its
    // share of the weights (this is memory-bound).
    if m < 2 * 16 && threads > 1 && m * n * k >= 1 << 20 && n >= 128 {
        let width = n.div_ceil(threads).next_multiple_of(16);
        let dst_p = Shared(dst.as_mut_ptr());
        (0..n).step_by(width).collect::<Vec<_>>().into_par_iter().for_each(|j0| {
            let cols = width.min(n - j0);
            // SAFETY: this task writes columns j0..j0+cols of every row of dst only; the
            // bounds were asserted above.
            unsafe {
                let d = dst_p.get().add(j0);
                for r in 0..m {
                    let row = std::slice::from_raw_parts_mut(d.add(r * n), cols);
                    match (bias, mode) {
                        (Some(b), Dst::Write) => row.copy_from_slice(&b[j0..j0 + cols]),
                        (Some(b), Dst::Add) => row.iter_mut().zip(&b[j0..]).for_each(|(x, b)| *x += b),
                        (None, Dst::Write) if k == 0 => row.fill(0.0),
                        _ => {}
                    }
                }
                if k > 0 {
                    let accumulate = bias.is_some() || mode == Dst::Add;
                    gemm_raw(
                        m,
                        cols,
                        k,
                        d,
                        n,
                        accumulate,
                        lhs.as_ptr(),
                        (lhs_rs, lhs_cs),
                        rhs.as_ptr().add(j0 * rhs_cs),
                        (rhs_rs, rhs_cs),
                    );
                }
            }
        });
        return;
    }
    // Below ~1 MFLOP the thread hand-off costs more than it saves. Above it, split the output
    // rows into one band per thread, each a single-threaded gemm: measured faster here than
    // gemm's own 2-thread split (bench/train_step.sh).
    let band =
        if m * n * k < 1 << 20 || threads == 1 || m < 2 * 16 { m } else { m.div_ceil(threads).next_multiple_of(16) };
    dst[..m * n].par_chunks_mut(band * n).enumerate().for_each(|(i, dst)| {
        let rows = dst.len() / n;
        let lhs = &lhs[i * band * lhs_rs..];
        // The bias goes in first and gemm adds onto it, in the same pass over this band.
        let accumulate = match (bias, mode) {
            (Some(bias), Dst::Write) => {
                dst.chunks_exact_mut(n).for_each(|row| row.copy_from_slice(&bias[..n]));
                true
            }
            (Some(bias), Dst::Add) => {
                dst.chunks_exact_mut(n).for_each(|row| row.iter_mut().zip(bias).for_each(|(d, b)| *d += b));
                true
            }
            (None, mode) => mode == Dst::Add,
        };
        if k == 0 {
            if !accumulate {
                dst.fill(0.0);
            }
            return;
        }
        // SAFETY: band i covers rows i*band .. i*band+rows of dst and lhs, inside the bounds
        // asserted above.
        unsafe {
            gemm_raw(
                rows,
                n,
                k,
                dst.as_mut_ptr(),
                n,
                accumulate,
                lhs.as_ptr(),
                (lhs_rs, lhs_cs),
                rhs.as_ptr(),
                (rhs_rs, rhs_cs),
            )
        };
    });
}

/// `dst[m×n] (+)= lhs[m×k] · rhs[k×n]` on raw pointers, `dst` with row stride `dst_rs`,
/// single-threaded (callers parallelise over bands or heads).
///
/// # Safety
/// Every element addressed through the sizes and strides must be inside its allocation, and
/// no other thread may touch the `dst` elements meanwhile.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_raw(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    lhs: *const f32,
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: *const f32,
    (rhs_rs, rhs_cs): (usize, usize),
) {
    gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        dst_rs as isize,
        accumulate,
        lhs,
        lhs_cs as isize,
        lhs_rs as isize,
        rhs,
        rhs_cs as isize,
        rhs_rs as isize,
        if accumulate { 1.0 } else { 0.0 },
        1.0,
        false,
        false,
        false,
        gemm::Parallelism::None,
    );
}

/// `out[n×oc] = inp[n×c] · w[oc×c]^T + bias`.
pub fn forward(out: &mut [f32], inp: &[f32], w: &[f32], bias: Option<&[f32]>, n: usize, c: usize, oc: usize) {
    gemm_f32(rayon::current_num_threads(), n, oc, c, out, Dst::Write, bias, inp, (c, 1), w, (1, c));
}

/// `dinp (+)= dout · w` (as `dinp_mode` says), and accumulates `dw += dout^T · inp`,
/// `dbias += sum over rows of dout`.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    dinp: &mut [f32],
    dinp_mode: Dst,
    dw: &mut [f32],
    dbias: Option<&mut [f32]>,
    dout: &[f32],
    inp: &[f32],
    w: &[f32],
    n: usize,
    c: usize,
    oc: usize,
) {
    // One product after the other, each split in row bands over all threads: measured faster
    // than running the two side by side on one thread each (they compete for memory
    // bandwidth, and one thread's product takes longer than two half-products).
    let threads = rayon::current_num_threads();
    gemm_f32(threads, n, c, oc, dinp, dinp_mode, None, dout, (oc, 1), w, (c, 1));
    gemm_f32(threads, oc, c, n, dw, Dst::Add, None, dout, (1, oc), inp, (c, 1));
    if let Some(dbias) = dbias {
        column_sums(&mut dbias[..oc], dout, oc);
    }
}

/// `sums[j] += sum over rows of m[r][j]`, columns split across threads (each thread reads its
/// columns of every row; the inner loop over columns vectorises).
fn column_sums(sums: &mut [f32], m: &[f32], cols: usize) {
    let width = cols.div_ceil(rayon::current_num_threads()).next_multiple_of(16);
    sums.par_chunks_mut(width).enumerate().for_each(|(i, sums)| {
        for row in m.chunks_exact(cols) {
            for (s, x) in sums.iter_mut().zip(&row[i * width..]) {
                *s += x;
            }
        }
    });
}

/// Reference forward, any float type.
pub fn forward_ref<T: Float>(out: &mut [T], inp: &[T], w: &[T], bias: Option<&[T]>, n: usize, c: usize, oc: usize) {
    for r in 0..n {
        for o in 0..oc {
            let mut s = bias.map_or(T::default(), |b| b[o]);
            for i in 0..c {
                s += inp[r * c + i] * w[o * c + i];
            }
            out[r * oc + o] = s;
        }
    }
}

/// Reference backward, any float type.
#[allow(clippy::too_many_arguments)]
pub fn backward_ref<T: Float>(
    dinp: &mut [T],
    dw: &mut [T],
    mut dbias: Option<&mut [T]>,
    dout: &[T],
    inp: &[T],
    w: &[T],
    n: usize,
    c: usize,
    oc: usize,
) {
    for r in 0..n {
        for o in 0..oc {
            let g = dout[r * oc + o];
            for i in 0..c {
                dinp[r * c + i] += g * w[o * c + i];
                dw[o * c + i] += g * inp[r * c + i];
            }
            if let Some(db) = dbias.as_deref_mut() {
                db[o] += g;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::gradcheck::{check, random};

    #[test]
    fn reference_backward_matches_finite_differences() {
        let (n, c, oc) = (3, 4, 5);
        let (inp, w, b, dout) = (random(n * c, 21), random(oc * c, 22), random(oc, 23), random(n * oc, 24));
        let loss = |inp: &[f64], w: &[f64], b: &[f64]| {
            let mut out = vec![0.0; n * oc];
            forward_ref(&mut out, inp, w, Some(b), n, c, oc);
            out.iter().zip(&dout).map(|(a, b)| a * b).sum::<f64>()
        };
        let (mut di, mut dw, mut db) = (vec![0.0; n * c], vec![0.0; oc * c], vec![0.0; oc]);
        backward_ref(&mut di, &mut dw, Some(&mut db), &dout, &inp, &w, n, c, oc);
        check("linear dinp", &inp, &di, |x| loss(x, &w, &b));
        check("linear dw", &w, &dw, |x| loss(&inp, x, &b));
        check("linear dbias", &b, &db, |x| loss(&inp, &w, x));
    }

    #[test]
    fn gemm_path_equals_reference_including_odd_and_large_sizes() {
        // (2, 512, 1100): few rows and a large product take the column-split path.
        for (n, c, oc) in [(1, 1, 1), (3, 5, 7), (17, 33, 9), (130, 96, 200), (2, 512, 1100), (1, 1024, 1030)] {
            let f = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
            let (inp, w, b, dout) =
                (f(random(n * c, 25)), f(random(oc * c, 26)), f(random(oc, 27)), f(random(n * oc, 28)));
            let (mut out, mut want) = (vec![f32::NAN; n * oc], vec![0f32; n * oc]);
            forward(&mut out, &inp, &w, Some(&b), n, c, oc);
            forward_ref(&mut want, &inp, &w, Some(&b), n, c, oc);
            let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-4 * (1.0 + y.abs()));
            assert!(close(&out, &want), "forward {n}x{c}x{oc}");
            // Accumulation: start from non-zero gradients.
            let (mut di, mut dw, mut db) = (vec![0.5f32; n * c], vec![0.25f32; oc * c], vec![1f32; oc]);
            let (mut di2, mut dw2, mut db2) = (di.clone(), dw.clone(), db.clone());
            backward(&mut di, Dst::Add, &mut dw, Some(&mut db), &dout, &inp, &w, n, c, oc);
            backward_ref(&mut di2, &mut dw2, Some(&mut db2), &dout, &inp, &w, n, c, oc);
            assert!(close(&di, &di2) && close(&dw, &dw2) && close(&db, &db2), "backward {n}x{c}x{oc}");
            // Write mode ignores what dinp held.
            let mut di3 = vec![f32::NAN; n * c];
            backward(&mut di3, Dst::Write, &mut dw, None, &dout, &inp, &w, n, c, oc);
            let want: Vec<f32> = di2.iter().map(|x| x - 0.5).collect();
            assert!(close(&di3, &want), "backward write {n}x{c}x{oc}");
        }
    }
}
