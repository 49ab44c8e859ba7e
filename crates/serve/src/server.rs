//! The server: options, the shared state, the routes, the API key and CORS checks, binding
//! and a clean shutdown (Ctrl-C: stop accepting, let replies in flight finish for a grace
//! period, then cut them with a final error event).

use crate::body::CancelOnDrop;
use crate::engine::{Choice, Engine, EngineConfig, Job, SearchFn, Update, Work};
use crate::error::ApiError;
use crate::feedback::{self, Feedback};
use crate::metrics::Metrics;
use crate::{chat, completions, info, trace, ui};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use minichat_chat::conversation::ChatTokens;
use minichat_model::net::Net;
use minichat_model::ModelConfig;
use minichat_tokenizer::Tokenizer;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc::UnboundedReceiver;

/// The model served: its weights, tokenizer, the search its `search` calls use, and its name.
pub struct Model {
    pub net: Net,
    pub tok: Tokenizer,
    pub search: Option<SearchFn>,
    /// The `model` id clients send and `/v1/models` lists.
    pub id: String,
}

/// How the server runs.
#[derive(Clone, Debug)]
pub struct Options {
    pub host: String,
    pub port: u16,
    /// Clients must send it (`Authorization: Bearer KEY` or `X-Api-Key`); `/health` stays open.
    pub api_key: Option<String>,
    /// Replies generated at once.
    pub parallel: usize,
    /// Requests that may wait for a slot; more get 503.
    pub queue: usize,
    /// Reply tokens at most (and the default when a request gives none).
    pub max_tokens: usize,
    /// A request's time limit; a reply still going then ends with finish_reason "length".
    pub timeout: Duration,
    pub max_body_bytes: usize,
    pub prefill_chunk: usize,
    /// Keep each finished reply's KV cache (as many as there are slots) so that a prompt that
    /// shares its start feeds only the rest (`minichat_chat::prompt_cache`; the text is the
    /// same either way).
    pub prompt_cache: bool,
    /// Keep-alive comments (`: ping`) this often while a stream waits.
    pub ping_interval: Duration,
    /// Origins allowed to call from a browser (`*` for any); none: no CORS headers.
    pub cors_origins: Vec<String>,
    /// After Ctrl-C, how long replies in flight may go on.
    pub shutdown_grace: Duration,
    /// The SQLite file that keeps votes on replies (`POST /v1/feedback`); none: not kept.
    pub feedback: Option<std::path::PathBuf>,
    /// The served run's metrics log (`metrics.jsonl`), for the page's Training view.
    pub metrics: Option<std::path::PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            host: "127.0.0.1".into(),
            port: 8000,
            api_key: None,
            parallel: 4,
            queue: 64,
            max_tokens: 512,
            timeout: Duration::from_secs(600),
            max_body_bytes: 2 << 20,
            prefill_chunk: 256,
            prompt_cache: true,
            ping_interval: Duration::from_secs(10),
            cors_origins: Vec::new(),
            shutdown_grace: Duration::from_secs(5),
            feedback: None,
            metrics: None,
        }
    }
}

/// What `/v1/models` says about the model.
#[derive(Clone, Debug)]
pub struct ModelInfo {
    pub id: String,
    pub created: u64,
    pub params: usize,
    /// The architecture (the page's diagram draws it).
    pub config: ModelConfig,
}

impl ModelInfo {
    /// The context length in tokens.
    pub fn context(&self) -> usize {
        self.config.block_size
    }

    pub fn vocab(&self) -> usize {
        self.config.vocab_size
    }

    /// `gpt2` or `llama`.
    pub fn family(&self) -> String {
        format!("{:?}", self.config.family).to_lowercase()
    }
}

/// What every handler shares.
pub struct Shared {
    jobs: Mutex<Option<mpsc::Sender<Work>>>,
    pub tok: Arc<Tokenizer>,
    /// The chat format's tokens; None for a base model's tokenizer (then only text
    /// completions are served).
    pub ct: Option<ChatTokens>,
    /// The document separator: it starts a text prompt and ends a completion.
    pub bos: u32,
    pub info: ModelInfo,
    pub options: Options,
    pub metrics: Arc<Metrics>,
    /// Where votes on replies go (`Options::feedback`).
    pub feedback: Option<Arc<Feedback>>,
}

pub type AppState = Arc<Shared>;

