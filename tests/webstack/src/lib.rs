//! nginx in front of php-fpm with the extension loaded, in a temporary
//! directory: the one web server harness of the tests (php-ext's tests and
//! seraph-e2e's applications and fault drills).
//!
//! [`Options`] says what each caller needs (workers, INI settings, the
//! document root or a few scripts, the user workers run as, settings for
//! load); [`Options::start`] returns a [`WebStack`] once nginx accepts
//! connections and php-fpm accepts them on its socket. Dropping the stack
//! stops both (their workers with them) and removes the directory; a stack
//! that is never dropped (kept in a `static`) is stopped at exit, and one
//! whose test binary is killed stops with it, its directory removed by the
//! next stack started. [`children`] is the supervision of every server a
//! test binary starts, the stacks' and seraph-e2e's services alike.
//!
//! ```no_run
//! let web = seraph_webstack::Options::new("shop", "target/debug/libnewrelic_php.so")
//!     .script("index.php", "<?php echo 'hi';")
//!     .ini("newrelic.appname", "shop")
//!     .start()
//!     .unwrap();
//! assert_eq!(web.get("/index.php"), (200, "hi".to_owned()));
//! ```

mod bins;
pub mod children;
mod config;
mod http;
mod options;
mod stack;

pub use bins::{free_port, php_fpm};
pub use http::Response;
pub use options::{Options, RunAs};
pub use stack::WebStack;
