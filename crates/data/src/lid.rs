//! Language identification. FineWeb keeps documents whose fastText `lid.176` score for English
//! is over 0.65. Two detectors: fastText itself (`fasttext.rs`, pure Rust) when a model file
//! is given (`Lid::FastText`: FineWeb's exact decisions), else the built-in `whatlang`
//! trigram detector (the one `trafilatura` also uses), whose `confidence` is on another scale
//! (calibration: docs/data.md, tests/lid.rs).

/// The least score an English document needs to be kept. Against fastText lid.176's "en >
/// 0.65" on data/corpus.jsonl (`tests/lid.rs`) every threshold agrees on 88.7-90.0% of the
/// documents: whatlang's confidence saturates, and the disagreements are code-heavy English that
/// fastText scores low. FineWeb's value is kept until fastText itself runs here.
pub const EN_THRESHOLD: f64 = 0.65;

/// A document's language (ISO 639-1 where it has one) and the detector's score in [0, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct Language {
    pub code: String,
    pub score: f64,
}

/// A language detector.
pub enum Lid {
    /// whatlang, built in.
    Whatlang,
    /// A fastText model (e.g. lid.176.ftz).
    FastText(Box<crate::fasttext::Model>),
}

impl Lid {
    /// The most likely language of `text` with its score, and whether any of `keep` scores
    /// over `threshold` (datatrove's `LanguageFilter`: the score of a kept language counts,
    /// whether or not it is the top one). None if the detector cannot tell.
    pub fn decide(&self, text: &str, keep: &[String], threshold: f64) -> Option<(Language, bool)> {
        match self {
            Lid::Whatlang => {
                let lang = identify(text)?;
                let kept = keep.contains(&lang.code) && lang.score > threshold;
                Some((lang, kept))
            }
            Lid::FastText(model) => {
                let scores = model.predict(&text.replace('\n', " "));
                let &(code, score) = scores.first()?;
                let kept = scores.iter().any(|(l, s)| keep.iter().any(|k| k == l) && *s as f64 > threshold);
                Some((Language { code: code.to_string(), score: score as f64 }, kept))
            }
        }
    }
}

/// whatlang's language of `text` (newlines read as spaces, as datatrove feeds fastText), or
/// None if the detector cannot tell (no letters).
pub fn identify(text: &str) -> Option<Language> {
    let flat = text.replace('\n', " ");
    let info = whatlang::detect(&flat)?;
    Some(Language { code: iso639_1(info.lang().code()).to_string(), score: info.confidence() })
}

/// ISO 639-3 to 639-1 for the languages whatlang knows that have a two-letter code.
fn iso639_1(code3: &str) -> &str {
    const MAP: [(&str, &str); 50] = [
        ("eng", "en"),
        ("deu", "de"),
        ("fra", "fr"),
        ("spa", "es"),
        ("ita", "it"),
        ("por", "pt"),
        ("rus", "ru"),
        ("cmn", "zh"),
        ("jpn", "ja"),
        ("kor", "ko"),
        ("pol", "pl"),
        ("nld", "nl"),
        ("swe", "sv"),
        ("dan", "da"),
        ("nob", "nb"),
        ("fin", "fi"),
        ("ces", "cs"),
        ("slk", "sk"),
        ("slv", "sl"),
        ("hrv", "hr"),
        ("srp", "sr"),
        ("bul", "bg"),
        ("ukr", "uk"),
        ("bel", "be"),
        ("ron", "ro"),
        ("hun", "hu"),
        ("ell", "el"),
        ("tur", "tr"),
        ("ara", "ar"),
        ("heb", "he"),
        ("pes", "fa"),
        ("hin", "hi"),
        ("ben", "bn"),
        ("urd", "ur"),
        ("tam", "ta"),
        ("tel", "te"),
        ("mar", "mr"),
        ("guj", "gu"),
        ("kan", "kn"),
        ("mal", "ml"),
        ("pan", "pa"),
        ("tha", "th"),
        ("vie", "vi"),
        ("ind", "id"),
        ("lit", "lt"),
        ("lav", "lv"),
        ("est", "et"),
        ("cat", "ca"),
        ("epo", "eo"),
        ("afr", "af"),
    ];
    MAP.iter().find(|(c3, _)| *c3 == code3).map_or(code3, |(_, c1)| c1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_english_from_french_and_german() {
        let en =
            identify("The quick brown fox jumps over the lazy dog while the farmer watches from the porch.").unwrap();
        assert_eq!(en.code, "en");
        assert!(en.score > 0.5);
        let fr = identify("Le renard brun rapide saute par-dessus le chien paresseux pendant que le fermier regarde.")
            .unwrap();
        assert_eq!(fr.code, "fr");
        let de =
            identify("Der schnelle braune Fuchs springt über den faulen Hund, während der Bauer zuschaut.").unwrap();
        assert_eq!(de.code, "de");
        assert_eq!(identify("1234 5678 !!!"), None);
    }
}
