//! The acknowledgement ledger format: a header, then fixed-size `[id][crc32(id)]` entries.
//!
//! Fixed-size entries keep the file aligned even when one is damaged: a bad entry is skipped
//! without losing the ones after it. Pure functions; the spool does the I/O.

pub(crate) const LEDGER_MAGIC: [u8; 8] = *b"SRACKS\0\x01";
pub(crate) const ENTRY_LEN: usize = 12;

/// Appends one entry per id to `out`.
pub(crate) fn encode_entries(out: &mut Vec<u8>, ids: impl IntoIterator<Item = u64>) {
    for id in ids {
        let b = id.to_le_bytes();
        out.extend_from_slice(&b);
        out.extend_from_slice(&crc32fast::hash(&b).to_le_bytes());
    }
}

/// What a ledger file held.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub ids: Vec<u64>,
    /// Entries whose CRC did not match, plus a bad header.
    pub corrupt: u64,
    /// Bytes of a partial final entry.
    pub torn_bytes: u64,
}

pub(crate) fn decode(data: &[u8]) -> Decoded {
    let mut out = Decoded::default();
    if data.len() < LEDGER_MAGIC.len() {
        out.torn_bytes = data.len() as u64;
        return out;
    }
    if data[..LEDGER_MAGIC.len()] != LEDGER_MAGIC {
        out.corrupt += 1;
    }
    let mut chunks = data[LEDGER_MAGIC.len()..].chunks_exact(ENTRY_LEN);
    for e in &mut chunks {
        let mut id = [0u8; 8];
        id.copy_from_slice(&e[..8]);
        let crc = u32::from_le_bytes([e[8], e[9], e[10], e[11]]);
        if crc32fast::hash(&id) == crc {
            out.ids.push(u64::from_le_bytes(id));
        } else {
            out.corrupt += 1;
        }
    }
    out.torn_bytes = chunks.remainder().len() as u64;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(ids: &[u64]) -> Vec<u8> {
        let mut v = LEDGER_MAGIC.to_vec();
        encode_entries(&mut v, ids.iter().copied());
        v
    }

    #[test]
    fn round_trip() {
        let d = decode(&file(&[1, 5, u64::MAX]));
        assert_eq!(d.ids, vec![1, 5, u64::MAX]);
        assert_eq!((d.corrupt, d.torn_bytes), (0, 0));
    }

    #[test]
    fn damaged_entry_is_skipped_alone() {
        let mut v = file(&[1, 2, 3]);
        v[LEDGER_MAGIC.len() + ENTRY_LEN + 3] ^= 4;
        let d = decode(&v);
        assert_eq!(d.ids, vec![1, 3]);
        assert_eq!(d.corrupt, 1);
    }

    #[test]
    fn torn_tail_is_ignored() {
        let mut v = file(&[1, 2]);
        v.truncate(v.len() - 5);
        let d = decode(&v);
        assert_eq!(d.ids, vec![1]);
        assert_eq!(d.torn_bytes, 7);
    }
}
