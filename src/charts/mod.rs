//! Report charts with plotters: log-log lines per series (with error bars where they have
//! intervals), dashed reference laws, labelled marks (the seed's sizes, the walls where
//! lines stop) and horizontal limits; written as PNG and SVG (atomically). Text uses DejaVu
//! Sans embedded through the `dejavu` crate, so charts render on machines with no fonts.
//! How elements look is [`style`]'s; drawing them is `draw`'s.

mod draw;
pub mod style;
mod ticks;

pub use style::{Line, Marker, PALETTE, device_line, kernel_style};

#[cfg(feature = "native")]
use crate::error::{Error, Result};
#[cfg(feature = "native")]
use image::ImageEncoder as _;
use plotters::prelude::*;
#[cfg(feature = "native")]
use std::path::{Path, PathBuf};
use style::{LIMIT_COLORS, REFERENCE_GREYS};

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesKind {
    /// Measured points: a line with markers.
    Measured,
    /// A growth law or model: dashed line, no markers.
    Reference,
}

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// (x, y) points, x ascending; non-positive values are dropped (log axes).
    pub points: Vec<(f64, f64)>,
    /// Error bars: (x, low, high), drawn in the series' colour where present.
    pub intervals: Vec<(f64, f64, f64)>,
    /// How it is drawn.
    pub kind: SeriesKind,
    /// Its colour (measured series: the kernel's, from the registry); `None`: the next
    /// free colour of the chart.
    pub color: Option<[u8; 3]>,
    /// Line style (measured series).
    pub line: Line,
    /// Point marker (measured series).
    pub marker: Marker,
}

impl Series {
    /// A measured line, solid with circles, in the chart's next free colour.
    pub fn measured(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            points,
            intervals: Vec::new(),
            kind: SeriesKind::Measured,
            color: None,
            line: Line::Solid,
            marker: Marker::Circle,
        }
    }

    /// A reference law: dashed grey, no markers.
    pub fn reference(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            kind: SeriesKind::Reference,
            ..Series::measured(label, points)
        }
    }

    /// This series in `color`.
    pub fn colored(self, color: Option<[u8; 3]>) -> Self {
        Series { color, ..self }
    }

    /// This series with `line` and `marker`.
    pub fn styled(self, line: Line, marker: Marker) -> Self {
        Series {
            line,
            marker,
            ..self
        }
    }

    /// This series with error bars (x, low, high).
    pub fn with_intervals(self, intervals: Vec<(f64, f64, f64)>) -> Self {
        Series { intervals, ..self }
    }
}

/// What a labelled point marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkKind {
    /// A reference point, such as the seed's n×n sizes: a black ring and its label.
    Seed,
    /// Where a line meets a wall (the memory budget or a device limit): a bar in the
    /// line's colour, outlined in black, and its label (bytes needed and allowed).
    Wall([u8; 3]),
    /// Where a line stopped for lack of time: a quiet faded ring, its label small and grey.
    Stop([u8; 3]),
}

/// A labelled point such as "n = 16 384: 1.07 GB".
#[derive(Clone, Debug)]
pub struct Mark {
    /// Text beside the point (may be empty).
    pub label: String,
    /// Position.
    pub at: (f64, f64),
    /// What it marks.
    pub kind: MarkKind,
}

impl Mark {
    /// A reference point.
    pub fn seed(label: impl Into<String>, at: (f64, f64)) -> Self {
        Mark {
            label: label.into(),
            at,
            kind: MarkKind::Seed,
        }
    }
}

/// A whole chart.
#[derive(Clone, Debug, Default)]
pub struct ChartSpec {
    /// Title (names the device).
    pub title: String,
    /// X axis description with unit.
    pub x_label: String,
    /// Y axis description with unit.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Horizontal lines: (legend text, y).
    pub limits: Vec<(String, f64)>,
    /// Labelled points.
    pub marks: Vec<Mark>,
}

/// Registers the embedded DejaVu Sans as plotters' "sans-serif". Idempotent; call before
/// drawing (criterion's own charts, when enabled, need it too). The browser's fonts serve
/// without `native`.
#[cfg(feature = "native")]
pub fn register_fonts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

const SIZE: (u32, u32) = (1100, 700);

