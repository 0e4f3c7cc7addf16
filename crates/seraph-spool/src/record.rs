//! The segment record format (see the crate docs for the layout) and the scanner that finds
//! valid records in a segment, skipping damage.
//!
//! Pure functions over byte slices: no I/O here, so every damage case is unit-testable.

/// First bytes of every segment file; the last byte is the format version.
pub(crate) const SEGMENT_MAGIC: [u8; 8] = *b"SRSPOOL\x01";
pub(crate) const SEGMENT_HEADER_LEN: usize = SEGMENT_MAGIC.len();

/// Start of every record; lets the scanner find the next record after damage.
const RECORD_MAGIC: u32 = 0x5352_5243;
/// magic + len + crc.
const PREFIX_LEN: usize = 12;
/// id + created + app_len + method_len.
const FIXED_LEN: usize = 20;
/// Bytes a record adds around its body when app and method are as long as allowed.
pub(crate) const MAX_RECORD_OVERHEAD: usize = PREFIX_LEN + FIXED_LEN;

/// A record's fields, borrowed from a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordRef<'a> {
    pub id: u64,
    pub created_unix_s: u64,
    pub app: &'a str,
    pub method: &'a str,
    pub body: &'a [u8],
}

/// Why a record could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EncodeError {
    Invalid(&'static str),
    /// The encoded size, which does not fit the u32 length field.
    TooLarge(u64),
}

/// Size of the encoded record for these field lengths.
pub(crate) fn encoded_len(app: &str, method: &str, body: &[u8]) -> u64 {
    (PREFIX_LEN + FIXED_LEN + app.len() + method.len()) as u64 + body.len() as u64
}

/// Appends the encoded record to `out`.
pub(crate) fn encode(out: &mut Vec<u8>, rec: &RecordRef<'_>) -> Result<(), EncodeError> {
    if rec.app.is_empty() {
        return Err(EncodeError::Invalid("empty app id"));
    }
    if rec.method.is_empty() {
        return Err(EncodeError::Invalid("empty method"));
    }
    let app_len = u16::try_from(rec.app.len())
        .map_err(|_| EncodeError::Invalid("app id over 65535 bytes"))?;
    let method_len = u16::try_from(rec.method.len())
        .map_err(|_| EncodeError::Invalid("method over 65535 bytes"))?;
    let total = encoded_len(rec.app, rec.method, rec.body);
    let len = u32::try_from(total - PREFIX_LEN as u64).map_err(|_| EncodeError::TooLarge(total))?;

    let start = out.len();
    out.reserve(total as usize);
    out.extend_from_slice(&RECORD_MAGIC.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // crc, filled below
    out.extend_from_slice(&rec.id.to_le_bytes());
    out.extend_from_slice(&rec.created_unix_s.to_le_bytes());
    out.extend_from_slice(&app_len.to_le_bytes());
    out.extend_from_slice(&method_len.to_le_bytes());
    out.extend_from_slice(rec.app.as_bytes());
    out.extend_from_slice(rec.method.as_bytes());
    out.extend_from_slice(rec.body);
    let crc = crc_of(&out[start + 4..start + 8], &out[start + PREFIX_LEN..]);
    out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

fn crc_of(len_bytes: &[u8], rest: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(len_bytes);
    h.update(rest);
    h.finalize()
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// What [`check`] found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Check<'a> {
    /// A valid record of `len` bytes.
    Valid(RecordRef<'a>, usize),
    /// The buffer ends before the record its header announces.
    Incomplete,
    /// Not a valid record (bad magic, CRC or field lengths).
    Corrupt,
}

/// Checks, then parses, the record at the start of `buf`. Only a record whose CRC matches is
/// ever returned.
pub(crate) fn check(buf: &[u8]) -> Check<'_> {
    if buf.len() < PREFIX_LEN {
        return Check::Incomplete;
    }
    if u32_at(buf, 0) != RECORD_MAGIC {
        return Check::Corrupt;
    }
    let len = u32_at(buf, 4) as usize;
    if len < FIXED_LEN {
        return Check::Corrupt;
    }
    let Some(total) = PREFIX_LEN.checked_add(len) else {
        return Check::Corrupt;
    };
    if buf.len() < total {
        return Check::Incomplete;
    }
    let rest = &buf[PREFIX_LEN..total];
    if crc_of(&buf[4..8], rest) != u32_at(buf, 8) {
        return Check::Corrupt;
    }
    let app_len = usize::from(u16_at(rest, 16));
    let method_len = usize::from(u16_at(rest, 18));
    if FIXED_LEN + app_len + method_len > len {
        return Check::Corrupt;
    }
    let strings = &rest[FIXED_LEN..];
    let (Ok(app), Ok(method)) = (
        std::str::from_utf8(&strings[..app_len]),
        std::str::from_utf8(&strings[app_len..app_len + method_len]),
    ) else {
        return Check::Corrupt;
    };
    let rec = RecordRef {
        id: u64_at(rest, 0),
        created_unix_s: u64_at(rest, 8),
        app,
        method,
        body: &strings[app_len + method_len..],
    };
    Check::Valid(rec, total)
}

/// A valid record found by [`scan`], located by its offset in the segment.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Found<'a> {
    pub offset: usize,
    pub len: usize,
    pub rec: RecordRef<'a>,
}

/// Everything [`scan`] learnt about one segment's bytes.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Scan<'a> {
    pub records: Vec<Found<'a>>,
    /// Damaged regions skipped between valid records, plus a damaged (not merely short) tail.
    pub corrupt: u64,
    /// End of the last valid record; everything after it is a torn or damaged tail.
    pub valid_end: usize,
}

