//! What the browser test demands of a run's outcome: verification passed with every
//! planned check accounted for, and the results — parsed with the native schema — hold
//! measured rows for each swept kernel in both forward families, timed and labelled, with
//! peak buffer bytes that follow each kernel's memory law (naive holds the n×n scores,
//! flash does not).

use attnbench::results::{ResultsFile, RunKind, SCHEMA};
use serde_json::Value;

/// The families the page sweeps for prefill kernels.
pub const FAMILIES: [&str; 2] = ["prefill-d64", "prefill-causal-d64"];

/// Checks the page's verification summary against the `planned` checks of `kernels`.
/// Returns a line saying what passed.
pub fn verification(summary: &Value, kernels: &[&str], planned: usize) -> Result<String, String> {
    let count = |key: &str| summary[key].as_u64().unwrap_or(u64::MAX) as usize;
    let (total, passed, failed, skipped) = (
        count("total"),
        count("passed"),
        count("failed"),
        count("skipped"),
    );
    if total != planned {
        return Err(format!(
            "the page planned {total} checks, the native plan has {planned}"
        ));
    }
    if passed + failed + skipped != total {
        return Err(format!(
            "{passed} passed + {failed} failed + {skipped} skipped is not {total}"
        ));
    }
    if failed != 0 {
        return Err(format!("{failed} checks failed: {}", summary["failures"]));
    }
    for kernel in kernels {
        let tally = summary["kernels"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["kernel"] == *kernel)
            .ok_or_else(|| format!("no verification of {kernel}"))?;
        if tally["passed"].as_u64().unwrap_or(0) == 0 {
            return Err(format!("no check of {kernel} ran: {tally}"));
        }
    }
    Ok(format!(
        "verification: {passed} of {total} checks passed, {skipped} skipped, 0 failed"
    ))
}

