//! Distributed tracing headers: building `traceparent`, `tracestate` and the
//! base64 `newrelic` payload, and parsing inbound ones with the agent's
//! validation rules and supportability metric names.

use crate::json;
use base64::Engine as _;
use serde_json::Value;

/// Supportability metric names.
pub mod metric {
    pub const ACCEPT_SUCCESS: &str = "Supportability/DistributedTrace/AcceptPayload/Success";
    pub const ACCEPT_EXCEPTION: &str = "Supportability/DistributedTrace/AcceptPayload/Exception";
    pub const ACCEPT_PARSE_EXCEPTION: &str =
        "Supportability/DistributedTrace/AcceptPayload/ParseException";
    pub const ACCEPT_CREATE_BEFORE_ACCEPT: &str =
        "Supportability/DistributedTrace/AcceptPayload/Ignored/CreateBeforeAccept";
    pub const ACCEPT_MULTIPLE: &str =
        "Supportability/DistributedTrace/AcceptPayload/Ignored/Multiple";
    pub const ACCEPT_MAJOR_VERSION: &str =
        "Supportability/DistributedTrace/AcceptPayload/Ignored/MajorVersion";
    pub const ACCEPT_NULL: &str = "Supportability/DistributedTrace/AcceptPayload/Ignored/Null";
    pub const ACCEPT_UNTRUSTED_ACCOUNT: &str =
        "Supportability/DistributedTrace/AcceptPayload/Ignored/UntrustedAccount";
    pub const CREATE_SUCCESS: &str = "Supportability/DistributedTrace/CreatePayload/Success";
    pub const CREATE_EXCEPTION: &str = "Supportability/DistributedTrace/CreatePayload/Exception";
    pub const W3C_CREATE_SUCCESS: &str = "Supportability/TraceContext/Create/Success";
    pub const W3C_ACCEPT_SUCCESS: &str = "Supportability/TraceContext/Accept/Success";
    pub const W3C_TRACEPARENT_PARSE_EXCEPTION: &str =
        "Supportability/TraceContext/TraceParent/Parse/Exception";
    pub const W3C_TRACESTATE_NO_NR_ENTRY: &str = "Supportability/TraceContext/TraceState/NoNrEntry";
    pub const W3C_TRACESTATE_INVALID_NR_ENTRY: &str =
        "Supportability/TraceContext/TraceState/InvalidNrEntry";
}

/// What an accepted inbound payload told us about the caller.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inbound {
    /// `App`, `Browser` or `Mobile`.
    pub parent_type: Option<String>,
    /// Caller's account id.
    pub account: Option<String>,
    /// Caller's application id.
    pub app: Option<String>,
    /// Caller's span id (`parentSpanId`, root span `parentId`).
    pub guid: Option<String>,
    /// Caller's transaction id (`parentId` intrinsic).
    pub txn_id: Option<String>,
    /// Transport type (`HTTP`, `Kafka`, …).
    pub transport: String,
    /// When the caller created the payload, µs since the epoch (0 = never
    /// said).
    pub timestamp_us: u64,
    /// Other vendors in `tracestate`.
    pub tracing_vendors: Option<String>,
    /// Span id from the trusted `tracestate` entry.
    pub trusted_parent_id: Option<String>,
}

/// A parsed `traceparent`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceParent {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub parent_id: String,
    /// Flags byte.
    pub flags: u8,
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// Parses `traceparent` (W3C, lowercase hex only; version `ff`, zero ids
/// and extra fields on version 00 are rejected).
pub fn parse_traceparent(h: &str) -> Option<TraceParent> {
    let mut parts = h.splitn(5, '-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let parent_id = parts.next()?;
    let flags = parts.next()?;
    let additional = parts.next();
    if version.len() != 2 || trace_id.len() != 32 || parent_id.len() != 16 || flags.len() != 2 {
        return None;
    }
    if ![version, trace_id, parent_id, flags]
        .iter()
        .all(|p| is_lower_hex(p))
    {
        return None;
    }
    if version == "ff" || (version == "00" && additional.is_some()) {
        return None;
    }
    if trace_id.bytes().all(|c| c == b'0') || parent_id.bytes().all(|c| c == b'0') {
        return None;
    }
    Some(TraceParent {
        trace_id: trace_id.to_owned(),
        parent_id: parent_id.to_owned(),
        flags: u8::from_str_radix(flags, 16).ok()?,
    })
}

/// The trusted New Relic entry of a `tracestate`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NrEntry {
    /// 0 App, 1 Browser, 2 Mobile.
    pub parent_type: i64,
    /// Account id.
    pub account: String,
    /// Application id.
    pub app: String,
    /// Span id, if given.
    pub span_id: Option<String>,
    /// Transaction id, if given.
    pub txn_id: Option<String>,
    /// Sampled flag, if given.
    pub sampled: Option<bool>,
    /// Priority, if given and well-formed.
    pub priority: Option<f64>,
    /// Timestamp, ms.
    pub timestamp_ms: u64,
}

