//! The form of a New Relic license key, checked by both halves: the agent
//! before it sends one to a daemon, the daemon before it asks the
//! collector about one.

/// Length of every New Relic license key.
pub const LICENSE_LEN: usize = 40;

/// Why a string cannot be a New Relic license key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenseError {
    /// No key at all.
    #[error("no license key is set")]
    Empty,
    /// Not 40 characters.
    #[error("the license key has {0} characters; New Relic's have 40")]
    Length(usize),
    /// A character other than an ASCII letter or digit.
    #[error("the license key contains a character other than a letter or a digit")]
    Character,
}

/// Checks the form of a license key: 40 ASCII letters and digits (region
/// keys such as `eu01xx…` and ingest keys ending in `NRAL` included). The
/// agent checks the same before it sends one; the daemon refuses other
/// keys without asking the collector.
pub fn check_license(key: &str) -> Result<(), LicenseError> {
    if key.is_empty() {
        return Err(LicenseError::Empty);
    }
    let n = key.chars().count();
    if n != LICENSE_LEN {
        return Err(LicenseError::Length(n));
    }
    if !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(LicenseError::Character);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn license_form() {
        assert_eq!(
            check_license("0123456789abcdef0123456789ABCDEF01234567"),
            Ok(())
        );
        assert_eq!(
            check_license("eu01xx6789abcdef0123456789abcdef0123NRAL"),
            Ok(())
        );
        assert_eq!(check_license(""), Err(LicenseError::Empty));
        assert_eq!(check_license("0123456789"), Err(LicenseError::Length(10)));
        assert_eq!(
            check_license("0123456789abcdef0123456789abcdef0123456-"),
            Err(LicenseError::Character)
        );
        assert_eq!(
            check_license("0123456789abcdef0123456789abcdef0123456é"),
            Err(LicenseError::Character)
        );
        assert!(LicenseError::Length(39)
            .to_string()
            .contains("39 characters"));
    }
}
