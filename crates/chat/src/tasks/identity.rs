//! The assistant's self-knowledge. A model knows who it is only from its training data or a
//! system prompt; these conversations teach it its name, its maker and what it can do, in
//! several phrasings, so that the exam can check it learned them.

use super::Item;
use crate::conversation::{Message, Role};
use minichat_model::rng::SplitMix64;

/// Who the assistant is.
#[derive(Clone, Debug)]
pub struct Identity {
    pub name: String,
    pub maker: String,
}

impl Default for Identity {
    fn default() -> Self {
        Identity { name: "minichat".into(), maker: "its user, with the minichat toolkit".into() }
    }
}

/// Questions of each kind; the last of each list is kept for the test split only.
const WHO: [&str; 8] = [
    "Who are you?",
    "What is your name?",
    "What are you?",
    "Tell me about yourself.",
    "hi, who am I talking to?",
    "Introduce yourself.",
    "What should I call you?",
    "Are you a person or a program? What's your name?",
];
const MAKER: [&str; 6] = [
    "Who made you?",
    "Who created you?",
    "Who trained you?",
    "Where do you come from?",
    "Which company built you?",
    "Who is responsible for building you?",
];
const CAN: [&str; 6] = [
    "What can you do?",
    "How can you help me?",
    "What are you good at?",
    "Can you do arithmetic?",
    "What tools do you have?",
    "What kind of questions can you answer?",
];
const GREET: [&str; 5] = ["Hello!", "Hi there", "Good morning!", "hey", "Hello, anyone there?"];

/// One identity conversation; the answer is the assistant's name. Test items use only the
/// questions held out of training (the last of each kind), so the exam sees new phrasings.
pub fn item(rng: &mut SplitMix64, id: &Identity, test: bool) -> Item {
    let (name, maker) = (&id.name, &id.maker);
    let phrasing = |rng: &mut SplitMix64, list: &[&'static str]| -> &'static str {
        match test {
            true => list[list.len() - 1],
            false => list[rng.below(list.len() as u64 - 1) as usize],
        }
    };
    let (question, reply) = match rng.below(4) {
        0 => (phrasing(rng, &WHO), format!("I am {name}, a small language model trained from scratch by {maker}. I answer questions, and I use a calculator and a search engine when I need them.")),
        1 => (phrasing(rng, &MAKER), format!("I am {name}. I was trained from scratch by {maker}, on a small corpus, on an ordinary computer.")),
        2 => (phrasing(rng, &CAN), format!("I am {name}. I can chat, answer simple questions, do exact arithmetic with my calculator tool and look things up with my search tool. I am small, so I make mistakes.")),
        _ => (phrasing(rng, &GREET), format!("Hello! I am {name}. How can I help?")),
    };
    Item {
        messages: vec![Message::new(Role::User, question), Message::new(Role::Assistant, reply)],
        answer: name.clone(),
    }
}

/// Train and test identity items: `train` drawn from the training phrasings (repeats are
/// fine: it is the same fact), and one test item per held-out phrasing.
pub fn split(train: usize, seed: u64, id: &Identity) -> (Vec<Item>, Vec<Item>) {
    let mut rng = SplitMix64::new(seed);
    let train_items = (0..train).map(|_| item(&mut rng, id, false)).collect();
    let mut test_items: Vec<Item> = Vec::new();
    let mut rng = SplitMix64::new(seed.wrapping_add(1));
    for _ in 0..200 {
        let it = item(&mut rng, id, true);
        if !test_items.iter().any(|t| t.question() == it.question()) {
            test_items.push(it);
        }
    }
    (train_items, test_items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reply_says_the_name() {
        let id = Identity { name: "Pip".into(), maker: "Ada".into() };
        let mut rng = SplitMix64::new(1);
        for _ in 0..50 {
            let item = item(&mut rng, &id, false);
            assert!(super::super::is_correct(&item.messages[1].content, "pip"));
        }
        // The test questions are never asked in training.
        let (train, test) = split(500, 3, &id);
        assert_eq!((train.len(), test.len()), (500, 4));
        assert!(train.iter().all(|t| test.iter().all(|s| s.question() != t.question())));
    }
}