/// A parsed `tracestate`.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceState {
    /// Keys of the other vendors' entries, comma-joined.
    pub tracing_vendors: Option<String>,
    /// The trusted New Relic entry, or the metric explaining its absence.
    pub nr: Result<NrEntry, &'static str>,
}

fn parse_nr_entry(value: &str) -> Option<NrEntry> {
    // version-parent_type-account-app-span-txn-sampled-priority-timestamp
    let fields: Vec<&str> = value.splitn(9, '-').collect();
    if fields.len() != 9 {
        return None;
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    let alnum = |s: &str| s.bytes().all(|c| c.is_ascii_alphanumeric());
    let [version, parent_type, account, app, span, txn, sampled, priority, ts] = fields[..] else {
        return None;
    };
    // The timestamp only has to start with digits; trailing text is ignored.
    let ts_digits: &str = &ts[..ts.bytes().take_while(u8::is_ascii_digit).count()];
    if !digits(version)
        || !digits(parent_type)
        || account.is_empty()
        || !alnum(account)
        || app.is_empty()
        || !alnum(app)
        || !alnum(span)
        || !alnum(txn)
        || !sampled.bytes().all(|c| c.is_ascii_digit())
        || !priority.bytes().all(|c| c.is_ascii_digit() || c == b'.')
        || ts_digits.is_empty()
    {
        return None;
    }
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Some(NrEntry {
        parent_type: parent_type.parse().unwrap_or(0),
        account: account.to_owned(),
        app: app.to_owned(),
        span_id: non_empty(span),
        txn_id: non_empty(txn),
        sampled: (!sampled.is_empty()).then(|| sampled.parse::<i64>().unwrap_or(0) != 0),
        priority: if priority.is_empty() {
            None
        } else {
            priority.parse().ok()
        },
        timestamp_ms: ts_digits.parse().unwrap_or(0),
    })
}

/// Parses `tracestate`, finding the entry keyed `<trusted_key>@nr`.
pub fn parse_tracestate(h: Option<&str>, trusted_key: Option<&str>) -> TraceState {
    let (Some(h), Some(tk)) = (h, trusted_key) else {
        return TraceState {
            tracing_vendors: None,
            nr: Err(metric::W3C_TRACESTATE_NO_NR_ENTRY),
        };
    };
    let key = format!("{tk}@nr=");
    let mut vendors: Vec<&str> = Vec::new();
    let mut nr_value: Option<&str> = None;
    for entry in h.split(',').filter(|e| !e.is_empty()) {
        if let Some(v) = entry.strip_prefix(key.as_str()) {
            nr_value = Some(v);
        } else {
            vendors.push(entry.split('=').next().unwrap_or(entry));
        }
    }
    let tracing_vendors = (!vendors.is_empty()).then(|| vendors.join(","));
    let nr = match nr_value {
        None => Err(metric::W3C_TRACESTATE_NO_NR_ENTRY),
        Some(v) => parse_nr_entry(v).ok_or(metric::W3C_TRACESTATE_INVALID_NR_ENTRY),
    };
    TraceState {
        tracing_vendors,
        nr,
    }
}

/// A parsed `newrelic` payload.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NrPayload {
    /// `ty`.
    pub parent_type: Option<String>,
    /// `ac`.
    pub account: Option<String>,
    /// `ap`.
    pub app: Option<String>,
    /// `id`.
    pub guid: Option<String>,
    /// `tx`.
    pub txn_id: Option<String>,
    /// `tr`.
    pub trace_id: Option<String>,
    /// `pr`.
    pub priority: Option<f64>,
    /// `sa`.
    pub sampled: Option<bool>,
    /// `ti`, ms.
    pub timestamp_ms: u64,
    /// `tk`, else `ac`: the key that must be trusted.
    pub trusted_key: Option<String>,
}

