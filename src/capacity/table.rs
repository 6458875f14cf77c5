//! The capacity table: for each kernel, the largest n whose memory plan fits the device,
//! and the bytes it needs at the seed's marks.

use crate::bench::{Bench, Planner};
use crate::error::Error;
use crate::kernels::Kernel;
use crate::run::PointPlan;
use crate::shape::{Pass, Shape};
use serde::Serialize;

/// Sequence lengths whose needs `attnbench capacity` reports.
pub const CAPACITY_SEQ_LENS: [u32; 3] = [4096, 16384, 100_000];

/// What one kernel needs at one n.
#[derive(Clone, Debug, Serialize)]
pub struct Need {
    /// Sequence length.
    pub seq_len: u32,
    /// Bytes of all buffers it would create.
    pub bytes: Option<u64>,
    /// Whether that fits the device.
    pub fits: bool,
    /// Why not, when it does not.
    pub reason: Option<String>,
}

/// One kernel's capacity on a device.
#[derive(Clone, Debug, Serialize)]
pub struct Capacity {
    /// Kernel name.
    pub kernel: &'static str,
    /// The pass: fwd (inference), or bwd / fwd-bwd (training, the backward's buffers too).
    pub pass: Pass,
    /// Largest n that fits (None when even n = 1 does not).
    pub max_seq_len: Option<u32>,
    /// What stops it at max_seq_len + 1.
    pub limited_by: String,
    /// Needs at [`CAPACITY_SEQ_LENS`].
    pub needs: Vec<Need>,
}

/// Bytes of every buffer `kernel`'s plan for `shape` creates; where the driver's loop cap
/// refuses the shape, the bytes the same plan would need without that cap (the memory wall
/// stands whatever the loops do).
fn bytes_needed(bench: &Bench, kernel: &dyn Kernel, shape: &Shape) -> Option<u64> {
    let planner = bench.planner();
    let bytes = |p: &Planner<'_>| {
        kernel
            .plan(shape, &p.ctx)
            .ok()
            .map(|plan| plan.memory().total_bytes())
    };
    bytes(&planner).or_else(|| planner.without_loop_cap(bytes))
}

fn shape_at(template: &Shape, seq_len: u32) -> Shape {
    Shape {
        seq_len,
        ..*template
    }
}

/// The capacity of `kernel` at `template`'s B, H, d, causal flag and pass (a training step
/// needs the backward's buffers too: naive's P and dP put its wall at half the forward's
/// n²).
pub fn capacity(bench: &Bench, kernel: &'static dyn Kernel, template: &Shape) -> Capacity {
    let fits = |n: u32| PointPlan::checked(bench, kernel, &shape_at(template, n));
    let (max_seq_len, limited_by) = match fits(1) {
        Err(e) => (None, e.to_string()),
        Ok(_) => {
            // Largest n with a plan that fits: plans grow with n.
            let (mut lo, mut hi) = (1u32, u32::MAX);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if fits(mid).is_ok() {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            let reason = fits(lo.saturating_add(1))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            (Some(lo), reason)
        }
    };
    let needs = CAPACITY_SEQ_LENS
        .iter()
        .map(|&n| {
            let shape = shape_at(template, n);
            let bytes = bytes_needed(bench, kernel, &shape);
            match fits(n) {
                Ok(_) => Need {
                    seq_len: n,
                    bytes,
                    fits: true,
                    reason: None,
                },
                Err(e) => Need {
                    seq_len: n,
                    bytes: bytes.or(match &e {
                        Error::TooLarge { needed, .. } => Some(*needed),
                        _ => None,
                    }),
                    fits: false,
                    reason: Some(e.to_string()),
                },
            }
        })
        .collect();
    Capacity {
        kernel: kernel.name(),
        pass: template.pass,
        max_seq_len,
        limited_by,
        needs,
    }
}
