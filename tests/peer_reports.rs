//! A device folder holding a peer's rows (the browser page's ONNX Runtime Web, `ort-mha`:
//! a kernel name the registry does not know) on a software adapter: `plot` and `compare`
//! keep the rows as data, chart them, set flash ÷ the peer beside each other, and mark the
//! software adapter.

mod report_fixtures;

use attnbench::Shape;
use attnbench::report::{ORT_PEER, comparison_markdown, write_device_report};
use attnbench::results::{ResultRow, ResultsFile, Status};
use report_fixtures::{header, results};

/// `results`' device as SwiftShader in a browser (a CPU device), with ORT beside flash at
/// n = 256 and 512 (twice flash's time) and a causal ORT row skipped.
fn with_peer() -> ResultsFile {
    let mut file = results("google swiftshader (Chromium 156)", 1e5);
    file.device.backend = "WebGPU".into();
    file.device.device_type = "Cpu".into();
    let mut rows = Vec::new();
    for n in [256u32, 512] {
        let flash = file
            .rows
            .iter()
            .find(|r| r.kernel == "flash" && r.seq_len == n)
            .unwrap()
            .clone();
        let mut row = ResultRow::new("prefill-d64", ORT_PEER, &Shape::new(n, 64));
        row.status = Status::Ok;
        row.median_ms = flash.median_ms.map(|ms| 2.0 * ms);
        row.samples = 5;
        row.timing = Some(attnbench::gpu::TimingSource::GpuTimestamps);
        row.config = Some("onnxruntime-web 1.31.1: FlashAttention (flash)".into());
        rows.push(row);
    }
    let mut causal = ResultRow::new(
        "prefill-causal-d64",
        ORT_PEER,
        &Shape::new(256, 64).with_causal(true),
    );
    causal.set_skip(attnbench::results::Skip::Unsupported {
        reason:
            "ONNX Runtime Web's WebGPU MultiHeadAttention refuses unidirectional (causal) attention"
                .into(),
    });
    rows.push(causal);
    let device = file.device.clone();
    file.merge(device, rows);
    file
}

#[test]
fn a_peers_rows_are_charted_and_set_beside_flash() {
    let dir = tempfile::tempdir().unwrap();
    let file = with_peer();
    write_device_report(&file, dir.path()).unwrap();
    let readme = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
    assert!(
        readme.contains("> **Software adapter: google swiftshader (Chromium 156) is a CPU device"),
        "{readme}"
    );
    assert!(readme.contains("## Flash beside its peers"), "{readme}");
    assert!(
        readme.contains("| ort-mha | prefill-d64 | 256 |") && readme.contains("| 0.50 |"),
        "flash ÷ ORT: {readme}"
    );
    let svg = std::fs::read_to_string(dir.path().join("time-prefill-d64.svg")).unwrap();
    assert!(svg.contains(ORT_PEER), "the peer's line is charted");
    let errors = attnbench::markdown::table_errors(&readme);
    assert!(errors.is_empty(), "{errors:?}");

    let native = results("GPU A", 1e5);
    let md = comparison_markdown(&[&native, &file]);
    assert!(md.contains("## Flash beside its peers"), "{md}");
    assert!(
        md.contains("**Software adapter: google swiftshader"),
        "{md}"
    );
    assert!(!md.contains("**Software adapter: GPU A"), "{md}");
    assert!(
        !md.contains("ort-mha runs different configurations"),
        "a kernel one device did not run is no difference of configuration: {md}"
    );
    // The fixtures' native device is a GPU; a CPU one is marked.
    let mut lavapipe = results("llvmpipe (LLVM 15.0.6, 256 bits)", 1e5);
    lavapipe.device = header("llvmpipe (LLVM 15.0.6, 256 bits)");
    lavapipe.device.device_type = "Cpu".into();
    assert!(comparison_markdown(&[&lavapipe]).contains("**Software adapter: llvmpipe"));
}
