//! attnbench in the browser: the library's kernels (the same WGSL, specialization and
//! registry), its f64 reference, memory plans and FLOP models, run through the browser's
//! WebGPU. Only submission and read-back are asynchronous here; everything else is the
//! native code unchanged.
//!
//! The page (`web/static/`, glue in `app.js`) calls three functions:
//! - [`open_device`]: opens the adapter, named from what the page read of `GPUAdapterInfo`;
//! - [`run`]: probes the device's ceilings, verifies the kernels against the f64
//!   reference, then sweeps n for them (and measures the page's peer, ONNX Runtime Web,
//!   beside them), all within one budget, reporting progress through a callback; returns
//!   the results file (attnbench's own schema, the JSON the download button writes);
//! - [`render_charts`]: the time and memory charts of a results file, as SVG.
//!
//! On the host only [`onnx`] (the peer's model writer, tested there) builds: the rest is
//! built for `wasm32-unknown-unknown` by `cargo web build` (xtask/).

pub mod onnx;

#[cfg(target_arch = "wasm32")]
mod charts;
#[cfg(target_arch = "wasm32")]
mod checks;
#[cfg(target_arch = "wasm32")]
mod compiler;
#[cfg(target_arch = "wasm32")]
mod device;
#[cfg(target_arch = "wasm32")]
mod events;
#[cfg(target_arch = "wasm32")]
mod options;
#[cfg(target_arch = "wasm32")]
mod peer;
#[cfg(target_arch = "wasm32")]
mod peer_line;
#[cfg(target_arch = "wasm32")]
mod session;
#[cfg(target_arch = "wasm32")]
mod sweep;
#[cfg(target_arch = "wasm32")]
mod verification;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen::prelude::*;

/// Runs once when the module is instantiated: a panic shows in the console and fails the
/// page's status, instead of leaving an automated run "running" forever.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        let message = format!("panic: {info}");
        web_sys::console::error_1(&JsValue::from_str(&message));
        session::publish_status(&format!("failed: {message}"));
    }));
}

/// Opens the browser's WebGPU adapter. `browser` is the JSON of [`device::BrowserInfo`]
/// (what the page read of `GPUAdapterInfo` and the browser). Returns the JSON of
/// [`device::DeviceReport`]: the device as attnbench sees it.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen]
pub async fn open_device(browser: String) -> Result<String, JsError> {
    let info: device::BrowserInfo =
        serde_json::from_str(&browser).map_err(|e| JsError::new(&format!("browser info: {e}")))?;
    let report = session::open(info).await.map_err(|e| JsError::new(&e))?;
    json(&report)
}

/// Probes, verifies, then sweeps, as `options` (the JSON of [`options::PageOptions`])
/// say, calling `on_event` with each progress event ([`events::Event`]). `peer` is the
/// page's ONNX Runtime Web: `{status, measure}` (what loading it said, and the function
/// that measures one shape, `ort-peer.js`), or null. Returns the results file as JSON;
/// fails (with the reason) when a kernel fails verification, so that no number of an
/// unverified kernel is published, and when no point was measured.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen]
pub async fn run(
    options: String,
    on_event: js_sys::Function,
    peer: JsValue,
) -> Result<String, JsError> {
    let options: options::PageOptions =
        serde_json::from_str(&options).map_err(|e| JsError::new(&format!("options: {e}")))?;
    let events = events::Events::new(on_event);
    let peer = peer::Peer::from_page(&peer).map_err(|e| JsError::new(&e))?;
    let file = session::run(&options, &events, peer.as_ref())
        .await
        .map_err(|e| JsError::new(&e))?;
    json(&file)
}

/// The peer's model (ONNX protobuf) of one `MultiHeadAttention` node at n = `seq_len`,
/// head dim `head_dim`, `heads` heads, batch 1 ([`onnx::multi_head_attention`]).
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen]
pub fn peer_model(seq_len: u32, head_dim: u32, heads: u32) -> Vec<u8> {
    onnx::multi_head_attention(onnx::MhaShape {
        seq_len: seq_len.into(),
        head_dim: head_dim.into(),
        heads: heads.into(),
    })
}

/// The time and memory charts of `results` (a results file as JSON), as a JSON list of
/// `{name, svg}`.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen]
pub fn render_charts(results: String) -> Result<String, JsError> {
    let file: attnbench::results::ResultsFile =
        serde_json::from_str(&results).map_err(|e| JsError::new(&format!("results: {e}")))?;
    json(&charts::charts(&file).map_err(|e| JsError::new(&e))?)
}

#[cfg(target_arch = "wasm32")]
fn json(value: &impl serde::Serialize) -> Result<String, JsError> {
    serde_json::to_string(value).map_err(|e| JsError::new(&e.to_string()))
}
