//! Pretraining: a run directory made from a config and a corpus (`start`), then trained on the
//! shared loop (`train`) with batches of the token stream (`loader`) weighing 1 everywhere.
//!
//! A new run is made in this order: its tokenizer is copied in, the corpus is tokenized into
//! `shards/`, and the config is written last, so a folder with a `config.toml` is a complete
//! run (`Run::open` checks for it) and a crash before that leaves no half-made run to resume.

use crate::config::TrainConfig;
use crate::loader::Loader;
use crate::run::Run;
use crate::tokenize::{load_split, tokenize_corpus, TokenizeConfig, TokenizeStats};
use crate::trainer::{self, Loop, Observer, Outcome};
use crate::Error;
use minichat_model::init;
use minichat_model::net::{Net, NetActs};
use minichat_tokenizer::{tokenizer_file, Tokenizer};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

/// Which run to train.
pub enum Start {
    /// A new run in `out` (which must not hold one yet) from a resolved config.
    New { out: PathBuf, config: Box<TrainConfig> },
    /// An existing run, from its latest checkpoint.
    Resume(PathBuf),
}

/// A run ready to train.
pub struct Started {
    pub run: Run,
    pub config: TrainConfig,
    pub tok: Tokenizer,
    pub resume: bool,
    /// What tokenizing the corpus found (new runs only).
    pub tokenized: Option<TokenizeStats>,
}

/// Makes a new run (tokenizer, shards, config; `progress(corpus bytes read)` while
/// tokenizing) or opens one to resume.
pub fn start(start: Start, progress: impl FnMut(u64)) -> Result<Started, Error> {
    match start {
        Start::Resume(dir) => {
            let run = Run::open(dir)?;
            Ok(Started { config: run.read_config()?, tok: run.load_tokenizer()?, run, resume: true, tokenized: None })
        }
        Start::New { out, config } => {
            config.validate()?;
            let run = Run::create(out)?;
            if config.data.corpus.is_empty() {
                return Err(Error::Config("no corpus: name the files to train on (text, JSONL or Parquet)".into()));
            }
            let tok = tokenizer_file::load(&config.data.tokenizer, "gpt4")
                .map_err(|e| Error::Config(format!("loading tokenizer {}: {e}", config.data.tokenizer)))?;
            minichat_corpus::atomic_write(&run.tokenizer(), tokenizer_file::render(&tok).as_bytes())?;
            let tc = TokenizeConfig { val_fraction: config.data.val_fraction, ..Default::default() };
            let stats = tokenize_corpus(&config.data.corpus, &tok, &run.shards(), &tc, progress)?;
            minichat_corpus::atomic_write(&run.config(), config.to_toml().as_bytes())?;
            Ok(Started { run, config: *config, tok, resume: false, tokenized: Some(stats) })
        }
    }
}

/// Trains the run in `run` (config, tokenizer and shards already there), from its latest
/// checkpoint if `resume`, else from GPT-2's initialisation.
pub fn train(
    run: &Run,
    cfg: &TrainConfig,
    tok: &Tokenizer,
    resume: bool,
    stop: &AtomicBool,
    obs: &mut dyn Observer,
) -> Result<Outcome, Error> {
    cfg.validate()?;
    let t = cfg.model.context;
    let mut net = Net::new(cfg.model_config(tok.n_vocab())?)?;
    let tr = &cfg.train;
    let mut opt = cfg.optimizer(&net);
    let bos = tok.bos_id()?;
    let train_tokens = load_split(&run.shards(), "train", tok.n_vocab(), bos)?;
    let val_tokens = load_split(&run.shards(), "val", tok.n_vocab(), bos)?;
    if val_tokens.len() <= t {
        return Err(Error::Data(format!(
            "the validation split has {} tokens, fewer than one sequence of {} (raise data.val_fraction or add data)",
            val_tokens.len(),
            t + 1
        )));
    }
    let (state, last_ckpt) = trainer::start(run, resume, &mut net, &mut opt, obs, |net, _| {
        let (n_layer, table) = (net.config().n_layer, net.params().to_vec());
        init::gpt2_init(&table, net.buffers().0, n_layer, tr.seed);
        Ok(())
    })?;
    obs.message(&format!(
        "unigram entropy of the training tokens: {:.3} nats/token (the loss of a model that ignores context)",
        crate::tokenize::unigram_entropy(&train_tokens)
    ));
    let mut loader = Loader::new(train_tokens, t, tr.seed, state.loader)?;
    let mut validate = |net: &Net, acts: &mut NetActs| trainer::evaluate(net, acts, &val_tokens, tok, cfg.eval.tokens);
    let parts = Loop { run, cfg, tok, resume, stop, bos: Some(bos) };
    parts.run(&mut net, &mut opt, state, last_ckpt, &mut loader, Some(&mut validate), obs)
}
