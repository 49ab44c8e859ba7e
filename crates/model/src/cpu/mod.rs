//! CPU kernels: explicit forward and backward for each op, f32, no allocation inside.
//!
//! Every kernel takes its inputs and output buffers as slices. Backward kernels *accumulate*
//! into gradients with several contributions (`+=`: weights, the residual stream, a tied
//! embedding), as llm.c does, and *write* the ones with a single producer (linear's input
//! gradient with `Dst::Write`, attention's dqkv, GELU/SwiGLU in place, the logits in place),
//! which saves clearing those buffers every step. Each one is checked against central finite
//! differences in f64 (`gradcheck`). Elementwise loops are plain Rust that LLVM vectorises,
//! compiled per instruction-set level at run time (`simd`).

pub mod attention;
pub mod attention_row;
pub mod backend;
pub mod cross_entropy;
pub mod float;
pub mod gelu;
pub mod huge_pages;
pub mod layer_norm;
pub mod linear;
pub mod linear_bf16;
pub mod linear_rows;
pub mod peak;
pub mod rms_norm;
pub mod rope;
pub mod simd;
pub mod swiglu;

#[cfg(test)]
pub(crate) mod gradcheck;

/// A pointer that may cross threads: each rayon task writes a disjoint part of the buffer.
#[derive(Clone, Copy)]
pub(crate) struct Shared(*mut f32);
// SAFETY: a `Shared` is made from a `&mut [f32]` that outlives the parallel section using it
// (rayon's scope joins before the borrow ends), and every task dereferences only its own
// disjoint rows of it, so no two threads touch the same element and there is no data race.
unsafe impl Send for Shared {}
// SAFETY: as for `Send`: shared references to a `Shared` only hand out the pointer, and the
// writes through it go to disjoint elements per task.
unsafe impl Sync for Shared {}

impl Shared {
    /// Through a method, so closures capture the whole `Shared` (not its raw-pointer field).
    pub(crate) fn get(self) -> *mut f32 {
        self.0
    }

    /// Writes `sums` (`[rows][outs]`, a kernel's results for a block of outputs) to rows
    /// `first..` of the `[..][oc]` matrix behind the pointer, at outputs `b0..b0 + outs`,
    /// adding `bias[b0..]` if given.
    ///
    /// # Safety
    /// The pointer must address that matrix with these rows and outputs inside it, and no other
    /// thread may touch them meanwhile (each task writes only its own outputs).
    pub(crate) unsafe fn put_rows(
        self,
        oc: usize,
        first: usize,
        b0: usize,
        sums: &[f32],
        outs: usize,
        bias: Option<&[f32]>,
    ) {
        for (i, s) in sums.chunks_exact(outs).enumerate() {
            // SAFETY: the caller's promise, for row `first + i`.
            let dst = unsafe { std::slice::from_raw_parts_mut(self.0.add((first + i) * oc + b0), outs) };
            match bias {
                Some(b) => dst.iter_mut().zip(s).zip(&b[b0..b0 + outs]).for_each(|((d, &s), &b)| *d = s + b),
                None => dst.copy_from_slice(s),
            }
        }
    }
}
