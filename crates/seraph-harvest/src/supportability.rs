//! Harvest-time supportability metrics (protocol.md §4.9).
//!
//! The daemon reports every collector call's outcome and every event post's
//! counts here; at each metrics cycle [`SupportabilityTracker::append_cycle`]
//! writes the forced metrics New Relic's daemon adds into the table about to
//! be posted, then starts counting afresh. Pure bookkeeping: no clock, no I/O.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::limits::HarvestLimits;
use crate::metrics::{MetricTable, MetricValues};
use crate::reservoir::EventKind;

/// How a collector call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// 200 or 202 with a usable body.
    Success,
    /// The collector answered, but not with success (this includes a 200
    /// whose body carried an `exception`).
    HttpFailure(u16),
    /// No HTTP status: connection, TLS, timeout or local size-limit error
    /// (reported as `HTTPError/0`).
    TransportFailure,
}

impl CallOutcome {
    /// Classifies a finished call from its HTTP status (0 when no response
    /// arrived) and whether the client counted it as a success.
    pub fn from_status(status: u16, succeeded: bool) -> Self {
        match (succeeded, status) {
            (true, _) => CallOutcome::Success,
            (false, 0) => CallOutcome::TransportFailure,
            (false, code) => CallOutcome::HttpFailure(code),
        }
    }
}

/// Whether the system certificate store could be used, reported as
/// `Supportability/PHP/SystemCertificates/{Available,Unavailable}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemCertificates {
    /// System roots were loaded.
    Available,
    /// No system roots (New Relic's default build reports this).
    Unavailable,
    /// A CA bundle/path replaced the system pool: nothing is reported.
    NotReported,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct EventSends {
    seen: u64,
    sent: u64,
    failed_attempts: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Usage {
    calls: u64,
    request_bytes: u64,
    response_bytes: u64,
}

/// Per-application accumulator of collector outcomes between two metrics
/// cycles.
#[derive(Debug, Clone)]
pub struct SupportabilityTracker {
    language: String,
    certs: SystemCertificates,
    calls_finished: u64,
    http_errors: BTreeMap<u16, u64>,
    events: [EventSends; 5],
    usage: BTreeMap<String, Usage>,
}

fn seen_sent_names(kind: EventKind) -> (&'static str, &'static str) {
    match kind {
        EventKind::Transaction => (
            "Supportability/AnalyticsEvents/TotalEventsSeen",
            "Supportability/AnalyticsEvents/TotalEventsSent",
        ),
        EventKind::Custom => (
            "Supportability/Events/Customer/Seen",
            "Supportability/Events/Customer/Sent",
        ),
        EventKind::Error => (
            "Supportability/Events/TransactionError/Seen",
            "Supportability/Events/TransactionError/Sent",
        ),
        EventKind::Span => (
            "Supportability/SpanEvent/TotalEventsSeen",
            "Supportability/SpanEvent/TotalEventsSent",
        ),
        EventKind::Log => (
            "Supportability/Logging/Forwarding/Seen",
            "Supportability/Logging/Forwarding/Sent",
        ),
    }
}

fn harvest_limit_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Transaction => "Supportability/EventHarvest/AnalyticEventData/HarvestLimit",
        EventKind::Custom => "Supportability/EventHarvest/CustomEventData/HarvestLimit",
        EventKind::Error => "Supportability/EventHarvest/ErrorEventData/HarvestLimit",
        EventKind::Span => "Supportability/EventHarvest/SpanEventData/HarvestLimit",
        EventKind::Log => "Supportability/EventHarvest/LogEventData/HarvestLimit",
    }
}

fn event_limit(limits: &HarvestLimits, kind: EventKind) -> usize {
    match kind {
        EventKind::Transaction => limits.analytic_events,
        EventKind::Custom => limits.custom_events,
        EventKind::Error => limits.error_events,
        EventKind::Span => limits.span_events,
        EventKind::Log => limits.log_events,
    }
}