impl Shared {
    /// Hands a job to the engine, unless the queue is full (503).
    pub fn submit(&self, job: Job) -> Result<(), ApiError> {
        let m = &self.metrics;
        let (running, waiting) = (m.running.load(Ordering::Relaxed), m.waiting.load(Ordering::Relaxed));
        if running >= self.options.parallel && waiting >= self.options.queue {
            return Err(ApiError::busy(waiting));
        }
        m.waiting.fetch_add(1, Ordering::Relaxed);
        self.send(Work::Reply(job)).inspect_err(|_| {
            m.waiting.fetch_sub(1, Ordering::Relaxed);
        })
    }

    /// Hands work to the engine's thread.
    fn send(&self, work: Work) -> Result<(), ApiError> {
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = jobs.as_ref() else { return Err(ApiError::internal("the server is shutting down")) };
        tx.send(work).map_err(|_| ApiError::internal("the engine has stopped"))
    }

    /// Runs `look` on the model in the engine's thread, between two rounds; its answer comes
    /// back on the receiver.
    pub fn inspect<T: Send + 'static>(
        &self,
        look: impl FnOnce(&Net) -> T + Send + 'static,
    ) -> Result<tokio::sync::oneshot::Receiver<T>, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Work::Inspect(Box::new(move |net| {
            let _ = tx.send(look(net));
        })))?;
        Ok(rx)
    }

    /// Submits a job of these prompts and choices; returns its updates and the guard that
    /// cancels it when the response (or its stream) is dropped.
    pub fn start(
        &self,
        prompts: Vec<Vec<u32>>,
        choices: Vec<Choice>,
        raw: bool,
        stop: Vec<String>,
        prompt_logprobs: Option<usize>,
    ) -> Result<(UnboundedReceiver<Update>, CancelOnDrop), ApiError> {
        let (updates, rx) = tokio::sync::mpsc::unbounded_channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let submitted = Instant::now();
        let deadline = submitted + self.options.timeout;
        let job =
            Job { prompts, choices, raw, stop, prompt_logprobs, cancel: cancel.clone(), deadline, submitted, updates };
        self.submit(job)?;
        Ok((rx, CancelOnDrop(cancel)))
    }

    /// A fresh default seed: requests without a seed differ from each other.
    pub fn default_seed(&self) -> u64 {
        let t = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        (t as u64) ^ ((t >> 64) as u64)
    }
}

/// A bound server, not yet serving.
pub struct Server {
    listener: tokio::net::TcpListener,
    state: AppState,
    engine: std::thread::JoinHandle<()>,
    cut: Arc<AtomicBool>,
}

impl Server {
    /// Binds the address and starts the engine's thread (call inside a tokio runtime).
    pub async fn bind(model: Model, options: Options) -> std::io::Result<Server> {
        let ct = ChatTokens::of(&model.tok).ok();
        let bos = model.tok.bos_id().map_err(|e| std::io::Error::other(e.to_string()))?;
        let cfg = model.net.config();
        let info = ModelInfo {
            id: model.id.clone(),
            created: crate::body::now(),
            params: model.net.weights().len(),
            config: cfg.clone(),
        };
        let feedback = match &options.feedback {
            Some(path) => Some(Arc::new(Feedback::open(path).map_err(std::io::Error::other)?)),
            None => None,
        };
        let listener = tokio::net::TcpListener::bind((options.host.as_str(), options.port)).await?;
        let tok = Arc::new(model.tok);
        let metrics = Arc::new(Metrics::default());
        let cut = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let engine = Engine {
            net: model.net,
            tok: tok.clone(),
            search: model.search,
            ct: ct.unwrap_or(ChatTokens::bos_only(bos)),
            config: EngineConfig {
                parallel: options.parallel.max(1),
                prefill_chunk: options.prefill_chunk.max(1),
                prompt_cache: options.prompt_cache,
            },
            metrics: metrics.clone(),
            cut: cut.clone(),
        };
        let engine = std::thread::Builder::new().name("minichat-engine".into()).spawn(move || engine.run(rx))?;
        let state = Arc::new(Shared { jobs: Mutex::new(Some(tx)), tok, ct, bos, info, options, metrics, feedback });
        Ok(Server { listener, state, engine, cut })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves; then replies in flight get the grace period, and
    /// the engine's thread is joined.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let (state, cut) = (self.state.clone(), self.cut.clone());
        let grace = state.options.shutdown_grace;
        let (fired, has_fired) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            shutdown.await;
            let _ = fired.send(());
            // Stop taking jobs; cut what still runs once the grace period is over.
            state.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                cut.store(true, Ordering::Relaxed);
            });
        };
        let app = router(self.state.clone());
        // Each token goes out at once (no Nagle delay on small writes).
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let serving = axum::serve(listener, app).with_graceful_shutdown(signal).into_future();
        // A connection that stays open after the grace period (a browser's spare connection
        // that never sent a request, a client that does not read) must not keep the server
        // up: a second after the grace period the wait ends, the listener closes, and the
        // connections go with the runtime.
        let overdue = async {
            if has_fired.await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(grace + Duration::from_secs(1)).await;
        };
        let served = tokio::select! {
            served = serving => served,
            () = overdue => {
                eprintln!("minichat serve: connections still open {:.1} s after shutdown began are dropped", grace.as_secs_f64() + 1.0);
                Ok(())
            }
        };
        self.state.jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(self.state);
        self.cut.store(true, Ordering::Relaxed);
        let _ = tokio::task::spawn_blocking(move || self.engine.join()).await;
        served
    }
}