/// Finds every valid record in `data` from `start`, resynchronising after damage.
///
/// After a bad record the scanner looks for the next offset that holds a complete record with a
/// matching CRC; the bytes in between are one corrupt region. If no valid record follows, the
/// rest is a tail to truncate: counted as corrupt when its first record was complete but wrong,
/// otherwise as a torn write (the caller counts those bytes).
pub(crate) fn scan(data: &[u8], start: usize) -> Scan<'_> {
    let mut out = Scan {
        valid_end: start.min(data.len()),
        ..Scan::default()
    };
    let mut pos = out.valid_end;
    while pos < data.len() {
        match check(&data[pos..]) {
            Check::Valid(rec, len) => {
                out.records.push(Found {
                    offset: pos,
                    len,
                    rec,
                });
                pos += len;
                out.valid_end = pos;
            }
            bad => match next_valid(data, pos + 1) {
                Some(next) => {
                    out.corrupt += 1;
                    pos = next;
                }
                None => {
                    if bad == Check::Corrupt {
                        out.corrupt += 1;
                    }
                    break;
                }
            },
        }
    }
    out
}

/// The first offset at or after `from` where a valid record starts.
fn next_valid(data: &[u8], from: usize) -> Option<usize> {
    let magic = RECORD_MAGIC.to_le_bytes();
    let mut at = from;
    while at + PREFIX_LEN <= data.len() {
        let hit = data[at..].windows(magic.len()).position(|w| w == magic)?;
        at += hit;
        if matches!(check(&data[at..]), Check::Valid(..)) {
            return Some(at);
        }
        at += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: u64, body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        encode(
            &mut v,
            &RecordRef {
                id,
                created_unix_s: 1_700_000_000 + id,
                app: "app-1",
                method: "metric_data",
                body,
            },
        )
        .unwrap();
        v
    }

    #[test]
    fn round_trip() {
        let v = rec(7, b"hello");
        assert_eq!(
            v.len() as u64,
            encoded_len("app-1", "metric_data", b"hello")
        );
        match check(&v) {
            Check::Valid(r, len) => {
                assert_eq!(len, v.len());
                assert_eq!(r.id, 7);
                assert_eq!(r.created_unix_s, 1_700_000_007);
                assert_eq!(r.app, "app-1");
                assert_eq!(r.method, "metric_data");
                assert_eq!(r.body, b"hello");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_body_is_fine_empty_names_are_not() {
        assert!(matches!(check(&rec(1, b"")), Check::Valid(..)));
        let mut v = Vec::new();
        let bad = RecordRef {
            id: 1,
            created_unix_s: 0,
            app: "",
            method: "m",
            body: b"",
        };
        assert_eq!(
            encode(&mut v, &bad),
            Err(EncodeError::Invalid("empty app id"))
        );
        let long = "x".repeat(70_000);
        let bad = RecordRef { app: &long, ..bad };
        assert!(matches!(encode(&mut v, &bad), Err(EncodeError::Invalid(_))));
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let v = rec(1, b"some body bytes");
        for cut in 0..v.len() {
            assert_eq!(check(&v[..cut]), Check::Incomplete, "cut at {cut}");
        }
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let v = rec(1, b"some body bytes");
        for i in 0..v.len() {
            let mut d = v.clone();
            d[i] ^= 0x10;
            // A flipped length may make the record look longer than the buffer.
            assert!(
                matches!(check(&d), Check::Corrupt | Check::Incomplete),
                "flip at {i} accepted"
            );
        }
    }

    #[test]
    fn scan_skips_damage_and_keeps_later_records() {
        let mut data = SEGMENT_MAGIC.to_vec();
        let a = rec(1, b"first");
        let b = rec(2, b"second");
        let c = rec(3, b"third");
        data.extend_from_slice(&a);
        let b_at = data.len();
        data.extend_from_slice(&b);
        data.extend_from_slice(&c);
        for i in 0..b.len() {
            let mut d = data.clone();
            d[b_at + i] ^= 0xff;
            let s = scan(&d, SEGMENT_HEADER_LEN);
            let ids: Vec<u64> = s.records.iter().map(|f| f.rec.id).collect();
            assert_eq!(ids, vec![1, 3], "flip at {i}");
            assert_eq!(s.corrupt, 1);
            assert_eq!(s.valid_end, d.len());
        }
    }

    #[test]
    fn scan_torn_tail() {
        let mut data = SEGMENT_MAGIC.to_vec();
        data.extend_from_slice(&rec(1, b"first"));
        let end = data.len();
        let b = rec(2, b"second");
        for cut in 1..b.len() {
            let mut d = data.clone();
            d.extend_from_slice(&b[..cut]);
            let s = scan(&d, SEGMENT_HEADER_LEN);
            assert_eq!(s.records.len(), 1);
            assert_eq!(s.valid_end, end);
            assert_eq!(s.corrupt, 0, "a torn tail is not corruption (cut {cut})");
        }
    }

    #[test]
    fn scan_damaged_last_record_is_corrupt_tail() {
        let mut data = SEGMENT_MAGIC.to_vec();
        data.extend_from_slice(&rec(1, b"first"));
        let end = data.len();
        data.extend_from_slice(&rec(2, b"second"));
        let last = data.len() - 1;
        data[last] ^= 1;
        let s = scan(&data, SEGMENT_HEADER_LEN);
        assert_eq!(s.records.len(), 1);
        assert_eq!(s.valid_end, end);
        assert_eq!(s.corrupt, 1);
    }

    #[test]
    fn scan_of_garbage_finds_nothing() {
        let data: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 251) as u8).collect();
        let s = scan(&data, 0);
        assert!(s.records.is_empty());
        assert_eq!(s.valid_end, 0);
    }
}
