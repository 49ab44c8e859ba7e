//! FineWeb's stage-1 chain over WARC files: HTML pages -> URL filter -> main-text extraction
//! (skipped for WET texts)
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

pub use minichat_corpus::Doc;

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

/// A stage of the chain, in order. The quality filters are the pipeline's list
/// (`Pipeline::filters`: Gopher repetition, Gopher quality, C4, FineWeb quality by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    UrlFilter,
    Extract,
    Language,
    /// The quality filter at this place in `Pipeline::filters`.
    Quality(usize),
    /// PII removal, and the GPT-2 token count.
    Pii,
}

/// One page's way through the chain.
pub struct Processed {
    /// The document, or the stage that dropped it, the reason, and the document as far as it
    /// got.
    pub result: Result<Doc, (Stage, &'static str, Doc)>,
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

    /// FineWeb's chain with URL lists from a folder (datatrove/UT1 format) instead of the
    /// built-in ones, and fastText language identification (FineWeb's lid.176) instead of
    /// whatlang, when given.
    pub fn with_models(
        dump: &str,
        url_lists: Option<&Path>,
        lid_model: Option<&Path>,
    ) -> Result<Pipeline, crate::Error> {
        let mut pipeline = Pipeline::fineweb(dump);
        if let Some(dir) = url_lists {
            pipeline.url_filter = UrlFilter::from_dir(dir)?;
        }
        if let Some(path) = lid_model {
            pipeline.lid = crate::lid::Lid::FastText(Box::new(crate::fasttext::Model::load(path)?));
        }
        Ok(pipeline)
    }

    /// The stages in order.
    pub fn stages(&self) -> Vec<Stage> {
        [Stage::UrlFilter, Stage::Extract].into_iter().chain(self.text_stages_after_extraction()).collect()
    }

    /// The stages after extraction, in order (no allocation: it runs once per page).
    fn text_stages_after_extraction(&self) -> impl Iterator<Item = Stage> {
        let quality = (0..self.filters.len()).map(Stage::Quality);
        std::iter::once(Stage::Language).chain(quality).chain(std::iter::once(Stage::Pii))
    }

    /// A stage's name (as in stats, exclusions and `data filter --stages`).
    pub fn name(&self, stage: Stage) -> &'static str {
        match stage {
            Stage::UrlFilter => "url_filter",
            Stage::Extract => "extract",
            Stage::Language => "language",
            Stage::Quality(i) => self.filters[i].name(),
            Stage::Pii => "pii",
        }
    }

    /// Stage names in order.
    pub fn stage_names(&self) -> Vec<&'static str> {
        self.stages().into_iter().map(|s| self.name(s)).collect()
    }

    /// A stage's place in `stages` (and in the stats' list of stages).
    pub fn index(&self, stage: Stage) -> usize {
        match stage {
            Stage::UrlFilter => 0,
            Stage::Extract => 1,
            Stage::Language => 2,
            Stage::Quality(i) => 3 + i,
            Stage::Pii => 3 + self.filters.len(),
        }
    }

    /// A stage by name, if there is one.
    pub fn stage(&self, name: &str) -> Option<Stage> {
        self.stages().into_iter().find(|&s| self.name(s) == name)
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
    ) -> (Result<Doc, (Stage, &'static str, Doc)>, Vec<f64>) {
        let mut times = vec![0.0; self.index(Stage::Pii) + 1];
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
            doc.text = page.content;
            return (Err((Stage::UrlFilter, reason, doc)), times);
        }
        lap(&mut times, 0);
        match page.kind {
            // A WET file's text was extracted by Common Crawl already.
            page::Kind::Text => doc.text = page.content,
            page::Kind::Html => match self.extractor.extract(&page.content) {
                Ok(text) => doc.text = text,
                Err(reason) => {
                    lap(&mut times, 1);
                    return (Err((Stage::Extract, reason, doc)), times);
                }
            },
        }
        lap(&mut times, 1);
        for stage in self.text_stages_after_extraction() {
            let r = self.text_stage(stage, &mut doc, pii);
            lap(&mut times, self.index(stage));
            if let Err(reason) = r {
                return (Err((stage, reason, doc)), times);
            }
        }
        (Ok(doc), times)
    }

    /// Runs `stage` on a document that has its text: the URL filter, the language filter
    /// (which sets `language` and `language_score`), a quality filter, or PII removal (which
    /// also sets `token_count`). Extraction is not one of them (it makes the text). Err is the
    /// reason the document is dropped.
    pub fn text_stage(&self, stage: Stage, doc: &mut Doc, pii: &mut Counts) -> Result<(), &'static str> {
        match stage {
            Stage::UrlFilter => self.url_filter.check(&doc.url),
            Stage::Extract => Ok(()),
            Stage::Language => match self.lid.decide(&doc.text, &self.languages, self.language_threshold) {
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
            Stage::Quality(i) => self.filters[i].apply(&mut doc.text),
            Stage::Pii => {
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
                    Err((stage, _, _)) => self.index(*stage),
                };
                for s in &mut stats.stages[..reached.min(names.len())] {
                    s.docs_in += 1;
                    s.docs_out += 1;
                }
                match result {
                    Ok(doc) => keep(&doc),
                    Err((stage, reason, doc)) => {
                        let i = self.index(stage);
                        stats.stages[i].docs_in += 1;
                        stats.stages[i].dropped.inc(reason);
                        drop(names[i], reason, &doc);
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
