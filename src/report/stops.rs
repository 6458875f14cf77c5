//! Where each kernel's line stops, and why, drawn rather than implied: a line that ends at
//! a wall (the memory budget or a device limit, `Skip::wall`) ends in a wall mark labelled
//! with the bytes needed and allowed; a line that stopped for lack of time ends in a
//! quieter mark. On memory charts the marks sit where the bytes are known (the bytes the
//! skipped point would need); on time charts at the line's last measured point.

use super::family::{Family, x_of};
use super::labels::{kernel_color, wall_label};
use crate::charts::{Mark, MarkKind};
use crate::results::ResultRow;

/// How one kernel's line ends on one device.
pub(super) struct LineEnd<'a> {
    /// The last measured row.
    pub(super) last: &'a ResultRow,
    /// The point right after it, when that was skipped for lack of time.
    pub(super) time: Option<&'a ResultRow>,
    /// The first point after it refused at a wall, if any.
    pub(super) wall: Option<&'a ResultRow>,
}

/// How `kernel`'s line ends in `rows` (one family on one device); `None` when nothing of
/// it was measured.
pub(super) fn line_end<'a>(
    rows: impl Iterator<Item = &'a ResultRow>,
    kernel: &str,
) -> Option<LineEnd<'a>> {
    let mut rows: Vec<&ResultRow> = rows.filter(|r| r.kernel == kernel).collect();
    rows.sort_by(|a, b| x_of(a).total_cmp(&x_of(b)));
    let last_ok = rows.iter().rposition(|r| r.is_ok())?;
    let after = &rows[last_ok + 1..];
    Some(LineEnd {
        last: rows[last_ok],
        time: after
            .first()
            .copied()
            .filter(|r| r.skip.as_ref().is_some_and(|s| s.is_lack_of_time())),
        wall: after
            .iter()
            .copied()
            .find(|r| matches!(r.skip, Some(crate::results::Skip::TooLarge { .. }))),
    })
}

/// The wall mark of `row` (a point of `kernel` refused at a wall) at `at`, labelled with
/// its bytes; `prefix` names the device in comparisons.
fn wall_mark(kernel: &str, row: &ResultRow, at: (f64, f64), prefix: &str) -> Option<Mark> {
    Some(Mark {
        label: format!("{prefix}{}", wall_label(kernel, row)?),
        at,
        kind: MarkKind::Wall(kernel_color(kernel).unwrap_or([0, 0, 0])),
    })
}

fn stop_mark(kernel: &str, at: (f64, f64)) -> Mark {
    Mark {
        label: String::new(),
        at,
        kind: MarkKind::Stop(kernel_color(kernel).unwrap_or([0, 0, 0])),
    }
}

/// Marks for a memory chart: for each kernel, the point it stopped at for lack of time
/// (quiet) and the wall its line ended at (labelled), each at the bytes that point would
/// need. A kernel that materializes the n×n scores also shows its wall past a time stop:
/// that wall is the one the charts exist to show.
pub(super) fn memory_marks(f: &Family) -> Vec<Mark> {
    let mut marks = Vec::new();
    for device in 0..f.files.len() {
        let prefix = f.prefix(device);
        for kernel in f.kernels(device) {
            let Some(end) = line_end(f.all_rows(device), &kernel) else {
                continue;
            };
            if let Some(r) = end.time.filter(|r| r.needed_bytes > 0) {
                marks.push(stop_mark(&kernel, (x_of(r), r.needed_bytes as f64)));
            }
            let materializes =
                crate::kernels::find_kernel(&kernel).is_ok_and(|k| k.materializes_scores());
            if let Some(r) = end.wall.filter(|_| end.time.is_none() || materializes) {
                // The bytes the wall compares: the whole plan against the budget, or one
                // buffer against a per-buffer limit (whose line the chart also draws).
                let bytes = r
                    .skip
                    .as_ref()
                    .and_then(|s| s.wall())
                    .filter(|w| !w.3.counts_workgroups())
                    .map_or(r.needed_bytes, |w| w.1);
                marks.extend(wall_mark(&kernel, r, (x_of(r), bytes as f64), &prefix));
            }
        }
    }
    marks
}

/// Marks for a chart of `y` (time, rate): each kernel's line ends at its last measured
/// point in a wall mark where the next point was refused at a wall, or a quiet mark where
/// it was skipped for lack of time.
pub(super) fn line_end_marks(f: &Family, y: impl Fn(&ResultRow) -> Option<f64>) -> Vec<Mark> {
    let mut marks = Vec::new();
    for device in 0..f.files.len() {
        let prefix = f.prefix(device);
        for kernel in f.kernels(device) {
            let Some(end) = line_end(f.all_rows(device), &kernel) else {
                continue;
            };
            let Some(at) = y(end.last).map(|y| (x_of(end.last), y)) else {
                continue;
            };
            if end.time.is_some() {
                marks.push(stop_mark(&kernel, at));
            } else if let Some(wall) = end.wall {
                marks.extend(wall_mark(&kernel, wall, at, &prefix));
            }
        }
    }
    marks
}
