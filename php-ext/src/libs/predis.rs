//! Predis (PHP code): each Redis command is a datastore segment
//! `Datastore/operation/Redis/<command>` with its connection's instance,
//! timed as New Relic's agent times it: from the moment the connection
//! starts writing the request (`writeRequest`) until it has read the
//! response (`readResponse`). A pipeline writes all its commands before
//! reading any, so its commands' segments overlap in time, as they did.
//! A command whose request could not be written (the server is gone) is
//! not a segment.
//!
//! The instance comes from the connection's parameters
//! (`Parameters::toArray()`, read when the connection is constructed):
//! scheme `unix` means a socket `path`, otherwise `host` and `port`; the
//! database is `database`, `0` by default. The command's name is its
//! `getId()`, in lower case.
//!
//! The library is detected from its `Client.php` (Composer's
//! `predis/src/Client.php` or Debian's `Predis/Client.php`), counted as
//! `Supportability/library/Predis/detected`.

use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, Hook, Library, Target};
use crate::zend::call as php;
use crate::zend::zval::{array_each, Key, Val};
use seraph_txn::instance::DatastoreInstance;
use seraph_txn::{DatastoreCall, Ticks};
use std::collections::HashMap;

/// Predis's rows.
pub static LIBRARY: Library = Library {
    name: "Predis",
    hooks: &[
        Hook::new(Target::Method(
            "predis\\connection\\abstractconnection",
            "__construct",
        ))
        .after(after_connection_construct)
        .traced(),
        Hook::new(Target::Method(
            "predis\\connection\\streamconnection",
            "writerequest",
        ))
        .before(before_write)
        .after(after_write),
        Hook::new(Target::Method(
            "predis\\connection\\compositestreamconnection",
            "writerequest",
        ))
        .before(before_write)
        .after(after_write),
        Hook::new(Target::Method(
            "predis\\connection\\phpiredisstreamconnection",
            "writerequest",
        ))
        .before(before_write)
        .after(after_write),
        Hook::new(Target::Method(
            "predis\\connection\\phpiredissocketconnection",
            "writerequest",
        ))
        .before(before_write)
        .after(after_write),
        Hook::new(Target::Method(
            "predis\\connection\\abstractconnection",
            "readresponse",
        ))
        .after(after_read),
        Hook::new(Target::File("predis/src/Client.php")).on_file(detected),
        Hook::new(Target::File("/Predis/Client.php")).on_file(detected),
    ],
};

/// Per-request state.
#[derive(Default)]
struct State {
    /// Instances by connection object handle.
    instances: HashMap<u32, DatastoreInstance>,
    /// When each command in flight started being written, by command
    /// object handle.
    pending: HashMap<u32, Ticks>,
    detected: bool,
}
crate::hooks::context::lib_state!(State);

fn detected(_: &str, ctx: &Ctx<'_>) {
    let first = ctx
        .with(|s| !std::mem::replace(&mut s.state::<State>().detected, true))
        .unwrap_or(false);
    if first {
        ctx.count("Supportability/library/Predis/detected");
    }
}

/// The instance of a `Parameters::toArray()` array.
fn instance_from(params: Val<'_>, system_host: &str) -> DatastoreInstance {
    let mut fields: HashMap<String, String> = HashMap::new();
    if let Val::Array(ht) = params {
        // SAFETY: an array returned to us, not modified while iterated.
        unsafe {
            array_each(ht, |k, v| {
                if let Key::Str(k) = k {
                    let v = match v {
                        Val::Long(n) => Some(n.to_string()),
                        other => other.string(),
                    };
                    if let Some(v) = v {
                        fields.insert(k, v);
                    }
                }
            })
        };
    }
    let get = |k: &str| fields.get(k).map(String::as_str);
    let database = get("database").unwrap_or("0");
    if get("scheme") == Some("unix") {
        DatastoreInstance::new(Some("localhost"), get("path"), Some(database), system_host)
    } else {
        DatastoreInstance::new(
            Some(get("host").unwrap_or("127.0.0.1")),
            Some(get("port").unwrap_or("6379")),
            Some(database),
            system_host,
        )
    }
}

/// `new StreamConnection($parameters)`: the connection's instance.
fn after_connection_construct(call: &Call, ctx: &Ctx<'_>, _: Before) {
    if call.threw() {
        return;
    }
    let (Some(conn), Some(params)) = (call.this_obj(), call.arg_object(1)) else {
        return;
    };
    let host = ctx.system_host();
    let instance = ctx.quietly(|| {
        php::method(params, "toArray", &[])
            .ok()
            .map(|v| instance_from(v.get(), host))
    });
    if let Some(i) = instance {
        ctx.with(|s| s.state::<State>().instances.insert(conn.handle(), i));
    }
}

/// `writeRequest($command)`: the command starts now.
fn before_write(call: &Call, ctx: &Ctx<'_>) -> Before {
    if let (Some(cmd), Some(now)) = (call.arg_object(1), ctx.now()) {
        ctx.with(|s| {
            let pending = &mut s.state::<State>().pending;
            if pending.len() < 10_000 {
                pending.insert(cmd.handle(), now);
            }
        });
    }
    Before::default()
}

/// A request that could not be written is no command.
fn after_write(call: &Call, ctx: &Ctx<'_>, _: Before) {
    if call.threw() {
        if let Some(cmd) = call.arg_object(1) {
            ctx.with(|s| s.state::<State>().pending.remove(&cmd.handle()));
        }
    }
}

/// `readResponse($command)`: the command is done.
fn after_read(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let Some(cmd) = call.arg_object(1) else {
        return;
    };
    let conn = call.this_obj().map(|c| c.handle());
    let Some((start, instance)) = ctx
        .with(|s| {
            let st = s.state::<State>();
            let start = st.pending.remove(&cmd.handle())?;
            Some((start, conn.and_then(|c| st.instances.get(&c).cloned())))
        })
        .flatten()
    else {
        return;
    };
    let operation = ctx
        .quietly(|| {
            php::method(cmd, "getId", &[])
                .ok()
                .and_then(|v| v.get().string())
        })
        .map(|id| id.to_ascii_lowercase())
        .unwrap_or_else(|| "other".to_owned());
    ctx.record_datastore(
        start,
        DatastoreCall {
            product: "Redis".into(),
            operation: Some(operation),
            ..DatastoreCall::default()
        }
        .with_instance(instance.as_ref()),
    );
}
