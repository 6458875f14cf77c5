//! Report charts with plotters: log-log lines per series, dashed reference laws, labelled
//! marks and horizontal limits; written as PNG and SVG (atomically). Text uses DejaVu Sans
//! embedded through the `dejavu` crate, so charts render on machines with no fonts.

#[cfg(feature = "native")]
use crate::error::{Error, Result};
#[cfg(feature = "native")]
use image::ImageEncoder as _;
use plotters::coord::Shift;
use plotters::prelude::*;
#[cfg(feature = "native")]
use std::path::{Path, PathBuf};

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesKind {
    /// Measured points: solid line with dots.
    Measured,
    /// A growth law or model: dashed line, no dots.
    Reference,
}

/// How a line is stroked: in comparisons, one style per device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Line {
    /// Unbroken.
    #[default]
    Solid,
    /// Long dashes.
    Dashed,
    /// Dots.
    Dotted,
    /// Short dashes.
    ShortDashed,
}

/// The point marker of a measured line: in comparisons, one per device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Marker {
    /// Filled circle.
    #[default]
    Circle,
    /// Triangle.
    Triangle,
    /// Square.
    Square,
    /// Cross.
    Cross,
}

/// The line style and marker of the `i`-th device of a comparison.
pub fn device_style(i: usize) -> (Line, Marker) {
    const STYLES: [(Line, Marker); 4] = [
        (Line::Solid, Marker::Circle),
        (Line::Dashed, Marker::Triangle),
        (Line::Dotted, Marker::Square),
        (Line::ShortDashed, Marker::Cross),
    ];
    STYLES[i % STYLES.len()]
}

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// (x, y) points, x ascending; non-positive values are dropped (log axes).
    pub points: Vec<(f64, f64)>,
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

    /// This series in the line style and marker of device `i` ([`device_style`]).
    pub fn device(self, i: usize) -> Self {
        let (line, marker) = device_style(i);
        Series {
            line,
            marker,
            ..self
        }
    }
}

/// A labelled point such as "n = 16 384: 1.07 GB".
#[derive(Clone, Debug)]
pub struct Mark {
    /// Text beside the point.
    pub label: String,
    /// Position.
    pub at: (f64, f64),
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

/// Colours of measured series: the kernels' in registry order (`report::kernel_color`),
/// and for series without a colour of their own the next one no series of the chart has.
pub const PALETTE: [[u8; 3]; 9] = [
    [31, 119, 180],
    [214, 39, 40],
    [44, 160, 44],
    [255, 127, 14],
    [148, 103, 189],
    [23, 190, 207],
    [227, 119, 194],
    [140, 86, 75],
    [188, 189, 34],
];

/// Colours of horizontal limits (memory budget, binding size, peaks): dark, and none of
/// them in [`PALETTE`], so a limit never looks like a kernel.
const LIMIT_COLORS: [[u8; 3]; 6] = [
    [0, 0, 0],
    [128, 0, 0],
    [0, 0, 128],
    [85, 107, 47],
    [139, 0, 139],
    [101, 67, 33],
];

/// Greys of reference laws, one per law of a chart.
const REFERENCE_GREYS: [[u8; 3]; 4] = [
    [110, 110, 110],
    [160, 160, 160],
    [70, 70, 70],
    [190, 190, 190],
];

fn rgb(c: [u8; 3]) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
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
    } else {
        format!("{v:.2}")
    };
    format!("{text}{unit}")
}

