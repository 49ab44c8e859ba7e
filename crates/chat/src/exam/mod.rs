//! The exam: what a checkpoint can do, measured the same way for every checkpoint, and its
//! report card (`report`).
//!
//! - Generative tasks (`tasks`' test files: arithmetic, spelling, identity, search): the
//!   question is put to the model through the one assistant turn (`assistant`), it answers
//!   greedily (tools on or off), and the reply is right when it gives the exact answer
//!   (`tasks::is_correct`). Arithmetic is asked twice, with and without tools.
//! - Multiple choice (HellaSwag/ARC/MMLU-style files users bring): JSONL lines
//!   `{"question": "...", "choices": ["...", ...], "answer": 2}` (the index of the right
//!   choice). Each choice is scored by its log-likelihood after `Question: ...\nAnswer:`,
//!   summed over its tokens and divided by the choice's length in characters (the space
//!   before it not counted): lm-evaluation-harness's `acc_norm` exactly, which does not
//!   favour short choices, so that lm-eval against `minichat serve` gives the same score;
//!   the best-scored choice is the model's answer.

pub mod report;

use crate::assistant::{Assistant, Settings};
use crate::conversation::{Message, Role};
use crate::sampler::SamplerConfig;
use crate::tools::Tools;
use crate::Error;
use minichat_model::cpu::cross_entropy::IGNORE;
use minichat_model::net::Net;
use minichat_tokenizer::Tokenizer;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// A question with its exact answer (a generated task's test item).
#[derive(Clone, Debug)]
pub struct Question {
    /// The conversation up to and including the user's question.
    pub prompt: Vec<Message>,
    pub answer: String,
}

/// One answered question, for the report.
#[derive(Clone, Debug)]
pub struct Answered {
    pub question: String,
    pub reply: String,
    pub correct: bool,
}

/// The assistant's greedy reply to `prompt`, as messages, in at most `max_tokens` tokens (and
/// what the context leaves).
pub fn reply(assistant: &Assistant, prompt: &[Message], max_tokens: usize) -> Result<Vec<Message>, Error> {
    let ids = crate::conversation::prompt_for_reply(prompt, assistant.tok, &assistant.ct)?;
    let room = assistant.net.config().block_size.saturating_sub(ids.len() + 1);
    if room == 0 {
        return Err(Error::Prompt("the question does not fit in the context".into()));
    }
    let settings = Settings::new(SamplerConfig { temperature: 0.0, ..Default::default() }, max_tokens.min(room));
    let turn = assistant.start_rendered(&ids, &settings)?;
    Ok(assistant.run(turn, &AtomicBool::new(false), &mut |_| {})?.messages)
}

/// A reply as one line of text, calls and results shown: `[calculator 12*7] [-> 84] 84`.
pub fn shown(reply: &[Message]) -> String {
    let parts: Vec<String> = reply
        .iter()
        .map(|m| match m.role {
            Role::Tool => format!("[-> {}]", m.content),
            _ => {
                let calls: Vec<String> = m.tool_calls.iter().map(|c| format!("[{}]", c.text())).collect();
                format!("{}{}", m.content, calls.join(""))
            }
        })
        .collect();
    parts.join(" ").trim().to_string()
}

/// Asks every question; returns each answer with whether it was right.
pub fn generative(assistant: &Assistant, questions: &[Question], max_tokens: usize) -> Result<Vec<Answered>, Error> {
    questions
        .iter()
        .map(|q| {
            let question = q.prompt.iter().rev().find(|m| m.role == Role::User).map_or("", |m| &m.content).to_string();
            let messages = match reply(assistant, &q.prompt, max_tokens) {
                Ok(messages) => messages,
                // A question longer than a small model's context is one it cannot answer.
                Err(Error::Prompt(why)) => return Ok(Answered { question, reply: format!("({why})"), correct: false }),
                Err(e) => return Err(e),
            };
            // A tool's result does not count as the model's answer: only the text it wrote
            // after the last result (its last message) does.
            let own = messages.last().filter(|m| m.role == Role::Assistant).map_or("", |m| m.content.as_str());
            Ok(Answered { question, correct: crate::tasks::is_correct(own, &q.answer), reply: shown(&messages) })
        })
        .collect()
}

/// A multiple-choice question.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub question: String,
    pub choices: Vec<String>,
    pub answer: usize,
}

