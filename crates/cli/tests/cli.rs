//! End-to-end tests of `minichat tokenizer ...` through the real binary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn minichat(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_minichat"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = stdin.unwrap_or_default().to_vec();
    let mut pipe = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn ok(args: &[&str], stdin: Option<&[u8]>) -> String {
    let out = minichat(args, stdin);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn fails(args: &[&str], stdin: Option<&[u8]>) -> String {
    let out = minichat(args, stdin);
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail cleanly");
    String::from_utf8(out.stderr).unwrap()
}

fn corpus() -> String {
    format!("{}/../../data/corpus.jsonl", env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("minichat-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn help_lists_only_working_commands() {
    let help = ok(&["tokenizer", "--help"], None);
    for cmd in ["train", "encode", "decode", "inspect", "stats", "export"] {
        assert!(help.contains(cmd), "{help}");
    }
    assert!(ok(&["--help"], None).contains("tokenizer"));
}

#[test]
fn train_then_encode_decode_round_trips_the_corpus() {
    let tok = tmp("rt.mctok");
    let out = minichat(&["tokenizer", "train", &corpus(), "-v", "1024", "-o", s(&tok)], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("742 documents"), "{stderr}");
    assert!(std::fs::read_to_string(&tok).unwrap().starts_with("minichat-tokenizer 1\n"));

    let bin = tmp("rt.bin");
    ok(&["tokenizer", "encode", "-t", s(&tok), &corpus(), "-f", "u16", "-o", s(&bin)], None);
    let back = tmp("rt.txt");
    ok(&["tokenizer", "decode", "-t", s(&tok), "-f", "u16", s(&bin), "-o", s(&back)], None);
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(corpus()).unwrap());
    let ids = std::fs::metadata(&bin).unwrap().len() / 2;
    let count: u64 = ok(&["tokenizer", "encode", "-t", s(&tok), &corpus(), "--count"], None).trim().parse().unwrap();
    assert_eq!(count, ids);
}

#[test]
fn encode_matches_known_gpt4_ids_and_handles_special_tokens() {
    assert_eq!(ok(&["tokenizer", "encode", "--text", "Hello world"], None).trim(), "9906 1917");
    assert_eq!(
        ok(&["tokenizer", "encode", "-t", "o200k_base", "--text", "Hello world", "-f", "json"], None).trim(),
        "[13225,2375]"
    );
    let err = fails(&["tokenizer", "encode", "--text", "a<|endoftext|>"], None);
    assert!(err.contains("special token <|endoftext|> at byte 1"), "{err}");
    assert_eq!(
        ok(&["tokenizer", "encode", "--text", "a<|endoftext|>", "--allowed-special", "all"], None).trim(),
        "64 100257"
    );
    let as_text = ok(&["tokenizer", "encode", "--text", "a<|endoftext|>", "--disallowed-special", "none"], None);
    assert!(!as_text.contains("100257"));
    assert_eq!(ok(&["tokenizer", "decode", "--ids", "[9906, 1917]"], None), "Hello world");
}

#[test]
fn bad_input_gets_clear_errors_not_panics() {
    let err = fails(&["tokenizer", "encode"], Some(b"ok \xff\xfe bad"));
    assert!(err.contains("not valid UTF-8") && err.contains("offset 3"), "{err}");
    assert_eq!(ok(&["tokenizer", "encode"], Some(b"")).trim(), "");
    assert_eq!(ok(&["tokenizer", "encode", "--count"], Some(b"a\0b")).trim(), "3");

    let bad = tmp("bad.tiktoken");
    std::fs::write(&bad, "IQ== 0\nIg== 1\n!!!! 2\n").unwrap();
    let err = fails(&["tokenizer", "encode", "-t", s(&bad), "--text", "x"], None);
    assert!(err.contains("bad.tiktoken:3: invalid base64"), "{err}");
    let truncated = tmp("trunc.tiktoken.gz");
    let gz =
        std::fs::read(format!("{}/../../data/tiktoken/r50k_base.tiktoken.gz", env!("CARGO_MANIFEST_DIR"))).unwrap();
    std::fs::write(&truncated, &gz[..gz.len() / 2]).unwrap();
    let err = fails(&["tokenizer", "encode", "-t", s(&truncated), "--text", "x"], None);
    assert!(err.contains("trunc.tiktoken.gz"), "{err}");

    let err = fails(&["tokenizer", "decode", "--ids", "1 2 nope"], None);
    assert!(err.contains("id #3"), "{err}");
    let err = fails(&["tokenizer", "decode", "--ids", "100256"], None);
    assert!(err.contains("unknown token id 100256"), "{err}");
    let err = fails(&["tokenizer", "train", s(&tmp("missing.txt")), "-o", s(&tmp("x.mctok"))], None);
    assert!(err.contains("missing.txt"), "{err}");
    let empty = tmp("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let err = fails(&["tokenizer", "train", s(&empty), "-o", s(&tmp("x.mctok"))], None);
    assert!(err.contains("no documents"), "{err}");
    let err = fails(&["tokenizer", "train", &corpus(), "-v", "100", "-o", s(&tmp("x.mctok"))], None);
    assert!(err.contains("too small"), "{err}");
}

#[test]
fn train_skips_and_counts_bad_jsonl_records_and_reads_text_and_stdin() {
    let jsonl = tmp("mixed.jsonl");
    std::fs::write(&jsonl, "{\"text\": \"hello hello world\"}\nnot json\n{\"id\": 3}\n\n{\"text\": \"world again\"}\n")
        .unwrap();
    let out = minichat(&["tokenizer", "train", s(&jsonl), "-v", "270", "--no-special", "-o", s(&tmp("m.mctok"))], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("mixed.jsonl:2: invalid JSON"), "{stderr}");
    assert!(stderr.contains("mixed.jsonl:3: no string field"), "{stderr}");
    assert!(stderr.contains("2 documents") && stderr.contains("2 records skipped"), "{stderr}");

    // A multi-megabyte line with invalid UTF-8 and NUL bytes, from standard input.
    let mut big = b"the quick brown fox \x00 jumps \xff over ".repeat(100_000);
    big.extend_from_slice("ünïcödé".as_bytes());
    let out = minichat(&["tokenizer", "train", "-", "-v", "300", "-o", s(&tmp("big.mctok"))], Some(&big));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("100000 invalid UTF-8 sequences replaced"), "{stderr}");
}

#[test]
fn inspect_shows_spans_and_ids() {
    let out = ok(&["tokenizer", "inspect", "--text", "Hello world! 😀", "--color", "never"], None);
    assert!(out.contains("4 tokens"), "{out}");
    assert!(out.contains("Hello| world|!| 😀"), "{out}");
    assert!(out.contains("ids: [9906, 1917, 0, 91416]"), "{out}");
    let coloured = ok(&["tokenizer", "inspect", "--text", "ab cd", "--color", "always"], None);
    assert!(coloured.contains("\x1b[48;5;"), "{coloured}");
}

#[test]
fn stats_compares_tokenizers() {
    let out = ok(&["tokenizer", "stats", &corpus(), "-t", "cl100k_base", "-t", "r50k_base"], None);
    assert!(out.contains("742 documents"), "{out}");
    assert!(out.contains("cl100k_base") && out.contains("1299682"), "{out}");
    assert!(out.contains("r50k_base") && out.contains("1824852"), "{out}");
}

#[test]
fn export_writes_each_format_and_they_load_back() {
    let rank = tmp("cl.tiktoken");
    ok(&["tokenizer", "export", "-t", "cl100k_base", "-f", "tiktoken", "-o", s(&rank)], None);
    // A bare rank file equal to cl100k is recognised and gets cl100k's pattern and specials.
    assert_eq!(ok(&["tokenizer", "encode", "-t", s(&rank), "--text", "Hello world"], None).trim(), "9906 1917");
    let mine = tmp("r50k.mctok");
    ok(&["tokenizer", "export", "-t", "gpt2", "-f", "minichat", "-o", s(&mine)], None);
    assert_eq!(ok(&["tokenizer", "encode", "-t", s(&mine), "--text", "Hello world"], None).trim(), "15496 995");
    let hf = tmp("tokenizer.json");
    ok(&["tokenizer", "export", "-t", s(&mine), "-f", "hf", "-o", s(&hf)], None);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&hf).unwrap()).unwrap();
    assert_eq!(v["model"]["type"], "BPE");
    assert_eq!(v["added_tokens"][0]["content"], "<|endoftext|>");
}

