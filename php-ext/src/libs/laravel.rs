//! Laravel 8 to 11: requests named after the matched route, Artisan commands
//! after the command, one background transaction per queued job, and the
//! exceptions Laravel's handler reports recorded as errors.
//!
//! * **Routes**: when the router runs the matched route, the request is
//!   named, as New Relic does, after the route's name (unless Laravel
//!   generated it), else its controller action
//!   (`App\Http\Controllers\PostController@show`), else its URI pattern.
//!   A closure route is named by its URI pattern (`hello/{name}`); the
//!   root route `/` is `WebTransaction/Action//` where New Relic reports an
//!   empty `WebTransaction/Action/`.
//! * **Not found**: a request no route matches is `…/StatusCode/404`
//!   (New Relic names it after the last global middleware that ran).
//! * **Errors**: `Illuminate\Foundation\Exceptions\Handler::report()` records
//!   the exception when `shouldReport()` agrees, so a 500 Laravel renders is
//!   an error (New Relic hooks the application's own handler class, which in
//!   a stock application inherits `report` and is never hooked).
//! * **Artisan**: `OtherTransaction/Action/Artisan/<command>` (from the
//!   console application's `doRun`, which Laravel inherits from Symfony).
//! * **Queues**: in `queue:work`, each job is its own transaction,
//!   `OtherTransaction/Custom/<job> (<connection>:<queue>)`, started when the
//!   worker raises the job's "before" event and sent at its "after" event;
//!   the worker's waiting between jobs is not reported. A failing job
//!   records its exception.

use crate::hooks::call::Call;
use crate::hooks::context::Ctx;
use crate::hooks::errors::priority_of;
use crate::hooks::table::{Before, FrameworkLibrary, Hook, Library, Target};
use crate::zend::objects::{self, Arg, Obj};
use crate::zend::{ffi, zval::Val};
use seraph_txn::Framework;

/// Laravel's rows.
pub static FRAMEWORK: FrameworkLibrary = FrameworkLibrary {
    framework: Framework::Laravel,
    library: Library {
        name: "Laravel",
        hooks: &[
            Hook::new(Target::File("illuminate/foundation/application.php")),
            Hook::new(Target::File("bootstrap/compiled.php")),
            Hook::new(Target::File("storage/framework/compiled.php")),
            Hook::new(Target::File("vendor/compiled.php")),
            Hook::new(Target::File("bootstrap/cache/compiled.php")),
            Hook::new(Target::Method(
                "illuminate\\foundation\\application",
                "__construct",
            ))
            .traced()
            .after(application_construct),
            Hook::new(Target::Method("illuminate\\routing\\router", "runroute"))
                .traced()
                .before(run_route),
            Hook::new(Target::Method(
                "illuminate\\foundation\\exceptions\\handler",
                "report",
            ))
            .traced()
            .before(handler_report),
            Hook::new(Target::Method(
                "illuminate\\foundation\\exceptions\\handler",
                "render",
            ))
            .traced()
            .before(handler_render),
            // Laravel's console application inherits `doRun` from
            // Symfony's; rows name the class that declares the method.
            Hook::new(Target::Method(
                "symfony\\component\\console\\application",
                "dorun",
            ))
            .traced()
            .before(artisan_run),
            Hook::new(Target::Method(
                "illuminate\\queue\\worker",
                "raisebeforejobevent",
            ))
            .traced()
            .after(job_starts),
            Hook::new(Target::Method(
                "illuminate\\queue\\worker",
                "raiseafterjobevent",
            ))
            .traced()
            .before(job_ends),
            Hook::new(Target::Method(
                "illuminate\\queue\\worker",
                "raiseexceptionoccurredjobevent",
            ))
            .traced()
            .before(job_failed),
        ],
    },
    on_detect: Some(detected),
};

/// Until a route is found, a request is `…/Action/unknown`.
fn detected(ctx: &Ctx<'_>) {
    ctx.name_by_framework("unknown", false);
}

/// `Application::__construct`: the version, for the package list.
fn application_construct(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let version = call.this_obj().and_then(|o| o.constant("VERSION"));
    ctx.add_package("laravel/framework", version.as_deref());
}

