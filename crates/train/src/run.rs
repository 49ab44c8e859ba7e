//! A run directory: everything one training run reads and writes, in one place, and the one way
//! to open a run and load its model (nanochat's `checkpoint_manager.load_model`).
//!
//! ```text
//! RUN/config.toml        the fully resolved config (`config::TrainConfig`)
//! RUN/tokenizer.mctok    the tokenizer (so the run is self-contained)
//! RUN/shards/            token shards (train_*.tok, val_*.tok; pretraining runs only)
//! RUN/sft.json           where a fine-tuning run started: the base checkpoint, the
//!                        conversation files and the validation share (`sft::SftSource`)
//! RUN/rl.json            where a reinforcement-learning run started, on which tasks and
//!                        with which settings (`rl::RlSource`)
//! RUN/preference.json    where a DPO or reward-model run started, on which preference
//!                        pairs and with which settings (`preference_run::PreferenceSource`)
//! RUN/metrics.jsonl      the metrics log
//! RUN/loss.svg           the loss curve
//! RUN/rlhf.svg           an RLHF run's proxy and gold rewards against the KL
//! RUN/checkpoints/       checkpoints (see `checkpoint`)
//! ```

use crate::config::TrainConfig;
use crate::Error;
use minichat_model::net::Net;
use minichat_tokenizer::{tokenizer_file, Tokenizer};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Run {
    pub dir: PathBuf,
}

/// A run's model at one checkpoint, with the run's tokenizer.
pub struct Model {
    pub net: Net,
    pub tok: Tokenizer,
    /// The checkpoint directory the weights came from.
    pub checkpoint: PathBuf,
}

impl Run {
    /// The layout of a run directory at `dir`, whether or not it exists yet.
    pub fn new(dir: impl Into<PathBuf>) -> Run {
        Run { dir: dir.into() }
    }

    /// A folder for a new run: it must not hold one yet.
    pub fn create(dir: impl Into<PathBuf>) -> Result<Run, Error> {
        let run = Run::new(dir);
        if run.config().exists() {
            return Err(Error::Config(format!(
                "{} already holds a run: resume it, or pick another output folder",
                run.dir.display()
            )));
        }
        Ok(run)
    }

