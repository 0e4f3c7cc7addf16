//! Payload encoding: every request body is zlib (RFC 1950) deflate of the
//! JSON, and two methods nest base64(zlib(JSON)) blobs inside their JSON,
//! which the audit log shows expanded.

use std::io::{Read, Write};

use base64::Engine;
use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use serde_json::Value;

use crate::method::Method;

/// zlib-wraps `data` at the default level, as New Relic's daemon does.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut enc = ZlibEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        Compression::default(),
    );
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// Undoes [`deflate`], refusing to produce more than `limit` bytes (a zip
/// bomb costs nothing to send).
pub fn inflate(data: &[u8], limit: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut dec = ZlibDecoder::new(data).take(limit as u64 + 1);
    dec.read_to_end(&mut out)?;
    if out.len() > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("inflated data exceeds {limit} bytes"),
        ));
    }
    Ok(out)
}

/// Largest blob the expansion will inflate.
const BLOB_LIMIT: usize = 64 << 20;

/// Decodes one base64(zlib(JSON)) blob.
pub fn decode_blob(blob: &str) -> Option<Value> {
    let zipped = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .ok()?;
    let json = inflate(&zipped, BLOB_LIMIT).ok()?;
    serde_json::from_slice(&json).ok()
}

/// Replaces the compressed blobs of a `transaction_sample_data` or
/// `sql_trace_data` payload with the JSON they hold. Returns `None` for
/// other methods, or when the payload has no recognisable blob. Blobs that
/// fail to decode stay as they are.
pub fn expand_blobs(method: Method, payload: &Value) -> Option<Value> {
    let mut out = payload.clone();
    let rows: &mut Vec<Value> = match method {
        // [run_id, [[start, duration, name, uri, BLOB, guid, ...], ...]]
        Method::TransactionSampleData => out.get_mut(1)?.as_array_mut()?,
        // [[[name, uri, id, query, metric, count, total, min, max, BLOB], ...]]
        Method::SqlTraceData => out.get_mut(0)?.as_array_mut()?,
        _ => return None,
    };
    let index = if method == Method::TransactionSampleData {
        4
    } else {
        9
    };
    let mut changed = false;
    for row in rows.iter_mut() {
        if let Some(slot) = row.get_mut(index) {
            if let Some(decoded) = slot.as_str().and_then(decode_blob) {
                *slot = decoded;
                changed = true;
            }
        }
    }
    changed.then_some(out)
}

/// Encodes JSON as base64(zlib(JSON)), the blob form (for tests and the
/// stand-in).
pub fn encode_blob(json: &Value) -> String {
    let text = serde_json::to_vec(json).unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(deflate(&text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deflate_round_trip_and_zlib_header() {
        let data = br#"[{"a":1}]"#.repeat(100);
        let z = deflate(&data);
        // RFC 1950: CMF 0x78 (deflate, 32K window), header checksum.
        assert_eq!(z[0], 0x78);
        assert_eq!((u16::from(z[0]) << 8 | u16::from(z[1])) % 31, 0);
        assert_eq!(inflate(&z, data.len()).unwrap(), data);
        assert!(inflate(&z, data.len() - 1).is_err());
        assert!(inflate(b"not zlib", 100).is_err());
    }

    #[test]
    fn expands_trace_and_sql_blobs() {
        let trace = json!([[0, {}, {}, [0, 1, "ROOT", {}, []]], {}]);
        let payload = json!([
            "run",
            [[
                1.0,
                2.0,
                "txn",
                "/uri",
                encode_blob(&trace),
                "guid",
                null,
                false,
                null,
                null
            ]]
        ]);
        let expanded = expand_blobs(Method::TransactionSampleData, &payload).unwrap();
        assert_eq!(expanded[1][0][4], trace);
        assert_eq!(expanded[1][0][5], "guid");

        let params = json!({"backtrace": ["a", "b"]});
        let payload = json!([[[
            "txn",
            "/uri",
            7,
            "SELECT 1",
            "Datastore/x",
            1,
            1.0,
            1.0,
            1.0,
            encode_blob(&params)
        ]]]);
        let expanded = expand_blobs(Method::SqlTraceData, &payload).unwrap();
        assert_eq!(expanded[0][0][9], params);

        assert!(expand_blobs(Method::MetricData, &payload).is_none());
        assert!(expand_blobs(Method::SqlTraceData, &json!([[["x"]]])).is_none());
        assert!(expand_blobs(Method::SqlTraceData, &json!({})).is_none());
    }
}
