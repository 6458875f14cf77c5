//! The charts of how a family scales, one builder each: time (with the family's growth
//! law, and beside a sliding window its full causal line), peak buffer bytes (with the n²
//! and n laws, the seed's marks, the device's limits and where lines meet them), GFLOP/s,
//! and the roofline.

use super::family::{
    Family, law_through, law_through_point, no_interval, rate_interval, time_interval, x_of,
};
use super::labels::{WALL_MARKS, human_bytes, kernel_color, kernel_style};
use super::stops::{line_end_marks, memory_marks};
use crate::charts::{ChartSpec, Line, Mark, Series};
use crate::results::Axis;

pub(super) fn time_chart(f: &Family) -> ChartSpec {
    let y = if f.decode {
        "ms per generated token (median)"
    } else {
        "median time per run (ms)"
    };
    let mut chart = f.chart("time", y);
    for device in 0..f.files.len() {
        for kernel in f.kernels(device) {
            let label = f.label(device, &kernel);
            let t = f.series(device, &kernel, label, |r| r.median_ms, time_interval);
            // The growth law each family is about: n² for prefill, n for decode (once,
            // through the first device's line).
            let law = match (device, f.decode, f.axis, kernel.as_str()) {
                (0, true, _, _) => {
                    law_through(&t, &f.xs, 1, &format!("linear law through {}", t.label))
                }
                (0, false, Axis::SeqLen, "naive") => {
                    law_through(&t, &f.xs, 2, &format!("n² law through {}", t.label))
                }
                _ => None,
            };
            chart.series.extend(law);
            if device == 0 && f.window.is_some() && !f.multi() {
                chart.series.extend(window_companions(f, &kernel, &t));
            }
            chart.series.push(t);
        }
    }
    chart.marks = line_end_marks(f, |r| r.median_ms);
    chart
}

/// Beside a sliding-window line: the same kernel's full causal line (from the device's
/// `prefill-causal-d…` family, dotted) and, for flash, the n² law through the window line's
/// first point and the linear law through its last — the bend from n² to n past n = W.
fn window_companions(f: &Family, kernel: &str, line: &Series) -> Vec<Series> {
    let mut out = Vec::new();
    let Some(first) = f.rows.first() else {
        return out;
    };
    let causal_family = crate::sweep::FamilyKind::Prefill {
        head_dim: first.head_dim,
        causal: true,
    }
    .name();
    let points: Vec<(f64, f64)> = f.files[0]
        .rows
        .iter()
        .filter(|r| {
            r.family == causal_family
                && r.kernel == kernel
                && r.is_ok()
                && r.batch == first.batch
                && r.heads == first.heads
                && r.kv_heads == first.kv_heads
        })
        .filter_map(|r| Some((x_of(r), r.median_ms?)))
        .collect();
    if !points.is_empty() {
        // Dotted: a line style no kernel has of its own.
        out.push(
            Series::measured(format!("{kernel}, full causal"), points)
                .colored(kernel_color(kernel))
                .styled(Line::Dotted, kernel_style(kernel).1),
        );
    }
    if kernel == "flash" {
        out.extend(line.points.first().and_then(|p| {
            law_through_point(
                p,
                &f.xs,
                2,
                &format!("n² law through {kernel}'s first point"),
            )
        }));
        out.extend(law_through(
            line,
            &f.xs,
            1,
            &format!("linear law through {kernel}'s last point"),
        ));
    }
    out
}

pub(super) fn memory_chart(f: &Family) -> ChartSpec {
    let mut chart = f.chart("peak buffer bytes", "peak bytes of all buffers");
    for device in 0..f.files.len() {
        for kernel in f.kernels(device) {
            let label = f.label(device, &kernel);
            let bytes = |r: &crate::results::ResultRow| r.peak_buffer_bytes.map(|b| b as f64);
            chart
                .series
                .push(f.series(device, &kernel, label, bytes, no_interval));
        }
    }
    if f.axis == Axis::SeqLen && !f.decode {
        memory_laws(f, &mut chart);
    }
    chart.marks.extend(memory_marks(f));
    for (device, file) in f.files.iter().enumerate() {
        let prefix = f.prefix(device);
        if let Some(budget) = file.device.memory_budget_bytes {
            chart.limits.push((
                format!("{prefix}memory budget {}", human_bytes(budget)),
                budget as f64,
            ));
        }
        let binding = file.device.max_storage_buffer_binding_size;
        if binding > 0 {
            chart.limits.push((
                format!("{prefix}max storage binding {}", human_bytes(binding)),
                binding as f64,
            ));
        }
    }
    chart
}

