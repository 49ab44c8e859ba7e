//! Arithmetic the assistant answers by calling the calculator: products, sums, differences
//! and quotients of numbers too long to do "in its head", asked plainly or as small word
//! problems. The reply calls `calculator EXPR`, gets the result, and states it.

use super::{pick, Item};
use crate::conversation::{Message, Role, ToolCall};
use crate::tools::calculator;
use minichat_model::rng::SplitMix64;

/// A number with `digits` digits.
fn number(rng: &mut SplitMix64, digits: u32) -> u64 {
    let lo = 10u64.pow(digits - 1);
    lo + rng.below(9 * lo)
}

/// One arithmetic conversation.
pub fn item(rng: &mut SplitMix64) -> Item {
    // Up to 3 digits: GPT-4-style tokenizers cut digit runs in threes, so each operand is one
    // token that the model copies into its call; products still take a calculator.
    let (da, db) = (2 + rng.below(2) as u32, 1 + rng.below(3) as u32);
    let (a, b) = (number(rng, da), number(rng, db));
    let (op, symbol) = *pick(rng, &[("*", "×"), ("+", "+"), ("-", "−"), ("/", "÷")]);
    // Quotients come out whole (ask for (a*b) / b) and differences are not negative.
    let (a, b) = match op {
        "/" => (a * b, b),
        "-" if a < b => (b, a),
        _ => (a, b),
    };
    let expr = format!("{a}{op}{b}");
    let result = calculator::run(&expr);
    let question = match (op, rng.below(4)) {
        ("*", 3) => format!("A box holds {b} items. How many items are in {a} boxes?"),
        ("+", 3) => format!("I had {a} points and won {b} more. How many points do I have now?"),
        ("-", 3) => format!("A tank held {a} litres and {b} litres were used. How many litres are left?"),
        ("/", 3) => format!("{a} sweets are shared equally among {b} children. How many does each child get?"),
        (_, 0) => format!("What is {a} {symbol} {b}?"),
        (_, 1) => format!("Compute {a} {op} {b}."),
        _ => format!("How much is {a} {symbol} {b}?"),
    };
    let messages = vec![
        Message::new(Role::User, question),
        Message::with_calls("", vec![ToolCall { name: "calculator".into(), arguments: expr }]),
        Message::new(Role::Tool, result.clone()),
        // The result right after the tool's: a small model copies from nearby most easily.
        Message::new(Role::Assistant, format!("The answer is {result}.")),
    ];
    Item { messages, answer: result }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