#[test]
fn inspect_chat_marks_what_training_learns() {
    let tok = tmp("chat.mctok");
    ok(&["tokenizer", "train", &corpus(), "-v", "300", "-o", s(&tok)], None);
    let chats = tmp("chats.jsonl");
    let call = r#"{"messages": [{"role": "user", "content": "What is 12*7?"}, {"role": "assistant", "content": null, "tool_calls": [{"type": "function", "function": {"name": "calculator", "arguments": "{\"expression\": \"12*7\"}"}}]}, {"role": "tool", "content": "84"}, {"role": "assistant", "content": "It is 84."}]}"#;
    let bad = r#"{"conversations": [{"from": "gpt", "value": "I speak first"}]}"#;
    std::fs::write(&chats, [call, bad].join("\n")).unwrap();
    let out = minichat(&["tokenizer", "inspect", "-t", s(&tok), "--chat", s(&chats), "--color", "never"], None);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains(
            "<|bos|><|user_start|>What is 12*7?<|user_end|><|assistant_start|>[<|tool_call_start|>calculator 12*7\
             <|tool_call_end|>]<|tool_result_start|>84<|tool_result_end|>[It is 84.<|assistant_end|>]"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("1 conversations (1 skipped)"), "{stdout}");
    assert!(stderr.contains("chats.jsonl:2: message 1: Assistant where a User message was expected"), "{stderr}");
    // OpenAI's encodings have no chat tokens: a clear error.
    let err = fails(&["tokenizer", "inspect", "-t", "cl100k_base", "--chat", s(&chats)], None);
    assert!(err.contains("<|bos|>"), "{err}");
}

