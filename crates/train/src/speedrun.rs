//! The speedrun: every stage on the embedded data, sized by a preset (`preset`), as the
//! minichat binary's own commands (as nanochat's speedrun.sh runs its scripts), in one folder:
//!
//! ```text
//! OUT/web/              `data run` on the demo crawl
//! OUT/web-dedup/        `data dedup`; its output/ is the cleaned crawl
//! OUT/web.idx           `data index`: the search tool's index
//! OUT/tokenizer.mctok   `tokenizer train` on the corpus and the cleaned crawl
//! OUT/base/             `pretrain`: the base run
//! OUT/tasks/            `tasks make`: generated conversations (`minichat_chat::tasks::file`)
//! OUT/chat/             `sft`: the chat run, on the fine-tuning mixture
//! OUT/chat-rl/          `rl`: the chat run after reinforcement learning on arithmetic
//! OUT/report/           `eval` of the runs: report.md and report.svg
//! ```
//!
//! With preferences (`Options::preferences`), between `rl` and `eval`, all from OUT/chat:
//!
//! ```text
//! OUT/pairs.jsonl       `pairs`: right and wrong replies of the chat model to arithmetic
//!                       questions (a pairs file already there is used as it is)
//! OUT/chat-dpo/         `dpo` on the pairs
//! OUT/rm/               `rm train` on the same pairs
//! OUT/chat-rlhf/        `rl --reward-model OUT/rm`: RLHF, with a KL penalty to the chat model
//! ```
//!
//! A stage whose output is already there is left out (or its run resumed), so a rerun after a
//! stop, a crash or Ctrl-C carries on; the data stages skip themselves.

use crate::preset::Preset;
use crate::Error;
use minichat_chat::tasks::file::{test_path, train_path};
use std::fmt::Display;
use std::path::{Path, PathBuf};

/// The fine-tuning mixture: each task's training file and how many times it is given. A file
/// given N times weighs N times (nanochat repeats tasks in its mixture too): search four
/// times, as its facts are few (a few hundred conversations); general questions twice (their
/// 360 conversations are all there are; once, beside the arithmetic word problems, held-out
/// requests were sent to the calculator: 83.3% declined against 100% twice). Arithmetic is given once but made
/// `ARITHMETIC_SHARE` times as large as the other tasks, as copying numbers into the call and
/// the answer is slow to learn: distinct questions teach it better than repeats (38% against
/// 30.5% on the test split, docs/posttraining.md).
pub const MIXTURE: [(&str, usize); 6] = [
    ("arithmetic", 1),
    ("spelling", 1),
    ("identity", 1),
    ("general", 2),
    ("search", 4),
    (minichat_chat::tasks::MULTI_TURN, 1),
];

/// The tasks whose test files say `tasks make` has run (its last task, and those an older
/// release did not make): with one missing, the tasks are made again (the same, from the same
/// seed).
const MADE_MARKERS: [&str; 5] = [
    "search",
    "general",
    minichat_chat::tasks::UNSEEN_ARITHMETIC,
    minichat_chat::tasks::STORY_ARITHMETIC,
    minichat_chat::tasks::MULTI_TURN,
];

/// Arithmetic's training conversations, as a multiple of the other tasks'.
pub const ARITHMETIC_SHARE: usize = 6;

/// The speedrun's folder (see the layout above).
#[derive(Clone, Debug)]
pub struct Layout {
    pub out: PathBuf,
}

impl Layout {
    pub fn index(&self) -> PathBuf {
        self.out.join("web.idx")
    }
    pub fn chat(&self) -> PathBuf {
        self.out.join("chat")
    }
    pub fn chat_rl(&self) -> PathBuf {
        self.out.join("chat-rl")
    }
    pub fn report(&self) -> PathBuf {
        self.out.join("report")
    }
    pub fn pairs(&self) -> PathBuf {
        self.out.join("pairs.jsonl")
    }
    pub fn chat_dpo(&self) -> PathBuf {
        self.out.join("chat-dpo")
    }
    pub fn reward_model(&self) -> PathBuf {
        self.out.join("rm")
    }
    pub fn chat_rlhf(&self) -> PathBuf {
        self.out.join("chat-rlhf")
    }
}

