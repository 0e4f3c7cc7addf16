//! What a web request brings: request headers and their attributes, the
//! queue time from `X-Request-Start`, inbound trace headers, and the
//! response status and headers.

use super::{PathType, Transaction, WebRequest};
use crate::attrs::{dest, AttrValue};

/// `REQUEST_URI` without `?query`, `#fragment` or `;params`.
pub(crate) fn strip_query(uri: &str) -> &str {
    uri.find(['?', '#', ';']).map_or(uri, |i| &uri[..i])
}

/// Header name in a canonical form: lower case, dashes, no `http_` prefix.
pub(crate) fn canonical_header(name: &str) -> String {
    let lower = name.to_ascii_lowercase().replace('_', "-");
    match lower.strip_prefix("http-") {
        Some(rest) => rest.to_owned(),
        None => lower,
    }
}

/// The longest prefix of `s` that C's `strtod` would read as a decimal
/// number (leading blanks skipped, trailing text ignored).
fn strtod_prefix(s: &str) -> Option<f64> {
    let s = s.trim_start();
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    let mut any = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        any |= digits(&mut i);
    }
    if !any {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if digits(&mut j) {
            i = j;
        }
    }
    s[..i].parse().ok()
}

/// Parses `X-Request-Start` as New Relic's agent does: an optional `t=`,
/// then a Unix time in microseconds, milliseconds or seconds (fractions
/// allowed, trailing text such as Apache's ` D=…` ignored), told apart by
/// which reading falls between 2000-01-01 and 2050-01-01.
fn parse_queue_start(v: &str) -> Option<u64> {
    let v = v.strip_prefix("t=").unwrap_or(v);
    let x = strtod_prefix(v)?;
    if !x.is_finite() || x <= 0.0 {
        return None;
    }
    const EARLIEST_US: u64 = 946_684_800 * 1_000_000;
    const LATEST_US: u64 = 2_524_629_600 * 1_000_000;
    [1.0, 1e3, 1e6]
        .into_iter()
        .map(|us_per_unit| (x * us_per_unit) as u64)
        .find(|us| *us > EARLIEST_US && *us < LATEST_US)
}

impl Transaction {
    pub(super) fn begin_web(&mut self, req: WebRequest) {
        self.set_path(&req.script_name, PathType::Uri, true);
        let get = |names: &[&str]| {
            req.headers
                .iter()
                .find(|(k, _)| names.contains(&canonical_header(k).as_str()))
                .map(|(_, v)| v.clone())
        };
        let accept = get(&["accept"]);
        let content_type = get(&["content-type"]);
        let content_length = get(&["content-length"]);
        let host = get(&["host"]);
        let referer = get(&["referer"]);
        let user_agent = get(&["user-agent"]);
        // New Relic's PHP agent reads X-Request-Start only (not
        // X-Queue-Start).
        let queue = get(&["x-request-start"]);
        self.queue_start_us = queue.as_deref().and_then(parse_queue_start);
        let d = dest::TRACE_ERROR_EVENT;
        self.agent_str("request.headers.accept", accept.as_deref(), d);
        self.agent_str("request.headers.contentType", content_type.as_deref(), d);
        if let Some(n) = content_length
            .as_deref()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|n| *n != 0)
        {
            self.agent_attr("request.headers.contentLength", AttrValue::Int(n), d);
        }
        self.agent_str("request.headers.host", host.as_deref(), d);
        if let Some(r) = referer.as_deref() {
            self.agent_str("request.headers.referer", Some(strip_query(r)), dest::ERROR);
        }
        self.agent_str(
            "request.headers.userAgent",
            user_agent.as_deref(),
            dest::TXN_TRACE | dest::ERROR,
        );
        self.agent_str(
            "request.headers.User-Agent",
            user_agent.as_deref(),
            dest::TXN_TRACE | dest::ERROR,
        );
        self.agent_str("request.method", Some(&req.method), d);
        let uri = strip_query(&req.uri).to_owned();
        self.agent_str("request.uri", Some(&uri), d);
        if !uri.is_empty() {
            self.request_uri = Some(uri);
        }
        let dt: Vec<(String, String)> = ["newrelic", "traceparent", "tracestate"]
            .into_iter()
            .filter_map(|n| get(&[n]).map(|v| (n.to_owned(), v)))
            .collect();
        self.accept_inbound_headers(&dt);
    }

    /// Joins the trace of the request's inbound distributed-tracing headers
    /// (`newrelic`, `traceparent`, `tracestate`), as New Relic's agent does
    /// when a transaction starts: only with distributed tracing on and a
    /// `newrelic` or `traceparent` header present, transport `HTTP`. Web
    /// transactions do this from their [`WebRequest`] headers; the
    /// extension calls it for CLI transactions, whose `$_SERVER` may carry
    /// them too. Returns whether a payload was accepted.
    pub fn accept_inbound_headers(&mut self, headers: &[(String, String)]) -> bool {
        let has = |n: &str| {
            headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case(n) && !v.is_empty())
        };
        if !self.cfg.distributed_tracing_enabled || !(has("newrelic") || has("traceparent")) {
            return false;
        }
        self.accept_dt_headers(headers, "HTTP", self.start_unix_us)
    }

    /// The HTTP response status (applied at the end for web transactions).
    pub fn set_response_code(&mut self, code: u16) {
        if code != 0 {
            self.response_code = Some(code);
        }
    }

    /// A response header; `Content-Type` (parameters stripped) and
    /// `Content-Length` become attributes of web transactions.
    pub fn add_response_header(&mut self, name: &str, value: &str) {
        match canonical_header(name).as_str() {
            "content-type" => {
                let v = value.split(';').next().unwrap_or_default().trim();
                if !v.is_empty() {
                    self.response_content_type = Some(v.to_owned());
                }
            }
            "content-length" => {
                self.response_content_length = value.trim().parse().ok().filter(|n: &i64| *n != 0);
            }
            _ => {}
        }
    }
}

