//! Task files: a folder with `TASK-train.jsonl` and `TASK-test.jsonl` for each task, one
//! conversation per line in OpenAI's messages format (so any fine-tuning tool reads them)
//! with the exact answer its last assistant message must give:
//!
//! ```text
//! {"messages": [{"role": "user", "content": "..."}, {"role": "assistant", ...}], "answer": "84"}
//! ```
//!
//! `tasks make` writes them; fine-tuning reads the train files as conversations, and the exam
//! asks the test files' questions.

use super::Item;
use crate::conversation::Role;
use crate::exam::Question;
use crate::Error;
use std::path::{Path, PathBuf};

/// A task's training file in `dir`.
pub fn train_path(dir: &Path, task: &str) -> PathBuf {
    dir.join(format!("{task}-train.jsonl"))
}

/// A task's test file in `dir`.
pub fn test_path(dir: &Path, task: &str) -> PathBuf {
    dir.join(format!("{task}-test.jsonl"))
}

/// Writes `items` to `path` (atomically).
pub fn write(path: &Path, items: &[Item]) -> Result<(), Error> {
    let mut text = String::new();
    for item in items {
        let mut v = crate::dataset::to_json(&item.messages);
        v["answer"] = item.answer.clone().into();
        text.push_str(&v.to_string());
        text.push('\n');
    }
    Ok(minichat_corpus::atomic_write(path, text.as_bytes())?)
}

/// The tasks with a test file in `dir`, by name, with their files, in name order.
pub fn test_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::File(format!("reading {}: {e}", dir.display())))?;
    let mut found: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.strip_suffix("-test.jsonl")?.to_string();
            Some((name, p))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// The first `limit` questions of a task file: each conversation up to its first user message,
/// and its answer. A line that is not a conversation with an `answer` is an error naming it.
pub fn questions(path: &Path, limit: usize) -> Result<Vec<Question>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::File(format!("reading {}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).take(limit) {
        let at = |what: String| Error::File(format!("{}:{}: {what}", path.display(), i + 1));
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| at(format!("not JSON: {e}")))?;
        let messages = crate::dataset::conversation_of(&v).map_err(at)?;
        let answer = v["answer"].as_str().ok_or_else(|| at("no \"answer\"".into()))?;
        // Up to the last question (a conversation of several has the earlier ones' replies).
        let upto = messages.iter().rposition(|m| m.role == Role::User).map_or(0, |p| p + 1);
        out.push(Question { prompt: messages[..upto].to_vec(), answer: answer.to_string() });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_items_are_read_back_as_questions() {
        let dir = std::env::temp_dir().join(format!("minichat-taskfile-{}", std::process::id()));
        let (train, test) = super::super::split(5, 3, 1, super::super::arithmetic::item);
        write(&train_path(&dir, "arithmetic"), &train).unwrap();
        write(&test_path(&dir, "arithmetic"), &test).unwrap();
        assert_eq!(test_files(&dir).unwrap(), [("arithmetic".to_string(), test_path(&dir, "arithmetic"))]);
        let qs = questions(&test_path(&dir, "arithmetic"), 2).unwrap();
        assert_eq!(qs.len(), 2);
        assert_eq!(qs[0].answer, test[0].answer);
        assert_eq!((qs[0].prompt.len(), qs[0].prompt[0].content.as_str()), (1, test[0].question()));
        std::fs::write(dir.join("bad-test.jsonl"), "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}\n")
            .unwrap();
        let err = questions(&dir.join("bad-test.jsonl"), 5).unwrap_err().to_string();
        assert!(err.ends_with("bad-test.jsonl:1: no \"answer\""), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
