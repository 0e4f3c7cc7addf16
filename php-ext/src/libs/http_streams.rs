//! PHP's http(s) stream wrapper: `file_get_contents($url)` (as New Relic's
//! agent instruments it) and `fopen($url)` (the request is made when the
//! stream opens; reading the body afterwards is not part of the segment)
//! are external segments when the URL starts with `http`, library
//! `file_get_contents` or `fopen`, method the context's `http.method`
//! (else `GET`). The status is not known to these calls (0, as New Relic
//! reports it).
//!
//! With distributed tracing on, the trace headers go into the request
//! through its stream context: the context given, else PHP's default
//! context (which the call uses when given none). Our lines are put before
//! the user's `http.header` (a string or an array) for the call and the
//! user's value is put back afterwards; a context without `http.header`
//! is left with an empty one.

use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, Hook, Library, Target};
use crate::zend::call::{self as php, Arg, Value};
use crate::zend::zval::{array_each, Key, Val};
use seraph_txn::ExternalCall;

/// The http stream functions' rows.
pub static LIBRARY: Library = Library {
    name: "http streams",
    hooks: &[
        Hook::new(Target::Function("file_get_contents"))
            .before(before_file_get_contents)
            .after(after)
            .metric("Supportability/InstrumentedFunction/file_get_contents"),
        Hook::new(Target::Function("fopen"))
            .before(before_fopen)
            .after(after),
    ],
};

/// The user's `http.header` option, to put back.
#[derive(Clone, Debug)]
enum Header {
    Absent,
    Text(String),
    Lines(Vec<String>),
}

/// A call in progress (innermost last).
#[derive(Clone, Debug)]
struct Open {
    url: String,
    library: &'static str,
    method: String,
    /// The context argument's position, or `None` for the default context.
    context_arg: Option<u32>,
    /// What to restore, when headers were added.
    header: Option<Header>,
}

#[derive(Default)]
struct Calls(Vec<Open>);
crate::hooks::context::lib_state!(Calls);

fn before_file_get_contents(call: &Call, ctx: &Ctx<'_>) -> Before {
    before(call, ctx, "file_get_contents", 3)
}

fn before_fopen(call: &Call, ctx: &Ctx<'_>) -> Before {
    before(call, ctx, "fopen", 4)
}

fn before(call: &Call, ctx: &Ctx<'_>, library: &'static str, context_pos: u32) -> Before {
    let Some(url) = call.arg_string(1).filter(|u| u.starts_with("http")) else {
        return Before::default();
    };
    let context_arg = (!matches!(call.arg(context_pos), Val::Null)).then_some(context_pos);
    // Enter first: the headers name the external call's own span.
    let Some((start, dt)) = ctx.start_outbound() else {
        return Before::default();
    };
    let (method, header) = ctx.quietly(|| {
        let mut target = match context_arg {
            Some(n) => ContextRef::Arg(call.arg_ptr(n)),
            None => match php::function("stream_context_get_default", &[]) {
                Ok(v) => ContextRef::Owned(v),
                Err(_) => return ("GET".to_owned(), None),
            },
        };
        let (method, original) = read_options(&mut target);
        let header = (!dt.is_empty()).then(|| {
            set_header(&mut target, &with_trace_headers(&original, &dt));
            original
        });
        (method.unwrap_or_else(|| "GET".to_owned()), header)
    });
    ctx.with(|s| {
        s.state::<Calls>().0.push(Open {
            url,
            library,
            method,
            context_arg,
            header,
        })
    });
    Before {
        start: Some(start),
        bailed: false,
    }
}

/// The context to read and change: the call's argument, or the default
/// context a call returned.
enum ContextRef {
    Arg(*mut crate::zend::ffi::zval),
    Owned(Value),
}

impl ContextRef {
    fn arg(&mut self) -> Arg<'_> {
        match self {
            ContextRef::Arg(p) => Arg::Zval(*p),
            ContextRef::Owned(v) => v.as_arg(),
        }
    }
}

/// The context's `http.method` and `http.header`.
fn read_options(target: &mut ContextRef) -> (Option<String>, Header) {
    let Ok(options) = php::function("stream_context_get_options", &[target.arg()]) else {
        return (None, Header::Absent);
    };
    let (mut method, mut header) = (None, Header::Absent);
    let Val::Array(all) = options.get() else {
        return (None, Header::Absent);
    };
    // SAFETY: arrays we own, not modified while iterated.
    unsafe {
        array_each(all, |k, v| {
            let (Key::Str(k), Val::Array(http)) = (k, v) else {
                return;
            };
            if k != "http" {
                return;
            }
            array_each(http, |k, v| match (k, v) {
                (Key::Str(k), v) if k == "method" => method = v.string(),
                (Key::Str(k), Val::Str(s)) if k == "header" => {
                    header = Header::Text(String::from_utf8_lossy(s).into_owned())
                }
                (Key::Str(k), Val::Array(lines)) if k == "header" => {
                    let mut v = Vec::new();
                    array_each(lines, |_, l| v.extend(l.string()));
                    header = Header::Lines(v);
                }
                _ => {}
            });
        })
    };
    (method, header)
}

/// The header option with our lines first.
fn with_trace_headers(original: &Header, dt: &[(String, String)]) -> Header {
    let ours: Vec<String> = dt.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    match original {
        Header::Absent => Header::Text(ours.join("\r\n")),
        Header::Text(t) if t.is_empty() => Header::Text(ours.join("\r\n")),
        Header::Text(t) => Header::Text(format!("{}\r\n{t}", ours.join("\r\n"))),
        Header::Lines(l) => Header::Lines(ours.into_iter().chain(l.iter().cloned()).collect()),
    }
}

fn set_header(target: &mut ContextRef, header: &Header) {
    let value = match header {
        Header::Absent => Arg::Str(""),
        Header::Text(t) => Arg::Str(t),
        Header::Lines(l) => Arg::StrList(l),
    };
    let ctx_arg = target.arg();
    let _ = php::function(
        "stream_context_set_option",
        &[ctx_arg, Arg::Str("http"), Arg::Str("header"), value],
    );
}

fn after(call: &Call, ctx: &Ctx<'_>, before: Before) {
    if before.start.is_none() {
        return;
    }
    let Some(open) = ctx.with(|s| s.state::<Calls>().0.pop()).flatten() else {
        return;
    };
    if let Some(original) = &open.header {
        ctx.quietly(|| {
            let mut target = match open.context_arg {
                Some(n) => ContextRef::Arg(call.arg_ptr(n)),
                None => match php::function("stream_context_get_default", &[]) {
                    Ok(v) => ContextRef::Owned(v),
                    Err(_) => return,
                },
            };
            set_header(&mut target, original);
        });
    }
    ctx.end_external(ExternalCall {
        url: open.url,
        library: open.library.to_owned(),
        procedure: open.method,
        status: None,
    });
}
