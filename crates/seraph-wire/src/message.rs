//! Verified decoding of a frame body into a typed, borrowed message.

use crate::fb;

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

/// Verifies `body` and returns its typed view.
///
/// The whole buffer is verified before anything is read, so every accessor
/// on the returned tables is in bounds.
///
/// New Relic's agent aligns its buffers relative to their *end* and does not
/// pad the front, so a body whose length is not a multiple of 8 has its
/// 8-byte scalars at odd positions relative to the start, which the
/// FlatBuffers verifier rejects. Every offset inside a FlatBuffer except the
/// root one is relative to where it is stored, so such a body is copied into
/// `scratch` shifted by a few bytes (with the root offset adjusted), which
/// restores the intended alignment without changing its meaning.
pub fn decode<'a>(body: &'a [u8], scratch: &'a mut Vec<u8>) -> Result<MessageRef<'a>, DecodeError> {
    let offset = root_offset(body)?;
    match verify(body) {
        Err(DecodeError::Invalid(flatbuffers::InvalidFlatbuffer::Unaligned { .. })) => {}
        other => return other,
    }
    let mut first_error = None;
    for shift in [4usize, 2, 6, 1, 3, 5, 7] {
        realign(body, offset, shift, scratch);
        match verify(scratch) {
            Ok(_) => break,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    // Verify once more to hand out a borrow of `scratch` (the loop's borrows
    // end with each iteration).
    verify(scratch).map_err(|e| first_error.unwrap_or(e))
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
        fb::MessageBody::App => Body::App(msg.data_as_app().ok_or(DecodeError::MissingBody("App"))?),
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
