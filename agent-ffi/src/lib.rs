//! The agent core behind a C ABI. Not built out yet: see docs/ and the issue tracker.
