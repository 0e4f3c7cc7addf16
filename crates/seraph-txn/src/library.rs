//! What instrumented frameworks and libraries add to a transaction: the
//! framework it ran under, names with New Relic's priorities, log events
//! and packages. Kept apart from `txn.rs`, which holds only one field of
//! this type, so frameworks do not grow the core model.
//!
//! # Naming priorities
//!
//! New Relic orders name sources: the script (`Uri`) < a status code <
//! a framework or `webtransaction.name.files` (`Action`) <
//! `webtransaction.name.functions` (`Function`) < the API (`Custom`).
//! A source never replaces a higher one. Within `Action`, each framework
//! hook says whether it may replace an earlier `Action` name (New Relic's
//! "ok to overwrite"): a router that resolves the real route does, a
//! first guess (`unknown`) does not. So `newrelic_name_transaction()`
//! always wins over a framework.

use crate::framework::FrameworkOutcome;
use crate::logs::LogEvents;
use crate::packages::Packages;
use crate::txn::PathType;
use crate::Transaction;

/// Per-transaction data of frameworks and libraries.
#[derive(Debug, Default)]
pub(crate) struct LibraryData {
    pub framework: Option<FrameworkOutcome>,
    pub logs: LogEvents,
    pub packages: Packages,
}

impl Transaction {
    /// A framework names the transaction `…/Action/<name>`. `overwrite`:
    /// whether it replaces an earlier framework name. Refused when a
    /// higher source (function naming, the API) named it, or once the name
    /// is frozen. Returns whether the name was taken.
    ///
    /// The root route `/` is named `…/Action//`: the leading slash of a
    /// path is dropped from names, which would leave it empty (New Relic
    /// reports `WebTransaction/Action/` for it).
    pub fn name_by_framework(&mut self, name: &str, overwrite: bool) -> bool {
        let name = if name == "/" { "//" } else { name };
        self.set_path(name, PathType::Action, overwrite)
    }

    /// Names a request no route matched `…/StatusCode/404`, replacing the
    /// framework's own guesses but nothing higher (Seraph's rule; New
    /// Relic names such requests after whatever middleware ran last).
    pub fn name_not_found(&mut self) -> bool {
        if self.frozen_name.is_some() || self.path_type > PathType::Action {
            return false;
        }
        self.path_type = PathType::StatusCode;
        self.path = Some("404".to_owned());
        true
    }

    /// Names a background job `OtherTransaction/Custom/<name>` as New
    /// Relic's queue instrumentation does; later API calls may rename it.
    pub fn name_job(&mut self, name: &str) -> bool {
        self.set_path(name, PathType::Custom, true)
    }

    /// Whether a framework or a higher source has named the transaction.
    pub fn is_named_by_framework(&self) -> bool {
        self.path_type >= PathType::Action
    }

    /// Records which framework the request ran under (reported as
    /// `Supportability/framework/<Name>/detected|forced`).
    pub fn set_framework(&mut self, outcome: FrameworkOutcome) {
        self.lib.framework = Some(outcome);
    }

    /// Counts a library's detection, `Supportability/library/<name>/detected`.
    pub fn library_detected(&mut self, name: &str) {
        self.metrics
            .count(&format!("Supportability/library/{name}/detected"));
    }

    /// At the end: the framework and package metrics, and the log events
    /// and package list the frame carries.
    pub(crate) fn finish_library(&mut self) -> (Vec<String>, Option<String>) {
        let forced = matches!(
            self.lib.framework,
            Some(FrameworkOutcome::Forced(_) | FrameworkOutcome::ForcedNone)
        );
        if let Some(f) = self.lib.framework {
            self.metrics.count(&f.metric());
        }
        for m in self.lib.packages.major_version_metrics(forced) {
            self.metrics.count(&m);
        }
        (self.lib.logs.take(), self.lib.packages.to_json())
    }
}
