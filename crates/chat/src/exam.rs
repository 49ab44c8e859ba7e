//! The exam: what a checkpoint can do, measured the same way for every checkpoint.
//!
//! - Generative tasks (`tasks`' test files: arithmetic, spelling, identity): the question is
//!   put to the model in the chat format, it answers greedily (tools on or off), and the reply
//!   is right when it gives the exact answer (`tasks::is_correct`).
//! - Multiple choice (HellaSwag/ARC/MMLU-style files users bring): JSONL lines
//!   `{"question": "...", "choices": ["...", ...], "answer": 2}` (the index of the right
//!   choice). Each choice is scored by its log-likelihood after `Question: ...\nAnswer:`,
//!   summed over its tokens and divided by its bytes (lm-evaluation-harness's `acc_norm`,
//!   which does not favour short choices); the best-scored choice is the model's answer.

use crate::conversation::{parse_reply, prompt_for_reply, tool_result_tokens, ChatTokens, Message, Role, ToolCall};
use crate::generate::{generate, GenerateConfig, ToolHook};
use crate::sampler::SamplerConfig;
use crate::tools::Tools;
use crate::Error;
use minichat_model::cpu::cross_entropy::IGNORE;
use minichat_model::net::Net;
use minichat_tokenizer::Tokenizer;

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

/// The model's greedy reply to `prompt` (tools run through `tools` when given; without them a
/// call gets no result and the model goes on as it will), as messages (`parse_reply`).
pub fn reply(
    net: &Net,
    tok: &Tokenizer,
    ct: &ChatTokens,
    prompt: &[Message],
    tools: Option<&Tools>,
    max_tokens: usize,
) -> Result<Vec<Message>, Error> {
    let ids = prompt_for_reply(prompt, tok, ct)?;
    let room = net.config().block_size.saturating_sub(ids.len() + 1);
    if room == 0 {
        return Err(Error::Prompt("the question does not fit in the context".into()));
    }
    let cfg = GenerateConfig {
        max_new_tokens: max_tokens.min(room),
        stop_tokens: vec![ct.assistant_end, ct.bos],
        samples: 1,
        show: 0,
        slide: false,
    };
    let sampler = SamplerConfig { temperature: 0.0, ..Default::default() };
    let mut call = |call: &[u32]| {
        let text = String::from_utf8_lossy(&tok.decode_bytes(call).unwrap_or_default()).into_owned();
        tool_result_tokens(&tools.expect("hooked only with tools").run(&ToolCall::parse(&text)), tok, ct)
    };
    let hook = tools.map(|_| ToolHook { start: ct.tool_call_start, end: ct.tool_call_end, call: &mut call });
    let out = generate(net, &ids, &sampler, &cfg, hook, &mut |_, _, _| {})?.remove(0);
    Ok(parse_reply(&out.tokens, tok, ct))
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
pub fn generative(
    net: &Net,
    tok: &Tokenizer,
    ct: &ChatTokens,
    questions: &[Question],
    tools: Option<&Tools>,
    max_tokens: usize,
) -> Result<Vec<Answered>, Error> {
    questions
        .iter()
        .map(|q| {
            let messages = reply(net, tok, ct, &q.prompt, tools, max_tokens)?;
            // A tool's result does not count as the model's answer: only the text it wrote
            // after the last result (its last message) does.
            let own = messages.last().filter(|m| m.role == Role::Assistant).map_or("", |m| m.content.as_str());
            let question = q.prompt.iter().rev().find(|m| m.role == Role::User).map_or("", |m| &m.content).to_string();
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

/// Log-likelihood of `continuation`'s tokens after `context`, per byte of the continuation.
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
    let logp: f64 = acts.logp()[first..n].iter().map(|&l| l as f64).sum();
    Ok(logp / continuation.len().max(1) as f64)
}

/// Answers every multiple-choice question; returns which were right.
pub fn multiple_choice(net: &Net, tok: &Tokenizer, bos: u32, questions: &[Choice]) -> Result<Vec<bool>, Error> {
    questions
        .iter()
        .map(|q| {
            let context = format!("Question: {}\nAnswer:", q.question);
            let scores: Vec<f64> =
                q.choices.iter().map(|c| score(net, tok, bos, &context, &format!(" {c}"))).collect::<Result<_, _>>()?;
            let best = scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
            Ok(best == q.answer)
        })
        .collect()
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
    }
}
