//! Arithmetic the assistant answers by calling the calculator: products, sums, differences
//! and quotients of numbers too long to do "in its head", asked plainly or as small word
//! problems. The reply calls `calculator EXPR`, gets the result, and states it.
//!
//! `unseen` asks the same four operations in wordings and word problems that `item` never
//! uses (the operations' words are known from training, never in these sentences), with
//! operands of 1 to 4 digits (training's are 1 to 3, 5 and 6) and results of up to 7 digits:
//! a test of whether the model learned to hand any arithmetic question to the calculator and
//! copy numbers of any token count, not its training templates. `story` asks them as word
//! problems in stories of their own, which neither training nor `unseen` tells.

use super::{pick, word_problems, Item};
use crate::conversation::{Message, Role, ToolCall};
use crate::tools::calculator;
use minichat_model::rng::SplitMix64;

/// Training wordings per operation (20 each), `{a}` and `{b}` standing for the operands (the
/// expression is always `{a} op {b}`): plain questions in symbols and in words, either operand
/// first, and word problems. Many frames, so that the model learns to find the operation and the operands
/// anywhere in a question rather than the places of a few templates.
const TRAIN: [(&str, &[&str]); 4] = [
    (
        "*",
        &[
            "What is {a} × {b}?",
            "Compute {a} * {b}.",
            "How much is {a} × {b}?",
            "Multiply {a} and {b} together.",
            "What is {a} multiplied by {b}?",
            "Work out {a} x {b} for me.",
            "{a} times {b} is how much?",
            "Can you tell me what {a} times {b} makes?",
            "Give me the product: {a} × {b}.",
            "Quick question: {a} × {b} = ?",
            "A box holds {b} items. How many items are in {a} boxes?",
            "Each shelf holds {b} books. How many books fit on {a} shelves?",
            "A ticket costs {b} dollars. What do {a} tickets cost?",
            "There are {a} rows of {b} chairs. How many chairs is that?",
            "The product of {a} and {b} is what?",
            "Please multiply {a} by {b}.",
            "{a} times {b}, what is it?",
            "Calculate the product {a} × {b}.",
            "What's {a} multiplied by {b}?",
            "How much do you get when {a} is multiplied by {b}?",
        ],
    ),
    (
        "+",
        &[
            "What is {a} + {b}?",
            "Compute {a} + {b}.",
            "How much is {a} + {b}?",
            "Add {a} to {b}.",
            "What do {a} and {b} add up to?",
            "Work out {a} + {b} for me.",
            "{a} plus {b} is how much?",
            "Can you tell me what {a} plus {b} makes?",
            "The sum {a} + {b} is?",
            "Quick question: {a} + {b} = ?",
            "I had {a} points and won {b} more. How many points do I have now?",
            "A shop sold {a} cups in the morning and {b} in the afternoon. How many cups did it sell?",
            "A bus has {a} people and {b} more get on. How many people are on the bus?",
            "There are {a} red balls and {b} blue balls. How many balls are there?",
            "Add {a} and {b} together.",
            "Calculate the sum of {a} and {b}.",
            "{a} plus {b}, what is it?",
            "Find {a} plus {b}.",
            "Sum {a} and {b}.",
            "What do {a} plus {b} make?",
        ],
    ),
    (
        "-",
        &[
            "What is {a} − {b}?",
            "Compute {a} - {b}.",
            "How much is {a} − {b}?",
            "Take {b} away from {a}.",
            "The difference {a} − {b} is?",
            "Work out {a} - {b} for me.",
            "{a} minus {b} is how much?",
            "Can you tell me what {a} minus {b} makes?",
            "From {a}, subtract {b}.",
            "Quick question: {a} - {b} = ?",
            "A tank held {a} litres and {b} litres were used. How many litres are left?",
            "There were {a} birds on a tree and {b} flew away. How many birds are left?",
            "I have {a} dollars and spend {b}. How much money is left?",
            "A road is {a} metres long and {b} metres are paved. How many metres are not paved?",
            "Take {b} from {a}.",
            "{a} subtract {b} is?",
            "Find the difference: {a} − {b}.",
            "What is {a} minus {b}?",
            "How big is the difference between {a} and {b}?",
            "Please subtract {b} from the number {a}.",
        ],
    ),
    (
        "/",
        &[
            "What is {a} ÷ {b}?",
            "Compute {a} / {b}.",
            "How much is {a} ÷ {b}?",
            "Split {a} into {b} equal parts. How big is each part?",
            "Divide {a} into {b} equal shares.",
            "Work out {a} / {b} for me.",
            "{a} shared by {b} is how much each?",
            "Can you tell me what {a} divided into {b} groups gives per group?",
            "How many groups of {b} are in {a}?",
            "Quick question: {a} / {b} = ?",
            "{a} sweets are shared equally among {b} children. How many does each child get?",
            "{a} pages are read at {b} pages a day. How many days does it take?",
            "{a} eggs are packed in boxes of {b}. How many boxes are filled?",
            "{a} dollars are paid for {b} equal tickets. What does one ticket cost?",
            "Please divide the number {a} by {b}.",
            "What do you get when {a} is divided by {b}?",
            "{a} divided by {b} equals?",
            "How many {b}s go into {a}?",
            "Share {a} among {b}. How much each?",
            "Calculate {a} divided by {b}.",
        ],
    ),
];

