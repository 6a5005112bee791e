//! [`Error`]: why a request failed, one type for every handler. The store's and the
//! failure API's errors convert with `From`, so handlers just use `?`; each variant renders
//! the error page with its status.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// Why a request failed; each renders the error page with the right status.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Redis cannot be reached: Ruby's "Can't connect to Redis!" page, which reloads
    /// itself until it can. The text says where and why, in plain words.
    #[error("Can't connect to Redis! ({0})")]
    NoRedis(String),
    /// No such page, record or list.
    #[error("{0}")]
    NotFound(String),
    /// A request the page cannot use (a bad form, a bad query).
    #[error("{0}")]
    BadRequest(String),
    /// The record changed meanwhile, or cannot be acted on.
    #[error("{0}")]
    Conflict(String),
    /// A form without the right CSRF token.
    #[error("Invalid or missing CSRF token: reload the page and try again.")]
    Csrf,
    /// Anything else (logged).
    #[error("{0}")]
    Internal(String),
}

impl From<resque_store::Error> for Error {
    fn from(e: resque_store::Error) -> Self {
        if e.is_connection() || matches!(e, resque_store::Error::BadConnectionString { .. }) {
            // A first connection that fails is told each time; an outage of an open one
            // is told once, by the connection's own watcher (`app.rs`).
            if matches!(e, resque_store::Error::Connect { .. }) {
                tracing::warn!(error = %e, "Redis unreachable");
            } else {
                tracing::debug!(error = %e, "Redis unreachable");
            }
            Self::NoRedis(e.to_string())
        } else {
            tracing::warn!(error = %e, "Redis error");
            Self::Internal(format!("Redis error: {e}"))
        }
    }
}

impl From<resque_failure::Error> for Error {
    fn from(e: resque_failure::Error) -> Self {
        use resque_failure::Error as F;
        match e {
            F::Store(s) => s.into(),
            F::InvalidQueue(_) | F::NoSuchRecord { .. } => Self::NotFound(e.to_string()),
            F::Changed { .. } | F::Corrupt { .. } => Self::Conflict(e.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, refresh) = match &self {
            Self::NoRedis(_) => (StatusCode::SERVICE_UNAVAILABLE, true),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, false),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, false),
            Self::Conflict(_) => (StatusCode::CONFLICT, false),
            Self::Csrf => (StatusCode::FORBIDDEN, false),
            Self::Internal(m) => {
                tracing::error!(error = %m, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, false)
            }
        };
        let page = crate::views::ErrorPage {
            message: self.to_string(),
            refresh,
        };
        match askama::Template::render(&page) {
            Ok(body) => (status, Html(body)).into_response(),
            // The error page itself failed to render: the status alone, in plain text.
            Err(_) => (status, "Something went wrong").into_response(),
        }
    }
}
