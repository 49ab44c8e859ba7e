//! One assistant turn: the engine behind `minichat chat`, the exam and the server (nanochat's
//! `Engine.generate` with its tool state machine inside).
//!
//! A turn renders the conversation in the chat format and prefills it (`start`), then draws
//! one token per `step` until `<|assistant_end|>` (or a bos), the reply's token budget, the
//! context's end, or a cancellation. When the model closes a tool call, the tool runs and its
//! result is forced into the reply, so the model goes on from it. Each step reports what
//! happened as events: a piece of text (whole characters only), a tool call, its result, and
//! at the end why the turn ended with its token counts. The reply comes back as messages
//! (`conversation::parse_reply`), so the conversation can go on from it.
//!
//! A `Turn` owns its KV cache and sampler, so a caller can hold several and step them in turn
//! (the server serves many conversations this way); `Assistant::reply` runs one to its end.
//! A turn can also be queued unfed (`queue`): then its steps first feed the prompt a chunk at
//! a time, so a long prompt does not stall the turns stepped beside it, and in a kept cache
//! that holds its first tokens already (`queue_in`, `prompt_cache`). A raw turn (`raw`)
//! continues text as a base model does: no chat format, no tools, it ends at a bos.

use crate::conversation::{parse_reply, prompt_for_reply, tool_result_tokens, ChatTokens, Message, ToolCall};
use crate::generate::{prefill, Sequence};
use crate::logprobs::TokenLogprob;
use crate::sampler::Draw;
use crate::sampler::{Sampler, SamplerConfig};
use crate::tools::Tools;
use crate::Error;
use minichat_model::kv_cache::{Batch, KvCache, Segment};
use minichat_model::net::Net;
use minichat_tokenizer::{StreamDecoder, Tokenizer};
use std::sync::atomic::{AtomicBool, Ordering};

/// Why a turn ended (OpenAI's `finish_reason`: stop, length; the context's end is a length
/// too, but callers may want to say so).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishReason {
    /// The model ended its turn.
    Stop,
    /// The reply's token budget is spent.
    Length,
    /// The context is full.
    Context,
    /// The caller cancelled it.
    Cancelled,
}

/// Token counts of a turn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// The rendered conversation the reply continues.
    pub prompt_tokens: usize,
    /// Of the prompt tokens, those a kept cache already held (`prompt_cache`): not fed again.
    pub cached_tokens: usize,
    /// Tokens the model drew.
    pub completion_tokens: usize,
    /// Tokens tools' results forced in.
    pub tool_tokens: usize,
}

/// What a turn reports as it goes.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Text the model wrote (never half a character; a tool call's text is not text).
    Text(String),
    /// The model called a tool (with tools on).
    ToolCall(ToolCall),
    /// The tool's result, now forced into the reply.
    ToolResult(String),
    /// A drawn token with its log-probability and the most likely alternatives (with
    /// `Settings::logprobs` on; it comes before the text it is part of).
    Token(TokenLogprob),
    /// The turn ended.
    Done { finish: FinishReason, usage: Usage },
}

/// How to answer: the sampler, the reply's budget of drawn tokens, and whether to report each
/// token's log-probability with this many alternatives (`Event::Token`).
#[derive(Clone, Debug)]
pub struct Settings {
    pub sampler: SamplerConfig,
    pub max_tokens: usize,
    pub logprobs: Option<usize>,
}

impl Settings {
    pub fn new(sampler: SamplerConfig, max_tokens: usize) -> Settings {
        Settings { sampler, max_tokens, logprobs: None }
    }
}

/// A finished turn.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The reply as messages: the assistant's text and calls, the tools' results.
    pub messages: Vec<Message>,
    pub finish: FinishReason,
    pub usage: Usage,
    /// The reply's tokens (the end token left out), and which of them were forced.
    pub tokens: Vec<u32>,
    pub forced: Vec<bool>,
    /// The token the model ended the reply with (the assistant's end, or a document start),
    /// when it ended it (`FinishReason::Stop` from a drawn token): what reinforcement learning
    /// trains on after `tokens`.
    pub end: Option<u32>,
}

/// A turn in progress.
pub struct Turn {
    seq: Sequence,
    max_tokens: usize,
    prompt_tokens: usize,
    cached_tokens: usize,
    /// Between a call's start and end token: its text is not shown as text.
    in_call: bool,
    stream: StreamDecoder,
    finish: Option<FinishReason>,
    /// The drawn token that ended the turn, if one did.
    end: Option<u32>,
    logprobs: Option<usize>,
    /// Prompt tokens fed per step while the prompt is not all fed.
    chunk: usize,
    raw: bool,
}

impl Turn {
    /// Why it ended, once it has.
    pub fn finish(&self) -> Option<FinishReason> {
        self.finish
    }

