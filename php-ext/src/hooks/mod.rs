//! Engine hooks: the fcall observer (segments), the error observer and the
//! exception hook (errors), and wrappers around instrumented internal
//! functions (PDO, curl).

pub mod curl;
pub mod errors;
pub mod instrument;
pub mod observer;
pub mod pdo;
