//! Generated tasks with exact answers, for supervised fine-tuning and for the exam: arithmetic
//! the model should hand to the calculator (`arithmetic`, its word problems composed by
//! `word_problems`, with held-out families of wordings and operand sizes, and of stories, for
//! the exam only), spelling and letter counting, which a model that sees
//! tokens rather than letters finds hard (`spelling`), the assistant's self-knowledge
//! (`identity`), general questions it should decline honestly (`general`), facts looked up
//! with the search tool (`search`), and conversations of several of these (`multi_turn`).
//! Every item is made from a seed by code, so the data is the same on every machine; train and
//! test draw from separate seeds and no test question is also a training question (`split`). `make` makes them all; `file` is their file format.

pub mod arithmetic;
pub mod file;
pub mod general;
pub mod identity;
pub mod multi_turn;
pub mod search;
pub mod spelling;
pub mod word_problems;

use crate::conversation::Message;
use crate::tools::Search;
use crate::Error;
use minichat_model::rng::SplitMix64;
use std::path::Path;

/// How many items to make, from which seed, for which assistant.
#[derive(Clone, Debug)]
pub struct Options {
    /// Training items per task.
    pub train: usize,
    /// Tasks that get another number of training items (`arithmetic=6000`).
    pub train_for: Vec<(String, usize)>,
    /// Test items per task (identity has one per held-out phrasing).
    pub test: usize,
    pub seed: u64,
    pub identity: identity::Identity,
}

/// Every task's (train, test) items, in order.
pub struct Made {
    pub tasks: Vec<(&'static str, Vec<Item>, Vec<Item>)>,
    /// With a search index: the facts found, and those left out (the search does not find
    /// their answer).
    pub search_facts: Option<(usize, usize)>,
}

/// A task's (train, test) items.
type Split = (Vec<Item>, Vec<Item>);

/// Conversations of several exchanges (`multi_turn`).
pub const MULTI_TURN: &str = "multi-turn";

/// `multi_turn`'s (train, test): training chains of the tasks' training items; test chains of
/// their test items ending in an arithmetic test question.
fn multi_turn_split(tasks: &[(&str, Split)], train: usize, test: usize, seed: u64) -> Split {
    const FROM: [&str; 4] = ["arithmetic", "spelling", "identity", "general"];
    let of = |name: &str| &tasks.iter().find(|(n, _)| *n == name).expect("made above").1;
    let trains: Vec<&[Item]> = FROM.iter().map(|t| of(t).0.as_slice()).collect();
    let tests: Vec<&[Item]> = FROM.iter().map(|t| of(t).1.as_slice()).collect();
    let train_items = multi_turn::chain(&trains, &trains, train, &mut SplitMix64::new(seed.wrapping_add(7)));
    let test_items =
        multi_turn::chain(&tests, &[&of("arithmetic").1], test, &mut SplitMix64::new(seed.wrapping_add(8)));
    (train_items, test_items)
}

/// The held-out arithmetic family's name: a test file only (`arithmetic::unseen`).
pub const UNSEEN_ARITHMETIC: &str = "arithmetic-unseen";

/// The held-out word problems' name: a test file only (`arithmetic::story`).
pub const STORY_ARITHMETIC: &str = "arithmetic-stories";

/// Makes every task: arithmetic (and its held-out family), spelling on `words` (at least 50),
/// identity, general questions, and with a search index (its passages' texts and the search
/// over it) the search task, which needs at least 2 facts in them.
pub fn make(opts: &Options, words: &[String], search: Option<(&[&str], &Search)>) -> Result<Made, Error> {
    if words.len() < 50 {
        return Err(Error::Config(format!("only {} usable words for spelling (need 50)", words.len())));
    }
    let (test, seed) = (opts.test, opts.seed);
    let train = |task: &str| opts.train_for.iter().find(|(t, _)| t == task).map_or(opts.train, |&(_, n)| n);
    let mut tasks = vec![
        ("arithmetic", split(train("arithmetic"), test, seed, arithmetic::item)),
        // Test questions only: wordings and operand sizes that no training item has.
        (UNSEEN_ARITHMETIC, (Vec::new(), generate(test, seed.wrapping_add(2), &[], arithmetic::unseen))),
        (STORY_ARITHMETIC, (Vec::new(), generate(test, seed.wrapping_add(9), &[], arithmetic::story))),
        ("spelling", split(train("spelling"), test, seed, |rng| spelling::item(rng, words))),
        ("identity", identity::split(train("identity"), seed, &opts.identity)),
        ("general", general::split(train("general"), test, seed)),
    ];
    tasks.push((MULTI_TURN, multi_turn_split(&tasks, train(MULTI_TURN), test, seed)));
    let mut search_facts = None;
    if let Some((passages, search)) = search {
        let (facts, dropped) = search::facts(passages.iter().copied(), search);
        if facts.len() < 2 {
            return Err(Error::Config(format!(
                "{} facts found; the search task needs at least 2 (it looks for the Python documentation's \"Source code: Lib/...\" lines)",
                facts.len()
            )));
        }
        search_facts = Some((facts.len(), dropped));
        tasks.push(("search", search::split(&facts, train("search"), test, seed, search)));
    }
    if let Some((unknown, _)) = opts.train_for.iter().find(|(t, _)| !tasks.iter().any(|(name, _)| name == t)) {
        let names: Vec<&str> =
            tasks.iter().filter(|(_, (train, _))| !train.is_empty()).map(|(name, _)| *name).collect();
        return Err(Error::Config(format!("no task {unknown:?} to train on; the tasks are {}", names.join(", "))));
    }
    Ok(Made { tasks: tasks.into_iter().map(|(name, (train, test))| (name, train, test)).collect(), search_facts })
}

impl Made {
    /// Writes `DIR/TASK-train.jsonl` and `DIR/TASK-test.jsonl` for every task (`file`); a
    /// held-out family has no training file.
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        for (name, train, test) in &self.tasks {
            if !train.is_empty() {
                file::write(&file::train_path(dir, name), train)?;
            }
            file::write(&file::test_path(dir, name), test)?;
        }
        Ok(())
    }
}

