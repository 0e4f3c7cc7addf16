//! Symfony 4 to 7 (New Relic's "Symfony4"): requests are named after the
//! matched route (`_route`, else `_controller`) once the router has resolved
//! it for the main request; console commands after the command
//! (`OtherTransaction/Action/app:sync`); exceptions the kernel turns into
//! error pages are recorded as errors, and a request no route matches is
//! `…/StatusCode/404` (New Relic names both after the sub-request that
//! renders the error page, `error_controller`).
//!
//! New Relic detects Symfony by `HttpKernel.php`, which a console command
//! never loads, so `bin/console app:sync` stays `OtherTransaction/php/bin/console`
//! under its agent. Seraph also detects it by the kernel base class
//! (`HttpKernel/Kernel.php`), which both the web front controller and the
//! console boot. Both the Composer layout (`symfony/http-kernel/…`) and the
//! distribution layout (`Symfony/Component/HttpKernel/…`) are recognised.

use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::errors::priority_of;
use crate::hooks::table::{Before, FrameworkLibrary, Hook, Library, Target};
use crate::zend::ffi;
use crate::zend::objects::{self, Arg, Obj};
use seraph_txn::Framework;

/// Symfony's rows.
pub static FRAMEWORK: FrameworkLibrary = FrameworkLibrary {
    framework: Framework::Symfony4,
    library: Library {
        name: "Symfony",
        hooks: &[
            Hook::new(Target::File("http-kernel/httpkernel.php")),
            Hook::new(Target::File("symfony/component/httpkernel/httpkernel.php")),
            Hook::new(Target::File("http-kernel/kernel.php")),
            Hook::new(Target::File("symfony/component/httpkernel/kernel.php")),
            Hook::new(Target::Method(
                "symfony\\component\\httpkernel\\eventlistener\\routerlistener",
                "onkernelrequest",
            ))
            .traced()
            .after(router_listener),
            Hook::new(Target::Method(
                "symfony\\component\\httpkernel\\eventlistener\\errorlistener",
                "onkernelexception",
            ))
            .traced()
            .after(kernel_exception),
            Hook::new(Target::Method(
                "symfony\\component\\httpkernel\\eventlistener\\exceptionlistener",
                "onkernelexception",
            ))
            .traced()
            .after(kernel_exception),
            Hook::new(Target::Method(
                "symfony\\component\\console\\command\\command",
                "run",
            ))
            .traced()
            .before(command_run),
        ],
    },
    on_detect: Some(detected),
};

/// Until the router resolves a route, a request is `…/Action/unknown`
/// (routing errors are not named after the script).
fn detected(ctx: &Ctx<'_>) {
    ctx.name_by_framework("unknown", false);
    ctx.add_package("symfony/http-kernel", None);
}

/// A request attribute (`$request->get($key)`) as a string.
fn request_attr(request: Obj, key: &str) -> Option<String> {
    request
        .call("get", &[Arg::Str(key)])?
        .string()
        .filter(|s| !s.is_empty())
}

/// Whether an event belongs to the main request (not a sub-request such as
/// the one rendering an error page).
fn is_main_request(event: Obj) -> bool {
    ["isMainRequest", "isMasterRequest"]
        .iter()
        .find(|m| event.has_method(&m.to_ascii_lowercase()))
        .and_then(|m| event.call(m, &[]))
        .is_none_or(|r| r.val().truthy())
}

/// `RouterListener::onKernelRequest($event)` has matched the route. Only
/// the main request names the transaction: New Relic also lets the
/// sub-request that renders an error page rename it (`error_controller`).
fn router_listener(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let Some(event) = objects::object(call.arg(1)) else {
        return;
    };
    if !is_main_request(event) {
        return;
    }
    let Some(request) = event.call("getRequest", &[]) else {
        return;
    };
    let Some(req) = request.object() else { return };
    if !req.instance_of("symfony\\component\\httpfoundation\\request") {
        return;
    }
    if let Some(name) = request_attr(req, "_route").or_else(|| request_attr(req, "_controller")) {
        ctx.name_by_framework(&name, true);
    }
}

/// `ErrorListener::onKernelException($event)`: the exception the kernel is
/// turning into an error page. A route that does not exist makes the
/// request not-found (`…/StatusCode/404`) rather than an error.
fn kernel_exception(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let Some(event) = objects::object(call.arg(1)) else {
        return;
    };
    let exception = event
        .call("getThrowable", &[])
        .filter(|e| e.object().is_some())
        .or_else(|| event.call("getException", &[]));
    let Some(e) = exception.as_ref().and_then(|e| e.object()) else {
        return;
    };
    if e.instance_of("symfony\\component\\httpkernel\\exception\\notfoundhttpexception") {
        ctx.name_not_found();
    } else {
        ctx.notice_exception(e, priority_of(ffi::E_ERROR));
    }
}

/// `Command::run($input, $output)`: the command's name, from the input's
/// first argument (none: `list`, what the console then runs).
fn command_run(call: &Call, ctx: &Ctx<'_>) -> Before {
    if let Some(input) = objects::object(call.arg(1)) {
        if input.instance_of("symfony\\component\\console\\input\\inputinterface") {
            let name = input
                .call_string("getFirstArgument")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "list".to_owned());
            ctx.name_by_framework(&name, true);
        }
    }
    Before::default()
}
