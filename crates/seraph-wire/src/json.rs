//! A JSON rendering of a message in the shape `flatc --json --strict-json`
//! prints it: schema field names in schema order, absent fields and
//! default-valued scalars left out, unions as `data_type` + `data`, structs
//! printed in full. Used by tests (the captured vectors are stored this way),
//! by the collector stand-in's inspection output and for debugging.

use crate::fb;
use crate::message::{Body, MessageRef};
use serde_json::{Map, Value};

struct Obj(Map<String, Value>);

impl Obj {
    fn new() -> Self {
        Obj(Map::new())
    }
    fn s(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        if let Some(v) = v {
            self.0.insert(k.into(), Value::from(v));
        }
        self
    }
    fn u(&mut self, k: &str, v: u64) -> &mut Self {
        if v != 0 {
            self.0.insert(k.into(), Value::from(v));
        }
        self
    }
    fn i(&mut self, k: &str, v: i64) -> &mut Self {
        if v != 0 {
            self.0.insert(k.into(), Value::from(v));
        }
        self
    }
    fn f(&mut self, k: &str, v: f64) -> &mut Self {
        if v != 0.0 {
            self.0.insert(k.into(), float(v));
        }
        self
    }
    fn b(&mut self, k: &str, v: bool) -> &mut Self {
        if v {
            self.0.insert(k.into(), Value::Bool(true));
        }
        self
    }
    fn v(&mut self, k: &str, v: Option<Value>) -> &mut Self {
        if let Some(v) = v {
            self.0.insert(k.into(), v);
        }
        self
    }
    fn done(&mut self) -> Value {
        Value::Object(std::mem::take(&mut self.0))
    }
}

fn float(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

fn event(e: fb::Event<'_>) -> Value {
    Obj::new().s("data", e.data()).done()
}

fn events(
    v: Option<flatbuffers::Vector<'_, flatbuffers::ForwardsUOffset<fb::Event<'_>>>>,
) -> Option<Value> {
    v.map(|v| Value::Array(v.iter().map(event).collect()))
}

fn app(a: &fb::App<'_>) -> Value {
    Obj::new()
        .s("license", a.license())
        .s("app_name", a.app_name())
        .s("agent_language", a.agent_language())
        .s("agent_version", a.agent_version())
        .b("high_security", a.high_security())
        .s("redirect_collector", a.redirect_collector())
        .s("environment", a.environment())
        .s("settings", a.settings())
        .s("labels", a.labels())
        .s("display_host", a.display_host())
        .s("security_policy_token", a.security_policy_token())
        .s(
            "supported_security_policies",
            a.supported_security_policies(),
        )
        .s("host", a.host())
        .s("trace_observer_host", a.trace_observer_host())
        .u("trace_observer_port", a.trace_observer_port().into())
        .u("span_queue_size", a.span_queue_size())
        .u(
            "span_events_max_samples_stored",
            a.span_events_max_samples_stored(),
        )
        .s("metadata", a.metadata())
        .u(
            "log_events_max_samples_stored",
            a.log_events_max_samples_stored(),
        )
        .u(
            "custom_events_max_samples_stored",
            a.custom_events_max_samples_stored(),
        )
        .s("docker_id", a.docker_id())
        .done()
}

fn app_reply(r: &fb::AppReply<'_>) -> Value {
    let mut o = Obj::new();
    if r.status() != fb::AppStatus::Unknown {
        let name = r
            .status()
            .variant_name()
            .map_or_else(|| Value::from(i64::from(r.status().0)), Value::from);
        o.v("status", Some(name));
    }
    o.s("connect_reply", r.connect_reply())
        .s("security_policies", r.security_policies())
        .u("connect_timestamp", r.connect_timestamp())
        .u("harvest_frequency", r.harvest_frequency().into())
        .u("sampling_target", r.sampling_target().into())
        .done()
}

fn metric(m: fb::Metric<'_>) -> Value {
    let mut o = Obj::new();
    o.s("name", m.name());
    if let Some(d) = m.data() {
        let mut data = Map::new();
        data.insert("count".into(), float(d.count()));
        data.insert("total".into(), float(d.total()));
        data.insert("exclusive".into(), float(d.exclusive()));
        data.insert("min".into(), float(d.min()));
        data.insert("max".into(), float(d.max()));
        data.insert("sum_squares".into(), float(d.sum_squares()));
        data.insert("scoped".into(), Value::Bool(d.scoped()));
        data.insert("forced".into(), Value::Bool(d.forced()));
        o.v("data", Some(Value::Object(data)));
    }
    o.done()
}

fn transaction(t: &fb::Transaction<'_>) -> Value {
    Obj::new()
        .s("name", t.name())
        .s("uri", t.uri())
        .s("synthetics_resource_id", t.synthetics_resource_id())
        .i("pid", t.pid().into())
        .v("txn_event", t.txn_event().map(event))
        .v(
            "metrics",
            t.metrics()
                .map(|v| Value::Array(v.iter().map(metric).collect())),
        )
        .v(
            "errors",
            t.errors().map(|v| {
                Value::Array(
                    v.iter()
                        .map(|e| {
                            Obj::new()
                                .i("priority", e.priority().into())
                                .s("data", e.data())
                                .done()
                        })
                        .collect(),
                )
            }),
        )
        .v(
            "slow_sqls",
            t.slow_sqls().map(|v| {
                Value::Array(
                    v.iter()
                        .map(|q| {
                            Obj::new()
                                .u("id", q.id().into())
                                .i("count", q.count().into())
                                .u("total_micros", q.total_micros())
                                .u("min_micros", q.min_micros())
                                .u("max_micros", q.max_micros())
                                .s("metric", q.metric())
                                .s("query", q.query())
                                .s("params", q.params())
                                .done()
                        })
                        .collect(),
                )
            }),
        )
        .v("custom_events", events(t.custom_events()))
        .v(
            "trace",
            t.trace().map(|tr| {
                Obj::new()
                    .f("timestamp", tr.timestamp())
                    .f("duration", tr.duration())
                    .s("guid", tr.guid())
                    .b("force_persist", tr.force_persist())
                    .s("data", tr.data())
                    .done()
            }),
        )
        .v("error_events", events(t.error_events()))
        .f("sampling_priority", t.sampling_priority())
        .v("span_events", events(t.span_events()))
        .v("log_events", events(t.log_events()))
        .v("php_packages", t.php_packages().map(event))
        .v(
            "log_forwarding_labels",
            t.log_forwarding_labels().map(event),
        )
        .done()
}

/// Renders a decoded message as flatc would print it.
pub fn to_json(msg: &MessageRef<'_>) -> Value {
    let mut o = Obj::new();
    o.s("agent_run_id", msg.agent_run_id);
    let data = match &msg.body {
        Body::None => None,
        Body::App(a) => Some(app(a)),
        Body::AppReply(r) => Some(app_reply(r)),
        Body::Transaction(t) => Some(transaction(t)),
        Body::SpanBatch(b) => Some(
            Obj::new()
                .u("count", b.count())
                .v(
                    "encoded",
                    b.encoded()
                        .map(|e| Value::Array(e.iter().map(Value::from).collect())),
                )
                .done(),
        ),
    };
    if data.is_some() {
        o.v("data_type", Some(Value::from(msg.body.kind())));
    }
    o.v("data", data).done()
}
