//! The settings of framework and library instrumentation:
//! `newrelic.framework*`, the log-forwarding rules beyond the on/off
//! switches, and `newrelic.vulnerability_management.*`.

use super::Reader;
use seraph_txn::FrameworkSetting;
use std::time::Duration;

/// What `newrelic.framework.wordpress.hooks.options` selects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WordPressHooks {
    /// `plugin_callbacks` (the default): time the callbacks of plugins and
    /// themes (`Framework/WordPress/Hook/<tag>` and `…/Plugin/<name>`).
    #[default]
    PluginCallbacks,
    /// `all_callbacks`: also WordPress core's callbacks (hook metric only).
    AllCallbacks,
    /// `threshold`: no callbacks; each hook dispatch slower than
    /// `hooks.threshold` makes a hook metric.
    Threshold,
}

/// Framework and library settings.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameworkSettings {
    /// `newrelic.framework`.
    pub framework: FrameworkSetting,
    /// `newrelic.framework.wordpress.hooks`.
    pub wordpress_hooks: bool,
    /// `newrelic.framework.wordpress.hooks.options`.
    pub wordpress_hooks_options: WordPressHooks,
    /// `newrelic.framework.wordpress.hooks.threshold`.
    pub wordpress_hooks_threshold: Duration,
    /// `newrelic.framework.wordpress.hooks_skip_filename`.
    pub wordpress_hooks_skip_filename: String,
    /// `newrelic.framework.drupal.modules`.
    pub drupal_modules: bool,
    /// `newrelic.application_logging.forwarding.log_level` as a severity
    /// rank (`EMERGENCY` 0 … `DEBUG` 7).
    pub log_level: u8,
    /// `newrelic.application_logging.forwarding.context_data.enabled`.
    pub log_context_data: bool,
    /// `…context_data.include` patterns.
    pub log_context_include: Vec<String>,
    /// `…context_data.exclude` patterns.
    pub log_context_exclude: Vec<String>,
    /// `newrelic.application_logging.forwarding.labels.exclude`, as given.
    pub log_labels_exclude: String,
    /// `newrelic.vulnerability_management.package_detection.enabled`.
    pub package_detection: bool,
    /// `newrelic.vulnerability_management.composer_api.enabled`.
    pub composer_api: bool,
}

impl Default for FrameworkSettings {
    fn default() -> Self {
        FrameworkSettings {
            framework: FrameworkSetting::Detect,
            wordpress_hooks: true,
            wordpress_hooks_options: WordPressHooks::PluginCallbacks,
            wordpress_hooks_threshold: Duration::from_millis(1),
            wordpress_hooks_skip_filename: String::new(),
            drupal_modules: true,
            log_level: 4,
            log_context_data: false,
            log_context_include: Vec::new(),
            log_context_exclude: Vec::new(),
            log_labels_exclude: String::new(),
            package_detection: true,
            composer_api: true,
        }
    }
}

/// A comma-separated pattern list, case kept (context keys are
/// case-sensitive).
fn patterns(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl FrameworkSettings {
    pub(super) fn resolve(r: &mut Reader<'_>) -> FrameworkSettings {
        let framework = r.typed("newrelic.framework", |s| FrameworkSetting::parse(s).ok());
        let wordpress_hooks_options =
            r.typed("newrelic.framework.wordpress.hooks.options", |s| match s {
                "" | "plugin_callbacks" => Some(WordPressHooks::PluginCallbacks),
                "all_callbacks" => Some(WordPressHooks::AllCallbacks),
                "threshold" => Some(WordPressHooks::Threshold),
                _ => None,
            });
        let log_level = r.typed("newrelic.application_logging.forwarding.log_level", |s| {
            seraph_txn::logs::level_rank(s)
        });
        FrameworkSettings {
            framework,
            wordpress_hooks: r.bool("newrelic.framework.wordpress.hooks"),
            wordpress_hooks_options,
            wordpress_hooks_threshold: r.dur("newrelic.framework.wordpress.hooks.threshold"),
            wordpress_hooks_skip_filename: r.s("newrelic.framework.wordpress.hooks_skip_filename"),
            drupal_modules: r.bool("newrelic.framework.drupal.modules"),
            log_level,
            log_context_data: r
                .bool("newrelic.application_logging.forwarding.context_data.enabled"),
            log_context_include: patterns(
                &r.s("newrelic.application_logging.forwarding.context_data.include"),
            ),
            log_context_exclude: patterns(
                &r.s("newrelic.application_logging.forwarding.context_data.exclude"),
            ),
            log_labels_exclude: r.s("newrelic.application_logging.forwarding.labels.exclude"),
            package_detection: r
                .bool("newrelic.vulnerability_management.package_detection.enabled"),
            composer_api: r.bool("newrelic.vulnerability_management.composer_api.enabled"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::AgentSettings;
    use super::*;
    use seraph_txn::Framework;

    fn resolve(pairs: &[(&str, &str)]) -> (FrameworkSettings, Vec<String>) {
        let ini = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let (s, bad) = AgentSettings::resolve(&ini);
        (
            s.frameworks,
            bad.iter().map(|b| b.name.to_owned()).collect(),
        )
    }

    #[test]
    fn defaults_match_new_relics() {
        let (s, bad) = resolve(&[]);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(s, FrameworkSettings::default());
    }

    #[test]
    fn values_are_parsed_and_bad_ones_fall_back() {
        let (s, bad) = resolve(&[
            ("newrelic.framework", "Laravel"),
            ("newrelic.framework.wordpress.hooks.options", "threshold"),
            ("newrelic.framework.wordpress.hooks.threshold", "5ms"),
            ("newrelic.application_logging.forwarding.log_level", "debug"),
            (
                "newrelic.application_logging.forwarding.context_data.include",
                "A, user.*",
            ),
        ]);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(s.framework, FrameworkSetting::Forced(Framework::Laravel));
        assert_eq!(s.wordpress_hooks_options, WordPressHooks::Threshold);
        assert_eq!(s.wordpress_hooks_threshold, Duration::from_millis(5));
        assert_eq!(s.log_level, 7);
        assert_eq!(s.log_context_include, ["A", "user.*"]);
        let (s, bad) = resolve(&[
            ("newrelic.framework", "rails"),
            ("newrelic.framework.wordpress.hooks.options", "some"),
            ("newrelic.application_logging.forwarding.log_level", "LOUD"),
        ]);
        assert_eq!(s, FrameworkSettings::default());
        assert_eq!(bad.len(), 3);
    }
}