/// The values a chart's log axes take: far wider than any time, rate or byte count, and
/// far inside f64, so that axis padding can never overflow to infinity.
pub const VALUE_RANGE: (f64, f64) = (1e-30, 1e30);

/// Whether `v` can be drawn on a log axis: finite and within [`VALUE_RANGE`].
pub fn plottable(v: f64) -> bool {
    v.is_finite() && v >= VALUE_RANGE.0 && v <= VALUE_RANGE.1
}

/// Axis tick text: 1 024 → "1k", 2.5e9 → "2.5G".
pub fn si(value: f64) -> String {
    let (v, unit) = match value.abs() {
        a if a >= 1e12 => (value / 1e12, "T"),
        a if a >= 1e9 => (value / 1e9, "G"),
        a if a >= 1e6 => (value / 1e6, "M"),
        a if a >= 1e3 => (value / 1e3, "k"),
        _ => (value, ""),
    };
    let text = if v.abs() >= 100.0 || v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else if v.abs() >= 0.01 || v == 0.0 {
        format!("{v:.2}")
    } else {
        // Two significant digits for small values (0.001 → "0.0010").
        let decimals = (-v.abs().log10()).ceil() as usize + 1;
        format!("{v:.decimals$}")
    };
    format!("{text}{unit}")
}

impl ChartSpec {
    /// The colour, line and marker each series is drawn with: measured series in their own
    /// colour (else the next palette colour no series of the chart has), reference laws in
    /// distinct greys.
    pub fn styles(&self) -> Vec<([u8; 3], Line, Marker)> {
        let taken: Vec<[u8; 3]> = self.series.iter().filter_map(|s| s.color).collect();
        let mut free = PALETTE.iter().copied().filter(|c| !taken.contains(c));
        let mut greys = REFERENCE_GREYS.iter().copied().cycle();
        self.series
            .iter()
            .map(|s| match s.kind {
                SeriesKind::Measured => (
                    s.color.or_else(|| free.next()).unwrap_or([0, 0, 0]),
                    s.line,
                    s.marker,
                ),
                SeriesKind::Reference => (
                    greys.next().unwrap_or([110, 110, 110]),
                    Line::Dashed,
                    Marker::Circle,
                ),
            })
            .collect()
    }

    /// The colours of the horizontal limits, in order.
    pub fn limit_colors(&self) -> Vec<[u8; 3]> {
        self.limits
            .iter()
            .zip(LIMIT_COLORS.iter().cycle())
            .map(|(_, c)| *c)
            .collect()
    }

