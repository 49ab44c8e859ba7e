//! A document with FineWeb's columns: what the web-data pipeline writes and its later stages
//! read (and what FineWeb itself publishes, as Parquet).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Doc {
    pub text: String,
    pub id: String,
    pub dump: String,
    pub url: String,
    pub date: String,
    pub file_path: String,
    pub language: String,
    pub language_score: f64,
    /// GPT-2 tokens in `text` (r50k_base, as FineWeb's `TokensCounter("gpt2")`).
    pub token_count: u64,
}

impl Doc {
    /// A string column by name (`text`, `id`, `dump`, `url`, `date`, `file_path`, `language`).
    pub fn field(&self, name: &str) -> Option<&str> {
        Some(match name {
            "text" => &self.text,
            "id" => &self.id,
            "dump" => &self.dump,
            "url" => &self.url,
            "date" => &self.date,
            "file_path" => &self.file_path,
            "language" => &self.language,
            _ => return None,
        })
    }
}
