//! The tools the assistant can call, by name: `calculator` (exact arithmetic). A call to an
//! unknown tool, or with arguments the tool cannot use, gets an error message back, which the
//! model sees as the tool's result.

pub mod calculator;

use crate::conversation::ToolCall;

/// The names of the built-in tools.
pub const TOOLS: [&str; 1] = ["calculator"];

/// Runs `call` and returns its result text.
pub fn run(call: &ToolCall) -> String {
    match call.name.as_str() {
        "calculator" => calculator::run(&call.arguments),
        other => format!("error: no tool named {other:?} (tools: {})", TOOLS.join(", ")),
    }
}
