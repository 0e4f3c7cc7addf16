//! What the stand-in remembers of each call, decoded so tests can assert on
//! JSON rather than bytes.

use std::collections::BTreeMap;
use std::io::Read;

use base64::Engine;
use flate2::read::{GzDecoder, ZlibDecoder};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request the stand-in received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedCall {
    /// Arrival order, from 1.
    pub seq: u64,
    /// `method` query parameter.
    pub method: String,
    /// Every query parameter (so also `license_key`, `protocol_version`,
    /// `marshal_format`, `run_id`).
    pub query: BTreeMap<String, String>,
    /// The request path (should be `/agent_listener/invoke_raw_method`).
    pub path: String,
    /// The raw query string, in the order the client wrote it.
    pub raw_query: String,
    /// `license_key`.
    pub license: String,
    /// `run_id`, if sent.
    pub run_id: Option<String>,
    /// Request headers, names lowercase, in arrival order.
    pub headers: Vec<(String, String)>,
    /// Size of the body as sent (compressed).
    pub body_bytes: usize,
    /// The decoded payload (`Null` if it could not be decoded).
    pub payload: Value,
    /// Why the payload could not be decoded, if so.
    pub payload_error: Option<String>,
    /// For `transaction_sample_data` and `sql_trace_data`: the payload with
    /// its base64(zlib(JSON)) blobs replaced by the JSON they hold.
    pub expanded: Option<Value>,
    /// The application name, known from the connect payload (for connect
    /// itself and every call carrying that run id).
    pub app_name: Option<String>,
    /// For a successful connect: the run id handed out.
    #[serde(default)]
    pub granted_run_id: Option<String>,
    /// What the stand-in answered; 0 when it dropped the connection.
    pub response_status: u16,
    /// Wall-clock arrival time, ms since the Unix epoch.
    pub received_at_ms: u64,
}

impl RecordedCall {
    /// First value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits and percent-decodes a query string (`+` is a space).
pub(crate) fn parse_query(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(k), decode_component(v))
        })
        .collect()
}

fn decode_component(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Most bytes a body may inflate to.
const INFLATE_LIMIT: u64 = 256 << 20;

fn read_limited(mut r: impl Read) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    (&mut r)
        .take(INFLATE_LIMIT + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() as u64 > INFLATE_LIMIT {
        return Err("inflated body too large".into());
    }
    Ok(out)
}

/// Decodes a request body per its `Content-Encoding` and parses the JSON.
pub(crate) fn decode_body(content_encoding: Option<&str>, body: &[u8]) -> Result<Value, String> {
    let json = match content_encoding.map(str::trim) {
        Some(e) if e.eq_ignore_ascii_case("deflate") => {
            read_limited(ZlibDecoder::new(body)).map_err(|e| format!("bad zlib body: {e}"))?
        }
        Some(e) if e.eq_ignore_ascii_case("gzip") => {
            read_limited(GzDecoder::new(body)).map_err(|e| format!("bad gzip body: {e}"))?
        }
        None | Some("") | Some("identity") => body.to_vec(),
        Some(other) => return Err(format!("unsupported Content-Encoding {other:?}")),
    };
    serde_json::from_slice(&json).map_err(|e| format!("body is not JSON: {e}"))
}

/// Decodes one base64(zlib(JSON)) blob.
pub fn decode_blob(blob: &str) -> Option<Value> {
    let zipped = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .ok()?;
    let json = read_limited(ZlibDecoder::new(&zipped[..])).ok()?;
    serde_json::from_slice(&json).ok()
}

/// The payload with trace/SQL blobs expanded, for the two methods that
/// carry them.
pub(crate) fn expand(method: &str, payload: &Value) -> Option<Value> {
    let (rows_at, index) = match method {
        // [run_id, [[start, duration, name, uri, BLOB, ...], ...]]
        "transaction_sample_data" => (1, 4),
        // [[[name, uri, id, query, metric, count, total, min, max, BLOB], ...]]
        "sql_trace_data" => (0, 9),
        _ => return None,
    };
    let mut out = payload.clone();
    for row in out.get_mut(rows_at)?.as_array_mut()? {
        if let Some(slot) = row.get_mut(index) {
            if let Some(v) = slot.as_str().and_then(decode_blob) {
                *slot = v;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::ZlibEncoder;
    use serde_json::json;
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn query_decoding() {
        let q = parse_query("license_key=ab%2Fc&method=connect&run_id=a+b&flag");
        assert_eq!(q["license_key"], "ab/c");
        assert_eq!(q["run_id"], "a b");
        assert_eq!(q["flag"], "");
        assert_eq!(decode_component("100%"), "100%");
    }

    #[test]
    fn bodies() {
        let body = zlib(br#"[{"pid":1}]"#);
        assert_eq!(
            decode_body(Some("deflate"), &body).unwrap(),
            json!([{"pid": 1}])
        );
        assert_eq!(decode_body(None, b"[1]").unwrap(), json!([1]));
        assert!(decode_body(Some("deflate"), b"[1]").is_err());
        assert!(decode_body(Some("br"), b"").is_err());
    }

    #[test]
    fn blob_expansion() {
        let blob = base64::engine::general_purpose::STANDARD.encode(zlib(br#"{"k":[1]}"#));
        let p = json!(["run", [[1, 2, "n", "u", blob, "g"]]]);
        let e = expand("transaction_sample_data", &p).unwrap();
        assert_eq!(e[1][0][4], json!({"k": [1]}));
        assert!(expand("metric_data", &p).is_none());
    }
}
