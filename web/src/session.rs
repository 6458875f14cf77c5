//! The page's one device and one run at a time: opening the adapter once, then probe →
//! verify → sweep → results file, all within the run's budget, with the run recorded as
//! attnbench's native runs are (`RunKind::Web`, its id on every row). A run that measured
//! no point fails, saying why: automation must not read an empty run as a success.

use crate::compiler;
use crate::device::{self, BrowserInfo, DeviceReport};
use crate::events::{Event, Events};
use crate::options::PageOptions;
use crate::peer::Peer;
use crate::sweep::{SweepPlan, sweep};
use crate::verification::verify;
use attnbench::Bench;
use attnbench::probe::quick_ceilings_async;
use attnbench::report::ORT_PEER;
use attnbench::results::{Ceilings, ResultRow, ResultsFile, RunKind, RunRecord};
use attnbench::verify::fresh_seed;
use std::cell::Cell;
use std::sync::OnceLock;
use std::time::Duration;
use wasm_bindgen::JsValue;
use web_time::Instant;

/// Budgets under this skip the probe (a second or more on a software adapter): their
/// rows carry no % of peak.
const PROBE_MIN_BUDGET: Duration = Duration::from_secs(30);

/// Bytes the transfer probe moves each way.
const TRANSFER_PROBE_BYTES: u64 = 16 << 20;

/// The share of what is left of the budget after the probe that verification may use
/// (the rest is the sweep's).
const VERIFY_SHARE: f64 = 0.5;

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

/// Probes, verifies the kernels, then sweeps them (with `peer` beside them); returns the
/// results file. Fails when the options are bad, a check fails, the device is lost, or no
/// point was measured.
pub async fn run(
    options: &PageOptions,
    events: &Events,
    peer: Option<&Peer>,
) -> Result<ResultsFile, String> {
    let opened = OPENED
        .get()
        .ok_or("the device is not open (call open_device first)")?;
    if RUNNING.with(|r| r.replace(true)) {
        return Err("a run is already in progress".into());
    }
    let result = verify_and_sweep(opened, options, events, peer).await;
    RUNNING.with(|r| r.set(false));
    result
}

/// Why a run ends with nothing to publish: `failed: no point measured (…)` on the page.
fn no_point(why: &str) -> String {
    format!("no point measured ({why})")
}

/// The device's ceilings, probed when the budget allows it (else `None`, and why).
async fn probe(gpu: &Bench, budget: Duration, events: &Events) -> Option<Ceilings> {
    let started = Instant::now();
    let (ceilings, skipped) = if budget < PROBE_MIN_BUDGET {
        let why = format!(
            "not probed: the budget is under {} s",
            PROBE_MIN_BUDGET.as_secs()
        );
        (None, Some(why))
    } else {
        match quick_ceilings_async(gpu, TRANSFER_PROBE_BYTES).await {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(format!("the probe failed: {e}"))),
        }
    };
    events.emit(&Event::Probe {
        ceilings: ceilings.as_ref(),
        seconds: started.elapsed().as_secs_f64(),
        skipped,
    });
    ceilings
}

/// Why none of `rows` was measured: how many points, and the first reasons.
fn why_nothing_measured(rows: &[ResultRow]) -> String {
    let mut reasons: Vec<&str> = Vec::new();
    for row in rows {
        if !reasons.contains(&row.reason.as_str()) {
            reasons.push(&row.reason);
        }
    }
    let first: Vec<&str> = reasons.iter().take(2).copied().collect();
    format!(
        "all {} points were skipped: {}{}",
        rows.len(),
        first.join("; "),
        if reasons.len() > 2 { "; …" } else { "" }
    )
}

async fn verify_and_sweep(
    opened: &'static Opened,
    options: &PageOptions,
    events: &Events,
    peer: Option<&Peer>,
) -> Result<ResultsFile, String> {
    let started = Instant::now();
    let settings = options.settings()?;
    let peer = peer.filter(|_| settings.ort_peer);
    let deadline = started + settings.budget;
    events.emit(&Event::RunStart {
        budget_s: settings.budget.as_secs_f64(),
    });
    let gpu = &opened.gpu;
    let header = device::header(gpu, &opened.browser);
    let verify_seed = settings.verify_seed.unwrap_or_else(fresh_seed);
    let mut recorded = settings.recorded.clone();
    recorded.push(("verify_seed".into(), verify_seed.to_string()));
    let mut run = RunRecord::start(
        RunKind::Web,
        gpu,
        recorded,
        "uniform random values in [-1, 1)",
    );
    run.driver = header.driver.clone();

    let ceilings = probe(gpu, settings.budget, events).await;
    run.ceilings_start = ceilings.clone();

    let left = deadline.saturating_duration_since(Instant::now());
    let verify_deadline = Instant::now() + left.mul_f64(VERIFY_SHARE);
    let summary = verify(gpu, &settings.kernels, verify_seed, verify_deadline, events).await?;
    // A module the browser's compiler rejects is the clearer reason for failed checks.
    let compiled = compiler::check(gpu).await;
    events.emit(&Event::Compiler { report: &compiled });
    compiled.verdict()?;
    summary.verdict()?;
    if let Some(why) = summary.nothing_verified() {
        return Err(no_point(&why));
    }
    let spent = started.elapsed().as_secs_f64();
    if Instant::now() >= deadline {
        return Err(no_point(&format!(
            "the budget of {} s was spent before the sweep began ({spent:.1} s in probe and \
             verification)",
            settings.budget.as_secs_f64()
        )));
    }

    let plan = SweepPlan::new(
        &settings.kernels,
        (settings.min_n, settings.max_n),
        settings.seed,
        deadline,
    );
    events.emit(&Event::SweepStart {
        total: plan.total(peer),
        budget_left_s: deadline
            .saturating_duration_since(Instant::now())
            .as_secs_f64(),
    });
    let mut rows = sweep(gpu, &plan, peer, &|k| summary.unverified(k), events)
        .await
        .map_err(|e| format!("sweep: {e}"))?;
    // The sweep compiles variants of its own (other n, other tiles): the compiler sees
    // them too.
    let compiled = compiler::check(gpu).await;
    events.emit(&Event::Compiler { report: &compiled });
    compiled.verdict()?;
    let kernel_rows: Vec<ResultRow> = rows
        .iter()
        .filter(|r| r.kernel != ORT_PEER)
        .cloned()
        .collect();
    if !kernel_rows.iter().any(ResultRow::is_ok) {
        return Err(no_point(&why_nothing_measured(&kernel_rows)));
    }
    for row in &mut rows {
        row.run_id = Some(run.id.clone());
    }
    run.end(None);
    let mut file = ResultsFile::new(header.clone());
    file.ceilings = ceilings;
    file.merge(header, rows);
    file.record_run(run);
    file.apply_ceilings();
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