/// The held-out wordings (`unseen`): none is a training frame.
const UNSEEN: [(&str, &[&str]); 4] = [
    (
        "*",
        &[
            "Find the product of {a} and {b}.",
            "What do you get if you multiply {a} by {b}?",
            "What is {a} times {b}?",
            "A train has {a} cars and each car carries {b} people. How many people are on the train?",
        ],
    ),
    (
        "+",
        &[
            "Please add {a} and {b}.",
            "What's the sum of {a} and {b}?",
            "{a} plus {b} equals what?",
            "A farmer picked {a} apples on Monday and {b} on Tuesday. How many apples did he pick in all?",
        ],
    ),
    (
        "-",
        &[
            "Subtract {b} from {a}.",
            "What is the difference between {a} and {b}?",
            "Calculate {a} minus {b}, please.",
            "A library had {a} books and lent out {b} of them. How many books are still there?",
        ],
    ),
    (
        "/",
        &[
            "Divide {a} by {b}.",
            "What is {a} divided by {b}?",
            "How many times does {b} go into {a}?",
            "{a} marbles are packed into {b} bags with the same number in each. How many marbles are in a bag?",
        ],
    ),
];

/// Word problems in stories of their own, none like a training story or an `UNSEEN` one
/// (`arithmetic-stories`, test questions only). `UNSEEN`'s four stories were looked at while
/// the training stories were written; these were written after, and the training data was
/// not changed for them, so they say how the model reads a story it has never seen.
const HELD_OUT_STORIES: [(&str, &[&str]); 4] = [
    (
        "*",
        &[
            "A cinema shows {a} films a week, and {b} tickets are sold for every film. How many tickets are sold in a week?",
            "In a parade, {a} bands march and every band has {b} drummers. How many drummers march?",
        ],
    ),
    (
        "+",
        &[
            "A baker made {a} loaves before noon and {b} loaves later that day. How many loaves did the baker make that day?",
            "The first bridge is {a} feet long and the second is {b} feet long. What is their combined length?",
        ],
    ),
    (
        "-",
        &[
            "A pond had {a} ducks until {b} of them waddled off. How many ducks stayed at the pond?",
            "A printer had {a} sheets of paper and printed {b} pages, one per sheet. How many sheets are unused?",
        ],
    ),
    (
        "/",
        &[
            "A gardener plants {a} tulips in {b} flower beds, the same count per bed. How many tulips are in each bed?",
            "A club orders {a} chairs, which arrive on carts of {b} chairs apiece. How many carts arrive?",
        ],
    ),
];

/// What people put around a question; training questions get one of each half the time, so
/// the operation and the numbers move about in the question and the model learns them by
/// their words, not their places.
const OPENINGS: [&str; 8] = [
    "Hi! ",
    "Quick one: ",
    "Hey, ",
    "I have a question. ",
    "Math time. ",
    "Help me out here. ",
    "OK, ",
    "Sorry to bother you, but ",
];
const CLOSINGS: [&str; 8] = [
    " Thanks!",
    " I need it for my homework.",
    " Be exact.",
    " Thank you.",
    " It's for a recipe.",
    " Just the number, please.",
    " I'm checking my sums.",
    " Cheers.",
];

/// The share of training questions that are composed word problems (2 in 5); the frames
/// above hold 4 fixed stories in 20 besides. Held-out questions are stories 1 time in 4.
const STORY_SHARE: (u64, u64) = (2, 5);

