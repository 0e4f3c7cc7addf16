//! What a collector call came to, as one enum the daemon matches on
//! (§3.7), plus the byte counts its supportability metrics need (§4.9).
//!
//! Status numbers live here and nowhere else: the daemon sees
//! [`Outcome::Disconnect`], not `410`.

use std::time::Duration;

use serde_json::value::RawValue;

use crate::method::Method;

/// How a call ended.
///
/// `T` is what a success carries: the raw `return_value` for harvest calls,
/// a parsed reply for preconnect and connect.
#[derive(Debug)]
pub enum Outcome<T = ReturnValue> {
    /// 200 (body parsed) or 202.
    Success(T),
    /// 410: the application is disconnected for good; stop the run.
    Disconnect,
    /// 401: the license key was refused. On preconnect/connect the
    /// application is invalid; on a harvest call New Relic's daemon treats
    /// it like [`Outcome::Restart`].
    LicenseInvalid,
    /// 409: reconnect (drop the run, its pending data is discarded).
    Restart,
    /// 408, 429, 500, 503: the collector could not take the data now; merge
    /// the payload back into the next harvest. `retry_after` is the
    /// `Retry-After` header, when one was sent.
    MergeBack {
        /// How long the collector asked us to wait.
        retry_after: Option<Duration>,
    },
    /// Everything else: the payload is dropped.
    Discard(DiscardReason),
}

/// Why a call's payload was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscardReason {
    /// An HTTP status with no special meaning (400, 403, 413, ...).
    #[error("response code {0}: {msg}", msg = status_message(*.0))]
    Status(u16),
    /// Connecting, the TLS handshake, or the exchange failed.
    #[error("transport error: {0}")]
    Transport(String),
    /// A deadline passed (waiting for a request slot, or the request).
    #[error("timed out {0}")]
    Timeout(&'static str),
    /// The compressed payload is over `max_payload_size_in_bytes`; nothing
    /// was sent.
    #[error("payload size too large: {compressed} greater than {max}")]
    PayloadTooLarge {
        /// Compressed size.
        compressed: usize,
        /// The limit in force.
        max: usize,
    },
    /// A 200 whose body carried an `exception` object.
    #[error("collector exception {error_type}: {message}")]
    Exception {
        /// `exception.error_type`.
        error_type: String,
        /// `exception.message`.
        message: String,
    },
    /// A 200 whose body was not a `{"return_value": ...}` object.
    #[error("unparsable collector response: {0}")]
    BadResponse(String),
    /// A well-formed response whose content is unusable (a connect reply
    /// without `agent_run_id`, a negative event limit, ...).
    #[error("invalid collector reply: {0}")]
    InvalidReply(String),
    /// Preconnect's security policies and the agent's do not agree (§3.5).
    #[error("security policies: {0}")]
    SecurityPolicies(String),
}

impl<T> Outcome<T> {
    /// True for [`Outcome::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success(_))
    }

    /// The success value, if any.
    pub fn success(self) -> Option<T> {
        match self {
            Outcome::Success(v) => Some(v),
            _ => None,
        }
    }

    /// Maps the success value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        self.and_then(|v| Outcome::Success(f(v)))
    }

    /// Chains a step that may itself fail.
    pub fn and_then<U>(self, f: impl FnOnce(T) -> Outcome<U>) -> Outcome<U> {
        match self.into_result() {
            Ok(v) => f(v),
            Err(failure) => failure,
        }
    }

    /// Splits off the success value; a failure comes back retyped, ready to
    /// be passed on by a caller whose success type differs.
    pub fn into_result<U>(self) -> Result<T, Outcome<U>> {
        match self {
            Outcome::Success(v) => Ok(v),
            Outcome::Disconnect => Err(Outcome::Disconnect),
            Outcome::LicenseInvalid => Err(Outcome::LicenseInvalid),
            Outcome::Restart => Err(Outcome::Restart),
            Outcome::MergeBack { retry_after } => Err(Outcome::MergeBack { retry_after }),
            Outcome::Discard(r) => Err(Outcome::Discard(r)),
        }
    }

    /// A short description for log lines.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Success(_) => "success".to_owned(),
            Outcome::Disconnect => "disconnect (410)".to_owned(),
            Outcome::LicenseInvalid => "invalid license (401)".to_owned(),
            Outcome::Restart => "restart (409)".to_owned(),
            Outcome::MergeBack {
                retry_after: Some(d),
            } => format!("retry later (retry after {} s)", d.as_secs()),
            Outcome::MergeBack { retry_after: None } => "retry later".to_owned(),
            Outcome::Discard(r) => r.to_string(),
        }
    }
}

