//! Frameworks: the ones New Relic's agent knows by name, how
//! `newrelic.framework` selects one, and the supportability metric that
//! reports which one a transaction ran under.
//!
//! A request has at most one framework: the first whose detection file
//! runs wins (the extension's instrumentation table holds the files), unless
//! `newrelic.framework` forces one (or none). The names are New Relic's:
//! they appear in `Supportability/framework/<Name>/detected` and users
//! write the configuration names in `newrelic.framework`.

/// A framework New Relic's agent names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Framework {
    /// CakePHP 1.2 to 2.x.
    CakePhp,
    /// CodeIgniter.
    CodeIgniter,
    /// Drupal 6 and 7.
    Drupal,
    /// Drupal 8 and later.
    Drupal8,
    /// Joomla.
    Joomla,
    /// Kohana.
    Kohana,
    /// Laminas 3.
    Laminas3,
    /// Laravel 4 and later.
    Laravel,
    /// Lumen.
    Lumen,
    /// Magento 1.
    Magento,
    /// Magento 2.
    Magento2,
    /// MediaWiki.
    MediaWiki,
    /// Silex.
    Silex,
    /// Slim 2 to 4.
    Slim,
    /// Symfony 1.
    Symfony1,
    /// Symfony 2 and 3.
    Symfony2,
    /// Symfony 4 and later.
    Symfony4,
    /// WordPress.
    WordPress,
    /// Yii 1.
    Yii,
    /// Zend Framework 1.
    Zend,
    /// Zend Framework 2.
    Zend2,
}

/// Every framework, in New Relic's table order.
pub const ALL: &[Framework] = &[
    Framework::CakePhp,
    Framework::CodeIgniter,
    Framework::Drupal8,
    Framework::Drupal,
    Framework::Joomla,
    Framework::Kohana,
    Framework::Laminas3,
    Framework::Laravel,
    Framework::Lumen,
    Framework::Magento,
    Framework::Magento2,
    Framework::MediaWiki,
    Framework::Silex,
    Framework::Slim,
    Framework::Symfony1,
    Framework::Symfony2,
    Framework::Symfony4,
    Framework::WordPress,
    Framework::Yii,
    Framework::Zend,
    Framework::Zend2,
];

impl Framework {
    /// The name in `Supportability/framework/<Name>/…`.
    pub fn name(self) -> &'static str {
        match self {
            Framework::CakePhp => "CakePHP",
            Framework::CodeIgniter => "CodeIgniter",
            Framework::Drupal => "Drupal",
            Framework::Drupal8 => "Drupal8",
            Framework::Joomla => "Joomla",
            Framework::Kohana => "Kohana",
            Framework::Laminas3 => "Laminas3",
            Framework::Laravel => "Laravel",
            Framework::Lumen => "Lumen",
            Framework::Magento => "Magento",
            Framework::Magento2 => "Magento2",
            Framework::MediaWiki => "MediaWiki",
            Framework::Silex => "Silex",
            Framework::Slim => "Slim",
            Framework::Symfony1 => "Symfony",
            Framework::Symfony2 => "Symfony2",
            Framework::Symfony4 => "Symfony4",
            Framework::WordPress => "WordPress",
            Framework::Yii => "Yii",
            Framework::Zend => "Zend",
            Framework::Zend2 => "Zend2",
        }
    }

    /// The value `newrelic.framework` names it by.
    pub fn config_name(self) -> &'static str {
        match self {
            Framework::CakePhp => "cakephp",
            Framework::CodeIgniter => "codeigniter",
            Framework::Drupal => "drupal",
            Framework::Drupal8 => "drupal8",
            Framework::Joomla => "joomla",
            Framework::Kohana => "kohana",
            Framework::Laminas3 => "laminas3",
            Framework::Laravel => "laravel",
            Framework::Lumen => "lumen",
            Framework::Magento => "magento",
            Framework::Magento2 => "magento2",
            Framework::MediaWiki => "mediawiki",
            Framework::Silex => "silex",
            Framework::Slim => "slim",
            Framework::Symfony1 => "symfony1",
            Framework::Symfony2 => "symfony2",
            Framework::Symfony4 => "symfony4",
            Framework::WordPress => "wordpress",
            Framework::Yii => "yii",
            Framework::Zend => "zend",
            Framework::Zend2 => "zend2",
        }
    }
}

