//! The presets: one table of sizes for every stage, so `pretrain --preset`, `sft` and the
//! speedrun agree on what `tiny` and `small` are.
//!
//! - `tiny` fits 2 CPU cores: the speedrun in about 20 minutes (measured in
//!   docs/posttraining.md).
//! - `small` is a GPT-style model of 8 layers (about 34M parameters with its 16,384 tokens)
//!   at a context of 512, for many cores and hours, and wants more text than the embedded
//!   corpus (the speedrun's `--corpus`).

use crate::config::OptimizerKind;
use crate::Error;

/// The sizes of every stage at one scale.
#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    pub name: &'static str,
    /// The tokenizer's vocabulary, special tokens included.
    pub vocab_size: usize,
    /// The model family: "llama" (rotary positions, RMSNorm, SwiGLU) or "gpt2".
    pub family: &'static str,
    /// The model's one dial: layers, and width 64 × depth.
    pub depth: usize,
    pub context: usize,
    /// Sequences per forward/backward pass in pretraining.
    pub micro_batch: usize,
    pub pretrain_steps: u64,
    pub pretrain_lr: f32,
    /// Pretraining's optimizer: Muon (with AdamW for embeddings, head and norms) or AdamW.
    pub pretrain_optimizer: OptimizerKind,
    /// Fine-tuning steps (16 conversations each) and peak learning rate.
    pub sft_steps: u64,
    pub sft_lr: f32,
    /// Pieces of pretraining text (a context each) mixed into fine-tuning (`text_mix`).
    pub sft_text_pieces: usize,
    /// Reinforcement-learning steps (GRPO on arithmetic, 16 questions x 8 replies each) and
    /// peak learning rate.
    pub rl_steps: u64,
    pub rl_lr: f32,
    /// With preferences: arithmetic questions asked for pairs (8 replies each), and the steps
    /// of DPO and of the reward model (16 pairs each).
    pub pair_questions: usize,
    pub preference_steps: u64,
    /// Generated conversations per task for fine-tuning.
    pub conversations: usize,
    /// Questions per task in the exam.
    pub exam_questions: usize,
}

pub const PRESETS: [Preset; 2] = [
    Preset {
        name: "tiny",
        vocab_size: 8192,
        // Llama's rotary positions: measured on the speedrun, the same 1,500 steps reach 1.92
        // bits per byte against GPT-2's 2.17, and fine-tuned it copies numbers into calls
        // (arithmetic 99.5% against 59-64%, docs/posttraining.md).
        family: "llama",
        depth: 4,
        context: 256,
        micro_batch: 8,
        pretrain_steps: 1500,
        pretrain_lr: 2e-3,
        // Muon: measured on the speedrun's corpus, 1.795 bits per byte after these 1,500 steps
        // (386 s) and 1.836 after 1,160 (297 s; AdamW takes 292 s for 1,500), against AdamW's
        // 1.922 (docs/pretraining.md).
        pretrain_optimizer: OptimizerKind::Muon,
        sft_steps: 4000,
        sft_lr: 1e-3,
        // About an eighth of the fine-tuning conversations, as 2,000 were before the multi-turn task
        // added 2,000 more: held-out bits per byte stay within 10% of the base's.
        sft_text_pieces: 2400,
        rl_steps: 50,
        rl_lr: 1e-4,
        pair_questions: 480,
        preference_steps: 100,
        conversations: 2000,
        exam_questions: 50,
    },
    Preset {
        name: "small",
        vocab_size: 16384,
        family: "gpt2",
        depth: 8,
        context: 512,
        micro_batch: 4,
        pretrain_steps: 10_000,
        pretrain_lr: 6e-4,
        // Not measured with Muon at this size yet.
        pretrain_optimizer: OptimizerKind::Adamw,
        sft_steps: 4000,
        sft_lr: 3e-4,
        sft_text_pieces: 4000,
        rl_steps: 200,
        rl_lr: 5e-5,
        pair_questions: 2000,
        preference_steps: 200,
        conversations: 10_000,
        exam_questions: 200,
    },
];

/// The preset called `name`.
pub fn preset(name: &str) -> Result<&'static Preset, Error> {
    PRESETS.iter().find(|p| p.name == name).ok_or_else(|| {
        let known: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
        Error::Config(format!("unknown preset {name:?} (known: {})", known.join(", ")))
    })
}
