//! Where a call goes and what identifies it: host, license, run id, the
//! run's extra headers and payload limit, and the request URL built from
//! them (§3.1).

use crate::license::LicenseKey;
use crate::method::Method;
use crate::reply::ConnectReply;

/// Protocol version sent on every call.
pub const PROTOCOL_VERSION: &str = "17";

/// Payload limit before connect, and when the connect reply names none.
pub const DEFAULT_MAX_PAYLOAD_SIZE: usize = 1_000_000;

/// The target of collector calls: one collector host and license, plus,
/// once connected, the run's id, `request_headers_map` and
/// `max_payload_size_in_bytes`.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// `host` or `host:port`, no scheme.
    pub host: String,
    /// The application's license key.
    pub license: LicenseKey,
    /// Agent run id; `None` for preconnect and connect.
    pub run_id: Option<String>,
    /// Extra headers for harvest calls (`request_headers_map`).
    pub request_headers: Vec<(String, String)>,
    /// Largest compressed body that may be sent.
    pub max_payload_size: usize,
    /// Overrides the client's `User-Agent` (New Relic's daemon puts the
    /// agent's version in it, see [`crate::user_agent`]).
    pub user_agent: Option<String>,
}

impl Endpoint {
    /// An endpoint for preconnect or connect: no run, default limits.
    pub fn new(host: impl Into<String>, license: impl Into<LicenseKey>) -> Self {
        Endpoint {
            host: host.into(),
            license: license.into(),
            run_id: None,
            request_headers: Vec::new(),
            max_payload_size: DEFAULT_MAX_PAYLOAD_SIZE,
            user_agent: None,
        }
    }

    /// The endpoint for a connected run's harvest calls: `host` is the
    /// preconnect `redirect_host`.
    pub fn for_run(
        host: impl Into<String>,
        license: impl Into<LicenseKey>,
        reply: &ConnectReply,
    ) -> Self {
        Endpoint {
            host: host.into(),
            license: license.into(),
            run_id: Some(reply.agent_run_id.clone()),
            request_headers: reply.request_headers_map.clone(),
            max_payload_size: reply.max_payload_size_in_bytes,
            user_agent: None,
        }
    }

    /// Sets the `User-Agent` for calls to this endpoint.
    pub fn with_user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = Some(ua.into());
        self
    }

    /// The request URL. With `obfuscate` the license key is shortened to
    /// `ab..yz`, which is the form every log line uses.
    pub fn url(&self, method: Method, obfuscate: bool) -> String {
        let license = if obfuscate {
            self.license.obfuscated()
        } else {
            self.license.expose().to_owned()
        };
        // Keys in sorted order, as Go's url.Values.Encode writes them.
        let mut q = String::with_capacity(160);
        q.push_str("license_key=");
        query_escape_into(&mut q, &license);
        q.push_str("&marshal_format=json&method=");
        query_escape_into(&mut q, method.as_str());
        q.push_str("&protocol_version=");
        q.push_str(PROTOCOL_VERSION);
        if let Some(run_id) = &self.run_id {
            q.push_str("&run_id=");
            query_escape_into(&mut q, run_id);
        }
        format!("https://{}/agent_listener/invoke_raw_method?{q}", self.host)
    }
}

/// Escapes a query component the way Go's `url.QueryEscape` does:
/// unreserved characters stay, space becomes `+`, the rest is `%XX`.
fn query_escape_into(out: &mut String, s: &str) {
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_has_sorted_query_and_optional_run_id() {
        let mut ep = Endpoint::new("127.0.0.1:8443", "0123456789abcdef");
        assert_eq!(
            ep.url(Method::Preconnect, false),
            "https://127.0.0.1:8443/agent_listener/invoke_raw_method?license_key=0123456789abcdef\
             &marshal_format=json&method=preconnect&protocol_version=17"
        );
        ep.run_id = Some("BAAB/x+y z".into());
        assert_eq!(
            ep.url(Method::MetricData, true),
            "https://127.0.0.1:8443/agent_listener/invoke_raw_method?license_key=01..ef\
             &marshal_format=json&method=metric_data&protocol_version=17&run_id=BAAB%2Fx%2By+z"
        );
    }
}
