//! Engine hooks: the fcall observer (segments), the error observer and the
//! exception hook (errors), and the machinery that applies the
//! instrumentation table (`table`) of the libraries in `crate::libs`:
//! handler wrappers for internal functions (`wrap`), observer handlers for
//! user functions and files (`user`), the view of a hooked call (`call`),
//! the request context hooks are given (`context`), the request's framework
//! (`framework`) and hooks on callbacks a library registers (`callbacks`).

pub mod call;
pub mod callbacks;
pub mod context;
pub mod errors;
pub mod framework;
pub mod observer;
pub mod table;
pub mod user;
pub mod wrap;