    /// The legend text of each series: its label, and for a measured series whose line
    /// lies on an earlier one's (every shared x within 5%, at least two of them) a note
    /// naming that line, so that a reader looks for the hidden one.
    pub fn legend_labels(&self) -> Vec<String> {
        let measured = |s: &Series| s.kind == SeriesKind::Measured;
        self.series
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let under = self.series[..i]
                    .iter()
                    .filter(|o| measured(o) && measured(s))
                    .find(|o| coincide(&o.points, &s.points));
                match under {
                    Some(o) => format!("{} (on {}'s line)", s.label, o.label),
                    None => s.label.clone(),
                }
            })
            .collect()
    }

    /// The axis ranges: from every value [`plottable`] (finite, within [`VALUE_RANGE`]),
    /// with room around them; `None` when there is none. Both ends of each range are
    /// finite and positive, so plotters' log axes always end.
    fn extent(&self) -> Option<((f64, f64), (f64, f64))> {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for s in &self.series {
            for &(x, y) in &s.points {
                xs.push(x);
                ys.push(y);
            }
        }
        for s in &self.series {
            ys.extend(s.intervals.iter().flat_map(|&(_, lo, hi)| [lo, hi]));
        }
        for m in &self.marks {
            xs.push(m.at.0);
            ys.push(m.at.1);
        }
        ys.extend(self.limits.iter().map(|l| l.1));
        let keep = |v: &f64| plottable(*v);
        let (xs, ys): (Vec<f64>, Vec<f64>) = (
            xs.into_iter().filter(keep).collect(),
            ys.into_iter().filter(keep).collect(),
        );
        let range = |v: &[f64]| {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(0.0, f64::max);
            (lo, hi)
        };
        if xs.is_empty() || ys.is_empty() {
            return None;
        }
        let ((x0, x1), (y0, y1)) = (range(&xs), range(&ys));
        // Marks carry text to their right: leave room for it.
        let right = if self.marks.is_empty() { 1.3 } else { 3.0 };
        Some(((x0 / 1.3, x1 * right), (y0 / 2.0, y1 * 2.0)))
    }

    /// Why nothing can be drawn, when nothing can: no series at all, or none with a
    /// value a log axis can show.
    pub fn why_empty(&self) -> Option<String> {
        if self.extent().is_some() {
            return None;
        }
        let points: usize = self.series.iter().map(|s| s.points.len()).sum();
        Some(if points == 0 {
            "nothing to plot: no point of it was measured".into()
        } else {
            format!(
                "nothing to plot: none of its {points} points has a positive, finite value \
                 within {:e}–{:e}",
                VALUE_RANGE.0, VALUE_RANGE.1
            )
        })
    }

    /// The chart as SVG text.
    pub fn svg(&self) -> std::result::Result<String, String> {
        #[cfg(feature = "native")]
        register_fonts();
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
            draw::draw(self, &root)?;
            root.present().map_err(|e| format!("{e:?}"))?;
        }
        Ok(text)
    }

    /// Writes `<base>.png` and `<base>.svg`; returns both paths.
    #[cfg(feature = "native")]
    pub fn render(&self, base: &Path) -> Result<Vec<PathBuf>> {
        let png = base.with_extension("png");
        let svg = base.with_extension("svg");
        let fail = |path: &Path, message: String| Error::DataFile {
            path: path.to_path_buf(),
            message: format!("cannot draw chart: {message}"),
        };
        let text = self.svg().map_err(|m| fail(&svg, m))?;
        crate::files::write_atomic(&svg, text.as_bytes())?;

        // Drawn into memory and encoded here, so the PNG goes through the same atomic,
        // umask-respecting write as every other file.
        let (w, h) = SIZE;
        let mut rgb = vec![0u8; w as usize * h as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
            draw::draw(self, &root).map_err(|m| fail(&png, m))?;
            root.present().map_err(|e| fail(&png, format!("{e:?}")))?;
        }
        let mut encoded = Vec::new();
        image::codecs::png::PngEncoder::new(&mut encoded)
            .write_image(&rgb, w, h, image::ColorType::Rgb8)
            .map_err(|e| fail(&png, e.to_string()))?;
        crate::files::write_atomic(&png, &encoded)?;
        Ok(vec![png, svg])
    }
}

/// Whether two lines coincide on a log chart: at least two shared x, and at each the y
/// values within 5% of each other.
fn coincide(a: &[(f64, f64)], b: &[(f64, f64)]) -> bool {
    let shared: Vec<(f64, f64)> = a
        .iter()
        .filter_map(|&(x, ya)| b.iter().find(|p| p.0 == x).map(|&(_, yb)| (ya, yb)))
        .collect();
    shared.len() >= 2
        && shared
            .iter()
            .all(|&(ya, yb)| ya > 0.0 && yb > 0.0 && (ya / yb).ln().abs() < 1.05f64.ln())
}

#[cfg(test)]
mod tests {
    #[test]
    fn si_labels() {
        assert_eq!(super::si(1024.0), "1.0k");
        assert_eq!(super::si(4096.0), "4.1k");
        assert_eq!(super::si(67_108_864.0), "67.1M");
        assert_eq!(super::si(0.5), "0.50");
        assert_eq!(super::si(0.001), "0.0010");
        assert_eq!(super::si(2e9), "2G");
    }

    #[test]
    fn a_line_on_another_says_so_in_the_legend() {
        use super::{ChartSpec, Series};
        let line = vec![(128.0, 20.0), (256.0, 76.0), (512.0, 296.0)];
        let near: Vec<(f64, f64)> = line.iter().map(|&(x, y)| (x, y * 1.02)).collect();
        let chart = ChartSpec {
            series: vec![
                Series::measured("naive", line.clone()),
                Series::measured("chunked", near),
                Series::measured("flash", vec![(128.0, 1.3), (256.0, 1.6)]),
            ],
            ..Default::default()
        };
        assert_eq!(
            chart.legend_labels(),
            ["naive", "chunked (on naive's line)", "flash"]
        );
    }
}
