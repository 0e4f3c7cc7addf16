//! (set up below)
