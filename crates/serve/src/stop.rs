//! `stop` strings: the reply ends where one first appears, and the returned text leaves it
//! out. Text that might be the start of a stop string is held back until it is clear that it
//! is not, so a stream never sends what the full reply would not contain.

/// The stop strings of one choice and the text held back.
#[derive(Clone, Debug, Default)]
pub struct StopText {
    stops: Vec<String>,
    held: String,
}

impl StopText {
    pub fn new(stops: Vec<String>) -> StopText {
        StopText { stops: stops.into_iter().filter(|s| !s.is_empty()).collect(), held: String::new() }
    }

    /// Takes the next piece of text; returns what can be sent now, and whether a stop string
    /// was found (then the text before it is all there is).
    pub fn push(&mut self, text: &str) -> (String, bool) {
        if self.stops.is_empty() {
            return (text.to_string(), false);
        }
        self.held.push_str(text);
        if let Some(at) = self.stops.iter().filter_map(|s| self.held.find(s.as_str())).min() {
            let out = self.held[..at].to_string();
            self.held.clear();
            return (out, true);
        }
        // Hold back the longest end of the text that a stop string starts with.
        let keep = self
            .held
            .char_indices()
            .map(|(i, _)| i)
            .find(|&i| self.stops.iter().any(|s| s.starts_with(&self.held[i..])))
            .unwrap_or(self.held.len());
        let out = self.held[..keep].to_string();
        self.held.drain(..keep);
        (out, false)
    }

    /// The text held back, at the reply's end (no stop string came).
    pub fn flush(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let mut s = StopText::new(stops.iter().map(|s| s.to_string()).collect());
        let mut out = String::new();
        for p in pieces {
            let (text, stopped) = s.push(p);
            out.push_str(&text);
            if stopped {
                return (out, true);
            }
        }
        out.push_str(&s.flush());
        (out, false)
    }

    #[test]
    fn cuts_before_the_first_stop_across_pieces() {
        assert_eq!(run(&["\n\n", "END"], &["Hello", " wor", "ld\n", "\nmore"]), ("Hello world".into(), true));
        assert_eq!(run(&["END"], &["a E", "N", "x"]), ("a ENx".into(), false));
        assert_eq!(run(&["é!"], &["café", "!"]), ("caf".into(), true));
        assert_eq!(run(&[], &["a", "b"]), ("ab".into(), false));
    }

    proptest! {
        /// Whatever the pieces, the text sent is the full text up to the first stop string.
        #[test]
        fn equals_cutting_the_whole_text(text in "[ab\n]{0,40}", cuts in proptest::collection::vec(0usize..40, 0..6), stop in "[ab\n]{1,3}") {
            let mut at: Vec<usize> = cuts.into_iter().filter(|&c| c <= text.len()).collect();
            at.sort();
            at.dedup();
            let mut pieces = Vec::new();
            let mut prev = 0;
            for c in at.into_iter().chain([text.len()]) {
                pieces.push(&text[prev..c]);
                prev = c;
            }
            let want = match text.find(&stop) { Some(i) => (text[..i].to_string(), true), None => (text.clone(), false) };
            prop_assert_eq!(run(&[stop.as_str()], &pieces), want);
        }
    }
}
