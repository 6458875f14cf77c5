//! What the browser test demands of the page beyond its kernels' rows: the peer's rows
//! (ONNX Runtime Web, `ort-mha`) measured, verified against the reference and set beside
//! flash; the device's probed ceilings carried into the rows; a software adapter's warning;
//! the Adapter section without WebGPU; a run too short to measure anything failing; chart
//! text readable at the page's width.

use serde_json::Value;

/// The peer's kernel name in results.
pub const PEER: &str = "ort-mha";

/// The peer's family (ORT's WebGPU MultiHeadAttention refuses causal attention).
const PEER_FAMILY: &str = "prefill-d64";

/// Checks the peer's rows in `file` against what the page reported of it (`peer`: its
/// status, its checks against the reference, flash ÷ ORT). Returns lines saying what
/// passed.
pub fn peer(file: &Value, peer: &Value) -> Result<Vec<String>, String> {
    if peer["status"]["available"] != true {
        return Err(format!(
            "the page's ONNX Runtime Web is not available: {}",
            peer["status"]
        ));
    }
    let rows: Vec<&Value> = file["rows"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter(|r| r["kernel"] == PEER)
        .collect();
    let measured: Vec<&Value> = rows
        .iter()
        .copied()
        .filter(|r| r["family"] == PEER_FAMILY && r["status"] == "ok")
        .collect();
    if measured.len() < 3 {
        let reasons: Vec<&str> = rows.iter().filter_map(|r| r["reason"].as_str()).collect();
        return Err(format!(
            "{PEER} in {PEER_FAMILY}: {} measured points, at least 3 wanted (skips: {reasons:?})",
            measured.len()
        ));
    }
    let checks = peer["checks"].as_array().map_or(&[][..], Vec::as_slice);
    if let Some(bad) = checks.iter().find(|c| c["passed"] != true) {
        return Err(format!("ONNX Runtime Web's output failed its check: {bad}"));
    }
    let mut programs: Vec<&str> = Vec::new();
    for r in &measured {
        let n = r["seq_len"].as_u64().unwrap_or(0);
        let at = format!("{PEER} at n = {n}");
        let (Some(ms), Some(timing), Some(program)) = (
            r["median_ms"].as_f64(),
            r["timing"].as_str(),
            r["config"].as_str(),
        ) else {
            return Err(format!("{at}: no time, timing source or program: {r}"));
        };
        if !(ms > 0.0 && r["samples"].as_u64().unwrap_or(0) >= 3) {
            return Err(format!("{at}: {ms} ms from {} samples", r["samples"]));
        }
        if !["gpu-timestamps", "wall-clock"].contains(&timing) {
            return Err(format!("{at}: timing {timing:?}"));
        }
        if !program.starts_with("onnxruntime-web ") || !program.ends_with(')') {
            return Err(format!(
                "{at}: the row does not say which ORT program ran: {program:?}"
            ));
        }
        // Shapes print as `B1 H1 n128 d64`.
        let shape = format!("n{n}");
        let checked = checks.iter().any(|c| {
            c["passed"] == true
                && c["shape"]
                    .as_str()
                    .is_some_and(|s| s.split_whitespace().any(|part| part == shape))
        });
        if !checked {
            return Err(format!(
                "{at}: measured, but no passed check of its output at that shape"
            ));
        }
        if !programs.contains(&program) {
            programs.push(program);
        }
    }
    if let Some(r) = rows
        .iter()
        .find(|r| r["family"] != PEER_FAMILY && r["status"] == "ok")
    {
        return Err(format!("{PEER} measured outside {PEER_FAMILY}: {r}"));
    }
    let ratios = peer["ratios"].as_array().map_or(&[][..], Vec::as_slice);
    if ratios.len() < measured.len() {
        return Err(format!(
            "flash ÷ ORT shown at {} points, {PEER} measured {}",
            ratios.len(),
            measured.len()
        ));
    }
    let shown: Vec<String> = ratios
        .iter()
        .map(|r| {
            format!(
                "n = {}: {:.2}",
                r["seq_len"],
                r["flash_over_ort"].as_f64().unwrap_or(f64::NAN)
            )
        })
        .collect();
    Ok(vec![
        format!(
            "{PEER} in {PEER_FAMILY}: {} points measured ({}), each output matched the f64 reference; {}",
            measured.len(),
            measured[0]["timing"].as_str().unwrap_or(""),
            programs.join("; ")
        ),
        format!("flash ÷ ORT: {}", shown.join(", ")),
    ])
}

/// Checks that the device's probed ceilings are in the results and its kernels' rows carry
/// % of the FMA peak.
pub fn ceilings(file: &Value) -> Result<String, String> {
    let c = &file["ceilings"];
    let fma = c["fma_f32_gflops"].as_f64().unwrap_or(0.0);
    if !(fma > 0.0 && c["bandwidth_gbps"].as_f64().unwrap_or(0.0) > 0.0) {
        return Err(format!("the results carry no probed ceilings: {c}"));
    }
    let rows = file["rows"].as_array().map_or(&[][..], Vec::as_slice);
    let measured = rows.iter().filter(|r| r["status"] == "ok");
    if let Some(r) = measured.clone().find(|r| !r["pct_of_fma_peak"].is_number()) {
        return Err(format!("a measured row without % of the FMA peak: {r}"));
    }
    Ok(format!(
        "ceilings: f32 FMA {fma:.1} GFLOP/s, bandwidth {:.2} GB/s; every measured row carries % of peak",
        c["bandwidth_gbps"].as_f64().unwrap_or(0.0)
    ))
}

/// Checks the Adapter section's warning: present, beginning "Software adapter:", exactly
/// when the device is a CPU one.
pub fn software_warning(file: &Value, adapter: &Value) -> Result<String, String> {
    let cpu = file["device"]["device_type"] == "Cpu";
    match (cpu, adapter["warning"].as_str()) {
        (true, Some(w)) if w.starts_with("Software adapter:") && w.contains("not a GPU") => {
            Ok(format!("adapter warning: {w}"))
        }
        (true, other) => Err(format!(
            "a CPU adapter without the software adapter's warning: {other:?}"
        )),
        (false, None) => Ok("adapter: a GPU (no software warning)".into()),
        (false, Some(w)) => Err(format!("a GPU adapter with a software warning: {w}")),
    }
}

/// Checks the page without WebGPU: its status failed, and the Adapter section says WebGPU
/// is unavailable and how to get it.
pub fn without_webgpu(status: &str, adapter: &Value) -> Result<String, String> {
    let line = adapter["line"].as_str().unwrap_or("");
    let help = adapter["help"].as_str().unwrap_or("");
    if !status.starts_with("failed: WebGPU is unavailable") {
        return Err(format!("without WebGPU the page's status is {status:?}"));
    }
    if !line.starts_with("WebGPU is unavailable") {
        return Err(format!("without WebGPU the Adapter section says {line:?}"));
    }
    for needed in ["--enable-unsafe-webgpu", "Chrome", "Firefox", "Safari"] {
        if !help.contains(needed) {
            return Err(format!(
                "the WebGPU help does not mention {needed}: {help:?}"
            ));
        }
    }
    Ok(format!("without WebGPU: {line}"))
}

/// Checks a run whose budget is too small to measure anything: it failed, saying so.
pub fn nothing_measured(status: &str) -> Result<String, String> {
    if status.starts_with("failed: no point measured (") {
        Ok(format!("tiny budget: {status}"))
    } else {
        Err(format!(
            "a run too short to measure anything ended {status:?}, not \"failed: no point measured (…)\""
        ))
    }
}

/// The smallest chart text as drawn (px), from [`CHART_TEXT_JS`]; at least 11 px wanted.
pub fn chart_text(smallest: &Value) -> Result<String, String> {
    let charts = smallest["charts"].as_u64().unwrap_or(0);
    let px = smallest["px"].as_f64().unwrap_or(0.0);
    if charts == 0 {
        return Err("the page drew no chart".into());
    }
    if px < 11.0 {
        return Err(format!(
            "chart text is {px:.1} px at the page's width (11 px wanted)"
        ));
    }
    Ok(format!(
        "{charts} charts, smallest text {px:.1} px at the page's width"
    ))
}

/// Evaluated in the page (awaited): takes the page's lock on the GPU, as another tab of
/// the page measuring would, for 3 s; resolves once it holds it.
pub const HOLD_GPU_LOCK_JS: &str = "new Promise((held) => navigator.locks.request('attnbench-gpu', \
    () => { held(true); return new Promise((done) => setTimeout(done, 3000)); }))";

/// Evaluated in the page: the number of charts and their smallest text in CSS pixels (font
/// size × the SVG's scale).
pub const CHART_TEXT_JS: &str = "(() => {
  const svgs = [...document.querySelectorAll('#charts svg')];
  let px = Infinity;
  for (const svg of svgs) {
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    for (const t of svg.querySelectorAll('text')) {
      const size = parseFloat(t.getAttribute('font-size') ?? getComputedStyle(t).fontSize);
      if (size > 0) px = Math.min(px, size * scale);
    }
  }
  return { charts: svgs.length, px: Number.isFinite(px) ? px : 0 };
})()";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(kernel: &str, n: u32, ok: bool) -> Value {
        json!({"kernel": kernel, "family": "prefill-d64", "seq_len": n, "status": if ok {"ok"} else {"skipped"},
               "median_ms": 2.0, "samples": 5, "timing": "gpu-timestamps",
               "config": "onnxruntime-web 1.31.1: FlashAttention (flash)", "reason": ""})
    }

    fn peer_report(ns: &[u32], passed: bool) -> Value {
        json!({
            "status": {"available": true},
            "checks": ns.iter().map(|n| json!({"shape": format!("B1 H1 n{n} d64"), "passed": passed})).collect::<Vec<_>>(),
            "ratios": ns.iter().map(|n| json!({"seq_len": n, "flash_over_ort": 0.5})).collect::<Vec<_>>(),
        })
    }

    #[test]
    fn peer_rows_must_be_measured_verified_and_labelled() {
        let file =
            json!({"rows": [row(PEER, 128, true), row(PEER, 256, true), row(PEER, 512, true)]});
        let lines = peer(&file, &peer_report(&[128, 256, 512], true)).unwrap();
        assert!(lines[0].contains("3 points"), "{lines:?}");
        assert!(peer(&file, &peer_report(&[128, 256, 512], false)).is_err());
        assert!(peer(&file, &peer_report(&[128, 256], true)).is_err());
        let mut unlabelled = file.clone();
        unlabelled["rows"][0]["config"] = Value::Null;
        assert!(peer(&unlabelled, &peer_report(&[128, 256, 512], true)).is_err());
        let short = json!({"rows": [row(PEER, 128, true), row(PEER, 256, false)]});
        assert!(peer(&short, &peer_report(&[128], true)).is_err());
    }

    #[test]
    fn adapters_warnings_and_failures_are_held_to_their_words() {
        let cpu = json!({"device": {"device_type": "Cpu"}});
        let gpu = json!({"device": {"device_type": "DiscreteGpu"}});
        let warned =
            json!({"warning": "Software adapter: x is a fallback (CPU) adapter, so … not a GPU."});
        assert!(software_warning(&cpu, &warned).is_ok());
        assert!(software_warning(&cpu, &json!({"warning": null})).is_err());
        assert!(software_warning(&gpu, &warned).is_err());
        let help = json!({"line": "WebGPU is unavailable: no adapter.",
                          "help": "Chrome … --enable-unsafe-webgpu … Firefox … Safari 26"});
        assert!(without_webgpu("failed: WebGPU is unavailable: x", &help).is_ok());
        assert!(without_webgpu("failed: other", &help).is_err());
        assert!(nothing_measured("failed: no point measured (all 12 points were skipped)").is_ok());
        assert!(nothing_measured("done").is_err());
        assert!(chart_text(&json!({"charts": 6, "px": 11.2})).is_ok());
        assert!(chart_text(&json!({"charts": 6, "px": 6.1})).is_err());
    }
}
