//! Progress events from the run to the page: each one a JSON object with a `type`, handed
//! to the callback the page gave [`crate::run`], which draws it (progress bar, check and
//! point tables).

use crate::checks::{CheckReport, VerifySummary};
use crate::compiler::CompilerReport;
use crate::peer::PeerCheck;
use attnbench::results::{Ceilings, ResultRow};
use serde::Serialize;
use wasm_bindgen::JsValue;

/// One thing that happened.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event<'a> {
    /// The run begins: everything it does (probe, verification, sweep) fits in
    /// `budget_s` seconds from now.
    RunStart { budget_s: f64 },
    /// The device's ceilings were probed (in `seconds`), or why not.
    Probe {
        ceilings: Option<&'a Ceilings>,
        seconds: f64,
        skipped: Option<String>,
    },
    /// Verification begins: `total` checks of `kernels`, inputs from `seed` (as text: a
    /// u64 above 2^53 loses digits as a JavaScript number), within `budget_s` seconds.
    VerifyStart {
        total: usize,
        kernels: Vec<&'static str>,
        seed: String,
        budget_s: f64,
    },
    /// One check finished (`done` of `total`).
    Check {
        done: usize,
        total: usize,
        check: &'a CheckReport,
    },
    /// Verification ended.
    VerifyDone { summary: &'a VerifySummary },
    /// The browser's compiler checked every module compiled so far (after verification,
    /// and again after the sweep).
    Compiler { report: &'a CompilerReport },
    /// The sweep begins: `total` points, `budget_left_s` seconds of the run's budget left.
    SweepStart { total: usize, budget_left_s: f64 },
    /// A point is about to be measured.
    PointStart {
        done: usize,
        total: usize,
        family: &'a str,
        kernel: &'a str,
        shape: String,
    },
    /// A point was measured or skipped.
    Point {
        done: usize,
        total: usize,
        row: &'a ResultRow,
    },
    /// The peer's output at a point against the f64 reference.
    PeerCheck { check: &'a PeerCheck },
}

/// The page's event callback.
pub struct Events {
    callback: js_sys::Function,
}

impl Events {
    /// Events go to `callback` (called with one object).
    pub fn new(callback: js_sys::Function) -> Self {
        Events { callback }
    }

    /// Hands `event` to the page. A callback that throws is logged, not fatal: drawing
    /// progress must not stop a measurement.
    pub fn emit(&self, event: &Event<'_>) {
        let Ok(text) = serde_json::to_string(event) else {
            return;
        };
        let value = js_sys::JSON::parse(&text).unwrap_or_else(|_| JsValue::from_str(&text));
        if let Err(e) = self.callback.call1(&JsValue::NULL, &value) {
            web_sys::console::error_2(&JsValue::from_str("progress callback failed:"), &e);
        }
    }
}