/// What the speedrun runs besides its stages for every size.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// More pretraining text (say `data run` shards of a real crawl).
    pub corpus: Vec<PathBuf>,
    /// Learning from preference pairs too: DPO, and a reward model with RLHF on it, on the same
    /// pairs, in the report card beside GRPO.
    pub preferences: bool,
}

/// The KL penalty of the speedrun's RLHF: without one, the policy drifts to replies the reward
/// model over-rates and the checker does not (docs/rl.md measures both).
const RLHF_BETA: f64 = 0.1;

/// One stage: its name and the minichat command line that runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    pub name: &'static str,
    pub args: Vec<String>,
}

fn args(words: &[&dyn Display]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// The stages still to run, in order, on the embedded `data` folder (with `options`), into
/// `layout`.
pub fn plan(size: &Preset, data: &Path, options: &Options, layout: &Layout) -> Result<Vec<Stage>, Error> {
    let corpus = &options.corpus;
    let (warc, text) = (data.join("web/demo.warc.gz"), data.join("corpus.jsonl"));
    // Real multiple-choice questions beside the generated tasks, with the chance level.
    let mmlu = data.join("exam/mmlu_dev.jsonl");
    for f in [&warc, &text, &mmlu] {
        if !f.exists() {
            return Err(Error::Data(format!(
                "{}: missing (run from the repository root, or name the data folder)",
                f.display()
            )));
        }
    }
    if let Some(f) = corpus.iter().find(|f| !f.exists()) {
        return Err(Error::Data(format!("{}: no such corpus file", f.display())));
    }
    let at = |name: &str| layout.out.join(name);
    let (web, dedup, tok, base, tasks) = (at("web"), at("web-dedup"), at("tokenizer.mctok"), at("base"), at("tasks"));
    let (index, chat, cleaned) = (layout.index(), layout.chat(), dedup.join("output"));
    let (warc, text, web_out) = (warc.display(), text.display(), web.join("output"));
    let mut stages = vec![
        Stage { name: "web data", args: args(&[&"data", &"run", &warc, &"-o", &web.display()]) },
        Stage { name: "deduplication", args: args(&[&"data", &"dedup", &web_out.display(), &"-o", &dedup.display()]) },
    ];
    if !index.exists() {
        let args = args(&[&"data", &"index", &cleaned.display(), &"-o", &index.display()]);
        stages.push(Stage { name: "search index", args });
    }
    if !tok.exists() {
        let args =
            args(&[&"tokenizer", &"train", &text, &cleaned.display(), &"-v", &size.vocab_size, &"-o", &tok.display()]);
        stages.push(Stage { name: "tokenizer", args });
    }
    let pretrain = resume_or(&["pretrain"], &base, || {
        [
            args(&[&"pretrain", &"--preset", &size.name, &"--corpus", &text, &cleaned.display()]),
            corpus.iter().map(|c| c.display().to_string()).collect(),
            args(&[&"-t", &tok.display(), &"-o", &base.display(), &"--depth", &size.depth]),
            args(&[&"--context", &size.context, &"--steps", &size.pretrain_steps]),
        ]
        .concat()
    });
    stages.push(Stage { name: "pretraining", args: pretrain });
    if MADE_MARKERS.iter().any(|t| !test_path(&tasks, t).exists()) {
        let args = args(&[
            &"tasks",
            &"make",
            &"-o",
            &tasks.display(),
            &"--train",
            &size.conversations,
            &"--train-for",
            &format!("arithmetic={}", size.conversations * ARITHMETIC_SHARE),
            &"--words-from",
            &text,
            &"--search-index",
            &index.display(),
        ]);
        stages.push(Stage { name: "conversations", args });
    }
    let sft = resume_or(&["sft"], &chat, || {
        let files = MIXTURE.iter().flat_map(|&(task, n)| std::iter::repeat_n(train_path(&tasks, task), n));
        [
            args(&[&"sft", &"--base", &base.display(), &"-o", &chat.display(), &"--conversations"]),
            files.map(|f| f.display().to_string()).collect(),
            args(&[&"--steps", &size.sft_steps, &"--lr", &size.sft_lr, &"--eval-every", &(size.sft_steps / 4).max(1)]),
            args(&[&"--text-pieces", &size.sft_text_pieces]),
        ]
        .concat()
    });
    stages.push(Stage { name: "fine-tuning", args: sft });
    // GRPO on arithmetic, the task with checkable answers that fine-tuning leaves furthest from
    // solved; held-out pass rates before and after.
    let chat_rl = layout.chat_rl();
    let rl = resume_or(&["rl"], &chat_rl, || rl_args(size, &chat, &chat_rl, &tasks));
    stages.push(Stage { name: "reinforcement learning", args: rl });
    let mut examined = vec![base, chat, chat_rl];
    if options.preferences {
        stages.extend(preference_stages(size, layout, &tasks));
        examined.extend([layout.chat_dpo(), layout.chat_rlhf()]);
    }
    let exam = [
        args(&[&"eval"]),
        examined.iter().map(|r| r.display().to_string()).collect(),
        args(&[
            &"--tasks",
            &tasks.display(),
            &"--limit",
            &size.exam_questions,
            &"--search-index",
            &index.display(),
            &"--choices",
            &mmlu.display(),
            &"-o",
            &layout.report().display(),
        ]),
    ]
    .concat();
    stages.push(Stage { name: "exam", args: exam });
    Ok(stages)
}

/// `COMMAND --resume DIR` where the run `dir` is already there, else the command that starts it.
fn resume_or(command: &[&str], dir: &Path, start: impl FnOnce() -> Vec<String>) -> Vec<String> {
    if !dir.join("config.toml").exists() {
        return start();
    }
    let mut words: Vec<String> = command.iter().map(|w| w.to_string()).collect();
    words.extend(["--resume".to_string(), dir.display().to_string()]);
    words
}

/// RL from the chat run into `out`: 16 arithmetic questions x 8 replies a step, held-out pass
/// rates before and after.
fn rl_args(size: &Preset, chat: &Path, out: &Path, tasks: &Path) -> Vec<String> {
    args(&[
        &"rl",
        &"--base",
        &chat.display(),
        &"-o",
        &out.display(),
        &"--tasks",
        &train_path(tasks, "arithmetic").display(),
        &"--heldout",
        &test_path(tasks, "arithmetic").display(),
        &"--steps",
        &size.rl_steps,
        &"--lr",
        &size.rl_lr,
        &"--prompts",
        &16,
        &"--group",
        &8,
        &"--heldout-questions",
        &size.exam_questions,
        &"--eval-every",
        &size.rl_steps,
    ])
}

/// Pairs from the chat model's own right and wrong replies to arithmetic questions, then DPO
/// and a reward model on them, and RLHF on that reward model (see the layout above).
fn preference_stages(size: &Preset, layout: &Layout, tasks: &Path) -> Vec<Stage> {
    let (chat, pairs) = (layout.chat(), layout.pairs());
    let mut stages = Vec::new();
    if !pairs.exists() {
        let args = args(&[
            &"pairs",
            &"--base",
            &chat.display(),
            &"--tasks",
            &train_path(tasks, "arithmetic").display(),
            &"--questions",
            &size.pair_questions,
            &"-o",
            &pairs.display(),
        ]);
        stages.push(Stage { name: "preference pairs", args });
    }
    let learn = |command: &[&str], out: &Path| {
        resume_or(command, out, || {
            let how = args(&[&"--base", &chat.display(), &"--pairs", &pairs.display(), &"-o", &out.display()]);
            let steps = args(&[&"--steps", &size.preference_steps, &"--eval-every", &size.preference_steps]);
            [command.iter().map(|w| w.to_string()).collect(), how, steps].concat()
        })
    };
    stages.push(Stage { name: "DPO", args: learn(&["dpo"], &layout.chat_dpo()) });
    let rm = layout.reward_model();
    stages.push(Stage { name: "reward model", args: learn(&["rm", "train"], &rm) });
    let rlhf = layout.chat_rlhf();
    let args = resume_or(&["rl"], &rlhf, || {
        let penalty = args(&[&"--reward-model", &rm.display(), &"--beta", &RLHF_BETA]);
        [rl_args(size, &chat, &rlhf, tasks), penalty].concat()
    });
    stages.push(Stage { name: "RLHF", args });
    stages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_runs_every_stage_then_leaves_out_what_is_done() {
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data");
        let out = std::env::temp_dir().join(format!("minichat-speedrun-plan-{}", std::process::id()));
        let layout = Layout { out: out.clone() };
        let tiny = crate::preset::preset("tiny").unwrap();
        let names = |stages: &[Stage]| stages.iter().map(|s| s.name).collect::<Vec<_>>();
        let stages = plan(tiny, &data, &Options::default(), &layout).unwrap();
        assert_eq!(
            names(&stages),
            [
                "web data",
                "deduplication",
                "search index",
                "tokenizer",
                "pretraining",
                "conversations",
                "fine-tuning",
                "reinforcement learning",
                "exam"
            ]
        );
        let sft = &stages[6].args;
        let arithmetic = train_path(&out.join("tasks"), "arithmetic").display().to_string();
        assert_eq!(sft.iter().filter(|a| **a == arithmetic).count(), 1);
        assert!(stages[5].args.windows(2).any(|w| w == ["--train-for", "arithmetic=12000"]));
        assert!(sft.windows(2).any(|w| w == ["--text-pieces", "2400"]));
        // Once the index, tokenizer and tasks are there and the runs exist, they are resumed.
        std::fs::create_dir_all(out.join("base")).unwrap();
        std::fs::create_dir_all(out.join("tasks")).unwrap();
        for f in ["web.idx", "tokenizer.mctok", "base/config.toml"] {
            std::fs::write(out.join(f), "").unwrap();
        }
        for task in MADE_MARKERS {
            std::fs::write(test_path(&out.join("tasks"), task), "").unwrap();
        }
        let again = plan(tiny, &data, &Options::default(), &layout).unwrap();
        assert_eq!(
            names(&again),
            ["web data", "deduplication", "pretraining", "fine-tuning", "reinforcement learning", "exam"]
        );
        assert_eq!(again[2].args, ["pretrain", "--resume", &out.join("base").display().to_string()]);
        // With preferences: pairs, DPO, a reward model and RLHF on it, all examined.
        let with = Options { preferences: true, ..Options::default() };
        let stages = plan(tiny, &data, &with, &layout).unwrap();
        let added = ["preference pairs", "DPO", "reward model", "RLHF", "exam"];
        assert_eq!(names(&stages)[5..], added);
        let rm = layout.reward_model().display().to_string();
        let rlhf = &stages[8].args;
        assert!(rlhf.windows(2).any(|w| w == ["--reward-model", &rm]) && rlhf.contains(&"--beta".to_string()));
        for run in [layout.chat_dpo(), layout.chat_rlhf(), layout.chat_rl()] {
            assert!(stages[9].args.contains(&run.display().to_string()), "{:?}", stages[9].args);
        }
        // Pairs already there are used as they are, and the runs resume.
        std::fs::write(layout.pairs(), "").unwrap();
        std::fs::create_dir_all(layout.chat_dpo()).unwrap();
        std::fs::write(layout.chat_dpo().join("config.toml"), "").unwrap();
        let stages = plan(tiny, &data, &with, &layout).unwrap();
        assert_eq!(names(&stages)[5..], added[1..]);
        assert_eq!(stages[5].args, ["dpo", "--resume", &layout.chat_dpo().display().to_string()]);
        assert!(plan(tiny, &out, &Options::default(), &layout).unwrap_err().to_string().contains("missing"));
        std::fs::remove_dir_all(&out).unwrap();
    }
}
