//! The assistant turn on a model built by hand to say one exact reply: a Llama whose blocks add
//! nothing (all their weights zero), whose embedding is one-hot and whose LM head maps each
//! token to the one that follows it in the reply (a bigram table). Greedy decoding then writes
//! the tool call, the turn runs the calculator and forces its result, and the model answers
//! from it; the events, messages and token counts are checked, and so are cancellation, the
//! token budget and stepping two turns in alternation.

mod common;

use minichat_chat::assistant::{Assistant, Event, FinishReason, Settings};
use minichat_chat::conversation::{ChatTokens, Message, Role, ToolCall};
use minichat_chat::sampler::SamplerConfig;
use minichat_chat::tools::Tools;
use minichat_model::net::Net;
use minichat_model::{Family, ModelConfig};
use minichat_tokenizer::Tokenizer;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

const QUESTION: &str = "What is 12*7?";
const CALL: &str = "calculator 12*7";
const ANSWER: &str = "Result:84.";

fn tokenizer() -> Tokenizer {
    common::chat_tokenizer("assistant-test", &format!("{CALL} {ANSWER} {QUESTION}"), 100)
}

/// The reply the model is built to write, as (token, next token) pairs: assistant start ->
/// call -> call end; after the forced result, the answer -> assistant end.
fn reply_chain(tok: &Tokenizer, ct: &ChatTokens) -> Vec<(u32, u32)> {
    let call: Vec<u32> =
        [vec![ct.assistant_start, ct.tool_call_start], tok.encode_ordinary(CALL), vec![ct.tool_call_end]].concat();
    let answer: Vec<u32> = [vec![ct.tool_result_end], tok.encode_ordinary(ANSWER), vec![ct.assistant_end]].concat();
    call.windows(2).chain(answer.windows(2)).map(|w| (w[0], w[1])).collect()
}

/// A Llama that writes the reply chain greedily (see the file's header).
fn bigram_model(tok: &Tokenizer, chain: &[(u32, u32)]) -> Net {
    let v = tok.n_vocab();
    let mut cfg = ModelConfig::from_depth(Family::Llama, 1, v);
    (cfg.n_embd, cfg.n_head, cfg.n_kv_head, cfg.intermediate_size, cfg.block_size) = (320, 4, 4, 64, 64);
    let mut net = Net::new(cfg).unwrap();
    let c = net.config().n_embd;
    let params: HashMap<String, (usize, usize)> =
        net.params().iter().map(|p| (p.name.clone(), (p.offset, p.len()))).collect();
    let (weights, _) = net.buffers();
    let (embed, _) = params["model.embed_tokens.weight"];
    let (head, _) = params["lm_head.weight"];
    let (norm, n) = params["model.norm.weight"];
    for t in 0..v {
        weights[embed + t * c + t] = 1.0;
    }
    weights[norm..norm + n].fill(1.0);
    let mut next = HashMap::new();
    for &(from, to) in chain {
        assert_eq!(*next.entry(from).or_insert(to), to, "token {from} would need two successors");
        weights[head + to as usize * c + from as usize] = 1.0;
    }
    net
}

fn greedy(max_tokens: usize) -> Settings {
    Settings::new(SamplerConfig { temperature: 0.0, ..Default::default() }, max_tokens)
}

fn question() -> Vec<Message> {
    vec![Message::new(Role::User, QUESTION)]
}

