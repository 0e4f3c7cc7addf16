//! Which destinations an attribute may reach, by New Relic's rules:
//! `newrelic.attributes.enabled/include/exclude` and the same three settings
//! per destination (transaction events, transaction traces, error
//! collector, span events, browser monitoring).
//!
//! Every attribute starts with default destinations chosen by whoever adds
//! it. The rules then run in a fixed order: sorted by their pattern, so a
//! longer (more specific) pattern runs after the shorter ones it extends,
//! and for one pattern the wildcard form (`a*`) before the exact form
//! (`a`). Each matching rule first adds its include destinations, then
//! removes its exclude destinations, so at equal specificity exclude wins.
//! Disabled destinations are removed last, whatever the rules said. An
//! attribute left with no destination is not stored at all.

/// Destination bits.
pub mod dest {
    /// Transaction events (`analytic_event_data`), and the root span's
    /// agent attributes.
    pub const TXN_EVENT: u8 = 1;
    /// Transaction traces.
    pub const TXN_TRACE: u8 = 2;
    /// Error traces and error events.
    pub const ERROR: u8 = 4;
    /// Browser monitoring (the RUM footer's `atts`).
    pub const BROWSER: u8 = 8;
    /// Span events.
    pub const SPAN: u8 = 16;
    /// Every destination.
    pub const ALL: u8 = TXN_EVENT | TXN_TRACE | ERROR | BROWSER | SPAN;
    /// Request/response facts: trace, error and transaction event.
    pub const TRACE_ERROR_EVENT: u8 = TXN_TRACE | ERROR | TXN_EVENT;
    /// Custom parameters go everywhere but spans (the segment copy covers
    /// those).
    pub const USER_DEFAULT: u8 = ALL & !SPAN;
}

/// One include or exclude rule.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    /// The pattern without its trailing `*`.
    prefix: String,
    /// Whether the pattern ended in `*` (matches every key it starts).
    wildcard: bool,
    include: u8,
    exclude: u8,
}

impl Rule {
    fn matches(&self, key: &str) -> bool {
        if self.wildcard {
            key.starts_with(&self.prefix)
        } else {
            key == self.prefix
        }
    }

    /// The order rules run in: by pattern, wildcard before exact.
    fn order(&self) -> (&str, bool) {
        (&self.prefix, !self.wildcard)
    }
}

/// The attribute rules of one transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttributeFilter {
    disabled: u8,
    rules: Vec<Rule>,
}

impl AttributeFilter {
    /// No rule, nothing disabled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Switches destinations off entirely (`*.attributes.enabled = 0`).
    pub fn disable(&mut self, dests: u8) {
        self.disabled |= dests;
    }

    /// The destinations no attribute can reach.
    pub fn disabled(&self) -> u8 {
        self.disabled
    }

    /// Adds a rule: keys matching `pattern` (a trailing `*` matches any
    /// key it starts) gain `include` and lose `exclude`. The same pattern
    /// given twice merges into one rule. Empty patterns are ignored.
    pub fn add_rule(&mut self, pattern: &str, include: u8, exclude: u8) {
        if pattern.is_empty() {
            return;
        }
        let (prefix, wildcard) = match pattern.strip_suffix('*') {
            Some(p) => (p, true),
            None => (pattern, false),
        };
        let rule = Rule {
            prefix: prefix.to_owned(),
            wildcard,
            include,
            exclude,
        };
        match self
            .rules
            .binary_search_by(|r| r.order().cmp(&rule.order()))
        {
            Ok(i) => {
                self.rules[i].include |= include;
                self.rules[i].exclude |= exclude;
            }
            Err(i) => self.rules.insert(i, rule),
        }
    }

    /// Adds one rule per comma-separated pattern of a setting's value
    /// (blanks around each pattern are trimmed, empty ones skipped).
    pub fn add_rules(&mut self, list: &str, include: u8, exclude: u8) {
        for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            self.add_rule(p, include, exclude);
        }
    }

    /// Whether some include rule could add a destination to a key that
    /// starts with `prefix` (so attributes of that family, which have no
    /// default destination, are worth gathering at all).
    pub fn may_include_prefix(&self, prefix: &str) -> bool {
        self.disabled != dest::ALL
            && self.rules.iter().any(|r| {
                r.include & !self.disabled != 0
                    && (r.prefix.starts_with(prefix)
                        || (r.wildcard && prefix.starts_with(&r.prefix)))
            })
    }

    /// The destinations `key` reaches, starting from `defaults`.
    pub fn apply(&self, key: &str, defaults: u8) -> u8 {
        let mut d = defaults;
        for r in self.rules.iter().filter(|r| r.matches(key)) {
            d |= r.include;
            d &= !r.exclude;
        }
        d & !self.disabled
    }
}

