//! The charts of one family on one or more devices: time, memory, throughput and roofline
//! ([`super::scaling_charts`]), the n×n read-back ([`super::transfer`]), and comparing
//! devices, the speedup. Each kernel is drawn in its registry colour, line style and
//! marker; in comparisons each device has its own line style.

use super::family::{Family, x_of};
use super::scaling_charts::{memory_chart, roofline_chart, throughput_chart, time_chart};
use super::transfer::transfer_chart;
use crate::charts::{ChartSpec, Series};

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
                let series = Series::measured(f.label(device, &kernel), points);
                chart.series.push(f.style(device, &kernel, series));
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

/// The file stem of `family`'s chart `what` (`time`, `memory`, `speedup`, …).
pub fn chart_name(what: &str, family: &str) -> String {
    format!("{what}-{}", sanitize(family))
}

/// The charts of `family` on `files` (one device, or several compared), named by file stem.
pub fn family_charts(
    files: &[&crate::results::ResultsFile],
    family: &str,
) -> Vec<(String, ChartSpec)> {
    let f = Family::new(files, family);
    let name = |what: &str| chart_name(what, family);
    let mut charts = vec![
        (name("time"), time_chart(&f)),
        (name("memory"), memory_chart(&f)),
        (name("throughput"), throughput_chart(&f)),
        (name("roofline"), roofline_chart(&f)),
    ];
    charts.extend(transfer_chart(&f).map(|c| (name("transfer"), c)));
    charts.extend(speedup_chart(&f).map(|c| (name("speedup"), c)));
    charts
}
