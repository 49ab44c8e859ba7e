//! minichat's server: the chat model of a run behind an OpenAI-compatible HTTP API, for the
//! clients people already use (the `openai` Python and Node clients, LangChain, Open WebUI,
//! lm-evaluation-harness). Owns the HTTP side and nothing of the model: the wire formats
//! (`request` reads bodies leniently through `fields`, `chat` and `completions` write
//! responses and streams, `sse` the event stream, `error` the error objects, `info` the
//! models/tokenize/health/metrics endpoints, `trace` what happens inside the model for the
//! page's views), the engine thread that runs every request's
//! turns side by side through the chat crate's assistant turn (`engine`: slots, a bounded
//! queue, chunked prefill, cancellation per request, time limits), `stop` strings, the
//! `metrics`, votes on replies kept in SQLite and read back as preference pairs (`feedback`),
//! the server itself (`server`: options, API key, CORS, shutdown), and the web page at `/`
//! (`ui`, its files in `ui/`: chat in the browser). HTTP and async code live in this
//! crate only.

pub mod body;
pub mod chat;
pub mod completions;
pub mod engine;
pub mod error;
pub mod feedback;
pub mod fields;
pub mod info;
pub mod metrics;
pub mod request;
pub mod server;
pub mod sse;
pub mod stop;
pub mod trace;
pub mod ui;

pub use engine::SearchFn;
pub use server::{serve_until_signal, Model, Options, Server};
