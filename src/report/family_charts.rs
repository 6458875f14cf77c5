//! The charts of one family on one or more devices, one builder per chart: time, memory,
//! throughput, roofline, the n×n read-back, and (comparing devices) the speedup. Each
//! kernel is drawn in its registry colour ([`kernel_color`]); in comparisons each device
//! has its own line style and marker ([`crate::charts::device_style`]).

use super::labels::{WALL_MARKS, human_bytes, kernel_color, short_device_labels};
use crate::charts::{ChartSpec, Mark, Series};
use crate::kernels::Workload;
use crate::results::{Axis, ResultRow, ResultsFile};

/// What every chart of a family needs: its rows, axis, labels.
struct Family<'a> {
    name: &'a str,
    files: &'a [&'a ResultsFile],
    /// Short device labels, for legends.
    devices: Vec<String>,
    /// Measured rows of every device.
    rows: Vec<&'a ResultRow>,
    axis: Axis,
    decode: bool,
    /// The window of a sliding-window family.
    window: Option<u32>,
    x_desc: String,
    xs: Vec<f64>,
    /// Who measured, for titles.
    who: String,
}

impl<'a> Family<'a> {
    fn new(files: &'a [&'a ResultsFile], name: &'a str) -> Self {
        let devices = short_device_labels(files);
        let rows: Vec<&ResultRow> = files
            .iter()
            .flat_map(|f| f.rows.iter().filter(|r| r.family == name && r.is_ok()))
            .collect();
        let first = rows.first();
        Family {
            name,
            files,
            who: devices.join(" vs "),
            devices,
            axis: first.map(|r| r.axis).unwrap_or_default(),
            decode: first.is_some_and(|r| r.workload == Workload::Decode),
            window: first.and_then(|r| r.window),
            x_desc: x_label(first.copied()),
            xs: rows.iter().map(|r| x_of(r)).collect(),
            rows,
        }
    }

    fn multi(&self) -> bool {
        self.files.len() > 1
    }

    fn ok_rows(&self, device: usize) -> impl Iterator<Item = &'a ResultRow> + 'a {
        let name = self.name;
        self.files[device]
            .rows
            .iter()
            .filter(move |r| r.family == name && r.is_ok())
    }

    /// Kernels of the family on `device`, in results order.
    fn kernels(&self, device: usize) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in self.files[device]
            .rows
            .iter()
            .filter(|r| r.family == self.name)
        {
            if !out.contains(&r.kernel) {
                out.push(r.kernel.clone());
            }
        }
        out
    }

    /// Legend text of `kernel` on `device`.
    fn label(&self, device: usize, kernel: &str) -> String {
        if self.multi() {
            format!("{kernel} — {}", self.devices[device])
        } else {
            kernel.to_string()
        }
    }

    /// The measured line of `kernel` on `device`: y from each row.
    fn series(
        &self,
        device: usize,
        kernel: &str,
        label: String,
        y: impl Fn(&ResultRow) -> Option<f64>,
    ) -> Series {
        let points = self
            .ok_rows(device)
            .filter(|r| r.kernel == kernel)
            .filter_map(|r| Some((x_of(r), y(r)?)))
            .collect();
        Series::measured(label, points)
            .colored(kernel_color(kernel))
            .device(device)
    }

    fn chart(&self, what: &str, y_label: &str) -> ChartSpec {
        ChartSpec {
            title: format!("{}: {what} — {}", self.name, self.who),
            x_label: self.x_desc.clone(),
            y_label: y_label.into(),
            ..Default::default()
        }
    }

    /// The device-name prefix of a limit's legend text in comparisons.
    fn prefix(&self, device: usize) -> String {
        if self.multi() {
            format!("{}: ", self.devices[device])
        } else {
            String::new()
        }
    }
}

/// The x value of a row: n, or d in head-dim families.
fn x_of(r: &ResultRow) -> f64 {
    f64::from(r.axis.value(r))
}

/// The x axis description of a family: what varies, and the shape's fixed sizes.
fn x_label(first: Option<&ResultRow>) -> String {
    let Some(r) = first else {
        return "sequence length n".into();
    };
    let mut extra = String::new();
    if let Some(kv) = r.kv_heads {
        extra += &format!(" HKV={kv}");
    }
    if r.causal {
        extra += " causal";
    }
    if let Some(w) = r.window {
        extra += &format!(" W={w}");
    }
    match r.axis {
        Axis::SeqLen => format!(
            "sequence length n (B={} H={} d={}{extra})",
            r.batch, r.heads, r.head_dim
        ),
        Axis::HeadDim => format!(
            "head dim d (B={} H={} n={}{extra})",
            r.batch, r.heads, r.seq_len
        ),
    }
}

/// A reference law c·x^power through the last point of `anchor`, over the x range `xs`.
fn law_through(anchor: &Series, xs: &[f64], power: i32, label: &str) -> Option<Series> {
    law_through_point(anchor.points.last()?, xs, power, label)
}

/// A reference law c·x^power through the point `(ax, ay)`, over the x range `xs`.
fn law_through_point(
    &(ax, ay): &(f64, f64),
    xs: &[f64],
    power: i32,
    label: &str,
) -> Option<Series> {
    let c = ay / ax.powi(power);
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(0.0, f64::max);
    Some(Series::reference(
        label,
        vec![(lo, c * lo.powi(power)), (hi, c * hi.powi(power))],
    ))
}

