//! License keys: kept whole only where the collector needs them (the query
//! string) and obfuscated everywhere a human or a log file could see them.

use std::fmt;

/// A New Relic license key.
///
/// `Debug` and `Display` print the obfuscated form (`ab..yz`), so a key that
/// ends up in a `tracing` field or an error message never leaks; use
/// [`LicenseKey::expose`] for the one place that needs the real value.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct LicenseKey(String);

impl LicenseKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        LicenseKey(key.into())
    }

    /// The full key, for the request URL only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The key as New Relic's daemon shows it in logs: the first two and
    /// last two characters around `..`. Keys of four bytes or fewer (not
    /// real keys) are hidden entirely rather than shown whole.
    pub fn obfuscated(&self) -> String {
        obfuscate(&self.0)
    }

    /// The collector host to preconnect to for this key (§3.2):
    /// `redirect_collector` when set, else the region encoded in the key's
    /// prefix (`eu01x…` → `collector.eu01.nr-data.net`), else
    /// `collector.newrelic.com`.
    pub fn preconnect_host(&self, redirect_collector: &str) -> String {
        preconnect_host(&self.0, redirect_collector)
    }
}

impl fmt::Debug for LicenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LicenseKey({})", self.obfuscated())
    }
}

impl fmt::Display for LicenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.obfuscated())
    }
}

impl From<&str> for LicenseKey {
    fn from(s: &str) -> Self {
        LicenseKey::new(s)
    }
}

impl From<String> for LicenseKey {
    fn from(s: String) -> Self {
        LicenseKey(s)
    }
}

/// Obfuscates a license key to `first2..last2` (character based, so a
/// non-ASCII key cannot split a UTF-8 sequence).
pub fn obfuscate(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let n = chars.len();
    if n <= 4 {
        return "..".to_owned();
    }
    let mut out = String::with_capacity(8);
    out.extend(&chars[..2]);
    out.push_str("..");
    out.extend(&chars[n - 2..]);
    out
}

/// See [`LicenseKey::preconnect_host`].
pub fn preconnect_host(license: &str, redirect_collector: &str) -> String {
    if !redirect_collector.is_empty() {
        return redirect_collector.to_owned();
    }
    // `^(.+?)x`: the shortest non-empty prefix followed by an `x`.
    if let Some(first) = license.chars().next() {
        let skip = first.len_utf8();
        if let Some(pos) = license[skip..].find('x') {
            let region = &license[..skip + pos];
            return format!("collector.{region}.nr-data.net");
        }
    }
    "collector.newrelic.com".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obfuscation_keeps_two_chars_each_side() {
        assert_eq!(obfuscate("0123456789abcdef"), "01..ef");
        assert_eq!(obfuscate("abcde"), "ab..de");
        assert_eq!(obfuscate("abcd"), "..");
        assert_eq!(obfuscate(""), "..");
        assert_eq!(obfuscate("ééééé"), "éé..éé");
        let key = LicenseKey::new("secretsecretsecret");
        assert_eq!(format!("{key}"), "se..et");
        assert_eq!(format!("{key:?}"), "LicenseKey(se..et)");
        assert_eq!(key.expose(), "secretsecretsecret");
    }

    #[test]
    fn preconnect_host_follows_region_prefix() {
        let k = "eu01xx0123456789012345678901234567890123";
        assert_eq!(preconnect_host(k, ""), "collector.eu01.nr-data.net");
        assert_eq!(
            preconnect_host("gov01x69", ""),
            "collector.gov01.nr-data.net"
        );
        // Lazy match: the first `x` after at least one character.
        assert_eq!(preconnect_host("abxcdx", ""), "collector.ab.nr-data.net");
        // A leading x is part of the (non-empty) prefix, not the separator.
        assert_eq!(preconnect_host("xx12", ""), "collector.x.nr-data.net");
        assert_eq!(preconnect_host("x", ""), "collector.newrelic.com");
        assert_eq!(
            preconnect_host("0123456789abcdef", ""),
            "collector.newrelic.com"
        );
        assert_eq!(
            preconnect_host("eu01xkey", "127.0.0.1:8443"),
            "127.0.0.1:8443"
        );
    }
}
