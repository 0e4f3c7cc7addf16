//! Which callbacks `add_filter` hooks: those whose file lies in a plugin's
//! or theme's directory (every one, with `all_callbacks`), minus files
//! matching `hooks_skip_filename`.
//!
//! WordPress registers about 800 callbacks per page from a couple of
//! hundred files, every request again. A request decides each file once
//! (looked up by the address of its name), and the decision made from the
//! name's text is kept for the process: later requests pay a hash look-up
//! per file instead of searching its path and building its plugin metric.

use crate::config::WordPressHooks;
use crate::hooks::context::Ctx;
use crate::zend::objects::{self, Func};
use rustc_hash::FxHashMap;
use std::rc::Rc;

/// Whether a file's callbacks are hooked (`Some`), with the plugin metric
/// they attach (made once, shared by every call).
pub(super) type Decision = Option<Option<Rc<str>>>;

/// Files remembered per [`Basis`], and bases at most: a page makes two
/// (before and after `WP_PLUGIN_DIR` is defined); the bounds only matter
/// for a process whose settings or paths keep changing.
const MAX_FILES: usize = 4096;
const MAX_BASES: usize = 8;

/// What a decision depends on besides the file.
#[derive(PartialEq)]
struct Basis {
    prefixes: Rc<[String]>,
    skip: String,
    options: WordPressHooks,
}

crate::per_thread! {
    /// Decisions by file name, for each basis they were made under.
    static DECIDED: Vec<(Basis, FxHashMap<Box<[u8]>, Decision>)> = Vec::new();
}

/// The request's view: its prefix lists and the decisions it has used.
#[derive(Default)]
struct Owners {
    /// The prefixes from WordPress's constants, once `WP_PLUGIN_DIR` is
    /// defined.
    prefixes: Option<Rc<[String]>>,
    /// The prefixes before that (WordPress adds its core filters then).
    partial: Option<Partial>,
    /// Decisions by file (`Func::file_key`) under `by_file_for`.
    by_file: FxHashMap<usize, Decision>,
    by_file_for: Option<Rc<[String]>>,
}
crate::hooks::context::lib_state!(Owners);

/// A prefix list made before `WP_PLUGIN_DIR` was defined.
struct Partial {
    /// Whether `WP_CONTENT_DIR` was defined (if not, the list is remade
    /// once it is).
    had_content: bool,
    /// How many constants were defined: while that stays the same, no
    /// constant it depends on can have appeared.
    constants: u32,
    prefixes: Rc<[String]>,
}

/// Whether the callbacks of `func`'s file are hooked.
pub(super) fn decide(
    ctx: &Ctx<'_>,
    func: Func,
    skip: &str,
    options: WordPressHooks,
    prefixes: &Rc<[String]>,
) -> Decision {
    let key = func.file_key();
    let known = ctx
        .with(|s| {
            let st = s.state::<Owners>();
            if !st
                .by_file_for
                .as_ref()
                .is_some_and(|b| Rc::ptr_eq(b, prefixes))
            {
                st.by_file.clear();
                st.by_file_for = Some(Rc::clone(prefixes));
            }
            st.by_file.get(&key).cloned()
        })
        .flatten();
    if let Some(known) = known {
        return known;
    }
    let basis = Basis {
        prefixes: Rc::clone(prefixes),
        skip: skip.to_owned(),
        options,
    };
    let decision = func.with_filename(|name| remembered(name, basis)).flatten();
    if key != 0 {
        ctx.with(|s| {
            let by_file = &mut s.state::<Owners>().by_file;
            if by_file.len() < MAX_FILES {
                by_file.insert(key, decision.clone());
            }
        });
    }
    decision
}

/// The decision for the file `name` under `basis`: the process's, or made
/// now and kept.
fn remembered(name: &[u8], basis: Basis) -> Decision {
    let kept = DECIDED.with(|sets| {
        let (_, files) = sets.iter().find(|(b, _)| *b == basis)?;
        files.get(name).cloned()
    });
    if let Some(Some(decision)) = kept {
        return decision;
    }
    let decision = file_decision(&String::from_utf8_lossy(name), &basis);
    let _ = DECIDED.with(|sets| {
        let i = match sets.iter().position(|(b, _)| *b == basis) {
            Some(i) => i,
            None => {
                if sets.len() >= MAX_BASES {
                    sets.remove(0);
                }
                sets.push((basis, FxHashMap::default()));
                sets.len() - 1
            }
        };
        let files = &mut sets[i].1;
        if files.len() < MAX_FILES {
            files.insert(name.into(), decision.clone());
        }
    });
    decision
}

/// Decides from the file's path.
fn file_decision(file: &str, basis: &Basis) -> Decision {
    if !basis.skip.is_empty() && file.contains(basis.skip.as_str()) {
        return None;
    }
    match owner(file, &basis.prefixes) {
        Some(plugin) => Some(Some(format!("Framework/WordPress/Plugin/{plugin}").into())),
        None if basis.options == WordPressHooks::AllCallbacks => Some(None),
        None => None,
    }
}

