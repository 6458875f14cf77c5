//! A run's time split by phase ([`PhaseSplit`]), as results rows record it for kernels that
//! name the phases of their dispatches (naive: QKᵀ, softmax, P·V; its backward's five);
//! measured by `crate::run::phase_split`.

use crate::gpu::TimingSource;
use serde::{Deserialize, Serialize};

/// The time of one phase of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseTime {
    /// The phase, e.g. `QKᵀ`, `softmax`, `P·V`, `texels` (packing B as texels).
    pub phase: String,
    /// Median over the repeats of the phase's time in one run, ms.
    pub median_ms: f64,
    /// GFLOP/s of the phase's matrix product at that median (2·n²·d per (batch, head),
    /// halved when causal), for phases with one.
    pub gflops: Option<f64>,
}

/// A run's time split by phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseSplit {
    /// Where the times came from.
    pub timing: TimingSource,
    /// Runs of the whole sequence of segments the medians are over.
    pub repeats: u32,
    /// Each phase, in the order it first runs.
    pub phases: Vec<PhaseTime>,
}

impl PhaseSplit {
    /// The phase called `name`.
    pub fn phase(&self, name: &str) -> Option<&PhaseTime> {
        self.phases.iter().find(|p| p.phase == name)
    }

    /// The sum of the phases' medians, ms.
    pub fn total_ms(&self) -> f64 {
        self.phases.iter().map(|p| p.median_ms).sum()
    }
}