/// A number with `digits` digits.
fn number(rng: &mut SplitMix64, digits: u32) -> u64 {
    let lo = 10u64.pow(digits - 1);
    lo + rng.below(9 * lo)
}

/// A question in one of `frames` with operands of `da` and `db` digits, as a conversation
/// that calls the calculator and states its result. `training` questions are dressed in
/// openings and closings half the time each, and are composed word problems
/// (`word_problems`) for `STORY_SHARE` of them.
fn ask(rng: &mut SplitMix64, frames: &[(&str, &[&str])], da: u32, db: u32, training: bool) -> Item {
    let (op, wordings) = *pick(rng, frames);
    let (a, b) = (number(rng, da), number(rng, db));
    // Quotients come out whole (ask for (a*b) / b) and differences are not negative.
    let (a, b) = match op {
        "/" => (a * b, b),
        "-" if a < b => (b, a),
        _ => (a, b),
    };
    let expr = format!("{a}{op}{b}");
    let result = calculator::run(&expr);
    let wording: &&str = pick(rng, wordings);
    let mut question = match training && rng.below(STORY_SHARE.1) < STORY_SHARE.0 {
        true => fill(&word_problems::frame(rng, op), a, b),
        false => fill(wording, a, b),
    };
    if training && rng.below(2) == 0 {
        let opening: &&str = pick(rng, &OPENINGS);
        // "Sorry to bother you, but what is ...": after an opening that is not a sentence of
        // its own, the frame goes on mid-sentence.
        // A name keeps its capital ("Hey, Eva has ...").
        let first_word = question.split([' ', ',']).next().unwrap_or_default();
        question = match opening.ends_with(". ") || opening.ends_with("! ") || word_problems::is_name(first_word) {
            true => format!("{opening}{question}"),
            false => format!("{opening}{}{}", question[..1].to_lowercase(), &question[1..]),
        };
    }
    if training && rng.below(2) == 0 {
        let closing: &&str = pick(rng, &CLOSINGS);
        question.push_str(closing);
    }
    let messages = vec![
        Message::new(Role::User, question),
        Message::with_calls("", vec![ToolCall { name: "calculator".into(), arguments: expr }]),
        Message::new(Role::Tool, result.clone()),
        // The result right after the tool's: a small model copies from nearby most easily.
        Message::new(Role::Assistant, format!("The answer is {result}.")),
    ];
    Item { messages, answer: result }
}

/// A frame with its operands in place.
pub(super) fn fill(frame: &str, a: u64, b: u64) -> String {
    frame.replace("{a}", &a.to_string()).replace("{b}", &b.to_string())
}

/// Operand sizes in training, drawn uniformly: mostly 1 to 3 digits (one piece each of GPT-4's
/// split pattern), and a quarter of 5 or 6 (two pieces), so that the model learns to copy a
/// number of two tokens into the call: trained on one-piece operands only, it copied the
/// first piece of a longer one (`8*737` for "8 times 7379"). Never 4 digits, the held-out
/// family's size.
const TRAIN_DIGITS: [u32; 8] = [1, 2, 3, 1, 2, 3, 5, 6];

/// One training conversation: operands of `TRAIN_DIGITS` digits.
pub fn item(rng: &mut SplitMix64) -> Item {
    let (da, db) = (*pick(rng, &TRAIN_DIGITS), *pick(rng, &TRAIN_DIGITS));
    ask(rng, &TRAIN, da, db, true)
}

/// One question of the held-out family: operands of 1 to 4 digits, a result of at most 7
/// digits, in wordings none of `item`'s use.
pub fn unseen(rng: &mut SplitMix64) -> Item {
    held_out(rng, &UNSEEN)
}

/// One held-out word problem (`HELD_OUT_STORIES`), operands as `unseen`'s.
pub fn story(rng: &mut SplitMix64) -> Item {
    held_out(rng, &HELD_OUT_STORIES)
}

