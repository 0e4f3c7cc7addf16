//! Verified decoding of a frame body into a typed, borrowed message.

use crate::fb;
use crate::repair::{replace_invalid_utf8, sanitize_strings};

/// Why a frame body is not a usable `Message`.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body cannot even hold a root offset and a minimal table.
    #[error("message body of {0} bytes is too short")]
    TooShort(usize),
    /// The root offset points outside the body (the agent's own sanity
    /// rule: `len - 12 <= root offset` is invalid).
    #[error("root offset {offset} is outside a {len}-byte body")]
    BadRootOffset {
        /// The root offset read from the first four bytes.
        offset: u32,
        /// Body length.
        len: usize,
    },
    /// The FlatBuffers verifier rejected the body.
    #[error("invalid FlatBuffers message: {0}")]
    Invalid(#[from] flatbuffers::InvalidFlatbuffer),
    /// The union tag names no message type we know.
    #[error("unknown message type {0}")]
    UnknownType(u8),
    /// The union tag names a type but its table is missing.
    #[error("message type {0} carries no body")]
    MissingBody(&'static str),
}

/// The payload of a message, by type.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// No payload (union tag NONE); ignored by the daemon.
    None,
    /// An application (connect) query.
    App(fb::App<'a>),
    /// The daemon's answer to an App query.
    AppReply(fb::AppReply<'a>),
    /// One finished transaction.
    Transaction(fb::Transaction<'a>),
    /// Infinite-tracing spans.
    SpanBatch(fb::SpanBatch<'a>),
}

impl Body<'_> {
    /// The message type's name, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::None => "None",
            Body::App(_) => "App",
            Body::AppReply(_) => "AppReply",
            Body::Transaction(_) => "Transaction",
            Body::SpanBatch(_) => "SpanBatch",
        }
    }
}

/// A verified message, borrowing from the frame body.
#[derive(Debug, Clone, Copy)]
pub struct MessageRef<'a> {
    /// The agent run id the sender attached, if any.
    pub agent_run_id: Option<&'a str>,
    /// The typed payload.
    pub body: Body<'a>,
}

/// The envelope of a message: who sent it and what it carries, read
/// without verifying the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The sender's run id, if any.
    pub agent_run_id: Option<&'a str>,
    /// The union tag: 1 App, 2 AppReply, 3 Transaction, 4 SpanBatch.
    pub kind: u8,
}

/// Union tag of a Transaction.
pub const KIND_TRANSACTION: u8 = 3;

