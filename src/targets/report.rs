//! What the targets measured ([`TargetsReport`]), as `targets.json` and `targets.md`.

use super::burn::{BurnComparison, burn_table};
use super::long_context::LongContext;
use super::materializing::{MaterializingPeers, markdown as materializing_markdown};
use super::peak::PeakFraction;
use super::peers::{BlasComparison, PEER_REFERENCE_ROWS, PeerComparison};
use super::speedup::Speedup;
use super::training::Training;
use crate::bench::Bench;
use crate::error::Result;
use crate::files::{save_json, write_atomic};
use crate::markdown::{Align, Table, text};
use crate::results::{DeviceHeader, RunRecord};
use serde::Serialize;
use std::path::Path;

/// Identifies the schema of `targets.json`.
pub const SCHEMA: &str = "attnbench-targets/6";

/// Everything the targets measured.
#[derive(Clone, Debug, Serialize)]
pub struct TargetsReport {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The device.
    pub device: DeviceHeader,
    /// The run that measured them: code, ceilings at its start and end, stability. Set by
    /// whoever runs the targets (the bench, the suite).
    #[serde(default)]
    pub run: Option<RunRecord>,
    /// Where the GPU times came from.
    pub timing: String,
    /// flash's share of the FMA peak, when measured.
    pub peak_fraction: Option<PeakFraction>,
    /// flash over naive.
    pub speedups: Vec<Speedup>,
    /// flash against numpy.
    pub blas: BlasComparison,
    /// naive against the materializing peers (numpy, torch's math backend), interleaved.
    pub materializing: MaterializingPeers,
    /// flash against PyTorch, per shape.
    pub peers: Vec<PeerComparison>,
    /// flash against Burn on the same adapter, per shape.
    #[serde(default)]
    pub burn: Vec<BurnComparison>,
    /// The long-context targets.
    pub long_context: LongContext,
    /// The training targets.
    #[serde(default)]
    pub training: Training,
    /// Steps not measured, and why (e.g. the suite's time budget).
    pub skipped: Vec<String>,
}

/// How the GPU times were taken on `bench`.
pub(super) fn gpu_timing(bench: &Bench) -> String {
    if bench.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
        "bench-timestamps".into()
    } else {
        "wall-clock".into()
    }
}

impl TargetsReport {
    /// The report as Markdown (`targets.md`, the device README).
    pub fn markdown(&self) -> String {
        let mut md = format!(
            "Measured on {} ({}), {}; FLOPs 4·B·H·n²·d, halved when causal, 4·B·H·d·Σᵢ min(i+1, W) \
             with a window W; decode 4·B·H·n·d per token. Times are medians with their intervals \
             (95% where the samples allow one, else their range, each saying which; a ratio's \
             bounds are the worst cases of its two times' intervals); the two sides of each \
             ratio are timed interleaved (a sample of one, then of the other), so a machine \
             that changes speed moves both alike.\n\n",
            text(&self.device.adapter),
            text(&self.device.backend),
            self.timing
        );
        if let Some(run) = &self.run {
            md += &format!("Run {}.\n\n", text(&run.describe()));
            if run.is_unstable() {
                md += "**The machine did not hold still during this run: its ceilings moved more than 10%.**\n\n";
            }
        }
        let mut table = Table::of_markdown([("target", Align::Left), ("measured", Align::Right)]);
        if let Some(p) = &self.peak_fraction {
            table.row(p.table_row());
        }
        let b = &self.blas;
        match (b.flash, b.numpy, b.ratio) {
            (Some(flash), Some(numpy), Some(ratio)) => table.row([
                format!(
                    "flash vs {} at {}",
                    b.numpy_version.as_deref().unwrap_or("numpy"),
                    b.shape
                ),
                format!(
                    "{} vs {} = {} numpy's time (outputs agree to {:.1e})",
                    flash.describe(),
                    numpy.describe(),
                    ratio.describe(),
                    b.rel_l2_vs_numpy.unwrap_or(f64::NAN)
                ),
            ]),
            _ => table.row([
                format!("flash vs numpy at {}", b.shape),
                format!("not measured: {}", b.skipped.as_deref().unwrap_or("?")),
            ]),
        };
        md += &table.render();
        md += &speedup_table(&self.speedups);
        md += &materializing_markdown(&self.materializing);
        md += &peer_table(&self.peers);
        md += &burn_table(&self.burn, &self.timing);
        md += &self.long_context.markdown();
        md += &self.training.markdown();
        if !self.skipped.is_empty() {
            md += "\nNot measured:\n\n";
            for s in &self.skipped {
                md += &format!("- {s}\n");
            }
        }
        md
    }

    /// Writes `targets.json` and `targets.md` into `dir`, each atomically, unless the
    /// report there skipped fewer steps for lack of time: a short run never replaces the
    /// numbers of a longer one (a one-second suite after a full one keeps the full one's).
    /// Returns whether it wrote. Callers hold the folder's lock.
    pub fn save(&self, dir: &Path) -> Result<bool> {
        if saved_skips(dir).is_some_and(|kept| self.skipped.len() > kept) {
            return Ok(false);
        }
        save_json(&dir.join("targets.json"), self)?;
        write_atomic(&dir.join("targets.md"), self.markdown().as_bytes())?;
        Ok(true)
    }
}

