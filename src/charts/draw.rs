//! Drawing a [`ChartSpec`] with plotters on any backend: the log-log mesh, the series (in
//! their line styles, with markers and error bars), the horizontal limits, the marks (the
//! seed's sizes, walls, time stops) and the legend.

use super::style::{LIMIT_COLORS, faded, marker_at, rgb};
use super::ticks::{x_tick_label, x_ticks};
use super::{ChartSpec, Line, Mark, MarkKind, SeriesKind, plottable, si};
use crate::markdown::chart_label;
use plotters::coord::Shift;
use plotters::coord::combinators::WithKeyPoints;
use plotters::element::DashedPathElement;
use plotters::prelude::*;

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<WithKeyPoints<LogCoord<f64>>, LogCoord<f64>>>;
type Drawn = std::result::Result<(), String>;

/// The size of tick labels and marks' text: plotters draws a size s as s / 1.24 px, so 14
/// is 11.3 px in the 1100-px-wide chart (13 was 10.5; a time stop's 11 was 8.9).
const TEXT: u32 = 14;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Draws `spec` on `root`.
pub(super) fn draw<DB: DrawingBackend>(spec: &ChartSpec, root: &DrawingArea<DB, Shift>) -> Drawn {
    root.fill(&WHITE).map_err(err)?;
    let Some(((x0, x1), (y0, y1))) = spec.extent() else {
        let why = spec.why_empty().unwrap_or_default();
        for (i, line) in [chart_label(&spec.title), why].into_iter().enumerate() {
            root.draw(&Text::new(
                line,
                (20, 20 + 30 * i as i32),
                ("sans-serif", 20).into_font(),
            ))
            .map_err(err)?;
        }
        return Ok(());
    };
    let mut chart = ChartBuilder::on(root)
        .caption(chart_label(&spec.title), ("sans-serif", 22).into_font())
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (x0..x1)
                .log_scale()
                .with_key_points(x_ticks(spec, (x0, x1))),
            (y0..y1).log_scale(),
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(chart_label(&spec.x_label))
        .y_desc(chart_label(&spec.y_label))
        .x_label_formatter(&|v| x_tick_label(*v))
        .y_label_formatter(&|v| si(*v))
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", TEXT))
        .y_max_light_lines(0)
        .draw()
        .map_err(err)?;
    draw_series(spec, &mut chart)?;
    draw_limits(spec, &mut chart, (x0, x1))?;
    for mark in &spec.marks {
        draw_mark(mark, &mut chart)?;
    }
    mark_legend(spec, &mut chart)?;
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

/// Dash and gap lengths of a line style in pixels; `None` for solid.
fn dashes(line: Line) -> Option<(i32, i32)> {
    match line {
        Line::Solid => None,
        Line::Dashed => Some((8, 5)),
        Line::Dotted => Some((2, 4)),
        Line::ShortDashed => Some((4, 3)),
    }
}

/// A stroke through backend coordinates in `line`'s style (legend samples).
fn stroke<DB: DrawingBackend>(
    points: Vec<(i32, i32)>,
    line: Line,
    style: ShapeStyle,
) -> DynElement<'static, DB, (i32, i32)> {
    match dashes(line) {
        None => PathElement::new(points, style).into_dyn(),
        Some((size, gap)) => DashedPathElement::new(points, size, gap, style).into_dyn(),
    }
}

/// Every series: its line, markers and error bars, and its legend entry.
fn draw_series<'a, DB: DrawingBackend + 'a>(spec: &ChartSpec, chart: &mut Chart<'a, DB>) -> Drawn {
    let labels = spec.legend_labels();
    for ((series, (color, line, marker)), label) in
        spec.series.iter().zip(spec.styles()).zip(labels)
    {
        let points: Vec<(f64, f64)> = series
            .points
            .iter()
            .copied()
            .filter(|&(x, y)| plottable(x) && plottable(y))
            .collect();
        if points.is_empty() {
            continue;
        }
        let color = rgb(color);
        let measured = series.kind == SeriesKind::Measured;
        let style = color.stroke_width(if measured { 2 } else { 1 });
        let drawn = match dashes(line) {
            None => chart.draw_series(LineSeries::new(points.clone(), style)),
            Some((size, gap)) => {
                chart.draw_series(DashedLineSeries::new(points.clone(), size, gap, style))
            }
        }
        .map_err(err)?;
        if !measured {
            drawn.label(chart_label(&label)).legend(move |(x, y)| {
                EmptyElement::at((x, y)) + stroke::<DB>(vec![(0, 0), (24, 0)], line, style)
            });
            continue;
        }
        drawn.label(chart_label(&label)).legend(move |(x, y)| {
            EmptyElement::at((x, y))
                + stroke::<DB>(vec![(0, 0), (24, 0)], line, style)
                + marker_at::<DB>((12, 0), marker, color)
        });
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&p| EmptyElement::at(p) + marker_at::<DB>((0, 0), marker, color)),
            )
            .map_err(err)?;
        draw_intervals(&series.intervals, color, chart)?;
    }
    Ok(())
}