/// Binds, tells `on_ready` the address, and serves until Ctrl-C or SIGTERM: the blocking
/// entry point for the CLI (which so needs no async runtime of its own).
pub fn serve_until_signal(model: Model, options: Options, on_ready: impl FnOnce(SocketAddr)) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async {
        let server = Server::bind(model, options).await?;
        on_ready(server.local_addr()?);
        server.run(signal()).await
    })
}

/// Ctrl-C, or SIGTERM where there is one.
async fn signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// The routes, behind the key check (but for `/health` and the page) and CORS.
pub fn router(state: AppState) -> Router {
    let limit = state.options.max_body_bytes;
    Router::new()
        .route("/v1/chat/completions", post(chat::handle))
        .route("/v1/completions", post(completions::handle))
        .route("/v1/feedback", post(feedback::handle))
        .route("/v1/trace", post(trace::handle))
        .route("/v1/training", get(info::training))
        .route("/v1/models", get(info::models))
        .route("/v1/models/{*id}", get(info::model))
        .route("/tokenize", post(info::tokenize))
        .route("/detokenize", post(info::detokenize))
        .route("/tokenizer_info", get(info::tokenizer_info))
        .route("/health", get(info::health))
        .route("/metrics", get(info::metrics))
        .route("/", get(ui::index))
        .route("/ui/{name}", get(ui::asset))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    let mut e = ApiError::not_found(format!("no route for {method} {}", uri.path()));
    e.code = None;
    e
}

/// The API key (constant-time), CORS preflight and headers, and the answered-requests count.
async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let allowed = origin.as_ref().filter(|o| {
        let o = o.to_str().unwrap_or("");
        state.options.cors_origins.iter().any(|a| a == "*" || a == o)
    });
    let allowed = allowed.cloned();
    let mut response = if req.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else if req.uri().path() != "/health"
        && !ui::is_page(req.uri().path())
        && !key_ok(state.options.api_key.as_deref(), req.headers())
    {
        ApiError::unauthorized().into_response()
    } else {
        next.run(req).await
    };
    state.metrics.answered(response.status().as_u16());
    if let Some(origin) = allowed {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("*"));
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// Whether the request carries the key (`Bearer` or `X-Api-Key`); always true without one.
fn key_ok(key: Option<&str>, headers: &HeaderMap) -> bool {
    let Some(key) = key else { return true };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    let given = bearer.or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()));
    given.is_some_and(|g| constant_time_eq(g.trim().as_bytes(), key.as_bytes()))
}

/// Compares every byte whatever the first difference, so timing says nothing of the key.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i).copied().unwrap_or(0), b.get(i).copied().unwrap_or(0));
        diff |= std::hint::black_box((x ^ y) as u64);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
        let mut h = HeaderMap::new();
        assert!(key_ok(None, &h));
        assert!(!key_ok(Some("k"), &h));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer k"));
        assert!(key_ok(Some("k"), &h));
        let mut h = HeaderMap::new();
        h.insert("x-api-key", HeaderValue::from_static("k"));
        assert!(key_ok(Some("k"), &h));
    }
}
