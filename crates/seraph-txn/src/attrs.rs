//! Attributes: user (custom parameters, custom event fields) and agent
//! (request/response facts) key/value pairs with the destinations they are
//! allowed to reach.
//!
//! The agent keeps attributes in a list it prepends to, so every object it
//! prints lists them newest first; [`AttrList`] stores them in insertion
//! order and prints them reversed to match. A key added twice keeps only the
//! newest value, at the newest position.

use crate::json;

/// A user attribute value, as PHP scalars map onto it.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    /// A string (truncated to 255 bytes when stored).
    Str(String),
    /// An integer.
    Int(i64),
    /// A double (NaN and infinities are rejected).
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// `null` (New Relic's agent keeps a PHP `null` as a JSON `null`).
    Null,
}

impl AttrValue {
    /// Appends the value as the agent prints it (doubles with 5 decimals).
    pub fn write_json(&self, out: &mut String) {
        match self {
            AttrValue::Str(s) => json::push_str(out, s),
            AttrValue::Int(i) => json::push_i64(out, *i),
            AttrValue::Float(f) => json::push_f64(out, *f),
            AttrValue::Bool(b) => json::push_bool(out, *b),
            AttrValue::Null => out.push_str("null"),
        }
    }

    fn is_valid(&self) -> bool {
        !matches!(self, AttrValue::Float(f) if !f.is_finite())
    }
}

impl From<&str> for AttrValue {
    fn from(v: &str) -> Self {
        AttrValue::Str(v.to_owned())
    }
}
impl From<String> for AttrValue {
    fn from(v: String) -> Self {
        AttrValue::Str(v)
    }
}
impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::Int(v)
    }
}
impl From<i32> for AttrValue {
    fn from(v: i32) -> Self {
        AttrValue::Int(v.into())
    }
}
impl From<f64> for AttrValue {
    fn from(v: f64) -> Self {
        AttrValue::Float(v)
    }
}
impl From<bool> for AttrValue {
    fn from(v: bool) -> Self {
        AttrValue::Bool(v)
    }
}

pub(crate) use crate::attr_filter::dest;

/// Longest key kept; longer keys are dropped, not truncated.
pub const KEY_LIMIT: usize = 255;
/// Longest string value kept; longer values are truncated.
pub const VALUE_LIMIT: usize = 255;
/// Most user attributes one owner may hold.
pub const USER_LIMIT: usize = 64;

#[derive(Clone, Debug)]
struct Attr {
    key: String,
    value: AttrValue,
    dests: u8,
}

/// An ordered attribute list (see the module docs for the ordering rule).
#[derive(Clone, Debug, Default)]
pub(crate) struct AttrList {
    items: Vec<Attr>,
}

/// Cuts `s` to at most `max` bytes without splitting a character.
pub(crate) fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl AttrList {
    /// Adds (or replaces) an attribute. User lists are capped at
    /// [`USER_LIMIT`]. Returns whether it was stored.
    pub fn add(&mut self, key: &str, value: AttrValue, dests: u8, is_user: bool) -> bool {
        if key.is_empty() || key.len() > KEY_LIMIT || !value.is_valid() || dests == 0 {
            return false;
        }
        let value = match value {
            AttrValue::Str(s) if s.len() > VALUE_LIMIT => {
                AttrValue::Str(truncate_utf8(&s, VALUE_LIMIT).to_owned())
            }
            v => v,
        };
        if let Some(pos) = self.items.iter().position(|a| a.key == key) {
            self.items.remove(pos);
        }
        if is_user && self.items.len() >= USER_LIMIT {
            return false;
        }
        self.items.push(Attr {
            key: key.to_owned(),
            value,
            dests,
        });
        true
    }

    /// Whether the list holds anything at all (for any destination). The
    /// agent prints an object for a destination whenever its list is
    /// non-empty, even if nothing in it goes to that destination.
    pub fn is_present(&self) -> bool {
        !self.items.is_empty()
    }

    /// Appends `{…}` with the attributes bound for `dest`, newest first.
    pub fn write_obj(&self, out: &mut String, dest: u8) {
        let mut obj = json::Obj::begin(out);
        self.write_members(&mut obj, dest, &[]);
        obj.end();
    }

    /// Writes the members bound for `dest` (newest first) into an open
    /// object, leaving out keys in `skip`.
    pub fn write_members(&self, obj: &mut json::Obj<'_>, dest: u8, skip: &[&str]) {
        for a in self.items.iter().rev() {
            if a.dests & dest == 0 || skip.contains(&a.key.as_str()) {
                continue;
            }
            a.value.write_json(obj.key(&a.key));
        }
    }

    /// `Some(json object)` for `dest` if the list is non-empty, else `None`.
    pub fn to_json(&self, dest: u8) -> Option<String> {
        if !self.is_present() {
            return None;
        }
        let mut out = String::new();
        self.write_obj(&mut out, dest);
        Some(out)
    }

    /// Looks a value up by key.
    #[cfg(test)]
    pub fn get(&self, key: &str) -> Option<&AttrValue> {
        self.items.iter().find(|a| a.key == key).map(|a| &a.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_newest_first_like_the_agent() {
        let mut l = AttrList::default();
        assert!(l.add("user_id", 42.into(), dest::ALL, true));
        assert!(l.add("plan", "gold".into(), dest::ALL, true));
        assert!(l.add("ratio", 0.25.into(), dest::ALL, true));
        assert!(l.add("beta", true.into(), dest::ALL, true));
        assert_eq!(
            l.to_json(dest::TXN_EVENT).unwrap(),
            r#"{"beta":true,"ratio":0.25000,"plan":"gold","user_id":42}"#
        );
    }

    #[test]
    fn duplicates_move_to_the_front_and_limits_hold() {
        let mut l = AttrList::default();
        l.add("a", 1.into(), dest::ALL, true);
        l.add("b", 2.into(), dest::ALL, true);
        l.add("a", 3.into(), dest::ALL, true);
        assert_eq!(l.to_json(dest::ERROR).unwrap(), r#"{"a":3,"b":2}"#);
        assert!(!l.add("", 1.into(), dest::ALL, true));
        assert!(!l.add(&"k".repeat(256), 1.into(), dest::ALL, true));
        assert!(!l.add("nan", f64::NAN.into(), dest::ALL, true));
        let long = "é".repeat(200);
        assert!(l.add("long", long.into(), dest::ALL, true));
        match l.get("long").unwrap() {
            AttrValue::Str(s) => assert_eq!(s.len(), 254),
            other => panic!("{other:?}"),
        }
        let mut many = AttrList::default();
        for i in 0..70 {
            many.add(&format!("k{i}"), i.into(), dest::ALL, true);
        }
        assert!(many.get("k63").is_some());
        assert!(many.get("k64").is_none());
    }

    #[test]
    fn destinations_filter_but_presence_does_not() {
        let mut l = AttrList::default();
        assert!(l.to_json(dest::ERROR).is_none());
        l.add("errorType", "E".into(), dest::TXN_EVENT, false);
        assert_eq!(l.to_json(dest::ERROR).unwrap(), "{}");
        assert!(l.is_present());
    }
}
