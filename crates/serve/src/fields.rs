//! Reading a request body leniently: every optional field may be absent or null, numbers may
//! be integers or floats, and fields the server does not know are kept aside to be logged,
//! never refused. A field of the wrong type or out of range is a 400 that names it.

use crate::error::ApiError;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The fields of one JSON object, read one at a time.
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    read: BTreeSet<&'static str>,
}

impl<'a> Fields<'a> {
    /// The body's fields; a body that is not a JSON object is a 400.
    pub fn of(body: &'a Value) -> Result<Fields<'a>, ApiError> {
        match body {
            Value::Object(obj) => Ok(Fields { obj, read: BTreeSet::new() }),
            other => Err(ApiError::bad_request(format!("the request body must be a JSON object, not {}", kind(other)))),
        }
    }

    /// The field's value, None when absent or null.
    pub fn get(&mut self, name: &'static str) -> Option<&'a Value> {
        self.read.insert(name);
        self.obj.get(name).filter(|v| !v.is_null())
    }

    /// Names fields as known without reading them (accepted and ignored on purpose).
    pub fn ignore(&mut self, names: &[&'static str]) {
        self.read.extend(names);
    }

    pub fn bool(&mut self, name: &'static str) -> Result<Option<bool>, ApiError> {
        self.get(name).map(|v| v.as_bool().ok_or_else(|| wrong(name, "true or false", v))).transpose()
    }

    pub fn string(&mut self, name: &'static str) -> Result<Option<&'a str>, ApiError> {
        self.get(name).map(|v| v.as_str().ok_or_else(|| wrong(name, "a string", v))).transpose()
    }

    /// A number in `lo..=hi`.
    pub fn number(&mut self, name: &'static str, lo: f64, hi: f64) -> Result<Option<f64>, ApiError> {
        let Some(v) = self.get(name) else { return Ok(None) };
        let x = v.as_f64().ok_or_else(|| wrong(name, "a number", v))?;
        if !(lo..=hi).contains(&x) {
            return Err(ApiError::field(name, format!("`{name}` is {x}; it must be between {lo} and {hi}")));
        }
        Ok(Some(x))
    }

    /// A whole number in `lo..=hi`.
    pub fn integer(&mut self, name: &'static str, lo: u64, hi: u64) -> Result<Option<u64>, ApiError> {
        let Some(v) = self.get(name) else { return Ok(None) };
        let x = v
            .as_u64()
            .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64))
            .ok_or_else(|| wrong(name, "a whole number >= 0", v))?;
        if !(lo..=hi).contains(&x) {
            return Err(ApiError::field(name, format!("`{name}` is {x}; it must be between {lo} and {hi}")));
        }
        Ok(Some(x))
    }

    /// The seed: any integer (a negative one is taken modulo 2^64, as clients send i64s).
    pub fn seed(&mut self, name: &'static str) -> Result<Option<u64>, ApiError> {
        let Some(v) = self.get(name) else { return Ok(None) };
        v.as_u64().or_else(|| v.as_i64().map(|i| i as u64)).map(Some).ok_or_else(|| wrong(name, "an integer", v))
    }

    /// `stop`: a string or a list of at most `max` strings (empty ones dropped).
    pub fn stop(&mut self, name: &'static str, max: usize) -> Result<Vec<String>, ApiError> {
        let list: Vec<String> = match self.get(name) {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .map(|s| s.as_str().map(str::to_string).ok_or_else(|| wrong(name, "a string or a list of strings", s)))
                .collect::<Result<_, _>>()?,
            Some(v) => return Err(wrong(name, "a string or a list of strings", v)),
        };
        if list.len() > max {
            return Err(ApiError::field(
                name,
                format!("`{name}` has {} strings; at most {max} are allowed", list.len()),
            ));
        }
        Ok(list.into_iter().filter(|s| !s.is_empty()).collect())
    }

    /// Fields present that nothing read (to log: the server accepts and ignores them).
    pub fn unknown(&self) -> Vec<String> {
        self.obj.keys().filter(|k| !self.read.contains(k.as_str())).cloned().collect()
    }
}

/// A 400 saying what `name` should have been.
pub fn wrong(name: &str, expected: &str, got: &Value) -> ApiError {
    ApiError::field(name, format!("`{name}` must be {expected}, not {}", kind(got)))
}

/// A JSON value's kind, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nulls_are_absent_and_unknown_fields_are_listed() {
        let body = json!({"temperature": null, "top_k": 40.0, "stop": "x", "foo": 1});
        let mut f = Fields::of(&body).unwrap();
        assert_eq!(f.number("temperature", 0.0, 2.0).unwrap(), None);
        assert_eq!(f.integer("top_k", 0, 1000).unwrap(), Some(40));
        assert_eq!(f.stop("stop", 4).unwrap(), vec!["x".to_string()]);
        assert_eq!(f.unknown(), vec!["foo".to_string()]);
    }

    #[test]
    fn bad_fields_are_named() {
        let body = json!({"temperature": "hot", "n": 0, "stop": [1]});
        let mut f = Fields::of(&body).unwrap();
        let e = f.number("temperature", 0.0, 2.0).unwrap_err();
        assert_eq!((e.param.as_deref(), e.status.as_u16()), (Some("temperature"), 400));
        assert!(e.message.contains("a number, not a string"), "{}", e.message);
        assert_eq!(f.integer("n", 1, 8).unwrap_err().param.as_deref(), Some("n"));
        assert_eq!(f.stop("stop", 4).unwrap_err().param.as_deref(), Some("stop"));
        assert!(Fields::of(&json!([1])).is_err());
    }
}
