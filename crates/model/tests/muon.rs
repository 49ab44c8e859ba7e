//! Muon against `torch.optim.Muon` (fixture from `scripts/make_muon_fixture.py`): three steps
//! on a tall, a square and a wide matrix. With its Newton-Schulz iterations in f32 torch's
//! optimizer agrees with ours to rounding; as shipped (bf16 iterations) to bf16's precision.

use minichat_model::muon::{Matrix, Muon};
use minichat_model::safetensors;
use std::path::PathBuf;

/// The differences between the steps' updates (`after - before`) relative to the RMS of
/// torch's update, over every matrix and step: (the largest, the largest RMS of one update's).
fn update_errors(tag: &str) -> (f32, f32) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/muon/expected.safetensors");
    let t = safetensors::load(&path).unwrap();
    let shapes: Vec<(usize, usize)> =
        (0..).map_while(|i| t.get(&format!("p0.{i}"))).map(|p| (p.shape[0], p.shape[1])).collect();
    assert_eq!(shapes.len(), 3);
    // The matrices end to end in one flat buffer, as in a model.
    let mut matrices = Vec::new();
    let mut params = Vec::new();
    for (i, &(rows, cols)) in shapes.iter().enumerate() {
        matrices.push(Matrix { offset: params.len(), rows, cols });
        params.extend_from_slice(&t[&format!("p0.{i}")].data);
    }
    let mut opt = Muon::new(matrices.clone(), 0.02, 0.95, 0.1);
    let (mut worst, mut worst_rms) = (0f32, 0f32);
    for k in 1..=3 {
        let grads: Vec<f32> = (0..shapes.len()).flat_map(|i| t[&format!("g{k}.{i}")].data.clone()).collect();
        let before = params.clone();
        opt.update(&mut params, &grads);
        for (i, m) in matrices.iter().enumerate() {
            let want = &t[&format!("{tag}.{k}.{i}")].data;
            let r = m.range();
            let theirs: Vec<f32> = want.iter().zip(&before[r.clone()]).map(|(a, b)| a - b).collect();
            let ours: Vec<f32> = params[r.clone()].iter().zip(&before[r]).map(|(a, b)| a - b).collect();
            let rms = (theirs.iter().map(|d| d * d).sum::<f32>() / theirs.len() as f32).sqrt();
            let diffs = ours.iter().zip(&theirs).map(|(o, t)| (o - t).abs());
            worst = worst.max(diffs.clone().fold(0f32, f32::max) / rms);
            worst_rms = worst_rms.max((diffs.map(|d| d * d).sum::<f32>() / ours.len() as f32).sqrt() / rms);
        }
    }
    eprintln!("{tag}: update error at most {worst:.2e} of the update's RMS, RMS error {worst_rms:.2e}");
    (worst, worst_rms)
}

#[test]
fn matches_torch_muon_with_f32_iterations() {
    let (worst, _) = update_errors("f32");
    assert!(worst < 1e-3, "{worst}");
}

#[test]
fn matches_torch_muon_as_shipped_to_bf16_precision() {
    // bf16 keeps 8 bits of mantissa (relative rounding 2^-9 per value), compounded over 5
    // iterations of three products each: a few percent of the update, value by value.
    let (_, rms) = update_errors("bf16");
    assert!(rms < 0.05, "{rms}");
}
