//! A point as a results row ([`ResultRow`], the one record type of a measurement): its
//! identity and models from the kernel and its plan, then what was measured. The sweep's
//! rows and `attnbench run --json` are built here.

use super::plan::PointPlan;
use crate::kernels::Kernel;
use crate::results::ResultRow;
use crate::shape::Shape;
use crate::stats::Measurement;

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

/// `row` (of `plan`) measured as `m` ([`ResultRow::record`]), with the run's peak buffer
/// bytes.
pub fn measured(mut row: ResultRow, m: &Measurement, peak_buffer_bytes: u64) -> ResultRow {
    row.record(m);
    if row.is_ok() && m.median_ms > 0.0 {
        row.achieved_gbps = Some(row.min_bytes as f64 / (m.median_ms * 1e6));
    }
    row.peak_buffer_bytes = Some(peak_buffer_bytes);
    row
}
