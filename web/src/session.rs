//! The page's one device and one run at a time: opening the adapter once, then verify →
//! sweep → results file, with the run recorded as attnbench's native runs are
//! (`RunKind::Web`, its id on every row).

use crate::compiler;
use crate::device::{self, BrowserInfo, DeviceReport};
use crate::events::{Event, Events};
use crate::options::PageOptions;
use crate::sweep::{SweepPlan, sweep};
use crate::verification::verify;
use attnbench::Bench;
use attnbench::results::{ResultsFile, RunKind, RunRecord};
use std::cell::Cell;
use std::sync::OnceLock;
use wasm_bindgen::JsValue;
use web_time::Instant;

/// The opened device and what the page said about it.
struct Opened {
    gpu: Bench,
    browser: BrowserInfo,
}

/// The page's device, opened once.
static OPENED: OnceLock<Opened> = OnceLock::new();

thread_local! {
    /// Whether a run is in progress (the page has one thread).
    static RUNNING: Cell<bool> = const { Cell::new(false) };
}

/// Opens the browser's adapter (once; later calls report the device already open).
pub async fn open(browser: BrowserInfo) -> Result<DeviceReport, String> {
    if OPENED.get().is_none() {
        let gpu = device::open(&browser).await?;
        // A second open that raced this one keeps the first device.
        let _ = OPENED.set(Opened { gpu, browser });
    }
    let opened = OPENED.get().expect("set above");
    Ok(DeviceReport::of(&opened.gpu, &opened.browser))
}

/// Verifies the kernels, then sweeps them; returns the results file. Fails when the
/// options are bad, a check fails, or the device is lost.
pub async fn run(options: &PageOptions, events: &Events) -> Result<ResultsFile, String> {
    let opened = OPENED
        .get()
        .ok_or("the device is not open (call open_device first)")?;
    if RUNNING.with(|r| r.replace(true)) {
        return Err("a run is already in progress".into());
    }
    let result = verify_and_sweep(opened, options, events).await;
    RUNNING.with(|r| r.set(false));
    result
}

async fn verify_and_sweep(
    opened: &'static Opened,
    options: &PageOptions,
    events: &Events,
) -> Result<ResultsFile, String> {
    let started = Instant::now();
    let settings = options.settings()?;
    let deadline = started + settings.budget;
    let gpu = &opened.gpu;
    let header = device::header(gpu, &opened.browser);
    let mut run = RunRecord::start(
        RunKind::Web,
        gpu,
        settings.recorded.clone(),
        "uniform random values in [-1, 1)",
    );
    run.driver = header.driver.clone();

    let summary = verify(gpu, &settings.kernels, events).await?;
    // A module the browser's compiler rejects is the clearer reason for failed checks.
    let compiled = compiler::check(gpu).await;
    events.emit(&Event::Compiler { report: &compiled });
    compiled.verdict()?;
    summary.verdict()?;

    let plan = SweepPlan::new(
        &settings.kernels,
        (settings.min_n, settings.max_n),
        settings.seed,
        deadline,
    );
    events.emit(&Event::SweepStart {
        total: plan.points(),
        budget_left_s: deadline
            .saturating_duration_since(Instant::now())
            .as_secs_f64(),
    });
    let mut rows = sweep(gpu, &plan, &|k| summary.unverified(k), events)
        .await
        .map_err(|e| format!("sweep: {e}"))?;
    // The sweep compiles variants of its own (other n, other tiles): the compiler sees
    // them too.
    let compiled = compiler::check(gpu).await;
    events.emit(&Event::Compiler { report: &compiled });
    compiled.verdict()?;
    for row in &mut rows {
        row.run_id = Some(run.id.clone());
    }
    run.end(None);
    let mut file = ResultsFile::new(header.clone());
    file.merge(header, rows);
    file.record_run(run);
    Ok(file)
}

/// Sets `window.attnbenchStatus` (what automated runs poll).
pub fn publish_status(status: &str) {
    let _ = js_sys::Reflect::set(
        &js_sys::global(),
        &JsValue::from_str("attnbenchStatus"),
        &JsValue::from_str(status),
    );
}