    /// An existing run: `dir` must hold a run's config.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Run, Error> {
        let run = Run::new(dir);
        if !run.config().is_file() {
            let why = if run.dir.is_dir() { "has no config.toml" } else { "does not exist" };
            return Err(Error::Data(format!(
                "{} is not a run directory: it {why} (make one with minichat pretrain or sft)",
                run.dir.display()
            )));
        }
        Ok(run)
    }

    pub fn config(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    pub fn tokenizer(&self) -> PathBuf {
        self.dir.join("tokenizer.mctok")
    }

    pub fn shards(&self) -> PathBuf {
        self.dir.join("shards")
    }

    pub fn rl_source(&self) -> PathBuf {
        self.dir.join("rl.json")
    }

    pub fn preference_source(&self) -> PathBuf {
        self.dir.join("preference.json")
    }

    pub fn sft_source(&self) -> PathBuf {
        self.dir.join("sft.json")
    }

    pub fn metrics(&self) -> PathBuf {
        self.dir.join("metrics.jsonl")
    }

    pub fn plot(&self) -> PathBuf {
        self.dir.join("loss.svg")
    }

    pub fn checkpoints(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The run's resolved config.
    pub fn read_config(&self) -> Result<TrainConfig, Error> {
        let path = self.config();
        let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
        TrainConfig::from_toml(&text, &path.display().to_string())
    }

    /// Fills a new run that starts from `base` (fine-tuning, reinforcement learning): the base's
    /// tokenizer, what the stage needs to know (`source`, as JSON at `source_path`) and the
    /// config.
    pub fn start_from(
        &self,
        base: &Run,
        source_path: &Path,
        source: &impl serde::Serialize,
        config: &TrainConfig,
    ) -> Result<(), Error> {
        let tokenizer = std::fs::read(base.tokenizer()).map_err(Error::io(&base.tokenizer()))?;
        minichat_corpus::atomic_write(&self.tokenizer(), &tokenizer)?;
        let json = serde_json::to_vec_pretty(source).expect("the source serialises");
        minichat_corpus::atomic_write(source_path, &json)?;
        minichat_corpus::atomic_write(&self.config(), config.to_toml().as_bytes())?;
        Ok(())
    }

    /// A stage's JSON file of this run (`sft.json`, `rl.json`).
    pub fn read_source<T: serde::de::DeserializeOwned>(&self, path: &Path) -> Result<T, Error> {
        let bytes = std::fs::read(path).map_err(Error::io(path))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Data(format!("{}: {e}", path.display())))
    }

    /// The checkpoint this run started from, when a later stage made it (`sft.json`, `rl.json`
    /// or `preference.json`): None for a pretraining run.
    pub fn base_checkpoint(&self) -> Result<Option<PathBuf>, Error> {
        #[derive(serde::Deserialize)]
        struct Source {
            base_checkpoint: PathBuf,
        }
        for path in [self.sft_source(), self.rl_source(), self.preference_source()] {
            if path.exists() {
                return Ok(Some(self.read_source::<Source>(&path)?.base_checkpoint));
            }
        }
        Ok(None)
    }

    /// The run's tokenizer.
    pub fn load_tokenizer(&self) -> Result<Tokenizer, Error> {
        let path = self.tokenizer();
        if !path.exists() {
            return Err(Error::Data(format!(
                "{} has no tokenizer ({} is missing)",
                self.dir.display(),
                path.display()
            )));
        }
        Ok(tokenizer_file::load(&path.display().to_string(), "gpt4")?)
    }

    /// The newest complete checkpoint, if there is one.
    pub fn latest_checkpoint(&self) -> Result<Option<PathBuf>, Error> {
        crate::checkpoint::latest(&self.checkpoints())
    }

    /// The checkpoint to use: `given`, or else the newest (an error when there is none).
    pub fn checkpoint(&self, given: Option<&Path>) -> Result<PathBuf, Error> {
        match given {
            Some(c) => Ok(c.to_path_buf()),
            None => self
                .latest_checkpoint()?
                .ok_or_else(|| Error::Data(format!("{} has no checkpoint yet", self.checkpoints().display()))),
        }
    }

    /// The model of a checkpoint (`checkpoint`, or the newest) and the run's tokenizer, which
    /// must have the model's vocabulary. With `bf16` the weights are also packed for decoding
    /// (`Net::pack_for_inference`).
    pub fn load_model(&self, checkpoint: Option<&Path>, bf16: bool) -> Result<Model, Error> {
        let checkpoint = self.checkpoint(checkpoint)?;
        let tok = self.load_tokenizer()?;
        let mut net = Net::load_dir(&checkpoint)?;
        if net.config().vocab_size != tok.n_vocab() {
            return Err(Error::Data(format!(
                "the checkpoint's vocabulary ({}) differs from the run's tokenizer ({})",
                net.config().vocab_size,
                tok.n_vocab()
            )));
        }
        if bf16 {
            net.pack_for_inference();
        }
        Ok(Model { net, tok, checkpoint })
    }

    /// The run's folder name (the title of its pictures).
    pub fn name(&self) -> String {
        self.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// Where an RLHF run draws its proxy and gold rewards against the KL.
    pub fn reward_hacking_plot(&self) -> PathBuf {
        self.dir.join("rlhf.svg")
    }

    /// Redraws the loss curve (`plot()`) from the metrics log, and for an RLHF run (steps with
    /// a gold reward) the reward-hacking picture (`reward_hacking_plot()`).
    pub fn plot_loss(&self) -> Result<(), Error> {
        let records = crate::metrics::read(&self.metrics())?;
        let title = self.name();
        crate::plot::loss_curve(&records, &title, &self.plot())?;
        if records.iter().any(|r| matches!(r, crate::metrics::Record::Rollouts { gold: Some(_), .. })) {
            crate::plot::reward_hacking(&[(title.clone(), records)], &title, &self.reward_hacking_plot())?;
        }
        Ok(())
    }
}