/// Reads only the root `Message` table's `agent_run_id` and union tag,
/// with explicit bounds checks on every offset it follows (no verifier, no
/// alignment requirement, no `unsafe`).
///
/// The daemon uses this to route a Transaction to the task that owns its
/// run without verifying the body twice: that task runs [`decode`], which
/// verifies everything, before reading anything else.
pub fn peek(body: &[u8]) -> Result<Envelope<'_>, DecodeError> {
    let bad = || DecodeError::BadRootOffset {
        offset: 0,
        len: body.len(),
    };
    let u16_at = |pos: usize| -> Result<u16, DecodeError> {
        body.get(pos..pos + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or_else(bad)
    };
    let u32_at = |pos: usize| -> Result<u32, DecodeError> {
        body.get(pos..pos + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(bad)
    };
    let table = root_offset(body)? as usize;
    // A table starts with a signed offset back (or forward) to its vtable.
    let vt_rel = u32_at(table)? as i32;
    let vtable = usize::try_from(table as i64 - i64::from(vt_rel)).map_err(|_| bad())?;
    let vt_len = usize::from(u16_at(vtable)?);
    let field = |index: usize| -> Result<usize, DecodeError> {
        let slot = 4 + 2 * index;
        Ok(if slot + 2 <= vt_len {
            usize::from(u16_at(vtable + slot)?)
        } else {
            0
        })
    };
    let agent_run_id = match field(0)? {
        0 => None,
        off => {
            let pos = table + off;
            let start = pos + u32_at(pos)? as usize;
            let len = u32_at(start)? as usize;
            let bytes = body.get(start + 4..start + 4 + len).ok_or_else(bad)?;
            Some(std::str::from_utf8(bytes).map_err(|_| bad())?)
        }
    };
    let kind = match field(1)? {
        0 => 0,
        off => *body.get(table + off).ok_or_else(bad)?,
    };
    Ok(Envelope { agent_run_id, kind })
}

/// Encodes a message body carrying no App or Transaction: union tag
/// `kind` with, for a SpanBatch (4), a batch of `count` spans whose encoded
/// bytes are `encoded`; for NONE (0) no table; for any other tag an empty
/// table. Agents send
/// SpanBatch messages for Infinite Tracing; the other forms are what test
/// tools use to check how a peer treats message types it does not expect.
pub fn encode_other(agent_run_id: Option<&str>, kind: u8, count: u64, encoded: &[u8]) -> Vec<u8> {
    let mut fbb = flatbuffers::FlatBufferBuilder::with_capacity(64 + encoded.len());
    let run_id = agent_run_id.map(|r| fbb.create_string(r));
    let data = match fb::MessageBody(kind) {
        fb::MessageBody::NONE => None,
        fb::MessageBody::SpanBatch => {
            let encoded = Some(fbb.create_vector(encoded));
            let batch = fb::SpanBatch::create(&mut fbb, &fb::SpanBatchArgs { count, encoded });
            Some(batch.as_union_value())
        }
        _ => {
            let start = fbb.start_table();
            Some(fbb.end_table(start).as_union_value())
        }
    };
    let msg = fb::Message::create(
        &mut fbb,
        &fb::MessageArgs {
            agent_run_id: run_id,
            data_type: fb::MessageBody(kind),
            data,
        },
    );
    fbb.finish(msg, None);
    fbb.finished_data().to_vec()
}

/// Verifies `body` and returns its typed view.
///
/// The whole buffer is verified before anything is read, so every accessor
/// on the returned tables is in bounds. Two things New Relic's agent does
/// that the FlatBuffers verifier rejects are repaired in a copy kept in
/// `scratch`, never in place:
///
/// - it aligns buffers relative to their *end* without padding the front,
///   so a body whose length is not a multiple of 8 has its 8-byte scalars
///   at odd offsets from the start. Every offset inside a FlatBuffer except
///   the root one is relative to where it is stored, so shifting the body by
///   a few bytes (and growing the root offset by as much) restores the
///   intended alignment without changing its meaning;
/// - PHP strings are bytes, and the agent passes non-UTF-8 text (latin-1
///   error messages, say) straight into its JSON strings. New Relic's daemon
///   accepts them; here each invalid byte becomes `?`, which keeps lengths,
///   offsets and the JSON intact and loses nothing else of the transaction.
pub fn decode<'a>(body: &'a [u8], scratch: &'a mut Vec<u8>) -> Result<MessageRef<'a>, DecodeError> {
    let offset = root_offset(body)?;
    let mut err = match verify(body) {
        Ok(msg) => return Ok(msg),
        Err(e) => e,
    };
    if !repairable(&err) {
        return Err(err);
    }
    // Alignment guesses, most likely first: agent buffers are aligned to
    // their end, so the missing padding is what rounds the length up.
    let likely = (8 - body.len() % 8) % 8;
    let mut shifts = std::iter::once(likely)
        .chain([4, 2, 6, 1, 3, 5, 7])
        .filter(|&s| s != 0)
        .collect::<Vec<_>>()
        .into_iter();
    let mut shift = 0;
    let mut walked = false;
    realign(body, offset, 0, scratch);
    for _ in 0..MAX_REPAIRS {
        match &err {
            // The first bad string: fix every string in one walk (one
            // verification per string would cost a verification each).
            DecodeError::Invalid(flatbuffers::InvalidFlatbuffer::Utf8Error { .. }) if !walked => {
                sanitize_strings(scratch);
                walked = true;
            }
            DecodeError::Invalid(flatbuffers::InvalidFlatbuffer::Utf8Error { range, .. }) => {
                match scratch.get_mut(range.clone()) {
                    Some(bytes) => replace_invalid_utf8(bytes),
                    None => return Err(err),
                }
            }
            DecodeError::Invalid(flatbuffers::InvalidFlatbuffer::Unaligned { .. }) => {
                let Some(next) = shifts.next() else {
                    return Err(err);
                };
                reshift(scratch, offset, shift, next);
                shift = next;
            }
            _ => return Err(err),
        }
        match verify(scratch) {
            Ok(_) => break,
            Err(e) => err = e,
        }
    }
    // Verify once more to hand out a borrow of `scratch` (the loop's
    // borrows end with each iteration).
    verify(scratch)
}

/// Most repairs (bad strings plus one re-alignment) tried on one body.
const MAX_REPAIRS: usize = 64;

fn repairable(err: &DecodeError) -> bool {
    matches!(
        err,
        DecodeError::Invalid(
            flatbuffers::InvalidFlatbuffer::Utf8Error { .. }
                | flatbuffers::InvalidFlatbuffer::Unaligned { .. }
        )
    )
}

/// Moves the content of a realigned copy from padding `from` to `to`.
fn reshift(buf: &mut Vec<u8>, offset: u32, from: usize, to: usize) {
    let content = buf.split_off(4 + from);
    buf.clear();
    // `to` is below 8 and `offset` was checked against the body length.
    buf.extend_from_slice(&(offset + to as u32).to_le_bytes());
    buf.resize(4 + to, 0);
    buf.extend_from_slice(&content);
}

fn root_offset(body: &[u8]) -> Result<u32, DecodeError> {
    if body.len() < 12 {
        return Err(DecodeError::TooShort(body.len()));
    }
    let offset = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
    if (body.len() - 12) as u64 <= u64::from(offset) {
        return Err(DecodeError::BadRootOffset {
            offset,
            len: body.len(),
        });
    }
    Ok(offset)
}

/// Copies `body` into `out` with `shift` padding bytes after the root
/// offset, which grows by `shift` to keep pointing at the root table.
fn realign(body: &[u8], offset: u32, shift: usize, out: &mut Vec<u8>) {
    out.clear();
    out.reserve(body.len() + shift);
    // `shift` is below 8 and `offset` was checked against the body length.
    out.extend_from_slice(&(offset + shift as u32).to_le_bytes());
    out.resize(4 + shift, 0);
    out.extend_from_slice(&body[4..]);
}

/// [`verify`] alone (no repairs), for tests elsewhere in the crate.
#[cfg(test)]
pub(crate) fn tests_verify(body: &[u8]) -> Result<MessageRef<'_>, DecodeError> {
    verify(body)
}

