//! What the browser test demands of a run's outcome: verification passed with every
//! check it planned accounted for, and the results hold measured rows for each swept
//! kernel in both forward families, timed and labelled, with peak buffer bytes that follow
//! each kernel's memory law (naive holds the n×n scores, flash does not). The results are
//! read here as JSON; the native `attnbench plot` then loads them with the full schema
//! check ([`crate::browser_test`]).

use crate::native;
use serde_json::Value;

/// The families the page sweeps for prefill kernels.
pub const FAMILIES: [&str; 2] = ["prefill-d64", "prefill-causal-d64"];

/// Checks the page's verification summary: every check it planned passed, failed or was
/// skipped, its per-kernel tallies add up to its totals and name exactly `kernels`, none
/// failed and each kernel passed some. Returns a line saying what passed.
pub fn verification(summary: &Value, kernels: &[&str]) -> Result<String, String> {
    let count = |v: &Value, key: &str| v[key].as_u64().unwrap_or(u64::MAX) as usize;
    let (total, passed, failed, skipped) = (
        count(summary, "total"),
        count(summary, "passed"),
        count(summary, "failed"),
        count(summary, "skipped"),
    );
    if total == 0 || passed + failed + skipped != total {
        return Err(format!(
            "{passed} passed + {failed} failed + {skipped} skipped is not {total}"
        ));
    }
    let tallies = summary["kernels"].as_array().map_or(&[][..], Vec::as_slice);
    let named: Vec<&str> = tallies
        .iter()
        .filter_map(|t| t["kernel"].as_str())
        .collect();
    if named != kernels {
        return Err(format!("the page verified {named:?}, not {kernels:?}"));
    }
    for (key, sum) in [("passed", passed), ("failed", failed), ("skipped", skipped)] {
        let by_kernel: usize = tallies.iter().map(|t| count(t, key)).sum();
        if by_kernel != sum {
            return Err(format!(
                "the kernels' {key} checks add up to {by_kernel}, the summary says {sum}"
            ));
        }
    }
    if failed != 0 {
        return Err(format!("{failed} checks failed: {}", summary["failures"]));
    }
    if let Some(idle) = tallies.iter().find(|t| count(t, "passed") == 0) {
        return Err(format!("no check of {} ran: {idle}", idle["kernel"]));
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
pub fn results(file: &Value, kernels: &[&str]) -> Result<Vec<String>, String> {
    let schema = native::schema();
    if file["schema"] != schema {
        return Err(format!("schema {}, expected {schema:?}", file["schema"]));
    }
    let device = &file["device"];
    let adapter = device["adapter"].as_str().unwrap_or("");
    if device["backend"] != "WebGPU" || adapter.trim().is_empty() {
        return Err(format!("device header {device}"));
    }
    let runs = file["runs"].as_array().map_or(&[][..], Vec::as_slice);
    let [run] = runs else {
        return Err(format!("expected one run record, found {}", runs.len()));
    };
    let Some(run_id) = run["id"].as_str() else {
        return Err(format!("run record without an id: {run}"));
    };
    if run["kind"] != "web" || !run["finished"].is_string() {
        return Err(format!("run record {run}"));
    }
    let rows = file["rows"].as_array().map_or(&[][..], Vec::as_slice);
    if let Some(row) = rows.iter().find(|r| r["run_id"] != run_id) {
        return Err(format!(
            "row {}/{} n={} does not name the run",
            row["family"], row["kernel"], row["seq_len"]
        ));
    }
    let mut lines = vec![format!(
        "results: {} rows from {adapter} on WebGPU ({}), run {run_id}",
        rows.len(),
        native::device_slug(adapter, "WebGPU"),
    )];
    for family in FAMILIES {
        for &kernel in kernels {
            lines.push(kernel_line(rows, family, kernel)?);
        }
    }
    Ok(lines)
}

/// The measured rows of one kernel in one family, checked; and the law its peak bytes
/// follow.
fn kernel_line(rows: &[Value], family: &str, kernel: &str) -> Result<String, String> {
    let rows: Vec<&Value> = rows
        .iter()
        .filter(|r| r["family"] == family && r["kernel"] == kernel)
        .collect();
    let measured: Vec<&Value> = rows
        .iter()
        .copied()
        .filter(|r| r["status"] == "ok")
        .collect();
    let what = format!("{kernel} in {family}");
    if measured.len() < 3 {
        let reasons: Vec<&str> = rows.iter().filter_map(|r| r["reason"].as_str()).collect();
        return Err(format!(
            "{what}: {} measured points, at least 3 wanted (skips: {reasons:?})",
            measured.len()
        ));
    }
    let size = |r: &Value, key: &str| r[key].as_u64().unwrap_or(0);
    let mut points = Vec::new();
    for r in &measured {
        let n = size(r, "seq_len");
        let at = format!("{what} at n = {n}");
        let (Some(ms), Some(gflops), Some(peak), Some(timing)) = (
            r["median_ms"].as_f64(),
            r["gflops"].as_f64(),
            r["peak_buffer_bytes"].as_u64(),
            r["timing"].as_str(),
        ) else {
            return Err(format!(
                "{at}: a measured row without time, GFLOP/s, bytes or timing source"
            ));
        };
        let samples = size(r, "samples");
        if !(ms > 0.0 && gflops > 0.0 && samples >= 3) {
            return Err(format!(
                "{at}: {ms} ms, {gflops} GFLOP/s from {samples} samples ({timing})"
            ));
        }
        // Q, K, V and O in f32 at the least.
        let io = 4 * 4 * n * size(r, "head_dim") * size(r, "batch") * size(r, "heads");
        if peak < io {
            return Err(format!(
                "{at}: peak {peak} bytes is below Q, K, V and O ({io} bytes)"
            ));
        }
        points.push((n as f64, peak as f64));
    }
    let bh = (size(measured[0], "batch") * size(measured[0], "heads")) as f64;
    let largest = measured
        .iter()
        .max_by_key(|r| size(r, "seq_len"))
        .expect("3 or more measured rows");
    let materializes = materializes_scores(largest);
    let law = memory_law(materializes, &points, bh).map_err(|e| format!("{what}: {e}"))?;
    Ok(format!(
        "{what}: {} points measured ({}), {law}",
        measured.len(),
        measured[0]["timing"].as_str().unwrap_or("")
    ))
}

/// Whether the kernel's own memory plan holds the n×n scores, as the row reports it: the
/// bytes it needs (`needed_bytes`, the plan's) cover Q, K, V and O in f32 and the score
/// matrix (`score_matrix_bytes`). Naive's plan does (it holds at least one f32 per score);
/// flash's needs about Q, K, V and O alone.
pub fn materializes_scores(row: &Value) -> bool {
    let size = |key: &str| row[key].as_u64().unwrap_or(0);
    let io = 4 * 4 * size("seq_len") * size("head_dim") * size("batch") * size("heads");
    size("needed_bytes") >= io + size("score_matrix_bytes")
}

/// Whether peak bytes over n follow the kernel's law: a kernel that materializes scores
/// (naive, chunked) holds at least one f32 per score, i.e. grows as n² with a coefficient
/// of at least 4·B·H bytes; any other kernel grows linearly (its n² term is under 1% of
/// its peak at the largest n).
pub fn memory_law(materializes: bool, points: &[(f64, f64)], bh: f64) -> Result<String, String> {
    let (a, b, _) = fit_quadratic(points).ok_or("fewer than 3 distinct n to fit")?;
    let (n_max, peak_max) = points
        .iter()
        .copied()
        .fold((0.0, 0.0), |m, p| if p.0 > m.0 { p } else { m });
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
        assert!(memory_law(true, &naive, 1.0).is_ok());
        assert!(memory_law(false, &flash, 1.0).is_ok());
        // Swapped, both fail: flash with a score matrix, naive without one.
        assert!(memory_law(false, &naive, 1.0).is_err());
        assert!(memory_law(true, &flash, 1.0).is_err());
        // Naive holding half the scores (f16, or half the rows) is not the law either.
        assert!(memory_law(true, &law(|n| 2.0 * n * n + 1024.0 * n), 1.0).is_err());
    }

    #[test]
    fn the_plan_says_which_kernels_hold_the_scores() {
        // What the page reported at n = 512, d = 64 (results/google-swiftshader-…).
        let row = |needed: u64| {
            serde_json::json!({
                "seq_len": 512, "head_dim": 64, "batch": 1, "heads": 1,
                "needed_bytes": needed, "score_matrix_bytes": 1_048_576,
            })
        };
        assert!(materializes_scores(&row(1_572_912)));
        assert!(!materializes_scores(&row(524_352)));
    }

    #[test]
    fn verification_must_account_for_every_planned_check() {
        let summary = serde_json::json!({
            "total": 10, "passed": 9, "failed": 0, "skipped": 1, "failures": [],
            "kernels": [
                {"kernel": "naive", "passed": 5, "failed": 0, "skipped": 0},
                {"kernel": "flash", "passed": 4, "failed": 0, "skipped": 1},
            ],
        });
        assert!(verification(&summary, &["naive", "flash"]).is_ok());
        assert!(verification(&summary, &["naive"]).is_err());
        let mut short = summary.clone();
        short["total"] = 12.into();
        assert!(verification(&short, &["naive", "flash"]).is_err());
        let mut failed = summary.clone();
        failed["failed"] = 1.into();
        failed["passed"] = 8.into();
        assert!(verification(&failed, &["naive", "flash"]).is_err());
        failed["kernels"][0]["failed"] = 1.into();
        failed["kernels"][0]["passed"] = 4.into();
        assert!(verification(&failed, &["naive", "flash"]).is_err());
        let mut idle = summary.clone();
        idle["kernels"][1]["passed"] = 0.into();
        idle["kernels"][1]["skipped"] = 5.into();
        idle["skipped"] = 5.into();
        idle["passed"] = 5.into();
        assert!(verification(&idle, &["naive", "flash"]).is_err());
    }
}
