//! GRPO's data source (`rl::Grpo`) on a small random model with the chat format: each step's
//! replies are sampled through the assistant turn (tools on), become rows whose trained tokens are
//! exactly those the model drew, give the same rows again from the same seed, weights and
//! position, and their loss is GRPO's objective with a ratio of 1 (one optimizer step per
//! batch of replies). Bad settings are clear errors.

use minichat_chat::conversation::{prompt_for_reply, ChatTokens, Message, Role};
use minichat_chat::sampler::SamplerConfig;
use minichat_chat::tools::Tools;
use minichat_model::cpu::cross_entropy::IGNORE;
use minichat_model::net::Net;
use minichat_model::{Family, ModelConfig};
use minichat_tokenizer::train::{TrainConfig, Trainer};
use minichat_tokenizer::{Tokenizer, CHAT_SPECIAL_TOKENS};
use minichat_train::grpo::{Objective, ScaleRewards};
use minichat_train::loader::Position;
use minichat_train::metrics::Record;
use minichat_train::rl_loader::{Grpo, Settings, Task};
use minichat_train::rollout::Sampling;
use minichat_train::trainer::Batches;

fn tokenizer() -> Tokenizer {
    let config = TrainConfig {
        vocab_size: 300,
        pattern: "gpt4".into(),
        special_tokens: CHAT_SPECIAL_TOKENS.iter().map(|s| s.to_string()).collect(),
        max_doc_chars: None,
        name: "rl-test".into(),
        number_tokens: false,
    };
    let mut trainer = Trainer::new(config).unwrap();
    trainer.add_documents(&vec!["What is 12*7? calculator 12*7 The answer is 84. What is 3+4?".to_string(); 50]);
    trainer.finish(|_, _| {}).unwrap().0
}

fn model(tok: &Tokenizer) -> Net {
    let mut cfg = ModelConfig::from_depth(Family::Gpt2, 1, tok.n_vocab());
    (cfg.n_embd, cfg.n_head, cfg.n_kv_head, cfg.intermediate_size, cfg.block_size) = (32, 2, 2, 64, 48);
    let mut net = Net::new(cfg).unwrap();
    let table = net.params().to_vec();
    minichat_model::init::gpt2_init(&table, net.buffers().0, 1, 3);
    net
}

fn tasks(tok: &Tokenizer) -> Vec<Task> {
    let ct = ChatTokens::of(tok).unwrap();
    [("What is 12*7?", "84"), ("What is 3+4?", "7"), ("What is 7*12?", "84")]
        .iter()
        .map(|(q, a)| Task {
            question: q.to_string(),
            prompt: prompt_for_reply(&[Message::new(Role::User, *q)], tok, &ct).unwrap(),
            answer: a.to_string(),
        })
        .collect()
}

fn settings(beta: f64) -> Settings {
    Settings {
        sampling: Sampling {
            sampler: SamplerConfig { temperature: 1.0, ..Default::default() },
            group: 4,
            max_tokens: 12,
            seed: 7,
        },
        prompts: 2,
        objective: Objective { beta, ..Objective::default() },
        scale: ScaleRewards::Group,
        format_reward: 0.0,
        eval_every: 0,
    }
}

/// Two micro-batches of 4 rows: (row length, ids, targets, weights) of each.
type Micro = (usize, Vec<u32>, Vec<u32>, Vec<f32>);

fn two_micro_batches(src: &mut Grpo, net: &Net, context: usize) -> Vec<Micro> {
    (0..2)
        .map(|_| {
            let (mut ids, mut targets, mut weights) =
                (vec![0; 4 * context], vec![0; 4 * context], vec![0.0; 4 * context]);
            let t = src.next(net, &mut ids, &mut targets, &mut weights).unwrap();
            let n = 4 * t;
            (t, ids[..n].to_vec(), targets[..n].to_vec(), weights[..n].to_vec())
        })
        .collect()
}

