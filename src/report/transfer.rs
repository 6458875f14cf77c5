//! The transfer chart: naive's and flash's compute beside the time to move naive's n×n
//! scores to the host — at this host link's probed readback rate, and over PCIe 5.0 at the
//! seed's 80 GB/s (100 GB in 1.25 s). Past some n, moving the matrix costs more than
//! computing it, and past the device's memory it is the only way to hold it at all.

use super::family::{Family, time_interval};
use crate::charts::{ChartSpec, Mark, Series};
use crate::kernels::{ARGUMENT_KERNELS, find_kernel};
use crate::results::Axis;

/// The seed's host link: PCIe 5.0 x16, about 80 GB/s.
pub const PCIE5_GBPS: f64 = 80.0;

/// The seed's example transfer: 100 GB of scores in 1.25 s at 80 GB/s.
const SEED_TRANSFER_BYTES: f64 = 100e9;

/// The chart for a family along n whose rows include a kernel that materializes the n×n
/// scores; `None` for others.
pub(super) fn transfer_chart(f: &Family) -> Option<ChartSpec> {
    if f.axis != Axis::SeqLen || f.decode {
        return None;
    }
    let materializes = |k: &str| find_kernel(k).is_ok_and(|k| k.materializes_scores());
    let first = f.rows.iter().find(|r| materializes(&r.kernel))?;
    let mut chart = f.chart("compute vs moving the n×n scores to the host", "ms");
    for device in 0..f.files.len() {
        for kernel in f.kernels(device) {
            if !ARGUMENT_KERNELS.contains(&kernel.as_str()) {
                continue;
            }
            let label = format!("{} compute (median)", f.label(device, &kernel));
            let s = f.series(device, &kernel, label, |r| r.median_ms, time_interval);
            if !s.points.is_empty() {
                chart.series.push(s);
            }
        }
    }
    // Time to move B·H·n×n f32 at `gbps`, in ms, from the smallest n to the seed's 100 GB.
    let bh = f64::from(first.batch) * f64::from(first.heads);
    let bytes = |n: f64| bh * n * n * 4.0;
    let n_seed = (SEED_TRANSFER_BYTES / (4.0 * bh)).sqrt();
    let lo = f.xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = f.xs.iter().copied().fold(0.0, f64::max).max(n_seed * 1.2);
    // Each law starts where it reaches a tenth of the fastest compute drawn, so that the
    // y axis is not stretched down to microseconds nobody measured.
    let fastest = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(f64::INFINITY, f64::min);
    let law = |gbps: f64| {
        let ms = |n: f64| bytes(n) / (gbps * 1e6);
        let start = if fastest.is_finite() {
            lo.max((fastest / 10.0 * gbps * 1e6 / (4.0 * bh)).sqrt())
        } else {
            lo
        };
        vec![(start, ms(start)), (hi, ms(hi))]
    };
    for (device, file) in f.files.iter().enumerate() {
        if let Some(c) = file.ceilings.as_ref().filter(|c| c.readback_gbps > 0.0) {
            chart.series.push(Series::reference(
                format!(
                    "{}n×n f32 read back at the probed {:.2} GB/s (this host link)",
                    f.prefix(device),
                    c.readback_gbps
                ),
                law(c.readback_gbps),
            ));
        }
    }
    chart.series.push(Series::reference(
        format!("n×n f32 over PCIe 5.0 at {PCIE5_GBPS:.0} GB/s (the seed: 100 GB in 1.25 s)"),
        law(PCIE5_GBPS),
    ));
    chart.marks.push(Mark::seed(
        "the seed: 100 GB in 1.25 s",
        (n_seed, SEED_TRANSFER_BYTES / (PCIE5_GBPS * 1e6)),
    ));
    Some(chart)
}
