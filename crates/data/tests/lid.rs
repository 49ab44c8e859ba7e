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

/// Our fastText inference on lid.176.ftz (data/lid/, from scripts/fetch_lid_model.sh) gives
/// the Python `fasttext` package's probabilities on every corpus document: the English score
/// and the top label with its score (the fixture rounds to 4 decimals).
#[test]
fn fasttext_port_gives_fasttexts_scores() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let model = minichat_data::fasttext::Model::load(&root.join("data/lid/lid.176.ftz")).unwrap();
    let corpus = std::fs::read_to_string(root.join("data/corpus.jsonl")).unwrap();
    let fixture = std::fs::read_to_string(root.join("crates/data/tests/fixtures/fasttext_lid.jsonl")).unwrap();
    let mut worst = 0.0f64;
    for (doc, want) in corpus.lines().zip(fixture.lines()) {
        let text = serde_json::from_str::<Value>(doc).unwrap()["text"].as_str().unwrap().replace('\n', " ");
        let want: Value = serde_json::from_str(want).unwrap();
        let got = model.predict(&text);
        let en = got.iter().find(|(l, _)| *l == "en").map_or(0.0, |p| p.1 as f64);
        let (top, top_score) = got[0];
        assert_eq!(top, want["top"].as_str().unwrap(), "document {}", want["i"]);
        for (ours, theirs) in [(en, &want["en"]), (top_score as f64, &want["top_score"])] {
            let d = (ours - theirs.as_f64().unwrap()).abs();
            worst = worst.max(d);
            assert!(d < 2e-4, "document {}: {ours} against {theirs}", want["i"]);
        }
    }
    eprintln!("largest difference from fastText: {worst:.2e}");
    let en = &model.predict("The quick brown fox jumps over the lazy dog.")[0];
    assert_eq!(en.0, "en");
    let p: f32 = model.predict("Der schnelle braune Fuchs springt über den faulen Hund.").iter().map(|p| p.1).sum();
    assert!(p <= 1.0 + 1e-4, "probabilities sum to at most 1: {p}");
}
