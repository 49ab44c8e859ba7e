//! Word problems for the arithmetic task's training questions, made by composition: per
//! operation a few story shapes, each filled with a person, a kind of thing and what holds it,
//! so that no story is seen often enough to be learned by its words. A model trained on four
//! fixed stories per operation read held-out stories ("each car carries", "in all") as the
//! wrong operation in half of them; the operation has to be learned from what happens in a
//! story, with the operands in either order.
//!
//! No held-out story's sentences, people or things appear here (tested in `arithmetic`).

use super::pick;
use minichat_model::rng::SplitMix64;

/// Who acts in a story.
const NAMES: [&str; 12] = ["Sam", "Mia", "Leo", "Ana", "Tom", "Zoe", "Raj", "Eva", "Ben", "Kim", "Omar", "Lena"];

/// What is counted.
const THINGS: [&str; 16] = [
    "stamps", "coins", "shells", "pencils", "cards", "stickers", "beads", "nails", "bottles", "cookies", "seeds",
    "bricks", "buttons", "tiles", "candles", "plates",
];

/// What holds the things, plural and singular.
const HOLDERS: [(&str, &str); 8] = [
    ("boxes", "box"),
    ("crates", "crate"),
    ("jars", "jar"),
    ("tins", "tin"),
    ("baskets", "basket"),
    ("trays", "tray"),
    ("packs", "pack"),
    ("drawers", "drawer"),
];

/// Story shapes per operation; the expression is always `{a} op {b}` (for "-", `a >= b`; for
/// "/", `a` is a multiple of `b`). `{n}` is a name, `{t}` a kind of thing, `{H}` and `{h}` a
/// holder in plural and singular.
const STORIES: [(&str, &[&str]); 4] = [
    (
        "*",
        &[
            "{n} has {a} {H} with {b} {t} in every {h}. How many {t} does {n} have?",
            "One {h} holds {b} {t}. How many {t} do {a} {H} hold?",
            "{n} buys {a} {H} of {t}, and every {h} has {b} {t}. How many {t} did {n} buy?",
            "{n} saves {b} dollars a week. How much does {n} save in {a} weeks?",
            "A machine makes {b} {t} per hour. How many {t} does it make in {a} hours?",
            "{a} friends pay {b} dollars apiece for a trip. How much do they pay together?",
            "A garden has {a} rows with {b} plants per row. How many plants grow there?",
            "{n} runs {a} laps of {b} metres. How far does {n} run?",
            "{a} {H} each contain {b} {t}. How many {t} is that?",
            "{n} fills {a} {H}, putting {b} {t} in each one. How many {t} are used?",
            "{n} gives each of {a} friends {b} {t}. How many {t} does {n} give away?",
            "There are {a} {H} on the shelf, each holding {b} {t}. How many {t} are on the shelf?",
        ],
    ),
    (
        "+",
        &[
            "{n} has {a} {t} and finds {b} more. How many {t} does {n} have now?",
            "One {h} has {a} {t} and another has {b}. How many {t} are there altogether?",
            "{n} walked {a} metres before lunch and {b} metres after. How far did {n} walk in total?",
            "A school has {a} girls and {b} boys. How many pupils does it have?",
            "{n} saved {a} dollars last year and {b} dollars this year. What are the savings altogether?",
            "A shop gets {a} {t}, then a second delivery of {b} {t}. How many {t} did it get?",
            "{n} is {a} days old. How many days old will {n} be after {b} more days?",
            "{n} scored {a} points in the first game and {b} in the second. What is the total score?",
            "{n} earned {a} dollars in May and {b} dollars in June. How much did {n} earn over the two months?",
            "A class collected {a} {t} last week and {b} {t} this week. How many {t} has the class collected?",
            "{n} got {a} {t} as a gift and bought {b} more. How many {t} is that in total?",
            "{n} has {a} {t}, and a friend has {b}. How many {t} do they have together?",
        ],
    ),
    (
        "-",
        &[
            "{n} had {a} {t} and gave {b} to a friend. How many {t} does {n} have left?",
            "A {h} held {a} {t}, and {b} were taken out. How many {t} remain in it?",
            "{n} has {a} dollars and pays {b} dollars for a gift. How much money remains?",
            "A hall has {a} seats and {b} of them are taken. How many seats are free?",
            "{n} needs {a} {t} and has {b} so far. How many more {t} does {n} need?",
            "A town had {a} homes, and {b} were pulled down. How many homes are there now?",
            "{n} sold {b} of the {a} {t} at a fair. How many {t} were not sold?",
            "A hike is {a} metres long. After {b} metres, how far is there to go?",
            "A tower is {a} metres tall and a house is {b} metres tall. How much taller is the tower?",
            "{n} had {a} dollars and lost {b} of them. How many dollars does {n} have now?",
            "Of {a} {t} in a {h}, {b} are broken. How many are not broken?",
            "{n} counted {a} {t}, but {b} of them were counted twice. How many {t} are there really?",
        ],
    ),
    (
        "/",
        &[
            "{n} puts {a} {t} evenly into {b} {H}. How many {t} go in one {h}?",
            "{a} {t} are split equally between {b} friends. How many {t} does each friend get?",
            "Every {h} takes {b} {t}. How many {H} do {a} {t} fill?",
            "A cyclist rides {a} km in {b} hours at a steady speed. How many km is that per hour?",
            "{n} pays {a} dollars for {b} {t} that all cost the same. What is the price of one?",
            "{a} pupils are put in teams of {b}. How many teams are there?",
            "{n} reads {a} pages in {b} days, the same number every day. How many pages a day is that?",
            "A rope {a} cm long is cut into {b} equal pieces. How long is each piece?",
            "{n} shares {a} {t} fairly among {b} {H}. How many {t} does each {h} get?",
            "{a} {t} come in {H} of {b}. How many {H} is that?",
            "A bill of {a} dollars is shared evenly by {b} friends. What does each one pay?",
            "{n} spends {a} minutes on {b} tasks, the same time on each. How many minutes per task?",
        ],
    ),
];

/// A word problem for `{a} op {b}` with a person, a kind of thing and a holder drawn at
/// random; the operands are left for `arithmetic::fill`, as in the fixed frames.
pub fn frame(rng: &mut SplitMix64, op: &str) -> String {
    let (_, shapes) = STORIES.iter().find(|(o, _)| *o == op).expect("one of + - * /");
    let shape: &&str = pick(rng, shapes);
    let (holders, holder) = *pick(rng, &HOLDERS);
    let (name, things) = (*pick(rng, &NAMES), *pick(rng, &THINGS));
    shape.replace("{n}", name).replace("{t}", things).replace("{H}", holders).replace("{h}", holder)
}

/// Whether `word` is one of the stories' people.
pub fn is_name(word: &str) -> bool {
    NAMES.contains(&word)
}

/// Every story shape, for tests that compare them with held-out wordings.
#[cfg(test)]
pub fn shapes() -> impl Iterator<Item = &'static str> {
    STORIES.iter().flat_map(|(_, s)| s.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::super::arithmetic::fill;
    use super::*;

    #[test]
    fn every_slot_is_filled_and_the_operands_appear() {
        let mut rng = SplitMix64::new(1);
        for op in ["*", "+", "-", "/"] {
            for _ in 0..100 {
                let q = fill(&frame(&mut rng, op), 1234, 56);
                assert!(!q.contains('{') && !q.contains('}'), "{q}");
                assert!(q.contains("1234") && q.contains("56"), "{q}");
                assert!(q.starts_with(|c: char| c.is_uppercase() || c.is_ascii_digit()), "{q}");
            }
        }
    }
}
