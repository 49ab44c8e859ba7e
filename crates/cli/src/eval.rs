//! `minichat eval RUN...`: the exam (`minichat_chat::exam`), the same for every run given (say
//! the base run and its fine-tuned run), with held-out bits per byte (`minichat_train::heldout`)
//! and a report card: a markdown table and a bar chart (SVG).

use anyhow::Result;
use clap::Args;
use minichat_chat::exam::report::ReportCard;
use minichat_chat::exam::Exam;
use minichat_chat::tools::Tools;
use minichat_train::heldout;
use minichat_train::run::Run;
use std::path::PathBuf;

#[derive(Args)]
pub struct EvalArgs {
    /// Run directories to examine (each at its latest checkpoint).
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// A folder of generated tasks (`minichat tasks make`): its *-test.jsonl files are asked.
    #[arg(long)]
    tasks: Option<PathBuf>,
    /// Multiple-choice files: JSONL lines {"question", "choices": [...], "answer": INDEX}.
    #[arg(long)]
    choices: Vec<PathBuf>,
    /// Corpus files (text, JSONL or Parquet) whose held-out documents give bits per byte,
    /// instead of the run's own validation shards (a fine-tuned run: its base run's).
    #[arg(long, num_args = 1..)]
    text: Vec<PathBuf>,
    /// With --text: the share of documents held out (default: the run's data.val_fraction).
    #[arg(long)]
    val_fraction: Option<f64>,
    /// Questions per task at most.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Reply tokens at most.
    #[arg(long, default_value_t = 48)]
    max_tokens: usize,
    /// A search index (`minichat data index`) for the model's `search` tool calls (the
    /// search task's questions need it).
    #[arg(long)]
    search_index: Option<PathBuf>,
    /// Write the report card to DIR/report.md and DIR/report.svg.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// The report card's row for held-out text.
const BPB: &str = "bits per byte, held-out text (lower is better)";

pub fn run(a: EvalArgs) -> Result<()> {
    let exam = Exam::load(a.tasks.as_deref(), &a.choices, a.limit, a.max_tokens, |p| eprintln!("skipped: {p}"))?;
    let index = a.search_index.as_ref().map(|p| minichat_data::index::Index::load(p)).transpose()?;
    if index.is_none() && exam.needs_search() {
        eprintln!("warning: no --search-index: the search task's tool calls will get an error back");
    }
    let tools = Tools { search: index.as_ref().map(|i| Box::new(|q: &str| i.tool_result(q)) as _) };
    let mut card = ReportCard::new(a.runs.iter().map(|p| p.display().to_string()).collect());
    for (r, dir) in a.runs.iter().enumerate() {
        let run = Run::open(dir)?;
        let model = run.load_model(None, false)?;
        eprintln!("examining {}", dir.display());
        let tokens = match a.text.is_empty() {
            true => heldout::validation_tokens(&run, &model.tok)?,
            false => {
                let fraction = a.val_fraction.map_or_else(|| run.read_config().map(|c| c.data.val_fraction), Ok)?;
                heldout::corpus_tokens(&a.text, &model.tok, fraction)?
            }
        };
        let bpb = heldout::bits_per_byte(&model.net, &model.tok, &tokens)?;
        card.set(r, BPB, false, bpb.map(f64::from));
        for score in exam.sit(&model.net, &model.tok, &tools)? {
            if let Some((question, reply)) = &score.example {
                eprintln!("  {}: {question:?} -> {reply:?}", score.name);
            }
            card.set(r, &score.name, true, score.accuracy);
        }
    }
    println!("{}", card.markdown());
    if let Some(dir) = &a.output {
        card.write(dir)?;
        eprintln!("wrote {0}/report.md and {0}/report.svg", dir.display());
    }
    Ok(())
}
