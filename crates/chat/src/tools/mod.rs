//! The tools the assistant can call, by name: `calculator` (exact arithmetic) and `search`
//! (passages from a search index over our own corpus, when one is given: the index lives in
//! the data crate, so the caller hands in the search as a function). A call to an unknown or
//! absent tool, or with arguments the tool cannot use, gets an error message back, which the
//! model sees as the tool's result.

pub mod calculator;

use crate::conversation::ToolCall;

/// Longest search result, in characters (the context is small).
pub const MAX_SEARCH_CHARS: usize = 600;

/// A search engine: a query to its best passages' text.
pub type Search<'a> = Box<dyn Fn(&str) -> String + 'a>;

/// The tools of a chat or an evaluation.
#[derive(Default)]
pub struct Tools<'a> {
    pub search: Option<Search<'a>>,
}

impl Tools<'_> {
    /// The names of the tools available.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names = vec!["calculator"];
        if self.search.is_some() {
            names.push("search");
        }
        names
    }

    /// Runs `call` and returns its result text.
    pub fn run(&self, call: &ToolCall) -> String {
        match (call.name.as_str(), &self.search) {
            ("calculator", _) => calculator::run(&call.arguments),
            ("search", Some(_)) if call.arguments.trim().is_empty() => "error: search needs a query".into(),
            ("search", Some(search)) => {
                let found = search(call.arguments.trim());
                match found.char_indices().nth(MAX_SEARCH_CHARS) {
                    Some((cut, _)) => format!("{}...", &found[..cut]),
                    None if found.is_empty() => "no results".into(),
                    None => found,
                }
            }
            (other, _) => format!("error: no tool named {other:?} (tools: {})", self.names().join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_tools_by_name() {
        let call = |name: &str, args: &str| ToolCall { name: name.into(), arguments: args.into() };
        let plain = Tools::default();
        assert_eq!(plain.run(&call("calculator", "2+2")), "4");
        assert!(plain.run(&call("search", "cats")).contains("no tool named \"search\" (tools: calculator)"));
        let with_search = Tools {
            search: Some(Box::new(|q: &str| if q == "cats" { "Cats purr.".repeat(100) } else { String::new() })),
        };
        let found = with_search.run(&call("search", " cats "));
        assert!(
            found.starts_with("Cats purr.") && found.ends_with("...") && found.chars().count() == MAX_SEARCH_CHARS + 3
        );
        assert_eq!(with_search.run(&call("search", "dogs")), "no results");
        assert_eq!(with_search.run(&call("search", " ")), "error: search needs a query");
    }
}