#[test]
fn replies_become_rows_of_what_the_model_drew_and_repeat_from_the_seed() {
    let tok = tokenizer();
    let net = model(&tok);
    let tools = Tools { search: None };
    let context = net.config().block_size;
    let tasks = tasks(&tok);
    let mut src = Grpo::new(tasks.clone(), &tok, &tools, settings(0.0), None, 4, context, Position::default()).unwrap();
    let batches = two_micro_batches(&mut src, &net, context);
    // Two prompts a step: the position moved by two.
    assert_eq!(src.position(), Position { epoch: 0, window: 2 });
    for (t, ids, targets, weights) in &batches {
        assert!(*t >= 1 && *t <= context);
        for row in 0..4 {
            let (ids, targets, weights) = (&ids[row * t..][..*t], &targets[row * t..][..*t], &weights[row * t..][..*t]);
            // Trained exactly where there is a target, and a target is the next input.
            for j in 0..*t {
                assert_eq!(weights[j] == 1.0, targets[j] != IGNORE, "row {row} position {j}");
                assert!(weights[j] == 0.0 || weights[j] == 1.0);
                if j + 1 < *t && targets[j] != IGNORE && ids[j + 1] != tok.bos_id().unwrap() {
                    assert_eq!(targets[j], ids[j + 1]);
                }
            }
            // The prompt (the first task's or another's) is never trained on.
            let prompt = tasks.iter().map(|x| x.prompt.len()).min().unwrap();
            assert!(weights[..prompt - 1].iter().all(|&w| w == 0.0), "row {row}");
        }
    }
    // The loss: GRPO's objective on the last micro-batch, ratio 1, gradients only on trained tokens.
    let (t, _, _, weights) = &batches[1];
    let logp = vec![-2.0f32; 4 * t];
    let mut dlogp = vec![f32::NAN; 4 * t];
    let loss = src.loss(&logp, weights, &mut dlogp, 1).unwrap();
    assert!(loss.is_finite());
    for (d, w) in dlogp.iter().zip(weights) {
        assert!(d.is_finite() && (*w == 1.0 || *d == 0.0));
    }
    let records = src.records(&net, 1, 10).unwrap();
    let [Record::Rollouts { step: 1, reward, solved, reply_tokens, ratio, kl, .. }] = records.as_slice() else {
        panic!("{records:?}")
    };
    assert!((0.0..=1.0).contains(reward) && (0.0..=1.0).contains(solved));
    assert!(*reply_tokens > 0.0 && *reply_tokens <= 12.0);
    assert_eq!((*ratio, *kl), (1.0, 0.0));
    assert!(src.records(&net, 2, 10).unwrap().is_empty(), "records once per step of rollouts");

    // The same seed, weights and position give the same rows.
    let mut again =
        Grpo::new(tasks.clone(), &tok, &tools, settings(0.0), None, 4, context, Position::default()).unwrap();
    assert_eq!(two_micro_batches(&mut again, &net, context), batches);
    // Resuming at the next step's position gives that step's rows, not the first step's.
    let next_step = two_micro_batches(&mut src, &net, context);
    let after_first = Position { epoch: 0, window: 2 };
    let mut resumed = Grpo::new(tasks, &tok, &tools, settings(0.0), None, 4, context, after_first).unwrap();
    assert_eq!(two_micro_batches(&mut resumed, &net, context), next_step);
    assert_ne!(next_step, batches);
}

#[test]
fn a_kl_penalty_uses_the_starting_model() {
    let tok = tokenizer();
    let net = model(&tok);
    let tools = Tools { search: None };
    let context = net.config().block_size;
    let mut src =
        Grpo::new(tasks(&tok), &tok, &tools, settings(0.1), Some(model(&tok)), 4, context, Position::default())
            .unwrap();
    let (mut ids, mut targets, mut weights) = (vec![0; 4 * context], vec![0; 4 * context], vec![0.0; 4 * context]);
    let t = src.next(&net, &mut ids, &mut targets, &mut weights).unwrap();
    let mut acts = net.acts(4, t).unwrap();
    net.forward(&mut acts, &ids[..4 * t], &targets[..4 * t]).unwrap();
    // The policy is the starting model: the KL estimate is 0. Shifted by 0.5 nats per token,
    // it is exp(-0.5) + 0.5 - 1 per trained token.
    let mut dlogp = vec![0.0; 4 * t];
    src.loss(acts.logp(), &weights[..4 * t], &mut dlogp, 1).unwrap();
    let shifted: Vec<f32> = acts.logp().iter().map(|l| l + 0.5).collect();
    src.loss(&shifted, &weights[..4 * t], &mut dlogp, 1).unwrap();
    let [Record::Rollouts { kl, .. }] = src.records(&net, 1, 10).unwrap()[..] else { panic!() };
    let want = ((-0.5f64).exp() + 0.5 - 1.0) / 2.0;
    assert!((kl as f64 - want).abs() < 1e-4, "{kl} vs {want} (the mean of 0 and the shifted one)");
}

#[test]
fn bad_settings_are_clear_errors() {
    let tok = tokenizer();
    let tools = Tools { search: None };
    let err = |s: Settings, reference: Option<Net>, tasks: Vec<Task>, b: usize| {
        Grpo::new(tasks, &tok, &tools, s, reference, b, 48, Position::default()).err().unwrap().to_string()
    };
    let mut one = settings(0.0);
    one.sampling.group = 1;
    assert!(err(one, None, tasks(&tok), 4).contains("at least 2"));
    assert!(err(settings(0.0), None, tasks(&tok), 3).contains("whole micro-batches of 3"));
    assert!(err(settings(0.1), None, tasks(&tok), 4).contains("starting model"));
    assert!(err(settings(0.0), None, Vec::new(), 4).contains("no tasks"));
}