/// A question in one of the held-out `frames`: operands of 1 to 4 digits, a result of at most
/// 7 digits.
fn held_out(rng: &mut SplitMix64, frames: &[(&str, &[&str])]) -> Item {
    let (mut da, mut db) = (1 + rng.below(4) as u32, 1 + rng.below(4) as u32);
    // A product of d1 and d2 digits has at most d1 + d2; so has a quotient's dividend.
    while da + db > 7 {
        (da, db) = (da.max(db) - 1, da.min(db));
    }
    ask(rng, frames, da, db, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unseen_questions_share_no_wording_and_go_past_training_operand_sizes() {
        // No held-out frame holds a training frame's words, nor the other way round (case and
        // punctuation aside), so a held-out question is never a training question with words
        // added or taken away.
        let words =
            |f: &str| f.to_lowercase().replace(|c: char| !c.is_alphanumeric() && c != ' ' && c != '{' && c != '}', "");
        let trained: Vec<&str> =
            TRAIN.iter().flat_map(|(_, f)| f.iter().copied()).chain(word_problems::shapes()).collect();
        let held_out = || UNSEEN.iter().chain(&HELD_OUT_STORIES).flat_map(|(_, f)| f.iter().copied());
        for (t, u) in trained.iter().flat_map(|t| held_out().map(move |u| (words(t), words(u)))) {
            assert!(!t.contains(&u) && !u.contains(&t), "{t:?} and {u:?}");
        }
        // Nor does a training story hold a sentence, a person or a thing of a held-out story.
        let sentences = held_out().flat_map(|u| u.split_inclusive(['.', '?'])).map(|s| words(s).trim().to_string());
        let stories: Vec<String> = word_problems::shapes().map(words).collect();
        for s in sentences.filter(|s| s.split(' ').count() > 3) {
            assert!(stories.iter().all(|t| !t.contains(&s)), "{s:?}");
        }
        let mut rng = SplitMix64::new(4);
        let told: Vec<String> =
            (0..2000).map(|i| words(&word_problems::frame(&mut rng, ["*", "+", "-", "/"][i % 4]))).collect();
        let nouns = [
            "train", "cars", "farmer", "apples", "monday", "library", "lent", "marbles", "bags", "cinema", "films",
            "parade", "drummers", "baker", "loaves", "bridge", "ducks", "printer", "sheets", "gardener", "tulips",
            "beds", "carts",
        ];
        for noun in nouns {
            assert!(told.iter().all(|t| !t.split(' ').any(|w| w == noun)), "{noun}");
        }
        let mut rng = SplitMix64::new(5);
        let (mut four_digits, mut longest) = (0, 0);
        for _ in 0..500 {
            let it = unseen(&mut rng);
            let call = &it.messages[1].tool_calls[0].arguments;
            assert_eq!(calculator::run(call), it.answer);
            four_digits += call.split(['*', '+', '-', '/']).any(|n| n.len() == 4) as usize;
            longest = longest.max(it.answer.len());
        }
        assert!(four_digits > 100 && longest == 7, "{four_digits} with 4-digit operands, longest result {longest}");
        // Training operands have 1 to 3, 5 or 6 digits: never 4, but for a quotient's
        // dividend (a product).
        let trained: Vec<String> =
            (0..2000).map(|_| item(&mut rng)).map(|it| it.messages[1].tool_calls[0].arguments.clone()).collect();
        let sizes = |c: &String| c.split(['*', '+', '-', '/']).map(str::len).collect::<Vec<_>>();
        assert!(trained.iter().flat_map(sizes).all(|n| n <= 12));
        assert!(trained.iter().filter(|c| !c.contains('/')).flat_map(sizes).all(|n| n != 4 && n <= 6));
        assert!(trained.iter().flat_map(sizes).filter(|&n| n >= 5).count() > 500);
    }

    #[test]
    fn items_call_the_calculator_and_give_its_exact_result() {
        let mut rng = SplitMix64::new(3);
        for _ in 0..200 {
            let item = item(&mut rng);
            crate::conversation::validate(&item.messages).unwrap();
            let call = &item.messages[1].tool_calls[0];
            assert_eq!(calculator::run(&call.arguments), item.answer);
            assert!(item.answer.parse::<i64>().is_ok(), "whole results only: {}", item.answer);
            assert!(super::super::is_correct(&item.messages[3].content, &item.answer));
        }
        // An opening lowercases the question's first letter, but not a name's.
        for _ in 0..2000 {
            let question = item(&mut rng).messages[0].content.clone();
            let lowered = question
                .split(|c: char| !c.is_ascii_alphabetic())
                .filter(|w| w.starts_with(|c: char| c.is_ascii_lowercase()))
                .any(|w| word_problems::is_name(&(w[..1].to_uppercase() + &w[1..])));
            assert!(!lowered, "{question}");
        }
    }
}