impl Transaction {
    /// Reads an inbound `X-NewRelic-Synthetics` header (with
    /// `synthetics.enabled`): decoded with the connect reply's
    /// `encoding_key`, accepted when it is a valid version 1 header from an
    /// account in `trusted_account_ids`. Returns whether it was accepted;
    /// a second header is refused.
    pub fn accept_synthetics_header(&mut self, encoded: &str) -> bool {
        if !self.cfg.synthetics_enabled || self.synthetics.is_some() {
            return false;
        }
        let Some(key) = self.connect.encoding_key.as_deref() else {
            return false;
        };
        let Some(s) = crate::synthetics::decode_header(encoded.trim(), key)
            .as_deref()
            .and_then(crate::synthetics::Synthetics::parse)
        else {
            return false;
        };
        if s.account_id <= 0 || !self.connect.trusted_account_ids.contains(&s.account_id) {
            return false;
        }
        self.synthetics = Some(s);
        true
    }

    /// Whether a synthetics header was accepted.
    pub fn is_synthetics(&self) -> bool {
        self.synthetics.is_some()
    }

    /// The `X-NewRelic-Synthetics` header to pass on with an outbound
    /// request of a synthetics transaction.
    pub fn synthetics_outbound_header(&self) -> Option<String> {
        let s = self.synthetics.as_ref()?;
        if !self.cfg.synthetics_enabled {
            return None;
        }
        let key = self.connect.encoding_key.as_deref()?;
        crate::synthetics::encode_header(&s.outbound_json(), key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_uri_helpers() {
        assert_eq!(strip_query("/shop/item?id=3"), "/shop/item");
        assert_eq!(strip_query("/a;b#c"), "/a");
        assert_eq!(canonical_header("HTTP_USER_AGENT"), "user-agent");
        assert_eq!(canonical_header("Content-Type"), "content-type");
    }

    #[test]
    fn queue_start_units() {
        assert_eq!(
            parse_queue_start("t=1700000000.5"),
            Some(1_700_000_000_500_000)
        );
        assert_eq!(
            parse_queue_start("1700000000500"),
            Some(1_700_000_000_500_000)
        );
        assert_eq!(
            parse_queue_start("t=1700000000500000"),
            Some(1_700_000_000_500_000)
        );
        assert_eq!(parse_queue_start("bogus"), None);
        assert_eq!(
            parse_queue_start("t=1368811467146000 D=123"),
            Some(1_368_811_467_146_000),
            "Apache's format"
        );
        assert_eq!(
            parse_queue_start("t= 1368811467.146"),
            Some(1_368_811_467_146_000)
        );
        assert_eq!(parse_queue_start("4102444800"), None, "2100 in seconds");
        assert_eq!(parse_queue_start("946684800"), None, "not after 2000-01-01");
        assert_eq!(parse_queue_start("t=-1368811467"), None);
        assert_eq!(parse_queue_start("t="), None);
        assert_eq!(strtod_prefix(" 1.5e3x"), Some(1500.0));
        assert_eq!(strtod_prefix("1e"), Some(1.0));
        assert_eq!(strtod_prefix("."), None);
    }
}
