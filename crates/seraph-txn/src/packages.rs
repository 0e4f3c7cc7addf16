//! PHP packages: what a transaction reports for vulnerability management
//! (`php_packages`, which the daemon posts as `update_loaded_modules`).
//!
//! Packages come from two sources, as in New Relic's agent: a framework or
//! library names itself when it is detected (`wordpress`, `laravel/framework`,
//! often with its version), and Composer's own record of what is installed,
//! `vendor/composer/installed.php`, lists every package of the application.
//! Composer's version wins over a framework's guess. The JSON is
//! `[["name","version",{}],…]`, an unknown version being a single space.
//!
//! [`parse_installed_php`] reads `installed.php` without running it: the
//! file is a PHP array literal Composer writes with `var_export`, and this
//! module reads exactly that shape (nested `array(…)`/`[…]`, quoted strings,
//! `__DIR__ . '…'`, scalars), refusing anything else rather than guessing.

use crate::{json, Transaction};

/// The version New Relic reports when it does not know one.
pub const UNKNOWN_VERSION: &str = " ";

/// Where a package's version came from; a better source replaces a worse
/// one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PackageSource {
    /// A framework or library named itself.
    Framework = 1,
    /// Composer's `installed.php`.
    Composer = 2,
}

#[derive(Clone, Debug)]
struct Package {
    name: String,
    version: String,
    source: PackageSource,
}

/// The packages of one transaction, by name, in the order first seen.
#[derive(Clone, Debug, Default)]
pub(crate) struct Packages(Vec<Package>);

/// Packages one transaction reports at most (a pathological `installed.php`
/// must not make a frame the daemon refuses).
pub const PACKAGE_LIMIT: usize = 2_000;

impl Packages {
    fn add(&mut self, name: &str, version: Option<&str>, source: PackageSource) {
        let name = name.trim();
        if name.is_empty() {
            return;
        }
        let version = version
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .unwrap_or(UNKNOWN_VERSION);
        if let Some(p) = self.0.iter_mut().find(|p| p.name == name) {
            let better = source > p.source
                || (source == p.source && p.version == UNKNOWN_VERSION)
                || (source == p.source && source == PackageSource::Composer);
            if better && (version != UNKNOWN_VERSION || p.version == UNKNOWN_VERSION) {
                p.version = version.to_owned();
                p.source = source;
            }
            return;
        }
        if self.0.len() < PACKAGE_LIMIT {
            self.0.push(Package {
                name: name.to_owned(),
                version: version.to_owned(),
                source,
            });
        }
    }

    /// `[["name","version",{}],…]`, or `None` when empty.
    pub(crate) fn to_json(&self) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        let mut out = String::from("[");
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            json::push_str(&mut out, &p.name);
            out.push(',');
            json::push_str(&mut out, &p.version);
            out.push_str(",{}]");
        }
        out.push(']');
        Some(out)
    }

    /// `Supportability/PHP/package/<name>/<major>/detected` (or `forced`)
    /// for the packages frameworks named with a known version.
    pub(crate) fn major_version_metrics(&self, forced: bool) -> Vec<String> {
        self.0
            .iter()
            .filter(|p| p.source == PackageSource::Framework)
            .filter_map(|p| {
                let major = major_version(&p.version)?;
                let how = if forced { "forced" } else { "detected" };
                Some(format!(
                    "Supportability/PHP/package/{}/{major}/{how}",
                    p.name
                ))
            })
            .collect()
    }
}

/// The major version New Relic's metric uses: the digits before the first
/// `.`, at most three of them.
pub fn major_version(version: &str) -> Option<&str> {
    let dot = version.find('.')?;
    (dot > 0 && dot <= 3).then(|| &version[..dot])
}

impl Transaction {
    /// A framework or library names its package (and version, if known).
    pub fn add_package(&mut self, name: &str, version: Option<&str>) {
        self.lib
            .packages
            .add(name, version, PackageSource::Framework);
    }

    /// Adds the packages Composer lists (name, version).
    pub fn add_composer_packages<'a>(
        &mut self,
        list: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        for (name, version) in list {
            self.lib
                .packages
                .add(name, Some(version), PackageSource::Composer);
        }
    }
}

/// Why `installed.php` was not read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InstalledError {
    /// Not the array literal Composer writes.
    #[error("not a Composer installed.php array at byte {0}")]
    Syntax(usize),
    /// Nested deeper than Composer ever writes.
    #[error("nested too deep")]
    TooDeep,
}

/// A value of the array literal.
#[derive(Debug, PartialEq)]
enum Value {
    Str(String),
    Array(Vec<(Option<String>, Value)>),
    Other,
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

const MAX_DEPTH: usize = 16;

impl Parser<'_> {
    fn err<T>(&self) -> Result<T, InstalledError> {
        Err(InstalledError::Syntax(self.i))
    }