fn time_chart(f: &Family) -> ChartSpec {
    let y = if f.decode {
        "ms per generated token (median)"
    } else {
        "median time per run (ms)"
    };
    let mut chart = f.chart("time", y);
    for device in 0..f.files.len() {
        for kernel in f.kernels(device) {
            let t = f.series(device, &kernel, f.label(device, &kernel), |r| r.median_ms);
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
    chart
}

/// Beside a sliding-window line: the same kernel's full causal line (from the device's
/// `prefill-causal-d…` family, dashed) and, for flash, the n² law through the window line's
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
        out.push(
            Series::measured(format!("{kernel}, full causal"), points)
                .colored(kernel_color(kernel))
                .device(1),
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

fn memory_chart(f: &Family) -> ChartSpec {
    let mut chart = f.chart("peak buffer bytes", "peak bytes of all buffers");
    for device in 0..f.files.len() {
        for kernel in f.kernels(device) {
            chart
                .series
                .push(f.series(device, &kernel, f.label(device, &kernel), |r| {
                    r.peak_buffer_bytes.map(|b| b as f64)
                }));
        }
    }
    // Memory laws: the exact score-matrix size (n²) and Q, K, V, O (n), for the family's shape.
    if let Some(r) = f
        .rows
        .first()
        .filter(|_| f.axis == Axis::SeqLen && !f.decode)
    {
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
            chart.marks.push(Mark {
                label: format!("n={}: n×n = {text}", n as u64),
                at: (n, n * n * 4.0),
            });
        }
    }
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

fn throughput_chart(f: &Family) -> ChartSpec {
    let training = f.rows.first().is_some_and(|r| r.pass.has_backward());
    let y = if training {
        "GFLOP/s (FA model: 4·B·H·n²·d × 2.5 bwd, × 3.5 fwd-bwd; halved if causal)"
    } else {
        "GFLOP/s (4·B·H·n²·d, halved if causal)"
    };
    let mut chart = f.chart("throughput", y);
    for device in 0..f.files.len() {
        for kernel in f.kernels(device) {
            chart
                .series
                .push(f.series(device, &kernel, f.label(device, &kernel), |r| r.gflops));
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

fn roofline_chart(f: &Family) -> ChartSpec {
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
            chart.series.push(
                Series::measured(f.label(device, &kernel), points)
                    .colored(kernel_color(&kernel))
                    .device(device),
            );
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

/// Compute time against the time to read the n×n scores back to the host, for kernels
/// that materialize them; `None` when no kernel of the family does.
fn transfer_chart(f: &Family) -> Option<ChartSpec> {
    let mut chart = f.chart("n×n scores, compute vs readback to host", "ms");
    for device in 0..f.files.len() {
        for kernel in f.kernels(device) {
            let materialized: Vec<f64> = f
                .ok_rows(device)
                .filter(|r| r.kernel == kernel && r.scores_transfer_ms.is_some())
                .map(x_of)
                .collect();
            if materialized.is_empty() {
                continue;
            }
            let label = f.label(device, &kernel);
            let mut compute = f.series(device, &kernel, format!("{label} compute (median)"), |r| {
                r.median_ms
            });
            compute.points.retain(|p| materialized.contains(&p.0));
            chart.series.push(compute);
            // The read-back in the next palette colour, with this device's style.
            let readback = f.series(
                device,
                &kernel,
                format!("{label} n×n scores read back to host"),
                |r| r.scores_transfer_ms,
            );
            chart.series.push(readback.colored(None));
        }
    }
    (!chart.series.is_empty()).then_some(chart)
}

/// Per kernel, each device's speedup over the first: the first device's median time ÷ this
/// device's, at every x both measured (above 1: faster than the first device).
fn speedup_chart(f: &Family) -> Option<ChartSpec> {
    if !f.multi() {
        return None;
    }
    let mut chart = f.chart(
        &format!("speedup over {}", f.devices[0]),
        &format!("{}'s time ÷ this device's time", f.devices[0]),
    );
    for device in 1..f.files.len() {
        for kernel in f.kernels(device) {
            let base: Vec<(f64, f64)> = f
                .ok_rows(0)
                .filter(|r| r.kernel == kernel)
                .filter_map(|r| Some((x_of(r), r.median_ms?)))
                .collect();
            let points: Vec<(f64, f64)> = f
                .ok_rows(device)
                .filter(|r| r.kernel == kernel)
                .filter_map(|r| {
                    let x = x_of(r);
                    let t0 = base.iter().find(|b| b.0 == x)?.1;
                    Some((x, t0 / r.median_ms?))
                })
                .collect();
            if !points.is_empty() {
                chart.series.push(
                    Series::measured(f.label(device, &kernel), points)
                        .colored(kernel_color(&kernel))
                        .device(device),
                );
            }
        }
    }
    chart
        .limits
        .push((format!("1× (as fast as {})", f.devices[0]), 1.0));
    (!chart.series.is_empty()).then_some(chart)
}

/// File-name-safe form of a family name.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The charts of `family` on `files` (one device, or several compared), named by file stem.
pub fn family_charts(files: &[&ResultsFile], family: &str) -> Vec<(String, ChartSpec)> {
    let f = Family::new(files, family);
    let slug = sanitize(family);
    let mut charts = vec![
        (format!("time-{slug}"), time_chart(&f)),
        (format!("memory-{slug}"), memory_chart(&f)),
        (format!("throughput-{slug}"), throughput_chart(&f)),
        (format!("roofline-{slug}"), roofline_chart(&f)),
    ];
    charts.extend(transfer_chart(&f).map(|c| (format!("transfer-{slug}"), c)));
    charts.extend(speedup_chart(&f).map(|c| (format!("speedup-{slug}"), c)));
    charts
}
