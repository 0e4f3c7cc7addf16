//! The instrumentation table: which library hooks which functions, and how.
//!
//! Each instrumented library is one module under `crate::libs` that
//! declares one [`Library`]: its name and its rows of [`Hook`]s (a target,
//! what runs before and after the call, the supportability metric, and
//! whether the hook records its own segment). [`LIBRARIES`] lists them all;
//! adding a library is one file plus one line there. The machinery that
//! applies the rows is generic:
//!
//! * an **internal** target (a function of a PHP extension: PDO, curl,
//!   mysqli, …) gets its handler swapped for a wrapper on the first
//!   request, if the extension is loaded (`hooks::wrap`); a library whose
//!   extension is absent costs nothing;
//! * a **class** target (every method of an internal class, such as
//!   `Redis`) is expanded on that first request into the class's methods
//!   that no other row names;
//! * a **user** target (PHP code: a framework's router, Predis, Guzzle) is
//!   matched by name when the Zend observer first sees the function, and
//!   gets begin/end handlers that run the hook (`hooks::user`);
//! * a **file** target (a path suffix) runs its hook once per request,
//!   when code of a matching file first runs: how frameworks are detected.
//!
//! A framework's module declares a [`FrameworkLibrary`] instead, listed in
//! [`FRAMEWORKS`]: its file rows detect the framework (the first framework
//! detected in a request wins, unless `newrelic.framework` forces one), and
//! its other rows run only in requests of that framework (`hooks::framework`).

use super::call::Call;
use super::context::Ctx;
use seraph_txn::{Framework, Ticks};

