//! The seam between the HTTP layer and what runs route handlers.
//!
//! The HTTP layer (`http.rs`) routes, reads and decodes the body, answers CORS, docs and framework
//! errors, then hands a matched request to an [`Engine`]. The production engine runs the handler
//! in the Ask VM (`vmapp.rs`); tests also use small engines written in Rust, which lets the HTTP
//! behaviour be tested without the language pipeline.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use crate::request::RequestData;
use crate::router::ParamValue;

/// A finished response, as plain data.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    /// Header pairs, `content-type` included.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

pub const JSON: &str = "application/json";
pub const TEXT: &str = "text/plain; charset=utf-8";

impl Reply {
    pub fn json(status: u16, body: impl Into<Bytes>) -> Reply {
        Reply { status, headers: vec![("content-type".into(), JSON.into())], body: body.into() }
    }
    pub fn text(status: u16, body: impl Into<Bytes>) -> Reply {
        Reply { status, headers: vec![("content-type".into(), TEXT.into())], body: body.into() }
    }
    /// `{"message": msg}` with `status`.
    pub fn message(status: u16, msg: &str) -> Reply {
        Reply::json(status, crate::json::message(msg))
    }
    pub fn internal_error() -> Reply {
        Reply::message(500, "Internal Server Error")
    }
}

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Runs route handlers.
pub trait Engine: Send + Sync + 'static {
    /// Handle a request routed to `route` (index into the program's routes) with its converted
    /// path parameters. Never panics across this boundary: failures become 500 replies.
    fn handle(self: Arc<Self>, route: usize, params: Vec<ParamValue>, req: Arc<RequestData>) -> BoxFuture<Reply>;
}
