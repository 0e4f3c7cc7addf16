//! Injected misbehaviour: for the next N calls (optionally of one method),
//! answer a status, stall, hang up, or send an `exception` body.

use std::time::Duration;

/// What to do instead of (or before) the normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer this HTTP status (empty body), with `Retry-After` if given.
    Status {
        /// The status code.
        status: u16,
        /// `Retry-After` header value, verbatim.
        retry_after: Option<String>,
    },
    /// Wait, then answer normally.
    Delay(Duration),
    /// Close the connection without answering.
    Drop,
    /// Answer 200 with `{"exception": {...}}`.
    Exception {
        /// `exception.error_type`.
        error_type: String,
        /// `exception.message`.
        message: String,
    },
}

/// A fault for the next `times` calls that match `method` (any call when
/// `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Only calls of this method (e.g. `"metric_data"`).
    pub method: Option<String>,
    /// How many calls it still applies to.
    pub times: usize,
    /// Only payloads carrying at least this many items (see
    /// [`payload_items`]): lets a test refuse a whole payload and its
    /// halves but not its quarters, whatever order they arrive in.
    pub min_items: usize,
    /// What happens.
    pub action: FaultAction,
}

impl Fault {
    fn new(action: FaultAction) -> Self {
        Fault {
            method: None,
            times: 1,
            min_items: 0,
            action,
        }
    }

    /// Answer `status` once.
    pub fn status(status: u16) -> Self {
        Fault::new(FaultAction::Status {
            status,
            retry_after: None,
        })
    }

    /// Stall for `d` once, then answer normally.
    pub fn delay(d: Duration) -> Self {
        Fault::new(FaultAction::Delay(d))
    }

    /// Hang up once.
    pub fn drop_connection() -> Self {
        Fault::new(FaultAction::Drop)
    }

    /// A 200 carrying an exception, once.
    pub fn exception(error_type: &str, message: &str) -> Self {
        Fault::new(FaultAction::Exception {
            error_type: error_type.to_owned(),
            message: message.to_owned(),
        })
    }

    /// Only for calls of `method`.
    pub fn for_method(mut self, method: &str) -> Self {
        self.method = Some(method.to_owned());
        self
    }

    /// For the next `n` matching calls.
    pub fn times(mut self, n: usize) -> Self {
        self.times = n;
        self
    }

    /// Only for payloads of at least `n` items.
    pub fn min_items(mut self, n: usize) -> Self {
        self.min_items = n;
        self
    }

    /// Adds `Retry-After: value` to a status fault.
    pub fn with_retry_after(mut self, value: &str) -> Self {
        if let FaultAction::Status { retry_after, .. } = &mut self.action {
            *retry_after = Some(value.to_owned());
        }
        self
    }

    fn matches(&self, method: &str, items: usize) -> bool {
        self.times > 0
            && items >= self.min_items
            && self.method.as_deref().is_none_or(|m| m == method)
    }
}

/// How many items a harvest payload carries: the length of its last
/// top-level array (the events, metrics, errors, traces, ...); 0 when it
/// has none (preconnect, connect, shutdown).
pub fn payload_items(payload: &serde_json::Value) -> usize {
    payload
        .as_array()
        .and_then(|top| top.iter().rev().find_map(|v| v.as_array()))
        .map_or(0, Vec::len)
}

/// Takes the action of the first pending fault matching `method` and a
/// payload of `items` items, using one of its `times`.
pub(crate) fn take(faults: &mut Vec<Fault>, method: &str, items: usize) -> Option<FaultAction> {
    let i = faults.iter().position(|f| f.matches(method, items))?;
    faults[i].times -= 1;
    let action = faults[i].action.clone();
    if faults[i].times == 0 {
        faults.remove(i);
    }
    Some(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_consumed_in_order_and_by_method() {
        let mut f = vec![
            Fault::status(503).for_method("metric_data").times(2),
            Fault::drop_connection(),
        ];
        assert_eq!(take(&mut f, "connect", 0), Some(FaultAction::Drop));
        assert_eq!(take(&mut f, "connect", 0), None);
        let s = Some(FaultAction::Status {
            status: 503,
            retry_after: None,
        });
        assert_eq!(take(&mut f, "metric_data", 0), s);
        assert_eq!(take(&mut f, "metric_data", 0), s);
        assert_eq!(take(&mut f, "metric_data", 0), None);
        assert!(f.is_empty());
        let mut f = vec![Fault::status(413).min_items(3).times(5)];
        let events = |n: usize| serde_json::json!(["1", {"events_seen": n}, vec![0; n]]);
        assert_eq!(payload_items(&events(4)), 4);
        assert_eq!(
            payload_items(&serde_json::json!(["1", 1, 2, [[1], [2]]])),
            2
        );
        assert!(take(&mut f, "analytic_event_data", payload_items(&events(2))).is_none());
        assert!(take(&mut f, "analytic_event_data", payload_items(&events(3))).is_some());
        let r = Fault::status(429).with_retry_after("7");
        assert_eq!(
            r.action,
            FaultAction::Status {
                status: 429,
                retry_after: Some("7".into())
            }
        );
    }
}
