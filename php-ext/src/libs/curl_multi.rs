//! curl_multi: every handle run by a `curl_multi` is an external segment
//! of its own, as New Relic's agent records them:
//!
//! * the first `curl_multi_exec` starts every handle added so far (a
//!   handle added later starts when it is added): its start time is
//!   noted, a span id reserved, and its trace headers merged into its
//!   `CURLOPT_HTTPHEADER` (the user's own headers kept, as for
//!   `curl_exec`);
//! * after each `curl_multi_exec`, a handle whose response code is known
//!   (`curl_getinfo`, not `curl_multi_info_read`, which would take the
//!   application's messages) is finished; when the multi has nothing left
//!   running, the rest are finished too;
//! * the finished calls are recorded, when the multi completes (or is
//!   closed), under one `curl_multi_exec` segment that spans from the
//!   first `curl_multi_exec` to the last, as New Relic's agent groups them;
//! * `curl_multi_remove_handle` drops a handle that had not finished;
//!   handles another library measures (Guzzle) are left alone.

use super::curl::{is_delegated, merged_lines, Handles};
use crate::hooks::call::{object_handle, Call};
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, Hook, Library, Target};
use crate::zend::call::{self as php, Arg, Obj};
use crate::zend::zval::Val;
use seraph_txn::{ExternalCall, Ticks};
use std::collections::HashMap;

/// curl_multi's rows.
pub static LIBRARY: Library = Library {
    name: "curl_multi",
    hooks: &[
        Hook::new(Target::Function("curl_multi_init")).after(after_init),
        Hook::new(Target::Function("curl_multi_add_handle"))
            .after(after_add)
            .metric("Supportability/InstrumentedFunction/curl_multi_add_handle"),
        Hook::new(Target::Function("curl_multi_remove_handle"))
            .before(before_remove)
            .metric("Supportability/InstrumentedFunction/curl_multi_remove_handle"),
        Hook::new(Target::Function("curl_multi_exec"))
            .before(before_exec)
            .after(after_exec)
            .metric("Supportability/InstrumentedFunction/curl_multi_exec"),
        Hook::new(Target::Function("curl_multi_close")).before(before_close),
    ],
};

const CURLOPT_HTTPHEADER: i64 = 10023;
const CURLINFO_RESPONSE_CODE: i64 = 0x200002;

/// A handle in a multi. `obj` stays valid while the handle is in the
/// multi (the multi holds a reference to it).
#[derive(Clone, Debug)]
struct Member {
    handle: u32,
    obj: *mut crate::zend::ffi::zend_object,
    /// Start time and reserved span id, once started.
    started: Option<(Ticks, Option<String>)>,
}

/// A finished call, waiting for its multi to complete.
#[derive(Clone, Debug)]
struct Done {
    start: Ticks,
    end: Ticks,
    call: ExternalCall,
    span_id: Option<String>,
}

#[derive(Debug, Default)]
struct Multi {
    members: Vec<Member>,
    /// The first `curl_multi_exec` of the current run.
    first_exec: Option<Ticks>,
    done: Vec<Done>,
}

/// Per-request state, by multi object handle.
#[derive(Default)]
struct Multis(HashMap<u32, Multi>);
crate::hooks::context::lib_state!(Multis);

/// A new multi (its handle may be a freed one's): nothing known yet.
fn after_init(call: &Call, ctx: &Ctx<'_>, _: Before) {
    if let Some(h) = call.returned_handle() {
        ctx.with(|s| s.state::<Multis>().0.insert(h, Multi::default()));
    }
}

fn obj(m: &Member) -> Option<Obj> {
    // SAFETY: the multi holds a reference to the handle while it is a
    // member; members are dropped when removed and when the multi closes.
    unsafe { Obj::from_raw(m.obj) }
}

/// Starts a member: reserves its span, notes the time, injects the trace
/// headers (no borrow held while calling `curl_setopt`).
fn start_member(ctx: &Ctx<'_>, m: &mut Member) {
    let Some((now, lines)) = ctx
        .with(|s| {
            let now = s.clock.now();
            let user = s
                .state::<Handles>()
                .0
                .get(&m.handle)
                .map(|st| st.headers.clone())
                .unwrap_or_default();
            let (dt_enabled, exclude) =
                (s.settings.dt_enabled, s.settings.dt_exclude_newrelic_header);
            let t = s.txn.as_deref_mut()?;
            let span = t.reserve_span_id();
            let lines = dt_enabled.then(|| {
                let dt = t.create_dt_headers_for(span.as_deref(), crate::clock::unix_us(), s.ids);
                merged_lines(&user, dt, exclude)
            });
            m.started = Some((now, span));
            Some((now, lines))
        })
        .flatten()
    else {
        return;
    };
    let _ = now;
    if let (Some(lines), Some(o)) = (lines, obj(m)) {
        ctx.quietly(|| {
            let _ = php::function(
                "curl_setopt",
                &[
                    Arg::Object(o),
                    Arg::Long(CURLOPT_HTTPHEADER),
                    Arg::StrList(&lines),
                ],
            );
        });
    }
}

/// `curl_multi_add_handle($mh, $ch)`, when it succeeded.
fn after_add(call: &Call, ctx: &Ctx<'_>, _: Before) {
    if !matches!(call.ret(), Some(Val::Long(0))) {
        return;
    }
    let (Some(mh), Some(ch)) = (object_handle(call.arg(1)), call.arg_object(2)) else {
        return;
    };
    if is_delegated(ctx, ch.handle()) {
        return;
    }
    let mut member = Member {
        handle: ch.handle(),
        obj: ch.raw(),
        started: None,
    };
    let running = ctx
        .with(|s| {
            s.state::<Multis>()
                .0
                .get(&mh)
                .is_some_and(|m| m.first_exec.is_some())
        })
        .unwrap_or(false);
    if running {
        start_member(ctx, &mut member);
    }
    ctx.with(|s| {
        let multi = s.state::<Multis>().0.entry(mh).or_default();
        multi.members.retain(|m| m.handle != member.handle);
        multi.members.push(member);
    });
}