impl SupportabilityTracker {
    /// A tracker for an application whose agent language is
    /// `agent_language` (`"php"` → `Supportability/PHP/Collector/…`).
    pub fn new(agent_language: &str, certs: SystemCertificates) -> Self {
        SupportabilityTracker {
            language: agent_language.to_ascii_uppercase(),
            certs,
            calls_finished: 0,
            http_errors: BTreeMap::new(),
            events: [EventSends::default(); 5],
            usage: BTreeMap::new(),
        }
    }

    /// Records one finished collector call (`method` as in the URL, e.g.
    /// `span_event_data`). `request_bytes` is the uncompressed JSON body;
    /// it counts as 0 unless the call succeeded. `response_bytes` is the raw
    /// response body length.
    pub fn record_call(
        &mut self,
        method: &str,
        outcome: CallOutcome,
        request_bytes: usize,
        response_bytes: usize,
    ) {
        self.calls_finished += 1;
        let payload = match outcome {
            CallOutcome::Success => request_bytes as u64,
            CallOutcome::HttpFailure(code) => {
                *self.http_errors.entry(code).or_default() += 1;
                0
            }
            CallOutcome::TransportFailure => {
                *self.http_errors.entry(0).or_default() += 1;
                0
            }
        };
        let usage = match self.usage.get_mut(method) {
            Some(u) => u,
            None => self.usage.entry(method.to_owned()).or_default(),
        };
        usage.calls += 1;
        usage.request_bytes += payload;
        usage.response_bytes += response_bytes as u64;
    }

    /// Records one event post: the reservoir's `seen` count, how many events
    /// were accepted (`sent`, 0 when the post failed) and the reservoir's
    /// consecutive-failure count. Failure counts keep their maximum.
    pub fn record_event_send(
        &mut self,
        kind: EventKind,
        seen: u64,
        sent: u64,
        failed_attempts: u32,
    ) {
        let e = &mut self.events[kind.index()];
        e.seen += seen;
        e.sent += sent;
        e.failed_attempts = e.failed_attempts.max(failed_attempts);
    }

    /// Collector calls recorded since the last metrics cycle.
    pub fn calls_since_last_cycle(&self) -> u64 {
        self.calls_finished
    }

    /// Adds this cycle's supportability metrics (all forced) to `table`,
    /// the metric table about to be posted, and resets the counters.
    ///
    /// `Instance/Reporting` (count = `distinct_pids`, at least 1) and
    /// `MetricsDropped` (when metrics were dropped) are always added. Everything else only when a collector call finished since the
    /// previous cycle: Seen/Sent per event type (even when 0), the
    /// `…/<method>/Attempts` failure counters (event methods, and
    /// `metric_data` from `table`'s own failure count),
    /// the certificate metric, `EventHarvest/ReportPeriod` (count in
    /// nanoseconds, as Go's `time.Duration` leaks through) and the five
    /// `HarvestLimit`s, `Collector/HTTPError/<code>` and the output-bytes
    /// metrics `[calls, request bytes, response bytes, 0, 0, 0]`.
    pub fn append_cycle(
        &mut self,
        table: &mut MetricTable,
        distinct_pids: usize,
        report_period: Duration,
        limits: &HarvestLimits,
    ) {
        table.add_count("Instance/Reporting", "", distinct_pids.max(1) as f64, true);
        // Unlike New Relic's daemon, dropped metrics are reported in every
        // cycle: the count is the only trace of lost data.
        if table.dropped() > 0 {
            let dropped = table.dropped() as f64;
            table.add_count("Supportability/MetricsDropped", "", dropped, true);
        }
        if self.calls_finished == 0 {
            return;
        }

        for kind in EventKind::ALL {
            let e = self.events[kind.index()];
            let (seen, sent) = seen_sent_names(kind);
            table.add_count(seen, "", e.seen as f64, true);
            table.add_count(sent, "", e.sent as f64, true);
            if e.failed_attempts > 0 {
                let name = format!("Supportability/Agent/Collector/{}/Attempts", kind.method());
                table.add_count(&name, "", f64::from(e.failed_attempts), true);
            }
        }
        if table.failed_harvests() > 0 {
            let fails = f64::from(table.failed_harvests());
            table.add_count(
                "Supportability/Agent/Collector/metric_data/Attempts",
                "",
                fails,
                true,
            );
        }
        match self.certs {
            SystemCertificates::Available => {
                table.add_count(
                    "Supportability/PHP/SystemCertificates/Available",
                    "",
                    1.0,
                    true,
                );
            }
            SystemCertificates::Unavailable => {
                table.add_count(
                    "Supportability/PHP/SystemCertificates/Unavailable",
                    "",
                    1.0,
                    true,
                );
            }
            SystemCertificates::NotReported => {}
        }
        table.add_count(
            "Supportability/EventHarvest/ReportPeriod",
            "",
            report_period.as_nanos() as f64,
            true,
        );
        for kind in EventKind::ALL {
            table.add_count(
                harvest_limit_name(kind),
                "",
                event_limit(limits, kind) as f64,
                true,
            );
        }
        for (code, n) in &self.http_errors {
            let name = format!("Supportability/Agent/Collector/HTTPError/{code}");
            table.add_count(&name, "", *n as f64, true);
        }
        let mut total = Usage::default();
        for (method, u) in &self.usage {
            let name = format!(
                "Supportability/{}/Collector/{method}/Output/Bytes",
                self.language
            );
            table.add(&name, "", &usage_values(u), true);
            total.calls += u.calls;
            total.request_bytes += u.request_bytes;
            total.response_bytes += u.response_bytes;
        }
        let name = format!("Supportability/{}/Collector/Output/Bytes", self.language);
        table.add(&name, "", &usage_values(&total), true);

        self.calls_finished = 0;
        self.http_errors.clear();
        self.events = [EventSends::default(); 5];
        self.usage.clear();
    }
}

