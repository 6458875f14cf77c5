//! The median of a sample and the interval of that median, with how it was made and how
//! often it covers the true median ([`Interval`]).

use serde::{Deserialize, Serialize};

/// The coverage an interval must reach to be called a confidence interval.
pub const CONFIDENCE: f64 = 0.95;

/// The median of `samples`; `None` for none (NaN sorts last, so it never hides).
pub fn median(samples: &[f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    })
}

/// How an interval of a median was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntervalMethod {
    /// Order statistics x₍ₖ₎ … x₍ₙ₊₁₋ₖ₎ with the largest k whose binomial coverage is at
    /// least [`CONFIDENCE`] (distribution-free; needs 6 samples or more).
    OrderStatistic,
    /// The samples' range, min–max: too few samples for [`CONFIDENCE`]; its coverage is
    /// 1 − 2^(1−n).
    Range,
    /// A percentile bootstrap of the median (files written before intervals said how they
    /// were made). Within the samples' range, so it covers at most what the range does.
    Bootstrap,
}

/// An interval of a median, in the samples' unit, with its method and coverage.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower end.
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// How it was made.
    pub method: IntervalMethod,
    /// The probability that it covers the true median (at most, for a bootstrap).
    pub coverage: f64,
    /// Samples behind it.
    pub samples: u32,
}

impl Interval {
    /// The interval of the median of `samples`: order statistics at [`CONFIDENCE`] where
    /// the samples allow it, else their range; `None` for fewer than two samples (or any
    /// that is not finite), which support no interval at all.
    pub fn of_median(samples: &[f64]) -> Option<Interval> {
        let n = samples.len();
        if n < 2 || samples.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let count = u32::try_from(n).ok()?;
        // The narrowest k (counting from 1) whose interval still reaches the confidence.
        let best = (1..=n / 2)
            .rev()
            .map(|k| (k, order_statistic_coverage(n, k)))
            .find(|&(_, coverage)| coverage >= CONFIDENCE);
        Some(match best {
            Some((k, coverage)) => Interval {
                low: sorted[k - 1],
                high: sorted[n - k],
                method: IntervalMethod::OrderStatistic,
                coverage,
                samples: count,
            },
            None => Interval {
                low: sorted[0],
                high: sorted[n - 1],
                method: IntervalMethod::Range,
                coverage: order_statistic_coverage(n, 1),
                samples: count,
            },
        })
    }

    /// Whether it is a confidence interval at [`CONFIDENCE`] (not a range, nor a bootstrap
    /// of too few samples, which is no wider than their range).
    pub fn is_confident(&self) -> bool {
        self.method != IntervalMethod::Range && self.coverage >= CONFIDENCE
    }

    /// Half its width as a fraction of `median`: ±0.05 is ±5%.
    pub fn relative_spread(&self, median: f64) -> f64 {
        if median > 0.0 {
            (self.high - self.low) / 2.0 / median
        } else {
            0.0
        }
    }

    /// What it is, in words: `95% CI`, `range of 3 (75% coverage)`, `bootstrap of 5
    /// (≤ 94% coverage)`.
    pub fn describe(&self) -> String {
        let pct = |c: f64| format!("{:.0}%", (100.0 * c).floor());
        match self.method {
            IntervalMethod::OrderStatistic => format!("{} CI", pct(self.coverage)),
            IntervalMethod::Range => format!(
                "range of {} ({} coverage)",
                self.samples,
                pct(self.coverage)
            ),
            IntervalMethod::Bootstrap if self.coverage >= CONFIDENCE => "bootstrap 95% CI".into(),
            IntervalMethod::Bootstrap => format!(
                "bootstrap of {} (≤ {} coverage)",
                self.samples,
                pct(self.coverage)
            ),
        }
    }

    /// `12.100–12.600, range of 3 (75% coverage)` with `digits` decimals.
    pub fn with_ends(&self, digits: usize) -> String {
        format!(
            "{:.digits$}–{:.digits$}, {}",
            self.low,
            self.high,
            self.describe()
        )
    }
}

/// The probability that the order statistics x₍ₖ₎ and x₍ₙ₊₁₋ₖ₎ of `n` samples enclose
/// the median of a continuous distribution: 1 − 2·P(Bin(n, ½) ≤ k − 1).
pub fn order_statistic_coverage(n: usize, k: usize) -> f64 {
    if n == 0 || k == 0 || 2 * k > n + 1 {
        return 0.0;
    }
    // P(Bin(n, ½) = j) in logs: large n would underflow 2⁻ⁿ.
    let mut log_pmf = -(n as f64) * std::f64::consts::LN_2;
    let mut tail = 0.0;
    for j in 0..k {
        tail += log_pmf.exp();
        log_pmf += ((n - j) as f64).ln() - ((j + 1) as f64).ln();
    }
    (1.0 - 2.0 * tail).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    /// Three samples support no 95% interval: their range, called a range, covering 75%.
    #[test]
    fn few_samples_give_a_range_with_its_coverage() {
        let i = Interval::of_median(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((i.low, i.high, i.method), (1.0, 3.0, IntervalMethod::Range));
        assert!((i.coverage - 0.75).abs() < 1e-12, "{i:?}");
        assert!(!i.is_confident());
        assert_eq!(i.describe(), "range of 3 (75% coverage)");
        let five = Interval::of_median(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(five.method, IntervalMethod::Range);
        assert!((five.coverage - 0.9375).abs() < 1e-12);
        assert!(Interval::of_median(&[1.0]).is_none());
        assert!(Interval::of_median(&[1.0, f64::NAN]).is_none());
    }

    /// From six samples on, order statistics at ≥ 95%, narrower as samples grow.
    #[test]
    fn enough_samples_give_a_confidence_interval() {
        let six = Interval::of_median(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!((six.low, six.high), (1.0, 6.0));
        assert!(six.is_confident() && (six.coverage - 0.96875).abs() < 1e-12);
        let many: Vec<f64> = (1..=100).map(f64::from).collect();
        let i = Interval::of_median(&many).unwrap();
        assert!(i.is_confident() && i.coverage < 0.97, "{i:?}");
        assert!(i.low > 35.0 && i.high < 65.0 && i.low <= 50.5 && i.high >= 50.5);
        // Coverage of huge sample counts stays finite.
        let huge = order_statistic_coverage(100_000, 49_700);
        assert!(huge.is_finite() && huge > 0.9 && huge < 1.0, "{huge}");
    }

    /// The interval holds the median and narrows as the samples agree.
    #[test]
    fn the_interval_narrows_with_agreement() {
        let tight = [10.0, 10.1, 9.9, 10.05, 9.95, 10.0, 10.02, 9.98, 10.01, 9.99];
        let t = Interval::of_median(&tight).unwrap();
        assert!(
            t.low <= 10.0 && 10.0 <= t.high && t.high - t.low < 0.2,
            "{t:?}"
        );
        let loose = [10.0, 14.0, 7.0, 12.0, 9.0, 16.0, 8.0, 11.0, 13.0, 6.0];
        let l = Interval::of_median(&loose).unwrap();
        assert!(l.high - l.low > 10.0 * (t.high - t.low));
    }
}