/// One generated conversation and the answer its last assistant message must contain.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub messages: Vec<Message>,
    pub answer: String,
}

impl Item {
    /// The user's question (the first user message).
    pub fn question(&self) -> &str {
        self.messages.iter().find(|m| m.role == crate::conversation::Role::User).map_or("", |m| m.content.as_str())
    }
}

/// Whether a reply gives `answer`: the last number in it (digits, an optional sign and
/// decimals, thousands commas dropped) for numeric answers, else the answer's words in order,
/// case-insensitively.
pub fn is_correct(reply: &str, answer: &str) -> bool {
    let numeric = |s: &str| s.replace(',', "").parse::<f64>().ok();
    match numeric(answer) {
        Some(want) => last_number(reply).is_some_and(|got| got == want),
        None => reply.to_lowercase().contains(&answer.to_lowercase()),
    }
}

/// The last number written in `text`.
fn last_number(text: &str) -> Option<f64> {
    let cleaned = text.replace(',', "");
    let mut last = None;
    let mut chars = cleaned.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let starts = c.is_ascii_digit() || (c == '-' && chars.peek().is_some_and(|(_, d)| d.is_ascii_digit()));
        if !starts {
            continue;
        }
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = chars.peek() {
            let decimal_point = d == '.' && cleaned[j + 1..].starts_with(|x: char| x.is_ascii_digit());
            if d.is_ascii_digit() || decimal_point {
                end = j + 1;
                chars.next();
            } else {
                break;
            }
        }
        last = cleaned[i..end].parse().ok().or(last);
    }
    last
}

/// `n` items from `make`, drawing from `seed`, with questions unique and, for the test split,
/// none of `exclude`'s questions.
pub fn generate(n: usize, seed: u64, exclude: &[Item], mut make: impl FnMut(&mut SplitMix64) -> Item) -> Vec<Item> {
    let mut rng = SplitMix64::new(seed);
    let mut seen: std::collections::HashSet<String> = exclude.iter().map(|i| i.question().to_string()).collect();
    let mut out = Vec::with_capacity(n);
    // Give up when the space of questions runs out (a small word list, say).
    let mut tries = 0;
    while out.len() < n && tries < n * 50 + 1000 {
        tries += 1;
        let item = make(&mut rng);
        if seen.insert(item.question().to_string()) {
            out.push(item);
        }
    }
    out
}

/// Train and test items of one task: test first (from `seed + 1`), then train (from `seed`)
/// without any test question.
pub fn split(
    train: usize,
    test: usize,
    seed: u64,
    mut make: impl FnMut(&mut SplitMix64) -> Item,
) -> (Vec<Item>, Vec<Item>) {
    let test_items = generate(test, seed.wrapping_add(1), &[], &mut make);
    let train_items = generate(train, seed, &test_items, &mut make);
    (train_items, test_items)
}

/// Picks one of `options`.
fn pick<'a, T>(rng: &mut SplitMix64, options: &'a [T]) -> &'a T {
    &options[rng.below(options.len() as u64) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked_by_their_last_number_or_words() {
        assert!(is_correct("347 × 29 = 10,063.", "10063"));
        assert!(is_correct("It is -2.5", "-2.5"));
        assert!(!is_correct("10063 was wrong; it is 10064", "10063"));
        assert!(!is_correct("no number", "3"));
        assert!(is_correct("I am Minichat.", "minichat"));
        assert_eq!(last_number("a 1.5. b 7"), Some(7.0));
        assert_eq!(last_number("ends with 12."), Some(12.0));
    }

    #[test]
    fn splits_are_disjoint_and_reproducible() {
        let (train, test) = split(300, 50, 7, arithmetic::item);
        assert_eq!((train.len(), test.len()), (300, 50));
        let test_q: std::collections::HashSet<&str> = test.iter().map(Item::question).collect();
        assert!(train.iter().all(|i| !test_q.contains(i.question())));
        assert_eq!(split(300, 50, 7, arithmetic::item).0, train);
    }
}