/// What `newrelic.framework` asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FrameworkSetting {
    /// Empty (or unknown): detect the framework from the files that run.
    #[default]
    Detect,
    /// `none` or `no_framework`: no framework, and none detected.
    Disabled,
    /// A framework's configuration name: that framework, whatever runs.
    Forced(Framework),
}

impl FrameworkSetting {
    /// Parses the setting as New Relic does (case-insensitive). An unknown
    /// name is `Err` with the value, and means detection.
    pub fn parse(value: &str) -> Result<FrameworkSetting, String> {
        let v = value.trim();
        if v.is_empty() {
            return Ok(FrameworkSetting::Detect);
        }
        if v.eq_ignore_ascii_case("none") || v.eq_ignore_ascii_case("no_framework") {
            return Ok(FrameworkSetting::Disabled);
        }
        ALL.iter()
            .find(|f| f.config_name().eq_ignore_ascii_case(v))
            .map(|f| FrameworkSetting::Forced(*f))
            .ok_or_else(|| v.to_owned())
    }
}

/// The framework a transaction ran under, as the request decided it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameworkOutcome {
    /// Detected from a file.
    Detected(Framework),
    /// Forced by `newrelic.framework`.
    Forced(Framework),
    /// `newrelic.framework = none`.
    ForcedNone,
}

impl FrameworkOutcome {
    /// `Supportability/framework/<Name>/detected` or `…/forced`.
    pub fn metric(self) -> String {
        match self {
            FrameworkOutcome::Detected(f) => {
                format!("Supportability/framework/{}/detected", f.name())
            }
            FrameworkOutcome::Forced(f) => format!("Supportability/framework/{}/forced", f.name()),
            FrameworkOutcome::ForcedNone => "Supportability/framework/None/forced".to_owned(),
        }
    }

    /// The framework, if any.
    pub fn framework(self) -> Option<Framework> {
        match self {
            FrameworkOutcome::Detected(f) | FrameworkOutcome::Forced(f) => Some(f),
            FrameworkOutcome::ForcedNone => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_takes_configuration_names_in_any_case() {
        assert_eq!(FrameworkSetting::parse(""), Ok(FrameworkSetting::Detect));
        assert_eq!(
            FrameworkSetting::parse(" WordPress "),
            Ok(FrameworkSetting::Forced(Framework::WordPress))
        );
        assert_eq!(
            FrameworkSetting::parse("symfony4"),
            Ok(FrameworkSetting::Forced(Framework::Symfony4))
        );
        assert_eq!(
            FrameworkSetting::parse("no_framework"),
            Ok(FrameworkSetting::Disabled)
        );
        assert_eq!(
            FrameworkSetting::parse("NONE"),
            Ok(FrameworkSetting::Disabled)
        );
        assert_eq!(FrameworkSetting::parse("rails"), Err("rails".to_owned()));
    }

    #[test]
    fn every_framework_round_trips_through_its_configuration_name() {
        for f in ALL {
            assert_eq!(
                FrameworkSetting::parse(f.config_name()),
                Ok(FrameworkSetting::Forced(*f))
            );
        }
    }

    #[test]
    fn metrics_use_new_relics_names() {
        assert_eq!(
            FrameworkOutcome::Detected(Framework::WordPress).metric(),
            "Supportability/framework/WordPress/detected"
        );
        assert_eq!(
            FrameworkOutcome::Forced(Framework::Symfony1).metric(),
            "Supportability/framework/Symfony/forced"
        );
        assert_eq!(
            FrameworkOutcome::ForcedNone.metric(),
            "Supportability/framework/None/forced"
        );
    }
}
