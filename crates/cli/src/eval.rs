//! `minichat eval RUN...`: the exam, the same for every run given (say the base run and its
//! fine-tuned run), and a report card: a markdown table and a bar chart (SVG).

use anyhow::{Context, Result};
use clap::Args;
use minichat_chat::conversation::{ChatTokens, Role};
use minichat_chat::exam::{self, Question};
use minichat_chat::tools::Tools;
use std::path::{Path, PathBuf};

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
    /// A corpus (text or JSONL) whose held-out documents (pretraining's validation split) give
    /// bits per byte.
    #[arg(long)]
    text: Option<PathBuf>,
    /// Share of the corpus pretraining held out (its config's data.val_fraction).
    #[arg(long, default_value_t = 0.01)]
    val_fraction: f64,
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

/// One line of the report: a metric and its value per run (None: not measured).
struct Row {
    name: String,
    /// Accuracy in [0, 1], or bits per byte.
    values: Vec<Option<f64>>,
    accuracy: bool,
}

/// The questions of a task's test file.
fn questions(path: &Path, limit: usize) -> Result<Vec<Question>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).take(limit) {
        let v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{}:{}", path.display(), i + 1))?;
        let messages = minichat_chat::dataset::parse_line(line)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), i + 1))?;
        let upto = messages.iter().position(|m| m.role == Role::User).map_or(0, |p| p + 1);
        let answer = v["answer"].as_str().with_context(|| format!("{}:{}: no \"answer\"", path.display(), i + 1))?;
        out.push(Question { prompt: messages[..upto].to_vec(), answer: answer.to_string() });
    }
    Ok(out)
}

/// The held-out documents of a corpus, as one token stream with document separators.
fn held_out_tokens(path: &Path, tok: &minichat_tokenizer::Tokenizer, fraction: f64) -> Result<Vec<u32>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let docs: Vec<String> = match path.extension().is_some_and(|e| e == "jsonl") {
        true => text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["text"].as_str().map(str::to_string))
            .collect(),
        false => vec![text],
    };
    let bos = minichat_train::tokenize::bos_id(tok)?;
    let mut ids = Vec::new();
    for d in docs.iter().filter(|d| minichat_train::tokenize::is_val(d, fraction)) {
        ids.push(bos);
        ids.extend(tok.encode_ordinary(d));
    }
    Ok(ids)
}

pub fn run(a: EvalArgs) -> Result<()> {
    let mut rows: Vec<Row> = Vec::new();
    let row = |rows: &mut Vec<Row>, name: String, accuracy: bool, run: usize, value: Option<f64>| {
        let r = match rows.iter().position(|r| r.name == name) {
            Some(i) => &mut rows[i],
            None => {
                rows.push(Row { name, values: vec![None; a.runs.len()], accuracy });
                rows.last_mut().expect("just pushed")
            }
        };
        r.values[run] = value;
    };
    let mut task_files: Vec<PathBuf> = match &a.tasks {
        Some(dir) => std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with("-test.jsonl"))
            .collect(),
        None => Vec::new(),
    };
    task_files.sort();
    let index = a.search_index.as_ref().map(|p| minichat_data::index::Index::load(p)).transpose()?;
    if index.is_none() && task_files.iter().any(|f| f.ends_with("search-test.jsonl")) {
        eprintln!("warning: no --search-index: the search task's tool calls will get an error back");
    }
    for (r, dir) in a.runs.iter().enumerate() {
        let (net, tok) = crate::generate::load(dir, None, false)?;
        eprintln!("examining {}", dir.display());
        if let Some(text) = &a.text {
            let ids = held_out_tokens(text, &tok, a.val_fraction)?;
            let t = net.config().block_size;
            let value = if ids.len() > t {
                let mut acts = net.acts(4, t)?;
                Some(minichat_train::trainer::evaluate(&net, &mut acts, &ids, &tok, 200_000)?.1 as f64)
            } else {
                None
            };
            row(&mut rows, "bits per byte, held-out text (lower is better)".into(), false, r, value);
        }
        let ct = ChatTokens::of(&tok).ok();
        let tools = Tools { search: index.as_ref().map(crate::chat::search_tool) };
        for file in &task_files {
            let task = file.file_name().map(|n| n.to_string_lossy().replace("-test.jsonl", "")).unwrap_or_default();
            let qs = questions(file, a.limit)?;
            let modes: &[(Option<&Tools>, &str)] = if task == "arithmetic" {
                &[(Some(&tools), " (with tools)"), (None, " (no tools)")]
            } else {
                &[(Some(&tools), "")]
            };
            for (tools, label) in modes {
                let value = match &ct {
                    Some(ct) => {
                        let answered = exam::generative(&net, &tok, ct, &qs, *tools, a.max_tokens)?;
                        if let Some(first) = answered.first() {
                            eprintln!("  {task}{label}: {:?} -> {:?}", first.question, first.reply);
                        }
                        Some(answered.iter().filter(|x| x.correct).count() as f64 / answered.len().max(1) as f64)
                    }
                    None => None,
                };
                row(&mut rows, format!("{task}{label}"), true, r, value);
            }
        }
        for file in &a.choices {
            let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
            let (qs, problems) = exam::read_choices(&text, &file.display().to_string());
            for p in problems.iter().take(5) {
                eprintln!("skipped: {p}");
            }
            let qs: Vec<_> = qs.into_iter().take(a.limit).collect();
            let right = exam::multiple_choice(&net, &tok, minichat_train::tokenize::bos_id(&tok)?, &qs)?;
            let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let value = Some(right.iter().filter(|&&x| x).count() as f64 / right.len().max(1) as f64);
            row(&mut rows, format!("multiple choice: {stem} ({} questions)", qs.len()), true, r, value);
        }
    }
    let names: Vec<String> = a.runs.iter().map(|p| p.display().to_string()).collect();
    let table = markdown(&names, &rows);
    println!("{table}");
    if let Some(dir) = &a.output {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        minichat_train::atomic_write(&dir.join("report.md"), format!("# Report card\n\n{table}").as_bytes())?;
        minichat_train::atomic_write(&dir.join("report.svg"), svg(&names, &rows).as_bytes())?;
        eprintln!("wrote {0}/report.md and {0}/report.svg", dir.display());
    }
    Ok(())
}

