//! Instrumented calls: datastore calls (with slow SQL), external calls and
//! custom-traced functions.

use super::Transaction;
use crate::config::RecordSql;
use crate::recorder::{flag, DatastoreSeg, ExternalSeg, SegKind};
use crate::{json, sql, Ticks};
use seraph_wire::SlowSqlData;

/// The parts joined, allocated once: metric names are built for every
/// datastore and external call, and `format!` costs several times more.
fn concat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// `buf` becomes the parts joined (its allocation reused).
fn concat_into(buf: &mut String, parts: &[&str]) {
    buf.clear();
    for p in parts {
        buf.push_str(p);
    }
}

/// A datastore call ended by [`Transaction::leave_datastore`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DatastoreCall {
    /// Product: `MySQL`, `SQLite`, `Postgres`, `Redis`, …
    pub product: String,
    /// The query, for SQL products.
    pub sql: Option<String>,
    /// Operation override (otherwise parsed from the SQL, else `other`).
    pub operation: Option<String>,
    /// Collection/table override (otherwise parsed from the SQL).
    pub collection: Option<String>,
    /// Instance host.
    pub host: Option<String>,
    /// Instance port, socket path or id.
    pub port_path_or_id: Option<String>,
    /// Database name.
    pub database_name: Option<String>,
    /// PHP backtrace lines (`" in f called at /file (12)"`); only used if
    /// the call was slow enough ([`Transaction::wants_backtrace`]).
    pub backtrace: Option<Vec<String>>,
    /// The query's explain plan, when one was run
    /// ([`Transaction::wants_explain`]).
    pub explain_plan: Option<crate::ExplainPlan>,
}

impl DatastoreCall {
    /// Sets the instance fields from a normalized instance, moving its
    /// strings (the hot-path form of [`DatastoreCall::with_instance`]).
    pub fn with_owned_instance(mut self, instance: Option<crate::DatastoreInstance>) -> Self {
        if let Some(i) = instance {
            self.host = Some(i.host);
            self.port_path_or_id = Some(i.port_path_or_id);
            self.database_name = Some(i.database_name);
        }
        self
    }

    /// Sets the instance fields (host, port, database) from a normalized
    /// instance.
    pub fn with_instance(mut self, instance: Option<&crate::DatastoreInstance>) -> Self {
        if let Some(i) = instance {
            self.host = Some(i.host.clone());
            self.port_path_or_id = Some(i.port_path_or_id.clone());
            self.database_name = Some(i.database_name.clone());
        }
        self
    }
}

/// An external call ended by [`Transaction::leave_external`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExternalCall {
    /// The URL requested.
    pub url: String,
    /// `curl`, `Guzzle 6`, …
    pub library: String,
    /// HTTP method.
    pub procedure: String,
    /// Response status, when known.
    pub status: Option<u16>,
}

/// Slow SQL entries kept per transaction.
const MAX_SLOW_SQLS: usize = 10;

/// Bytes of a query the agent looks at (parsing, obfuscation). An
/// unterminated literal at the cut is masked whole by the obfuscator.
pub const SQL_SCAN_LIMIT: usize = 64 * 1024;

/// Bytes of (raw or obfuscated) SQL kept per datastore segment and slow
/// query: New Relic's limit on an event attribute value (`db.statement`),
/// 4095. Whole queries were kept: 2 500 queries of 100 KB grew a process
/// by 197 MB of agent memory (PHP's `memory_limit` does not cover it) and
/// made frames too large for the daemon.
pub const SQL_KEPT_LIMIT: usize = 4095;

impl Transaction {
    /// Whether a datastore call that started at `start` and ends at `now`
    /// will use a backtrace, so the extension can skip building one.
    pub fn wants_backtrace(&self, start: Ticks, now: Ticks) -> bool {
        self.backtrace_worthy(self.us(now.saturating_sub(start)))
    }

    /// Whether the innermost open call, ending at `now`, will use a
    /// backtrace if it ends as a datastore call.
    pub fn current_wants_backtrace(&self, now: Ticks) -> bool {
        self.wants_backtrace(self.rec.current_start(), now)
    }

    /// Whether a datastore call that started at `start` and ends at `now`
    /// gets an explain plan (`explain_enabled`, slow SQL collected, at least
    /// `explain_threshold`), so the extension runs the `EXPLAIN` only then.
    pub fn wants_explain(&self, start: Ticks, now: Ticks) -> bool {
        let dur_us = self.us(now.saturating_sub(start));
        self.cfg.transaction_tracer.explain_enabled
            && self.slow_sql_enabled()
            && dur_us >= self.cfg.transaction_tracer.explain_threshold_ns / 1000
    }

    fn backtrace_worthy(&self, dur_us: u64) -> bool {
        let tt = &self.cfg.transaction_tracer;
        let ss = tt.stack_trace_threshold_ns / 1000;
        (ss > 0 && dur_us >= ss)
            || (self.slow_sql_enabled() && dur_us >= tt.explain_threshold_ns / 1000)
    }

