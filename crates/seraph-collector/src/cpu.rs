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
//!
//! They run on the blocking pool rather than through
//! `tokio::task::block_in_place`: that would hand the worker's other tasks
//! (agent connections reading frames of megabytes) to a fresh thread each
//! time, and every thread that allocates gets its own malloc arena, which
//! took a daemon reading 1.4 GB of large Transactions from 500 MiB to
//! 1 GB of resident memory.

/// Runs `f`, a CPU-bound step, on the runtime's blocking pool, so that
/// the runtime's other tasks keep running meanwhile. A panic in `f` is
/// resumed here. Must be called within a tokio runtime.
pub async fn cpu_bound<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Cancelled: the runtime is shutting down, and drops this task too.
        Err(_) => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::cpu_bound;

    #[tokio::test(flavor = "current_thread")]
    async fn runs_on_a_current_thread_runtime() {
        assert_eq!(cpu_bound(|| "done").await, "done");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn other_tasks_keep_running_while_a_step_blocks() {
        // One worker thread; the step waits for a task queued on it: run
        // on that thread, this would never finish.
        let (tx, rx) = std::sync::mpsc::channel();
        let other = tokio::spawn(async move { tx.send(()).unwrap() });
        cpu_bound(move || rx.recv_timeout(std::time::Duration::from_secs(10)))
            .await
            .expect("the other task ran while this one blocked");
        other.await.unwrap();
    }

    #[tokio::test]
    #[should_panic(expected = "step failed")]
    async fn a_panic_in_the_step_is_resumed() {
        cpu_bound(|| panic!("step failed")).await
    }
}
