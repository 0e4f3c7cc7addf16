//! Browser monitoring (RUM): the header and footer scripts a page carries
//! so the browser agent can report the page load against its transaction,
//! built from the connect reply's browser fields as New Relic's agent
//! builds them.
//!
//! The header is the `js_agent_loader` script. The footer assigns
//! `NREUM.info`: beacons, the browser key and application id, the
//! transaction name and the browser-bound attributes (both obfuscated with
//! the license key), and the queue and application times in milliseconds.
//! Each is produced at most once per transaction, by the API or by the
//! automatic injection, whichever comes first; the footer only after the
//! header, and producing it freezes the transaction name.

use crate::attrs::dest;
use crate::json;
use crate::txn::Transaction;
use crate::Ticks;
use base64::Engine as _;

/// Characters of the license key used to obfuscate footer values.
const KEY_LENGTH: usize = 13;
const START_TAG: &str = "<script type=\"text/javascript\">";
const END_TAG: &str = "</script>";
const FOOTER_PREFIX: &str = "window.NREUM||(NREUM={});NREUM.info=";

/// Who produced a script: nobody yet, the API, or the output handler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Producer {
    #[default]
    None,
    Api,
    Auto,
}

/// The browser-monitoring state of one transaction.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RumState {
    header: Producer,
    footer: Producer,
    /// `browser_monitoring.auto_instrument`, until `newrelic_disable_autorum`.
    autorum: bool,
}

impl RumState {
    pub(crate) fn new(autorum: bool) -> Self {
        RumState {
            header: Producer::None,
            footer: Producer::None,
            autorum,
        }
    }
}

/// XORs `input` with the first 13 bytes of `key` and base64-encodes the
/// result (New Relic's obfuscation of RUM values). Empty input or key:
/// empty output.
pub fn obfuscate(input: &str, key: &str) -> String {
    let key = &key.as_bytes()[..key.len().min(KEY_LENGTH)];
    if input.is_empty() || key.is_empty() {
        return String::new();
    }
    let xored: Vec<u8> = input
        .bytes()
        .zip(key.iter().cycle())
        .map(|(b, k)| b ^ k)
        .collect();
    base64::engine::general_purpose::STANDARD.encode(xored)
}

