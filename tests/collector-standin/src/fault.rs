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
    /// What happens.
    pub action: FaultAction,
}

impl Fault {
    fn new(action: FaultAction) -> Self {
        Fault {
            method: None,
            times: 1,
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

    /// Adds `Retry-After: value` to a status fault.
    pub fn with_retry_after(mut self, value: &str) -> Self {
        if let FaultAction::Status { retry_after, .. } = &mut self.action {
            *retry_after = Some(value.to_owned());
        }
        self
    }

    fn matches(&self, method: &str) -> bool {
        self.times > 0 && self.method.as_deref().is_none_or(|m| m == method)
    }
}

/// Takes the action of the first pending fault matching `method`, using
/// one of its `times`.
pub(crate) fn take(faults: &mut Vec<Fault>, method: &str) -> Option<FaultAction> {
    let i = faults.iter().position(|f| f.matches(method))?;
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
        assert_eq!(take(&mut f, "connect"), Some(FaultAction::Drop));
        assert_eq!(take(&mut f, "connect"), None);
        let s = Some(FaultAction::Status {
            status: 503,
            retry_after: None,
        });
        assert_eq!(take(&mut f, "metric_data"), s);
        assert_eq!(take(&mut f, "metric_data"), s);
        assert_eq!(take(&mut f, "metric_data"), None);
        assert!(f.is_empty());
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
