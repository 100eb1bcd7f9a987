//! The Ask HTTP server: `ask start` (and `ask dev`'s serving half) — hyper 1.x on tokio, running
//! route handlers in the Ask VM.
//!
//! # Design
//!
//! **Layers.** `http` owns connections and the request pipeline: route (a segment trie built once
//! per program, `router`), read the body under `[server] body_limit` (413 from `Content-Length`
//! before reading, and from the streamed size), decode JSON / urlencoded / multipart (`request`,
//! `json`; a JSON body that does not parse is a 400 before any Ask code runs), then hand the
//! request to an `engine::Engine`. The framework itself answers 404/405 (with `Allow`)/308 (a
//! `/x/` route asked as `/x`), OPTIONS and CORS preflights (`cors`), HEAD for every GET, and the
//! generated API docs (`docs`: `/docs`, `/docs/public`, `/docs/private`, `/openapi.json`, each
//! only when no user route matches the path). Every framework error body is JSON
//! `{"message": …}`.
//!
//! **One VM per program, behind a lock (a GIL).** Module globals are shared by all requests, so
//! every request runs in the same `ask_vm::Vm`. The VM's heap uses `Rc`/`RefCell` (no atomics);
//! the VM is kept in a `tokio::sync::Mutex` and touched only while the lock is held. No `Value`
//! ever leaves the lock scope: a handler's result is converted to plain bytes, status and headers
//! before unlocking, and request data enters as plain Rust data (`request::RequestData`, converted
//! to values under the lock). A request: take a concurrency permit (`[server] max_concurrency`) →
//! lock → start the handler task with its request-scoped built-ins as task locals → run → if the
//! task suspends on a host call (`time.sleep`, database), unlock, await the call, lock, resume →
//! … → done. The lock is never held across an `.await`, so 50 requests sleeping 0.2 s finish
//! together. VM work runs directly on tokio worker threads: a run is short, and bounded by the
//! per-run instruction budget (`[server] instruction_budget`, default 50 M instructions: a
//! `while True: pass` handler becomes a 500 for that request while the others keep being served).
//!
//! **Failures.** An uncaught exception → 500 `{"message": "Internal Server Error"}` with the Ask
//! traceback on stderr (in dev the body also carries `error` and `traceback`); the budget signal →
//! 500; a handler that ends without responding → 500. A Rust panic inside a request is caught
//! (`catch_unwind`) and answered 500; the task is dropped and the server keeps running (the VM's
//! values are reference counted, so what a half-finished handler left behind is at worst garbage
//! in a global, as after an exception in CPython).
//!
//! **Responses.** `respond(value, status=200, headers=None)` and `status(msg, code)` /
//! `status(code)` raise the uncatchable `Respond` signal carrying the response; it unwinds every
//! Ask frame to the task, which the server turns into compact, insertion-ordered UTF-8 JSON (or
//! plain text for `status`). Instances with an `s()` method (models) serialise through it.
//!
//! **Request built-ins.** `body` (JSON → values), `form` (dict), `files` (dict of upload objects),
//! `req` (merged dict) are plain values; `args` and `headers` are instances of server-made classes
//! whose methods are natives (`get`, `getlist`, `__contains__`, `__getitem__`, `__len__`,
//! `__iter__`, `s`), so `in`, `[]`, `len`, iteration and `respond(args)` all go through the
//! ordinary instance protocol; `request` is a native object. They are bound as task locals (and
//! `_`-aliases), and only those the program can read at all are built: a name absent from every
//! module's global-name table is never looked up (`vmapp::used_request_names`).
//!
//! **Decorators.** The compiled program applies `&name` decorators itself (top = outermost). The
//! server provides the built-ins `protected`, `limit` (`security`: the `ask-auth` crate wired
//! in, with `auth`, `hash` and the secret; built-in wrappers at the outside of a route's chain
//! are checked in Rust before the handler task starts), `basic` as natives, and overrides
//! `__inner__` so that `inner()` in a `decorator` block on a route returns the value the handler
//! responded with while keeping its status and headers (a decorator that returns that value, or
//! `None`, keeps the handler's response; another value is sent as JSON 200; its own
//! `respond`/`status` wins). `protected(f)` returns a wrapper native; when such wrappers are the
//! outermost layers of a route's handler, the engine checks them in Rust before starting the task
//! and runs the wrapped function directly (so it can still suspend); token validation, `auth`
//! and rate limiting live in `security`.
//!
//! **Config.** `Askfile.toml` (or the legacy JSON `Askfile`) beside the program (`config`), `.env`
//! beside the program loaded into the program's environment view without overriding the real
//! environment (`dotenv`). `--host`/`--port` override the file; defaults 127.0.0.1:5000.
//!
//! **Timeouts and shutdown.** hyper's header read timeout (`[server] header_timeout`, default
//! 10 s) closes slow clients; its timer starts whenever the server waits for a request head, so it
//! also closes idle keep-alive connections. A body that stops arriving is cut after
//! `[server] idle_timeout` (default 30 s) with 408. SIGINT/SIGTERM stop accepting, let in-flight requests
//! finish for up to 10 s, flush the access log and exit 0.
//!
//! **Logging.** One line per request (client, method, path with any `token` query value redacted,
//! status, duration), buffered in memory and written by a flusher thread every 20 ms (bounded:
//! a stdout nobody reads drops lines instead of blocking requests); never the Authorization
//! header.

pub mod config;
pub mod cors;
pub mod dev; // [dev hook] `ask dev` hot reload (owned by the dev helper)
pub mod docs;
pub use ask_auth::dotenv; // `.env` parsing lives in ask-auth (one implementation)
pub mod engine;
pub mod http;
pub mod json;
pub mod request;
pub mod router;
pub mod security; // [authwire] issue 5: auth, hash, &protected, &limit
pub mod vmapp;
pub mod compile;
pub mod serve;

pub use serve::{run_dev, run_start, serve_program, start_app, start_in_process};
// Built-in utilities (quick_set, deep, require_keys, serialize) until the library provides them.
pub mod utilities;