/// What a library hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A global function (lower-case name, namespace included).
    Function(&'static str),
    /// A method: lower-case class name (namespace included, no leading
    /// backslash) and lower-case method name.
    Method(&'static str, &'static str),
    /// Every method an internal class declares (lower-case class name), but
    /// those a `Method` row names (their own row applies) and those the
    /// row's [`Hook::except`] lists: how phpredis's hundreds of commands
    /// are one row. The hook tells the methods apart by
    /// [`Call::method_name`].
    Class(&'static str),
    /// A file whose path ends with this suffix (`/wp-includes/version.php`):
    /// its row runs once per request, when the file's own code or the first
    /// of its functions runs (how frameworks are detected).
    File(&'static str),
    /// A callback another hook registers at run time
    /// (`Ctx::hook_callback`); the text says what it is. Such rows are not
    /// listed in a library's table.
    Callback(&'static str),
}

/// What a hook's `before` step hands to its `after` step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Before {
    /// The hook opened a segment at this time ([`Ctx::start_segment`]).
    pub start: Option<Ticks>,
    /// A call the hook made into PHP bailed out; the wrapper re-raises it
    /// once the call is finished.
    pub bailed: bool,
}

/// Runs before the hooked call.
pub type BeforeFn = fn(&Call, &Ctx<'_>) -> Before;
/// Runs after the hooked call (also when it threw: [`Call::threw`]).
pub type AfterFn = fn(&Call, &Ctx<'_>, Before);
/// Runs when a file a row names is first seen in a request, with its path.
pub type FileFn = fn(&str, &Ctx<'_>);

/// Whether a user-function hook records the function's own segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment {
    /// The hook records its own (a datastore or external call): the
    /// ordinary function segment is not recorded.
    Own,
    /// The function is traced like any other user function; the hook only
    /// adds to it (names the transaction, times a framework hook).
    Function,
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Hook {
    /// What is hooked.
    pub target: Target,
    /// Runs before the call.
    pub before: Option<BeforeFn>,
    /// Runs after the call.
    pub after: Option<AfterFn>,
    /// For file rows: runs when the file is first seen in a request.
    pub on_file: Option<FileFn>,
    /// `Supportability/InstrumentedFunction/<…>`, counted per call, where
    /// New Relic's agent counts one.
    pub metric: Option<&'static str>,
    /// For user functions: whose segment is recorded.
    pub segment: Segment,
    /// For `Class` targets: lower-case methods left alone.
    pub except: &'static [&'static str],
    /// For file rows of a framework's table: whether the file detects the
    /// framework (true unless [`Hook::no_detect`]).
    pub detects: bool,
}

impl Hook {
    /// A row for an internal function or method, with the usual defaults.
    pub const fn new(target: Target) -> Hook {
        Hook {
            target,
            before: None,
            after: None,
            on_file: None,
            metric: None,
            segment: Segment::Own,
            except: &[],
            detects: true,
        }
    }

    /// For a `Class` target: methods (lower-case) not to hook.
    pub const fn except(mut self, methods: &'static [&'static str]) -> Hook {
        self.except = methods;
        self
    }

    /// A file row of a framework's table that does not detect the framework
    /// (it only reads something once the framework is known).
    pub const fn no_detect(mut self) -> Hook {
        self.detects = false;
        self
    }

    /// Sets the step run before the call.
    pub const fn before(mut self, f: BeforeFn) -> Hook {
        self.before = Some(f);
        self
    }

    /// Sets the step run after the call.
    pub const fn after(mut self, f: AfterFn) -> Hook {
        self.after = Some(f);
        self
    }

    /// Sets what runs when a file row's file is first seen.
    pub const fn on_file(mut self, f: FileFn) -> Hook {
        self.on_file = Some(f);
        self
    }

    /// Sets the supportability metric counted per call.
    pub const fn metric(mut self, name: &'static str) -> Hook {
        self.metric = Some(name);
        self
    }

    /// Keeps the ordinary segment of a hooked user function.
    pub const fn traced(mut self) -> Hook {
        self.segment = Segment::Function;
        self
    }
}

/// An instrumented library: a name (for logs and docs) and its rows.
#[derive(Debug)]
pub struct Library {
    /// `PDO`, `curl`, `mysqli`, …
    pub name: &'static str,
    /// Its hooks.
    pub hooks: &'static [Hook],
}

/// A framework's instrumentation: its rows, gated to requests of that
/// framework, and what runs once when a request is found (or forced) to
/// use it.
#[derive(Debug)]
pub struct FrameworkLibrary {
    /// The framework.
    pub framework: Framework,
    /// Its rows: file rows detect it, the others run only in its requests.
    pub library: Library,
    /// Runs when the request is found to use the framework (a first name,
    /// a package).
    pub on_detect: Option<fn(&Ctx<'_>)>,
}

/// Every instrumented library. One line per library.
pub static LIBRARIES: &[&Library] = &[
    &crate::libs::pdo::LIBRARY,
    &crate::libs::mysqli::LIBRARY,
    &crate::libs::redis::LIBRARY,
    &crate::libs::memcached::LIBRARY,
    &crate::libs::memcache::LIBRARY,
    &crate::libs::pgsql::LIBRARY,
    &crate::libs::sqlite3::LIBRARY,
    &crate::libs::predis::LIBRARY,
    &crate::libs::curl::LIBRARY,
    &crate::libs::curl_multi::LIBRARY,
    &crate::libs::http_streams::LIBRARY,
    &crate::libs::soap::LIBRARY,
    &crate::libs::guzzle::LIBRARY,
    &crate::libs::amqplib::LIBRARY,
    &crate::libs::pcntl::LIBRARY,
    &crate::libs::monolog::LIBRARY,
    &crate::libs::composer::LIBRARY,
];

/// Every instrumented framework. One line per framework.
pub static FRAMEWORKS: &[&FrameworkLibrary] = &[
    &crate::libs::wordpress::FRAMEWORK,
    &crate::libs::laravel::FRAMEWORK,
    &crate::libs::symfony::FRAMEWORK,
    &crate::libs::slim::FRAMEWORK,
    &crate::libs::mediawiki::FRAMEWORK,
    &crate::libs::drupal::FRAMEWORK,
];

/// Every row of every library and framework, with its library.
pub fn rows() -> impl Iterator<Item = (&'static Library, &'static Hook)> {
    LIBRARIES
        .iter()
        .copied()
        .chain(FRAMEWORKS.iter().map(|f| &f.library))
        .flat_map(|lib| lib.hooks.iter().map(move |h| (lib, h)))
}

/// The framework a library instruments, if it is a framework's.
pub fn framework_of(lib: &'static Library) -> Option<&'static FrameworkLibrary> {
    FRAMEWORKS
        .iter()
        .copied()
        .find(|f| std::ptr::eq(&f.library, lib))
}

/// What is wrong with a set of rows: a target that is not lower-case, a
/// class written with a leading backslash, or a target hooked twice (the
/// second row would never run). Checked once per process by
/// `wrap::install`; a debug build refuses such a table outright.
pub fn problems<'a>(rows: impl Iterator<Item = (&'a Library, &'a Hook)>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (lib, h) in rows {
        let key = match h.target {
            Target::Function(f) => f.to_owned(),
            Target::Method(c, m) => format!("{c}::{m}"),
            Target::Class(c) => format!("class:{c}"),
            Target::File(p) => format!("file:{p}"),
            Target::Callback(c) => {
                out.push(format!("{}: callback row {c} in the table", lib.name));
                continue;
            }
        };
        if !matches!(h.target, Target::File(_)) {
            if key != key.to_ascii_lowercase() {
                out.push(format!("{}: {key} is not lower-case", lib.name));
            }
            if key.starts_with('\\') {
                out.push(format!("{}: {key} starts with a backslash", lib.name));
            }
        }
        if !seen.insert(key.clone()) {
            out.push(format!("{}: {key} is hooked twice", lib.name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // The real table cannot be linked into the unit-test binary (its hooks
    // name engine symbols); every PHP test run checks it instead (see
    // `problems`). These rows have no hook functions.
    static GOOD: Library = Library {
        name: "good",
        hooks: &[
            Hook::new(Target::Function("f")),
            Hook::new(Target::Method("ns\\c", "m")),
            Hook::new(Target::File("/Wp-Load.php")),
        ],
    };
    static BAD: Library = Library {
        name: "bad",
        hooks: &[
            Hook::new(Target::Function("F")),
            Hook::new(Target::Method("\\ns\\c", "m")),
            Hook::new(Target::Function("f")),
        ],
    };

    fn rows(lib: &'static Library) -> impl Iterator<Item = (&'static Library, &'static Hook)> {
        lib.hooks.iter().map(move |h| (lib, h))
    }

    #[test]
    fn a_well_formed_table_has_no_problems() {
        assert!(problems(rows(&GOOD)).is_empty());
    }

    #[test]
    fn case_backslashes_and_duplicates_are_refused() {
        let p = problems(rows(&GOOD).chain(rows(&BAD)));
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("F is not lower-case"));
        assert!(p[1].contains("starts with a backslash"));
        assert!(p[2].contains("f is hooked twice"));
    }
}