/// Classifies an HTTP status (§3.7). 200 and 202 are success; the caller
/// still has to check a 200's body.
pub fn classify_status(status: u16, retry_after: Option<Duration>) -> Outcome<()> {
    match status {
        200 | 202 => Outcome::Success(()),
        410 => Outcome::Disconnect,
        401 => Outcome::LicenseInvalid,
        409 => Outcome::Restart,
        408 | 429 | 500 | 503 => Outcome::MergeBack { retry_after },
        other => Outcome::Discard(DiscardReason::Status(other)),
    }
}

/// New Relic's wording for the statuses it names.
pub fn status_message(status: u16) -> &'static str {
    match status {
        400 => "Invalid request formatting",
        401 => "Authentication failure",
        403 => "Forbidden",
        404 => "Not found",
        405 => "HTTP method not found",
        407 => "Proxy authentication failure (misconfigured)",
        408 => "Timeout",
        409 => "Conflict: you should reconnect",
        410 => "Gone: you should disconnect",
        411 => "Content-length required",
        413 => "Payload too large",
        414 => "URI too large",
        415 => "Content-type or content-encoding is wrong",
        417 => "Expectation failed",
        429 => "Too many requests",
        431 => "Request headers too large",
        500 => "NR server internal error",
        503 => "NR service unavailable",
        _ => "Unknown response code",
    }
}

/// A 200 body's `return_value`, byte for byte as the collector sent it.
#[derive(Debug, Clone)]
pub struct ReturnValue(Box<RawValue>);

impl ReturnValue {
    /// JSON `null` (what a 202, or a 200 without `return_value`, yields).
    pub fn null() -> Self {
        ReturnValue(RawValue::from_string("null".to_owned()).unwrap_or_else(|_| unreachable!()))
    }

    /// The raw JSON text.
    pub fn raw(&self) -> &str {
        self.0.get()
    }

    /// Parsed into a JSON value.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.0.get()).unwrap_or(serde_json::Value::Null)
    }

    /// True when the value is JSON `null`.
    pub fn is_null(&self) -> bool {
        self.0.get().trim() == "null"
    }
}

/// Splits a 200 body into its `return_value` or the reason it is unusable.
///
/// New Relic's daemon accepts a missing `return_value` (it yields `null`),
/// and an `exception` object wins over everything else.
pub fn parse_response_body(body: &[u8]) -> Result<ReturnValue, DiscardReason> {
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow, default)]
        return_value: Option<&'a RawValue>,
        #[serde(default)]
        exception: Option<Exception>,
    }
    #[derive(serde::Deserialize)]
    struct Exception {
        #[serde(default)]
        message: String,
        #[serde(default)]
        error_type: String,
    }

    let text = std::str::from_utf8(body)
        .map_err(|_| DiscardReason::BadResponse("body is not UTF-8".to_owned()))?;
    // serde would also accept a JSON array for a struct; the collector's
    // envelope is always an object.
    if !text.trim_start().starts_with('{') {
        return Err(DiscardReason::BadResponse(
            "body is not a JSON object".to_owned(),
        ));
    }
    let env: Envelope<'_> =
        serde_json::from_str(text).map_err(|e| DiscardReason::BadResponse(e.to_string()))?;
    if let Some(ex) = env.exception {
        return Err(DiscardReason::Exception {
            error_type: ex.error_type,
            message: ex.message,
        });
    }
    Ok(match env.return_value {
        Some(raw) => ReturnValue(raw.to_owned()),
        None => ReturnValue::null(),
    })
}

/// Numbers for the `Supportability/*/Collector/*` metrics of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallStats {
    /// The method called.
    pub method: Method,
    /// HTTP status; 0 when no response arrived (or nothing was sent).
    pub status: u16,
    /// Uncompressed JSON payload size.
    pub request_bytes: usize,
    /// Compressed body size (what went on the wire).
    pub compressed_bytes: usize,
    /// Response body size.
    pub response_bytes: usize,
    /// Whether the request was put on the wire at all.
    pub sent: bool,
}

