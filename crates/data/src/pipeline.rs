//! FineWeb's stage-1 chain over WARC files: HTML pages -> URL filter -> main-text extraction
//! -> language filter -> Gopher repetition -> Gopher quality -> C4 -> FineWeb quality -> PII
//! removal and GPT-2 token counts, with a document's first failing stage and reason recorded. Pages of a file are
//! processed in parallel batches; output order is file order.

use crate::extract::Extractor;
use crate::filters::{self, Filter};
use crate::page::{self, Page};
use crate::pii::Pii;
use crate::stats::Counts;
use crate::url_filter::UrlFilter;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// A document with FineWeb's columns.
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

/// What one stage did over a run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StageStats {
    pub name: String,
    pub docs_in: u64,
    pub docs_out: u64,
    /// Dropped documents by reason.
    pub dropped: Counts,
    /// What the stage changed in kept documents (PII replacements by kind).
    #[serde(default, skip_serializing_if = "Counts::is_empty")]
    pub changed: Counts,
    /// Time spent in the stage, summed over threads.
    pub seconds: f64,
}

/// Everything a run counted: the WARC reader's counts and each stage's.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunStats {
    pub files: u64,
    pub reader: Counts,
    pub stages: Vec<StageStats>,
}

impl RunStats {
    pub fn merge(&mut self, other: &RunStats) {
        self.files += other.files;
        self.reader.merge(&other.reader);
        if self.stages.is_empty() {
            self.stages =
                other.stages.iter().map(|s| StageStats { name: s.name.clone(), ..Default::default() }).collect();
        }
        for (a, b) in self.stages.iter_mut().zip(&other.stages) {
            a.docs_in += b.docs_in;
            a.docs_out += b.docs_out;
            a.dropped.merge(&b.dropped);
            a.changed.merge(&b.changed);
            a.seconds += b.seconds;
        }
    }
}

/// One page's way through the chain.
pub struct Processed {
    /// The document, or the index of the stage that dropped it, the reason, and the document as
    /// far as it got.
    pub result: Result<Doc, (usize, &'static str, Doc)>,
    /// Seconds spent per stage.
    pub times: Vec<f64>,
    /// PII replaced, by kind.
    pub pii: Counts,
}

/// The chain's settings.
pub struct Pipeline {
    /// The `dump` column (FineWeb: the Common Crawl snapshot name).
    pub dump: String,
    pub url_filter: UrlFilter,
    pub extractor: Extractor,
    /// The language detector, the languages kept (ISO 639-1), and the least score (see `lid`).
    pub lid: crate::lid::Lid,
    pub languages: Vec<String>,
    pub language_threshold: f64,
    pub filters: Vec<Box<dyn Filter>>,
    pub pii: Pii,
    /// Counts each kept document's tokens.
    pub token_counter: minichat_tokenizer::Tokenizer,
    /// WARC records larger than this are skipped unread.
    pub max_record: usize,
}

impl Pipeline {
    /// FineWeb's chain with minichat's default lists.
    pub fn fineweb(dump: &str) -> Pipeline {
        Pipeline {
            dump: dump.to_string(),
            url_filter: UrlFilter::builtin(),
            extractor: Extractor::default(),
            lid: crate::lid::Lid::Whatlang,
            languages: vec!["en".into()],
            language_threshold: crate::lid::EN_THRESHOLD,
            filters: filters::fineweb_chain(),
            pii: Pii::default(),
            token_counter: minichat_tokenizer::pretrained::load("r50k_base")
                .expect("the built-in GPT-2 encoding loads"),
            max_record: 64 << 20,
        }
    }

    /// Stage names in order.
    pub fn stage_names(&self) -> Vec<&'static str> {
        let mut names = vec!["url_filter", "extract", "language"];
        names.extend(self.filters.iter().map(|f| f.name()));
        names.push("pii");
        names
    }

    /// Runs one page through the chain.
    pub fn process(&self, page: Page, file_path: &str) -> Processed {
        let mut pii = Counts::default();
        let (result, times) = self.process_counting(page, file_path, &mut pii);
        Processed { result, times, pii }
    }

