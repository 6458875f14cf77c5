//! Reports generated from results files: the scaling charts of one device, the comparison
//! of several, and the Markdown tables and README that carry them into reports.

mod compare;
mod family_charts;
pub mod manifest;

pub use compare::comparison_markdown;
pub use family_charts::family_charts;

use crate::error::Result;
use crate::markdown::{Align, Table};
use crate::probe::ProbeReport;
use crate::results::{DeviceFolder, DeviceHeader, ResultRow, ResultsFile, refuse_foreign};
use crate::tuning::TuningFile;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Score-matrix sizes marked on memory charts: (n, label).
pub const WALL_MARKS: [(u32, &str); 3] = [(4096, "67 MB"), (16384, "1.07 GB"), (100_000, "40 GB")];

/// Renders every family's charts into `dir`; returns the PNG paths (relative names).
pub fn render_charts(files: &[&ResultsFile], dir: &Path) -> Result<Vec<PathBuf>> {
    let mut families: Vec<String> = Vec::new();
    for f in files {
        for fam in f.families() {
            if !families.contains(&fam) {
                families.push(fam);
            }
        }
    }
    let mut written = Vec::new();
    for family in families {
        for (name, spec) in family_charts(files, &family) {
            written.extend(spec.render(&dir.join(&name))?);
        }
    }
    Ok(written)
}

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

/// The speedup of `r` over naive on the same device and shape, as `12.3×`.
fn speedup_over_naive(file: &ResultsFile, r: &ResultRow) -> String {
    let naive = file.rows.iter().find(|o| {
        o.kernel == "naive" && o.is_ok() && o.family == r.family && o.shape() == r.shape()
    });
    match (naive.and_then(|n| n.median_ms), r.median_ms) {
        (Some(n), Some(t)) if t > 0.0 && r.kernel != "naive" => format!("{:.2}×", n / t),
        _ => String::new(),
    }
}

/// Markdown table of the measured points of one device: time, GFLOP/s, share of the probed
/// peaks, peak bytes and the speedup over naive on the same shape.
pub fn summary_table(file: &ResultsFile) -> String {
    let mut table = Table::new([
        ("family", Align::Left),
        ("kernel", Align::Left),
        ("B·H", Align::Right),
        ("n", Align::Right),
        ("d", Align::Right),
        ("causal", Align::Left),
        ("median ms", Align::Right),
        ("GFLOP/s", Align::Right),
        ("% FMA peak", Align::Right),
        ("GB/s", Align::Right),
        ("% bandwidth", Align::Right),
        ("peak buffer bytes", Align::Right),
        ("× vs naive", Align::Right),
        ("timing", Align::Left),
    ]);
    let fmt = |v: Option<f64>, digits: usize, unit: &str| {
        v.map(|v| format!("{v:.digits$}{unit}")).unwrap_or_default()
    };
    for r in file.rows.iter().filter(|r| r.is_ok()) {
        table.row([
            r.family.clone(),
            r.kernel.clone(),
            (u64::from(r.batch) * u64::from(r.heads)).to_string(),
            r.seq_len.to_string(),
            r.head_dim.to_string(),
            if r.causal { "yes" } else { "no" }.to_string(),
            fmt(r.median_ms, 3, ""),
            fmt(r.gflops, 2, ""),
            fmt(r.pct_of_fma_peak, 1, "%"),
            fmt(r.achieved_gbps, 2, ""),
            fmt(r.pct_of_bandwidth, 1, "%"),
            r.peak_buffer_bytes.map(human_bytes).unwrap_or_default(),
            speedup_over_naive(file, r),
            r.timing.clone(),
        ]);
    }
    table.render()
}

