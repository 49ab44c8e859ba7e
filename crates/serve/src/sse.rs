//! Server-sent events as the OpenAI clients parse them: `data: {json}` events, `: ping`
//! comments while nothing happens (a request waiting in the queue, a long prefill), an error
//! after the stream started as `data: {"error": {...}}`, and `data: [DONE]` at the end.

use crate::body::CancelOnDrop;
use crate::engine::Update;
use crate::error::ApiError;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// Turns a job's updates into events.
pub trait Feed: Send + 'static {
    /// The events for `update`; true once the stream is complete (the caller adds `[DONE]`).
    fn update(&mut self, update: Update, out: &mut Vec<Value>) -> bool;
}

/// Feeds every update of a job to `feed` until it is complete (a whole, not streamed,
/// response); a failure or the engine going away is an error.
pub async fn to_end<F: Feed>(mut rx: UnboundedReceiver<Update>, feed: &mut F) -> Result<(), ApiError> {
    while let Some(update) = rx.recv().await {
        if let Update::Failed(why) = update {
            return Err(ApiError::internal(why));
        }
        if feed.update(update, &mut Vec::new()) {
            return Ok(());
        }
    }
    Err(ApiError::internal("the reply ended early: the server is shutting down"))
}

/// One `data:` event.
pub fn data(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

struct State<F> {
    rx: UnboundedReceiver<Update>,
    _cancel: CancelOnDrop,
    feed: F,
    out: VecDeque<Bytes>,
    done: bool,
    ping: Duration,
}

/// The streaming response: `first` events at once, then what `feed` makes of each update.
pub fn stream<F: Feed>(
    rx: UnboundedReceiver<Update>,
    cancel: CancelOnDrop,
    feed: F,
    first: Vec<Value>,
    ping: Duration,
) -> Response {
    let out = first.iter().map(data).collect();
    let state = State { rx, _cancel: cancel, feed, out, done: false, ping };
    let events = futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(b) = s.out.pop_front() {
                return Some((Ok::<_, Infallible>(b), s));
            }
            if s.done {
                return None;
            }
            let mut values = Vec::new();
            match tokio::time::timeout(s.ping, s.rx.recv()).await {
                Err(_) => s.out.push_back(Bytes::from_static(b": ping\n\n")),
                Ok(Some(Update::Failed(why))) => {
                    s.out.push_back(data(&ApiError::internal(why).body()));
                    s.done = true;
                }
                Ok(Some(update)) => s.done = s.feed.update(update, &mut values),
                Ok(None) => {
                    s.out.push_back(data(
                        &ApiError::internal("the reply ended early: the server is shutting down").body(),
                    ));
                    s.done = true;
                }
            }
            s.out.extend(values.iter().map(data));
            if s.done {
                s.out.push_back(Bytes::from_static(b"data: [DONE]\n\n"));
            }
        }
    });
    let mut r = Body::from_stream(events).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}
