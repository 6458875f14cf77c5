//! A point as a results row ([`ResultRow`], the one record type of a measurement): its
//! identity and models from the kernel and its plan, then what was measured. The sweep's
//! rows and `attnbench run --json` are built here.

use super::measurement::{Measurement, gflops};
use super::plan::PointPlan;
use crate::kernels::Kernel;
use crate::results::{ResultRow, Status};
use crate::shape::Shape;

/// The row of `kernel` at `shape` in `family`, nothing measured yet: the kernel's models
/// (FLOPs, fewest bytes, element type) and, where it has a plan, its label and bytes.
pub fn planned_row(
    family: &str,
    kernel: &dyn Kernel,
    shape: &Shape,
    plan: Option<&PointPlan<'_>>,
) -> ResultRow {
    let mut row = ResultRow::new(family, kernel.name(), shape);
    row.min_bytes = kernel.min_bytes(shape);
    row.flops = kernel.flops(shape);
    row.dtype = kernel.precision();
    if let Some(plan) = plan {
        row.config = plan.label().map(str::to_string);
        row.needed_bytes = plan.memory().total_bytes();
    }
    row
}

/// `row` (of `plan`) measured as `m`, with the run's peak buffer bytes.
pub fn measured(mut row: ResultRow, m: &Measurement, peak_buffer_bytes: u64) -> ResultRow {
    row.status = Status::Ok;
    row.median_ms = Some(m.median_ms);
    row.min_ms = Some(m.min_ms);
    row.max_ms = Some(m.max_ms);
    row.samples = m.samples_ms.len() as u32;
    row.ci95_low_ms = Some(m.ci95_ms.0);
    row.ci95_high_ms = Some(m.ci95_ms.1);
    row.timing = Some(m.timing);
    row.gflops = Some(gflops(row.flops, m.median_ms));
    if m.median_ms > 0.0 {
        row.achieved_gbps = Some(row.min_bytes as f64 / (m.median_ms * 1e6));
    }
    row.peak_buffer_bytes = Some(peak_buffer_bytes);
    row
}
