//! SoapClient: `SoapClient::__doRequest` (which every SOAP call goes
//! through, also when a subclass overrides it and calls the parent's) is
//! an external segment with the request's location as URL, library
//! `SoapClient` and no method, as New Relic's agent records it. No trace
//! headers are added (neither does New Relic's agent).

use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::table::{Before, Hook, Library, Target};
use seraph_txn::ExternalCall;

/// SoapClient's row.
pub static LIBRARY: Library = Library {
    name: "SoapClient",
    hooks: &[Hook::new(Target::Method("soapclient", "__dorequest"))
        .before(start)
        .after(after_do_request)
        .metric("Supportability/InstrumentedFunction/soapclient::__dorequest")],
};

fn start(_: &Call, ctx: &Ctx<'_>) -> Before {
    Before {
        start: ctx.start_segment(),
        bailed: false,
    }
}

/// `__doRequest($request, $location, $action, $version[, $oneWay])`.
fn after_do_request(call: &Call, ctx: &Ctx<'_>, before: Before) {
    if before.start.is_some() {
        ctx.end_external(ExternalCall {
            url: call.arg_string(2).unwrap_or_default(),
            library: "SoapClient".into(),
            procedure: String::new(),
            status: None,
        });
    }
}
