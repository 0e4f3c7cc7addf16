//! The request's framework, and what framework and library hooks do to the
//! transaction through their [`Ctx`].
//!
//! A request has at most one framework. Detection follows New Relic: when
//! code of a file a framework's table rows name first runs, that framework
//! is the request's, unless one was found already; `newrelic.framework`
//! forces one (it takes effect at the first file of the request, whatever
//! that file is) or none (`none`). The choice is per request: a long
//! `queue:work` process starts many transactions in one request, and each
//! reports the same `Supportability/framework/<Name>/detected|forced`.
//! Rows of a framework's table run only in requests of that framework
//! (`hooks::user` checks [`Ctx::framework`]).

use super::context::Ctx;
use super::table::{FrameworkLibrary, FRAMEWORKS};
use crate::request::{Agent, RequestFacts};
use seraph_txn::{Framework, FrameworkOutcome, FrameworkSetting, LogLinking, LogRecord, Ticks};

/// The request's framework.
#[derive(Debug, Default)]
pub struct FrameworkState {
    /// Detected, forced, or forced to none; `None` while undecided.
    pub outcome: Option<FrameworkOutcome>,
    /// The first file of the request has been seen (forcing happens there).
    started: bool,
}

/// Runs the forced framework's (or no framework's) decision at the first
/// file of the request.
pub(super) fn first_file(ctx: &Ctx<'_>) {
    let forced = ctx
        .with(|s| {
            let st = &mut *s.framework;
            if std::mem::replace(&mut st.started, true) {
                return None;
            }
            match s.settings.frameworks.framework {
                FrameworkSetting::Detect => None,
                FrameworkSetting::Disabled => {
                    s.framework.outcome = Some(FrameworkOutcome::ForcedNone);
                    tracing::debug!("framework forced to none");
                    None
                }
                FrameworkSetting::Forced(fw) => {
                    s.framework.outcome = Some(FrameworkOutcome::Forced(fw));
                    tracing::debug!("framework forced: {}", fw.name());
                    Some(fw)
                }
            }
        })
        .flatten();
    if let Some(fw) = forced {
        if let Some(f) = FRAMEWORKS.iter().find(|f| f.framework == fw) {
            if let Some(enable) = f.on_detect {
                enable(ctx);
            }
        }
    }
}

/// A file of `fl`'s table ran: the request uses that framework, unless it
/// already has one (or one was forced).
pub(super) fn file_of(ctx: &Ctx<'_>, fl: &FrameworkLibrary, path: &str) {
    let first = ctx
        .with(|s| {
            let st = &mut *s.framework;
            if st.outcome.is_some() {
                return false;
            }
            st.outcome = Some(FrameworkOutcome::Detected(fl.framework));
            true
        })
        .unwrap_or(false);
    if first {
        tracing::debug!("framework detected: {} ({path})", fl.framework.name());
        if let Some(enable) = fl.on_detect {
            enable(ctx);
        }
    }
}

impl Ctx<'_> {
    /// The request's framework, if one was detected or forced.
    pub fn framework(&self) -> Option<Framework> {
        self.with(|s| s.framework.outcome.and_then(FrameworkOutcome::framework))
            .flatten()
    }

    /// A framework names the transaction `…/Action/<name>` (see
    /// `seraph_txn`'s naming priorities); `overwrite`: whether it replaces an
    /// earlier framework name.
    pub fn name_by_framework(&self, name: &str, overwrite: bool) -> bool {
        self.with_txn(|t, _| t.name_by_framework(name, overwrite))
            .unwrap_or(false)
    }

    /// Names a request no route matched (`…/StatusCode/404`).
    pub fn name_not_found(&self) -> bool {
        self.with_txn(|t, _| t.name_not_found()).unwrap_or(false)
    }

    /// Adds an unscoped metric timed from `start` to now.
    pub fn add_timed_metric(&self, name: &str, start: Ticks) {
        self.with(|s| {
            let now = s.clock.now();
            let secs = s.clock.seconds_between(start, now);
            if let Some(t) = s.txn.as_deref_mut() {
                t.add_metric(name, secs, false, false);
            }
        });
    }

    /// The current time on the hot-path clock.
    pub fn now(&self) -> Option<Ticks> {
        self.with(|s| s.clock.now())
    }

    /// Seconds since `start`.
    pub fn seconds_since(&self, start: Ticks) -> f64 {
        self.with(|s| s.clock.seconds_between(start, s.clock.now()))
            .unwrap_or(0.0)
    }

    /// A framework or library names its package, when package detection is
    /// on.
    pub fn add_package(&self, name: &str, version: Option<&str>) {
        self.with(|s| {
            if s.settings.frameworks.package_detection {
                if let Some(t) = s.txn.as_deref_mut() {
                    t.add_package(name, version);
                }
            }
        });
    }

    /// Records one application log record (metrics, and a log event when
    /// forwarding keeps it).
    pub fn record_log(&self, rec: LogRecord) {
        let hostname = crate::daemon::appinfo::hostname();
        let _ = self.agent(|a| {
            let link = LogLinking {
                entity_guid: a.entity_guid().unwrap_or_default(),
                entity_name: a
                    .settings
                    .appname
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                hostname,
            };
            if let Some(t) = a.txn.as_mut() {
                t.record_log(rec, &link);
            }
        });
    }

    /// Ends the open transaction (sending it unless `send` is false) and
    /// starts a new one in the same request, as a long-running worker does
    /// per job. Returns whether a new transaction is open.
    pub fn restart_transaction(&self, send: bool) -> bool {
        // Reading $_SERVER can bail out: before any borrow.
        let facts = RequestFacts::gather();
        self.agent(|a: &mut Agent| {
            if let Some(t) = a.txn.as_mut() {
                if !send {
                    t.ignore();
                }
            }
            a.end_transaction();
            a.start_transaction(None, &facts)
        })
        .unwrap_or(false)
    }

    /// Leaves the open transaction unsent (a worker between jobs).
    pub fn ignore_transaction(&self) {
        self.with_txn(|t, _| t.ignore());
    }
}

impl Ctx<'_> {
    /// Records an exception a framework caught and handled (Laravel's
    /// exception handler, Symfony's kernel) as the transaction's error, with
    /// `priority` (New Relic uses that of `E_ERROR`), unless
    /// `error_collector.ignore_exceptions` names it.
    pub fn notice_exception(&self, obj: crate::zend::objects::Obj, priority: i32) {
        // SAFETY: a live exception object PHP handed the hook; reading it
        // calls no user code the shim does not guard.
        let Some(e) = (unsafe { super::errors::read_exception(obj.raw()) }) else {
            return;
        };
        let now = crate::clock::unix_us();
        self.with(|s| {
            let mut message = super::errors::exception_message(&e, "Uncaught ");
            if !s.settings.allow_raw_exception_messages {
                message = "Message removed by New Relic security settings".to_owned();
            }
            if !s.settings.errors_enabled {
                return;
            }
            if let Some(t) = s.txn.as_deref_mut() {
                if !t.ignores_exception(&e.classes) {
                    t.notice_error(seraph_txn::NoticedError {
                        priority,
                        message,
                        class: e.class.clone(),
                        stack_trace: e.stack.clone(),
                        now_unix_us: now,
                    });
                }
            }
        });
    }
}