#[test]
fn tasks_make_writes_disjoint_train_and_test_conversations() {
    let out = tmp("tasks");
    let stdout = ok(
        &[
            "tasks",
            "make",
            "-o",
            s(&out),
            "--train",
            "300",
            "--test",
            "40",
            "--words-from",
            &corpus(),
            "--train-for",
            "arithmetic=500",
        ],
        None,
    );
    assert!(
        stdout.contains("arithmetic: 500 train, 40 test") && stdout.contains("identity: 300 train, 4 test"),
        "{stdout}"
    );
    assert!(stdout.contains("general: 300 train, 30 test"), "{stdout}");
    let err = fails(&["tasks", "make", "-o", s(&out), "--words-from", &corpus(), "--train-for", "arithmetc=5"], None);
    assert!(err.contains("no task \"arithmetc\"") && err.contains("arithmetic, spelling"), "{err}");
    let rows = |name: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(out.join(name)).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    for task in ["arithmetic", "spelling", "identity"] {
        let (train, test) = (rows(&format!("{task}-train.jsonl")), rows(&format!("{task}-test.jsonl")));
        let question = |v: &serde_json::Value| v["messages"][0]["content"].as_str().unwrap().to_string();
        let seen: std::collections::HashSet<String> = train.iter().map(question).collect();
        assert!(test.iter().all(|t| !seen.contains(&question(t))), "{task}: a test question is in training");
        assert!(test.iter().all(|t| !t["answer"].as_str().unwrap().is_empty()));
    }
    // Arithmetic calls the calculator with the expression; the answer is the tool's result.
    let first = &rows("arithmetic-test.jsonl")[0];
    assert_eq!(first["messages"][1]["tool_calls"][0]["function"]["name"], "calculator");
    assert_eq!(first["messages"][2]["content"], first["answer"]);
    // The held-out family: test questions only, in wordings training never uses.
    assert!(stdout.contains("arithmetic-unseen: 0 train, 40 test"), "{stdout}");
    assert!(!out.join("arithmetic-unseen-train.jsonl").exists());
    let trained: std::collections::HashSet<String> =
        rows("arithmetic-train.jsonl").iter().map(|r| r["messages"][0]["content"].to_string()).collect();
    for held_out in ["arithmetic-unseen-test.jsonl", "arithmetic-stories-test.jsonl"] {
        assert!(rows(held_out).iter().all(|r| !trained.contains(&r["messages"][0]["content"].to_string())));
    }
    assert!(stdout.contains("arithmetic-stories: 0 train, 40 test"), "{stdout}");
}

