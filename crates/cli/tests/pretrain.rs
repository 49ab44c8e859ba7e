//! End-to-end tests of `minichat pretrain` and `minichat plot` through the real binary,
//! including Ctrl-C (SIGINT) saving a checkpoint and `--resume` finishing the run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn minichat(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_minichat")).args(args).stdin(Stdio::null()).output().unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("minichat-cli-pretrain-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A few hundred short JSONL documents.
fn corpus(dir: &Path) -> String {
    let words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "house", "big", "red"];
    let text: String = (0..300)
        .map(|d| {
            let s: Vec<&str> = (0..10 + d % 5).map(|i| words[(d * 5 + i * i + i) % words.len()]).collect();
            format!("{{\"text\": \"{}.\"}}\n", s.join(" "))
        })
        .collect();
    let path = dir.join("corpus.jsonl");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Small-model flags on top of the tiny preset.
fn small(corpus: &str, out: &str, steps: &str) -> Vec<String> {
    let args = ["pretrain", "--corpus", corpus, "-t", "r50k_base", "-o", out, "--depth", "1", "--context", "16"];
    let more =
        ["--micro-batch", "2", "--steps", steps, "--eval-every", "2", "--sample-every", "0", "--checkpoint-every", "0"];
    args.iter().chain(more.iter()).map(|s| s.to_string()).collect()
}

