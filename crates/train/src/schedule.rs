//! Learning-rate schedules: linear warmup, then cosine decay (GPT-2/llm.c), warmup-stable-decay
//! (a constant plateau and a linear decay over the last fraction of training, as nanochat
//! does), or constant, each ending at `final_frac` of the peak.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Cosine,
    /// Warmup-stable-decay.
    Wsd,
    Constant,
}

/// The schedule of one run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub kind: Kind,
    pub peak: f32,
    pub warmup_steps: u64,
    pub total_steps: u64,
    /// The learning rate at the last step, as a fraction of the peak.
    pub final_frac: f32,
    /// WSD: the fraction of steps spent decaying.
    pub decay_frac: f32,
}

impl Schedule {
    /// The learning rate for `step` (0-based).
    pub fn lr(&self, step: u64) -> f32 {
        if step < self.warmup_steps {
            return self.peak * (step + 1) as f32 / self.warmup_steps as f32;
        }
        let end = self.peak * self.final_frac;
        let span = self.total_steps.saturating_sub(self.warmup_steps).max(1) as f32;
        let progress = ((step - self.warmup_steps) as f32 / span).min(1.0);
        match self.kind {
            Kind::Constant => self.peak,
            Kind::Cosine => end + (self.peak - end) * 0.5 * (1.0 + (std::f32::consts::PI * progress).cos()),
            Kind::Wsd => {
                let decay_start = 1.0 - self.decay_frac;
                if progress < decay_start {
                    self.peak
                } else {
                    let p = (progress - decay_start) / self.decay_frac.max(f32::MIN_POSITIVE);
                    self.peak + (end - self.peak) * p
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let s = Schedule {
            kind: Kind::Cosine,
            peak: 1.0,
            warmup_steps: 10,
            total_steps: 110,
            final_frac: 0.1,
            decay_frac: 0.2,
        };
        assert_eq!(s.lr(0), 0.1);
        assert_eq!(s.lr(9), 1.0);
        assert!((s.lr(60) - 0.55).abs() < 1e-6);
        assert!((s.lr(110) - 0.1).abs() < 1e-6);
        let w = Schedule { kind: Kind::Wsd, ..s };
        assert_eq!(w.lr(50), 1.0);
        assert_eq!(w.lr(90), 1.0);
        assert!((w.lr(100) - 0.55).abs() < 1e-6);
        assert!((w.lr(110) - 0.1).abs() < 1e-6);
        assert_eq!(Schedule { kind: Kind::Constant, ..s }.lr(100), 1.0);
    }
}
