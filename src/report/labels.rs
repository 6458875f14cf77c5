//! How reports name things: devices, kernels' colours, byte counts and the seed's marks.

use crate::results::ResultsFile;

/// Score-matrix sizes marked on memory charts: (n, label).
pub const WALL_MARKS: [(u32, &str); 3] = [(4096, "67 MB"), (16384, "1.07 GB"), (100_000, "40 GB")];

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