/// The plugin or theme `file` belongs to: the directory under one of
/// `prefixes`, or the file name without `.php` for a single-file plugin.
fn owner(file: &str, prefixes: &[String]) -> Option<String> {
    prefixes.iter().find_map(|p| {
        let at = file.find(p.as_str())?;
        let rest = &file[at + p.len()..];
        let seg = rest.split('/').next()?;
        let seg = seg.strip_suffix(".php").unwrap_or(seg);
        (!seg.is_empty()).then(|| seg.to_owned())
    })
}

/// The plugin and theme directories, from WordPress's constants (read once
/// per request once WordPress has defined them), then the conventional
/// layout. The same list (the same `Rc`) is returned until a constant it
/// depends on appears; before that, the constants are read again only
/// when any constant has been defined since.
pub(super) fn plugin_prefixes(ctx: &Ctx<'_>) -> Rc<[String]> {
    let constants = objects::constant_count();
    let known = ctx
        .with(|s| {
            let st = s.state::<Owners>();
            if let Some(p) = &st.prefixes {
                return Some(Rc::clone(p));
            }
            let partial = st.partial.as_ref()?;
            (partial.constants == constants).then(|| Rc::clone(&partial.prefixes))
        })
        .flatten();
    if let Some(p) = known {
        return p;
    }
    let plugin_dir = objects::constant_string("WP_PLUGIN_DIR");
    let content = objects::constant_string("WP_CONTENT_DIR");
    if plugin_dir.is_none() {
        let kept = ctx
            .with(|s| {
                let partial = s.state::<Owners>().partial.as_mut()?;
                if !partial.had_content && content.is_some() {
                    return None;
                }
                partial.constants = constants;
                Some(Rc::clone(&partial.prefixes))
            })
            .flatten();
        if let Some(p) = kept {
            return p;
        }
    }
    let complete = plugin_dir.is_some();
    let had_content = content.is_some();
    let p = prefixes_from(plugin_dir, content);
    ctx.with(|s| {
        let st = s.state::<Owners>();
        if complete {
            st.prefixes = Some(Rc::clone(&p));
        } else {
            st.partial = Some(Partial {
                had_content,
                constants,
                prefixes: Rc::clone(&p),
            });
        }
    });
    p
}

/// The prefix list for the constants' values, each ending in `/`.
fn prefixes_from(plugin_dir: Option<String>, content: Option<String>) -> Rc<[String]> {
    let mut p = Vec::new();
    if let Some(d) = plugin_dir {
        p.push(d);
    }
    if let Some(c) = &content {
        p.push(format!("{c}/plugins"));
        p.push(format!("{c}/themes"));
    }
    p.push("/wp-content/plugins".to_owned());
    p.push("/wp-content/themes".to_owned());
    p.into_iter()
        .map(|d| format!("{}/", d.trim_end_matches('/')))
        .collect()
}

/// Releases the process's decisions (MSHUTDOWN).
pub(super) fn forget() {
    let _ = DECIDED.with(|sets| *sets = Vec::new());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_belong_to_the_plugin_directory_they_live_in() {
        let p: Vec<String> = [
            "/var/lib/wordpress/wp-content/plugins/",
            "/var/lib/wordpress/wp-content/themes/",
            "/wp-content/plugins/",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            owner(
                "/var/lib/wordpress/wp-content/plugins/akismet/class.akismet.php",
                &p
            )
            .as_deref(),
            Some("akismet")
        );
        assert_eq!(
            owner("/var/lib/wordpress/wp-content/plugins/hello.php", &p).as_deref(),
            Some("hello")
        );
        assert_eq!(
            owner(
                "/usr/share/wordpress/wp-content/plugins/akismet/akismet.php",
                &p
            )
            .as_deref(),
            Some("akismet")
        );
        assert_eq!(
            owner(
                "/var/lib/wordpress/wp-content/themes/twentytwentythree/functions.php",
                &p
            )
            .as_deref(),
            Some("twentytwentythree")
        );
        assert_eq!(
            owner("/usr/share/wordpress/wp-includes/plugin.php", &p),
            None
        );
    }

    #[test]
    fn the_prefix_list_ends_each_directory_with_a_slash() {
        let p = prefixes_from(
            Some("/srv/wp/wp-content/plugins/".into()),
            Some("/srv/wp/wp-content".into()),
        );
        assert_eq!(
            &*p,
            [
                "/srv/wp/wp-content/plugins/",
                "/srv/wp/wp-content/plugins/",
                "/srv/wp/wp-content/themes/",
                "/wp-content/plugins/",
                "/wp-content/themes/",
            ]
        );
    }
}