#[test]
fn a_turn_calls_the_tool_forces_its_result_and_answers_from_it() {
    let tok = tokenizer();
    let ct = ChatTokens::of(&tok).unwrap();
    let net = bigram_model(&tok, &reply_chain(&tok, &ct));
    let tools = Tools::default();
    let assistant = Assistant::new(&net, &tok, Some(&tools)).unwrap();
    let mut events = Vec::new();
    let reply = assistant.reply(&question(), &greedy(40), &AtomicBool::new(false), &mut |e| events.push(e)).unwrap();
    let call = ToolCall { name: "calculator".into(), arguments: "12*7".into() };
    let text: String =
        events.iter().filter_map(|e| if let Event::Text(t) = e { Some(t.as_str()) } else { None }).collect();
    assert_eq!(text, ANSWER, "{events:?}");
    assert_eq!(events[0], Event::ToolCall(call.clone()));
    assert_eq!(events[1], Event::ToolResult("84".into()));
    let Some(Event::Done { finish, usage }) = events.last() else { panic!("{events:?}") };
    assert_eq!(*finish, FinishReason::Stop);
    assert_eq!(
        reply.messages,
        [Message::with_calls("", vec![call]), Message::new(Role::Tool, "84"), Message::new(Role::Assistant, ANSWER)]
    );
    // The result's tokens were forced, not drawn; the counts say which.
    let forced = reply.forced.iter().filter(|&&f| f).count();
    assert_eq!(forced, tok.encode_ordinary("84").len() + 2);
    assert_eq!((usage.tool_tokens, usage.completion_tokens + forced), (forced, reply.tokens.len()));
    let prompt = minichat_chat::conversation::prompt_for_reply(&question(), &tok, &ct).unwrap();
    assert_eq!(usage.prompt_tokens, prompt.len());
    // Without tools the call gets no result: no tool events, and the call is not shown as text.
    let no_tools = Assistant::new(&net, &tok, None).unwrap();
    let mut events = Vec::new();
    no_tools.reply(&question(), &greedy(20), &AtomicBool::new(false), &mut |e| events.push(e)).unwrap();
    assert!(!events.iter().any(|e| matches!(e, Event::ToolCall(_) | Event::ToolResult(_))), "{events:?}");
    assert!(!events.iter().any(|e| matches!(e, Event::Text(t) if t.contains("calculator"))), "{events:?}");
}

#[test]
fn a_cancelled_turn_stops_mid_reply_and_keeps_what_it_wrote() {
    let tok = tokenizer();
    let ct = ChatTokens::of(&tok).unwrap();
    let net = bigram_model(&tok, &reply_chain(&tok, &ct));
    let tools = Tools::default();
    let assistant = Assistant::new(&net, &tok, Some(&tools)).unwrap();
    // Cancel as soon as the tool has answered: the flag is checked before the next token.
    let cancel = AtomicBool::new(false);
    let mut events = Vec::new();
    let reply = assistant
        .reply(&question(), &greedy(40), &cancel, &mut |e| {
            if matches!(e, Event::ToolResult(_)) {
                cancel.store(true, Ordering::Relaxed);
            }
            events.push(e);
        })
        .unwrap();
    assert_eq!(reply.finish, FinishReason::Cancelled);
    assert!(matches!(events.last(), Some(Event::Done { finish: FinishReason::Cancelled, .. })), "{events:?}");
    assert!(!events.iter().any(|e| matches!(e, Event::Text(_))), "no answer text after the cancel: {events:?}");
    assert_eq!(*reply.tokens.last().unwrap(), ct.tool_result_end);
    assert_eq!(reply.messages[1], Message::new(Role::Tool, "84"));
    // The budget of drawn tokens ends a turn too; forced tokens do not count against it.
    let short = assistant.reply(&question(), &greedy(3), &AtomicBool::new(false), &mut |_| {}).unwrap();
    assert_eq!((short.finish, short.usage.completion_tokens), (FinishReason::Length, 3));
}

#[test]
fn turns_stepped_in_alternation_give_the_replies_of_turns_run_alone() {
    let tok = tokenizer();
    let ct = ChatTokens::of(&tok).unwrap();
    let net = bigram_model(&tok, &reply_chain(&tok, &ct));
    let tools = Tools::default();
    let assistant = Assistant::new(&net, &tok, Some(&tools)).unwrap();
    let alone = assistant.reply(&question(), &greedy(40), &AtomicBool::new(false), &mut |_| {}).unwrap();
    let other = vec![Message::new(Role::System, "Be brief."), Message::new(Role::User, "12*7?")];
    let other_alone = assistant.reply(&other, &greedy(40), &AtomicBool::new(false), &mut |_| {}).unwrap();
    let mut turns = [assistant.start(&question(), &greedy(40)).unwrap(), assistant.start(&other, &greedy(40)).unwrap()];
    while turns.iter().any(|t| t.finish().is_none()) {
        for turn in turns.iter_mut() {
            assistant.step(turn, &mut |_| {}).unwrap();
        }
    }
    let [a, b] = turns.map(|t| assistant.finish(t));
    assert_eq!((a.tokens, a.messages), (alone.tokens, alone.messages));
    assert_eq!((b.tokens, b.finish), (other_alone.tokens, FinishReason::Stop));
}