fn usage_values(u: &Usage) -> MetricValues {
    MetricValues {
        count: u.calls as f64,
        total: u.request_bytes as f64,
        exclusive: u.response_bytes as f64,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::metric_data;
    use crate::rules::MetricRules;
    use std::time::UNIX_EPOCH;

    fn table() -> MetricTable {
        MetricTable::new(2000, UNIX_EPOCH)
    }

    fn names(t: &MetricTable) -> Vec<String> {
        let mut v: Vec<String> = t.iter().map(|m| m.name.to_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn outcome_from_status() {
        assert_eq!(CallOutcome::from_status(202, true), CallOutcome::Success);
        assert_eq!(
            CallOutcome::from_status(0, false),
            CallOutcome::TransportFailure
        );
        assert_eq!(
            CallOutcome::from_status(200, false),
            CallOutcome::HttpFailure(200)
        );
        assert_eq!(
            CallOutcome::from_status(503, false),
            CallOutcome::HttpFailure(503)
        );
    }

    #[test]
    fn without_calls_only_instance_reporting() {
        let mut s = SupportabilityTracker::new("php", SystemCertificates::Unavailable);
        let mut t = table();
        s.append_cycle(
            &mut t,
            0,
            Duration::from_secs(60),
            &HarvestLimits::default(),
        );
        assert_eq!(names(&t), vec!["Instance/Reporting"]);
        assert_eq!(t.get("Instance/Reporting", "").unwrap().values.count, 1.0);
        let mut t = table();
        s.append_cycle(
            &mut t,
            3,
            Duration::from_secs(60),
            &HarvestLimits::default(),
        );
        assert_eq!(t.get("Instance/Reporting", "").unwrap().values.count, 3.0);
    }

    #[test]
    fn full_cycle_exact_payload() {
        let mut s = SupportabilityTracker::new("php", SystemCertificates::Unavailable);
        s.record_call("span_event_data", CallOutcome::Success, 1000, 20);
        s.record_event_send(EventKind::Span, 7, 5, 0);
        s.record_call("custom_event_data", CallOutcome::HttpFailure(503), 400, 10);
        s.record_event_send(EventKind::Custom, 4, 0, 2);
        s.record_call("error_data", CallOutcome::TransportFailure, 300, 0);
        s.record_call("span_event_data", CallOutcome::Success, 500, 20);
        s.record_event_send(EventKind::Span, 1, 1, 1);
        assert_eq!(s.calls_since_last_cycle(), 4);

        let limits = HarvestLimits {
            analytic_events: 2,
            custom_events: 3,
            error_events: 1,
            span_events: 4,
            log_events: 5,
            metrics: 1,
            ..Default::default()
        };
        let mut t = MetricTable::new(limits.metrics, UNIX_EPOCH);
        t.add_count("unforced/a", "", 1.0, false);
        t.add_count("unforced/b", "", 1.0, false); // dropped
        s.append_cycle(&mut t, 2, Duration::from_millis(1234), &limits);

        let end = UNIX_EPOCH + Duration::from_secs(60);
        let body = metric_data("R", UNIX_EPOCH, end, &t, &MetricRules::empty()).unwrap();
        let expected = concat!(
            r#"["R",0,60,["#,
            r#"[{"name":"Instance/Reporting"},[2,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/Agent/Collector/HTTPError/0"},[1,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/Agent/Collector/HTTPError/503"},[1,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/Agent/Collector/custom_event_data/Attempts"},[2,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/Agent/Collector/span_event_data/Attempts"},[1,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/AnalyticsEvents/TotalEventsSeen"},[0,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/AnalyticsEvents/TotalEventsSent"},[0,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/EventHarvest/AnalyticEventData/HarvestLimit"},[2,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/EventHarvest/CustomEventData/HarvestLimit"},[3,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/EventHarvest/ErrorEventData/HarvestLimit"},[1,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/EventHarvest/LogEventData/HarvestLimit"},[5,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/EventHarvest/ReportPeriod"},[1.234e+09,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/EventHarvest/SpanEventData/HarvestLimit"},[4,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/Events/Customer/Seen"},[4,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/Events/Customer/Sent"},[0,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/Events/TransactionError/Seen"},[0,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/Events/TransactionError/Sent"},[0,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/Logging/Forwarding/Seen"},[0,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/Logging/Forwarding/Sent"},[0,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/MetricsDropped"},[1,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/PHP/Collector/Output/Bytes"},[4,1500,50,0,0,0]],"#,
            r#"[{"name":"Supportability/PHP/Collector/custom_event_data/Output/Bytes"},[1,0,10,0,0,0]],"#,
            r#"[{"name":"Supportability/PHP/Collector/error_data/Output/Bytes"},[1,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/PHP/Collector/span_event_data/Output/Bytes"},[2,1500,40,0,0,0]],"#,
            r#"[{"name":"Supportability/PHP/SystemCertificates/Unavailable"},[1,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/SpanEvent/TotalEventsSeen"},[8,0,0,0,0,0]],"#,
            r#"[{"name":"Supportability/SpanEvent/TotalEventsSent"},[6,0,0,0,0,0]],"#,
            r#"[{"name":"unforced/a"},[1,0,0,0,0,0]]"#,
            "]]"
        );
        assert_eq!(String::from_utf8(body).unwrap(), expected);

        // Counters start afresh: the next cycle without calls adds only
        // Instance/Reporting.
        let mut next = table();
        s.append_cycle(&mut next, 1, Duration::from_secs(60), &limits);
        assert_eq!(names(&next), vec!["Instance/Reporting"]);
    }

    #[test]
    fn metric_data_attempts_come_from_the_table() {
        let mut s = SupportabilityTracker::new("php", SystemCertificates::NotReported);
        s.record_call("metric_data", CallOutcome::HttpFailure(500), 100, 0);
        let mut failed = table();
        failed.add_count("x", "", 1.0, false);
        let mut t = table();
        assert!(t.merge_failed(failed));
        s.append_cycle(
            &mut t,
            1,
            Duration::from_secs(60),
            &HarvestLimits::default(),
        );
        let attempts = t.get("Supportability/Agent/Collector/metric_data/Attempts", "");
        assert_eq!(attempts.unwrap().values.count, 1.0);
        assert!(t
            .get("Supportability/PHP/SystemCertificates/Available", "")
            .is_none());
        assert!(t
            .get("Supportability/PHP/SystemCertificates/Unavailable", "")
            .is_none());
        assert_eq!(
            t.get("Supportability/Agent/Collector/HTTPError/500", "")
                .unwrap()
                .values
                .count,
            1.0
        );
    }
}