/// The name of a route object (see the module docs).
fn route_name(route: Obj) -> Option<String> {
    if let Some(n) = route.call_string("getName") {
        if !n.is_empty() && !n.starts_with("generated::") {
            return Some(n);
        }
    }
    if let Some(action) = route.call("getAction", &[]) {
        let controller = match action.val() {
            Val::Str(s) => Some(String::from_utf8_lossy(s).into_owned()),
            // SAFETY: the array the call returned, alive while `action` is.
            Val::Array(ht) => unsafe { objects::array_get(ht, "controller") }.string(),
            _ => None,
        };
        if let Some(c) = controller.filter(|c| !c.is_empty()) {
            return Some(c);
        }
    }
    route.call_string("uri")
}

/// `Router::runRoute($request, $route)`: the route about to run names the
/// request (before its controller runs, so a controller that throws is
/// named after its route too).
fn run_route(call: &Call, ctx: &Ctx<'_>) -> Before {
    if let Some(route) = objects::object(call.arg(2)) {
        if let Some(name) = route_name(route) {
            ctx.name_by_framework(&name, true);
        }
    }
    Before::default()
}

/// `Handler::report($e)`: an exception Laravel handled; recorded when the
/// handler says it should be reported.
fn handler_report(call: &Call, ctx: &Ctx<'_>) -> Before {
    let (Some(handler), Some(e)) = (call.this_obj(), objects::object(call.arg(1))) else {
        return Before::default();
    };
    let report = if handler.has_method("shouldreport") {
        handler
            .call("shouldReport", &[Arg::Zval(call.arg_ptr(1))])
            .is_some_and(|r| r.val().truthy())
    } else {
        true
    };
    if report {
        ctx.notice_exception(e, priority_of(ffi::E_ERROR));
    }
    Before::default()
}

/// `Handler::render($request, $e)`: a request no route matched is named
/// not-found.
fn handler_render(call: &Call, ctx: &Ctx<'_>) -> Before {
    if let Some(e) = objects::object(call.arg(2)) {
        if e.instance_of("symfony\\component\\httpkernel\\exception\\notfoundhttpexception") {
            ctx.name_not_found();
        }
    }
    Before::default()
}

/// `Illuminate\Console\Application::doRun($input, $output)`.
fn artisan_run(call: &Call, ctx: &Ctx<'_>) -> Before {
    if let Some(input) = objects::object(call.arg(1)) {
        if input.instance_of("symfony\\component\\console\\input\\inputinterface") {
            let cmd = input
                .call_string("getFirstArgument")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "list".to_owned());
            ctx.name_by_framework(&format!("Artisan/{cmd}"), true);
        }
    }
    Before::default()
}

/// `<job> (<connection>:<queue>)`, as New Relic names jobs.
fn job_name(job: Obj) -> String {
    let get = |m: &str, default: &str| {
        job.call_string(m)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| default.to_owned())
    };
    let connection = get("getConnectionName", "unknown");
    let queue = get("getQueue", "default");
    let name = get("resolveName", "unknown");
    format!("{name} ({connection}:{queue})")
}

/// `Worker::raiseBeforeJobEvent($connectionName, $job)`: the transaction
/// so far (the worker's start, or its wait since the last job) is dropped
/// and the job's own begins.
fn job_starts(call: &Call, ctx: &Ctx<'_>, _: Before) {
    let Some(job) = objects::object(call.arg(2)) else {
        return;
    };
    let name = job_name(job);
    if ctx.restart_transaction(false) {
        ctx.with_txn(|t, _| {
            t.set_background(true);
            t.name_job(&name);
        });
    }
}

/// `Worker::raiseAfterJobEvent($connectionName, $job)`: the job's
/// transaction is sent; the wait for the next job is not reported.
fn job_ends(_call: &Call, ctx: &Ctx<'_>) -> Before {
    if ctx.restart_transaction(true) {
        ctx.ignore_transaction();
    }
    Before::default()
}

/// `Worker::raiseExceptionOccurredJobEvent($connectionName, $job, $e)`.
fn job_failed(call: &Call, ctx: &Ctx<'_>) -> Before {
    if let Some(e) = objects::object(call.arg(3)) {
        ctx.notice_exception(e, priority_of(ffi::E_ERROR));
    }
    Before::default()
}
