//! Deterministic test matrices for the benchmarks (`matmul-bench`, `rows-bench`).

/// `n` values in [-0.5, 0.5) from a linear congruential generator seeded with `seed`.
pub fn fill(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            (s >> 9) as f32 / (1u32 << 23) as f32 - 0.5
        })
        .collect()
}
