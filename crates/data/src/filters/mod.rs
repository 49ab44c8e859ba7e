//! FineWeb's quality filters, with datatrove 0.10.1's thresholds and semantics (its word
//! tokenizer is spaCy's, ours is `words`): each takes a document's text and keeps it or names
//! the reason it is dropped (datatrove's reason strings). The C4 filter also rewrites the text
//! to the lines it keeps.

pub mod c4;
pub mod fineweb_quality;
pub mod gopher_quality;
pub mod gopher_repetition;

/// A filter over a document's text.
pub trait Filter: Send + Sync {
    /// The stage name (for stats and exclusion output).
    fn name(&self) -> &'static str;
    /// Ok to keep the document (`text` possibly rewritten), or the reason to drop it.
    fn apply(&self, text: &mut String) -> Result<(), &'static str>;
}

/// FineWeb's chain after language identification, in its order.
pub fn fineweb_chain() -> Vec<Box<dyn Filter>> {
    vec![
        Box::new(gopher_repetition::GopherRepetition::default()),
        Box::new(gopher_quality::GopherQuality::default()),
        // FineWeb runs C4 without the terminal-punctuation line filter.
        Box::new(c4::C4Quality { filter_no_terminal_punct: false, ..c4::C4Quality::default() }),
        Box::new(fineweb_quality::FineWebQuality::default()),
    ]
}