/// Markdown table of how the time of each training family (fwd-bwd, bwd) and kernel grows
/// per doubling of n: every measured ratio t(2n)/t(n) and their geometric mean. Empty when
/// the file has no such pair.
pub fn training_growth(file: &ResultsFile) -> String {
    let mut table = Table::new([
        ("family", Align::Left),
        ("kernel", Align::Left),
        ("n", Align::Left),
        ("× per doubling", Align::Left),
        ("geometric mean", Align::Right),
    ]);
    for family in file.families() {
        let rows: Vec<&ResultRow> = file
            .rows
            .iter()
            .filter(|r| r.family == family && r.is_ok() && r.pass.has_backward())
            .collect();
        let mut kernels: Vec<&str> = rows.iter().map(|r| r.kernel.as_str()).collect();
        kernels.dedup();
        for kernel in kernels {
            let mut points: Vec<(u32, f64)> = rows
                .iter()
                .filter(|r| r.kernel == kernel)
                .filter_map(|r| Some((r.seq_len, r.median_ms?)))
                .collect();
            points.sort_by_key(|p| p.0);
            let ratios: Vec<f64> = points
                .windows(2)
                .filter(|w| w[1].0 == 2 * w[0].0 && w[0].1 > 0.0)
                .map(|w| w[1].1 / w[0].1)
                .collect();
            if ratios.is_empty() {
                continue;
            }
            let mean = ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64;
            table.row([
                family.clone(),
                kernel.to_string(),
                format!(
                    "{}–{}",
                    points.first().map_or(0, |p| p.0),
                    points.last().map_or(0, |p| p.0)
                ),
                ratios
                    .iter()
                    .map(|r| format!("{r:.2}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                format!("**{:.2}×**", mean.exp()),
            ]);
        }
    }
    if table.is_empty() {
        String::new()
    } else {
        table.render()
    }
}

/// The skipped points, one line per family and kernel: where its sweep stopped (or the
/// first point it skipped), why, and how many later points that skipped.
pub fn skipped_list(file: &ResultsFile) -> String {
    let mut out = String::new();
    let mut groups: Vec<(&str, &str, Vec<&ResultRow>)> = Vec::new();
    for r in file.rows.iter().filter(|r| !r.is_ok()) {
        match groups
            .iter_mut()
            .find(|(f, k, _)| *f == r.family && *k == r.kernel)
        {
            Some((_, _, rows)) => rows.push(r),
            None => groups.push((&r.family, &r.kernel, vec![r])),
        }
    }
    for (family, kernel, rows) in groups {
        let first = rows[0];
        let at = match first.axis {
            crate::results::Axis::SeqLen => format!("n={}", first.seq_len),
            crate::results::Axis::HeadDim => format!("d={}", first.head_dim),
        };
        let later = rows.len() - 1;
        let _ = writeln!(
            out,
            "- `{family}` {kernel}: from {at}: {}{}",
            crate::markdown::escape(&first.reason),
            if later > 0 {
                format!(
                    " ({later} later point{} skipped)",
                    if later == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            }
        );
    }
    out
}

/// Checks, before anything is measured, that results of `device` can be written into
/// `folder`: every file already there (results, probe, tuning) is readable, well formed and
/// of the same device, and the folder can be created and written. A run that would fail
/// only at its final write fails here instead, and loses no measurement.
pub fn preflight(folder: &DeviceFolder, device: &DeviceHeader) -> Result<()> {
    if let Some(existing) = folder.load()? {
        refuse_foreign(&folder.json_path(), &existing.device, device, "results")?;
    }
    ProbeReport::load_for(&folder.dir, device)?;
    if let Some(tuning) = TuningFile::load(&folder.dir)? {
        refuse_foreign(
            &TuningFile::path(&folder.dir),
            &tuning.device,
            device,
            "tuning",
        )?;
    }
    folder.check_writable()
}

/// Merges `rows` measured on `device` into `folder` (derived columns from the device's
/// probe, when it has one) and rewrites its charts and README, all under the folder's lock,
/// so that concurrent writers into one folder lose no rows and the README always matches
/// `results.json`.
pub fn save_and_report(
    folder: &DeviceFolder,
    device: DeviceHeader,
    rows: Vec<ResultRow>,
) -> Result<(ResultsFile, Vec<PathBuf>)> {
    let lock = folder.lock()?;
    let ceilings = ProbeReport::load_for(&folder.dir, &device)?.map(|p| p.ceilings());
    let file = folder.merge_and_save(&lock, device, rows, ceilings.as_ref())?;
    let written = write_device_report(&file, &folder.dir)?;
    Ok((file, written))
}

/// Writes the charts and a README.md (header, table, charts, skips) into the device folder,
/// and removes charts of an earlier run that this one no longer draws (so a folder never
/// shows a chart its results do not back; only those its [`manifest`] lists). Callers hold
/// the folder's lock.
pub fn write_device_report(file: &ResultsFile, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut written = render_charts(&[file], dir)?;
    let d = &file.device;
    let mut md = String::new();
    let _ = writeln!(md, "# attnbench results: {} ({})\n", d.adapter, d.backend);
    let _ = writeln!(
        md,
        "Generated by `attnbench plot` from `results.json`; do not edit.\n"
    );
    let mut header_table = Table::new([("", Align::Left), ("", Align::Left)]);
    let rows = [
        ("adapter", d.adapter.clone()),
        ("backend", d.backend.clone()),
        ("device type", d.device_type.clone()),
        ("vendor id", format!("{:#06x}", d.vendor)),
        ("driver", d.driver.clone()),
        (
            "memory budget",
            d.memory_budget_bytes
                .map(human_bytes)
                .unwrap_or_else(|| "unknown".into()),
        ),
        (
            "max storage binding",
            human_bytes(d.max_storage_buffer_binding_size),
        ),
        (
            "wgpu / attnbench",
            format!("{} / {}", d.wgpu_version, d.attnbench_version),
        ),
        (
            "commit",
            d.git_commit.clone().unwrap_or_else(|| "unknown".into()),
        ),
        ("date", d.date.clone()),
        ("os", d.os.clone()),
    ];
    for (k, v) in rows {
        header_table.row([k.to_string(), v]);
    }
    if let Some(c) = &file.ceilings {
        header_table.row([
            "probed ceilings".to_string(),
            format!(
                "f32 FMA {:.1} GFLOP/s, bandwidth {:.1} GB/s, upload {:.2} GB/s, readback {:.2} GB/s (`attnbench probe`)",
                c.fma_f32_gflops, c.bandwidth_gbps, c.upload_gbps, c.readback_gbps
            ),
        ]);
    }
    md.push_str(&header_table.render());
    let _ = writeln!(
        md,
        "\nTimes are medians per run; FLOPs = 4·B·H·n²·d (halved when causal; FlashAttention's \
         convention for training: 2.5× for the backward, 3.5× for fwd-bwd); peak buffer bytes \
         are the high-water mark of every buffer the run created.\n"
    );
    md.push_str(&summary_table(file));
    let growth = training_growth(file);
    if !growth.is_empty() {
        let _ = writeln!(
            md,
            "\n## Training: growth per doubling of n\n\nThe seed's claim: the compute of a \
             training step grows 4× when the context doubles. Measured, per training family \
             and kernel (median time at 2n over the time at n, for each doubling measured; \
             fwd-bwd is a training step of attention, bwd its backward alone, FLOPs 3.5× and \
             2.5× the forward's):\n\n{growth}"
        );
    }
    for family in file.families() {
        let _ = writeln!(md, "\n## {family}\n");
        for (name, _) in family_charts(&[file], &family) {
            let _ = writeln!(md, "![{name}]({name}.png)\n");
        }
    }
    // Reports the suite and the targets bench left in the folder.
    for (name, title) in [("targets.md", "Targets"), ("suite.md", "Suite run")] {
        if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
            let _ = writeln!(md, "\n## {title}\n\n{}", text.trim_end());
        }
    }
    let skipped = skipped_list(file);
    if !skipped.is_empty() {
        let _ = writeln!(md, "\n## Skipped points\n\n{skipped}");
    }
    let readme = dir.join("README.md");
    crate::files::write_atomic(&readme, md.as_bytes())?;
    written.push(readme);
    manifest::replace_charts(dir, &written)?;
    Ok(written)
}

/// Writes comparison charts and `compare.md` (the devices side by side, see
/// [`comparison_markdown`]) for several devices into `out`: a new or empty folder, or one
/// of an earlier comparison (a folder of other files is refused, untouched).
pub fn write_comparison(files: &[&ResultsFile], out: &Path) -> Result<Vec<PathBuf>> {
    manifest::check_ours_or_empty(out, "compare.md")?;
    let mut written = render_charts(files, out)?;
    let mut md = comparison_markdown(files);
    let mut families: Vec<String> = Vec::new();
    for f in files {
        for fam in f.families() {
            if !families.contains(&fam) {
                families.push(fam);
            }
        }
    }
    for family in families {
        let _ = writeln!(md, "\n## {family}\n");
        for (name, _) in family_charts(files, &family) {
            let _ = writeln!(md, "![{name}]({name}.png)\n");
        }
    }
    let path = out.join("compare.md");
    crate::files::write_atomic(&path, md.as_bytes())?;
    written.push(path);
    manifest::replace_charts(out, &written)?;
    Ok(written)
}
