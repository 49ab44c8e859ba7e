//! Questions answered from our own corpus through the search tool: facts a small model cannot
//! know by heart, looked up in the search index (`minichat data index`) and read off its
//! result. The facts are taken from the indexed documents by code, so every answer is exact:
//! the Python documentation says where each module's source lives ("Source code:
//! Lib/copy.py"), and the question is where the source of that module is. A fact is kept only
//! when searching for it finds its answer, so every question can be answered with the tool.
//! Train and test hold different modules: a test answer was never seen in training, only the
//! way to look one up.

use super::Item;
use crate::conversation::{Message, Role, ToolCall};
use crate::tools::Search;
use minichat_model::rng::SplitMix64;

/// A looked-up fact: the module, where its source is (the answer), and the query to find it.
#[derive(Clone, Debug, PartialEq)]
pub struct Fact {
    pub module: String,
    pub path: String,
    pub query: String,
}

/// The marker of a module's source path in the Python documentation.
const MARKER: &str = "Source code: ";

/// The ways to ask; every module is asked every way.
const QUESTIONS: [&str; 6] = [
    "Where is the source code of the {m} module?",
    "Which file holds the source code of Python's {m} module?",
    "In which file is the {m} module implemented?",
    "Where can I find the code of the {m} module?",
    "What is the path of the {m} module's source?",
    "Look up where the source of the {m} module lives.",
];

/// The module a source path belongs to: `Lib/email/header.py` is `email.header`,
/// `Lib/xml/sax/__init__.py` is `xml.sax`, `Lib/idlelib/` is `idlelib`.
fn module_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("Lib/")?.trim_end_matches('/');
    let rest = rest.strip_suffix("/__init__.py").or(rest.strip_suffix(".py")).unwrap_or(rest);
    let ok = !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '/');
    ok.then(|| rest.replace('/', "."))
}

/// The facts in `texts` (each module once, first mention first), and how many were dropped
/// because searching for them did not find their answer.
pub fn facts<'a>(texts: impl IntoIterator<Item = &'a str>, search: &Search) -> (Vec<Fact>, usize) {
    let (mut out, mut dropped) = (Vec::<Fact>::new(), 0);
    for text in texts {
        for (at, _) in text.match_indices(MARKER) {
            let after = &text[at + MARKER.len()..];
            let path = after.split_whitespace().next().unwrap_or("").trim_end_matches(['.', ',', ';', ')']);
            let Some(module) = module_of(path) else { continue };
            if out.iter().any(|f| f.module == module) {
                continue;
            }
            let query = format!("{module} module source code");
            if !search(&query).contains(path) {
                dropped += 1;
                continue;
            }
            out.push(Fact { module, path: path.to_string(), query });
        }
    }
    (out, dropped)
}

/// The conversation asking `question` (a `QUESTIONS` entry) about `fact`, with the search
/// tool's real result.
fn item(fact: &Fact, question: &str, search: &Search) -> Item {
    let m = &fact.module;
    let messages = vec![
        Message::new(Role::User, question.replace("{m}", m)),
        Message::with_calls("", vec![ToolCall { name: "search".into(), arguments: fact.query.clone() }]),
        Message::new(Role::Tool, search(&fact.query)),
        Message::new(Role::Assistant, format!("The source code of the {m} module is in {}.", fact.path)),
    ];
    Item { messages, answer: fact.path.clone() }
}

/// (train, test) conversations: the facts are shuffled by `seed` and a quarter of them (at
/// least one, when there are two or more) go to test; each module is asked every way. At most
/// `train` and `test` items, in a seeded order.
pub fn split(facts: &[Fact], train: usize, test: usize, seed: u64, search: &Search) -> (Vec<Item>, Vec<Item>) {
    let mut rng = SplitMix64::new(seed);
    let mut order: Vec<&Fact> = facts.iter().collect();
    rng.shuffle(&mut order);
    let n_test = if order.len() >= 2 { order.len().div_ceil(4) } else { 0 };
    let mut items = |facts: &[&Fact], n: usize| -> Vec<Item> {
        let mut all: Vec<Item> = facts.iter().flat_map(|f| QUESTIONS.iter().map(|q| item(f, q, search))).collect();
        rng.shuffle(&mut all);
        all.truncate(n);
        all
    };
    let test_items = items(&order[..n_test], test);
    let train_items = items(&order[n_test..], train);
    (train_items, test_items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs() -> Vec<String> {
        [
            "copy — Shallow and deep copy operations\nSource code: Lib/copy.py\nAssignment statements copy nothing.",
            "Source code: Lib/email/header.py\nThis module is part of the email package.",
            "Source code: Lib/xml/sax/__init__.py\nThe xml.sax package. Source code: Lib/copy.py again.",
            "Source code: Lib/idlelib/\nIDLE is Python's editor. Source code: Lib/getpass.py.",
            "Source code: Lib/missing.py\nThe search below never finds this one.",
            "Source code: not a path",
        ]
        .map(String::from)
        .to_vec()
    }

    fn search_over(docs: &[String]) -> Search<'_> {
        Box::new(move |q: &str| {
            let module = q.split(' ').next().unwrap_or("").replace('.', "/");
            docs.iter()
                .filter(|d| d.contains(&module) && !d.contains("missing"))
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    #[test]
    fn facts_are_module_source_paths_the_search_finds() {
        let docs = docs();
        let search = search_over(&docs);
        let (facts, dropped) = facts(docs.iter().map(String::as_str), &search);
        let got: Vec<(&str, &str)> = facts.iter().map(|f| (f.module.as_str(), f.path.as_str())).collect();
        assert_eq!(
            got,
            [
                ("copy", "Lib/copy.py"),
                ("email.header", "Lib/email/header.py"),
                ("xml.sax", "Lib/xml/sax/__init__.py"),
                ("idlelib", "Lib/idlelib/"),
                ("getpass", "Lib/getpass.py")
            ]
        );
        assert_eq!(dropped, 1);
        assert_eq!(facts[1].query, "email.header module source code");
    }

    #[test]
    fn test_modules_are_held_out_and_answers_come_from_the_tool() {
        let docs = docs();
        let search = search_over(&docs);
        let (facts, _) = facts(docs.iter().map(String::as_str), &search);
        let (train, test) = split(&facts, 1000, 1000, 5, &search);
        assert_eq!((train.len(), test.len()), (3 * QUESTIONS.len(), 2 * QUESTIONS.len()));
        let answers = |items: &[Item]| items.iter().map(|i| i.answer.clone()).collect::<std::collections::HashSet<_>>();
        assert!(answers(&train).is_disjoint(&answers(&test)));
        for item in train.iter().chain(&test) {
            crate::conversation::validate(&item.messages).unwrap();
            assert!(item.messages[2].content.contains(&item.answer), "the tool's result holds the answer");
            assert!(super::super::is_correct(&item.messages[3].content, &item.answer));
        }
        assert_eq!(split(&facts, 1000, 1000, 5, &search).0, train);
        assert_eq!(split(&facts, 4, 2, 5, &search).0.len(), 4);
    }
}
