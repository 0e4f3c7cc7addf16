//! Explain plans: the result of `EXPLAIN <query>` for a slow MySQL query,
//! sent with the slow SQL entry and the trace node as
//! `"explain_plan": [[columns…], [[row values…], …]]`, as New Relic's agent
//! sends them.
//!
//! Which queries are explained follows New Relic: only a query that starts
//! with `SELECT ` (any case), is not several statements (no `;` before its
//! last character) and takes no locks (`FOR UPDATE`, `LOCK IN SHARE MODE`),
//! because the extension runs the `EXPLAIN` itself on a second connection.

use crate::json;

/// One value of an explain row.
#[derive(Clone, Debug, PartialEq)]
pub enum ExplainValue {
    /// SQL `NULL`.
    Null,
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Text (anything else the driver returned as a string).
    Str(String),
}

/// The columns and rows of an `EXPLAIN`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExplainPlan {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows, each as many values as there are columns.
    pub rows: Vec<Vec<ExplainValue>>,
}

/// Rows kept per plan: a plan is a handful of rows; a pathological one is
/// cut rather than bloating the slow SQL entry.
const MAX_ROWS: usize = 100;

impl ExplainPlan {
    /// Adds a row (ignored beyond the row limit).
    pub fn push_row(&mut self, row: Vec<ExplainValue>) {
        if self.rows.len() < MAX_ROWS {
            self.rows.push(row);
        }
    }

    /// `[[columns], [[row], …]]`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64 + 32 * self.rows.len());
        out.push('[');
        out.push_str(&json::string_array(&self.columns));
        out.push_str(",[");
        for (i, row) in self.rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            for (j, v) in row.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                match v {
                    ExplainValue::Null => out.push_str("null"),
                    ExplainValue::Int(n) => out.push_str(&n.to_string()),
                    ExplainValue::Float(f) => json::push_f64(&mut out, *f),
                    ExplainValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                    ExplainValue::Str(s) => json::push_str(&mut out, s),
                }
            }
            out.push(']');
        }
        out.push_str("]]");
        out
    }
}

/// Whether New Relic would run `EXPLAIN` for this MySQL query.
pub fn mysql_query_is_explainable(sql: &str) -> bool {
    let b = sql.as_bytes();
    if b.len() < 7 || !b[..7].eq_ignore_ascii_case(b"SELECT ") {
        return false;
    }
    if let Some(i) = sql.find(';') {
        if i + 1 < sql.len() {
            return false;
        }
    }
    let upper = sql.to_ascii_uppercase();
    !(upper.contains(" FOR UPDATE") || upper.contains(" LOCK IN SHARE MODE"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_lock_free_selects_are_explained() {
        assert!(mysql_query_is_explainable("SELECT 1"));
        assert!(mysql_query_is_explainable("select * from t where a = 1;"));
        assert!(!mysql_query_is_explainable(" SELECT 1"));
        assert!(!mysql_query_is_explainable("SELECT"));
        assert!(!mysql_query_is_explainable("UPDATE t SET a = 1"));
        assert!(!mysql_query_is_explainable("SELECT 1; DELETE FROM t"));
        assert!(!mysql_query_is_explainable("SELECT * FROM t for update"));
        assert!(!mysql_query_is_explainable(
            "SELECT * FROM t LOCK IN SHARE MODE"
        ));
    }

    #[test]
    fn plans_serialize_as_columns_then_rows() {
        let mut p = ExplainPlan {
            columns: vec!["id".into(), "table".into(), "key".into()],
            rows: Vec::new(),
        };
        p.push_row(vec![
            ExplainValue::Int(1),
            ExplainValue::Str("t\"x".into()),
            ExplainValue::Null,
        ]);
        assert_eq!(p.to_json(), r#"[["id","table","key"],[[1,"t\"x",null]]]"#);
        assert_eq!(ExplainPlan::default().to_json(), "[[],[]]");
    }
}