/// `curl_multi_remove_handle($mh, $ch)`: an unfinished call is dropped.
fn before_remove(call: &Call, ctx: &Ctx<'_>) -> Before {
    if let (Some(mh), Some(ch)) = (object_handle(call.arg(1)), object_handle(call.arg(2))) {
        ctx.with(|s| {
            if let Some(m) = s.state::<Multis>().0.get_mut(&mh) {
                m.members.retain(|m| m.handle != ch);
            }
        });
    }
    Before::default()
}

/// The members of a multi, taken out of the state while PHP is called.
fn take_members(ctx: &Ctx<'_>, mh: u32) -> Vec<Member> {
    ctx.with(|s| {
        s.state::<Multis>()
            .0
            .get_mut(&mh)
            .map(|m| std::mem::take(&mut m.members))
            .unwrap_or_default()
    })
    .unwrap_or_default()
}

fn put_members(ctx: &Ctx<'_>, mh: u32, members: Vec<Member>) {
    ctx.with(|s| {
        let m = s.state::<Multis>().0.entry(mh).or_default();
        // Handles added meanwhile (by a callback) come after.
        let added = std::mem::take(&mut m.members);
        m.members = members;
        m.members.extend(added);
    });
}

/// Before `curl_multi_exec`: the first one starts the run and its handles.
fn before_exec(call: &Call, ctx: &Ctx<'_>) -> Before {
    let Some(mh) = object_handle(call.arg(1)) else {
        return Before::default();
    };
    let Some(now) = ctx.now() else {
        return Before::default();
    };
    let first = ctx
        .with(|s| {
            let m = s.state::<Multis>().0.entry(mh).or_default();
            let first = m.first_exec.is_none();
            m.first_exec.get_or_insert(now);
            first
        })
        .unwrap_or(false);
    if first {
        let mut members = take_members(ctx, mh);
        for m in members.iter_mut().filter(|m| m.started.is_none()) {
            start_member(ctx, m);
        }
        put_members(ctx, mh, members);
    }
    Before::default()
}

/// The response code of a handle (0 while unknown).
fn response_code(o: Obj) -> i64 {
    php::function(
        "curl_getinfo",
        &[Arg::Object(o), Arg::Long(CURLINFO_RESPONSE_CODE)],
    )
    .ok()
    .and_then(|v| match v.get() {
        Val::Long(c) => Some(c),
        _ => None,
    })
    .unwrap_or(0)
}

fn finish(ctx: &Ctx<'_>, m: &Member, status: i64, end: Ticks) -> Option<Done> {
    let (start, span_id) = m.started.clone()?;
    let state = ctx
        .with(|s| s.state::<Handles>().0.get(&m.handle).cloned())
        .flatten()
        .unwrap_or_default();
    Some(Done {
        start,
        end,
        call: ExternalCall {
            url: state.url,
            library: "curl".into(),
            procedure: state.method.unwrap_or_else(|| "GET".into()),
            status: u16::try_from(status).ok().filter(|s| *s > 0),
        },
        span_id,
    })
}

/// After `curl_multi_exec($mh, $running)`: finished handles are noted; a
/// completed run is recorded.
fn after_exec(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let Some(mh) = object_handle(call.arg(1)) else {
        return;
    };
    let running = call.arg_long(2).unwrap_or(1);
    let Some(now) = ctx.now() else { return };
    let members = take_members(ctx, mh);
    let mut keep = Vec::with_capacity(members.len());
    let mut done = Vec::new();
    for m in members {
        if m.started.is_none() {
            keep.push(m);
            continue;
        }
        let code = obj(&m).map_or(0, |o| ctx.quietly(|| response_code(o)));
        if code != 0 || running == 0 {
            done.extend(finish(ctx, &m, code, now));
        } else {
            keep.push(m);
        }
    }
    put_members(ctx, mh, keep);
    ctx.with(|s| {
        let m = s.state::<Multis>().0.entry(mh).or_default();
        m.done.extend(done);
    });
    if running == 0 {
        complete(ctx, mh, now);
    }
}

/// Records a run's finished calls under their `curl_multi_exec` segment.
fn complete(ctx: &Ctx<'_>, mh: u32, now: Ticks) {
    let Some((first, done)) = ctx
        .with(|s| {
            let m = s.state::<Multis>().0.get_mut(&mh)?;
            let first = m.first_exec.take()?;
            Some((first, std::mem::take(&mut m.done)))
        })
        .flatten()
    else {
        return;
    };
    if done.is_empty() {
        return;
    }
    ctx.with_txn(|t, _| {
        t.record_group(first, now, "curl_multi_exec", |t| {
            for d in done {
                t.record_external(d.start, d.end, d.call, d.span_id);
            }
        })
    });
}

/// `curl_multi_close($mh)`: what finished is recorded, the rest dropped.
fn before_close(call: &Call, ctx: &Ctx<'_>) -> Before {
    if let (Some(mh), Some(now)) = (object_handle(call.arg(1)), ctx.now()) {
        complete(ctx, mh, now);
        ctx.with(|s| s.state::<Multis>().0.remove(&mh));
    }
    Before::default()
}
