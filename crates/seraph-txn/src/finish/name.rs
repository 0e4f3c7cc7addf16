//! The transaction's final name.

use crate::rules::RuleOutcome;
use crate::txn::{PathType, Transaction};

/// Computes the frozen transaction name: prefix from the path type and
/// background flag, URL rules on the path, transaction rules and segment
/// terms on the full name. `None` when a rule says to ignore it.
pub(crate) fn compute_name(t: &Transaction) -> Option<String> {
    let bg = t.background;
    let prefix = match t.path_type {
        PathType::Uri => Some(if bg {
            "OtherTransaction/php/"
        } else {
            "WebTransaction/Uri/"
        }),
        PathType::StatusCode => Some(if bg {
            "OtherTransaction/StatusCode/"
        } else {
            "WebTransaction/StatusCode/"
        }),
        PathType::Action => Some(if bg {
            "OtherTransaction/Action/"
        } else {
            "WebTransaction/Action/"
        }),
        PathType::Function => Some(if bg {
            "OtherTransaction/Function/"
        } else {
            "WebTransaction/Function/"
        }),
        PathType::Custom => Some(if bg {
            "OtherTransaction/Custom/"
        } else {
            "WebTransaction/Custom/"
        }),
        PathType::Unknown => None,
    };
    let mut name = match (prefix, &t.path) {
        (Some(prefix), Some(path)) => {
            let mut path = path.clone();
            if !bg && matches!(t.path_type, PathType::Uri | PathType::Custom) {
                let slashed = if path.starts_with('/') {
                    path.clone()
                } else {
                    format!("/{path}")
                };
                match t.connect.url_rules.apply(&slashed) {
                    RuleOutcome::Ignore => return None,
                    RuleOutcome::Changed(p) => path = p,
                    RuleOutcome::Unchanged => {}
                }
            }
            let path = path.strip_prefix('/').unwrap_or(&path);
            format!("{prefix}{}", if path.is_empty() { "unknown" } else { path })
        }
        _ => if bg {
            "OtherTransaction/php/<unknown>"
        } else {
            "WebTransaction/Uri/<unknown>"
        }
        .to_owned(),
    };
    match t.connect.transaction_name_rules.apply(&name) {
        RuleOutcome::Ignore => return None,
        RuleOutcome::Changed(n) => name = n,
        RuleOutcome::Unchanged => {}
    }
    Some(t.connect.transaction_segment_terms.apply(&name))
}
