//! Calibrates our language filter against FineWeb's: fastText lid.176 keeps a document when
//! its English score is over 0.65 (scores from scripts/make_lid_fixture.py on the 742
//! documents of data/corpus.jsonl). Our detector's scores are on another scale, so the
//! threshold that reproduces fastText's decisions best is searched for here, and the agreement
//! at the pipeline's default (`lid::EN_THRESHOLD`) is held at what was measured.

use minichat_data::lid::{identify, EN_THRESHOLD};
use serde_json::Value;

#[test]
fn our_threshold_reproduces_fasttexts_decisions() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let corpus = std::fs::read_to_string(root.join("data/corpus.jsonl")).unwrap();
    let fixture = std::fs::read_to_string(root.join("crates/data/tests/fixtures/fasttext_lid.jsonl")).unwrap();
    let ours: Vec<(bool, f64)> = corpus
        .lines()
        .map(|l| {
            let text = serde_json::from_str::<Value>(l).unwrap()["text"].as_str().unwrap().to_string();
            identify(&text).map_or((false, 0.0), |lang| (lang.code == "en", lang.score))
        })
        .collect();
    let theirs: Vec<bool> =
        fixture.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["en"].as_f64().unwrap() > 0.65).collect();
    assert_eq!(ours.len(), theirs.len());
    let agreement = |t: f64| {
        ours.iter().zip(&theirs).filter(|((en, s), keep)| (*en && *s > t) == **keep).count() as f64 / ours.len() as f64
    };
    let (best_t, best) =
        (0..100)
            .map(|i| i as f64 / 100.0)
            .map(|t| (t, agreement(t)))
            .fold((0.0, 0.0), |a, b| if b.1 > a.1 { b } else { a });
    let at_default = agreement(EN_THRESHOLD);
    let curve: Vec<String> =
        [0.5, 0.65, 0.8, 0.9, 0.95, 0.96, 0.97, 0.99].iter().map(|&t| format!("{t}: {:.4}", agreement(t))).collect();
    eprintln!("agreement by threshold: {}", curve.join(", "));
    eprintln!("fastText keeps {} of {}; agreement at our threshold {EN_THRESHOLD}: {at_default:.4}; best {best:.4} at {best_t}", theirs.iter().filter(|k| **k).count(), theirs.len());
    // Measured: 0.8895 at 0.65, and no threshold does better than 0.9003 (the curve is flat:
    // whatlang's confidence saturates, and the disagreements are code-heavy documents that
    // fastText scores low and whatlang calls English). Non-English documents all agree.
    assert!(at_default >= 0.885, "{at_default}");
}
