//! The engine: one thread that owns the model and serves every request's turns together.
//!
//! Requests arrive as `Job`s: one or more prompts, a choice per sampled reply (`n` per prompt),
//! each with its own settings (seed + index). Up to `parallel` choices hold a slot at once;
//! the rest wait in arrival order. Each round the engine admits waiting choices into free
//! slots, then steps every slot once through the library's assistant turn: a slot still
//! feeding its prompt feeds the next chunk of it (so a long prompt does not stall the
//! others), a decoding slot draws one token, and one pass feeds them all through the model:
//! their rows share every weight read (continuous batching), and the pass is row-invariant,
//! so each reply is the one it would be alone. A new request joins at the next round; a choice
//! whose client went away (its job's cancel flag) or whose time is up ends at the next round
//! and frees its slot, touching no other slot. What a turn does goes back to the request's
//! handler as `Update`s on its own channel.
//!
//! A finished choice's KV cache is kept (`PromptCache`, one per slot at most): a new choice
//! starts in the kept cache that shares the longest start with its prompt and feeds only the
//! rest (a chat's earlier turns, a shared system prompt, a prompt sent again), as llama.cpp's
//! slots do. Every pass is invariant, so this changes no reply, only how soon it starts.

use crate::metrics::Metrics;
use crate::stop::StopText;
use minichat_chat::assistant::{Assistant, Event, FinishReason, Settings, Turn};
use minichat_chat::conversation::ChatTokens;
use minichat_chat::logprobs::{prompt_logprobs, TokenLogprob};
use minichat_chat::prompt_cache::PromptCache;
use minichat_chat::tools::Tools;
use minichat_model::kv_cache::Batch;
use minichat_model::net::Net;
use minichat_tokenizer::Tokenizer;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;

/// A search engine the model's `search` calls go to (the CLI hands in the data crate's index).
pub type SearchFn = Box<dyn Fn(&str) -> String + Send>;

/// One sampled reply of a job: which prompt it continues, and how.
#[derive(Clone, Debug)]
pub struct Choice {
    pub prompt: usize,
    pub settings: Settings,
}

/// A request, as the engine runs it.
pub struct Job {
    pub prompts: Vec<Vec<u32>>,
    pub choices: Vec<Choice>,
    /// Raw text completion (no chat format, no tools) rather than an assistant reply.
    pub raw: bool,
    pub stop: Vec<String>,
    /// Score the prompts' own tokens with this many alternatives (`echo` with `logprobs`).
    pub prompt_logprobs: Option<usize>,
    /// Set when the client goes away: the job's choices end at the next round.
    pub cancel: Arc<AtomicBool>,
    pub deadline: Instant,
    pub submitted: Instant,
    pub updates: UnboundedSender<Update>,
}

/// What the engine is handed: a request's replies to run, or a look at the model (a trace for
/// the page's views) run between two rounds.
pub enum Work {
    Reply(Job),
    Inspect(Box<dyn FnOnce(&Net) + Send>),
}

/// What the engine tells a request's handler.
#[derive(Debug)]
pub enum Update {
    /// The prompt's tokens scored (`Job::prompt_logprobs`), once per prompt.
    Prompt { prompt: usize, logprobs: Vec<Option<TokenLogprob>> },
    /// An event of choice `choice`'s turn (`Event::Done` is its last).
    Event { choice: usize, event: Event },
    /// The request failed (after which nothing more comes).
    Failed(String),
}

/// The engine's settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Choices decoded at once.
    pub parallel: usize,
    /// Prompt tokens a slot feeds per round while prefilling.
    pub prefill_chunk: usize,
    /// Keep finished choices' KV caches (one per slot) for prompts that share their start.
    pub prompt_cache: bool,
}

/// A choice holding a slot.
struct Slot {
    job: Arc<Job>,
    choice: usize,
    turn: Turn,
    stop: StopText,
    last_token: Option<Instant>,
    /// A stop string came: the turn ends after this round.
    stopped: bool,
    failed: bool,
}

/// The model and what runs beside it, moved into the engine's thread.
pub struct Engine {
    pub net: Net,
    pub tok: Arc<Tokenizer>,
    pub search: Option<SearchFn>,
    /// The chat format's tokens (`ChatTokens::bos_only` for a base model: raw turns only).
    pub ct: ChatTokens,
    pub config: EngineConfig,
    pub metrics: Arc<Metrics>,
    /// Set at shutdown once the grace period is over: every turn ends now.
    pub cut: Arc<AtomicBool>,
}