impl CallStats {
    /// `Supportability/<language>/Collector/<method>/Output/Bytes`.
    ///
    /// New Relic's daemon puts the App's `agent_language` in the name
    /// verbatim (so `php` for PHP agents, although the protocol notes write
    /// `PHP`); the caller chooses.
    pub fn output_bytes_metric(&self, agent_language: &str) -> String {
        format!(
            "Supportability/{agent_language}/Collector/{}/Output/Bytes",
            self.method
        )
    }

    /// `Supportability/<language>/Collector/Output/Bytes`, the sum over
    /// all methods.
    pub fn total_output_bytes_metric(agent_language: &str) -> String {
        format!("Supportability/{agent_language}/Collector/Output/Bytes")
    }

    /// `Supportability/Agent/Collector/HTTPError/<code>` for a failed
    /// call; `None` for a success.
    pub fn http_error_metric(&self) -> Option<String> {
        if matches!(self.status, 200 | 202) {
            return None;
        }
        Some(format!(
            "Supportability/Agent/Collector/HTTPError/{}",
            self.status
        ))
    }
}

/// A call's outcome and its numbers.
#[derive(Debug)]
pub struct Response<T = ReturnValue> {
    /// How the call ended.
    pub outcome: Outcome<T>,
    /// Status and byte counts.
    pub stats: CallStats,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_class_maps() {
        assert!(classify_status(200, None).is_success());
        assert!(classify_status(202, None).is_success());
        assert!(matches!(classify_status(410, None), Outcome::Disconnect));
        assert!(matches!(
            classify_status(401, None),
            Outcome::LicenseInvalid
        ));
        assert!(matches!(classify_status(409, None), Outcome::Restart));
        for s in [408, 429, 500, 503] {
            let d = Some(Duration::from_secs(7));
            assert!(matches!(
                classify_status(s, d),
                Outcome::MergeBack { retry_after } if retry_after == d
            ));
        }
        for s in [400, 403, 404, 413, 415, 502, 504, 302, 0] {
            assert!(matches!(
                classify_status(s, None),
                Outcome::Discard(DiscardReason::Status(x)) if x == s
            ));
        }
    }

    #[test]
    fn body_parsing() {
        let rv = parse_response_body(br#"{"return_value":{"a": [1, 2.50]}}"#).unwrap();
        assert_eq!(rv.raw(), r#"{"a": [1, 2.50]}"#);
        assert!(parse_response_body(br#"{"return_value":null}"#)
            .unwrap()
            .is_null());
        assert!(parse_response_body(b"{}").unwrap().is_null());
        let ex = parse_response_body(
            br#"{"exception":{"message":"boom","error_type":"NewRelic::Agent::ForceRestartException"}}"#,
        )
        .unwrap_err();
        assert_eq!(
            ex,
            DiscardReason::Exception {
                error_type: "NewRelic::Agent::ForceRestartException".into(),
                message: "boom".into()
            }
        );
        assert!(parse_response_body(br#"{"exception":null,"return_value":1}"#).is_ok());
        for bad in [&b"[1]"[..], b"nope", b"", b"{\"return_value\":", b"\xff"] {
            assert!(matches!(
                parse_response_body(bad),
                Err(DiscardReason::BadResponse(_))
            ));
        }
    }

    #[test]
    fn metric_names() {
        let mut s = CallStats {
            method: Method::MetricData,
            status: 503,
            request_bytes: 10,
            compressed_bytes: 5,
            response_bytes: 0,
            sent: true,
        };
        assert_eq!(
            s.output_bytes_metric("PHP"),
            "Supportability/PHP/Collector/metric_data/Output/Bytes"
        );
        assert_eq!(
            CallStats::total_output_bytes_metric("php"),
            "Supportability/php/Collector/Output/Bytes"
        );
        assert_eq!(
            s.http_error_metric().as_deref(),
            Some("Supportability/Agent/Collector/HTTPError/503")
        );
        s.status = 202;
        assert_eq!(s.http_error_metric(), None);
    }
}