fn verify(body: &[u8]) -> Result<MessageRef<'_>, DecodeError> {
    let opts = flatbuffers::VerifierOptions {
        // Enough for a 32 MiB frame of tiny tables; the defaults (1 M
        // tables) would refuse the largest legitimate transactions.
        max_tables: (body.len() / 4).max(1_000_000),
        // The agent's builder does not always write the terminating NUL of
        // the last string in the buffer; lengths are what count.
        ignore_missing_null_terminator: true,
        ..Default::default()
    };
    let msg = fb::root_as_message_with_opts(&opts, body)?;
    let run_id = msg.agent_run_id();
    let kind = msg.data_type();
    let body = match kind {
        fb::MessageBody::NONE => Body::None,
        fb::MessageBody::App => {
            Body::App(msg.data_as_app().ok_or(DecodeError::MissingBody("App"))?)
        }
        fb::MessageBody::AppReply => Body::AppReply(
            msg.data_as_app_reply()
                .ok_or(DecodeError::MissingBody("AppReply"))?,
        ),
        fb::MessageBody::Transaction => Body::Transaction(
            msg.data_as_transaction()
                .ok_or(DecodeError::MissingBody("Transaction"))?,
        ),
        fb::MessageBody::SpanBatch => Body::SpanBatch(
            msg.data_as_span_batch()
                .ok_or(DecodeError::MissingBody("SpanBatch"))?,
        ),
        other => return Err(DecodeError::UnknownType(other.0)),
    };
    Ok(MessageRef {
        agent_run_id: run_id,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_strings_are_repaired_not_refused() {
        let txn = crate::TransactionData {
            name: "OtherTransaction/php/cafeX.php".into(),
            uri: "<unknown>".into(),
            txn_event: Some(r#"[{"msg":"caf\u00e9 X"},{},{}]"#.into()),
            ..Default::default()
        };
        let mut body = crate::encode_transaction("RUN", &txn);
        // Turn both X into a lone latin-1 byte, as PHP would send it.
        for byte in body.iter_mut().filter(|b| **b == b'X') {
            *byte = 0xe9;
        }
        let mut scratch = Vec::new();
        let msg = decode(&body, &mut scratch).unwrap();
        let Body::Transaction(t) = msg.body else {
            panic!("not a transaction")
        };
        assert_eq!(t.name(), Some("OtherTransaction/php/cafe?.php"));
        assert!(t
            .txn_event()
            .unwrap()
            .data()
            .unwrap()
            .contains(r"caf\u00e9 ?"));
        assert_eq!(msg.agent_run_id, Some("RUN"));
    }

    #[test]
    fn many_non_utf8_strings_are_all_repaired() {
        // A transaction whose 500 span events each carry a latin-1 byte
        // (a non-UTF-8 URL or attribute in every segment).
        let txn = crate::TransactionData {
            name: "OtherTransaction/php/x.php".into(),
            span_events: (0..500)
                .map(|i| format!(r#"[{{"name":"caf\u00a7X{i}"}},{{}},{{}}]"#))
                .collect(),
            ..Default::default()
        };
        let mut body = crate::encode_transaction("RUN", &txn);
        let mut patched = 0;
        for w in 0..body.len() - 1 {
            if body[w] == b'X' && body[w - 1] == b'7' {
                body[w] = 0xe9;
                patched += 1;
            }
        }
        assert_eq!(patched, 500);
        let mut scratch = Vec::new();
        let msg = decode(&body, &mut scratch).expect("every string repaired");
        let Body::Transaction(t) = msg.body else {
            panic!("not a transaction")
        };
        let spans = t.span_events().unwrap();
        assert_eq!(spans.len(), 500);
        assert!(spans
            .iter()
            .all(|e| e.data().unwrap().contains(r"caf\u00a7?")));
    }

    #[test]
    fn other_message_kinds_encode_and_decode() {
        let mut scratch = Vec::new();
        // (A Message without a run id and a table is too short for the
        // agent's own sanity rule, which the daemon applies too.)
        let none = encode_other(Some("RUN"), 0, 0, &[]);
        assert!(matches!(
            decode(&none, &mut scratch).unwrap().body,
            Body::None
        ));
        let spans = encode_other(Some("RUN"), 4, 3, &[1, 2, 3]);
        let msg = decode(&spans, &mut scratch).unwrap();
        assert_eq!(msg.agent_run_id, Some("RUN"));
        let Body::SpanBatch(b) = msg.body else {
            panic!("not a span batch")
        };
        assert_eq!(b.count(), 3);
        assert_eq!(b.encoded().unwrap().bytes(), &[1, 2, 3]);
        let body = encode_other(Some("RUN"), 9, 0, &[]);
        let unknown = decode(&body, &mut scratch);
        assert!(
            matches!(unknown, Err(DecodeError::UnknownType(9))),
            "{unknown:?}"
        );
        // An empty AppReply table is a valid AppReply.
        let body = encode_other(Some("RUN"), 2, 0, &[]);
        assert!(matches!(
            decode(&body, &mut scratch).unwrap().body,
            Body::AppReply(_)
        ));
    }

    #[test]
    fn misaligned_bodies_are_realigned() {
        let txn = crate::TransactionData {
            name: "x".into(),
            pid: 7,
            sampling_priority: 1.5,
            ..Default::default()
        };
        let body = crate::encode_transaction("RUN", &txn);
        // Insert 4 bytes after the root offset (and point the root past
        // them): every 8-byte field is now 4 bytes off, which is what New
        // Relic's agent produces for some body lengths.
        let offset = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
        let mut misaligned = (offset + 4).to_le_bytes().to_vec();
        misaligned.extend_from_slice(&[0; 4]);
        misaligned.extend_from_slice(&body[4..]);
        assert!(
            verify(&misaligned).is_err(),
            "the verifier alone refuses it"
        );
        let mut scratch = Vec::new();
        let msg = decode(&misaligned, &mut scratch).unwrap();
        assert_eq!(msg.agent_run_id, Some("RUN"));
        let Body::Transaction(t) = msg.body else {
            panic!("not a transaction")
        };
        assert_eq!(t.pid(), 7);
        assert_eq!(t.sampling_priority(), 1.5);
    }

    #[test]
    fn peek_reads_the_envelope_of_every_kind() {
        let txn = crate::encode_transaction("RUN-7", &crate::TransactionData::default());
        assert_eq!(
            peek(&txn).unwrap(),
            Envelope {
                agent_run_id: Some("RUN-7"),
                kind: KIND_TRANSACTION
            }
        );
        let app = crate::AppInfo::default().encode(None);
        assert_eq!(
            peek(&app).unwrap(),
            Envelope {
                agent_run_id: None,
                kind: 1
            }
        );
        // Peek on garbage: errors, never panics.
        let mut junk = vec![16u8, 0, 0, 0];
        junk.extend([0xaa; 60]);
        for cut in 0..junk.len() {
            let _ = peek(&junk[..cut]);
        }
        let _ = peek(&junk);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut scratch = Vec::new();
        assert!(matches!(
            decode(b"", &mut scratch),
            Err(DecodeError::TooShort(0))
        ));
        assert!(matches!(
            decode(&[0xff; 64], &mut scratch),
            Err(DecodeError::BadRootOffset { .. })
        ));
        let mut junk = vec![16u8, 0, 0, 0];
        junk.extend([0xaa; 60]);
        assert!(decode(&junk, &mut scratch).is_err());
    }
}