/// Checks what the browser's shader compiler said about every module the run compiled:
/// some were compiled, none rejected. Returns a line saying so.
pub fn compiler(report: &Value) -> Result<String, String> {
    let modules = report["modules"].as_u64().unwrap_or(0);
    let errors: Vec<&str> = report["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let warnings = report["warnings"].as_array().map_or(0, Vec::len);
    if report.is_null() || modules == 0 {
        return Err(format!(
            "the page reported no shader modules compiled: {report}"
        ));
    }
    if !errors.is_empty() {
        return Err(format!(
            "the browser's shader compiler rejected {} of {modules} modules:\n{}",
            errors.len(),
            errors.join("\n")
        ));
    }
    Ok(format!(
        "shader compiler: {modules} modules ({} pipelines) compiled, 0 errors, {warnings} warnings",
        report["pipelines"].as_u64().unwrap_or(0)
    ))
}

/// Checks the results file: schema, device, run record, rows. Returns a line per family
/// and kernel.
pub fn results(text: &str, kernels: &[&str]) -> Result<Vec<String>, String> {
    let file: ResultsFile = serde_json::from_str(text)
        .map_err(|e| format!("results do not parse with the native schema: {e}"))?;
    if file.schema != SCHEMA {
        return Err(format!("schema {:?}, expected {SCHEMA:?}", file.schema));
    }
    if file.device.backend != "WebGPU" || file.device.adapter.trim().is_empty() {
        return Err(format!("device header {:?}", file.device));
    }
    let [run] = file.runs.as_slice() else {
        return Err(format!(
            "expected one run record, found {}",
            file.runs.len()
        ));
    };
    if run.kind != RunKind::Web || run.finished.is_none() {
        return Err(format!("run record {run:?}"));
    }
    if let Some(row) = file
        .rows
        .iter()
        .find(|r| r.run_id.as_deref() != Some(&run.id))
    {
        return Err(format!(
            "row {:?}/{} n={} does not name the run",
            row.family, row.kernel, row.seq_len
        ));
    }
    let mut lines = vec![format!(
        "results: {} rows from {} on {} ({}), run {}",
        file.rows.len(),
        file.device.adapter,
        file.device.backend,
        file.device.slug(),
        run.id
    )];
    for family in FAMILIES {
        for &kernel in kernels {
            lines.push(kernel_line(&file, family, kernel)?);
        }
    }
    Ok(lines)
}

/// The measured rows of one kernel in one family, checked; and the law its peak bytes
/// follow.
fn kernel_line(file: &ResultsFile, family: &str, kernel: &str) -> Result<String, String> {
    let rows: Vec<_> = file
        .rows
        .iter()
        .filter(|r| r.family == family && r.kernel == kernel)
        .collect();
    let measured: Vec<_> = rows.iter().filter(|r| r.is_ok()).collect();
    let what = format!("{kernel} in {family}");
    if measured.len() < 3 {
        let reasons: Vec<&str> = rows.iter().map(|r| r.reason.as_str()).collect();
        return Err(format!(
            "{what}: {} measured points, at least 3 wanted (skips: {reasons:?})",
            measured.len()
        ));
    }
    let mut points = Vec::new();
    for r in &measured {
        let at = format!("{what} at n = {}", r.seq_len);
        let (Some(ms), Some(gflops), Some(peak), Some(timing)) =
            (r.median_ms, r.gflops, r.peak_buffer_bytes, r.timing)
        else {
            return Err(format!(
                "{at}: a measured row without time, GFLOP/s, bytes or timing source"
            ));
        };
        if !(ms > 0.0 && gflops > 0.0 && r.samples >= 3) {
            return Err(format!(
                "{at}: {ms} ms, {gflops} GFLOP/s from {} samples ({timing})",
                r.samples
            ));
        }
        // Q, K, V and O in f32 at the least.
        let io =
            4 * 4 * u64::from(r.seq_len) * u64::from(r.head_dim) * u64::from(r.batch * r.heads);
        if peak < io {
            return Err(format!(
                "{at}: peak {peak} bytes is below Q, K, V and O ({io} bytes)"
            ));
        }
        points.push((f64::from(r.seq_len), peak as f64));
    }
    let bh = f64::from(measured[0].batch * measured[0].heads);
    let law = memory_law(kernel, &points, bh).map_err(|e| format!("{what}: {e}"))?;
    Ok(format!(
        "{what}: {} points measured ({}), {law}",
        measured.len(),
        measured[0].timing.map_or("", |t| t.as_str())
    ))
}

/// Whether peak bytes over n follow the kernel's law: a kernel that materializes scores
/// (naive, chunked) holds at least one f32 per score, i.e. grows as n² with a coefficient
/// of at least 4·B·H bytes; any other kernel grows linearly (its n² term is under 1% of
/// its peak at the largest n).
pub fn memory_law(kernel: &str, points: &[(f64, f64)], bh: f64) -> Result<String, String> {
    let (a, b, _) = fit_quadratic(points).ok_or("fewer than 3 distinct n to fit")?;
    let (n_max, peak_max) = points
        .iter()
        .copied()
        .fold((0.0, 0.0), |m, p| if p.0 > m.0 { p } else { m });
    let materializes = attnbench::find_kernel(kernel)
        .map_err(|e| e.to_string())?
        .materializes_scores();
    let quadratic_share = a * n_max * n_max / peak_max;
    if materializes {
        if a < 0.95 * 4.0 * bh {
            return Err(format!(
                "peak bytes ≈ {a:.2}·n² + {b:.0}·n: the n×n f32 scores need at least {}·n²",
                4.0 * bh
            ));
        }
        Ok(format!("peak ≈ {a:.2}·n² + {b:.0}·n bytes (grows as n²)"))
    } else {
        if quadratic_share.abs() > 0.01 || b <= 0.0 {
            return Err(format!(
                "peak bytes ≈ {a:.4}·n² + {b:.0}·n: not linear in n ({:.1}% from n² at n = {n_max})",
                100.0 * quadratic_share
            ));
        }
        Ok(format!("peak ≈ {b:.0}·n bytes (grows as n)"))
    }
}

/// The least-squares fit of y = a·x² + b·x + c, when there are 3 or more distinct x.
pub fn fit_quadratic(points: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let mut xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    if xs.len() < 3 {
        return None;
    }
    // Normal equations in x scaled to its largest value, for conditioning.
    let scale = xs[xs.len() - 1];
    let mut m = [[0.0f64; 4]; 3];
    for &(x, y) in points {
        let x = x / scale;
        let basis = [x * x, x, 1.0];
        for i in 0..3 {
            for j in 0..3 {
                m[i][j] += basis[i] * basis[j];
            }
            m[i][3] += basis[i] * y;
        }
    }
    // Gauss-Jordan with partial pivoting.
    for col in 0..3 {
        let pivot = (col..3).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        m.swap(col, pivot);
        if m[col][col].abs() < 1e-12 {
            return None;
        }
        for row in 0..3 {
            if row != col {
                let f = m[row][col] / m[col][col];
                let pivot_row = m[col];
                for (x, p) in m[row].iter_mut().zip(pivot_row).skip(col) {
                    *x -= f * p;
                }
            }
        }
    }
    let solve = |i: usize| m[i][3] / m[i][i];
    Some((solve(0) / (scale * scale), solve(1) / scale, solve(2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn law(f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
        [128.0, 256.0, 512.0]
            .into_iter()
            .map(|n| (n, f(n)))
            .collect()
    }

    #[test]
    fn the_fit_recovers_a_quadratic() {
        let (a, b, c) = fit_quadratic(&law(|n| 4.0 * n * n + 1024.0 * n + 80.0)).unwrap();
        assert!((a - 4.0).abs() < 1e-9 && (b - 1024.0).abs() < 1e-6 && (c - 80.0).abs() < 1e-3);
        assert!(fit_quadratic(&[(1.0, 1.0), (2.0, 2.0), (2.0, 3.0)]).is_none());
    }

    #[test]
    fn naive_must_hold_the_scores_and_flash_must_not() {
        // Q, K, V, O at d = 64 (1024·n bytes) plus the scores.
        let naive = law(|n| 4.0 * n * n + 1024.0 * n + 256.0);
        let flash = law(|n| 1032.0 * n + 256.0);
        assert!(memory_law("naive", &naive, 1.0).is_ok());
        assert!(memory_law("flash", &flash, 1.0).is_ok());
        // Swapped, both fail: flash with a score matrix, naive without one.
        assert!(memory_law("flash", &naive, 1.0).is_err());
        assert!(memory_law("naive", &flash, 1.0).is_err());
        // Naive holding half the scores (f16, or half the rows) is not the law either.
        assert!(memory_law("naive", &law(|n| 2.0 * n * n + 1024.0 * n), 1.0).is_err());
    }

    #[test]
    fn verification_must_account_for_every_planned_check() {
        let summary = serde_json::json!({
            "total": 10, "passed": 9, "failed": 0, "skipped": 1, "failures": [],
            "kernels": [{"kernel": "naive", "passed": 5}, {"kernel": "flash", "passed": 4}],
        });
        assert!(verification(&summary, &["naive", "flash"], 10).is_ok());
        assert!(verification(&summary, &["naive", "flash"], 12).is_err());
        let mut failed = summary.clone();
        failed["failed"] = 1.into();
        failed["passed"] = 8.into();
        assert!(verification(&failed, &["naive", "flash"], 10).is_err());
        let mut idle = summary.clone();
        idle["kernels"][1]["passed"] = 0.into();
        assert!(verification(&idle, &["naive", "flash"], 10).is_err());
    }
}
