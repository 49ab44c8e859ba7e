//! The calculator tool: exact arithmetic on a small expression language, parsed here (no code
//! is ever run). Numbers are decimals (`12`, `3.25`, `1,000` with thousands commas, as people
//! and GSM8K write them); operators `+ - * / %`, powers `^` or `**` (whole exponents up to
//! 1000), parentheses and unary minus. Values are exact fractions of 128-bit integers, so
//! `1/3*3` is `1`, and results print as integers, finite decimals, or a fraction with a
//! rounded decimal (`1/3 ≈ 0.333333`). Input is at most 256 characters and 64 levels deep;
//! anything else (an unknown character, a number too large, division by zero) is an error
//! message for the model, not a failure.

/// The longest expression accepted, in characters, and the deepest nesting.
pub const MAX_CHARS: usize = 256;
const MAX_DEPTH: usize = 64;

/// An exact fraction, always reduced, with a positive denominator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    pub num: i128,
    pub den: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

const TOO_LARGE: &str = "a number is too large";

impl Ratio {
    fn new(num: i128, den: i128) -> Result<Ratio, String> {
        if den == 0 {
            return Err("division by zero".into());
        }
        let g = gcd(num, den).max(1);
        let sign = if den < 0 { -1 } else { 1 };
        Ok(Ratio {
            num: (num / g).checked_mul(sign).ok_or(TOO_LARGE)?,
            den: (den / g).checked_mul(sign).ok_or(TOO_LARGE)?,
        })
    }

    fn int(n: i128) -> Ratio {
        Ratio { num: n, den: 1 }
    }

    fn add(self, o: Ratio) -> Result<Ratio, String> {
        let num = self.num.checked_mul(o.den).and_then(|a| o.num.checked_mul(self.den).and_then(|b| a.checked_add(b)));
        Ratio::new(num.ok_or(TOO_LARGE)?, self.den.checked_mul(o.den).ok_or(TOO_LARGE)?)
    }

    fn neg(self) -> Result<Ratio, String> {
        Ok(Ratio { num: self.num.checked_neg().ok_or(TOO_LARGE)?, den: self.den })
    }

    fn mul(self, o: Ratio) -> Result<Ratio, String> {
        // Cross-reduce first so that exact results stay in range as long as possible.
        let (g1, g2) = (gcd(self.num, o.den).max(1), gcd(o.num, self.den).max(1));
        let num = (self.num / g1).checked_mul(o.num / g2).ok_or(TOO_LARGE)?;
        Ratio::new(num, (self.den / g2).checked_mul(o.den / g1).ok_or(TOO_LARGE)?)
    }

    fn div(self, o: Ratio) -> Result<Ratio, String> {
        if o.num == 0 {
            return Err("division by zero".into());
        }
        self.mul(Ratio::new(o.den, o.num)?)
    }

    /// Remainder of whole numbers, with the sign of the dividend (as most languages).
    fn rem(self, o: Ratio) -> Result<Ratio, String> {
        if self.den != 1 || o.den != 1 {
            return Err("% needs whole numbers".into());
        }
        if o.num == 0 {
            return Err("division by zero".into());
        }
        Ok(Ratio::int(self.num.checked_rem(o.num).ok_or(TOO_LARGE)?))
    }

    fn pow(self, e: Ratio) -> Result<Ratio, String> {
        if e.den != 1 || e.num.abs() > 1000 {
            return Err("powers need a whole exponent of at most 1000".into());
        }
        let mut out = Ratio::int(1);
        for _ in 0..e.num.abs() {
            out = out.mul(self)?;
        }
        if e.num < 0 {
            out = Ratio::int(1).div(out)?;
        }
        Ok(out)
    }
}

