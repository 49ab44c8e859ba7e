//! Counters by kind (records read, pages kept, each kind of bad input or drop reason), merged
//! across files and ranks and written as JSON next to each stage's output.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Named counters; a kind that never happened is absent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Counts(BTreeMap<String, u64>);

impl Counts {
    pub fn add(&mut self, kind: &str, n: u64) {
        *self.0.entry(kind.to_string()).or_default() += n;
    }

    pub fn inc(&mut self, kind: &str) {
        self.add(kind, 1);
    }

    pub fn get(&self, kind: &str) -> u64 {
        self.0.get(kind).copied().unwrap_or(0)
    }

    pub fn merge(&mut self, other: &Counts) {
        for (k, v) in &other.0 {
            self.add(k, *v);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }
}