    /// Whether the prompt is still being fed (no token drawn yet).
    pub fn prefilling(&self) -> bool {
        self.seq.unfed_prompt() > 0
    }

    /// Tokens drawn so far.
    pub fn drawn(&self) -> usize {
        self.seq.drawn
    }

    /// Its KV cache and the tokens it holds, to keep for a later prompt (`prompt_cache`).
    pub fn into_cache(self) -> (KvCache, Vec<u32>) {
        self.seq.into_cache()
    }
}

/// A chat model ready to answer: the model, its tokenizer and chat tokens, and the tools its
/// calls run with (None: a call gets no result and the model goes on as it will).
pub struct Assistant<'a> {
    pub net: &'a Net,
    pub tok: &'a Tokenizer,
    pub ct: ChatTokens,
    pub tools: Option<&'a Tools<'a>>,
}

impl<'a> Assistant<'a> {
    /// Fails, naming the token, when the tokenizer lacks the chat format's tokens.
    pub fn new(net: &'a Net, tok: &'a Tokenizer, tools: Option<&'a Tools<'a>>) -> Result<Assistant<'a>, Error> {
        Ok(Assistant { net, tok, ct: ChatTokens::of(tok)?, tools })
    }

    /// Starts the reply to `messages` (which end with a user message): renders and prefills.
    pub fn start(&self, messages: &[Message], settings: &Settings) -> Result<Turn, Error> {
        self.start_rendered(&prompt_for_reply(messages, self.tok, &self.ct)?, settings)
    }

    /// Starts the reply to a conversation already rendered (`conversation::prompt_for_reply`).
    pub fn start_rendered(&self, prompt: &[u32], settings: &Settings) -> Result<Turn, Error> {
        let cache = prefill(self.net, prompt)?;
        let sampler = Sampler::new(settings.sampler.clone(), self.net.config().vocab_size)?;
        Ok(self.turn(Sequence::new(cache, prompt, sampler), prompt.len(), settings, usize::MAX, false))
    }

    /// A turn whose prompt (rendered, or raw text's tokens when `raw`) is checked but not fed:
    /// its first steps feed `chunk` prompt tokens each.
    pub fn queue(&self, prompt: &[u32], settings: &Settings, chunk: usize, raw: bool) -> Result<Turn, Error> {
        let cache = KvCache::new(self.net.config(), self.net.config().block_size)?;
        self.queue_in(cache, prompt, settings, chunk, raw)
    }

    /// As `queue`, in a cache that holds the prompt's first `cache.len()` tokens already
    /// (`PromptCache::take`): only the rest is fed.
    pub fn queue_in(
        &self,
        cache: KvCache,
        prompt: &[u32],
        settings: &Settings,
        chunk: usize,
        raw: bool,
    ) -> Result<Turn, Error> {
        let sampler = Sampler::new(settings.sampler.clone(), self.net.config().vocab_size)?;
        let cached = cache.len();
        let mut turn =
            self.turn(Sequence::unfed_in(self.net, cache, prompt, sampler)?, prompt.len(), settings, chunk, raw);
        turn.cached_tokens = cached;
        Ok(turn)
    }

    fn turn(&self, seq: Sequence, prompt_tokens: usize, settings: &Settings, chunk: usize, raw: bool) -> Turn {
        Turn {
            prompt_tokens,
            cached_tokens: 0,
            seq,
            max_tokens: settings.max_tokens,
            in_call: false,
            stream: StreamDecoder::new(),
            finish: None,
            end: None,
            logprobs: settings.logprobs,
            chunk,
            raw,
        }
    }

    /// Draws one token of `turn` and reports what it did; returns why the turn ended once it
    /// has (then `Event::Done` was the last event).
    pub fn step(&self, turn: &mut Turn, on_event: &mut dyn FnMut(Event)) -> Result<Option<FinishReason>, Error> {
        let finish = self.plan(turn, on_event)?;
        turn.seq.feed_queued(self.net)?;
        Ok(finish)
    }

    /// Steps several turns at once: each draws its token (or takes its next prompt chunk), then
    /// one pass feeds them all (`Net::extend_batch`), so their rows share every weight read.
    /// `on_event` gets the turn's index with each event. With an `invariant` batch each turn's
    /// text is what it would be stepped alone.
    pub fn step_batch(
        &self,
        turns: &mut [&mut Turn],
        batch: &mut Batch,
        on_event: &mut dyn FnMut(usize, Event),
    ) -> Result<(), Error> {
        for (i, turn) in turns.iter_mut().enumerate() {
            self.plan(turn, &mut |e| on_event(i, e))?;
        }
        let mut segments: Vec<Segment> = turns.iter_mut().filter_map(|t| t.seq.segment()).collect();
        if !segments.is_empty() {
            self.net.extend_batch(batch, &mut segments)?;
        }
        for turn in turns.iter_mut() {
            turn.seq.fed();
        }
        Ok(())
    }

    /// A step but for the pass: the next prompt chunk, or a drawn token (and a tool's result)
    /// queued to feed, with its events; the turn's end when it has come.
    fn plan(&self, turn: &mut Turn, on_event: &mut dyn FnMut(Event)) -> Result<Option<FinishReason>, Error> {
        if turn.finish.is_some() {
            return Ok(turn.finish);
        }
        if turn.prefilling() {
            turn.seq.queue_prefill(turn.chunk);
            return Ok(None);
        }
        if turn.seq.drawn >= turn.max_tokens {
            return Ok(Some(self.end(turn, FinishReason::Length, on_event)));
        }
        let ct = &self.ct;
        let draw = turn.seq.draw(turn.logprobs.map_or(0, |k| k.max(1)));
        let token = draw.token;
        if token == ct.bos || (!turn.raw && token == ct.assistant_end) {
            turn.end = Some(token);
            return Ok(Some(self.end(turn, FinishReason::Stop, on_event)));
        }
        let mut forced = Vec::new();
        if turn.raw {
            self.text(turn, &draw, on_event)?;
        } else if token == ct.tool_call_start {
            turn.in_call = true;
        } else if token == ct.tool_call_end {
            turn.in_call = false;
            // A call is everything since the last start token (none: not a call).
            if let (Some(tools), Some(call)) = (self.tools, turn.seq.open_call(ct.tool_call_start)) {
                let call = ToolCall::parse(&String::from_utf8_lossy(&self.tok.decode_bytes(call).unwrap_or_default()));
                let result = tools.run(&call);
                on_event(Event::ToolCall(call));
                forced = tool_result_tokens(&result, self.tok, ct);
                on_event(Event::ToolResult(result));
            }
        } else if !turn.in_call && token != ct.tool_result_start && token != ct.tool_result_end {
            self.text(turn, &draw, on_event)?;
        }
        match turn.seq.queue(self.net, token, &forced)? {
            Some(_) => Ok(Some(self.end(turn, FinishReason::Context, on_event))),
            None => Ok(None),
        }
    }

    /// Reports a drawn token of the reply's text (its log-probability first, when asked).
    fn text(&self, turn: &mut Turn, draw: &Draw, on_event: &mut dyn FnMut(Event)) -> Result<(), Error> {
        if let Some(k) = turn.logprobs {
            on_event(Event::Token(TokenLogprob::of(draw, k)));
        }
        let text = turn.stream.push(self.tok, draw.token)?;
        if !text.is_empty() {
            on_event(Event::Text(text));
        }
        Ok(())
    }

    /// Ends `turn` now (or it has ended): the text held back, then `Event::Done`. A caller
    /// ends a turn this way when it cancels it or when its own stop condition is met.
    pub fn end(&self, turn: &mut Turn, finish: FinishReason, on_event: &mut dyn FnMut(Event)) -> FinishReason {
        if let Some(done) = turn.finish {
            return done;
        }
        let rest = turn.stream.finish();
        if !rest.is_empty() {
            on_event(Event::Text(rest));
        }
        turn.finish = Some(finish);
        on_event(Event::Done { finish, usage: self.usage(turn) });
        finish
    }

    fn usage(&self, turn: &Turn) -> Usage {
        let tool_tokens = turn.seq.forced.iter().filter(|&&f| f).count();
        let (prompt_tokens, cached_tokens) = (turn.prompt_tokens, turn.cached_tokens);
        Usage { prompt_tokens, cached_tokens, completion_tokens: turn.seq.drawn, tool_tokens }
    }

    /// The finished (or cancelled) turn as a reply.
    pub fn finish(&self, turn: Turn) -> Reply {
        let usage = self.usage(&turn);
        let (finish, end) = (turn.finish.unwrap_or(FinishReason::Cancelled), turn.end);
        let (tokens, forced) = turn.seq.into_tokens();
        Reply { messages: parse_reply(&tokens, self.tok, &self.ct), finish, usage, tokens, forced, end }
    }

    /// The whole reply to `messages`; `cancel` is checked before every token (a cancelled
    /// reply keeps what was written).
    pub fn reply(
        &self,
        messages: &[Message],
        settings: &Settings,
        cancel: &AtomicBool,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<Reply, Error> {
        self.run(self.start(messages, settings)?, cancel, on_event)
    }

    /// Runs a started turn to its end (see `reply`).
    pub fn run(&self, mut turn: Turn, cancel: &AtomicBool, on_event: &mut dyn FnMut(Event)) -> Result<Reply, Error> {
        loop {
            if cancel.load(Ordering::Relaxed) {
                self.end(&mut turn, FinishReason::Cancelled, on_event);
                break;
            }
            if self.step(&mut turn, on_event)?.is_some() {
                break;
            }
        }
        Ok(self.finish(turn))
    }
}