/// A marker element centred on the backend coordinate `at` (pixels, relative to its anchor).
fn marker_at<DB: DrawingBackend>(
    at: (i32, i32),
    marker: Marker,
    color: RGBColor,
) -> DynElement<'static, DB, (i32, i32)> {
    let (x, y) = at;
    let fill = color.filled();
    match marker {
        Marker::Circle => Circle::new((x, y), 3, fill).into_dyn(),
        Marker::Triangle => TriangleMarker::new((x, y), 5, fill).into_dyn(),
        Marker::Square => Rectangle::new([(x - 3, y - 3), (x + 3, y + 3)], fill).into_dyn(),
        Marker::Cross => Cross::new((x, y), 4, color.stroke_width(2)).into_dyn(),
    }
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

    /// Every finite positive value, for the axis ranges.
    fn extent(&self) -> Option<((f64, f64), (f64, f64))> {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for s in &self.series {
            for &(x, y) in &s.points {
                xs.push(x);
                ys.push(y);
            }
        }
        for m in &self.marks {
            xs.push(m.at.0);
            ys.push(m.at.1);
        }
        ys.extend(self.limits.iter().map(|l| l.1));
        let keep = |v: &f64| v.is_finite() && *v > 0.0;
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

    /// The chart as SVG text.
    pub fn svg(&self) -> std::result::Result<String, String> {
        #[cfg(feature = "native")]
        register_fonts();
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
            self.draw(&root)?;
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
            self.draw(&root).map_err(|m| fail(&png, m))?;
            root.present().map_err(|e| fail(&png, format!("{e:?}")))?;
        }
        let mut encoded = Vec::new();
        image::codecs::png::PngEncoder::new(&mut encoded)
            .write_image(&rgb, w, h, image::ColorType::Rgb8)
            .map_err(|e| fail(&png, e.to_string()))?;
        crate::files::write_atomic(&png, &encoded)?;
        Ok(vec![png, svg])
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("{e:?}");
        root.fill(&WHITE).map_err(err)?;
        let Some(((x0, x1), (y0, y1))) = self.extent() else {
            root.draw(&Text::new(
                format!("{}: no data", self.title),
                (20, 20),
                ("sans-serif", 20).into_font(),
            ))
            .map_err(err)?;
            return Ok(());
        };
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 22).into_font())
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&|v| si(*v))
            .y_label_formatter(&|v| si(*v))
            .axis_desc_style(("sans-serif", 16))
            .label_style(("sans-serif", 13))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;

        for (series, (color, line, marker)) in self.series.iter().zip(self.styles()) {
            let points: Vec<(f64, f64)> = series
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite() && *x > 0.0 && *y > 0.0)
                .collect();
            if points.is_empty() {
                continue;
            }
            let color = rgb(color);
            let width = if series.kind == SeriesKind::Measured {
                2
            } else {
                1
            };
            let style = color.stroke_width(width);
            let drawn = match line {
                Line::Solid => chart.draw_series(LineSeries::new(points.clone(), style)),
                Line::Dashed => {
                    chart.draw_series(DashedLineSeries::new(points.clone(), 8, 5, style))
                }
                Line::Dotted => {
                    chart.draw_series(DashedLineSeries::new(points.clone(), 2, 4, style))
                }
                Line::ShortDashed => {
                    chart.draw_series(DashedLineSeries::new(points.clone(), 4, 3, style))
                }
            }
            .map_err(err)?;
            if series.kind == SeriesKind::Measured {
                drawn.label(&series.label).legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (24, 0)], style)
                        + marker_at::<DB>((12, 0), marker, color)
                });
                chart
                    .draw_series(
                        points
                            .iter()
                            .map(|&p| EmptyElement::at(p) + marker_at::<DB>((0, 0), marker, color)),
                    )
                    .map_err(err)?;
            } else {
                drawn
                    .label(&series.label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
            }
        }
        for ((label, y), color) in self.limits.iter().zip(LIMIT_COLORS.iter().cycle()) {
            let style = rgb(*color).stroke_width(2);
            chart
                .draw_series(LineSeries::new(vec![(x0, *y), (x1, *y)], style))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        }
        for mark in &self.marks {
            // The text sits above and right of its circle, never on it.
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at(mark.at)
                        + Circle::new((0, 0), 5, BLACK.stroke_width(2))
                        + Text::new(mark.label.clone(), (9, -20), ("sans-serif", 13).into_font()),
                ))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn si_labels() {
        assert_eq!(super::si(1024.0), "1.0k");
        assert_eq!(super::si(4096.0), "4.1k");
        assert_eq!(super::si(67_108_864.0), "67.1M");
        assert_eq!(super::si(0.5), "0.50");
        assert_eq!(super::si(2e9), "2G");
    }
}