fn str_or_num(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Decodes and validates the `newrelic` header (base64 JSON).
pub fn parse_newrelic_header(b64: &str) -> Result<NrPayload, &'static str> {
    if b64.is_empty() {
        return Err(metric::ACCEPT_NULL);
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| metric::ACCEPT_PARSE_EXCEPTION)?;
    let text = String::from_utf8(raw).map_err(|_| metric::ACCEPT_PARSE_EXCEPTION)?;
    parse_newrelic_json(&text)
}

/// Validates a decoded `newrelic` payload.
pub fn parse_newrelic_json(text: &str) -> Result<NrPayload, &'static str> {
    if text.is_empty() {
        return Err(metric::ACCEPT_NULL);
    }
    let v: Value = serde_json::from_str(text).map_err(|_| metric::ACCEPT_PARSE_EXCEPTION)?;
    let version = v
        .get("v")
        .and_then(Value::as_array)
        .ok_or(metric::ACCEPT_PARSE_EXCEPTION)?;
    if version.first().and_then(Value::as_i64).unwrap_or(0) > 0 {
        return Err(metric::ACCEPT_MAJOR_VERSION);
    }
    let d = v
        .get("d")
        .filter(|d| d.is_object())
        .ok_or(metric::ACCEPT_PARSE_EXCEPTION)?;
    if d.get("tx").is_none() && d.get("id").is_none() {
        return Err(metric::ACCEPT_PARSE_EXCEPTION);
    }
    for k in ["ty", "ac", "ap", "tr", "ti"] {
        match d.get(k) {
            Some(Value::String(_)) | Some(Value::Number(_)) => {}
            _ => return Err(metric::ACCEPT_PARSE_EXCEPTION),
        }
    }
    let account = str_or_num(d, "ac");
    Ok(NrPayload {
        parent_type: str_or_num(d, "ty"),
        trusted_key: str_or_num(d, "tk").or_else(|| account.clone()),
        account,
        app: str_or_num(d, "ap"),
        guid: str_or_num(d, "id"),
        txn_id: str_or_num(d, "tx"),
        trace_id: str_or_num(d, "tr"),
        priority: d.get("pr").and_then(Value::as_f64),
        sampled: d.get("sa").and_then(Value::as_bool),
        timestamp_ms: d.get("ti").and_then(Value::as_u64).unwrap_or(0),
    })
}

/// The transport types the agent accepts; anything else becomes `Unknown`.
pub fn normalize_transport(t: &str) -> &'static str {
    const TYPES: [&str; 9] = [
        "Unknown", "HTTP", "HTTPS", "Kafka", "JMS", "IronMQ", "AMQP", "Queue", "Other",
    ];
    TYPES
        .iter()
        .find(|x| **x == t)
        .copied()
        .unwrap_or("Unknown")
}

/// `00-<trace id left-padded to 32>-<span id>-<01|00>`.
pub fn traceparent(trace_id: &str, span_id: &str, sampled: bool) -> String {
    let tid = trace_id.to_ascii_lowercase();
    format!(
        "00-{tid:0>32}-{span_id}-{}",
        if sampled { "01" } else { "00" }
    )
}

/// The fields of an outbound `tracestate` New Relic entry.
pub struct TraceStateOut<'a> {
    /// Trusted account key (entry key prefix).
    pub trusted_key: &'a str,
    /// Account id.
    pub account: &'a str,
    /// Application id.
    pub app: &'a str,
    /// Span id (empty when span events are off).
    pub span_id: &'a str,
    /// Transaction id (empty when transaction events are off).
    pub txn_id: &'a str,
    /// Sampled flag.
    pub sampled: bool,
    /// Priority (printed with 6 decimals).
    pub priority: f64,
    /// Creation time, ms since the epoch.
    pub timestamp_ms: u64,
}

