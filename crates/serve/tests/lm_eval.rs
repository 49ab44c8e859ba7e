//! lm-evaluation-harness (PyPI `lm-eval`, installed by scripts/setup_test_python.sh) scores a
//! multiple-choice file through `/v1/completions` with its `local-completions` model, as its
//! users run it, and gets `minichat eval`'s answer on every question: the same choice
//! log-likelihoods (token-id prompts, echo, logprobs; the server's tokenizer found through
//! `/tokenizer_info` and `/tokenize`) and the same acc_norm (tests/lm_eval_client.py).

mod common;

use common::*;
use minichat_chat::exam::{choice_loglikelihoods, multiple_choice, read_choices};
use minichat_serve::Options;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;

/// Questions in the exam's format; some choices are not ASCII (acc_norm counts characters).
fn questions() -> String {
    let qs = [
        ("What jumps over the lazy dog?", vec!["The quick brown fox", "A cat", "Viktor"], 0),
        ("How many is 12*7?", vec!["84", "72", "a thousand"], 0),
        ("Spell cat.", vec!["c-a-t", "d-o-g", "k-a-t-z-e"], 0),
        ("A journey of a thousand miles begins with what?", vec!["a single step", "the lazy dog", "日本語"], 0),
        ("Who jagen Viktor?", vec!["Zwölf Boxkämpfer", "The quick brown fox", "nobody"], 0),
        ("What is the fox?", vec!["quick and brown", "lazy", "🙂"], 1),
        ("Which word is a number?", vec!["twelve", "fox", "dog", "step"], 0),
        ("What does the dog do?", vec!["sleeps", "jumps", "begins"], 2),
        ("What follows 83?", vec!["84", "85", "Zwölf"], 0),
        ("Which is Japanese?", vec!["日本語", "English", "Deutsch"], 0),
        ("Which is a greeting?", vec!["Hello world", "Goodbye", "🙂🙂"], 0),
        ("What is a journey made of?", vec!["miles", "steps", "boxes", "dogs"], 1),
    ];
    qs.iter().map(|(q, c, a)| json!({"question": q, "choices": c, "answer": a}).to_string() + "\n").collect()
}

#[test]
fn lm_eval_local_completions_scores_as_minichat_eval() {
    let work = std::env::temp_dir().join(format!("minichat-lm-eval-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let file = work.join("mc.jsonl");
    std::fs::write(&file, questions()).unwrap();

    // minichat eval's scoring, in the library, on the same (seeded) model the server serves.
    let reference = model(256);
    let (qs, problems) = read_choices(&questions(), "mc.jsonl");
    assert!(problems.is_empty(), "{problems:?}");
    let bos = reference.tok.bos_id().unwrap();
    let ours = multiple_choice(&reference.net, &reference.tok, bos, &qs).unwrap();
    let our_lls: Vec<Vec<f64>> =
        qs.iter().map(|q| choice_loglikelihoods(&reference.net, &reference.tok, bos, q).unwrap()).collect();

    let addr = start(Options { parallel: 4, ..Options::default() });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/lm_eval_client.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(format!("http://{addr}"))
        .arg("tiny")
        .arg(&file)
        .arg(&work)
        .output()
        .expect("the test Python runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "lm_eval_client.py failed:\n{stdout}\n{stderr}");
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no result:\n{stdout}"));
    let theirs: Value = serde_json::from_str(line).unwrap();

    let per_question: Vec<bool> =
        theirs["per_question"].as_array().unwrap().iter().map(|a| a.as_f64().unwrap() == 1.0).collect();
    assert_eq!(per_question, ours, "lm-eval's acc_norm per question against minichat eval's");
    let acc = ours.iter().filter(|&&r| r).count() as f64 / ours.len() as f64;
    assert!((theirs["acc_norm"].as_f64().unwrap() - acc).abs() < 1e-9, "{theirs} against {acc}");
    for (i, (l, r)) in theirs["loglikelihoods"].as_array().unwrap().iter().zip(&our_lls).enumerate() {
        let l: Vec<f64> = l.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        assert_eq!(l.len(), r.len());
        for (a, b) in l.iter().zip(r) {
            assert!((a - b).abs() < 1e-3 * b.abs().max(1.0), "question {i}: lm-eval {l:?}, minichat {r:?}");
        }
    }
    eprintln!("lm-eval acc_norm {} = minichat eval {acc} on {} questions", theirs["acc_norm"], ours.len());
    std::fs::remove_dir_all(&work).ok();
}
