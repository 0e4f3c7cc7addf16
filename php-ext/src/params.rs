//! The request parameters (`$_REQUEST`) as New Relic's agent records them:
//! every key and value turned into text (at most 511 bytes each), for the
//! `request.parameters.*` attributes.

use crate::zend::ffi;
use crate::zend::zval::{array_each, Key, Val};

/// Bytes kept of a key or value.
const LIMIT: usize = 511;

fn cut(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(LIMIT)]).into_owned()
}

/// A parameter value as text.
fn value_text(v: Val<'_>) -> String {
    match v {
        Val::Null => "(null)".to_owned(),
        Val::Long(l) => l.to_string(),
        Val::Double(d) => format!("{d:.5}"),
        Val::Bool(true) => "true".to_owned(),
        Val::Bool(false) => "false".to_owned(),
        Val::Str(s) => cut(s),
        Val::Array(_) => "[array]".to_owned(),
        Val::Object(_) => "[object]".to_owned(),
        Val::Other => "[resource]".to_owned(),
    }
}

/// `$_REQUEST` as (key, text) pairs. Call with no agent borrow held:
/// arming the auto-global allocates.
pub fn read_request_params() -> Vec<(String, String)> {
    // SAFETY: the shim arms `$_REQUEST` under zend_try and returns the live
    // array (or null).
    let ht = unsafe { ffi::seraph_request_array() };
    let mut out = Vec::new();
    // SAFETY: the array lives for the request; nothing modifies it while
    // it is walked.
    unsafe {
        array_each(ht, |k, v| {
            let key = match k {
                Key::Str(s) => cut(s.as_bytes()),
                Key::Index(i) => i.to_string(),
            };
            out.push((key, value_text(v)));
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_new_relic_writes_them() {
        assert_eq!(value_text(Val::Null), "(null)");
        assert_eq!(value_text(Val::Bool(false)), "false");
        assert_eq!(value_text(Val::Double(1.5)), "1.50000");
        assert_eq!(value_text(Val::Str(&[b'x'; 600])).len(), 511);
        assert_eq!(value_text(Val::Other), "[resource]");
    }
}