#[cfg(test)]
mod tests {
    use super::dest::*;
    use super::*;

    #[test]
    fn no_rules_keep_the_defaults() {
        let f = AttributeFilter::new();
        assert_eq!(f.apply("anything", USER_DEFAULT), USER_DEFAULT);
        assert_eq!(f.apply("anything", 0), 0);
    }

    #[test]
    fn wildcards_match_prefixes_and_exact_rules_only_their_key() {
        let mut f = AttributeFilter::new();
        f.add_rule("request.headers.*", 0, ALL);
        f.add_rule("user", 0, ERROR);
        assert_eq!(f.apply("request.headers.host", ALL), 0);
        assert_eq!(f.apply("request.headersX", ALL), ALL);
        assert_eq!(f.apply("user", ALL), ALL & !ERROR);
        assert_eq!(f.apply("username", ALL), ALL);
        // `*` alone matches everything.
        f.add_rule("*", 0, BROWSER);
        assert_eq!(f.apply("username", ALL), ALL & !BROWSER);
    }

    #[test]
    fn the_most_specific_rule_wins() {
        let mut f = AttributeFilter::new();
        f.add_rules("a*", 0, ALL);
        f.add_rules("abc*", TXN_EVENT, 0);
        f.add_rules("abcd", 0, TXN_EVENT);
        assert_eq!(f.apply("a", ALL), 0);
        assert_eq!(f.apply("abx", ALL), 0);
        assert_eq!(f.apply("abcx", ALL), TXN_EVENT);
        assert_eq!(f.apply("abcd", ALL), 0);
        // The order the rules were given in does not matter.
        let mut g = AttributeFilter::new();
        g.add_rules("abcd", 0, TXN_EVENT);
        g.add_rules("abc*", TXN_EVENT, 0);
        g.add_rules("a*", 0, ALL);
        for k in ["a", "abx", "abcx", "abcd"] {
            assert_eq!(f.apply(k, ALL), g.apply(k, ALL), "{k}");
        }
    }

    #[test]
    fn exclude_beats_include_at_equal_specificity() {
        let mut f = AttributeFilter::new();
        f.add_rule("k", TXN_TRACE, 0);
        f.add_rule("k", 0, TXN_TRACE);
        assert_eq!(f.apply("k", 0), 0);
        let mut g = AttributeFilter::new();
        g.add_rule("k*", SPAN, SPAN);
        assert_eq!(g.apply("kk", SPAN), 0);
        // An exact rule runs after the wildcard of the same text.
        let mut h = AttributeFilter::new();
        h.add_rule("k", SPAN, 0);
        h.add_rule("k*", 0, SPAN);
        assert_eq!(h.apply("k", 0), SPAN);
    }

    #[test]
    fn includes_add_destinations_and_disabled_ones_stay_off() {
        let mut f = AttributeFilter::new();
        f.add_rule("request.parameters.*", TXN_EVENT | TXN_TRACE, 0);
        assert_eq!(f.apply("request.parameters.q", 0), TXN_EVENT | TXN_TRACE);
        f.disable(TXN_TRACE);
        assert_eq!(f.apply("request.parameters.q", 0), TXN_EVENT);
        f.disable(ALL);
        assert_eq!(f.apply("request.parameters.q", ALL), 0);
    }

    #[test]
    fn prefixes_that_an_include_may_reach() {
        let mut f = AttributeFilter::new();
        assert!(!f.may_include_prefix("request.parameters."));
        f.add_rule("request.parameters.q", 0, ERROR);
        assert!(
            !f.may_include_prefix("request.parameters."),
            "excludes only"
        );
        f.add_rule("request.parameters.q", TXN_EVENT, 0);
        assert!(f.may_include_prefix("request.parameters."));
        let mut g = AttributeFilter::new();
        g.add_rule("request.*", TXN_EVENT, 0);
        assert!(g.may_include_prefix("request.parameters."));
        g.disable(TXN_EVENT);
        assert!(!g.may_include_prefix("request.parameters."));
    }

    #[test]
    fn list_settings_are_split_and_trimmed() {
        let mut f = AttributeFilter::new();
        f.add_rules(" a , ,b* ,", 0, ERROR);
        assert_eq!(f.apply("a", ERROR), 0);
        assert_eq!(f.apply("bz", ERROR), 0);
        assert_eq!(f.apply("", ERROR), ERROR);
        assert_eq!(f.rules.len(), 2);
    }
}
