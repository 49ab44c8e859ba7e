//! CPU kernels: explicit forward and backward for each op, f32, no allocation inside.
//!
//! Every kernel takes its inputs and output buffers as slices; backward kernels *accumulate*
//! into gradient buffers (`+=`), as llm.c does, so that a gradient shared by several uses (a
//! residual stream, a tied embedding) needs no extra add. Each one is checked against central
//! finite differences in f64 (`gradcheck`).

pub mod attention;
pub mod cross_entropy;
pub mod float;
pub mod gelu;
pub mod layer_norm;
pub mod linear;
pub mod rms_norm;
pub mod rope;
pub mod swiglu;

#[cfg(test)]
pub(crate) mod gradcheck;
