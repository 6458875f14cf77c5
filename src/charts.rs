//! Report charts with plotters: log-log lines per series, dashed reference laws, labelled
//! marks and horizontal limits; written as PNG and SVG (atomically). Text uses DejaVu Sans
//! embedded through the `dejavu` crate, so charts render on machines with no fonts.

use crate::error::{Error, Result};
use image::ImageEncoder as _;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesKind {
    /// Measured points: solid line with dots.
    Measured,
    /// A growth law or model: dashed line, no dots.
    Reference,
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
/// drawing (criterion's own charts, when enabled, need it too).
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

fn palette(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
    ];
    COLORS[i % COLORS.len()]
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

impl ChartSpec {
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

    /// Writes `<base>.png` and `<base>.svg`; returns both paths.
    pub fn render(&self, base: &Path) -> Result<Vec<PathBuf>> {
        register_fonts();
        let png = base.with_extension("png");
        let svg = base.with_extension("svg");
        let fail = |path: &Path, message: String| Error::DataFile {
            path: path.to_path_buf(),
            message: format!("cannot draw chart: {message}"),
        };

        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
            self.draw(&root).map_err(|m| fail(&svg, m))?;
            root.present().map_err(|e| fail(&svg, format!("{e:?}")))?;
        }
        crate::results::write_atomic(&svg, text.as_bytes())?;

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
        crate::results::write_atomic(&png, &encoded)?;
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

        let mut measured = 0;
        for series in &self.series {
            let points: Vec<(f64, f64)> = series
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite() && *x > 0.0 && *y > 0.0)
                .collect();
            if points.is_empty() {
                continue;
            }
            match series.kind {
                SeriesKind::Measured => {
                    let color = palette(measured);
                    measured += 1;
                    chart
                        .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                        .map_err(err)?
                        .label(&series.label)
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                        });
                    chart
                        .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                        .map_err(err)?;
                }
                SeriesKind::Reference => {
                    let style = RGBColor(110, 110, 110).stroke_width(1);
                    chart
                        .draw_series(DashedLineSeries::new(points, 6, 4, style))
                        .map_err(err)?
                        .label(&series.label)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                }
            }
        }
        for (i, (label, y)) in self.limits.iter().enumerate() {
            let color = RGBColor(180, 0, 0).mix(0.8 - 0.2 * i as f64);
            let style = color.stroke_width(2);
            chart
                .draw_series(LineSeries::new(vec![(x0, *y), (x1, *y)], style))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        for mark in &self.marks {
            chart
                .draw_series(std::iter::once(Circle::new(
                    mark.at,
                    5,
                    BLACK.stroke_width(2),
                )))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    mark.label.clone(),
                    mark.at,
                    ("sans-serif", 13).into_font(),
                )))
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
