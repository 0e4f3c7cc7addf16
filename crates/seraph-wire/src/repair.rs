//! One pass over a message's strings that overwrites invalid UTF-8.
//!
//! PHP strings are bytes, and New Relic's agent copies non-UTF-8 text
//! (latin-1 error messages, URLs, attributes) straight into the message.
//! The FlatBuffers verifier reports one bad string per run, so fixing them
//! one verification at a time costs a full verification per string: a
//! transaction whose 500 span events each held a latin-1 byte was refused
//! outright once a repair limit ran out. This walk follows the schema
//! instead, with a bounds check on every read (like [`crate::peek`]), and
//! fixes every string of the message in one pass. It only ever rewrites
//! bytes inside what it takes for a string, and the verifier still checks
//! the whole buffer afterwards, so a hostile buffer gains nothing from it.

use crate::fb;

/// What a table field holds, for the fields that lead to strings.
#[derive(Clone, Copy)]
enum Field {
    /// A string.
    Str,
    /// A sub-table of this layout.
    Table(&'static [(u16, Field)]),
    /// A vector of sub-tables of this layout.
    Tables(&'static [(u16, Field)]),
}

const EVENT: &[(u16, Field)] = &[(fb::Event::VT_DATA, Field::Str)];
const ERROR: &[(u16, Field)] = &[(fb::Error::VT_DATA, Field::Str)];
const METRIC: &[(u16, Field)] = &[(fb::Metric::VT_NAME, Field::Str)];
const SLOW_SQL: &[(u16, Field)] = &[
    (fb::SlowSQL::VT_METRIC, Field::Str),
    (fb::SlowSQL::VT_QUERY, Field::Str),
    (fb::SlowSQL::VT_PARAMS, Field::Str),
];
const TRACE: &[(u16, Field)] = &[
    (fb::Trace::VT_GUID, Field::Str),
    (fb::Trace::VT_DATA, Field::Str),
];
const TRANSACTION: &[(u16, Field)] = &[
    (fb::Transaction::VT_NAME, Field::Str),
    (fb::Transaction::VT_URI, Field::Str),
    (fb::Transaction::VT_SYNTHETICS_RESOURCE_ID, Field::Str),
    (fb::Transaction::VT_TXN_EVENT, Field::Table(EVENT)),
    (fb::Transaction::VT_METRICS, Field::Tables(METRIC)),
    (fb::Transaction::VT_ERRORS, Field::Tables(ERROR)),
    (fb::Transaction::VT_SLOW_SQLS, Field::Tables(SLOW_SQL)),
    (fb::Transaction::VT_CUSTOM_EVENTS, Field::Tables(EVENT)),
    (fb::Transaction::VT_TRACE, Field::Table(TRACE)),
    (fb::Transaction::VT_ERROR_EVENTS, Field::Tables(EVENT)),
    (fb::Transaction::VT_SPAN_EVENTS, Field::Tables(EVENT)),
    (fb::Transaction::VT_LOG_EVENTS, Field::Tables(EVENT)),
    (fb::Transaction::VT_PHP_PACKAGES, Field::Table(EVENT)),
    (
        fb::Transaction::VT_LOG_FORWARDING_LABELS,
        Field::Table(EVENT),
    ),
];
const APP: &[(u16, Field)] = &[
    (fb::App::VT_LICENSE, Field::Str),
    (fb::App::VT_APP_NAME, Field::Str),
    (fb::App::VT_AGENT_LANGUAGE, Field::Str),
    (fb::App::VT_AGENT_VERSION, Field::Str),
    (fb::App::VT_REDIRECT_COLLECTOR, Field::Str),
    (fb::App::VT_ENVIRONMENT, Field::Str),
    (fb::App::VT_SETTINGS, Field::Str),
    (fb::App::VT_LABELS, Field::Str),
    (fb::App::VT_DISPLAY_HOST, Field::Str),
    (fb::App::VT_SECURITY_POLICY_TOKEN, Field::Str),
    (fb::App::VT_SUPPORTED_SECURITY_POLICIES, Field::Str),
    (fb::App::VT_HOST, Field::Str),
    (fb::App::VT_TRACE_OBSERVER_HOST, Field::Str),
    (fb::App::VT_METADATA, Field::Str),
    (fb::App::VT_DOCKER_ID, Field::Str),
];

/// Overwrites the invalid UTF-8 in every string of the `Message` in `buf`
/// with `?`. Stops quietly at anything out of bounds (the verifier will
/// refuse such a buffer anyway).
pub(crate) fn sanitize_strings(buf: &mut [u8]) {
    let mut walk = Walk {
        // Strings scanned in all: a buffer that points many vector
        // elements at one large string must not cost more than a few
        // passes over itself.
        budget: buf.len().saturating_mul(2),
        buf,
    };
    let Some(root) = walk.u32_at(0) else {
        return;
    };
    let root = root as usize;
    walk.string(root, fb::Message::VT_AGENT_RUN_ID);
    let Some(kind) = walk
        .field(root, fb::Message::VT_DATA_TYPE)
        .and_then(|pos| walk.buf.get(pos).copied())
    else {
        return;
    };
    let layout = match fb::MessageBody(kind) {
        fb::MessageBody::Transaction => TRANSACTION,
        fb::MessageBody::App => APP,
        _ => return,
    };
    if let Some(data) = walk.sub_table(root, fb::Message::VT_DATA) {
        walk.table(data, layout);
    }
}

struct Walk<'a> {
    buf: &'a mut [u8],
    budget: usize,
}

impl Walk<'_> {
    fn u16_at(&self, pos: usize) -> Option<u16> {
        let b = self.buf.get(pos..pos.checked_add(2)?)?;
        Some(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32_at(&self, pos: usize) -> Option<u32> {
        let b = self.buf.get(pos..pos.checked_add(4)?)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Where field `slot` (a vtable offset) of the table at `table` is
    /// stored, if present.
    fn field(&self, table: usize, slot: u16) -> Option<usize> {
        let vt_rel = self.u32_at(table)? as i32;
        let vtable = usize::try_from(table as i64 - i64::from(vt_rel)).ok()?;
        let vt_len = self.u16_at(vtable)?;
        if slot.checked_add(2)? > vt_len {
            return None;
        }
        match self.u16_at(vtable + usize::from(slot))? {
            0 => None,
            off => table.checked_add(usize::from(off)),
        }
    }

    /// Follows the offset stored at `pos`.
    fn follow(&self, pos: usize) -> Option<usize> {
        pos.checked_add(self.u32_at(pos)? as usize)
    }

    fn sub_table(&self, table: usize, slot: u16) -> Option<usize> {
        self.follow(self.field(table, slot)?)
    }

    fn string(&mut self, table: usize, slot: u16) {
        let Some(start) = self.field(table, slot).and_then(|pos| self.follow(pos)) else {
            return;
        };
        let Some(len) = self.u32_at(start) else {
            return;
        };
        let len = len as usize;
        if len > self.budget {
            self.budget = 0;
            return;
        }
        self.budget -= len;
        let Some(end) = (start + 4).checked_add(len) else {
            return;
        };
        if let Some(bytes) = self.buf.get_mut(start + 4..end) {
            replace_invalid_utf8(bytes);
        }
    }

    fn table(&mut self, table: usize, layout: &[(u16, Field)]) {
        for &(slot, field) in layout {
            if self.budget == 0 {
                return;
            }
            match field {
                Field::Str => self.string(table, slot),
                Field::Table(inner) => {
                    if let Some(sub) = self.sub_table(table, slot) {
                        self.table(sub, inner);
                    }
                }
                Field::Tables(inner) => {
                    let Some(vec) = self.sub_table(table, slot) else {
                        continue;
                    };
                    let Some(n) = self.u32_at(vec) else {
                        continue;
                    };
                    for i in 0..n as usize {
                        if self.budget == 0 {
                            return;
                        }
                        // Each element costs a little budget, so a vector
                        // of empty tables cannot loop for long either.
                        self.budget = self.budget.saturating_sub(4);
                        let Some(elem) = i
                            .checked_mul(4)
                            .and_then(|o| (vec + 4).checked_add(o))
                            .filter(|&p| p < self.buf.len())
                        else {
                            break;
                        };
                        if let Some(sub) = self.follow(elem) {
                            self.table(sub, inner);
                        }
                    }
                }
            }
        }
    }
}

/// Overwrites every byte of `bytes` that is not part of valid UTF-8 with `?`.
pub(crate) fn replace_invalid_utf8(bytes: &mut [u8]) {
    let mut i = 0;
    while i < bytes.len() {
        match std::str::from_utf8(&bytes[i..]) {
            Ok(_) => return,
            Err(e) => {
                let start = i + e.valid_up_to();
                let len = e.error_len().unwrap_or(bytes.len() - start);
                bytes[start..start + len].fill(b'?');
                i = start + len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_of_an_app_is_sanitized() {
        let app = crate::AppInfo {
            license: "LQ~".into(),
            app_name: "caféQ~".into(),
            labels: "Q~".into(),
            docker_id: "Q~".into(),
            ..Default::default()
        };
        let mut body = app.encode(Some("RUNQ~"));
        // Each "Q~" becomes 'Q' and a byte that is never UTF-8.
        for i in 1..body.len() {
            if body[i - 1] == b'Q' && body[i] == b'~' {
                body[i] = 0xff;
            }
        }
        assert!(crate::message::tests_verify(&body).is_err());
        sanitize_strings(&mut body);
        assert!(
            crate::message::tests_verify(&body).is_ok(),
            "one walk fixes all"
        );
        let mut scratch = Vec::new();
        let msg = crate::decode(&body, &mut scratch).unwrap();
        assert_eq!(msg.agent_run_id, Some("RUNQ?"));
        let crate::Body::App(a) = msg.body else {
            panic!("not an app")
        };
        assert_eq!(a.app_name(), Some("caféQ?"));
        assert_eq!(a.license(), Some("LQ?"));
        assert_eq!(a.docker_id(), Some("Q?"));
    }

    #[test]
    fn garbage_is_walked_without_panicking() {
        let body = crate::encode_transaction(
            "RUN",
            &crate::TransactionData {
                name: "n".into(),
                span_events: vec!["[{},{},{}]".into(); 10],
                ..Default::default()
            },
        );
        // Every truncation and every single-byte corruption.
        for cut in 0..body.len() {
            sanitize_strings(&mut body[..cut].to_vec());
        }
        for i in 0..body.len() {
            for v in [0x00, 0x7f, 0x80, 0xff] {
                let mut b = body.clone();
                b[i] = v;
                sanitize_strings(&mut b);
            }
        }
    }
}
