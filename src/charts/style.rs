//! How chart elements look: line styles and point markers (so that two series that
//! coincide stay distinguishable where colours alone would hide one under the other), the
//! palettes of series, limits and reference laws, and the marker glyphs.

use plotters::prelude::*;

/// How a line is stroked: one per kernel in a device's charts, one per device in
/// comparisons.
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

/// The point marker of a measured line: one per kernel.
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
    /// Diamond.
    Diamond,
    /// Hollow circle.
    Ring,
}

/// The line style of the `i`-th device of a comparison (the kernels keep their colours
/// and markers).
pub fn device_line(i: usize) -> Line {
    const LINES: [Line; 4] = [Line::Solid, Line::Dashed, Line::Dotted, Line::ShortDashed];
    LINES[i % LINES.len()]
}

/// The line style and marker of the `i`-th registered kernel in a device's charts: every
/// kernel its own marker, and kernels next to each other in the registry (naive and
/// chunked, whose lines can coincide) different dashes. [`Line::Dotted`] is left for a
/// kernel's companion lines (e.g. its full causal line beside a sliding window).
pub fn kernel_style(i: usize) -> (Line, Marker) {
    const STYLES: [(Line, Marker); 6] = [
        (Line::Solid, Marker::Circle),
        (Line::Dashed, Marker::Triangle),
        (Line::Solid, Marker::Square),
        (Line::ShortDashed, Marker::Diamond),
        (Line::Dashed, Marker::Cross),
        (Line::Solid, Marker::Ring),
    ];
    STYLES[i % STYLES.len()]
}

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
pub(super) const LIMIT_COLORS: [[u8; 3]; 6] = [
    [0, 0, 0],
    [128, 0, 0],
    [0, 0, 128],
    [85, 107, 47],
    [139, 0, 139],
    [101, 67, 33],
];

/// Greys of reference laws, one per law of a chart.
pub(super) const REFERENCE_GREYS: [[u8; 3]; 4] = [
    [110, 110, 110],
    [160, 160, 160],
    [70, 70, 70],
    [190, 190, 190],
];

/// The plotters colour of `c`.
pub(super) fn rgb(c: [u8; 3]) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

/// `c` lightened halfway to white: the quiet colour of a line's time-budget stop.
pub(super) fn faded(c: [u8; 3]) -> [u8; 3] {
    c.map(|v| v / 2 + 128)
}

/// A marker element centred on the backend coordinate `at` (pixels, relative to its anchor).
pub(super) fn marker_at<DB: DrawingBackend>(
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
        Marker::Diamond => {
            Polygon::new(vec![(x, y - 5), (x + 5, y), (x, y + 5), (x - 5, y)], fill).into_dyn()
        }
        Marker::Ring => Circle::new((x, y), 4, color.stroke_width(2)).into_dyn(),
    }
}
