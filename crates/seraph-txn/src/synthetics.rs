//! New Relic Synthetics: a monitor's request carries an
//! `X-NewRelic-Synthetics` header, obfuscated with the account's
//! `encoding_key` (XOR, then base64), holding
//! `[1, account_id, resource_id, job_id, monitor_id]`. A transaction that
//! accepts one from a trusted account is marked with the ids: intrinsics in
//! its trace and error trace, `nr.synthetics*` in its events, and its trace
//! is always kept.

use base64::Engine as _;
use serde_json::Value;

/// The ids of a synthetics request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Synthetics {
    /// Header version (only 1 is known).
    pub version: i64,
    /// The monitor's account.
    pub account_id: i64,
    /// `resource_id`.
    pub resource_id: String,
    /// `job_id`.
    pub job_id: String,
    /// `monitor_id`.
    pub monitor_id: String,
}

fn is_base64_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=')
}

/// XOR with the whole key (New Relic's header obfuscation).
fn xor(data: &mut [u8], key: &[u8]) {
    for (b, k) in data.iter_mut().zip(key.iter().cycle()) {
        *b ^= k;
    }
}

/// Decodes an obfuscated header value with `key`; `None` when it is empty,
/// not plain base64, or the key is empty.
pub fn decode_header(encoded: &str, key: &str) -> Option<String> {
    if encoded.is_empty() || key.is_empty() || !encoded.bytes().all(is_base64_char) {
        return None;
    }
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    xor(&mut raw, key.as_bytes());
    String::from_utf8(raw).ok()
}

/// Obfuscates a header value with `key` (for outbound requests).
pub fn encode_header(plain: &str, key: &str) -> Option<String> {
    if plain.is_empty() || key.is_empty() {
        return None;
    }
    let mut raw = plain.as_bytes().to_vec();
    xor(&mut raw, key.as_bytes());
    Some(base64::engine::general_purpose::STANDARD.encode(raw))
}

impl Synthetics {
    /// Parses the decoded JSON: exactly five fields, version 1, an integer
    /// account and three strings (anything else is refused, as New Relic's
    /// cross-agent tests require).
    pub fn parse(json: &str) -> Option<Synthetics> {
        let v: Value = serde_json::from_str(json).ok()?;
        let a = v.as_array()?;
        if a.len() != 5 || a[0].as_i64()? != 1 {
            return None;
        }
        Some(Synthetics {
            version: 1,
            account_id: a[1].as_i64()?,
            resource_id: a[2].as_str()?.to_owned(),
            job_id: a[3].as_str()?.to_owned(),
            monitor_id: a[4].as_str()?.to_owned(),
        })
    }

    /// The header to pass on with outbound requests (decoded form).
    pub fn outbound_json(&self) -> String {
        serde_json::json!([
            self.version,
            self.account_id,
            self.resource_id,
            self.job_id,
            self.monitor_id
        ])
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "d67afc830dab717fd163bfcb0b8b88423e9a1a3b";

    #[test]
    fn headers_round_trip_and_parse() {
        let plain = r#"[1,432507,"rrrrrrr-rrrr-1234-rrrr-rrrrrrrrrrrr","jjjjjjj-jjjj-1234-jjjj-jjjjjjjjjjjj","mmmmmmm-mmmm-1234-mmmm-mmmmmmmmmmmm"]"#;
        let enc = encode_header(plain, KEY).unwrap();
        assert_eq!(decode_header(&enc, KEY).as_deref(), Some(plain));
        let s = Synthetics::parse(plain).unwrap();
        assert_eq!(s.account_id, 432507);
        assert_eq!(s.job_id, "jjjjjjj-jjjj-1234-jjjj-jjjjjjjjjjjj");
        assert_eq!(s.outbound_json(), plain);
    }

    #[test]
    fn bad_headers_are_refused() {
        assert!(decode_header("not base64!", KEY).is_none());
        assert!(decode_header("", KEY).is_none());
        assert!(decode_header("YWJj", "").is_none());
        for bad in [
            r#"[2,1,"r","j","m"]"#,
            r#"[1,1,"r","j"]"#,
            r#"[1,1,"r","j","m","x"]"#,
            r#"[1,"1","r","j","m"]"#,
            r#"[1,1,2,"j","m"]"#,
            r#"{"a":1}"#,
            "nope",
        ] {
            assert!(Synthetics::parse(bad).is_none(), "{bad}");
        }
    }
}
