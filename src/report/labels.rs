//! How reports name things: devices, kernels' colours and line styles, byte counts, walls
//! and the seed's marks.

use crate::charts::{Line, Marker};
use crate::results::{ResultRow, ResultsFile};

/// Score-matrix sizes marked on memory charts: (n, label).
pub const WALL_MARKS: [(u32, &str); 3] = [
    (crate::sweep::MARK_SEQ_LEN, "67 MB"),
    (16384, "1.07 GB"),
    (100_000, "40 GB"),
];

/// `1234567` → `1.18 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

/// The chart colour of the registered kernel `name`: the chart palette in registry order
/// (naive blue, chunked red, flash green, …), the same in every chart; `None` for names not
/// registered.
pub fn kernel_color(name: &str) -> Option<[u8; 3]> {
    let palette = crate::charts::PALETTE;
    crate::kernels::kernel_index(name).map(|i| palette[i % palette.len()])
}

/// The line style and marker of the registered kernel `name` in a device's charts
/// ([`crate::charts::kernel_style`] in registry order); solid circles for names not
/// registered.
pub fn kernel_style(name: &str) -> (Line, Marker) {
    crate::kernels::kernel_index(name)
        .map(crate::charts::kernel_style)
        .unwrap_or_default()
}

/// The label of the wall a row of `kernel` was refused at (`Skip::wall`): "naive: 2.03 GiB
/// needed at n = 16384, budget 2.00 GiB"; `None` when the row is not a wall.
pub fn wall_label(kernel: &str, row: &ResultRow) -> Option<String> {
    Some(format!("{kernel}: {}", wall_text(row)?))
}

/// What a row's wall says: "2.03 GiB needed at n = 16384, budget 2.00 GiB".
pub(super) fn wall_text(row: &ResultRow) -> Option<String> {
    let (_, needed, allowed, limit) = row.skip.as_ref()?.wall()?;
    let x = match row.axis {
        crate::results::Axis::SeqLen => format!("n = {}", row.seq_len),
        crate::results::Axis::HeadDim => format!("d = {}", row.head_dim),
    };
    // Counts, not bytes, for the one limit on workgroups.
    if limit.counts_workgroups() {
        return Some(format!(
            "{needed} workgroups needed at {x}, {limit} {allowed}"
        ));
    }
    Some(format!(
        "{} needed at {x}, {} {}",
        human_bytes(needed),
        limit.short(),
        human_bytes(allowed)
    ))
}

/// Why a line went no further, in a few words: the wall's text, "time budget", or the
/// kind of skip (rows written before skips were typed: "skipped").
pub(super) fn short_reason(row: &ResultRow) -> String {
    fn words(skip: &crate::results::Skip) -> &'static str {
        use crate::results::Skip;
        match skip {
            Skip::Unsupported { .. } => "unsupported",
            Skip::InvalidShape { .. } => "invalid shape",
            Skip::DeviceFailure { .. } => "device failure",
            Skip::Unverified { .. } => "not verified",
            Skip::TooLarge { .. } => "too large",
            Skip::AfterWall { cause, .. } => words(cause),
            Skip::PredictedPastRunBudget { .. }
            | Skip::RunBudgetExceeded { .. }
            | Skip::SweepBudget { .. } => "time budget",
        }
    }
    match &row.skip {
        Some(_) if wall_text(row).is_some() => wall_text(row).unwrap_or_default(),
        Some(skip) => words(skip).into(),
        None => "skipped".into(),
    }
}

/// `adapter (backend)`: how a device is named in full.
pub fn device_title(file: &ResultsFile) -> String {
    format!("{} ({})", file.device.adapter, file.device.backend)
}

/// Short names of the devices for legends and column headers: the adapter's name up to its
/// first parenthesis, and the backend (`llvmpipe Vulkan`, `NVIDIA H200 Vulkan`); the full
/// names where the short ones would coincide.
pub fn short_device_labels(files: &[&ResultsFile]) -> Vec<String> {
    let short: Vec<String> = files
        .iter()
        .map(|f| {
            let name = f.device.adapter.split('(').next().unwrap_or("").trim();
            let name = if name.is_empty() {
                &f.device.adapter
            } else {
                name
            };
            format!("{name} {}", f.device.backend)
        })
        .collect();
    let unique = short
        .iter()
        .enumerate()
        .all(|(i, a)| short.iter().skip(i + 1).all(|b| a != b));
    if unique {
        return short;
    }
    let full: Vec<String> = files.iter().map(|f| device_title(f)).collect();
    let unique = full
        .iter()
        .enumerate()
        .all(|(i, a)| full.iter().skip(i + 1).all(|b| a != b));
    if unique {
        full
    } else {
        // One device's results from two folders: told apart by their order.
        short
            .into_iter()
            .enumerate()
            .map(|(i, s)| format!("{s} #{}", i + 1))
            .collect()
    }
}
