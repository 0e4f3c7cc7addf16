//! Log-forwarding labels (protocol.md §4.3, last paragraph): the
//! `common.attributes` of `log_event_data`.
//!
//! Every transaction carries the label set (usually `[]`), so the raw text
//! is compared with the previous one first and only parsed when it changed.

use serde_json::Value;

/// The label set currently in force: the last valid one received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogLabels {
    last_raw: Box<str>,
    labels: Vec<(Box<str>, Box<str>)>,
}

impl LogLabels {
    /// No labels.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the agent's `[{"label_type":…,"label_value":…},…]`. A label with
    /// an empty (or missing) type or value clears the set; text that is not
    /// such an array is ignored and the previous set stays.
    pub fn set_from_json(&mut self, raw: &str) {
        if *self.last_raw == *raw {
            return;
        }
        let Ok(Value::Array(items)) = serde_json::from_str::<Value>(raw) else {
            tracing::debug!("ignoring malformed log forwarding labels");
            return;
        };
        let mut labels = Vec::with_capacity(items.len());
        for item in &items {
            let get = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or_default();
            let (ty, value) = (get("label_type"), get("label_value"));
            if ty.is_empty() || value.is_empty() {
                labels.clear();
                break;
            }
            labels.push((ty.into(), value.into()));
        }
        self.labels = labels;
        self.last_raw = raw.into();
    }

    /// `(label_type, label_value)` pairs in the agent's order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.labels.iter().map(|(t, v)| (&**t, &**v))
    }

    /// True when no label is set.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_valid_set_wins_and_invalid_clears() {
        let mut l = LogLabels::new();
        l.set_from_json(r#"[{"label_type":"env","label_value":"prod"},{"label_type":"team","label_value":"a"}]"#);
        assert_eq!(
            l.iter().collect::<Vec<_>>(),
            vec![("env", "prod"), ("team", "a")]
        );
        l.set_from_json("garbage");
        assert_eq!(l.iter().len(), 2, "unparsable text keeps the previous set");
        l.set_from_json(r#"[{"label_type":"env","label_value":""}]"#);
        assert!(l.is_empty(), "an invalid label clears the set");
        l.set_from_json(r#"[{"label_type":"x","label_value":"y"}]"#);
        l.set_from_json("[]");
        assert!(l.is_empty());
    }
}
