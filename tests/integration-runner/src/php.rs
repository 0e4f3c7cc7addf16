//! The PHP side: finding out what the PHP binaries need, and building the
//! command line and environment of a CLI run or a CGI request
//! (tests/integration/README.md §4.4).
//!
//! PHP always runs with `-n` (no php.ini), so every test sees PHP's
//! built-in defaults (display_errors to stdout, error_reporting E_ALL,
//! variables_order EGPCS) whatever the machine's php.ini says. The shared
//! extensions the machine's configuration would load (PDO, SQLite, curl…,
//! found in the ini files `php --ini` lists) are loaded explicitly with
//! `-d extension=…`, in the same order, so tests still have them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::process::{self, Spawn};

/// Why PHP cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PhpError {
    /// A probe command could not run.
    #[error("cannot run {command}: {source}")]
    Run {
        /// The command.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// A probe command failed.
    #[error("{command} failed: {output}")]
    Failed {
        /// The command.
        command: String,
        /// Its output.
        output: String,
    },
    /// The agent does not load as module `newrelic`.
    #[error("the agent {0} does not load as module 'newrelic' (phpversion('newrelic') is empty)")]
    AgentNotLoaded(String),
}

/// OPcache handling (§4.4): on by default like New Relic's runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcache {
    /// `opcache.enable=1`, `opcache.enable_cli=1`, loaded if needed.
    On,
    /// `opcache.enable=0`, `opcache.enable_cli=0`, not loaded.
    Off,
}

/// What every PHP command line is built from.
#[derive(Debug, Clone)]
pub struct PhpSetup {
    /// The CLI binary.
    pub php: PathBuf,
    /// The CGI binary.
    pub cgi: PathBuf,
    /// The agent, absolute.
    pub agent: PathBuf,
    /// `extension=…` / `zend_extension=…` lines of the machine's ini files,
    /// OPcache excluded.
    pub modules: Vec<String>,
    /// The `zend_extension=` line that loads OPcache, when available.
    pub opcache_line: Option<String>,
    /// OPcache is built in (present under `-n`).
    pub opcache_preloaded: bool,
    /// OPcache mode.
    pub opcache: Opcache,
    /// `PHP_VERSION`.
    pub php_version: String,
    /// `phpversion('newrelic')`.
    pub agent_version: String,
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

fn probe(program: &Path, args: &[&str]) -> Result<String, PhpError> {
    let spawn = Spawn {
        program: program.to_path_buf(),
        args: args.iter().map(Into::into).collect(),
        env: std::env::vars().collect(),
        cwd: std::env::temp_dir(),
        merge_output: false,
        stdin: Vec::new(),
    };
    let command = spawn.display();
    let f = process::run(&spawn, PROBE_TIMEOUT).map_err(|source| PhpError::Run {
        command: command.clone(),
        source,
    })?;
    if f.timed_out || !f.status.is_some_and(|s| s.success()) {
        return Err(PhpError::Failed {
            command,
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&f.stdout),
                String::from_utf8_lossy(&f.stderr)
            ),
        });
    }
    Ok(String::from_utf8_lossy(&f.stdout).into_owned())
}

/// Ini files named in `php --ini` output: the loaded php.ini, then every
/// file of the scan directory in name order.
fn ini_files(ini_output: &str) -> Vec<PathBuf> {
    // PHP 8.5 quotes the paths.
    let value = |v: &str| v.trim().trim_matches('"').to_owned();
    let mut files = Vec::new();
    for line in ini_output.lines() {
        if let Some(v) = line.strip_prefix("Loaded Configuration File:") {
            let v = value(v);
            if v != "(none)" && !v.is_empty() {
                files.push(PathBuf::from(v));
            }
        } else if let Some(v) = line.strip_prefix("Scan for additional .ini files in:") {
            let v = value(v);
            if v == "(none)" || v.is_empty() {
                continue;
            }
            for dir in v.split(':') {
                let Ok(entries) = std::fs::read_dir(dir) else {
                    continue;
                };
                let mut found: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "ini"))
                    .collect();
                found.sort();
                files.extend(found);
            }
        }
    }
    files
}

/// `extension=` and `zend_extension=` lines of an ini file, normalised to
/// `key=value` with quotes removed.
pub fn extension_lines(ini: &str) -> Vec<String> {
    ini.lines()
        .filter_map(|line| {
            let line = line.split(';').next().unwrap_or("").trim();
            let (k, v) = line.split_once('=')?;
            let k = k.trim();
            if k != "extension" && k != "zend_extension" {
                return None;
            }
            let v = v.trim().trim_matches('"').trim_matches('\'');
            (!v.is_empty()).then(|| format!("{k}={v}"))
        })
        .collect()
}