/// The inverse of [`obfuscate`] (for tests and tools); `None` if the input
/// is not base64 or not UTF-8 once decoded.
pub fn deobfuscate(input: &str, key: &str) -> Option<String> {
    let key = &key.as_bytes()[..key.len().min(KEY_LENGTH)];
    if key.is_empty() {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(input)
        .ok()?;
    let plain: Vec<u8> = raw
        .into_iter()
        .zip(key.iter().cycle())
        .map(|(b, k)| b ^ k)
        .collect();
    String::from_utf8(plain).ok()
}

fn wrap(script: String, tags: bool) -> String {
    if tags {
        format!("{START_TAG}{script}{END_TAG}")
    } else {
        script
    }
}

impl Transaction {
    /// Whether the output handler should inject the scripts: not for
    /// background transactions, nor after `newrelic_disable_autorum()` or
    /// with `browser_monitoring.auto_instrument` off.
    pub fn autorum_enabled(&self) -> bool {
        self.rum.autorum && !self.background
    }

    /// `newrelic_disable_autorum()`.
    pub fn disable_autorum(&mut self) {
        self.rum.autorum = false;
    }

    /// Whether both scripts were produced already.
    pub fn rum_done(&self) -> bool {
        self.rum.header != Producer::None && self.rum.footer != Producer::None
    }

    /// Whether the header was produced already.
    pub fn rum_header_done(&self) -> bool {
        self.rum.header != Producer::None
    }

    /// The header script (`newrelic_get_browser_timing_header`, or the
    /// output handler with `auto`), wrapped in a script element with
    /// `tags`. `None` when the transaction is ignored, the header was
    /// produced before, the connect reply has no `js_agent_loader`, or
    /// (`auto`) automatic injection is off.
    pub fn browser_timing_header(&mut self, tags: bool, auto: bool) -> Option<String> {
        if self.ignored || (auto && !self.rum.autorum) || self.rum.header != Producer::None {
            return None;
        }
        let loader = self.connect.browser.js_agent_loader.clone();
        if loader.is_empty() {
            return None;
        }
        self.rum.header = if auto { Producer::Auto } else { Producer::Api };
        Some(wrap(loader, tags))
    }

    /// The footer script (`newrelic_get_browser_timing_footer`, or the
    /// output handler with `auto`), at `now`. `license` is the
    /// transaction's license key, the obfuscation key. `None` when the
    /// transaction is ignored (a naming rule may say so now), no header was
    /// produced, the footer was produced before, or (`auto`) automatic
    /// injection is off.
    pub fn browser_timing_footer(
        &mut self,
        tags: bool,
        auto: bool,
        now: Ticks,
        license: &str,
    ) -> Option<String> {
        if self.ignored
            || (auto && !self.rum.autorum)
            || self.rum.header == Producer::None
            || self.rum.footer != Producer::None
        {
            return None;
        }
        let name = self.freeze_name()?;
        let app_ms = self.rel_us(now) / 1000;
        let queue_ms = self
            .queue_start_us
            .map_or(0, |q| self.start_unix_us.saturating_sub(q) / 1000);
        let atts = self.browser_attributes().map(|a| obfuscate(&a, license));
        let b = &self.connect.browser;
        let or_empty = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut info = String::with_capacity(256);
        let mut o = json::Obj::begin(&mut info);
        o.str("beacon", &or_empty(&b.beacon))
            .str("licenseKey", &or_empty(&b.browser_key))
            .str("applicationID", &or_empty(&b.application_id))
            .str("transactionName", &obfuscate(&name, license))
            .u64("queueTime", queue_ms)
            .u64("applicationTime", app_ms)
            .str("atts", atts.as_deref().unwrap_or_default())
            .str("errorBeacon", &or_empty(&b.error_beacon))
            .str("agent", &or_empty(&b.js_agent_file));
        o.end();
        self.rum.footer = if auto { Producer::Auto } else { Producer::Api };
        Some(wrap(format!("{FOOTER_PREFIX}{info}"), tags))
    }

    /// `{"u":{…},"a":{…}}` with the browser-bound user and agent
    /// attributes; a part is left out when its list is empty, the whole
    /// when both are.
    fn browser_attributes(&self) -> Option<String> {
        let user = self.user_attrs.to_json(dest::BROWSER);
        let agent = self.agent_attrs.to_json(dest::BROWSER);
        if user.is_none() && agent.is_none() {
            return None;
        }
        let mut out = String::new();
        let mut o = json::Obj::begin(&mut out);
        if let Some(u) = &user {
            o.raw("u", u);
        }
        if let Some(a) = &agent {
            o.raw("a", a);
        }
        o.end();
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LICENSE: &str = "0123456789012345678901234567890123456789";

    #[test]
    fn obfuscation_uses_thirteen_license_bytes_and_round_trips() {
        let o = obfuscate("WebTransaction/Uri/index.php", LICENSE);
        assert_eq!(
            deobfuscate(&o, LICENSE).as_deref(),
            Some("WebTransaction/Uri/index.php")
        );
        // Only the first 13 bytes matter.
        assert_eq!(o, obfuscate("WebTransaction/Uri/index.php", &LICENSE[..13]));
        assert_ne!(
            o,
            obfuscate("WebTransaction/Uri/index.php", "X123456789012")
        );
        assert_eq!(obfuscate("", LICENSE), "");
        assert_eq!(obfuscate("a", ""), "");
        // 'a' ^ '0' = 0x51 = 'Q'.
        assert_eq!(obfuscate("a", LICENSE), "UQ==");
    }
}
