//! The one document reader on every format: Parquet written by pyarrow (snappy and zstd),
//! gzipped JSON Lines, plain text cut into bounded documents at line ends, selection by
//! language, and bad records counted with their line.

use minichat_corpus::documents::{self, Options, TEXT_DOC_BYTES};
use minichat_corpus::Format;
use std::io::Write;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("minichat-documents-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn reads_parquet_snappy_and_zstd_like_jsonl() {
    let fix = root().join("crates/corpus/tests/fixtures");
    let corpus = std::fs::read_to_string(root().join("data/corpus.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(corpus.lines().next().unwrap()).unwrap();
    let expected: String = first["text"].as_str().unwrap().chars().take(500).collect();
    for name in ["sample_snappy.parquet", "sample_zstd.parquet"] {
        assert_eq!(Format::of(&fix.join(name)), Format::Parquet);
        let (docs, stats) = documents::read_all(&[fix.join(name)], &Options::default()).unwrap();
        assert_eq!((stats.documents, stats.skipped), (40, 0), "{name}");
        assert_eq!(docs[0], expected);
    }
    let err = documents::read_all(&[root().join("data/corpus.jsonl.parquet")], &Options::default()).unwrap_err();
    assert!(err.to_string().contains("corpus.jsonl.parquet"), "{err}");
    let not_parquet = tmp("np.parquet");
    std::fs::write(&not_parquet, b"PAR1 this is not parquet").unwrap();
    let err = documents::read_all(&[not_parquet], &Options::default()).unwrap_err();
    assert!(err.to_string().contains("not a readable Parquet file"), "{err}");
}

#[test]
fn plain_text_is_cut_at_line_ends_into_bounded_documents() {
    let path = tmp("long.txt");
    let line = "x".repeat(1000) + "\n";
    let text = line.repeat(150); // 150,150 bytes: three documents
    std::fs::write(&path, &text).unwrap();
    let (docs, stats) = documents::read_all(std::slice::from_ref(&path), &Options::default()).unwrap();
    assert_eq!(docs.len(), 3);
    assert!(docs.iter().all(|d| d.len() <= TEXT_DOC_BYTES && d.ends_with('\n')));
    assert_eq!(docs.concat(), text);
    assert_eq!(stats.bytes, text.len() as u64);
    // The same text gzipped gives the same documents.
    let gz = tmp("long.txt.gz");
    let mut w = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    w.write_all(text.as_bytes()).unwrap();
    w.finish().unwrap();
    assert_eq!(documents::read_all(&[gz], &Options::default()).unwrap().0, docs);
}

#[test]
fn documents_are_selected_by_language_and_bad_lines_counted() {
    let path = tmp("mixed.jsonl.gz");
    let lines = [
        r#"{"text": "english", "lang": "en"}"#,
        r#"{"text": "deutsch", "lang": "de"}"#,
        r#"{"text": "fineweb style", "language": "en"}"#,
        r#"{"text": "says nothing"}"#,
        r#"{"text": 3}"#,
        "not json",
    ];
    let mut w = flate2::write::GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::fast());
    w.write_all(lines.join("\n").as_bytes()).unwrap();
    w.finish().unwrap();
    let english = Options { language: Some("en".into()), ..Options::default() };
    let (docs, stats) = documents::read_all(std::slice::from_ref(&path), &english).unwrap();
    assert_eq!(docs, ["english", "fineweb style", "says nothing"]);
    assert_eq!((stats.other_language, stats.skipped), (1, 2));
    assert!(stats.problems[0].ends_with("mixed.jsonl.gz:5: no string field \"text\""), "{:?}", stats.problems);
    assert!(stats.problems[1].contains(":6: invalid JSON"), "{:?}", stats.problems);
    let (all, _) = documents::read_all(&[path], &Options::default()).unwrap();
    assert_eq!(all.len(), 4);
}

#[test]
fn a_folder_stands_for_its_corpus_files_in_name_order() {
    let dir = tmp("folder");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("b.jsonl"), "{\"text\": \"second\"}\n").unwrap();
    std::fs::write(dir.join("a.txt"), "first\n").unwrap();
    std::fs::write(dir.join("notes.md"), "not a corpus file\n").unwrap();
    let (docs, _) = documents::read_all(std::slice::from_ref(&dir), &Options::default()).unwrap();
    assert_eq!(docs, ["first\n", "second"]);
    assert_eq!(documents::total_file_bytes(std::slice::from_ref(&dir)), Some(6 + 19));
    let empty = tmp("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = documents::read_all(&[empty], &Options::default()).unwrap_err().to_string();
    assert!(err.contains("no corpus files"), "{err}");
}