#[test]
fn turns_stepped_in_one_batch_give_their_replies_and_events() {
    use minichat_model::kv_cache::Batch;
    let tok = tokenizer();
    let ct = ChatTokens::of(&tok).unwrap();
    let net = bigram_model(&tok, &reply_chain(&tok, &ct));
    let tools = Tools::default();
    let assistant = Assistant::new(&net, &tok, Some(&tools)).unwrap();
    let mut events_alone = Vec::new();
    let alone =
        assistant.reply(&question(), &greedy(40), &AtomicBool::new(false), &mut |e| events_alone.push(e)).unwrap();
    let other = vec![Message::new(Role::System, "Be brief."), Message::new(Role::User, "12*7?")];
    let other_alone = assistant.reply(&other, &greedy(40), &AtomicBool::new(false), &mut |_| {}).unwrap();
    // Queued unfed, prompts fed three tokens a round, one of them joining a round late.
    let prompt = |m: &[Message]| minichat_chat::conversation::prompt_for_reply(m, &tok, &ct).unwrap();
    let mut a = assistant.queue(&prompt(&question()), &greedy(40), 3, false).unwrap();
    let mut b = assistant.queue(&prompt(&other), &greedy(40), 3, false).unwrap();
    let (mut batch, mut events, mut round) = (Batch::new(true), Vec::new(), 0);
    while a.finish().is_none() || b.finish().is_none() {
        let mut turns: Vec<&mut _> = if round == 0 { vec![&mut a] } else { vec![&mut a, &mut b] };
        assistant
            .step_batch(&mut turns, &mut batch, &mut |i, e| {
                if i == 0 {
                    events.push(e)
                }
            })
            .unwrap();
        round += 1;
    }
    let (a, b) = (assistant.finish(a), assistant.finish(b));
    assert_eq!((a.tokens, a.messages), (alone.tokens, alone.messages));
    assert_eq!(events, events_alone, "the same events, tool call and result included");
    assert_eq!((b.tokens, b.finish), (other_alone.tokens, FinishReason::Stop));
}

#[test]
fn a_session_keeps_each_answered_turn_and_drops_what_failed() {
    use minichat_chat::session::Session;
    let tok = tokenizer();
    let ct = ChatTokens::of(&tok).unwrap();
    let net = bigram_model(&tok, &reply_chain(&tok, &ct));
    let tools = Tools::default();
    let assistant = Assistant::new(&net, &tok, Some(&tools)).unwrap();
    let mut session = Session::new(Some("Be brief.".into()), greedy(40).sampler, 40);
    let never = AtomicBool::new(false);
    let first = session.ask(&assistant, QUESTION, &never, &mut |_| {}).unwrap();
    assert!(first.kept && first.reply.finish == FinishReason::Stop);
    // The question and the reply's three messages; the system prompt stays apart.
    assert_eq!(session.messages.len(), 4);
    assert_eq!(session.messages[3], Message::new(Role::Assistant, ANSWER));
    // A question that no longer fits the context is an error and leaves the conversation as it was.
    let long = "12*7 ".repeat(40);
    assert!(session.ask(&assistant, &long, &never, &mut |_| {}).is_err());
    assert_eq!(session.messages.len(), 4);
    // When the context of 64 tokens is full, the oldest exchanges make room for the next.
    let second = session.ask(&assistant, QUESTION, &never, &mut |_| {}).unwrap();
    assert!(second.kept && second.dropped == 1, "{second:?}");
    assert_eq!((session.messages.len(), session.messages[0].role), (4, Role::User));
    assert_eq!(second.reply.finish, FinishReason::Stop);
}
