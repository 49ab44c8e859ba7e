//! The optimizer a training run steps: AdamW over every parameter, or Muon over the blocks'
//! matrices and AdamW over the rest (embeddings, LM head, norms, biases), as nanochat splits
//! them. Both follow one learning-rate schedule: each step runs at the same fraction of its
//! own peak.

use crate::adamw::AdamW;
use crate::muon::Muon;
use std::ops::Range;

#[derive(Clone, Debug)]
pub struct Optimizer {
    pub adamw: AdamW,
    pub muon: Option<Muon>,
    /// The peak learning rates (`adamw.lr` and `muon.lr` are this step's).
    adamw_peak: f32,
    muon_peak: f32,
}

impl Optimizer {
    pub fn new(adamw: AdamW, muon: Option<Muon>) -> Optimizer {
        let (adamw_peak, muon_peak) = (adamw.lr, muon.as_ref().map_or(0.0, |m| m.lr));
        Optimizer { adamw, muon, adamw_peak, muon_peak }
    }

    /// Sets this step's learning rates to `frac` of each peak (the schedule's value over its
    /// peak).
    pub fn set_lr_frac(&mut self, frac: f32) {
        self.adamw.lr = self.adamw_peak * frac;
        if let Some(muon) = &mut self.muon {
            muon.lr = self.muon_peak * frac;
        }
    }

    /// One update; `decayed` as for `AdamW::update` (Muon's matrices take Muon's own decay).
    pub fn update(&mut self, params: &mut [f32], grads: &[f32], decayed: &[Range<usize>]) {
        // Muon's matrices, which AdamW leaves alone.
        let muon_ranges: Vec<Range<usize>> =
            self.muon.iter().flat_map(|m| m.matrices().iter().map(|m| m.range())).collect();
        self.adamw.update_except(params, grads, decayed, &muon_ranges);
        if let Some(muon) = &mut self.muon {
            muon.update(params, grads);
        }
    }
}
