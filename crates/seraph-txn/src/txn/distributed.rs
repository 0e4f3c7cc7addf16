//! Distributed tracing: outbound headers for a call, inbound headers
//! accepted at the start or through the API.

use super::Transaction;
use crate::dt::{self, metric as dtm, Inbound};
use crate::ids::{guid, IdSource};
use crate::recorder::flag;

impl Transaction {
    // --- distributed tracing -------------------------------------------------

    /// Outbound DT headers (`newrelic`, `traceparent`, `tracestate`) for a
    /// call made from the innermost segment. `ids` supplies a span id when
    /// span events are off.
    pub fn create_dt_headers(
        &mut self,
        now_unix_us: u64,
        ids: &mut impl IdSource,
    ) -> Vec<(String, String)> {
        if !self.cfg.distributed_tracing_enabled {
            return Vec::new();
        }
        let cur = self.rec.current();
        let span_id = self.ensure_span_id(cur, flag::DT);
        self.dt_headers_for_span(span_id, now_unix_us, ids)
    }

    /// The outbound headers naming `span_id` as the caller (none when span
    /// events are off for this transaction).
    pub(crate) fn dt_headers_for_span(
        &mut self,
        span_id: Option<String>,
        now_unix_us: u64,
        ids: &mut impl IdSource,
    ) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(3);
        let now_ms = now_unix_us / 1000;
        let account = self.connect.account_id.clone();
        let app = self.connect.primary_application_id.clone();
        let tk = self.connect.trusted_account_key.clone();
        if !self.cfg.dt_exclude_newrelic_header {
            if let Some(p) = self.payload_out(span_id.as_deref(), now_ms, dt::newrelic_header) {
                out.push(("newrelic".to_owned(), p));
            }
        }
        let tp_span = span_id.clone().unwrap_or_else(|| guid(ids));
        out.push((
            "traceparent".to_owned(),
            dt::traceparent(&self.dt.trace_id, &tp_span, self.dt.sampled),
        ));
        self.metrics.count(dtm::W3C_CREATE_SUCCESS);
        if let (Some(tk), Some(ac), Some(ap)) = (&tk, &account, &app) {
            let span = if self.cfg.span_events_enabled {
                span_id.as_deref().unwrap_or_default()
            } else {
                ""
            };
            let txn = if self.cfg.analytics_events_enabled {
                self.guid.as_str()
            } else {
                ""
            };
            out.push((
                "tracestate".to_owned(),
                dt::tracestate(&dt::TraceStateOut {
                    trusted_key: tk,
                    account: ac,
                    app: ap,
                    span_id: span,
                    txn_id: txn,
                    sampled: self.dt.sampled,
                    priority: self.dt.priority,
                    timestamp_ms: now_ms,
                }),
            ));
        }
        self.dt.created = true;
        out
    }

    /// The `newrelic` payload (encoded by `encode`) with its create
    /// metric: refused, with the exception metric, when neither span nor
    /// transaction events are on.
    fn payload_out(
        &mut self,
        span_id: Option<&str>,
        now_ms: u64,
        encode: impl FnOnce(&dt::PayloadOut<'_>) -> String,
    ) -> Option<String> {
        if !(self.cfg.span_events_enabled || self.cfg.analytics_events_enabled) {
            self.metrics.count(dtm::CREATE_EXCEPTION);
            return None;
        }
        let account = self.connect.account_id.clone();
        let app = self.connect.primary_application_id.clone();
        let tk = self.connect.trusted_account_key.clone();
        let payload = dt::PayloadOut {
            account: account.as_deref(),
            app: app.as_deref(),
            span_id,
            trace_id: &self.dt.trace_id,
            txn_id: &self.guid,
            priority: self.dt.priority,
            sampled: self.dt.sampled,
            timestamp_ms: now_ms,
            trusted_key: tk.as_deref(),
        };
        let out = encode(&payload);
        self.metrics.count(dtm::CREATE_SUCCESS);
        Some(out)
    }

    /// `newrelic_create_distributed_trace_payload()`: the `newrelic`
    /// payload as JSON text (not base64), for a call made from the
    /// innermost segment. `None`, with the exception metric, when
    /// distributed tracing is off, the `newrelic` header is excluded, or
    /// neither span nor transaction events are on.
    pub fn create_newrelic_payload(&mut self, now_unix_us: u64) -> Option<String> {
        if !self.cfg.distributed_tracing_enabled || self.cfg.dt_exclude_newrelic_header {
            self.metrics.count(dtm::CREATE_EXCEPTION);
            return None;
        }
        let cur = self.rec.current();
        let span_id = self.ensure_span_id(cur, flag::DT);
        let out = self.payload_out(
            span_id.as_deref(),
            now_unix_us / 1000,
            dt::newrelic_payload_json,
        )?;
        self.dt.created = true;
        Some(out)
    }

    /// [`Transaction::create_newrelic_payload`] for a call made from a
    /// segment recorded after the fact, named by its reserved span id
    /// ([`Transaction::reserve_span_id`]).
    pub fn create_newrelic_payload_for(
        &mut self,
        span_id: Option<&str>,
        now_unix_us: u64,
    ) -> Option<String> {
        if !self.cfg.distributed_tracing_enabled || self.cfg.dt_exclude_newrelic_header {
            self.metrics.count(dtm::CREATE_EXCEPTION);
            return None;
        }
        let out = self.payload_out(span_id, now_unix_us / 1000, dt::newrelic_payload_json)?;
        self.dt.created = true;
        Some(out)
    }

    /// The trace id for the API's metadata functions: `None` with
    /// distributed tracing off.
    pub fn trace_id_for_api(&self) -> Option<String> {
        self.cfg
            .distributed_tracing_enabled
            .then(|| self.dt.trace_id.clone())
    }

    /// `newrelic_is_sampled()`: sampled, with distributed tracing on.
    pub fn is_sampled_for_api(&self) -> bool {
        self.cfg.distributed_tracing_enabled && self.dt.sampled
    }

    /// Accepts inbound DT headers (W3C `traceparent`/`tracestate`, else the
    /// base64 `newrelic` header). Refused after headers were created, or
    /// when a payload was already accepted. `transport` is `HTTP`, `Kafka`,
    /// … (empty: `HTTP` for web, `Unknown` for background).
    pub fn accept_dt_headers(
        &mut self,
        headers: &[(String, String)],
        transport: &str,
        _now_unix_us: u64,
    ) -> bool {
        if !self.cfg.distributed_tracing_enabled {
            self.metrics.count(dtm::ACCEPT_EXCEPTION);
            return false;
        }
        if self.dt.inbound.is_some() {
            self.metrics.count(dtm::ACCEPT_MULTIPLE);
            return false;
        }
        if self.dt.created {
            self.metrics.count(dtm::ACCEPT_CREATE_BEFORE_ACCEPT);
            return false;
        }
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_str())
        };
        let transport = if transport.is_empty() {
            if self.background {
                "Unknown"
            } else {
                "HTTP"
            }
        } else {
            dt::normalize_transport(transport)
        };
        let inbound = if let Some(tp) = get("traceparent") {
            let Some(tp) = dt::parse_traceparent(tp) else {
                self.metrics.count(dtm::W3C_TRACEPARENT_PARSE_EXCEPTION);
                return false;
            };
            let ts = dt::parse_tracestate(
                get("tracestate"),
                self.connect.trusted_account_key.as_deref(),
            );
            let mut inbound = Inbound {
                guid: Some(tp.parent_id),
                transport: transport.to_owned(),
                tracing_vendors: ts.tracing_vendors,
                ..Inbound::default()
            };
            match ts.nr {
                Ok(nr) => {
                    inbound.trusted_parent_id = nr.span_id;
                    inbound.account = Some(nr.account);
                    inbound.app = Some(nr.app);
                    inbound.txn_id = nr.txn_id;
                    inbound.timestamp_us = nr.timestamp_ms.saturating_mul(1000);
                    inbound.parent_type = Some(
                        match nr.parent_type {
                            1 => "Browser",
                            2 => "Mobile",
                            _ => "App",
                        }
                        .to_owned(),
                    );
                    // The agent reads a missing sampled flag as false.
                    self.dt.sampled = nr.sampled.unwrap_or(false);
                    if let Some(p) = nr.priority.filter(|p| *p > 0.0) {
                        self.dt.priority = p;
                    }
                }
                Err(m) => self.metrics.count(m),
            }
            self.dt.trace_id = tp.trace_id;
            self.metrics.count(dtm::W3C_ACCEPT_SUCCESS);
            inbound
        } else {
            let payload = match dt::parse_newrelic_header(get("newrelic").unwrap_or_default()) {
                Ok(p) => p,
                Err(m) => {
                    self.metrics.count(m);
                    return false;
                }
            };
            if payload.trusted_key.is_none()
                || payload.trusted_key != self.connect.trusted_account_key
            {
                self.metrics.count(dtm::ACCEPT_UNTRUSTED_ACCOUNT);
                return false;
            }
            if let Some(p) = payload.priority {
                self.dt.priority = p;
            }
            if let Some(s) = payload.sampled {
                self.dt.sampled = s;
            }
            if let Some(tr) = payload.trace_id {
                self.dt.trace_id = tr;
            }
            Inbound {
                parent_type: payload.parent_type,
                account: payload.account,
                app: payload.app,
                guid: payload.guid,
                txn_id: payload.txn_id,
                transport: transport.to_owned(),
                timestamp_us: payload.timestamp_ms.saturating_mul(1000),
                tracing_vendors: None,
                trusted_parent_id: None,
            }
        };
        self.metrics.count(dtm::ACCEPT_SUCCESS);
        // The agent truncates the transport delay to whole seconds and then
        // records that number as microseconds.
        let delay_s = self.start_unix_us.saturating_sub(inbound.timestamp_us) / 1_000_000;
        let caller = caller_name(Some(&inbound));
        let suffix = if self.background {
            "allOther"
        } else {
            "allWeb"
        };
        self.metrics.add(
            &format!("TransportDuration/{caller}/all"),
            false,
            true,
            delay_s,
        );
        self.metrics.add(
            &format!("TransportDuration/{caller}/{suffix}"),
            false,
            true,
            delay_s,
        );
        self.dt.inbound = Some(inbound);
        true
    }
}

/// `<type>/<account>/<app>/<transport>` of the caller, or all `Unknown`.
pub(crate) fn caller_name(inbound: Option<&Inbound>) -> String {
    match inbound {
        Some(i) => format!(
            "{}/{}/{}/{}",
            i.parent_type.as_deref().unwrap_or("Unknown"),
            i.account.as_deref().unwrap_or("Unknown"),
            i.app.as_deref().unwrap_or("Unknown"),
            i.transport
        ),
        None => "Unknown/Unknown/Unknown/Unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_inbound_caller_is_unknown() {
        assert_eq!(caller_name(None), "Unknown/Unknown/Unknown/Unknown");
    }
}
