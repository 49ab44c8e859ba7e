//! Spelling and letter counting. A model reads tokens, not letters ("strawberry" may be one or
//! two tokens), so "how many r's are in strawberry?" is hard for it; the replies teach it to
//! spell the word out first, one letter at a time, and count along.

use super::{pick, Item};
use crate::conversation::{Message, Role};
use minichat_model::rng::SplitMix64;

/// Words of `text` fit for the task: lowercase ASCII letters only, 3 to 14 letters, distinct,
/// in order of first appearance.
pub fn words_of(text: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| (3..=14).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_lowercase()))
        .filter(|w| seen.insert(w.to_string()))
        .map(str::to_string)
        .collect()
}

/// The spelling words of corpus files (`minichat-corpus`'s reader): of their English
/// documents and those that do not say their language.
pub fn words_from(paths: &[std::path::PathBuf]) -> Result<Vec<String>, crate::Error> {
    let english = minichat_corpus::documents::Options { language: Some("en".into()), ..Default::default() };
    let (docs, _) = minichat_corpus::documents::read_all(paths, &english)?;
    Ok(words_of(&docs.join("\n")))
}

/// The word spelled out: `s-t-r-a-w`.
pub fn spelled(word: &str) -> String {
    word.chars().map(String::from).collect::<Vec<_>>().join("-")
}

/// One spelling or counting conversation about a word of `words`.
pub fn item(rng: &mut SplitMix64, words: &[String]) -> Item {
    let word = pick(rng, words).clone();
    if rng.below(3) == 0 {
        let question = format!("How do you spell \"{word}\"?");
        let reply = format!("\"{word}\" is spelled {}.", spelled(&word));
        return Item {
            messages: vec![Message::new(Role::User, question), Message::new(Role::Assistant, reply)],
            answer: spelled(&word),
        };
    }
    // Count a letter of the word most of the time, sometimes one it lacks.
    let letters: Vec<char> = word.chars().collect();
    let letter = if rng.below(5) == 0 { (b'a' + rng.below(26) as u8) as char } else { *pick(rng, &letters) };
    let question = match rng.below(3) {
        0 => format!("How many times does the letter '{letter}' appear in \"{word}\"?"),
        1 => format!("How many {letter}'s are in the word {word}?"),
        _ => format!("Count the letter {letter} in \"{word}\"."),
    };
    let mut count = 0;
    let steps: Vec<String> = letters
        .iter()
        .map(|&c| {
            if c == letter {
                count += 1;
                format!("{c} ({count})")
            } else {
                c.to_string()
            }
        })
        .collect();
    let times = if count == 1 { "time" } else { "times" };
    let reply = format!("Spelling it out: {}. The letter '{letter}' appears {count} {times}.", steps.join(", "));
    Item {
        messages: vec![Message::new(Role::User, question), Message::new(Role::Assistant, reply)],
        answer: count.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_right_and_spellings_exact() {
        let words = words_of("The strawberry, banana and Apple; x y strawberry mississippi 42");
        assert_eq!(words, ["strawberry", "banana", "and", "mississippi"]);
        let mut rng = SplitMix64::new(5);
        for _ in 0..300 {
            let item = item(&mut rng, &words);
            crate::conversation::validate(&item.messages).unwrap();
            let (question, reply) = (&item.messages[0].content, &item.messages[1].content);
            assert!(super::super::is_correct(reply, &item.answer), "{reply} / {}", item.answer);
            if let Some(rest) = question.strip_prefix("How many times does the letter '") {
                let letter = rest.chars().next().unwrap();
                let word = rest.split('"').nth(1).unwrap();
                assert_eq!(item.answer, word.matches(letter).count().to_string(), "{question}");
            }
        }
        assert_eq!(spelled("abc"), "a-b-c");
    }
}
