//! Length-prefixed framing: an 8-byte preamble, then the body.
//!
//! | bytes | meaning                                              |
//! |-------|------------------------------------------------------|
//! | 0..4  | body length, `u32` little-endian (preamble excluded) |
//! | 4..8  | body format, `u32` little-endian: 2 = FlatBuffers    |
//!
//! The decoder never trusts the length: a frame larger than the configured
//! limit is an error before a single body byte is buffered.

use bytes::{Buf, Bytes, BytesMut};

/// Size of the preamble in front of every body.
pub const PREAMBLE_LEN: usize = 8;

/// The only body format New Relic's agent sends and accepts (FlatBuffers).
pub const FORMAT_BINARY: u32 = 2;

/// Largest body the agent itself will write (32 MiB); the daemon accepts up
/// to this by default and can be configured lower.
pub const MAX_BODY_LEN: usize = 32 << 20;

/// Most buffer space reserved ahead of a partially received body.
const RESERVE_AHEAD: usize = 64 << 10;

/// What the daemon writes to a pre-5.0 agent before hanging up.
pub const LEGACY_REPLY: [u8; 10] = *b"5 0 0\n\0\0\0\0";

/// A decoded preamble.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preamble {
    /// Body length in bytes.
    pub len: u32,
    /// Body format; [`FORMAT_BINARY`] for every message that matters.
    pub format: u32,
}

impl Preamble {
    /// Reads a preamble from its 8 bytes.
    pub fn parse(bytes: [u8; PREAMBLE_LEN]) -> Self {
        let [a, b, c, d, e, f, g, h] = bytes;
        Preamble {
            len: u32::from_le_bytes([a, b, c, d]),
            format: u32::from_le_bytes([e, f, g, h]),
        }
    }

    /// The 8 bytes of this preamble.
    pub fn to_bytes(self) -> [u8; PREAMBLE_LEN] {
        let mut out = [0u8; PREAMBLE_LEN];
        out[..4].copy_from_slice(&self.len.to_le_bytes());
        out[4..].copy_from_slice(&self.format.to_le_bytes());
        out
    }

    /// True for the header of the line-based protocol spoken by agents
    /// older than 5.0 (`"D D 0\n"`, D a digit).
    pub fn is_legacy(bytes: &[u8; PREAMBLE_LEN]) -> bool {
        bytes[0].is_ascii_digit()
            && bytes[1] == b' '
            && bytes[2].is_ascii_digit()
            && bytes[3] == b' '
            && bytes[4] == b'0'
            && bytes[5] == b'\n'
    }
}

/// Why a byte stream cannot be split into frames. Each one ends the
/// connection it came from.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The preamble announces a body above the limit.
    #[error("frame body of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Announced body length.
        len: usize,
        /// Configured limit.
        max: usize,
    },
    /// The peer speaks the pre-5.0 line protocol.
    #[error("peer speaks the legacy (pre-5.0) agent protocol")]
    LegacyAgent,
}

/// One complete frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Body format from the preamble.
    pub format: u32,
    /// The body, without the preamble.
    pub body: Bytes,
}

/// Splits a byte stream into frames, checking each preamble before any body
/// byte is consumed.
#[derive(Clone, Debug)]
pub struct FrameDecoder {
    max_body: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(MAX_BODY_LEN)
    }
}

impl FrameDecoder {
    /// A decoder that refuses bodies larger than `max_body` bytes.
    pub fn new(max_body: usize) -> Self {
        FrameDecoder { max_body }
    }

    /// The configured body limit.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// Takes the next complete frame off the front of `buf`.
    ///
    /// `Ok(None)` means more bytes are needed; the buffer is left as it was
    /// except that empty frames (zero-length bodies, which carry nothing) are
    /// consumed and skipped.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        loop {
            let Some(head) = buf.get(..PREAMBLE_LEN) else {
                return Ok(None);
            };
            let mut bytes = [0u8; PREAMBLE_LEN];
            bytes.copy_from_slice(head);
            if Preamble::is_legacy(&bytes) {
                return Err(FrameError::LegacyAgent);
            }
            let preamble = Preamble::parse(bytes);
            let len = preamble.len as usize;
            if len > self.max_body {
                return Err(FrameError::TooLarge {
                    len,
                    max: self.max_body,
                });
            }
            if buf.len() < PREAMBLE_LEN + len {
                // Grow with the bytes that actually arrive (at most 64 KiB
                // ahead): a peer that announces 32 MiB and then trickles
                // must not make us allocate 32 MiB per connection.
                let missing = PREAMBLE_LEN + len - buf.len();
                buf.reserve(missing.min(RESERVE_AHEAD));
                return Ok(None);
            }
            buf.advance(PREAMBLE_LEN);
            let body = buf.split_to(len).freeze();
            if body.is_empty() {
                continue;
            }
            return Ok(Some(Frame {
                format: preamble.format,
                body,
            }));
        }
    }
}

/// Appends a complete frame (preamble and `body`) to `out`.
pub fn encode_into(body: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    out.reserve(PREAMBLE_LEN + body.len());
    out.extend_from_slice(
        &Preamble {
            len,
            format: FORMAT_BINARY,
        }
        .to_bytes(),
    );
    out.extend_from_slice(body);
}

/// A complete frame (preamble and `body`) as a new buffer.
pub fn encode(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(PREAMBLE_LEN + body.len());
    encode_into(body, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_partial_reads() {
        let mut stream = encode(b"hello");
        stream.extend(encode(b"world!"));
        let mut dec = FrameDecoder::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for byte in stream {
            buf.extend_from_slice(&[byte]);
            while let Some(frame) = dec.decode(&mut buf).unwrap() {
                assert_eq!(frame.format, FORMAT_BINARY);
                got.push(frame.body);
            }
        }
        assert_eq!(got, vec![Bytes::from("hello"), Bytes::from("world!")]);
        assert!(buf.is_empty());
    }

    #[test]
    fn oversized_body_is_refused_before_buffering() {
        let mut dec = FrameDecoder::new(16);
        let mut buf = BytesMut::from(&Preamble { len: 17, format: 2 }.to_bytes()[..]);
        assert_eq!(
            dec.decode(&mut buf),
            Err(FrameError::TooLarge { len: 17, max: 16 })
        );
    }

    #[test]
    fn huge_announced_length_is_refused() {
        let mut dec = FrameDecoder::default();
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0][..]);
        assert!(matches!(
            dec.decode(&mut buf),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn an_announced_large_body_is_not_allocated_up_front() {
        let mut dec = FrameDecoder::default();
        let mut buf = BytesMut::from(
            &Preamble {
                len: 30 << 20,
                format: 2,
            }
            .to_bytes()[..],
        );
        assert_eq!(dec.decode(&mut buf), Ok(None));
        assert!(buf.capacity() < 1 << 20, "reserved {}", buf.capacity());
    }

    #[test]
    fn empty_frames_are_skipped() {
        let mut stream = encode(b"");
        stream.extend(encode(b"x"));
        let mut buf = BytesMut::from(&stream[..]);
        let frame = FrameDecoder::default().decode(&mut buf).unwrap().unwrap();
        assert_eq!(&frame.body[..], b"x");
    }

    #[test]
    fn legacy_agents_are_recognised() {
        let mut buf = BytesMut::from(&b"1 2 0\nxyz"[..]);
        assert_eq!(
            FrameDecoder::default().decode(&mut buf),
            Err(FrameError::LegacyAgent)
        );
    }
}
