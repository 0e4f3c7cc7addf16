//! The PHP extension. Placeholder until the extension lands.
