//! GRPO's advantages, loss and gradient against PyTorch autograd on TRL's formula
//! (tests/fixtures/grpo.json, made by scripts/make_grpo_fixture.py).

use minichat_train::grpo::{advantages, loss, Batch, LossType, Objective, ScaleRewards};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().expect("an array").iter().map(|x| x.as_f64().expect("a number") as f32).collect()
}

fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/grpo.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("the fixture")).expect("JSON")
}

#[test]
fn advantages_equal_trls() {
    let f = fixture();
    let (rewards, group) = (floats(&f["rewards"]), f["group"].as_u64().unwrap() as usize);
    for (name, scale) in [("group", ScaleRewards::Group), ("batch", ScaleRewards::Batch), ("none", ScaleRewards::None)]
    {
        let want = floats(&f["advantages"][name]);
        let got = advantages(&rewards, group, scale).unwrap();
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "{name} reply {i}: {a} vs {b}");
        }
    }
}

#[test]
fn loss_and_gradient_equal_pytorch_autograd_on_trls_formula() {
    let f = fixture();
    let t = f["t"].as_u64().unwrap() as usize;
    let (logp, old, reference, mask) =
        (floats(&f["logp"]), floats(&f["old"]), floats(&f["reference"]), floats(&f["mask"]));
    let adv = floats(&f["advantages"]["group"]);
    let batch = Batch { logp: &logp, old: &old, reference: Some(&reference), mask: &mask, advantages: &adv, t };
    let number = |key: &str| f[key].as_f64().unwrap();
    for (name, loss_type) in
        [("grpo", LossType::Grpo), ("dr_grpo", LossType::DrGrpo { max_completion: t }), ("dapo", LossType::Dapo)]
    {
        let obj = Objective {
            epsilon_low: number("epsilon_low"),
            epsilon_high: number("epsilon_high"),
            beta: number("beta"),
            loss: loss_type,
        };
        let mut grad = vec![f32::NAN; logp.len()];
        let stats = loss(&obj, &batch, &mut grad).unwrap();
        let want = &f["losses"][name];
        let want_loss = want["loss"].as_f64().unwrap();
        assert!(
            (stats.loss - want_loss).abs() <= 1e-6 * (1.0 + want_loss.abs()),
            "{name}: loss {} vs {want_loss}",
            stats.loss
        );
        for (i, (g, w)) in grad.iter().zip(floats(&want["grad"])).enumerate() {
            assert!((g - w).abs() <= 1e-6 * (1.0 + w.abs()), "{name} token {i}: gradient {g} vs {w}");
        }
        // The fixture has tokens clipped on each side, so the test covers both.
        assert!(stats.clipped_low > 0.0 && stats.clipped_high > 0.0, "{name}: {stats:?}");
    }
}
