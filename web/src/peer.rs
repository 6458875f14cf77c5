//! ONNX Runtime Web as a peer on the page's adapter: the page loads it (`ort-peer.js`; ORT
//! opens its own device, on the adapter the page measures on, which the page checks) and
//! hands this module its `measure` function. Here each shape's model is written ([`crate::onnx`]), its inputs
//! drawn exactly as attnbench's kernels' (`AttentionInputs::random` from the sweep's
//! seed), and its output checked against attnbench's f64 reference before its times are
//! kept: an ORT whose output is not attention publishes no number. Rows are `ort-mha`
//! ([`ORT_PEER`]) in the results schema, labelled with ORT's version and the programs its
//! profile names (flash or unfused).

use crate::onnx::{MhaShape, bsd_to_heads, heads_to_bsd, multi_head_attention, program_label};
use attnbench::gpu::TimingSource;
use attnbench::reference::{Comparison, attention_f64};
use attnbench::report::ORT_PEER;
use attnbench::results::ResultRow;
use attnbench::run::{MeasureOptions, Measurement, measured};
use attnbench::tensors::AttentionInputs;
use attnbench::{Shape, find_kernel};
use js_sys::{Float32Array, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// What loading ORT said (`loadOrt` in `ort-peer.js`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct PeerStatus {
    /// Whether it loaded and opened its device.
    pub available: bool,
    /// `ort.env.versions.web`.
    #[serde(default)]
    pub version: Option<String>,
    /// The adapter of ORT's device, as its `adapterInfo` names it.
    #[serde(default)]
    pub adapter: Option<String>,
    /// The features of ORT's device.
    #[serde(default)]
    pub features: Vec<String>,
    /// Whether the adapter's subgroups were withheld from ORT (narrower than its programs
    /// are tested with; `ort-peer.js` says why).
    #[serde(default)]
    pub subgroups_withheld: bool,
    /// Why it is not available.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The page's ORT.
pub struct Peer {
    status: PeerStatus,
    measure: Option<js_sys::Function>,
}

/// What the page's `measure` reports of one shape.
#[derive(Deserialize)]
struct Reply {
    times_ms: Vec<f64>,
    timing: String,
    #[serde(default)]
    programs: Vec<String>,
    #[serde(default)]
    note: String,
}

/// The peer's output at one shape against the f64 reference, as the page shows it.
#[derive(Clone, Debug, Serialize)]
pub struct PeerCheck {
    /// The shape, as attnbench prints it.
    pub shape: String,
    /// ‖out − ref‖/‖ref‖.
    pub rel_l2_error: f64,
    /// Largest |out − ref|.
    pub max_abs_error: f64,
    /// The tolerance it was held to (attnbench's f32 kernels').
    pub tolerance: f64,
    /// Whether it matched.
    pub passed: bool,
    /// ORT's version and the programs its profile named (flash or unfused).
    pub program: String,
    /// `gpu-timestamps` (ORT's profile) or `wall-clock`.
    pub timing: String,
    /// What the page noted about its timing.
    pub note: String,
}

/// One shape measured and checked.
pub struct PeerPoint {
    /// The times.
    pub measurement: Measurement,
    /// The output against the reference.
    pub check: PeerCheck,
}

fn set(object: &JsValue, key: &str, value: &JsValue) -> Result<(), String> {
    Reflect::set(object, &JsValue::from_str(key), value)
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

/// A JavaScript error's message.
fn message(e: &JsValue) -> String {
    Reflect::get(e, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

impl Peer {
    /// The page's `{status, measure}`; `None` for null (no peer asked for).
    pub fn from_page(value: &JsValue) -> Result<Option<Peer>, String> {
        if value.is_null() || value.is_undefined() {
            return Ok(None);
        }
        let status = Reflect::get(value, &JsValue::from_str("status"))
            .map_err(|e| format!("peer: {}", message(&e)))?;
        let text = js_sys::JSON::stringify(&status)
            .map_err(|e| format!("peer status: {}", message(&e)))?;
        let status: PeerStatus =
            serde_json::from_str(&String::from(text)).map_err(|e| format!("peer status: {e}"))?;
        let measure = Reflect::get(value, &JsValue::from_str("measure"))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        Ok(Some(Peer { status, measure }))
    }

    /// Why the peer cannot be measured, if it cannot.
    pub fn unavailable(&self) -> Option<String> {
        if self.status.available && self.measure.is_some() {
            return None;
        }
        Some(format!(
            "ONNX Runtime Web is not available: {}",
            self.status
                .reason
                .as_deref()
                .unwrap_or("the page did not load it")
        ))
    }

    /// ORT's version, and how it ran when not as it would by itself: `1.31.1 without
    /// subgroups`.
    pub fn version(&self) -> String {
        let version = self.status.version.as_deref().unwrap_or("unknown");
        if self.status.subgroups_withheld {
            format!("{version} without subgroups")
        } else {
            version.to_string()
        }
    }

    /// Measures `shape` (B = 1) on inputs from `seed`, sampled as `options` say, and
    /// checks the output of its first timed run against the f64 reference.
    pub async fn measure(
        &self,
        shape: &Shape,
        seed: u64,
        options: &MeasureOptions,
    ) -> Result<PeerPoint, String> {
        let measure = self
            .measure
            .as_ref()
            .ok_or("ONNX Runtime Web is not loaded")?;
        let (n, d, h) = (
            shape.seq_len as usize,
            shape.head_dim as usize,
            shape.heads as usize,
        );
        let inputs = AttentionInputs::random(*shape, seed).map_err(|e| e.to_string())?;
        let model = multi_head_attention(MhaShape {
            seq_len: n as u64,
            head_dim: d as u64,
            heads: h as u64,
        });
        let request: JsValue = js_sys::Object::new().into();
        for (key, value) in [
            ("seq_len", n as f64),
            ("head_dim", d as f64),
            ("heads", h as f64),
            ("warmup", f64::from(options.warmup)),
            ("samples", f64::from(options.samples)),
            ("min_samples", f64::from(options.min_samples)),
            (
                "time_budget_ms",
                options
                    .time_budget
                    .map_or(f64::INFINITY, |b| b.as_secs_f64() * 1e3),
            ),
        ] {
            set(&request, key, &JsValue::from_f64(value))?;
        }
        set(&request, "model", &Uint8Array::from(&model[..]).into())?;
        for (key, tensor) in [("q", &inputs.q), ("k", &inputs.k), ("v", &inputs.v)] {
            let bsd = heads_to_bsd(tensor, h, n, d);
            set(&request, key, &Float32Array::from(&bsd[..]).into())?;
        }
        let promise = measure
            .call1(&JsValue::NULL, &request)
            .map_err(|e| message(&e))?;
        let reply = JsFuture::from(js_sys::Promise::resolve(&promise))
            .await
            .map_err(|e| message(&e))?;
        let summary = Reflect::get(&reply, &JsValue::from_str("summary"))
            .and_then(|s| js_sys::JSON::stringify(&s))
            .map_err(|e| message(&e))?;
        let reply_summary: Reply = serde_json::from_str(&String::from(summary))
            .map_err(|e| format!("the page's peer reply: {e}"))?;
        let output = Reflect::get(&reply, &JsValue::from_str("output"))
            .ok()
            .and_then(|o| o.dyn_into::<Float32Array>().ok())
            .ok_or("the page's peer reply has no output")?
            .to_vec();
        let timing = match reply_summary.timing.as_str() {
            "gpu-timestamps" => TimingSource::GpuTimestamps,
            _ => TimingSource::WallClock,
        };
        let measurement = Measurement::from_samples(reply_summary.times_ms, timing)
            .map_err(|e| format!("ORT's times: {e}"))?;
        let reference = attention_f64(shape, &inputs.q, &inputs.k, &inputs.v);
        let comparison = Comparison::new(&bsd_to_heads(&output, h, n, d), &reference);
        let tolerance = find_kernel("flash").map_or(1e-4, |k| k.tolerance());
        let check = PeerCheck {
            shape: shape.to_string(),
            rel_l2_error: comparison.rel_l2_error,
            max_abs_error: comparison.max_abs_error,
            tolerance,
            passed: comparison.passes(tolerance),
            program: program_label(&self.version(), &reply_summary.programs),
            timing: timing.as_str().to_string(),
            note: reply_summary.note,
        };
        Ok(PeerPoint { measurement, check })
    }
}

/// The peer's row at `shape` in `family`, nothing measured yet: attnbench's FLOP and
/// byte models of the same problem (flash's), and the bytes of the tensors ORT is given
/// and returns (Q, K, V, the output and the present K and V): its own buffers are its own.
pub fn planned(family: &str, shape: &Shape) -> ResultRow {
    let mut row = ResultRow::new(family, ORT_PEER, shape);
    if let Ok(flash) = find_kernel("flash") {
        row.flops = flash.flops(shape);
        row.min_bytes = flash.min_bytes(shape);
    }
    let tensor = 4 * u64::from(shape.seq_len) * u64::from(shape.head_dim) * shape.batch_heads();
    row.needed_bytes = 6 * tensor;
    row
}

/// The row of a point measured and verified: no peak bytes (ORT does not say what it
/// allocates), its program in `config`.
pub fn measured_row(family: &str, shape: &Shape, point: &PeerPoint) -> ResultRow {
    let mut row = measured(planned(family, shape), &point.measurement, 0);
    row.peak_buffer_bytes = None;
    row.config = Some(point.check.program.clone());
    row
}
