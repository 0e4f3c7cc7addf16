//! Stop signals held back during start-up.
//!
//! Between taking the pid file and installing its SIGTERM handler, a role
//! would die of a stop request with the default action and leave its pid
//! file behind (39 and 58 of 100 immediate stops did). So the watcher and
//! the worker block SIGTERM and SIGINT on the main thread before the pid
//! file is taken (threads created later inherit the mask) and unblock them
//! on that thread once their handlers are in place: a signal sent meanwhile
//! stays pending and reaches the handler then. Children started through
//! `std::process` begin with an empty mask.

use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};

fn termination() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set
}

/// Blocks SIGTERM and SIGINT on this thread (and threads it creates).
pub fn hold() {
    if let Err(e) = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&termination()), None) {
        tracing::warn!("cannot hold back SIGTERM during start-up: {e}");
    }
}

/// Unblocks SIGTERM and SIGINT on this thread, once their handlers are in
/// place.
pub fn release() {
    if let Err(e) = pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&termination()), None) {
        tracing::warn!("cannot release SIGTERM: {e}");
    }
}