impl Engine {
    /// Serves jobs until the sending side is dropped and every job is done.
    pub fn run(self, jobs: Receiver<Work>) {
        let search = self.search.as_ref().map(|f| Box::new(move |q: &str| f(q)) as _);
        let tools = Tools { search };
        let assistant = Assistant { net: &self.net, tok: &self.tok, ct: self.ct, tools: Some(&tools) };
        let mut waiting: VecDeque<(Arc<Job>, usize)> = VecDeque::new();
        let mut slots: Vec<Slot> = Vec::new();
        // Invariant: each reply is what it would be alone, whatever else runs (and whatever
        // kept cache it starts in).
        let mut batch = Batch::new(true);
        let mut kept = PromptCache::new(if self.config.prompt_cache { self.config.parallel.max(1) } else { 0 });
        let mut open = true;
        loop {
            // Take what has arrived; sleep only when there is nothing to do.
            while open {
                let work = if slots.is_empty() && waiting.is_empty() {
                    match jobs.recv() {
                        Ok(work) => work,
                        Err(_) => return,
                    }
                } else {
                    match jobs.try_recv() {
                        Ok(work) => work,
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => {
                            open = false;
                            break;
                        }
                    }
                };
                let job = match work {
                    Work::Reply(job) => Arc::new(job),
                    Work::Inspect(look) => {
                        look(&self.net);
                        continue;
                    }
                };
                waiting.extend((0..job.choices.len()).map(|c| (job.clone(), c)));
            }
            if !open && slots.is_empty() && waiting.is_empty() {
                return;
            }
            self.admit(&assistant, &mut waiting, &mut slots, &mut kept);
            for slot in &mut slots {
                self.end_early(&assistant, slot);
            }
            release(&mut slots, &mut kept);
            self.round(&assistant, &mut batch, &mut slots);
            release(&mut slots, &mut kept);
            self.metrics.running.store(slots.len(), Ordering::Relaxed);
        }
    }

    /// Moves waiting choices into free slots (choices of a cancelled job are dropped), each in
    /// the kept cache that shares most of its prompt.
    fn admit(
        &self,
        assistant: &Assistant,
        waiting: &mut VecDeque<(Arc<Job>, usize)>,
        slots: &mut Vec<Slot>,
        kept: &mut PromptCache,
    ) {
        while slots.len() < self.config.parallel.max(1) {
            let Some((job, choice)) = waiting.pop_front() else { break };
            if choice == 0 {
                self.metrics.waiting.fetch_sub(1, Ordering::Relaxed);
            }
            if job.cancel.load(Ordering::Relaxed) || self.cut.load(Ordering::Relaxed) {
                continue;
            }
            if choice == 0 {
                if let Err(e) = self.score_prompts(&job) {
                    let _ = job.updates.send(Update::Failed(e));
                    job.cancel.store(true, Ordering::Relaxed);
                    continue;
                }
                let n: usize = job.prompts.iter().map(Vec::len).sum();
                self.metrics.prompt_tokens.fetch_add(n as u64, Ordering::Relaxed);
            }
            let c = &job.choices[choice];
            let prompt = &job.prompts[c.prompt];
            let turn = kept.take(self.net.config(), prompt).and_then(|cache| {
                self.metrics.cached_prompt_tokens.fetch_add(cache.len() as u64, Ordering::Relaxed);
                assistant.queue_in(cache, prompt, &c.settings, self.config.prefill_chunk, job.raw)
            });
            match turn {
                Ok(turn) => {
                    let stop = StopText::new(job.stop.clone());
                    slots.push(Slot { job, choice, turn, stop, last_token: None, stopped: false, failed: false });
                }
                Err(e) => {
                    let _ = job.updates.send(Update::Failed(e.to_string()));
                    job.cancel.store(true, Ordering::Relaxed);
                }
            }
        }
    }

    /// `echo` with `logprobs`: the prompts' own tokens scored, before any choice runs.
    fn score_prompts(&self, job: &Job) -> Result<(), String> {
        let Some(top) = job.prompt_logprobs else { return Ok(()) };
        for (i, prompt) in job.prompts.iter().enumerate() {
            let logprobs = prompt_logprobs(&self.net, prompt, top).map_err(|e| e.to_string())?;
            let _ = job.updates.send(Update::Prompt { prompt: i, logprobs });
        }
        Ok(())
    }

