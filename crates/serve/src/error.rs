//! Errors as OpenAI's API sends them: `{"error": {"message", "type", "param", "code"}}` with
//! the status the official clients map to their exception classes (400 bad request, 401
//! authentication, 404 not found, 413 too large, 503 busy with `Retry-After`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// An error answered to a client.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// OpenAI's `type`: invalid_request_error, authentication_error, not_found_error, ...
    pub kind: &'static str,
    /// The request field at fault, if one is.
    pub param: Option<String>,
    pub code: Option<&'static str>,
    /// More fields of the error object (the prompt's and the context's token counts).
    pub extra: Vec<(&'static str, Value)>,
    /// Seconds a client should wait before trying again (a full queue).
    pub retry_after: Option<u32>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            kind,
            param: None,
            code: None,
            extra: Vec::new(),
            retry_after: None,
        }
    }

    /// A field that is missing, of the wrong type or out of range (400, naming it).
    pub fn field(param: impl Into<String>, message: impl Into<String>) -> ApiError {
        let param = param.into();
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message);
        e.param = Some(param);
        e
    }

    /// A request that cannot be served as it is (400).
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// The prompt does not fit the context (400, before any stream starts, with both counts
    /// as llama.cpp names them).
    pub fn context(prompt_tokens: usize, context: usize) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "exceed_context_size_error",
            format!(
                "the request has {prompt_tokens} prompt tokens, and the model's context of {context} tokens \
                 leaves no room for a reply"
            ),
        );
        e.code = Some("context_length_exceeded");
        e.param = Some("messages".into());
        e.extra = vec![("n_prompt_tokens", json!(prompt_tokens)), ("n_ctx", json!(context))];
        e
    }

    pub fn unauthorized() -> ApiError {
        let mut e = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "missing or wrong API key (send it as `Authorization: Bearer KEY` or `X-Api-Key: KEY`)",
        );
        e.code = Some("invalid_api_key");
        e
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(StatusCode::NOT_FOUND, "not_found_error", message);
        e.code = Some("model_not_found");
        e
    }

    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("the request body is larger than the server's limit of {limit} bytes"),
        )
    }

    /// The queue is full (503 with `Retry-After`, which the official clients wait for).
    pub fn busy(waiting: usize) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_busy_error",
            format!("the server is busy: {waiting} requests are waiting already; try again shortly"),
        );
        e.retry_after = Some(1);
        e
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
    }

    /// The error object (what goes under `"error"`, also in a stream's error event).
    pub fn body(&self) -> Value {
        let mut o = Map::new();
        o.insert("message".into(), json!(self.message));
        o.insert("type".into(), json!(self.kind));
        o.insert("param".into(), json!(self.param));
        o.insert("code".into(), json!(self.code));
        o.extend(self.extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        json!({ "error": o })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body())).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}