    fn skip_ws(&mut self) {
        loop {
            while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
            if self.s[self.i..].starts_with(b"//") || self.s[self.i..].starts_with(b"#") {
                while self.i < self.s.len() && self.s[self.i] != b'\n' {
                    self.i += 1;
                }
            } else if self.s[self.i..].starts_with(b"/*") {
                match find(&self.s[self.i + 2..], b"*/") {
                    Some(end) => self.i += end + 4,
                    None => self.i = self.s.len(),
                }
            } else {
                return;
            }
        }
    }

    fn eat(&mut self, tok: &[u8]) -> bool {
        self.skip_ws();
        if self.s[self.i..].starts_with(tok) {
            self.i += tok.len();
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<&[u8]> {
        self.skip_ws();
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        (self.i > start).then(|| &self.s[start..self.i])
    }

    fn string(&mut self) -> Result<String, InstalledError> {
        let quote = self.s[self.i];
        self.i += 1;
        let mut out = Vec::new();
        while self.i < self.s.len() {
            let c = self.s[self.i];
            self.i += 1;
            if c == quote {
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
            if c == b'\\' && self.i < self.s.len() {
                let n = self.s[self.i];
                if n == quote || n == b'\\' {
                    out.push(n);
                    self.i += 1;
                    continue;
                }
            }
            out.push(c);
        }
        self.err()
    }

    /// One operand of a value: a string, a number, a constant or an array.
    fn operand(&mut self, depth: usize) -> Result<Value, InstalledError> {
        self.skip_ws();
        if self.i >= self.s.len() {
            return self.err();
        }
        match self.s[self.i] {
            b'\'' | b'"' => Ok(Value::Str(self.string()?)),
            b'[' => {
                self.i += 1;
                self.array(b']', depth)
            }
            b'-' | b'0'..=b'9' => {
                self.i += 1;
                while self.i < self.s.len()
                    && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'.')
                {
                    self.i += 1;
                }
                Ok(Value::Other)
            }
            _ => {
                let id = self.ident().map(<[u8]>::to_ascii_lowercase);
                match id.as_deref() {
                    Some(b"array") if self.eat(b"(") => self.array(b')', depth),
                    Some(b"__dir__") => Ok(Value::Str(String::new())),
                    Some(b"true" | b"false" | b"null") => Ok(Value::Other),
                    _ => self.err(),
                }
            }
        }
    }

    /// A value: operands joined by `.` (only `__DIR__ . '/x'` in practice).
    fn value(&mut self, depth: usize) -> Result<Value, InstalledError> {
        let mut v = self.operand(depth)?;
        while self.eat(b".") {
            let rhs = self.operand(depth)?;
            v = match (v, rhs) {
                (Value::Str(a), Value::Str(b)) => Value::Str(a + &b),
                _ => Value::Other,
            };
        }
        Ok(v)
    }

    fn array(&mut self, close: u8, depth: usize) -> Result<Value, InstalledError> {
        if depth >= MAX_DEPTH {
            return Err(InstalledError::TooDeep);
        }
        let mut items = Vec::new();
        loop {
            if self.eat(&[close]) {
                return Ok(Value::Array(items));
            }
            let first = self.value(depth + 1)?;
            let item = if self.eat(b"=>") {
                let key = match first {
                    Value::Str(s) => Some(s),
                    _ => None,
                };
                (key, self.value(depth + 1)?)
            } else {
                (None, first)
            };
            items.push(item);
            if !self.eat(b",") {
                if self.eat(&[close]) {
                    return Ok(Value::Array(items));
                }
                return self.err();
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn get<'v>(items: &'v [(Option<String>, Value)], key: &str) -> Option<&'v Value> {
    items
        .iter()
        .find(|(k, _)| k.as_deref() == Some(key))
        .map(|(_, v)| v)
}

/// The packages `vendor/composer/installed.php` lists, as New Relic reports
/// them: every package with a `pretty_version` (a leading `v` removed)
/// except the root package itself.
pub fn parse_installed_php(text: &str) -> Result<Vec<(String, String)>, InstalledError> {
    let s = text.as_bytes();
    let mut p = Parser { s, i: 0 };
    p.eat(b"<?php");
    if !p.eat(b"return") {
        return p.err();
    }
    let Value::Array(top) = p.value(0)? else {
        return p.err();
    };
    let root = match get(&top, "root") {
        Some(Value::Array(r)) => match get(r, "name") {
            Some(Value::Str(n)) => Some(n.clone()),
            _ => None,
        },
        _ => None,
    };
    let Some(Value::Array(versions)) = get(&top, "versions") else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (name, data) in versions {
        let (Some(name), Value::Array(data)) = (name, data) else {
            continue;
        };
        if root.as_deref() == Some(name.as_str()) {
            continue;
        }
        if let Some(Value::Str(v)) = get(data, "pretty_version") {
            out.push((name.clone(), v.trim_start_matches('v').to_owned()));
        }
    }
    Ok(out)
}

/// WordPress's version from the source of `wp-includes/version.php`
/// (`$wp_version = '6.1.9';`), read without running it.
pub fn wordpress_version(source: &str) -> Option<String> {
    source.match_indices("$wp_version").find_map(|(at, var)| {
        let rest = source[at + var.len()..].trim_start();
        let rest = rest.strip_prefix('=')?.trim_start();
        let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let body = &rest[1..];
        let v = &body[..body.find(quote)?];
        (!v.is_empty() && v.len() < 64).then(|| v.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTALLED: &str = r#"<?php return array(
    'root' => array(
        'name' => 'acme/shop',
        'pretty_version' => 'dev-main',
        'version' => 'dev-main',
        'reference' => NULL,
        'type' => 'project',
        'install_path' => __DIR__ . '/../../',
        'aliases' => array(),
        'dev' => true,
    ),
    'versions' => array(
        'acme/shop' => array(
            'pretty_version' => 'dev-main',
            'install_path' => __DIR__ . '/../../',
            'aliases' => array(),
        ),
        'monolog/monolog' => array(
            'pretty_version' => '2.9.1',
            'version' => '2.9.1.0',
            'reference' => 'f259e2b15fb95494c83f52d3caad003bbf5ffaa1',
            'type' => 'library',
            'install_path' => __DIR__ . '/../monolog/monolog',
            'aliases' => array(),
            'dev_requirement' => false,
        ),
        'psr/log-implementation' => array(
            'dev_requirement' => false,
            'provided' => array(
                0 => '1.0.0 || 2.0.0 || 3.0.0',
            ),
        ),
        'symfony/console' => array(
            'pretty_version' => 'v5.4.53',
            'version' => '5.4.53.0',
            'aliases' => array(0 => '5.4.x-dev'),
            'dev_requirement' => false,
        ),
    ),
);
"#;

    #[test]
    fn installed_php_lists_every_package_but_the_root() {
        let got = parse_installed_php(INSTALLED).unwrap();
        assert_eq!(
            got,
            [
                ("monolog/monolog".to_owned(), "2.9.1".to_owned()),
                ("symfony/console".to_owned(), "5.4.53".to_owned()),
            ]
        );
    }

    #[test]
    fn short_array_syntax_and_comments_are_read_too() {
        let src = "<?php\n// generated\nreturn ['root' => ['name' => 'r/r'], /* x */ 'versions' => [\n 'a/b' => ['pretty_version' => \"1.2.3\", 'dev_requirement' => false]]];";
        assert_eq!(
            parse_installed_php(src).unwrap(),
            [("a/b".to_owned(), "1.2.3".to_owned())]
        );
    }

    #[test]
    fn anything_else_is_refused_not_guessed() {
        assert!(parse_installed_php("<?php echo 'hi';").is_err());
        assert!(parse_installed_php("<?php return array('versions' => foo());").is_err());
        assert!(parse_installed_php("<?php return array(").is_err());
        let deep = format!("<?php return {}{};", "[".repeat(40), "]".repeat(40));
        assert_eq!(parse_installed_php(&deep), Err(InstalledError::TooDeep));
    }

    #[test]
    fn wordpress_version_is_read_from_its_source() {
        let src = "<?php\n/**\n * @global string $wp_version\n */\n$wp_version = '6.1.9';\n$wp_db_version = 53496;";
        assert_eq!(wordpress_version(src).as_deref(), Some("6.1.9"));
        assert_eq!(wordpress_version("<?php $x = 1;"), None);
    }

    #[test]
    fn composer_versions_win_and_unknown_versions_are_a_space() {
        let mut p = Packages::default();
        p.add("wordpress", None, PackageSource::Framework);
        assert_eq!(p.to_json().unwrap(), r#"[["wordpress"," ",{}]]"#);
        p.add("wordpress", Some("6.1.9"), PackageSource::Framework);
        p.add(
            "laravel/framework",
            Some("8.83.26"),
            PackageSource::Framework,
        );
        p.add(
            "laravel/framework",
            Some("8.83.27"),
            PackageSource::Composer,
        );
        p.add("laravel/framework", None, PackageSource::Framework);
        assert_eq!(
            p.to_json().unwrap(),
            r#"[["wordpress","6.1.9",{}],["laravel\/framework","8.83.27",{}]]"#
        );
        assert_eq!(
            p.major_version_metrics(false),
            ["Supportability/PHP/package/wordpress/6/detected"]
        );
        assert_eq!(major_version("10.2"), Some("10"));
        assert_eq!(major_version(" "), None);
    }
}