fn markdown(runs: &[String], rows: &[Row]) -> String {
    let mut out = format!("| | {} |\n|---|{}\n", runs.join(" | "), "---|".repeat(runs.len()));
    for r in rows {
        let cells: Vec<String> = r
            .values
            .iter()
            .map(|v| match (v, r.accuracy) {
                (None, _) => "n/a".into(),
                (Some(x), true) => format!("{:.1}%", 100.0 * x),
                (Some(x), false) => format!("{x:.4}"),
            })
            .collect();
        out.push_str(&format!("| {} | {} |\n", r.name, cells.join(" | ")));
    }
    out
}

/// Accuracy rows as grouped horizontal bars, one colour per run.
fn svg(runs: &[String], rows: &[Row]) -> String {
    const COLOURS: [&str; 4] = ["#8da0cb", "#fc8d62", "#66c2a5", "#e78ac3"];
    let rows: Vec<&Row> = rows.iter().filter(|r| r.accuracy).collect();
    let (label_w, bar_w, bar_h) = (260.0, 400.0, 14.0);
    let group_h = bar_h * runs.len() as f64 + 12.0;
    let height = 40.0 + group_h * rows.len() as f64 + 20.0 * runs.len() as f64;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <text x=\"10\" y=\"20\" font-size=\"14\">Report card: accuracy (%)</text>\n",
        label_w + bar_w + 60.0
    );
    let esc = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    for (i, r) in rows.iter().enumerate() {
        let y0 = 35.0 + group_h * i as f64;
        s.push_str(&format!("<text x=\"10\" y=\"{}\">{}</text>\n", y0 + bar_h, esc(&r.name)));
        for (j, v) in r.values.iter().enumerate() {
            let y = y0 + bar_h * j as f64;
            let x = v.unwrap_or(0.0);
            s.push_str(&format!(
                "<rect x=\"{label_w}\" y=\"{y}\" width=\"{:.1}\" height=\"{}\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{}\">{}</text>\n",
                bar_w * x,
                bar_h - 2.0,
                COLOURS[j % COLOURS.len()],
                label_w + bar_w * x + 4.0,
                y + bar_h - 3.0,
                v.map_or("n/a".into(), |x| format!("{:.1}", 100.0 * x))
            ));
        }
    }
    let legend_y = 40.0 + group_h * rows.len() as f64;
    for (j, run) in runs.iter().enumerate() {
        let y = legend_y + 20.0 * j as f64;
        s.push_str(&format!(
            "<rect x=\"10\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"28\" y=\"{}\">{}</text>\n",
            COLOURS[j % COLOURS.len()],
            y + 11.0,
            esc(run)
        ));
    }
    s.push_str("</svg>\n");
    s
}