/// flash over naive, with the intervals of the times and of their ratio.
fn speedup_table(speedups: &[Speedup]) -> String {
    let mut md = String::from("\nflash over naive (B = H = 1, non-causal; timed interleaved):\n\n");
    let mut table = Table::of_markdown([
        ("d", Align::Right),
        ("n", Align::Right),
        ("naive", Align::Right),
        ("flash", Align::Right),
        ("speedup", Align::Right),
    ]);
    for s in speedups {
        table.row([
            s.head_dim.to_string(),
            s.seq_len.to_string(),
            s.naive.map_or("-".into(), |t| t.describe()),
            s.flash.describe(),
            s.speedup
                .map_or_else(|| s.note.clone().unwrap_or_default(), |r| r.describe()),
        ]);
    }
    md += &table.render();
    md
}

/// attnbench against PyTorch, like with like: each torch run beside the attnbench kernel
/// of its precision (flash for float32, flash_f16 for float16).
fn peer_table(peers: &[PeerComparison]) -> String {
    let mut md = format!(
        "\nThe peer on the adapter's own silicon, PyTorch `scaled_dot_product_attention` per \
         backend (errors against the f64 reference on the last {PEER_REFERENCE_ROWS} rows of each \
         head; times per call from loops of ≥ 10 ms between two events, median of ≥ 10; \
         \"attnbench ÷ torch\" compares like with like, above 1: torch is faster):\n\n"
    );
    let mut table = Table::of_markdown([
        ("shape", Align::Left),
        ("peer", Align::Left),
        ("backend", Align::Left),
        ("dtype", Align::Left),
        ("time", Align::Right),
        ("GFLOP/s", Align::Right),
        ("rel. error", Align::Right),
        ("attnbench ÷ torch", Align::Right),
    ]);
    for p in peers {
        if let Some(reason) = &p.skipped {
            table.row([
                p.shape.clone(),
                "skipped".into(),
                String::new(),
                String::new(),
                reason.clone(),
            ]);
            continue;
        }
        for (kernel, dtype, time) in [
            ("flash", "float32", p.flash),
            ("flash_f16", "float16", p.flash_f16),
        ] {
            if let Some(t) = time {
                table.row([
                    p.shape.clone(),
                    format!("attnbench {kernel}"),
                    "-".into(),
                    dtype.into(),
                    t.describe(),
                    String::new(),
                    if kernel == "flash" {
                        p.flash_rel_l2_err
                            .map_or(String::new(), |e| format!("{e:.1e}"))
                    } else {
                        String::new()
                    },
                    "1.00×".into(),
                ]);
            }
        }
        for r in &p.runs {
            table.row([
                p.shape.clone(),
                p.peer.clone().unwrap_or_default(),
                r.backend.clone(),
                r.dtype.clone(),
                r.time.map_or_else(
                    || format!("skipped: {}", r.skipped.as_deref().unwrap_or("?")),
                    |t| t.describe(),
                ),
                r.gflops.map_or(String::new(), |g| format!("{g:.1}")),
                r.rel_l2_err.map_or(String::new(), |e| format!("{e:.1e}")),
                r.ratio.map_or(String::new(), |x| x.describe()),
            ]);
        }
    }
    md += &table.render();
    if let Some(chosen) = peers.iter().find_map(|p| p.chosen.clone()) {
        md += &format!("\nThe torch device: {chosen}.\n");
    }
    md
}

/// How many steps the report saved in `dir` skipped; `None` when there is no readable one.
fn saved_skips(dir: &Path) -> Option<usize> {
    let json = crate::files::read_data_file(&dir.join("targets.json")).ok()??;
    let value: serde_json::Value = serde_json::from_str(&json).ok()?;
    // Its skipped steps mean the same in the schema before intervals said what they are.
    let schema = value.get("schema")?.as_str()?;
    [SCHEMA, "attnbench-targets/5"]
        .contains(&schema)
        .then_some(())?;
    Some(value.get("skipped")?.as_array()?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(skipped: usize) -> TargetsReport {
        TargetsReport {
            schema: SCHEMA.into(),
            device: DeviceHeader::for_test("bench"),
            run: None,
            timing: "wall-clock".into(),
            peak_fraction: None,
            speedups: Vec::new(),
            blas: BlasComparison {
                shape: "1×1×2048×64".into(),
                flash: None,
                numpy: None,
                ratio: None,
                numpy_version: None,
                rel_l2_vs_numpy: None,
                skipped: None,
            },
            materializing: MaterializingPeers::skipped(
                &crate::shape::Shape::new(2048, 64),
                "test".into(),
            ),
            peers: Vec::new(),
            burn: Vec::new(),
            long_context: LongContext::default(),
            training: Training::default(),
            skipped: (0..skipped).map(|i| format!("step {i}")).collect(),
        }
    }

    /// A run that skipped more for lack of time keeps the report there; one that skipped
    /// as few or fewer replaces it.
    #[test]
    fn a_shorter_run_never_replaces_the_targets_of_a_longer_one() {
        let dir = tempfile::tempdir().unwrap();
        assert!(report(1).save(dir.path()).unwrap());
        let before = std::fs::read(dir.path().join("targets.md")).unwrap();
        assert!(!report(5).save(dir.path()).unwrap());
        assert_eq!(
            std::fs::read(dir.path().join("targets.md")).unwrap(),
            before
        );
        assert!(report(0).save(dir.path()).unwrap());
        assert_ne!(
            std::fs::read(dir.path().join("targets.md")).unwrap(),
            before
        );
    }
}