#[test]
fn tasks_make_asks_facts_of_a_search_index_through_the_search_tool() {
    let out = tmp("search-tasks");
    std::fs::create_dir_all(&out).unwrap();
    // Module pages as the Python documentation has them, and an index over them.
    let modules = ["copy", "getpass", "netrc", "quopri", "email/header", "xml/sax/__init__"];
    let docs: String = modules
        .iter()
        .map(|m| {
            let name = m.trim_end_matches("/__init__").replace('/', ".");
            let text = format!("{name} module\nSource code: Lib/{m}.py\nThe {name} module does {name} things.");
            serde_json::json!({ "id": name, "text": text }).to_string() + "\n"
        })
        .collect();
    std::fs::write(out.join("docs.jsonl"), docs).unwrap();
    let idx = out.join("docs.idx");
    ok(&["data", "index", s(&out.join("docs.jsonl")), "-o", s(&idx)], None);
    let tasks = out.join("tasks");
    let args = ["tasks", "make", "-o", s(&tasks), "--train", "50", "--test", "50", "--words-from", &corpus()];
    let stdout = ok(&[&args[..], &["--search-index", s(&idx)]].concat(), None);
    assert!(stdout.contains("search: 6 facts") && stdout.contains("search: 24 train, 12 test"), "{stdout}");
    let rows = |name: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(tasks.join(name)).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let (train, test) = (rows("search-train.jsonl"), rows("search-test.jsonl"));
    let answers = |rows: &[serde_json::Value]| -> std::collections::HashSet<String> {
        rows.iter().map(|r| r["answer"].as_str().unwrap().to_string()).collect()
    };
    assert!(answers(&train).is_disjoint(&answers(&test)), "test modules are held out of training");
    let r = &test[0];
    let call = &r["messages"][1]["tool_calls"][0]["function"];
    assert_eq!(call["name"], "search");
    assert!(call["arguments"].as_str().unwrap().contains("module source code"));
    assert!(r["messages"][2]["content"].as_str().unwrap().contains(r["answer"].as_str().unwrap()));
    // An index without such facts is refused with the reason.
    std::fs::write(out.join("plain.jsonl"), "{\"text\": \"nothing to look up here\"}\n").unwrap();
    let plain = out.join("plain.idx");
    ok(&["data", "index", s(&out.join("plain.jsonl")), "-o", s(&plain)], None);
    let err = fails(&[&args[..], &["--search-index", s(&plain)]].concat(), None);
    assert!(err.contains("0 facts found") && err.contains("Source code: Lib/"), "{err}");
}

#[test]
fn feedback_export_writes_trl_preference_pairs() {
    use minichat_serve::feedback::{Feedback, Vote};
    let run = tmp("feedback-run");
    std::fs::create_dir_all(&run).unwrap();
    let db = run.join(minichat_serve::feedback::FILE);
    let _ = std::fs::remove_file(&db);
    let prompt = serde_json::json!([{"role": "user", "content": "What is 12*7?"}]);
    let votes = Feedback::open(&db).unwrap();
    for (id, answer, rating) in [("a", "84", 1), ("b", "85", -1), ("c", "86", -1)] {
        let reply = serde_json::json!([{"role": "assistant", "content": answer}]);
        let vote = Vote { reply_id: id.into(), model: "m".into(), prompt: prompt.clone(), reply, rating };
        votes.record(&vote).unwrap();
    }
    drop(votes);
    let out = tmp("pairs.jsonl");
    let said = ok(&["feedback", "export", s(&run), "-o", s(&out)], None);
    assert!(said.contains("3 votes") && said.contains("2 pairs"), "{said}");
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert_eq!((&l["prompt"], &l["chosen"][0]["content"]), (&prompt, &serde_json::json!("84")));
        assert_eq!(l["rejected"][0]["role"], "assistant");
    }
    let err = fails(&["feedback", "export", s(&tmp("nowhere")), "-o", s(&out)], None);
    assert!(err.contains("no votes file"), "{err}");
}