impl std::fmt::Display for Ratio {
    /// An integer, a finite decimal, or `a/b ≈ decimal` (6 places).
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        if self.den == 1 {
            return write!(f, "{}", self.num);
        }
        let mut d = self.den;
        while d % 2 == 0 {
            d /= 2;
        }
        while d % 5 == 0 {
            d /= 5;
        }
        let (sign, n) = (if self.num < 0 { "-" } else { "" }, self.num.unsigned_abs());
        let den = self.den as u128;
        let (whole, mut rest) = (n / den, n % den);
        let mut digits = String::new();
        let places = if d == 1 { 40 } else { 6 };
        while rest != 0 && digits.len() < places {
            // A denominator near the top of the range could overflow: stop there.
            let Some(r) = rest.checked_mul(10) else { break };
            digits.push(char::from(b'0' + (r / den) as u8));
            rest = r % den;
        }
        if d == 1 {
            write!(f, "{sign}{whole}.{digits}")
        } else {
            write!(f, "{}/{} ≈ {sign}{whole}.{digits}", self.num, self.den)
        }
    }
}

/// Evaluates `expr`; Err is a message for the model.
pub fn evaluate(expr: &str) -> Result<Ratio, String> {
    if expr.chars().count() > MAX_CHARS {
        return Err(format!("the expression is longer than {MAX_CHARS} characters"));
    }
    let tokens = lex(expr)?;
    let mut p = Parser { tokens: &tokens, at: 0, depth: 0 };
    let value = p.sum()?;
    match p.tokens.get(p.at) {
        None => Ok(value),
        Some(t) => Err(format!("unexpected \"{t}\"")),
    }
}

/// The tool's answer: the value, or `error: ...`.
pub fn run(expr: &str) -> String {
    match evaluate(expr) {
        Ok(v) => v.to_string(),
        Err(e) => format!("error: {e}"),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Num(Ratio),
    Op(char),
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Token::Num(n) => write!(f, "{n}"),
            Token::Op(c) => write!(f, "{c}"),
        }
    }
}

fn lex(expr: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            // A comma followed by exactly three digits separates thousands.
            let thousands = |i: usize| {
                chars[i] == ','
                    && chars.len() >= i + 4
                    && chars[i + 1..i + 4].iter().all(char::is_ascii_digit)
                    && !chars.get(i + 4).is_some_and(char::is_ascii_digit)
            };
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.' || thousands(i)) {
                i += 1;
            }
            let text: String = chars[start..i].iter().filter(|&&c| c != ',').collect();
            out.push(Token::Num(number(&text)?));
        } else if c == '*' && chars.get(i + 1) == Some(&'*') {
            out.push(Token::Op('^'));
            i += 2;
        } else if "+-*/%^()".contains(c) {
            out.push(Token::Op(c));
            i += 1;
        } else if c == '×' || c == '÷' {
            out.push(Token::Op(if c == '×' { '*' } else { '/' }));
            i += 1;
        } else {
            return Err(format!("unexpected character {c:?} (numbers and + - * / % ^ ( ) only)"));
        }
    }
    Ok(out)
}

/// A decimal number as an exact fraction.
fn number(text: &str) -> Result<Ratio, String> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if (whole.is_empty() && frac.is_empty()) || frac.contains('.') {
        return Err(format!("not a number: {text:?}"));
    }
    let digits = format!("{whole}{frac}");
    let num: i128 = digits.parse().map_err(|_| TOO_LARGE.to_string())?;
    let den = 10i128.checked_pow(frac.len() as u32).ok_or(TOO_LARGE)?;
    Ratio::new(num, den)
}

