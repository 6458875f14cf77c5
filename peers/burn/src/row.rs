//! The peer's row: its samples summarized as attnbench summarizes its own, its output
//! checked against attnbench's f64 reference, in attnbench's results schema.

use crate::error::PeerError;
use attnbench::gpu::TimingSource;
use attnbench::kernels::Precision;
use attnbench::kernels::flash::{FLASH, FLASH_F16};
use attnbench::reference::{Comparison, attention_f64_last_rows, last_rows};
use attnbench::results::ResultRow;
use attnbench::run::Measurement;
use attnbench::sweep::FamilyKind;
use attnbench::targets::{AutotuneCandidate, BURN_KERNEL, BurnRow, PEER_REFERENCE_ROWS};
use attnbench::tensors::AttentionInputs;
use attnbench::{Kernel, Shape};

/// The Burn release the peer is built with (its pin in `Cargo.toml`; a test checks them).
pub const BURN_VERSION: &str = "0.23.0-pre.1";

/// What the peer measured of one problem.
pub struct Measured<'a> {
    /// The inputs.
    pub inputs: &'a AttentionInputs,
    /// The precision Burn computed in.
    pub precision: Precision,
    /// Its samples, ms per call.
    pub samples_ms: Vec<f64>,
    /// Calls per sample.
    pub calls_per_sample: u64,
    /// The output, f32 `[B, H, n, d]`.
    pub output: &'a [f32],
    /// The strategy autotune chose, and its candidates.
    pub autotune: Option<(String, Vec<AutotuneCandidate>)>,
    /// Bytes Burn's allocator held for a call.
    pub reserved_bytes: Option<u64>,
    /// The adapter and its backend.
    pub adapter: (String, String),
}

/// attnbench flash's kernel of the same precision: its tolerance is the peer's.
fn flash_of(precision: Precision) -> &'static dyn Kernel {
    match precision {
        Precision::F32 => &FLASH,
        Precision::F16 => &FLASH_F16,
    }
}

/// The output's distance from the f64 reference on the last rows of each head.
pub fn check(shape: &Shape, inputs: &AttentionInputs, output: &[f32]) -> (Comparison, u32) {
    let rows = PEER_REFERENCE_ROWS.min(shape.seq_len);
    let reference = attention_f64_last_rows(shape, &inputs.q, &inputs.k, &inputs.v, rows);
    (
        Comparison::new(&last_rows(shape, output, rows), &reference),
        rows,
    )
}

impl Measured<'_> {
    /// The row.
    pub fn row(self) -> Result<BurnRow, PeerError> {
        let shape = self.inputs.shape;
        let flash = flash_of(self.precision);
        let m = Measurement::from_samples(self.samples_ms.clone(), TimingSource::WallClock)?;
        let family = FamilyKind::Prefill {
            head_dim: shape.head_dim,
            causal: shape.causal,
        };
        let mut row = ResultRow::new(&family.name(), BURN_KERNEL, &shape);
        row.dtype = self.precision;
        row.flops = flash.flops(&shape);
        // attnbench's own recording: median, extremes, the interval and its method, the
        // timing source, GFLOP/s.
        row.record(&m);
        row.min_bytes = flash.min_bytes(&shape);
        row.peak_buffer_bytes = self.reserved_bytes;
        row.config = self.autotune.as_ref().map(|(chosen, _)| chosen.clone());
        let (comparison, reference_rows) = check(&shape, self.inputs, self.output);
        let finite = |x: f64| Some(x).filter(|x| x.is_finite());
        let tolerance = flash.tolerance();
        Ok(BurnRow {
            row,
            adapter: self.adapter.0,
            backend: self.adapter.1,
            burn_version: BURN_VERSION.into(),
            rel_l2_error: finite(comparison.rel_l2_error),
            max_abs_error: finite(comparison.max_abs_error),
            non_finite: comparison.non_finite,
            reference_rows,
            tolerance,
            verified: comparison.passes(tolerance),
            calls_per_sample: self.calls_per_sample,
            samples_ms: self.samples_ms,
            autotune: self.autotune.map(|(_, c)| c).unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    /// The version the rows name is the one `Cargo.toml` pins.
    #[test]
    fn the_burn_version_is_the_pinned_one() {
        let manifest = include_str!("../Cargo.toml");
        let pin = format!("burn = {{ version = \"={}\"", super::BURN_VERSION);
        assert!(manifest.contains(&pin), "Cargo.toml does not pin {pin}");
    }
}
