//! attnbench in the browser: the library's kernels (the same WGSL, specialization and
//! registry), its f64 reference, memory plans and FLOP models, run through the browser's
//! WebGPU. Only submission and read-back are asynchronous here; everything else is the
//! native code unchanged.
//!
//! The page (`web/static/`, glue in `app.js`) calls three functions:
//! - [`open_device`]: opens the adapter, named from what the page read of `GPUAdapterInfo`;
//! - [`run`]: verifies the kernels against the f64 reference, then sweeps n for them,
//!   reporting progress through a callback, and returns the results file (attnbench's own
//!   schema, the JSON the download button writes);
//! - [`render_charts`]: the time and memory charts of a results file, as SVG.
//!
//! On the host the crate is empty: it is built for `wasm32-unknown-unknown` by
//! `cargo web build` (xtask/).
#![cfg(target_arch = "wasm32")]

mod charts;
mod checks;
mod compiler;
mod device;
mod events;
mod options;
mod session;
mod sweep;
mod verification;

use wasm_bindgen::prelude::*;

/// Runs once when the module is instantiated: a panic shows in the console and fails the
/// page's status, instead of leaving an automated run "running" forever.
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
#[wasm_bindgen]
pub async fn open_device(browser: String) -> Result<String, JsError> {
    let info: device::BrowserInfo =
        serde_json::from_str(&browser).map_err(|e| JsError::new(&format!("browser info: {e}")))?;
    let report = session::open(info).await.map_err(|e| JsError::new(&e))?;
    json(&report)
}

/// Verifies, then sweeps, as `options` (the JSON of [`options::PageOptions`]) say, calling
/// `on_event` with each progress event ([`events::Event`]). Returns the results file as
/// JSON; fails (with the reason) when a kernel fails verification, so that no number of an
/// unverified kernel is published.
#[wasm_bindgen]
pub async fn run(options: String, on_event: js_sys::Function) -> Result<String, JsError> {
    let options: options::PageOptions =
        serde_json::from_str(&options).map_err(|e| JsError::new(&format!("options: {e}")))?;
    let events = events::Events::new(on_event);
    let file = session::run(&options, &events)
        .await
        .map_err(|e| JsError::new(&e))?;
    json(&file)
}

/// The time and memory charts of `results` (a results file as JSON), as a JSON list of
/// `{name, svg}`.
#[wasm_bindgen]
pub fn render_charts(results: String) -> Result<String, JsError> {
    let file: attnbench::results::ResultsFile =
        serde_json::from_str(&results).map_err(|e| JsError::new(&format!("results: {e}")))?;
    json(&charts::charts(&file).map_err(|e| JsError::new(&e))?)
}

fn json(value: &impl serde::Serialize) -> Result<String, JsError> {
    serde_json::to_string(value).map_err(|e| JsError::new(&e.to_string()))
}
