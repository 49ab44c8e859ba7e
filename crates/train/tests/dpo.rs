//! DPO's loss, gradient and implicit rewards against PyTorch autograd on TRL's formula
//! (tests/fixtures/dpo.json, made by scripts/make_dpo_fixture.py).

use minichat_train::dpo::{loss, sequence_logps, Objective};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().expect("an array").iter().map(|x| x.as_f64().expect("a number") as f32).collect()
}

#[test]
fn loss_gradient_and_rewards_equal_pytorch_autograd_on_trls_formula() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/dpo.json");
    let f: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("the fixture")).expect("JSON");
    let t = f["t"].as_u64().unwrap() as usize;
    let (logp, reference, mask) = (floats(&f["logp"]), floats(&f["reference"]), floats(&f["mask"]));
    let ref_seq = sequence_logps(&reference, &mask, t);
    let close = |a: f64, b: f64, what: &str| assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "{what}: {a} vs {b}");
    for case in f["cases"].as_array().unwrap() {
        let obj = Objective {
            beta: f["beta"].as_f64().unwrap(),
            label_smoothing: case["label_smoothing"].as_f64().unwrap(),
            rpo_alpha: case["rpo_alpha"].as_f64().unwrap(),
        };
        let mut grad = vec![0f32; logp.len()];
        let s = loss(&obj, &logp, &mask, &ref_seq, t, &mut grad).unwrap();
        let ls = (obj.label_smoothing, obj.rpo_alpha);
        close(s.mean(s.loss), case["loss"].as_f64().unwrap(), &format!("loss (smoothing, rpo {ls:?})"));
        close(s.mean(s.reward_chosen), case["reward_chosen"].as_f64().unwrap(), "chosen reward");
        close(s.mean(s.reward_rejected), case["reward_rejected"].as_f64().unwrap(), "rejected reward");
        close(s.correct as f64 / s.pairs as f64, case["accuracy"].as_f64().unwrap(), "accuracy");
        for (i, (g, want)) in grad.iter().zip(floats(&case["grad"])).enumerate() {
            close(*g as f64, want as f64, &format!("gradient {i} (smoothing, rpo {ls:?})"));
        }
    }
}