#[test]
fn pretrain_writes_a_complete_run_and_plots_it() {
    let dir = temp_dir("run");
    let corpus = corpus(&dir);
    let run = dir.join("run");
    let args = small(&corpus, run.to_str().unwrap(), "4");
    let out = minichat(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("tokenized 300 documents") && stderr.contains("validation loss"), "{stderr}");
    for f in
        ["config.toml", "tokenizer.mctok", "metrics.jsonl", "loss.svg", "shards/train_00000.tok", "checkpoints/LATEST"]
    {
        assert!(run.join(f).exists(), "{f} missing");
    }
    assert!(run.join("checkpoints/step_000004/model.safetensors").exists());
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("steps = 4") && config.contains("depth = 1"), "{config}");
    // The same directory again is refused; plot redraws the curve.
    let again = minichat(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a run"));
    std::fs::remove_file(run.join("loss.svg")).unwrap();
    assert!(minichat(&["plot", run.to_str().unwrap()]).status.success());
    assert!(std::fs::read_to_string(run.join("loss.svg")).unwrap().starts_with("<svg"));
    // Export for transformers, and the next-token distribution.
    let hf = dir.join("hf");
    assert!(minichat(&["export", "hf", run.to_str().unwrap(), hf.to_str().unwrap()]).status.success());
    for f in ["model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"] {
        assert!(hf.join(f).exists(), "export: {f} missing");
    }
    let next = minichat(&["next", run.to_str().unwrap(), "--text", "the cat", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&next.stdout).unwrap();
    assert_eq!(json["ids"][0], 50256, "bos (<|endoftext|>) first");
    assert_eq!(json["logits"].as_array().unwrap().len(), 50257);
    let table = String::from_utf8(minichat(&["next", run.to_str().unwrap(), "--text", "the cat", "--top", "3"]).stdout)
        .unwrap();
    assert_eq!(table.lines().count(), 3, "{table}");
    // Generation: seeded, reproducible, with the candidates shown; bad settings are errors.
    let r = run.to_str().unwrap();
    let gen = |extra: &[&str]| minichat(&[&["generate", r, "-p", "the cat", "-n", "5"], extra].concat());
    let (a, b) = (gen(&["--seed", "7"]), gen(&["--seed", "7"]));
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    assert!(String::from_utf8_lossy(&a.stdout).starts_with("the cat"));
    assert!(gen(&["--bf16", "--seed", "7"]).status.success());
    let shown = String::from_utf8(gen(&["--show-probs", "3", "--top-k", "2"]).stdout).unwrap();
    assert_eq!(shown.matches("[drawn:").count(), 5, "{shown}");
    let bad = gen(&["--top-p", "2"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("top-p"), "{}", String::from_utf8_lossy(&bad.stderr));
    let long = "the cat sat on the mat ".repeat(10);
    let bad = minichat(&["generate", r, "-p", &long]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no room"), "{}", String::from_utf8_lossy(&bad.stderr));
    // Bad input: a missing corpus and an unknown preset are errors, not panics.
    let bad = minichat(&[
        "pretrain",
        "--corpus",
        "/nonexistent.jsonl",
        "-t",
        "r50k_base",
        "-o",
        dir.join("x").to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(1), "{}", String::from_utf8_lossy(&bad.stderr));
    let bad = minichat(&["pretrain", "--preset", "huge", "--corpus", &corpus, "-o", dir.join("y").to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown preset"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ctrl_c_saves_a_checkpoint_and_resume_finishes() {
    let dir = temp_dir("sigint");
    let corpus = corpus(&dir);
    let run = dir.join("run");
    let args = small(&corpus, run.to_str().unwrap(), "100000");
    let child = Command::new(env!("CARGO_BIN_EXE_minichat"))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until a few steps are logged, then interrupt.
    let metrics = run.join("metrics.jsonl");
    let started = std::time::Instant::now();
    while std::fs::read_to_string(&metrics).map_or(0, |m| m.lines().count()) < 3 {
        assert!(started.elapsed().as_secs() < 120, "training did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("stopped at step") && stderr.contains("--resume"), "{stderr}");
    let latest = std::fs::read_to_string(run.join("checkpoints/LATEST")).unwrap();
    let step: u64 = latest.trim().trim_start_matches("step_").parse().unwrap();
    assert!(step >= 2, "{latest}");
    // Make the run short, then resume it to the end.
    let config = run.join("config.toml");
    let text: String = std::fs::read_to_string(&config)
        .unwrap()
        .lines()
        .map(|l| match l.split(" = ").next() {
            Some("steps") => format!("steps = {}\n", step + 2),
            Some("warmup_steps") => "warmup_steps = 1\n".to_string(),
            _ => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&config, text).unwrap();
    let out = minichat(&["pretrain", "--resume", run.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains("resuming from"), "{stderr}");
    assert!(run.join(format!("checkpoints/step_{:06}", step + 2)).exists(), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn chat_repl_answers_and_takes_commands() {
    let dir = temp_dir("chat");
    let corpus = corpus(&dir);
    let tok = dir.join("tok.mctok");
    let made = minichat(&["tokenizer", "train", &corpus, "--vocab-size", "300", "-o", tok.to_str().unwrap()]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let run = dir.join("run");
    let mut args = small(&corpus, run.to_str().unwrap(), "2");
    args[4] = tok.display().to_string(); // -t: the chat tokenizer
    assert!(minichat(&args.iter().map(String::as_str).collect::<Vec<_>>()).status.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_minichat"))
        .args(["chat", run.to_str().unwrap(), "-n", "4", "--temperature", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = "the cat\n/topk nope\n/temperature -1\n/help\nthe dog <|assistant_end|>\n/clear\n/quit\n";
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("/topk needs a number") && stderr.contains("temperature -1") && stderr.contains("/clear"),
        "{stderr}"
    );
    assert!(stderr.contains("(conversation cleared)"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).lines().count() >= 2, "two replies");
    // A tokenizer without the chat tokens is refused by name.
    let base = dir.join("base");
    let args = small(&corpus, base.to_str().unwrap(), "1");
    assert!(minichat(&args.iter().map(String::as_str).collect::<Vec<_>>()).status.success());
    let refused = minichat(&["chat", base.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("<|bos|>"));
    // A run whose tokenizer is gone cannot generate.
    std::fs::remove_file(base.join("tokenizer.mctok")).unwrap();
    let refused = minichat(&["generate", base.to_str().unwrap(), "-p", "x"]);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("has no tokenizer"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The last validation loss in a run's metrics.
fn val_losses(run: &Path) -> Vec<f64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| v["val_loss"].as_f64())
        .collect()
}

#[test]
fn sft_fine_tunes_a_pretrained_run_on_conversations() {
    let dir = temp_dir("sft");
    let corpus = corpus(&dir);
    let tok = dir.join("tok.mctok");
    let made = minichat(&["tokenizer", "train", &corpus, "--vocab-size", "300", "-o", tok.to_str().unwrap()]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let (base, sft) = (dir.join("base"), dir.join("sft"));
    let mut args = small(&corpus, base.to_str().unwrap(), "4");
    args[4] = tok.display().to_string();
    args[10] = "64".into(); // --context: room for a conversation
    assert!(minichat(&args.iter().map(String::as_str).collect::<Vec<_>>()).status.success());
    // Identity conversations, plus one broken line that is skipped with its line number.
    let tasks = dir.join("tasks");
    let words = format!("{}/../../data/corpus.jsonl", env!("CARGO_MANIFEST_DIR"));
    let made = minichat(&[
        "tasks",
        "make",
        "-o",
        tasks.to_str().unwrap(),
        "--train",
        "200",
        "--test",
        "10",
        "--words-from",
        &words,
    ]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let chats = dir.join("chats.jsonl");
    let good = std::fs::read_to_string(tasks.join("identity-train.jsonl")).unwrap();
    std::fs::write(&chats, format!("{good}{{\"messages\": [{{\"role\": \"robot\", \"content\": \"x\"}}]}}\n")).unwrap();
    // A new fine-tuning run of `base` on `chats` into `out`, with more flags.
    let new_sft = |out: &std::path::Path, more: &[&str]| {
        let (base, chats) = (base.to_str().unwrap(), chats.to_str().unwrap());
        minichat(&[&["sft", "--base", base, "--conversations", chats, "-o", out.to_str().unwrap()], more].concat())
    };
    let out = new_sft(
        &sft,
        &["--steps", "24", "--eval-every", "8", "--micro-batch", "4", "--lr", "3e-3", "--val-fraction", "0.1"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("chats.jsonl:201: message 1: unknown role \"robot\""), "{stderr}");
    // With --strict the same line stops it before any run is made.
    let strict_out = dir.join("strict");
    let strict = new_sft(&strict_out, &["--strict"]);
    let stderr_strict = String::from_utf8_lossy(&strict.stderr);
    assert!(!strict.status.success() && stderr_strict.contains("chats.jsonl:201"), "{stderr_strict}");
    assert!(!strict_out.exists(), "a rejected run leaves nothing behind");
    assert!(stderr.contains("training conversations") && stderr.contains("fine-tuning from"), "{stderr}");
    // The held-out identity answers get likelier as it learns them.
    let losses = val_losses(&sft);
    assert_eq!(losses.len(), 3, "{losses:?}");
    assert!(losses[2] < losses[0], "{losses:?}");
    assert!(
        sft.join("checkpoints/step_000024").exists() && sft.join("loss.svg").exists() && sft.join("sft.json").exists()
    );
    // The exam of both runs: every task, multiple choice, held-out bits per byte, a report card.
    let mc = dir.join("mc.jsonl");
    std::fs::write(&mc, "{\"question\": \"the cat\", \"choices\": [\"sat\", \"zzz\"], \"answer\": 0}\n{\"bad\": 1}\n")
        .unwrap();
    let report = dir.join("report");
    let out = minichat(&[
        "eval",
        base.to_str().unwrap(),
        sft.to_str().unwrap(),
        "--tasks",
        tasks.to_str().unwrap(),
        "--choices",
        mc.to_str().unwrap(),
        "--text",
        &corpus,
        "--val-fraction",
        "0.2",
        "--limit",
        "3",
        "-o",
        report.to_str().unwrap(),
    ]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("mc.jsonl:2: no \"question\""), "{stderr}");
    for row in [
        "bits per byte",
        "arithmetic (with tools)",
        "arithmetic (no tools)",
        "identity",
        "spelling",
        "multiple choice: mc (1 questions, chance 50.0%)",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {row}")))
            .unwrap_or_else(|| panic!("no {row} row: {stdout}"));
        let cells: Vec<&str> = line.split('|').map(str::trim).filter(|c| !c.is_empty()).skip(1).collect();
        assert_eq!(cells.len(), 2, "{line}");
        for c in cells {
            let x: f64 = c.trim_end_matches('%').parse().unwrap_or_else(|_| panic!("{line}"));
            assert!(x >= 0.0 && (row.starts_with("bits") || x <= 100.0), "{line}");
        }
    }
    assert!(std::fs::read_to_string(report.join("report.svg")).unwrap().starts_with("<svg"));
    assert!(std::fs::read_to_string(report.join("report.md")).unwrap().contains("| identity |"));
    // Resuming a finished run does no more steps; a second --out on it is refused.
    let again = minichat(&["sft", "--resume", sft.to_str().unwrap()]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let clash = new_sft(&sft, &[]);
    assert!(!clash.status.success());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn speedrun_runs_every_stage_and_a_rerun_keeps_them() {
    let dir = temp_dir("speedrun");
    let data = format!("{}/../../data", env!("CARGO_MANIFEST_DIR"));
    let out = dir.join("run");
    let args = [
        "speedrun",
        "-o",
        out.to_str().unwrap(),
        "--data",
        &data,
        "--vocab-size",
        "400",
        "--pretrain-steps",
        "6",
        "--depth",
        "1",
        "--context",
        // The longest generated questions (word problems with an opening and a closing) take
        // 65 tokens of this 400-token vocabulary.
        "128",
        "--sft-steps",
        "4",
        "--sft-text-pieces",
        "5",
        "--rl-steps",
        "2",
        "--conversations",
        "60",
        "--exam-questions",
        "2",
    ];
    let first = minichat(&args);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    for stage in [
        "web data",
        "deduplication",
        "search index",
        "tokenizer",
        "pretraining",
        "conversations",
        "fine-tuning",
        "reinforcement learning",
        "exam",
    ] {
        assert!(stderr.contains(&format!("== {stage}: done")), "{stage} missing: {stderr}");
    }
    assert!(out.join("report/report.md").exists() && out.join("chat/checkpoints/step_000004").exists());
    assert!(out.join("chat-rl/checkpoints/step_000002").exists());
    let report = std::fs::read_to_string(out.join("report/report.md")).unwrap();
    let arithmetic = report.lines().find(|l| l.starts_with("| arithmetic (with tools) |"));
    assert!(arithmetic.is_some_and(|l| l.matches('|').count() == 5), "three runs: {report}");
    assert!(report.contains("| search |") && report.contains("| identity |"), "{report}");
    assert!(report.contains("| arithmetic-unseen (with tools) |"), "the held-out wordings: {report}");
    assert!(report.contains("| arithmetic-stories (with tools) |"), "the held-out stories: {report}");
    assert!(report.contains("| multiple choice: mmlu_dev (2 questions, chance 25.0%) |"), "{report}");
    let sft: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("chat/sft.json")).unwrap()).unwrap();
    assert_eq!(sft["text_pieces"], 5, "pretraining text mixed into fine-tuning");
    assert!(stderr.contains("minichat chat") && stderr.contains("--search-index"), "{stderr}");
    // A second run keeps what is done: no new tokenizer or index, the runs resume at their end.
    let tok_before = std::fs::metadata(out.join("tokenizer.mctok")).unwrap().modified().unwrap();
    let again = minichat(&args);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{stderr}");
    assert!(
        !stderr.contains("== tokenizer") && stderr.contains("already completed") && stderr.contains("resuming from"),
        "{stderr}"
    );
    assert_eq!(std::fs::metadata(out.join("tokenizer.mctok")).unwrap().modified().unwrap(), tok_before);
    preferences_on(&out, &dir, &args);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `pairs` on the speedrun's chat run (`out/chat`), then the speedrun again (`speedrun`, its
/// flags) with preferences: DPO, a reward model and RLHF on pairs put in its folder by hand.
fn preferences_on(out: &Path, dir: &Path, speedrun: &[&str]) {
    let (chat, arithmetic) = (out.join("chat"), out.join("tasks/arithmetic-train.jsonl"));
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let made = dir.join("made.jsonl");
    let run = minichat(&[
        "pairs",
        "--base",
        &s(&chat),
        "--tasks",
        &s(&arithmetic),
        "--questions",
        "4",
        "--group",
        "2",
        "-o",
        &s(&made),
    ]);
    assert!(run.status.success() && made.exists(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stdout).contains("4 questions, 8 replies"));
    // Pairs by hand (a model this small answers nothing right), and one bad line; a pairs file
    // already in the speedrun's folder is used as it is.
    let pair =
        |q: &str, c: &str, r: &str| format!("{{\"prompt\": \"{q}\", \"chosen\": \"{c}\", \"rejected\": \"{r}\"}}\n");
    let pairs = out.join("pairs.jsonl");
    let text: String =
        ["2+2?", "3+3?", "4+4?", "5+5?"].iter().map(|q| pair(q, "The answer is 4.", "The answer is 5.")).collect();
    std::fs::write(&pairs, text + &pair("1+1?", "2", "2")).unwrap();
    let run = minichat(&[speedrun, &["--preferences", "--preference-steps", "2"]].concat());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    for stage in ["DPO", "reward model", "RLHF", "exam"] {
        assert!(stderr.contains(&format!("== {stage}: done")), "{stage} missing: {stderr}");
    }
    assert!(
        !stderr.contains("== preference pairs") && stderr.contains("pairs.jsonl:5: ") && stderr.contains("same reply")
    );
    let report = std::fs::read_to_string(out.join("report/report.md")).unwrap();
    let arithmetic = report.lines().find(|l| l.starts_with("| arithmetic (with tools) |"));
    assert!(arithmetic.is_some_and(|l| l.matches('|').count() == 7), "five runs: {report}");
    let rm = out.join("rm");
    let scored = minichat(&["rm", "score", &s(&rm), "--pairs", &s(&pairs)]);
    assert!(scored.status.success(), "{}", String::from_utf8_lossy(&scored.stderr));
    assert_eq!(String::from_utf8_lossy(&scored.stdout).lines().count(), 4);
    // Each command resumes only its own kind of run.
    let wrong = minichat(&["dpo", "--resume", &s(&rm)]);
    assert!(!wrong.status.success() && String::from_utf8_lossy(&wrong.stderr).contains("rm train --resume"));
}