/// Recursive descent: sum := product (('+'|'-') product)*; product := unary (('*'|'/'|'%')
/// unary)*; unary := '-' unary | power; power := atom ('^' unary)?; atom := number | '(' sum ')'.
struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        match self.tokens.get(self.at) {
            Some(Token::Op(c)) => Some(*c),
            _ => None,
        }
    }

    fn sum(&mut self) -> Result<Ratio, String> {
        let mut v = self.product()?;
        while let Some(op @ ('+' | '-')) = self.peek() {
            self.at += 1;
            let r = self.product()?;
            v = if op == '+' { v.add(r)? } else { v.add(r.neg()?)? };
        }
        Ok(v)
    }

    fn product(&mut self) -> Result<Ratio, String> {
        let mut v = self.unary()?;
        while let Some(op @ ('*' | '/' | '%')) = self.peek() {
            self.at += 1;
            let r = self.unary()?;
            v = match op {
                '*' => v.mul(r)?,
                '/' => v.div(r)?,
                _ => v.rem(r)?,
            };
        }
        Ok(v)
    }

    fn unary(&mut self) -> Result<Ratio, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("the expression is nested too deeply".into());
        }
        let v = if self.peek() == Some('-') {
            self.at += 1;
            self.unary()?.neg()
        } else if self.peek() == Some('+') {
            self.at += 1;
            self.unary()
        } else {
            self.power()
        };
        self.depth -= 1;
        v
    }

    fn power(&mut self) -> Result<Ratio, String> {
        let base = self.atom()?;
        if self.peek() == Some('^') {
            self.at += 1;
            return base.pow(self.unary()?);
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Ratio, String> {
        match self.tokens.get(self.at) {
            Some(Token::Num(n)) => {
                self.at += 1;
                Ok(*n)
            }
            Some(Token::Op('(')) => {
                self.at += 1;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err("the expression is nested too deeply".into());
                }
                let v = self.sum()?;
                self.depth -= 1;
                if self.peek() != Some(')') {
                    return Err("a ( is not closed".into());
                }
                self.at += 1;
                Ok(v)
            }
            Some(t) => Err(format!("unexpected \"{t}\"")),
            None => Err("the expression ends too soon".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn exact_answers() {
        for (expr, want) in [
            ("12*7", "84"),
            ("1/3*3", "1"),
            ("(2+3)*4 - 10/4", "17.5"),
            ("1,000 + 2,500.5", "3500.5"),
            ("2^10", "1024"),
            ("2**-2", "0.25"),
            ("-3 - -2", "-1"),
            ("17 % 5", "2"),
            ("1/3", "1/3 ≈ 0.333333"),
            ("-2/3", "-2/3 ≈ -0.666666"),
            ("0.1 + 0.2", "0.3"),
            ("99999999999 * 99999999999", "9999999999800000000001"),
            ("6 ÷ 4 × 2", "3"),
        ] {
            assert_eq!(run(expr), want, "{expr}");
        }
    }

    #[test]
    fn bad_expressions_are_messages() {
        for (expr, says) in [
            ("1/0", "division by zero"),
            ("2^0.5", "whole exponent"),
            ("import os", "unexpected character"),
            ("(1+2", "not closed"),
            ("1+", "ends too soon"),
            ("1 2", "unexpected \"2\""),
            ("1,2", "unexpected character ','"),
            ("10^1000", "too large"),
            ("99999999999999999999999999999999999999999", "too large"),
            ("1.5 % 1", "whole numbers"),
        ] {
            let out = run(expr);
            assert!(out.starts_with("error: ") && out.contains(says), "{expr}: {out}");
        }
        assert!(run(&"(".repeat(100)).contains("nested too deeply"));
        assert!(run(&"1+".repeat(200)).contains("longer than"));
    }

    proptest! {
        /// On whole numbers without division the calculator agrees with i128 arithmetic.
        #[test]
        fn agrees_with_integer_arithmetic(a in -10_000i64..10_000, b in -10_000i64..10_000, c in -100i64..100) {
            let (a, b, c) = (a as i128, b as i128, c as i128);
            prop_assert_eq!(run(&format!("{a} + {b} * ({c})")), (a + b * c).to_string());
            prop_assert_eq!(run(&format!("({a} - {b}) * {c} - {a}")), ((a - b) * c - a).to_string());
        }

        /// Random text never panics: it is a value or an error message.
        #[test]
        fn never_panics(s in "[0-9+*/%^(). ,-]{0,80}") {
            let _ = run(&s);
        }
    }
}