/// Reads multiple-choice JSONL; bad lines are returned as problems naming their line.
pub fn read_choices(text: &str, path: &str) -> (Vec<Choice>, Vec<String>) {
    let (mut out, mut problems) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let parsed =
            serde_json::from_str::<serde_json::Value>(line).map_err(|e| format!("not JSON: {e}")).and_then(|v| {
                let question = v["question"].as_str().ok_or("no \"question\" text")?.to_string();
                let choices: Vec<String> = v["choices"]
                    .as_array()
                    .ok_or("no \"choices\" list")?
                    .iter()
                    .map(|c| c.as_str().map(str::to_string).ok_or("a choice that is not text"))
                    .collect::<Result<_, _>>()?;
                let answer = v["answer"].as_u64().ok_or("no \"answer\" index")? as usize;
                if choices.len() < 2 || answer >= choices.len() {
                    return Err(format!(
                        "{} choices and answer {answer}: need 2 or more and an index among them",
                        choices.len()
                    ));
                }
                Ok(Choice { question, choices, answer })
            });
        match parsed {
            Ok(c) => out.push(c),
            Err(e) => problems.push(format!("{path}:{}: {e}", i + 1)),
        }
    }
    (out, problems)
}

/// Log-likelihood of `continuation`'s tokens after `context`, summed.
fn score(net: &Net, tok: &Tokenizer, bos: u32, context: &str, continuation: &str) -> Result<f64, Error> {
    let t = net.config().block_size;
    let mut ids = vec![bos];
    ids.extend(tok.encode_ordinary(context));
    let cont = tok.encode_ordinary(continuation);
    ids.extend(&cont);
    // Keep the end when it is too long: the continuation and as much context as fits.
    let ids = &ids[ids.len().saturating_sub(t + 1)..];
    let n = ids.len() - 1;
    let (mut input, mut targets) = (vec![bos; t], vec![IGNORE; t]);
    input[..n].copy_from_slice(&ids[..n]);
    let first = n.saturating_sub(cont.len());
    targets[first..n].copy_from_slice(&ids[first + 1..n + 1]);
    let mut acts = net.acts(1, t)?;
    net.forward(&mut acts, &input, &targets)?;
    Ok(acts.logp()[first..n].iter().map(|&l| l as f64).sum())
}

/// Each choice's log-likelihood after `Question: ...\nAnswer:` and a space, summed over its
/// tokens (what lm-evaluation-harness's `loglikelihood` requests return).
pub fn choice_loglikelihoods(net: &Net, tok: &Tokenizer, bos: u32, q: &Choice) -> Result<Vec<f64>, Error> {
    let context = format!("Question: {}\nAnswer:", q.question);
    q.choices.iter().map(|c| score(net, tok, bos, &context, &format!(" {c}"))).collect()
}

/// Answers every multiple-choice question; returns which were right.
pub fn multiple_choice(net: &Net, tok: &Tokenizer, bos: u32, questions: &[Choice]) -> Result<Vec<bool>, Error> {
    questions
        .iter()
        .map(|q| {
            // lm-eval's acc_norm: the sum over the choice's length in characters (its
            // `process_results`, `completion_len`), without the space that joins it.
            let scores: Vec<f64> = choice_loglikelihoods(net, tok, bos, q)?
                .iter()
                .zip(&q.choices)
                .map(|(l, c)| l / c.chars().count().max(1) as f64)
                .collect();
            // The first of equal scores, as numpy's argmax picks.
            let best = (0..scores.len()).fold(0, |b, i| if scores[i] > scores[b] { i } else { b });
            Ok(best == q.answer)
        })
        .collect()
}

/// A set of questions to put to every model alike: the generated tasks' test questions and
/// multiple-choice files.
pub struct Exam {
    /// Each task's name and questions (`tasks::file`).
    pub tasks: Vec<(String, Vec<Question>)>,
    /// Each multiple-choice file's name (its stem) and questions.
    pub choices: Vec<(String, Vec<Choice>)>,
    /// Reply tokens at most.
    pub max_tokens: usize,
}

/// One result of a model in an exam: a row of the report card.
#[derive(Clone, Debug)]
pub struct Score {
    pub name: String,
    /// Accuracy in [0, 1]; None when it cannot be measured (a model without chat tokens).
    pub accuracy: Option<f64>,
    /// The first question and the reply it got, to show.
    pub example: Option<(String, String)>,
}