    #[allow(clippy::type_complexity)]
    fn process_counting(
        &self,
        page: Page,
        file_path: &str,
        pii: &mut Counts,
    ) -> (Result<Doc, (usize, &'static str, Doc)>, Vec<f64>) {
        let mut times = vec![0.0; self.stage_names().len()];
        let mut doc = Doc {
            id: page.id,
            dump: self.dump.clone(),
            url: page.url,
            date: page.date,
            file_path: file_path.to_string(),
            ..Doc::default()
        };
        let mut clock = Instant::now();
        let mut lap = |times: &mut Vec<f64>, i: usize| {
            times[i] += clock.elapsed().as_secs_f64();
            clock = Instant::now();
        };
        if let Err(reason) = self.url_filter.check(&doc.url) {
            lap(&mut times, 0);
            doc.text = page.html;
            return (Err((0, reason, doc)), times);
        }
        lap(&mut times, 0);
        match self.extractor.extract(&page.html) {
            Ok(text) => doc.text = text,
            Err(reason) => {
                lap(&mut times, 1);
                return (Err((1, reason, doc)), times);
            }
        }
        lap(&mut times, 1);
        for stage in 2..times.len() {
            let r = self.text_stage(stage, &mut doc, pii);
            lap(&mut times, stage);
            if let Err(reason) = r {
                return (Err((stage, reason, doc)), times);
            }
        }
        (Ok(doc), times)
    }

    /// Runs stage `stage` (an index into `stage_names`) on a document that has its text: the
    /// URL filter, the language filter (which sets `language` and `language_score`), a
    /// quality filter, or PII removal (which also sets `token_count`). Extraction is not one
    /// of them. Err is the reason the document is dropped.
    pub fn text_stage(&self, stage: usize, doc: &mut Doc, pii: &mut Counts) -> Result<(), &'static str> {
        let filters = 3..3 + self.filters.len();
        match stage {
            0 => self.url_filter.check(&doc.url),
            1 => Ok(()),
            2 => match self.lid.decide(&doc.text, &self.languages, self.language_threshold) {
                Some((lang, keep)) => {
                    doc.language = lang.code;
                    doc.language_score = (lang.score * 1e4).round() / 1e4;
                    if keep {
                        Ok(())
                    } else {
                        Err("language")
                    }
                }
                None => Err("unknown_language"),
            },
            s if filters.contains(&s) => self.filters[s - 3].apply(&mut doc.text),
            _ => {
                doc.text = self.pii.redact(&doc.text, pii);
                doc.token_count = self.token_counter.count(&doc.text) as u64;
                Ok(())
            }
        }
    }

    /// Runs the pages of one WARC file through the chain, after the first `skip` (done by an
    /// earlier, interrupted run), calling `keep` with each kept document and `drop` with each
    /// dropped one (stage name, reason), in file order. When `stop` is set it returns early:
    /// every page before `FileRun::pages` is then done and none after it.
    pub fn run_file(
        &self,
        path: &Path,
        skip: u64,
        stop: &AtomicBool,
        mut keep: impl FnMut(&Doc),
        mut drop: impl FnMut(&str, &str, &Doc),
    ) -> Result<FileRun, crate::Error> {
        let names = self.stage_names();
        let mut stats = RunStats {
            files: 1,
            reader: Counts::default(),
            stages: names.iter().map(|n| StageStats { name: n.to_string(), ..Default::default() }).collect(),
        };
        let file_path = path.display().to_string();
        let mut batch: Vec<Page> = Vec::new();
        let (mut seen, mut done) = (0u64, skip);
        // Pages are processed in parallel batches; once `stop` is set, pages not yet started
        // are left, and the batch's done prefix is what counts.
        let mut flush = |batch: &mut Vec<Page>, stats: &mut RunStats, done: &mut u64| {
            let results: Vec<Option<Processed>> = std::mem::take(batch)
                .into_par_iter()
                .map(|p| (!stop.load(Ordering::Relaxed)).then(|| self.process(p, &file_path)))
                .collect();
            for Processed { result, times, pii } in results.into_iter().map_while(|r| r) {
                *done += 1;
                stats.stages.last_mut().expect("the pii stage").changed.merge(&pii);
                for (s, t) in stats.stages.iter_mut().zip(&times) {
                    s.seconds += t;
                }
                let reached = match &result {
                    Ok(_) => names.len(),
                    Err((stage, _, _)) => *stage,
                };
                for s in &mut stats.stages[..reached.min(names.len())] {
                    s.docs_in += 1;
                    s.docs_out += 1;
                }
                match result {
                    Ok(doc) => keep(&doc),
                    Err((stage, reason, doc)) => {
                        stats.stages[stage].docs_in += 1;
                        stats.stages[stage].dropped.inc(reason);
                        drop(names[stage], reason, &doc);
                    }
                }
            }
        };
        const BATCH: usize = 256;
        let reader = page::for_each_page(path, self.max_record, |p| {
            seen += 1;
            if seen > skip {
                batch.push(p);
            }
            if batch.len() == BATCH {
                flush(&mut batch, &mut stats, &mut done);
            }
            !stop.load(Ordering::Relaxed)
        })?;
        flush(&mut batch, &mut stats, &mut done);
        let finished = done == seen && !stop.load(Ordering::Relaxed);
        if finished {
            stats.reader = reader;
        } else {
            // The reader's counts cover part of the file; the resumed run counts it whole.
            stats.files = 0;
        }
        Ok(FileRun { stats, pages: done, finished })
    }
}

/// What `Pipeline::run_file` did.
pub struct FileRun {
    pub stats: RunStats,
    /// Pages of the file done (the skipped ones included).
    pub pages: u64,
    /// All of the file was done; else it was stopped and `stats` has no reader counts.
    pub finished: bool,
}
