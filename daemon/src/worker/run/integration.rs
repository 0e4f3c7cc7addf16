//! `--integration`: every Transaction's own payloads, logged.

use super::RunSettings;
use seraph_config::IntegrationFormat;
use seraph_harvest::{payload, Harvest};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// Integration mode (`--integration`, used by test runners): the
/// transaction is also aggregated on its own into a throwaway harvest and
/// each of its payloads is logged in audit form, one line per payload:
/// `NR_INTEGRATION_TEST '<method>' ['<seq>'] '<json>'`.
pub(super) fn log_integration_payloads(
    settings: &RunSettings,
    format: IntegrationFormat,
    txn: seraph_wire::fb::Transaction<'_>,
    body_len: usize,
) {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now();
    let mut one = Harvest::new(settings.limits, now);
    one.add_transaction(txn, body_len);
    match payload::audit_payloads(&settings.run_id, one, now) {
        Ok(payloads) => {
            for (method, body) in payloads {
                let json = String::from_utf8_lossy(&body);
                match format {
                    IntegrationFormat::Plain => {
                        tracing::info!("NR_INTEGRATION_TEST '{method}' '{json}'");
                    }
                    IntegrationFormat::Seq => {
                        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
                        tracing::info!("NR_INTEGRATION_TEST '{method}' '{seq}' '{json}'");
                    }
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot build integration payloads"),
    }
}
