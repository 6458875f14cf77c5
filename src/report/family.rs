//! What every chart of one family needs ([`Family`]): its rows on one or more devices, its
//! axis and labels, each kernel's line in its registry colour, line style and marker (in
//! comparisons each device has its own line style, the kernels keep their markers), and
//! growth laws through a point.

use super::labels::{kernel_color, kernel_style, short_device_labels};
use crate::charts::{ChartSpec, Series, device_line};
use crate::kernels::Workload;
use crate::results::{Axis, ResultRow, ResultsFile};

/// One family's rows and labels, on one device or several compared.
pub(super) struct Family<'a> {
    pub(super) name: &'a str,
    pub(super) files: &'a [&'a ResultsFile],
    /// Short device labels, for legends.
    pub(super) devices: Vec<String>,
    /// Measured rows of every device.
    pub(super) rows: Vec<&'a ResultRow>,
    pub(super) axis: Axis,
    pub(super) decode: bool,
    /// The window of a sliding-window family.
    pub(super) window: Option<u32>,
    pub(super) x_desc: String,
    pub(super) xs: Vec<f64>,
    /// Who measured, for titles.
    pub(super) who: String,
}

impl<'a> Family<'a> {
    pub(super) fn new(files: &'a [&'a ResultsFile], name: &'a str) -> Self {
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

    pub(super) fn multi(&self) -> bool {
        self.files.len() > 1
    }

    /// Every row of the family on `device`, measured or not.
    pub(super) fn all_rows(&self, device: usize) -> impl Iterator<Item = &'a ResultRow> + 'a {
        let name = self.name;
        self.files[device]
            .rows
            .iter()
            .filter(move |r| r.family == name)
    }

    pub(super) fn ok_rows(&self, device: usize) -> impl Iterator<Item = &'a ResultRow> + 'a {
        self.all_rows(device).filter(|r| r.is_ok())
    }

    /// Kernels of the family on `device`, in results order.
    pub(super) fn kernels(&self, device: usize) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for r in self.all_rows(device) {
            if !out.contains(&r.kernel) {
                out.push(r.kernel.clone());
            }
        }
        out
    }

    /// Legend text of `kernel` on `device`.
    pub(super) fn label(&self, device: usize, kernel: &str) -> String {
        if self.multi() {
            format!("{kernel} — {}", self.devices[device])
        } else {
            kernel.to_string()
        }
    }

    /// `series` in `kernel`'s colour and marker, with `kernel`'s line style on one device
    /// and `device`'s in comparisons.
    pub(super) fn style(&self, device: usize, kernel: &str, series: Series) -> Series {
        let (line, marker) = kernel_style(kernel);
        let line = if self.multi() {
            device_line(device)
        } else {
            line
        };
        series.colored(kernel_color(kernel)).styled(line, marker)
    }

    /// The measured line of `kernel` on `device`: y from each row, and an error bar from
    /// each row's interval where `interval` gives one.
    pub(super) fn series(
        &self,
        device: usize,
        kernel: &str,
        label: String,
        y: impl Fn(&ResultRow) -> Option<f64>,
        interval: impl Fn(&ResultRow) -> Option<(f64, f64)>,
    ) -> Series {
        let rows: Vec<&ResultRow> = self
            .ok_rows(device)
            .filter(|r| r.kernel == kernel)
            .collect();
        let points = rows.iter().filter_map(|r| Some((x_of(r), y(r)?))).collect();
        let intervals = rows
            .iter()
            .filter_map(|r| {
                let (lo, hi) = interval(r)?;
                Some((x_of(r), lo, hi))
            })
            .collect();
        self.style(device, kernel, Series::measured(label, points))
            .with_intervals(intervals)
    }

    pub(super) fn chart(&self, what: &str, y_label: &str) -> ChartSpec {
        ChartSpec {
            title: format!("{}: {what} — {}", self.name, self.who),
            x_label: self.x_desc.clone(),
            y_label: y_label.into(),
            ..Default::default()
        }
    }

    /// The device-name prefix of a limit's legend text in comparisons.
    pub(super) fn prefix(&self, device: usize) -> String {
        if self.multi() {
            format!("{}: ", self.devices[device])
        } else {
            String::new()
        }
    }
}

/// No error bars.
pub(super) fn no_interval(_: &ResultRow) -> Option<(f64, f64)> {
    None
}

/// The row's interval of its median time, ms.
pub(super) fn time_interval(r: &ResultRow) -> Option<(f64, f64)> {
    r.interval().map(|i| (i.low, i.high))
}

/// The row's interval of its GFLOP/s (the time interval turned over).
pub(super) fn rate_interval(r: &ResultRow) -> Option<(f64, f64)> {
    let (lo, hi) = time_interval(r)?;
    (lo > 0.0).then(|| (r.flops / (hi * 1e6), r.flops / (lo * 1e6)))
}

/// The x value of a row: n, or d in head-dim families.
pub(super) fn x_of(r: &ResultRow) -> f64 {
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
pub(super) fn law_through(anchor: &Series, xs: &[f64], power: i32, label: &str) -> Option<Series> {
    law_through_point(anchor.points.last()?, xs, power, label)
}

/// A reference law c·x^power through the point `(ax, ay)`, over the x range `xs`.
pub(super) fn law_through_point(
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
