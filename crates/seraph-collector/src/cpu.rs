//! CPU-heavy steps (building, compressing and inflating payloads) inside
//! async code.
//!
//! The daemon answers agents' App queries on the same runtime that builds
//! and compresses harvest payloads, and an agent waits at most 100 ms for
//! that answer before it leaves the daemon alone for a second or more (and
//! sends nothing meanwhile). Compressing a large event reservoir can take
//! longer than that (much longer in debug builds, or on a busy host), so
//! such steps must not hold a runtime worker thread that agents' tasks
//! are waiting for.

/// Runs `f`, a CPU-bound step, so that the runtime's other tasks keep
/// running meanwhile: on a multi-threaded runtime through
/// [`tokio::task::block_in_place`] (this worker's queued tasks move to
/// another thread); elsewhere (a current-thread runtime, or no runtime)
/// directly, since there is no other thread to hand them to.
pub fn cpu_bound<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::cpu_bound;

    #[test]
    fn runs_without_a_runtime() {
        assert_eq!(cpu_bound(|| 2 + 2), 4);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn runs_on_a_current_thread_runtime() {
        assert_eq!(cpu_bound(|| "done"), "done");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn other_tasks_keep_running_while_a_step_blocks() {
        // One worker thread, held by the step, which waits for a task
        // queued on that worker: run directly this would never finish.
        let (tx, rx) = std::sync::mpsc::channel();
        let other = tokio::spawn(async move { tx.send(()).unwrap() });
        cpu_bound(|| rx.recv_timeout(std::time::Duration::from_secs(10)))
            .expect("the other task ran while this one blocked");
        other.await.unwrap();
    }
}
