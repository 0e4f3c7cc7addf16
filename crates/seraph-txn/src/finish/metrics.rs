//! The end-of-transaction metrics: rollups, durations, apdex, errors and
//! the supportability metrics the extension reports at shutdown.

use crate::metrics::ApdexZone;
use crate::txn::{caller_name, ResourceUsage, Transaction};

impl Transaction {
    pub(super) fn end_metrics(
        &mut self,
        name: &str,
        duration_us: u64,
        total_time_us: u64,
        root_exclusive_us: u64,
        apdex_us: u64,
        usage: &ResourceUsage,
    ) {
        let bg = self.background;
        let suffix = if bg { "allOther" } else { "allWeb" };
        let m = &mut self.metrics;
        // Rollups, made now because the background flag may have changed.
        m.duplicate("Datastore/all", &format!("Datastore/{suffix}"));
        m.duplicate("External/all", &format!("External/{suffix}"));
        m.duplicate("MessageBroker/all", &format!("MessageBroker/{suffix}"));
        for p in &self.datastore_products {
            m.duplicate(
                &format!("Datastore/{p}/all"),
                &format!("Datastore/{p}/{suffix}"),
            );
        }
        // Duration metrics.
        let (rollup, rollup_total) = if bg {
            ("OtherTransaction/all", "OtherTransactionTotalTime")
        } else {
            m.add_ex("HttpDispatcher", false, true, duration_us, 0);
            ("WebTransaction", "WebTransactionTotalTime")
        };
        m.add_ex(name, false, true, duration_us, root_exclusive_us);
        m.add_ex(rollup, false, true, duration_us, root_exclusive_us);
        let total_name = match name.split_once('/') {
            Some((first, rest)) => format!("{first}TotalTime/{rest}"),
            None => format!("{name}TotalTime"),
        };
        m.add(&total_name, false, true, total_time_us);
        m.add(rollup_total, false, true, total_time_us);
        if self.cfg.distributed_tracing_enabled {
            let caller = caller_name(self.dt.inbound.as_ref());
            m.add(
                &format!("DurationByCaller/{caller}/all"),
                false,
                true,
                duration_us,
            );
            m.add(
                &format!("DurationByCaller/{caller}/{suffix}"),
                false,
                true,
                duration_us,
            );
        }
        if !bg {
            if let Some(q) = self.queue_start_us {
                m.add(
                    "WebFrontend/QueueTime",
                    false,
                    true,
                    self.start_unix_us.saturating_sub(q),
                );
            }
        }
        if !bg && !self.ignore_apdex {
            let zone = if self.error.is_some() {
                ApdexZone::Failing
            } else {
                ApdexZone::of(duration_us, apdex_us)
            };
            m.add_apdex("Apdex", true, zone, apdex_us);
            if let Some((_, rest)) = name.split_once('/') {
                m.add_apdex(&format!("Apdex/{rest}"), false, zone, apdex_us);
            }
        }
        if self.error.is_some() {
            m.count("Errors/all");
            m.count(&format!("Errors/{suffix}"));
            if self.cfg.distributed_tracing_enabled {
                let caller = caller_name(self.dt.inbound.as_ref());
                m.count(&format!("ErrorsByCaller/{caller}/all"));
                m.count(&format!("ErrorsByCaller/{caller}/{suffix}"));
            }
            m.count(&format!("Errors/{name}"));
        }
        if !self.cfg.runtime_metrics {
            return;
        }
        // What the extension reports at request shutdown.
        m.add(
            "Supportability/execute/user/call_count",
            false,
            true,
            usage.user_call_count,
        );
        let allocated = 1 + self.rec.kept_total + self.extra_allocated;
        m.add(
            "Supportability/execute/allocated_segment_count",
            false,
            true,
            allocated,
        );
        if usage.memory_mb.is_finite() && usage.memory_mb >= 0.0 {
            m.add_ex(
                "Memory/Physical",
                false,
                true,
                (usage.memory_mb * 1_000_000.0) as u64,
                0,
            );
        }
        let cpu = usage.cpu_user_s.max(0.0) + usage.cpu_sys_s.max(0.0);
        if cpu.is_finite() {
            let cpu_us = (cpu * 1_000_000.0) as u64;
            m.add_ex("CPU/User Time", false, true, cpu_us, 0);
            let (elapsed_us, cpus) = match self.cpu_sample {
                Some((s, n)) => ((s * 1_000_000.0) as u64, u64::from(n)),
                None => (duration_us, 1),
            };
            if elapsed_us > 0 {
                let frac = (1_000_000u128 * u128::from(cpu_us))
                    / (u128::from(elapsed_us) * u128::from(cpus));
                m.add_ex("CPU/User/Utilization", false, true, frac as u64, 0);
            }
        }
        m.count(&format!(
            "Supportability/PHP/Version/{}",
            self.cfg.php_version
        ));
        m.count(&format!(
            "Supportability/PHP/AgentVersion/{}",
            self.cfg.agent_version
        ));
        let lg = &self.cfg.application_logging;
        let on = |b: bool| if b { "enabled" } else { "disabled" };
        let forwarding = lg.enabled
            && lg.forwarding_enabled
            && lg.forwarding_max_samples_stored > 0
            && !self.cfg.high_security;
        m.count(&format!(
            "Supportability/Logging/Labels/PHP/{}",
            on(forwarding && lg.labels_enabled)
        ));
        m.count(&format!(
            "Supportability/Logging/Metrics/PHP/{}",
            on(lg.enabled && lg.metrics_enabled)
        ));
        m.count(&format!(
            "Supportability/Logging/Forwarding/PHP/{}",
            on(forwarding)
        ));
        m.count(&format!(
            "Supportability/Logging/LocalDecorating/PHP/{}",
            on(lg.enabled && lg.local_decorating_enabled)
        ));
    }
}
