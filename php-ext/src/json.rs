//! JSON output in New Relic's agent style.

/// Serialises `v` with `/` escaped as `\/`, as New Relic's agent writes
/// every JSON string. A `/` can only occur inside JSON strings, so a plain
/// replacement is exact.
pub fn to_string_slashes(v: &serde_json::Value) -> String {
    v.to_string().replace('/', "\\/")
}

#[cfg(test)]
mod tests {
    #[test]
    fn slashes_are_escaped() {
        let v = serde_json::json!({"a/b": "c/d"});
        assert_eq!(super::to_string_slashes(&v), r#"{"a\/b":"c\/d"}"#);
    }
}