fn is_opcache(line: &str) -> bool {
    line.contains("opcache")
}

impl PhpSetup {
    /// Probes `php` and `php-cgi` and loads `agent` once to read its
    /// version.
    pub fn discover(
        php: &Path,
        cgi: &Path,
        agent: &Path,
        opcache: Opcache,
    ) -> Result<PhpSetup, PhpError> {
        let agent = std::path::absolute(agent).unwrap_or_else(|_| agent.to_path_buf());
        let mut modules = Vec::new();
        let mut opcache_line = None;
        let ini = probe(php, &["--ini"])?;
        for file in ini_files(&ini) {
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            for line in extension_lines(&text) {
                if is_opcache(&line) {
                    opcache_line.get_or_insert(line);
                } else if !modules.contains(&line) {
                    modules.push(line);
                }
            }
        }
        let bare_modules = probe(php, &["-n", "-m"])?;
        let opcache_preloaded = bare_modules.lines().any(|l| l.trim() == "Zend OPcache");
        let php_version = probe(php, &["-n", "-r", "echo PHP_VERSION;"])?
            .trim()
            .to_owned();
        let agent_arg = format!("extension={}", agent.display());
        let agent_version = probe(
            php,
            &[
                "-n",
                "-d",
                &agent_arg,
                "-d",
                "newrelic.daemon.dont_launch=3",
                "-r",
                "echo phpversion('newrelic');",
            ],
        )?
        .trim()
        .to_owned();
        if agent_version.is_empty() {
            return Err(PhpError::AgentNotLoaded(agent.display().to_string()));
        }
        Ok(PhpSetup {
            php: php.to_path_buf(),
            cgi: cgi.to_path_buf(),
            agent,
            modules,
            opcache_line,
            opcache_preloaded,
            opcache,
            php_version,
            agent_version,
        })
    }

    /// The `-n -d …` arguments for `settings` (merged runner + test
    /// settings, appname included) and the test's PHPMODULES.
    pub fn args(&self, settings: &Settings, php_modules: &[(String, String)]) -> Vec<String> {
        let mut args = vec!["-n".to_owned()];
        let mut d = |v: String| {
            args.push("-d".to_owned());
            args.push(v);
        };
        for m in &self.modules {
            d(m.clone());
        }
        match self.opcache {
            Opcache::On => {
                if !self.opcache_preloaded {
                    if let Some(line) = &self.opcache_line {
                        d(line.clone());
                    }
                }
            }
            Opcache::Off => {}
        }
        // PHPMODULES: OPcache entries are the runner's business; the others
        // only apply with OPcache preloaded (New Relic's rule).
        if self.opcache_preloaded {
            for (k, v) in php_modules {
                if !v.contains("opcache.so") && !k.contains("opcache.so") {
                    d(format!("{k}={v}"));
                }
            }
        }
        d(format!("extension={}", self.agent.display()));
        let mut settings = settings.clone();
        let (flag, default) = match self.opcache {
            Opcache::On => (false, "1"),
            Opcache::Off => (true, "0"),
        };
        for key in ["opcache.enable", "opcache.enable_cli"] {
            if flag || settings.get(key).is_none() {
                settings.set(key, default);
            }
        }
        for (k, v) in settings.iter() {
            d(format!("{k}={v}"));
        }
        args
    }
}

/// Ordered INI settings where a later `set` of the same name replaces the
/// earlier value in place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings(Vec<(String, String)>);

impl Settings {
    /// Sets `key`.
    pub fn set(&mut self, key: &str, value: &str) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value.to_owned(),
            None => self.0.push((key.to_owned(), value.to_owned())),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `self` with `over` applied on top.
    pub fn merged(&self, over: &[(String, String)]) -> Settings {
        let mut s = self.clone();
        for (k, v) in over {
            s.set(k, v);
        }
        s
    }
}

/// Quotes an INI value for `-d name=value` when PHP's INI parser would
/// otherwise read operators or comments in it.
pub fn ini_quote(value: &str) -> String {
    format!("\"{}\"", value.replace('"', ""))
}