/// Memory laws for the family's shape: the exact score-matrix size (n², two matrices in
/// training) and the n·d tensors, and the seed's marks on the n² law.
fn memory_laws(f: &Family, chart: &mut ChartSpec) {
    let Some(r) = f.rows.first() else {
        return;
    };
    let bh = f64::from(r.batch) * f64::from(r.heads);
    let d = f64::from(r.head_dim);
    let hi = f.xs.iter().copied().fold(0.0, f64::max).max(100_000.0);
    let lo = f.xs.iter().copied().fold(f64::INFINITY, f64::min);
    // A training step holds two n×n matrices where naive materializes them (P, dP).
    let (matrices, what) = if r.pass.has_backward() {
        (2.0, "2·n² law: P and dP, B·H·n×n f32 each")
    } else {
        (1.0, "n² law: B·H·n×n f32 scores")
    };
    chart.series.push(Series::reference(
        what,
        vec![
            (lo, matrices * bh * lo * lo * 4.0),
            (hi, matrices * bh * hi * hi * 4.0),
        ],
    ));
    // Q, K, V, O; a training step also holds dO, dQ, dK, dV.
    let (tensors, what) = if r.pass.has_backward() {
        (8.0, "n law: Q, K, V, O, dO, dQ, dK, dV in f32")
    } else {
        (4.0, "n law: Q, K, V, O in f32")
    };
    chart.series.push(Series::reference(
        what,
        vec![
            (lo, tensors * 4.0 * bh * lo * d),
            (hi, tensors * 4.0 * bh * hi * d),
        ],
    ));
    for (n, text) in WALL_MARKS {
        let n = f64::from(n);
        chart.marks.push(Mark::seed(
            format!("n={}: n×n = {text}", n as u64),
            (n, n * n * 4.0),
        ));
    }
}

pub(super) fn throughput_chart(f: &Family) -> ChartSpec {
    let training = f.rows.first().is_some_and(|r| r.pass.has_backward());
    let y = if training {
        "GFLOP/s (FA model: 4·B·H·n²·d × 2.5 bwd, × 3.5 fwd-bwd; halved if causal)"
    } else {
        "GFLOP/s (4·B·H·n²·d, halved if causal)"
    };
    let mut chart = f.chart("throughput", y);
    for device in 0..f.files.len() {
        for kernel in f.kernels(device) {
            let label = f.label(device, &kernel);
            chart
                .series
                .push(f.series(device, &kernel, label, |r| r.gflops, rate_interval));
        }
        if let Some(c) = &f.files[device].ceilings {
            chart.limits.push((
                format!(
                    "{}f32 FMA peak (probed) {:.1} GFLOP/s",
                    f.prefix(device),
                    c.fma_f32_gflops
                ),
                c.fma_f32_gflops,
            ));
        }
    }
    chart
}

pub(super) fn roofline_chart(f: &Family) -> ChartSpec {
    let mut chart = ChartSpec {
        x_label: "arithmetic intensity (FLOPs per minimum byte moved)".into(),
        ..f.chart("roofline", "GFLOP/s")
    };
    for device in 0..f.files.len() {
        for kernel in f.kernels(device) {
            let mut points: Vec<(f64, f64)> = f
                .ok_rows(device)
                .filter(|r| r.kernel == kernel && r.min_bytes > 0)
                .filter_map(|r| Some((r.flops / r.min_bytes as f64, r.gflops?)))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let series = Series::measured(f.label(device, &kernel), points);
            chart.series.push(f.style(device, &kernel, series));
        }
    }
    for device in 0..f.files.len() {
        let Some(c) = &f.files[device].ceilings else {
            continue;
        };
        let prefix = f.prefix(device);
        chart.limits.push((
            format!("{prefix}f32 FMA peak {:.1} GFLOP/s", c.fma_f32_gflops),
            c.fma_f32_gflops,
        ));
        let ai: Vec<f64> = chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .collect();
        let lo = ai.iter().copied().fold(f64::INFINITY, f64::min).min(0.1);
        let hi = ai.iter().copied().fold(0.0, f64::max).max(1.0) * 2.0;
        chart.series.push(Series::reference(
            format!(
                "{prefix}bandwidth ceiling {:.1} GB/s × intensity",
                c.bandwidth_gbps
            ),
            vec![(lo, c.bandwidth_gbps * lo), (hi, c.bandwidth_gbps * hi)],
        ));
    }
    chart
}
