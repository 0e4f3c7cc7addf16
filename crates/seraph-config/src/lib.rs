//! Placeholder; see the crate description.

/// The daemon's resolved settings (filled in by the config work).
#[derive(Debug, Clone, Default)]
pub struct DaemonConfig {}