    fn slow_sql_enabled(&self) -> bool {
        let tt = &self.cfg.transaction_tracer;
        tt.slow_sql && self.connect.collect_traces && self.cfg.sql_recording() != RecordSql::Off
    }

    /// The innermost call ends as a datastore call: it is always kept, gets
    /// the datastore metrics, and may become a slow SQL entry.
    pub fn leave_datastore(&mut self, now: Ticks, mut ds: DatastoreCall) {
        if let Some(q) = ds.sql.as_mut() {
            let keep = crate::attrs::truncate_utf8(q, SQL_SCAN_LIMIT).len();
            q.truncate(keep);
        }
        let popped = self.rec.pop(now);
        let dur_us = popped.map_or(0, |i| self.node_dur_us(i));
        // The call's strings are moved, not copied: this runs for every
        // datastore call.
        let product = if ds.product.is_empty() {
            "Unknown".to_owned()
        } else {
            std::mem::take(&mut ds.product)
        };
        let (parsed_op, parsed_table) = match (&ds.sql, &ds.operation, &ds.collection) {
            (Some(q), None, _) | (Some(q), _, None) => {
                let (op, t) = sql::parse(q);
                (Some(op.to_owned()), t)
            }
            _ => (None, None),
        };
        let collection = ds.collection.take().or(parsed_table);
        let operation = ds
            .operation
            .take()
            .or(parsed_op.filter(|op| op != "other"))
            .unwrap_or_else(|| "other".to_owned());

        self.metrics.add("Datastore/all", false, true, dur_us);
        let mut name = std::mem::take(&mut self.scratch);
        concat_into(&mut name, &["Datastore/", &product, "/all"]);
        self.metrics.add(&name, false, true, dur_us);
        if !self.datastore_products.contains(&product) {
            self.datastore_products.push(product.clone());
        }
        let operation_metric = concat(&["Datastore/operation/", &product, "/", &operation]);
        let scoped = match &collection {
            Some(c) => {
                self.metrics.add(&operation_metric, false, false, dur_us);
                concat(&["Datastore/statement/", &product, "/", c, "/", &operation])
            }
            None => operation_metric,
        };
        self.metrics.add(&scoped, true, false, dur_us);

        let mut seg = DatastoreSeg {
            product: product.clone(),
            ..DatastoreSeg::default()
        };
        let instance = self.cfg.instance_reporting_enabled && ds.host.is_some();
        if instance {
            let host = ds.host.take().unwrap_or_default();
            let port = ds
                .port_path_or_id
                .take()
                .unwrap_or_else(|| "unknown".into());
            concat_into(
                &mut name,
                &["Datastore/instance/", &product, "/", &host, "/", &port],
            );
            self.metrics.add(&name, false, false, dur_us);
            if self.cfg.database_name_reporting_enabled {
                seg.database_name =
                    Some(ds.database_name.take().unwrap_or_else(|| "unknown".into()));
            }
            seg.host = Some(host);
            seg.port_path_or_id = Some(port);
        }
        self.scratch = name;
        if self.backtrace_worthy(dur_us) {
            seg.backtrace = ds.backtrace.as_deref().map(json::string_array);
        }
        seg.explain_plan = ds.explain_plan.as_ref().map(crate::ExplainPlan::to_json);
        if let Some(q) = &ds.sql {
            let kept = |s: &str| crate::attrs::truncate_utf8(s, SQL_KEPT_LIMIT).to_owned();
            match self.cfg.sql_recording() {
                RecordSql::Raw => seg.sql = Some(kept(q)),
                RecordSql::Obfuscated => seg.sql_obfuscated = Some(kept(&sql::obfuscate(q))),
                RecordSql::Off => {}
            }
        }
        let explain_us = self.cfg.transaction_tracer.explain_threshold_ns / 1000;
        if ds.sql.is_some() && self.slow_sql_enabled() && dur_us >= explain_us && dur_us > 0 {
            if let (Some(bt), Some(query)) = (
                &seg.backtrace,
                seg.sql_obfuscated.as_ref().or(seg.sql.as_ref()),
            ) {
                let mut params = String::with_capacity(bt.len() + 64);
                let mut p = json::Obj::begin(&mut params);
                if let Some(plan) = &seg.explain_plan {
                    p.raw("explain_plan", plan);
                }
                p.raw("backtrace", bt);
                if instance {
                    p.str("host", seg.host.as_deref().unwrap_or_default());
                    p.str(
                        "port_path_or_id",
                        seg.port_path_or_id.as_deref().unwrap_or_default(),
                    );
                    if let Some(db) = &seg.database_name {
                        p.str("database_name", db);
                    }
                }
                p.end();
                let entry = SlowSqlData {
                    id: sql::query_id(&sql::obfuscate(query)),
                    count: 1,
                    total_micros: dur_us,
                    min_micros: dur_us,
                    max_micros: dur_us,
                    metric: scoped.clone(),
                    query: query.clone(),
                    params,
                };
                self.add_slow_sql(entry);
            }
        }

        if let Some(i) = popped {
            self.rec.drop_children(i);
            let extra = self.rec.extra_mut(i);
            extra.name = Some(scoped);
            extra.kind = SegKind::Datastore(Box::new(seg));
            self.rec.mark(i, flag::INSTRUMENTED);
            self.rec.settle(i);
        }
    }