/// Error bars: a vertical stroke from low to high with short caps.
fn draw_intervals<'a, DB: DrawingBackend + 'a>(
    intervals: &[(f64, f64, f64)],
    color: RGBColor,
    chart: &mut Chart<'a, DB>,
) -> Drawn {
    let style = color.stroke_width(1);
    let valid: Vec<(f64, f64, f64)> = intervals
        .iter()
        .copied()
        .filter(|&(x, lo, hi)| plottable(x) && plottable(lo) && plottable(hi) && lo <= hi)
        .collect();
    chart
        .draw_series(
            valid
                .iter()
                .map(|&(x, lo, hi)| PathElement::new(vec![(x, lo), (x, hi)], style)),
        )
        .map_err(err)?;
    chart
        .draw_series(valid.iter().flat_map(|&(x, lo, hi)| {
            [lo, hi]
                .map(|y| EmptyElement::at((x, y)) + PathElement::new(vec![(-5, 0), (5, 0)], style))
        }))
        .map_err(err)?;
    Ok(())
}

/// Horizontal limits across the whole x range, each in its colour, with legend entries.
fn draw_limits<'a, DB: DrawingBackend + 'a>(
    spec: &ChartSpec,
    chart: &mut Chart<'a, DB>,
    (x0, x1): (f64, f64),
) -> Drawn {
    for ((label, y), color) in spec.limits.iter().zip(LIMIT_COLORS.iter().cycle()) {
        if !plottable(*y) {
            continue;
        }
        let style = rgb(*color).stroke_width(2);
        chart
            .draw_series(LineSeries::new(vec![(x0, *y), (x1, *y)], style))
            .map_err(err)?
            .label(chart_label(label))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
    }
    Ok(())
}

/// One mark and its text: right of the point, or left of it where the text would pass
/// the plot's right edge. A wall's label takes two lines above its bar (what was needed;
/// what is allowed), clear of the legend and of the seed's marks on the n² law below it.
fn draw_mark<'a, DB: DrawingBackend + 'a>(mark: &Mark, chart: &mut Chart<'a, DB>) -> Drawn {
    if !(plottable(mark.at.0) && plottable(mark.at.1)) {
        return Ok(());
    }
    let label = chart_label(&mark.label);
    let (px, _) = chart.backend_coord(&mark.at);
    let right_edge = chart.plotting_area().get_pixel_range().0.end;
    let size = TEXT;
    let (first, second) = match mark.kind {
        MarkKind::Wall(_) => match label.rsplit_once(", ") {
            Some((a, b)) => (a.to_string(), b.to_string()),
            None => (label.clone(), String::new()),
        },
        _ => (label.clone(), String::new()),
    };
    // DejaVu Sans averages about half an em per character.
    let chars = first.chars().count().max(second.chars().count());
    let text_width = (chars as f64 * f64::from(size) * 0.55) as i32;
    let dx = |gap: i32| {
        if px + gap + text_width > right_edge {
            -gap - text_width
        } else {
            gap
        }
    };
    let font = ("sans-serif", size).into_font();
    match mark.kind {
        MarkKind::Seed => chart.draw_series(std::iter::once(
            EmptyElement::at(mark.at)
                + Circle::new((0, 0), 5, BLACK.stroke_width(2))
                + Text::new(first, (dx(9), -20), font),
        )),
        MarkKind::Wall(c) => chart.draw_series(std::iter::once(
            EmptyElement::at(mark.at)
                + Rectangle::new([(-4, -11), (4, 11)], rgb(c).filled())
                + Rectangle::new([(-4, -11), (4, 11)], BLACK.stroke_width(2))
                + Text::new(first, (dx(6), -44), font.color(&BLACK))
                + Text::new(second, (dx(6), -28), font.color(&BLACK)),
        )),
        MarkKind::Stop(c) => chart.draw_series(std::iter::once(
            EmptyElement::at(mark.at)
                + Circle::new((0, 0), 6, rgb(faded(c)).stroke_width(1))
                + Text::new(first, (dx(9), 4), font.color(&RGBColor(130, 130, 130))),
        )),
    }
    .map_err(err)?;
    Ok(())
}

/// Legend entries for the kinds of line ends the chart marks (once each).
fn mark_legend<'a, DB: DrawingBackend + 'a>(spec: &ChartSpec, chart: &mut Chart<'a, DB>) -> Drawn {
    let has = |f: fn(&MarkKind) -> bool| spec.marks.iter().any(|m| f(&m.kind));
    let none = || Vec::<PathElement<(f64, f64)>>::new();
    if has(|k| matches!(k, MarkKind::Wall(_))) {
        chart
            .draw_series(none())
            .map_err(err)?
            .label("line ends at a wall: memory budget or device limit")
            .legend(|(x, y)| {
                EmptyElement::at((x + 12, y))
                    + Rectangle::new([(-3, -7), (3, 7)], RGBColor(90, 90, 90).filled())
                    + Rectangle::new([(-3, -7), (3, 7)], BLACK.stroke_width(1))
            });
    }
    if has(|k| matches!(k, MarkKind::Stop(_))) {
        chart
            .draw_series(none())
            .map_err(err)?
            .label("line stopped for lack of time (time budget)")
            .legend(|(x, y)| Circle::new((x + 12, y), 6, RGBColor(150, 150, 150).stroke_width(1)));
    }
    Ok(())
}