/// `<tk>@nr=0-0-<ac>-<ap>-<span>-<txn>-<1|0>-<priority %.6f>-<ms>`.
pub fn tracestate(t: &TraceStateOut<'_>) -> String {
    format!(
        "{}@nr=0-0-{}-{}-{}-{}-{}-{:.6}-{}",
        t.trusted_key,
        t.account,
        t.app,
        t.span_id,
        t.txn_id,
        if t.sampled { 1 } else { 0 },
        t.priority,
        t.timestamp_ms
    )
}

/// The fields of an outbound `newrelic` payload.
pub struct PayloadOut<'a> {
    /// Account id.
    pub account: Option<&'a str>,
    /// Application id.
    pub app: Option<&'a str>,
    /// Span id.
    pub span_id: Option<&'a str>,
    /// Trace id.
    pub trace_id: &'a str,
    /// Transaction id.
    pub txn_id: &'a str,
    /// Priority (5 decimals, like every double the agent encodes).
    pub priority: f64,
    /// Sampled flag.
    pub sampled: bool,
    /// Creation time, ms since the epoch.
    pub timestamp_ms: u64,
    /// Trusted account key, sent only when it differs from the account.
    pub trusted_key: Option<&'a str>,
}

/// The payload JSON (before base64).
pub fn newrelic_payload_json(p: &PayloadOut<'_>) -> String {
    let mut out = String::with_capacity(200);
    out.push_str("{\"v\":[0,1],\"d\":");
    let mut d = json::Obj::begin(&mut out);
    d.str("ty", "App");
    if let Some(ac) = p.account {
        d.str("ac", ac);
    }
    if let Some(ap) = p.app {
        d.str("ap", ap);
    }
    if let Some(id) = p.span_id {
        d.str("id", id);
    }
    d.str("tr", p.trace_id)
        .str("tx", p.txn_id)
        .f64("pr", p.priority)
        .bool("sa", p.sampled);
    d.u64("ti", p.timestamp_ms);
    if let Some(tk) = p.trusted_key.filter(|tk| Some(*tk) != p.account) {
        d.str("tk", tk);
    }
    d.end();
    out.push('}');
    out
}