impl Exam {
    /// The first `limit` questions of each task in `tasks` (a folder of task files) and of each
    /// multiple-choice file; a multiple-choice line that is not a question goes to `skipped`.
    pub fn load(
        tasks: Option<&Path>,
        choices: &[PathBuf],
        limit: usize,
        max_tokens: usize,
        mut skipped: impl FnMut(&str),
    ) -> Result<Exam, Error> {
        let mut exam = Exam { tasks: Vec::new(), choices: Vec::new(), max_tokens };
        for (name, file) in tasks.map(crate::tasks::file::test_files).transpose()?.unwrap_or_default() {
            exam.tasks.push((name, crate::tasks::file::questions(&file, limit)?));
        }
        for file in choices {
            let text =
                std::fs::read_to_string(file).map_err(|e| Error::File(format!("reading {}: {e}", file.display())))?;
            let (qs, problems) = read_choices(&text, &file.display().to_string());
            for p in problems.iter().take(5) {
                skipped(p);
            }
            let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            exam.choices.push((stem, qs.into_iter().take(limit).collect()));
        }
        Ok(exam)
    }

    /// Whether a task's questions need the search tool.
    pub fn needs_search(&self) -> bool {
        self.tasks.iter().any(|(name, _)| name == "search")
    }

    /// Puts the exam to a model: each task through the assistant turn with `tools` (arithmetic
    /// also without), then each multiple-choice file; one score each, in that order.
    pub fn sit(&self, net: &Net, tok: &Tokenizer, tools: &Tools) -> Result<Vec<Score>, Error> {
        let mut scores = Vec::new();
        let with = Assistant::new(net, tok, Some(tools)).ok();
        let without = Assistant::new(net, tok, None).ok();
        for (task, qs) in &self.tasks {
            let modes = match task.as_str() {
                "arithmetic" => vec![(&with, " (with tools)"), (&without, " (no tools)")],
                crate::tasks::UNSEEN_ARITHMETIC | crate::tasks::STORY_ARITHMETIC => vec![(&with, " (with tools)")],
                _ => vec![(&with, "")],
            };
            for (assistant, label) in modes {
                let name = format!("{task}{label}");
                let Some(assistant) = assistant else {
                    scores.push(Score { name, accuracy: None, example: None });
                    continue;
                };
                let answered = generative(assistant, qs, self.max_tokens)?;
                let right = answered.iter().filter(|a| a.correct).count();
                let example = answered.first().map(|a| (a.question.clone(), a.reply.clone()));
                scores.push(Score { name, accuracy: Some(right as f64 / answered.len().max(1) as f64), example });
            }
        }
        for (stem, qs) in &self.choices {
            let right = multiple_choice(net, tok, tok.bos_id()?, qs)?;
            let accuracy = right.iter().filter(|&&x| x).count() as f64 / right.len().max(1) as f64;
            let name = format!("multiple choice: {stem} ({} questions, chance {:.1}%)", qs.len(), 100.0 * chance(qs));
            scores.push(Score { name, accuracy: Some(accuracy), example: None });
        }
        Ok(scores)
    }
}

/// The accuracy of guessing: the mean over the questions of one over their number of choices.
pub fn chance(questions: &[Choice]) -> f64 {
    questions.iter().map(|q| 1.0 / q.choices.len() as f64).sum::<f64>() / questions.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_files_are_checked_line_by_line() {
        let text = [
            r#"{"question": "2+2?", "choices": ["3", "4"], "answer": 1}"#,
            r#"{"question": "x", "choices": ["a"], "answer": 0}"#,
            r#"{"question": "x", "choices": ["a", "b"]}"#,
            "nope",
        ]
        .join("\n");
        let (ok, problems) = read_choices(&text, "mc.jsonl");
        assert_eq!(ok, [Choice { question: "2+2?".into(), choices: vec!["3".into(), "4".into()], answer: 1 }]);
        assert_eq!(problems.len(), 3);
        assert!(
            problems[0].starts_with("mc.jsonl:2:")
                && problems[1].contains("answer")
                && problems[2].contains("not JSON")
        );
        let four = Choice { question: "q".into(), choices: vec!["a".into(); 4], answer: 0 };
        assert!((chance(&[ok[0].clone(), four]) - 0.375).abs() < 1e-12 && chance(&[]) == 0.0);
    }
}