    /// Ends a slot before the round if the server is shutting down (the stream gets an
    /// error), its client left, or its time is up.
    fn end_early(&self, assistant: &Assistant, slot: &mut Slot) {
        let job = slot.job.clone();
        if self.cut.load(Ordering::Relaxed) {
            let _ = job.updates.send(Update::Failed("the reply was cut short: the server is shutting down".into()));
            slot.failed = true;
            return self.finished(slot);
        }
        let finish = if job.cancel.load(Ordering::Relaxed) {
            FinishReason::Cancelled
        } else if Instant::now() >= job.deadline {
            FinishReason::Length
        } else {
            return;
        };
        let (choice, stop) = (slot.choice, &mut slot.stop);
        let mut send = |e| {
            let _ = job.updates.send(Update::Event { choice, event: e });
        };
        assistant.end(&mut slot.turn, finish, &mut |e| forward(e, stop, &mut send, &mut false));
        self.finished(slot);
    }

    /// One round: every slot feeds its next prompt chunk or draws a token, and one pass feeds
    /// them all through the model (their rows share each weight read).
    fn round(&self, assistant: &Assistant, batch: &mut Batch, slots: &mut [Slot]) {
        if slots.is_empty() {
            return;
        }
        let drawn: Vec<usize> = slots.iter().map(|s| s.turn.drawn()).collect();
        let mut turns = Vec::with_capacity(slots.len());
        let mut sides = Vec::with_capacity(slots.len());
        for s in slots.iter_mut() {
            turns.push(&mut s.turn);
            sides.push((&s.job, s.choice, &mut s.stop, &mut s.stopped));
        }
        let stepped = assistant.step_batch(&mut turns, batch, &mut |i, e| {
            let (job, choice, stop, stopped) = &mut sides[i];
            let mut send = |e| {
                let _ = job.updates.send(Update::Event { choice: *choice, event: e });
            };
            forward(e, stop, &mut send, stopped)
        });
        if let Err(e) = stepped {
            for slot in slots.iter_mut() {
                let _ = slot.job.updates.send(Update::Failed(format!("generation failed: {e}")));
                slot.failed = true;
            }
            return;
        }
        let now = Instant::now();
        for (slot, before) in slots.iter_mut().zip(drawn) {
            if slot.turn.drawn() > before {
                match slot.last_token {
                    None => self.metrics.ttft.observe(now.duration_since(slot.job.submitted).as_secs_f64()),
                    Some(t) => self.metrics.itl.observe(now.duration_since(t).as_secs_f64()),
                }
                slot.last_token = Some(now);
            }
            if slot.stopped {
                // A stop string ended the reply: what the turn still holds back is past it.
                let (job, choice) = (&slot.job, slot.choice);
                assistant.end(&mut slot.turn, FinishReason::Stop, &mut |e| {
                    if matches!(e, Event::Done { .. }) {
                        let _ = job.updates.send(Update::Event { choice, event: e });
                    }
                });
            }
            if slot.turn.finish().is_some() {
                self.finished(slot);
            }
        }
    }

    fn finished(&self, slot: &Slot) {
        self.metrics.generated_tokens.fetch_add(slot.turn.drawn() as u64, Ordering::Relaxed);
    }
}

/// Takes the slots whose turn has ended out; keeps their caches (a failed pass's cache is
/// dropped: what it holds is unknown).
fn release(slots: &mut Vec<Slot>, kept: &mut PromptCache) {
    for slot in slots.extract_if(.., |s| s.turn.finish().is_some() || s.failed) {
        if !slot.failed {
            let (cache, tokens) = slot.turn.into_cache();
            kept.put(cache, tokens);
        }
    }
}

/// Passes a turn's event on through its stop strings: text up to a stop string (then
/// `stopped` is set and later text is dropped), the held-back text before `Done`.
fn forward(event: Event, stop: &mut StopText, send: &mut dyn FnMut(Event), stopped: &mut bool) {
    match event {
        Event::Text(_) | Event::Token(_) | Event::ToolCall(_) | Event::ToolResult(_) if *stopped => {}
        Event::Text(text) => {
            let (out, hit) = stop.push(&text);
            if !out.is_empty() {
                send(Event::Text(out));
            }
            *stopped |= hit;
        }
        Event::Done { finish, usage } => {
            let rest = stop.flush();
            if !rest.is_empty() {
                send(Event::Text(rest));
            }
            send(Event::Done { finish, usage });
        }
        other => send(other),
    }
}