/// The base64 `newrelic` header value.
pub fn newrelic_header(p: &PayloadOut<'_>) -> String {
    base64::engine::general_purpose::STANDARD.encode(newrelic_payload_json(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_rules() {
        let ok =
            parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
        assert_eq!(ok.trace_id, "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(ok.parent_id, "b7ad6b7169203331");
        assert_eq!(ok.flags, 1);
        for bad in [
            "",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad}");
        }
        assert!(parse_traceparent(
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future"
        )
        .is_some());
    }

    #[test]
    fn tracestate_entries() {
        let ts = parse_tracestate(
            Some(
                "1@nr=0-0-1-2-b7ad6b7169203331-e8b91a159289ff74-1-1.23456-1795424130340,other=foo",
            ),
            Some("1"),
        );
        assert_eq!(ts.tracing_vendors.as_deref(), Some("other"));
        let nr = ts.nr.unwrap();
        assert_eq!(nr.account, "1");
        assert_eq!(nr.app, "2");
        assert_eq!(nr.span_id.as_deref(), Some("b7ad6b7169203331"));
        assert_eq!(nr.txn_id.as_deref(), Some("e8b91a159289ff74"));
        assert_eq!(nr.sampled, Some(true));
        assert_eq!(nr.priority, Some(1.23456));
        assert_eq!(nr.timestamp_ms, 1_795_424_130_340);
        let optional = parse_tracestate(Some("33@nr=0-1-33-44-----5"), Some("33"))
            .nr
            .unwrap();
        assert_eq!(
            (optional.span_id, optional.sampled, optional.priority),
            (None, None, None)
        );
        assert_eq!(optional.parent_type, 1);
        assert_eq!(
            parse_tracestate(Some("a=b,c=d"), Some("1")),
            TraceState {
                tracing_vendors: Some("a,c".into()),
                nr: Err(metric::W3C_TRACESTATE_NO_NR_ENTRY)
            }
        );
        assert_eq!(
            parse_tracestate(Some("1@nr=garbage"), Some("1")).nr,
            Err(metric::W3C_TRACESTATE_INVALID_NR_ENTRY)
        );
        assert_eq!(
            parse_tracestate(None, Some("1")).nr,
            Err(metric::W3C_TRACESTATE_NO_NR_ENTRY)
        );
    }

    #[test]
    fn outbound_headers_match_the_vectors() {
        // 06-curl-external/received_headers.json
        assert_eq!(
            traceparent("713a77386a4418ae", "61de4caa21419994", true),
            "00-0000000000000000713a77386a4418ae-61de4caa21419994-01"
        );
        assert_eq!(
            tracestate(&TraceStateOut {
                trusted_key: "1",
                account: "1",
                app: "2",
                span_id: "61de4caa21419994",
                txn_id: "713a77386a4418ae",
                sampled: true,
                priority: 1.169611013931732,
                timestamp_ms: 1_795_424_129_547,
            }),
            "1@nr=0-0-1-2-61de4caa21419994-713a77386a4418ae-1-1.169611-1795424129547"
        );
        let p = PayloadOut {
            account: Some("1"),
            app: Some("2"),
            span_id: Some("61de4caa21419994"),
            trace_id: "713a77386a4418ae",
            txn_id: "713a77386a4418ae",
            priority: 1.169611013931732,
            sampled: true,
            timestamp_ms: 1_795_424_129_547,
            trusted_key: Some("1"),
        };
        assert_eq!(
            newrelic_header(&p),
            "eyJ2IjpbMCwxXSwiZCI6eyJ0eSI6IkFwcCIsImFjIjoiMSIsImFwIjoiMiIsImlkIjoiNjFkZTRjYWEyMTQxOTk5NCIsInRyIjoiNzEzYTc3Mzg2YTQ0MThhZSIsInR4IjoiNzEzYTc3Mzg2YTQ0MThhZSIsInByIjoxLjE2OTYxLCJzYSI6dHJ1ZSwidGkiOjE3OTU0MjQxMjk1NDd9fQ=="
        );
        let with_tk = newrelic_payload_json(&PayloadOut {
            trusted_key: Some("9"),
            ..p
        });
        assert!(with_tk.ends_with(",\"tk\":\"9\"}}"), "{with_tk}");
    }

    #[test]
    fn newrelic_payload_validation() {
        let good = newrelic_header(&PayloadOut {
            account: Some("1"),
            app: Some("2"),
            span_id: Some("s"),
            trace_id: "t",
            txn_id: "x",
            priority: 0.5,
            sampled: false,
            timestamp_ms: 10,
            trusted_key: None,
        });
        let p = parse_newrelic_header(&good).unwrap();
        assert_eq!(p.trusted_key.as_deref(), Some("1"));
        assert_eq!(
            (p.priority, p.sampled, p.timestamp_ms),
            (Some(0.5), Some(false), 10)
        );
        assert_eq!(parse_newrelic_header(""), Err(metric::ACCEPT_NULL));
        assert_eq!(
            parse_newrelic_header("!!"),
            Err(metric::ACCEPT_PARSE_EXCEPTION)
        );
        assert_eq!(
            parse_newrelic_json(r#"{"v":[1,0],"d":{}}"#),
            Err(metric::ACCEPT_MAJOR_VERSION)
        );
        assert_eq!(
            parse_newrelic_json(
                r#"{"v":[0,1],"d":{"ty":"App","ac":"1","ap":"2","tr":"t","ti":1}}"#
            ),
            Err(metric::ACCEPT_PARSE_EXCEPTION)
        );
        assert_eq!(
            parse_newrelic_json(
                r#"{"v":[0,1],"d":{"ty":"App","ac":"1","ap":"2","tx":"x","ti":1}}"#
            ),
            Err(metric::ACCEPT_PARSE_EXCEPTION)
        );
        assert_eq!(normalize_transport("Kafka"), "Kafka");
        assert_eq!(normalize_transport("http"), "Unknown");
    }
}
