//! Peers measured beside attnbench's kernels in the same run, as rows of their own
//! kernel name (the browser page's ONNX Runtime Web, [`ORT_PEER`]): flash's time ÷ the
//! peer's at each point both measured, for `compare.md` and device READMEs; and the note
//! that marks a software adapter (a CPU device: lavapipe, llvmpipe, SwiftShader), whose
//! numbers measure a CPU emulating a GPU.

use crate::markdown::{Align, Table, text};
use crate::results::{DeviceHeader, ResultRow, ResultsFile};
use std::fmt::Write as _;

/// The kernel name of the browser page's ONNX Runtime Web peer (a one-node
/// `com.microsoft` MultiHeadAttention on the page's adapter).
pub const ORT_PEER: &str = "ort-mha";

/// The peers whose rows reports set beside flash: (kernel name, what it is).
const PEERS: [(&str, &str); 1] = [(ORT_PEER, "ONNX Runtime Web's MultiHeadAttention")];

/// The note of a software adapter (device type `Cpu`), beginning "Software adapter:";
/// `None` for any other device.
pub fn software_adapter_note(device: &DeviceHeader) -> Option<String> {
    (device.device_type == "Cpu").then(|| {
        format!(
            "Software adapter: {} is a CPU device (device type `Cpu`), so these numbers \
             measure a CPU emulation of a GPU, not a GPU.",
            text(&device.adapter)
        )
    })
}

/// The same point's row of `kernel` in `file`, measured.
fn partner<'a>(file: &'a ResultsFile, row: &ResultRow, kernel: &str) -> Option<&'a ResultRow> {
    file.rows.iter().find(|r| {
        r.kernel == kernel
            && r.is_ok()
            && r.family == row.family
            && (r.batch, r.heads, r.seq_len, r.head_dim)
                == (row.batch, row.heads, row.seq_len, row.head_dim)
            && (r.causal, r.kv_heads, r.window, r.pass)
                == (row.causal, row.kv_heads, row.window, row.pass)
    })
}

/// `## Flash beside its peers`: per device (`labels`, one per file) and point that flash
/// and a peer both measured, both times and flash ÷ peer; empty when no file has a
/// measured peer row.
pub fn peer_section(files: &[&ResultsFile], labels: &[String]) -> String {
    let mut table = Table::new([
        ("device", Align::Left),
        ("peer", Align::Left),
        ("family", Align::Left),
        ("n", Align::Right),
        ("flash ms", Align::Right),
        ("peer ms", Align::Right),
        ("flash ÷ peer", Align::Right),
        ("peer's program", Align::Left),
    ]);
    for (file, label) in files.iter().zip(labels) {
        for (peer, _) in PEERS {
            for row in file.rows.iter().filter(|r| r.kernel == peer && r.is_ok()) {
                let Some(flash) = partner(file, row, "flash") else {
                    continue;
                };
                let (Some(t_flash), Some(t_peer)) = (flash.median_ms, row.median_ms) else {
                    continue;
                };
                table.row([
                    label.clone(),
                    peer.to_string(),
                    row.family.clone(),
                    row.seq_len.to_string(),
                    format!("{t_flash:.3}"),
                    format!("{t_peer:.3}"),
                    format!("{:.2}", t_flash / t_peer),
                    row.config.clone().unwrap_or_default(),
                ]);
            }
        }
    }
    if table.is_empty() {
        return String::new();
    }
    let mut md = String::from("## Flash beside its peers\n\n");
    for (peer, what) in PEERS {
        let _ = write!(md, "`{peer}`: {what}, ");
    }
    let _ = writeln!(
        md,
        "on the same adapter in the same run, on the same inputs, its output checked \
         against the f64 reference. \"flash ÷ peer\" is flash's median time over the peer's: \
         below 1, flash is faster.\n\n{}",
        table.render()
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Status;
    use crate::shape::Shape;

    fn row(kernel: &str, n: u32, ms: Option<f64>) -> ResultRow {
        let mut row = ResultRow::new("prefill-d64", kernel, &Shape::new(n, 64));
        if let Some(ms) = ms {
            row.status = Status::Ok;
            row.median_ms = Some(ms);
        }
        row
    }

    #[test]
    fn flash_over_the_peer_where_both_measured() {
        let mut file = ResultsFile::new(DeviceHeader::for_test("SwiftShader"));
        file.rows = vec![
            row("flash", 128, Some(2.0)),
            row("flash", 256, Some(6.0)),
            row(ORT_PEER, 128, Some(4.0)),
            row(ORT_PEER, 256, None),
        ];
        file.rows[2].config = Some("onnxruntime-web 1.31.1: FlashAttention".into());
        let md = peer_section(&[&file], &["SwiftShader WebGPU".into()]);
        assert!(
            md.contains("| SwiftShader WebGPU | ort-mha | prefill-d64 | 128 | 2.000 | 4.000 | 0.50 | onnxruntime-web 1.31.1: FlashAttention |"),
            "{md}"
        );
        assert!(!md.contains("| 256 |"), "{md}");
        file.rows.retain(|r| r.kernel != ORT_PEER);
        assert_eq!(peer_section(&[&file], &["x".into()]), "");
    }

    #[test]
    fn cpu_devices_are_software_adapters() {
        let mut device = DeviceHeader::for_test("llvmpipe (LLVM 15.0.6, 256 bits)");
        let note = software_adapter_note(&device).unwrap();
        assert!(note.starts_with("Software adapter:") && note.contains("not a GPU"));
        device.device_type = "DiscreteGpu".into();
        assert!(software_adapter_note(&device).is_none());
    }
}
