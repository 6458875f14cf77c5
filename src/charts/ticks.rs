//! Where a chart's x axis has its ticks, and what they say: at the measured x values when
//! they are powers of two (every sweep's n and head dim), labelled as a reader counts them
//! (128, 1k, 16k, 1M: binary thousands); otherwise at 1, 2 and 5 times the powers of ten in
//! range. Log axes get no minor grid lines (plotters' minor lines merge into a grey band
//! across a log axis of several decades).

use super::{ChartSpec, SeriesKind};

/// The most ticks an axis gets: measured values past it are thinned to every k-th.
const MAX_TICKS: usize = 12;

/// Whether `x` is a power of two (1, 2, 4, …).
fn power_of_two(x: f64) -> bool {
    x >= 1.0 && x.fract() == 0.0 && x <= u64::MAX as f64 && (x as u64).is_power_of_two()
}

/// The x ticks of `spec` on the range `(x0, x1)`: from its measured series (reference laws
/// may run on to the marks).
pub(super) fn x_ticks(spec: &ChartSpec, (x0, x1): (f64, f64)) -> Vec<f64> {
    let measured = spec.series.iter().any(|s| s.kind == SeriesKind::Measured);
    let mut xs: Vec<f64> = spec
        .series
        .iter()
        .filter(|s| !measured || s.kind == SeriesKind::Measured)
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .filter(|x| x.is_finite() && *x >= x0 && *x <= x1)
        .collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    if xs.len() >= 2 && xs.iter().all(|&x| power_of_two(x)) {
        let step = xs.len().div_ceil(MAX_TICKS);
        // Thinned from the largest down, so that the largest n measured keeps its tick.
        let mut kept: Vec<f64> = xs.iter().rev().step_by(step).copied().collect();
        kept.reverse();
        return kept;
    }
    decade_ticks(x0, x1)
}

/// 1, 2 and 5 × 10^k within `(lo, hi)`: every one while they are few, else the powers of ten
/// alone.
fn decade_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite() && lo > 0.0 && hi > lo) {
        return Vec::new();
    }
    let first = lo.log10().floor() as i32;
    let last = hi.log10().ceil() as i32;
    let in_range = |mantissas: &[f64]| -> Vec<f64> {
        (first..=last)
            .flat_map(|e| mantissas.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| *v >= lo && *v <= hi)
            .collect()
    };
    let fine = in_range(&[1.0, 2.0, 5.0]);
    if fine.len() <= MAX_TICKS {
        fine
    } else {
        in_range(&[1.0])
    }
}

/// The text of an x tick: powers of two from 1024 on in binary thousands (`1k`, `16k`,
/// `1M`), smaller ones and everything else as [`super::si`] writes it.
pub(super) fn x_tick_label(value: f64) -> String {
    if power_of_two(value) && value >= 1024.0 {
        let v = value as u64;
        if v >= 1 << 20 && v.is_multiple_of(1 << 20) {
            return format!("{}M", v >> 20);
        }
        if v.is_multiple_of(1 << 10) {
            return format!("{}k", v >> 10);
        }
    }
    if power_of_two(value) {
        return format!("{value:.0}");
    }
    super::si(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::Series;

    fn chart(xs: &[f64]) -> ChartSpec {
        ChartSpec {
            series: vec![Series::measured(
                "k",
                xs.iter().map(|&x| (x, 1.0)).collect(),
            )],
            ..Default::default()
        }
    }

    #[test]
    fn measured_powers_of_two_are_the_ticks() {
        let xs = [128.0, 256.0, 512.0, 1024.0];
        assert_eq!(x_ticks(&chart(&xs), (100.0, 1500.0)), xs);
        // Many: thinned, the largest kept.
        let many: Vec<f64> = (7..=20).map(|e| f64::from(1u32 << e)).collect();
        let ticks = x_ticks(&chart(&many), (90.0, 2e6));
        assert!(ticks.len() <= MAX_TICKS, "{ticks:?}");
        assert_eq!(ticks.last(), Some(&1_048_576.0));
    }

    #[test]
    fn other_values_get_decade_ticks() {
        let ticks = x_ticks(&chart(&[3.0, 40.0, 700.0]), (2.0, 1000.0));
        assert_eq!(
            ticks,
            [2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]
        );
        assert_eq!(decade_ticks(1e-3, 1e6).len(), 10);
        assert!(decade_ticks(f64::NAN, 1.0).is_empty());
    }

    #[test]
    fn tick_labels_count_as_readers_do() {
        assert_eq!(x_tick_label(128.0), "128");
        assert_eq!(x_tick_label(1024.0), "1k");
        assert_eq!(x_tick_label(16384.0), "16k");
        assert_eq!(x_tick_label(1_048_576.0), "1M");
        assert_eq!(x_tick_label(2.0), "2");
        assert_eq!(x_tick_label(0.5), "0.50");
        assert_eq!(x_tick_label(2000.0), "2k");
    }
}