    fn add_slow_sql(&mut self, s: SlowSqlData) {
        if s.id == 0 {
            return;
        }
        if let Some(e) = self.slow_sqls.iter_mut().find(|e| e.id == s.id) {
            e.count += s.count;
            e.total_micros += s.total_micros;
            e.min_micros = e.min_micros.min(s.min_micros);
            if s.max_micros > e.max_micros {
                e.max_micros = s.max_micros;
                e.metric = s.metric;
                e.query = s.query;
                e.params = s.params;
            }
            return;
        }
        if self.slow_sqls.len() < MAX_SLOW_SQLS {
            self.slow_sqls.push(s);
            return;
        }
        if let Some(min) = self.slow_sqls.iter_mut().min_by_key(|e| e.max_micros) {
            if s.max_micros >= min.max_micros {
                *min = s;
            }
        }
    }

    /// The innermost call ends as an external (HTTP) call.
    pub fn leave_external(&mut self, now: Ticks, ext: ExternalCall) {
        self.leave_external_as(now, ext, None);
    }

    /// [`Transaction::leave_external`] with the span id the call's trace
    /// headers already carry ([`Transaction::reserve_span_id`]).
    pub(crate) fn leave_external_as(
        &mut self,
        now: Ticks,
        ext: ExternalCall,
        span_id: Option<String>,
    ) {
        let popped = self.rec.pop(now);
        let dur_us = popped.map_or(0, |i| self.node_dur_us(i));
        let host = url_host(&ext.url).unwrap_or("<unknown>").to_owned();
        let name = concat(&["External/", &host, "/all"]);
        self.metrics.add("External/all", false, true, dur_us);
        self.metrics.add(&name, true, false, dur_us);
        if let Some(i) = popped {
            self.rec.drop_children(i);
            let extra = self.rec.extra_mut(i);
            extra.name = Some(name);
            extra.kind = SegKind::External(Box::new(ExternalSeg {
                uri: clean_url(&ext.url).to_owned(),
                library: ext.library,
                procedure: ext.procedure,
                status: ext.status,
            }));
            if span_id.is_some() {
                extra.span_id = span_id;
            }
            self.rec.mark(i, flag::INSTRUMENTED);
            self.rec.settle(i);
        }
    }

    /// The innermost call ends as a custom-traced function
    /// (`newrelic.transaction_tracer.custom`, `newrelic_add_custom_tracer`):
    /// always kept, with a scoped `Custom/<name>` metric.
    pub fn leave_custom(&mut self, now: Ticks, name: &str) {
        let metric = if name.starts_with("Custom/") {
            name.to_owned()
        } else {
            format!("Custom/{name}")
        };
        self.leave_named(now, metric);
    }

    /// The innermost call ends as a segment named `metric` exactly, with
    /// a scoped metric of that name (the C SDK's `<category>/<name>`
    /// segments): always kept.
    pub fn leave_named(&mut self, now: Ticks, metric: String) {
        let Some(i) = self.rec.pop(now) else {
            self.metrics.add(&metric, true, false, 0);
            return;
        };
        let n = self.rec.nodes[i as usize];
        let mut kids: Vec<(Ticks, Ticks)> = self
            .rec
            .children(i)
            .map(|c| {
                (
                    self.rec.nodes[c as usize].start,
                    self.rec.nodes[c as usize].stop,
                )
            })
            .collect();
        let excl = crate::recorder::exclusive(n.start, n.stop, &mut kids);
        let dur = self.node_dur_us(i);
        self.metrics
            .add_ex(&metric, true, false, dur, self.us(excl).min(dur));
        self.rec.extra_mut(i).name = Some(metric);
        self.rec.mark(i, flag::INSTRUMENTED);
        self.rec.settle(i);
    }
}

/// The host of a URL, without port or credentials.
pub(crate) fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']').map(|(h, _)| h)?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

/// A URL without query string or fragment (and without credentials).
pub(crate) fn clean_url(url: &str) -> &str {
    let end = url.find(['?', '#', ';']).unwrap_or(url.len());
    &url[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_helpers() {
        assert_eq!(
            url_host("http://127.0.0.1:18088/echo?x=1"),
            Some("127.0.0.1")
        );
        assert_eq!(url_host("https://u:p@example.com/x"), Some("example.com"));
        assert_eq!(url_host("http://[::1]:80/"), Some("::1"));
        assert_eq!(url_host("example.com"), Some("example.com"));
        assert_eq!(url_host(""), None);
        assert_eq!(
            clean_url("http://127.0.0.1:18088/echo?x=1"),
            "http://127.0.0.1:18088/echo"
        );
    }
}
