//! General questions that are not one of the assistant's tasks: a joke, an explanation, an
//! opinion, advice. A model of a few million parameters trained on a few megabytes cannot
//! answer them, so the honest reply is a short one that says so and says what it can do,
//! instead of the identity text or made-up facts (InstructGPT's and nanochat's data teach
//! models to decline what they cannot do in the same way). The test questions pair held-out
//! request frames with held-out subjects, so the exam sees wordings and topics that training
//! never showed.

use super::{pick, Item};
use crate::conversation::{Message, Role};
use minichat_model::rng::SplitMix64;

/// Request frames (`{}` is the subject); the last three of the list are held out for the test.
const FRAMES: [&str; 15] = [
    "Tell me a joke about {}.",
    "What is {}?",
    "Explain {} to me.",
    "Write a poem about {}.",
    "What do you think about {}?",
    "Can you teach me about {}?",
    "Give me some advice on {}.",
    "Tell me a story about {}.",
    "Why is {} important?",
    "What is the history of {}?",
    "Describe {} in detail.",
    "Summarise what people know about {}.",
    "I'd love to hear your thoughts on {}.",
    "Could you write an essay on {}?",
    "What are the best books about {}?",
];

/// Subjects; the last ten are held out for the test.
const SUBJECTS: [&str; 40] = [
    "dogs",
    "the weather",
    "football",
    "the moon",
    "cooking",
    "music",
    "love",
    "history",
    "the ocean",
    "cats",
    "politics",
    "money",
    "coffee",
    "trees",
    "painting",
    "the stars",
    "sleep",
    "friendship",
    "trains",
    "mountains",
    "rain",
    "chess",
    "gardening",
    "the sun",
    "birds",
    "winter",
    "bicycles",
    "happiness",
    "the internet",
    "dinosaurs",
    "volcanoes",
    "jazz",
    "philosophy",
    "the ancient Romans",
    "bees",
    "tea",
    "robots",
    "deserts",
    "dancing",
    "the piano",
];

const HELD_OUT_FRAMES: usize = 3;
const HELD_OUT_SUBJECTS: usize = 10;

/// The words every right reply has: the exam's answer.
pub const ANSWER: &str = "cannot answer that";

/// One general question and the honest reply; test items use only held-out frames and
/// subjects.
pub fn item(rng: &mut SplitMix64, test: bool) -> Item {
    let (frames, subjects) = match test {
        true => (&FRAMES[FRAMES.len() - HELD_OUT_FRAMES..], &SUBJECTS[SUBJECTS.len() - HELD_OUT_SUBJECTS..]),
        false => (&FRAMES[..FRAMES.len() - HELD_OUT_FRAMES], &SUBJECTS[..SUBJECTS.len() - HELD_OUT_SUBJECTS]),
    };
    let (frame, subject) = (*pick(rng, frames), *pick(rng, subjects));
    let question = frame.replace("{}", subject);
    let reply = format!(
        "I am a small model, so I {ANSWER} well. I can do exact arithmetic with my calculator, spell words and look things up with my search tool."
    );
    Item {
        messages: vec![Message::new(Role::User, question), Message::new(Role::Assistant, reply)],
        answer: ANSWER.into(),
    }
}

/// Train and test items (`test` at most: the held-out frames times subjects).
pub fn split(train: usize, test: usize, seed: u64) -> (Vec<Item>, Vec<Item>) {
    let test_items = super::generate(test, seed.wrapping_add(1), &[], |rng| item(rng, true));
    let train_items = super::generate(train, seed, &test_items, |rng| item(rng, false));
    (train_items, test_items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_questions_use_only_held_out_frames_and_subjects() {
        let (train, test) = split(300, 100, 4);
        assert_eq!(test.len(), HELD_OUT_FRAMES * HELD_OUT_SUBJECTS, "every held-out pair once");
        assert!(
            train.len() == 300 && train.iter().all(|t| super::super::is_correct(&t.messages[1].content, &t.answer))
        );
        // Which frame and subject make each question.
        let parts = |q: &str| {
            let all = FRAMES.iter().enumerate().flat_map(|(f, frame)| {
                SUBJECTS.iter().enumerate().map(move |(s, subject)| (f, s, frame.replace("{}", subject)))
            });
            all.filter(|(_, _, made)| made == q).map(|(f, s, _)| (f, s)).collect::<Vec<_>>()
        };
        let held =
            |(f, s): (usize, usize)| (f >= FRAMES.len() - HELD_OUT_FRAMES, s >= SUBJECTS.len() - HELD_OUT_SUBJECTS);
        let made_of = |q: &str, want: (bool, bool)| {
            let p = parts(q);
            !p.is_empty() && p.into_iter().all(|p| held(p) == want)
        };
        assert!(test.iter().all(|t| made_of(t.question(), (true, true))));
        assert!(train.iter().all(|t| made_of(t.question(), (false, false))));
    }
}
