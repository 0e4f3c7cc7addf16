//! A bounded on-disk spool for harvest payloads the collector could not take.
//!
//! New Relic's daemon keeps a failed harvest only in memory and only for a few cycles; a long
//! collector outage or a daemon restart loses it. When Seraph's in-memory retry budget runs out,
//! or the daemon must exit while the collector is unreachable, the daemon pushes each unsent
//! payload here, and replays it, oldest first, once the application is connected again (also
//! after a restart). This crate only stores bytes: it knows nothing about HTTP, JSON or runs.
//!
//! It is synchronous `std::fs` code. The daemon owns one [`Spool`] and calls it from a blocking
//! task; every method takes `&mut self`, so there is no internal locking.
//!
//! # Invariants
//!
//! 1. **Every record carries a CRC32** over its length and contents; a record is used only after
//!    its CRC is checked, both when the spool is opened and again when the record is read back.
//! 2. **Records are never split across files.** A record that cannot fit in one segment of
//!    `max_segment_bytes` is refused ([`SpoolError::RecordTooLarge`]).
//! 3. **The spool never holds more than `max_bytes` of segment files** (headers included). What
//!    gives way when it is full is a named policy, [`WhenFull`].
//! 4. **A segment file exists only while it holds a live record** (one neither acknowledged,
//!    expired, dropped nor found corrupt). The moment its last live record goes, the file is
//!    deleted: that is how space is reclaimed.
//! 5. **Record ids only grow**, including across restarts, so an acknowledgement can never match a
//!    newer record that reused an old id.
//! 6. **One process per directory.** [`Spool::open`] takes an exclusive `flock` on `dir/LOCK`;
//!    a second opener (another daemon, or another `Spool` in the same process) gets
//!    [`SpoolError::Locked`]. `flock` is advisory and unreliable on network filesystems: keep
//!    the spool on a local disk.
//! 7. **Nothing secret is stored.** A record is keyed by an opaque application id the caller
//!    derives (for example a hash of license key and app names) and the collector method name;
//!    no license key, run id or URL is written. The files are created `0600` in a `0700`
//!    directory all the same, since the payloads are application telemetry.
//!
//! # Directory layout
//!
//! ```text
//! dir/                        created 0700
//!   LOCK                      flock()ed for the life of the Spool; holds the owner's pid
//!   00000000000000000001.seg  segment files, numbered in creation order (20 digits)
//!   00000000000000000002.seg  the highest-numbered one is appended to
//!   acks                      the acknowledgement ledger
//!   acks.tmp                  only while the ledger is being rewritten
//! ```
//! Files with other names are ignored.
//!
//! # Segment and record format (all integers little-endian)
//!
//! A segment starts with the 8 bytes `SRSPOOL\x01` and then holds records back to back:
//!
//! ```text
//! offset size field
//!      0    4 magic            0x53_52_52_43 ("CRRS" on disk): a resynchronisation point
//!      4    4 len              bytes from offset 12 to the end of the record
//!      8    4 crc32            CRC32 (IEEE) of the 4 `len` bytes followed by the `len` bytes
//!     12    8 id               spool-wide record id, increasing
//!     20    8 created_unix_s   when the caller made the payload (for max_age)
//!     28    2 app_len
//!     30    2 method_len
//!     32      app (UTF-8), method (UTF-8), body (the rest)
//! ```
//! The CRC covers `len` so a flipped length is caught rather than trusted.
//!
//! # Read position: the acknowledgement ledger
//!
//! Records of many applications share segments and are acknowledged in any order, so a single
//! read offset cannot describe what is done. Instead `acks` lists acknowledged record ids: the
//! 8 bytes `SRACKS\0\x01`, then 12-byte entries `[id: u64][crc32 of those 8 bytes: u32]`.
//! [`Spool::ack`] (and expiry) append entries; on open, a scanned record whose id is in the
//! ledger is not live. The ledger is rewritten (to `acks.tmp`, fsync, rename, fsync the directory)
//! whenever a segment is deleted, so it only ever lists ids of segments that still exist and stays
//! small. A segment is always deleted *before* the ledger is rewritten: a crash in between leaves
//! stale entries (harmless), never a live segment whose acknowledgements were lost.
//!
//! Taking a record ([`Spool::take`]) is not persisted: records in flight when the process stops
//! are pending again after the next open. Delivery is therefore **at least once**: a crash
//! between the collector accepting a payload and [`Spool::ack`] returning resends it.
//!
//! # Durability (fsync policy)
//!
//! Every [`Spool::push`] writes its record with one `write` and then `fdatasync`s the segment;
//! a new segment also gets its directory fsynced. Every [`Spool::ack`] `fdatasync`s the ledger.
//! Harvest payloads arrive a few per minute per application, so an fsync each is cheap (see the
//! README for numbers) and buys the simple guarantee that a successful `push` or `ack` survives
//! a power cut.
//!
//! # Damage and recovery
//!
//! - **Torn write** (a crash mid-`push`): on open, trailing bytes after the last valid record are
//!   truncated away and counted in [`SpoolStats::torn_bytes`]; the valid prefix survives and new
//!   records are appended after it. A failed write at run time is truncated back at once; if
//!   even that fails the segment is sealed and the next push starts a new one.
//! - **Corrupt record** (CRC mismatch, bad magic, impossible length): skipped and counted in
//!   [`SpoolStats::corrupted_records`]. The scanner resynchronises by searching for the next
//!   record magic whose record passes its CRC, so records after the damage survive. Corruption
//!   found when a record is read back (after open) is handled the same way.
//! - **Corrupt ledger entry**: skipped and counted. The record it acknowledged comes back (a
//!   duplicate send, never a loss). A torn ledger tail is ignored and rewritten on open.
//! - **Full spool**: [`WhenFull::DropOldest`] (the default) deletes the oldest segments until the
//!   new record fits: for an APM the newest data is usually worth more, and the collector may
//!   refuse very old timeslices anyway. [`WhenFull::DropNewest`] refuses the new record instead.
//!   Either way the loss is reported in [`PushReport`] and counted in [`SpoolStats`].
//! - **Too old**: records whose `created_unix_s` is older than `max_age` are discarded (and
//!   counted in [`SpoolStats::expired_records`]) when [`Spool::take`] or [`Spool::expire`]
//!   meets them, and that discard is persisted like an acknowledgement.
//!
//! Counters in [`SpoolStats`] are for the life of one open [`Spool`]; they are not persisted.
//!
//! # Testing seam
//!
//! All file access goes through the [`Filesystem`] trait ([`StdFs`] in production), so tests can
//! inject failing writes and check the spool stays consistent.

mod config;
mod error;
mod fs;
mod ledger;
mod record;
mod spool;

pub use config::{SpoolConfig, WhenFull};
pub use error::SpoolError;
pub use fs::{Filesystem, SpoolFile, StdFile, StdFs, StdLock};
pub use spool::{PushReport, Record, Spool, SpoolStats, StoredRecord};