/// The CGI/1.1 variables of a request for `script` (absolute path) with
/// `method`, `query`, `headers` — as Go's CGI handler sets them for New
/// Relic's runner (host 127.0.0.1, `REQUEST_URI=/<basename>?<query>`).
/// `overrides` (the test's ENVIRONMENT) are applied last; `PATH_INFO`
/// defaults to `REQUEST_URI` when the test sets only the latter.
pub fn cgi_env(
    script: &Path,
    method: &str,
    query: &str,
    headers: &[(String, String)],
    overrides: &[(String, String)],
) -> Vec<(String, String)> {
    let base = script
        .file_name()
        .map(|b| b.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut env: Vec<(String, String)> = vec![
        ("SERVER_SOFTWARE".into(), "go".into()),
        ("SERVER_NAME".into(), "127.0.0.1".into()),
        ("SERVER_PROTOCOL".into(), "HTTP/1.1".into()),
        ("HTTP_HOST".into(), "127.0.0.1".into()),
        ("GATEWAY_INTERFACE".into(), "CGI/1.1".into()),
        ("REQUEST_METHOD".into(), method.into()),
        ("QUERY_STRING".into(), query.into()),
        ("REQUEST_URI".into(), format!("/{base}?{query}")),
        ("PATH_INFO".into(), format!("/{base}")),
        ("SERVER_PORT".into(), "80".into()),
    ];
    for (name, value) in headers {
        let key = format!("HTTP_{}", name.to_ascii_uppercase().replace('-', "_"));
        if name.eq_ignore_ascii_case("Content-Type") {
            env.push(("CONTENT_TYPE".into(), value.clone()));
        }
        env.push((key, value.clone()));
    }
    env.push(("SCRIPT_FILENAME".into(), script.display().to_string()));
    env.push(("SCRIPT_NAME".into(), format!("/{base}")));
    env.push(("REDIRECT_STATUS".into(), "200".into()));
    env.extend(overrides.iter().cloned());
    let has = |k: &str| overrides.iter().any(|(o, _)| o == k);
    if has("REQUEST_URI") && !has("PATH_INFO") {
        if let Some((_, uri)) = overrides.iter().rev().find(|(k, _)| k == "REQUEST_URI") {
            env.push(("PATH_INFO".into(), uri.clone()));
        }
    }
    dedup_last_wins(env)
}

/// Keeps the last value of each variable, in first-appearance order.
pub fn dedup_last_wins(env: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(env.len());
    for (k, v) in env {
        match out.iter_mut().find(|(o, _)| *o == k) {
            Some(slot) => slot.1 = v,
            None => out.push((k, v)),
        }
    }
    out
}

/// A CGI response split into its header lines and body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgiResponse {
    /// Header lines as (name, value), `Status` included.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Splits php-cgi's output at the first empty line. Output without a
/// header block (a crash before any header) is all body.
pub fn parse_cgi_response(out: &[u8]) -> CgiResponse {
    let mut pos = 0;
    let mut headers = Vec::new();
    loop {
        let Some(nl) = out[pos..].iter().position(|&b| b == b'\n') else {
            return CgiResponse {
                headers: Vec::new(),
                body: out.to_vec(),
            };
        };
        let line = &out[pos..pos + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos += nl + 1;
        if line.is_empty() {
            return CgiResponse {
                headers,
                body: out[pos..].to_vec(),
            };
        }
        let text = String::from_utf8_lossy(line);
        match text.split_once(':') {
            Some((k, v)) if !k.contains(' ') => {
                headers.push((k.trim().to_owned(), v.trim().to_owned()))
            }
            _ => {
                return CgiResponse {
                    headers: Vec::new(),
                    body: out.to_vec(),
                }
            }
        }
    }
}

/// Go's canonical header-name form (`x-newrelic-id` → `X-Newrelic-Id`).
pub fn canonical_header(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_extension_lines() {
        let ini = "; comment\nextension=pdo.so\n  zend_extension = \"opcache.so\" ; x\n;extension=no\nmemory_limit=1\nextension=\n";
        assert_eq!(
            extension_lines(ini),
            vec!["extension=pdo.so", "zend_extension=opcache.so"]
        );
    }

    #[test]
    fn ini_files_from_php_ini_output() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("20-b.ini"), "").unwrap();
        std::fs::write(dir.path().join("10-a.ini"), "").unwrap();
        std::fs::write(dir.path().join("x.txt"), "").unwrap();
        let out = format!(
            "Configuration File (php.ini) Path: /etc\nLoaded Configuration File:         /etc/php.ini\nScan for additional .ini files in: {}\nAdditional .ini files parsed:      (none)\n",
            dir.path().display()
        );
        let files = ini_files(&out);
        assert_eq!(
            files,
            vec![
                PathBuf::from("/etc/php.ini"),
                dir.path().join("10-a.ini"),
                dir.path().join("20-b.ini")
            ]
        );
        assert!(ini_files(
            "Loaded Configuration File: (none)\nScan for additional .ini files in: (none)"
        )
        .is_empty());
        // PHP 8.5's form.
        let quoted = format!(
            "Loaded Configuration File:         (none)\nScan for additional .ini files in: \"{}\"\n",
            dir.path().display()
        );
        assert_eq!(ini_files(&quoted).len(), 2);
    }

    fn setup(opcache: Opcache, preloaded: bool) -> PhpSetup {
        PhpSetup {
            php: "php".into(),
            cgi: "php-cgi".into(),
            agent: "/a/newrelic.so".into(),
            modules: vec!["extension=pdo.so".into()],
            opcache_line: Some("zend_extension=opcache.so".into()),
            opcache_preloaded: preloaded,
            opcache,
            php_version: "8.2.0".into(),
            agent_version: "1".into(),
        }
    }

    #[test]
    fn command_line_order_and_opcache_rules() {
        let mut s = Settings::default();
        s.set("newrelic.appname", "\"t\"");
        let s = s.merged(&[("opcache.enable_cli".into(), "0".into())]);
        let mods = vec![
            ("zend_extension".into(), "opcache.so".into()),
            ("extension".into(), "x.so".into()),
        ];
        assert_eq!(
            setup(Opcache::On, false).args(&s, &mods).join(" "),
            "-n -d extension=pdo.so -d zend_extension=opcache.so -d extension=/a/newrelic.so -d newrelic.appname=\"t\" -d opcache.enable_cli=0 -d opcache.enable=1"
        );
        assert_eq!(
            setup(Opcache::Off, false).args(&s, &mods).join(" "),
            "-n -d extension=pdo.so -d extension=/a/newrelic.so -d newrelic.appname=\"t\" -d opcache.enable_cli=0 -d opcache.enable=0"
        );
        assert_eq!(
            setup(Opcache::On, true).args(&Settings::default(), &mods).join(" "),
            "-n -d extension=pdo.so -d extension=x.so -d extension=/a/newrelic.so -d opcache.enable=1 -d opcache.enable_cli=1"
        );
    }

    #[test]
    fn settings_override_in_place() {
        let mut s = Settings::default();
        s.set("a", "1");
        s.set("b", "2");
        let m = s.merged(&[("a".into(), "3".into()), ("c".into(), "4".into())]);
        assert_eq!(
            m.iter().collect::<Vec<_>>(),
            vec![("a", "3"), ("b", "2"), ("c", "4")]
        );
        assert_eq!(ini_quote("@x"), "\"@x\"");
    }

    #[test]
    fn cgi_environment_like_go() {
        let env = cgi_env(
            Path::new("/t/web/test_w.php"),
            "GET",
            "a=1",
            &[
                ("X-Request-Start".into(), "t=1".into()),
                ("Content-Type".into(), "text/plain".into()),
            ],
            &[
                ("REQUEST_METHOD".into(), "POST".into()),
                ("REQUEST_URI".into(), "/shop?x".into()),
            ],
        );
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("REQUEST_METHOD"), Some("POST"));
        assert_eq!(get("REQUEST_URI"), Some("/shop?x"));
        assert_eq!(get("PATH_INFO"), Some("/shop?x"));
        assert_eq!(get("SCRIPT_FILENAME"), Some("/t/web/test_w.php"));
        assert_eq!(get("SCRIPT_NAME"), Some("/test_w.php"));
        assert_eq!(get("HTTP_X_REQUEST_START"), Some("t=1"));
        assert_eq!(get("CONTENT_TYPE"), Some("text/plain"));
        assert_eq!(get("REDIRECT_STATUS"), Some("200"));
        assert_eq!(env.iter().filter(|(k, _)| k == "REQUEST_METHOD").count(), 1);
        let plain = cgi_env(Path::new("/t/a.php"), "GET", "", &[], &[]);
        let get = |k: &str| plain.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("REQUEST_URI"), Some("/a.php?"));
        assert_eq!(get("PATH_INFO"), Some("/a.php"));
    }

    #[test]
    fn cgi_response_split() {
        let r = parse_cgi_response(b"Status: 500 Internal Server Error\r\nX-Powered-By: PHP\r\nContent-type: text/html\r\n\r\nbody\n\nmore");
        assert_eq!(r.headers.len(), 3);
        assert_eq!(
            r.headers[0],
            ("Status".into(), "500 Internal Server Error".into())
        );
        assert_eq!(r.body, b"body\n\nmore");
        let r = parse_cgi_response(b"PHP Fatal error: boom\n");
        assert!(r.headers.is_empty());
        assert_eq!(r.body, b"PHP Fatal error: boom\n");
    }

    #[test]
    fn header_names_are_canonicalised() {
        assert_eq!(
            canonical_header("x-newrelic-app-data"),
            "X-Newrelic-App-Data"
        );
        assert_eq!(canonical_header("CONTENT-type"), "Content-Type");
    }
}
