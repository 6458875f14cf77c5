//! The long-context targets, measured as ratios in one run on one adapter:
//! 1. decode at H = 1, n = 262 144, d = 64: achieved GB/s over K + V against the bandwidth
//!    `attnbench probe` measures;
//! 2. grouped-query decode (H = 8, HKV = 2) against multi-head decode (H = HKV = 8) at
//!    n = 65 536, and the GQA run's peak bytes against K + V;
//! 3. flash with a causal sliding window W = 256 against full causal flash at n = 8192;
//! 4. flash at d = 128 (B·H = 8, n = 4096), the head dim of most current LLMs, as a share of
//!    the probed f32 FMA peak;
//! 5. the seed's inference claim: one layer of a model with H = 32, HKV = 8, d = 128 at
//!    n = 10 000, causal — flash's prefill and decode's time per token — and what that
//!    means for 32 layers against a one-second budget (an extrapolation, stated as such).

use super::options::{Ratio, TargetOptions, Timed, interleaved, median_ms, or_skip, shape_text};
use super::peak::PeakFraction;
use crate::bench::Bench;
use crate::error::Result;
use crate::kernels::Kernel;
use crate::markdown::{Align, Table};
use crate::run::{KernelRun, MeasureOptions, gflops};
use crate::shape::Shape;
use crate::tensors::AttentionInputs;
use serde::Serialize;
use std::time::Duration;

/// Decode's achieved bandwidth.
#[derive(Clone, Debug, Serialize)]
pub struct DecodeBandwidth {
    /// The shape.
    pub shape: String,
    /// Time per generated token.
    pub time: Timed,
    /// Bytes decode must move (K + V + the query and output rows) over `ms`.
    pub gbps: f64,
    /// The probed device bandwidth.
    pub probed_gbps: f64,
    /// gbps / probed_gbps.
    pub fraction: f64,
}

/// Grouped-query decode against multi-head decode, and its memory.
#[derive(Clone, Debug, Serialize)]
pub struct GqaDecode {
    /// The GQA shape.
    pub gqa_shape: String,
    /// Time with HKV < H (interleaved with the next).
    pub gqa: Timed,
    /// Time with HKV = H.
    pub mha: Timed,
    /// gqa / mha.
    pub ratio: Ratio,
    /// Peak buffer bytes of the GQA run.
    pub gqa_peak_bytes: u64,
    /// K + V bytes of the GQA run.
    pub kv_bytes: u64,
    /// K + V + 10% + 1 MiB: the bound the peak should stay under.
    pub bound_bytes: u64,
}

/// A sliding window against full causal attention at the same n.
#[derive(Clone, Debug, Serialize)]
pub struct WindowSpeedup {
    /// The shape (causal).
    pub shape: String,
    /// The window W.
    pub window: u32,
    /// flash's time, full causal (interleaved with the next).
    pub full: Timed,
    /// flash's time with the window.
    pub windowed: Timed,
    /// full / windowed.
    pub speedup: Ratio,
}

/// One layer of a long-context model, measured, and the 32-layer extrapolation.
#[derive(Clone, Debug, Serialize)]
pub struct InferenceClaim {
    /// The layer's attention shape.
    pub shape: String,
    /// Equal slices of the layer's heads it ran in (1: whole), where the whole layer does
    /// not fit the device's buffers; the times are one slice's times the slices.
    pub slices: u32,
    /// flash's prefill time for the layer (median of `prefill_samples` runs).
    pub prefill_ms: f64,
    /// Timed prefill runs.
    pub prefill_samples: usize,
    /// decode's time per generated token for the layer.
    pub decode_ms: f64,
    /// Layers of the extrapolated model.
    pub layers: u32,
    /// layers × prefill_ms, in seconds.
    pub model_prefill_s: f64,
    /// layers × decode_ms.
    pub model_decode_ms: f64,
}

/// Everything the long-context targets measured (each `None` when not measured; the report's
/// `skipped` says why).
#[derive(Clone, Debug, Default, Serialize)]
pub struct LongContext {
    /// Decode's share of the probed bandwidth.
    pub decode_bandwidth: Option<DecodeBandwidth>,
    /// Grouped-query decode against multi-head decode.
    pub gqa_decode: Option<GqaDecode>,
    /// A sliding window against full causal attention.
    pub window: Option<WindowSpeedup>,
    /// flash at d = 128 against the FMA peak.
    pub d128_peak: Option<PeakFraction>,
    /// The inference claim.
    pub inference: Option<InferenceClaim>,
}

fn label(s: &Shape) -> String {
    let mut text = shape_text(s);
    if let Some(kv) = s.kv_heads {
        text += &format!(" HKV={kv}");
    }
    if let Some(w) = s.window {
        text += &format!(" W={w}");
    }
    if s.causal {
        text += " causal";
    }
    text
}

/// Measures the long-context targets. `peak_gflops` and `bandwidth_gbps` are the probed ceilings.
/// A step whose shape the device cannot hold (or a kernel refuses) is recorded in `skipped`
/// with the reason and the bytes; the other steps still run.
pub(super) fn measure(
    bench: &Bench,
    options: &TargetOptions,
    (peak_gflops, bandwidth_gbps): (f64, f64),
    skipped: &mut Vec<String>,
    log: &mut dyn FnMut(&str),
) -> Result<LongContext> {
    let mut out = LongContext::default();
    measure_decode(bench, options, bandwidth_gbps, skipped, log, &mut out)?;
    measure_flash(bench, options, peak_gflops, skipped, log, &mut out)?;
    Ok(out)
}

/// decode's share of the bandwidth, and grouped-query decode against HKV = H.
fn measure_decode(
    bench: &Bench,
    options: &TargetOptions,
    bandwidth_gbps: f64,
    skipped: &mut Vec<String>,
    log: &mut dyn FnMut(&str),
    out: &mut LongContext,
) -> Result<()> {
    let shapes = &options.long_context;
    let decode: &dyn Kernel = &crate::kernels::decode::DECODE;
    let what = "decode's bandwidth";
    let shape = shapes.decode_bandwidth;
    if options.time_for(what, skipped) {
        out.decode_bandwidth = or_skip(what, skipped, || {
            let (time, _) = median_ms(bench, decode, &AttentionInputs::random(shape, 3)?, options)?;
            let gbps = decode.min_bytes(&shape) as f64 / (time.ms * 1e6);
            log(&format!(
                "decode {}: {}, {gbps:.2} GB/s of {bandwidth_gbps:.2}",
                label(&shape),
                time.describe()
            ));
            Ok(DecodeBandwidth {
                shape: label(&shape),
                time,
                gbps,
                probed_gbps: bandwidth_gbps,
                fraction: gbps / bandwidth_gbps,
            })
        })?;
    }

    let what = "grouped-query decode";
    let gqa = shapes.gqa_decode;
    if options.time_for(what, skipped) {
        out.gqa_decode = or_skip(what, skipped, || {
            let mha = gqa.with_kv_heads(gqa.heads);
            let gqa_inputs = AttentionInputs::random(gqa, 4)?;
            let gqa_peak_bytes =
                KernelRun::plan_new(bench, decode, &gqa_inputs)?.peak_buffer_bytes();
            let mha_inputs = AttentionInputs::random(mha, 4)?;
            let (gqa_time, mha_time) =
                interleaved(bench, (decode, &gqa_inputs), (decode, &mha_inputs), options)?;
            let kv_bytes = 2 * gqa.kv_tensor_bytes();
            log(&format!(
                "decode {}: {} vs {} with HKV = H",
                label(&gqa),
                gqa_time.describe(),
                mha_time.describe()
            ));
            Ok(GqaDecode {
                gqa_shape: label(&gqa),
                gqa: gqa_time,
                mha: mha_time,
                ratio: gqa_time.ratio(&mha_time),
                gqa_peak_bytes,
                kv_bytes,
                bound_bytes: kv_bytes + kv_bytes / 10 + (1 << 20),
            })
        })?;
    }

    Ok(())
}

/// flash with a sliding window against full causal, flash at d = 128 against the FMA
/// peak, and the inference claim.
fn measure_flash(
    bench: &Bench,
    options: &TargetOptions,
    peak_gflops: f64,
    skipped: &mut Vec<String>,
    log: &mut dyn FnMut(&str),
    out: &mut LongContext,
) -> Result<()> {
    let shapes = &options.long_context;
    let flash: &dyn Kernel = &crate::kernels::flash::FLASH;
    let decode: &dyn Kernel = &crate::kernels::decode::DECODE;
    let what = "flash with a sliding window";
    let full = shapes.window_full;
    if options.time_for_flash(what, &full, skipped) {
        out.window = or_skip(what, skipped, || {
            let windowed = full.with_window(Some(shapes.window));
            let (full_time, window_time) = interleaved(
                bench,
                (flash, &AttentionInputs::random(full, 5)?),
                (flash, &AttentionInputs::random(windowed, 5)?),
                options,
            )?;
            log(&format!(
                "flash {}: {} vs {} full causal",
                label(&windowed),
                window_time.describe(),
                full_time.describe()
            ));
            Ok(WindowSpeedup {
                shape: label(&full),
                window: shapes.window,
                full: full_time,
                windowed: window_time,
                speedup: full_time.ratio(&window_time),
            })
        })?;
    }

    let what = "flash at d = 128";
    let shape = shapes.d128;
    if options.time_for_flash(what, &shape, skipped) {
        out.d128_peak = or_skip(what, skipped, || {
            let (time, _) = median_ms(bench, flash, &AttentionInputs::random(shape, 6)?, options)?;
            let g = gflops(flash.flops(&shape), time.ms);
            log(&format!(
                "flash {}: {}, {g:.1} GFLOP/s of {peak_gflops:.1}",
                label(&shape),
                time.describe()
            ));
            Ok(PeakFraction::new(
                label(&shape),
                crate::run::label_of(bench, flash, &shape),
                (time, g),
                peak_gflops,
            ))
        })?;
    }

    let what = "the inference claim";
    let shape = shapes.inference;
    if options.time_for_flash(what, &shape, skipped) {
        out.inference = or_skip(what, skipped, || {
            inference(bench, flash, decode, shape, shapes.layers, log)
        })?;
    }
    Ok(())
}

/// The layer in equal slices of its heads (H/s query heads with HKV/s KV heads each, the
/// same work per slice) when the whole layer does not fit the device's buffers (lavapipe's
/// bindings hold 128 MiB; q at H = 32, n = 10 000, d = 128 is 164 MB): the slice and the
/// number of slices.
fn layer_slice(bench: &Bench, kernel: &dyn Kernel, shape: Shape) -> Result<(Shape, u32)> {
    let mut slices = 1;
    loop {
        let slice = Shape {
            heads: shape.heads / slices,
            kv_heads: shape.kv_heads.map(|kv| kv / slices),
            ..shape
        };
        match crate::run::PointPlan::checked(bench, kernel, &slice) {
            Ok(_) => return Ok((slice, slices)),
            Err(e @ crate::error::Error::TooLarge { .. }) => {
                let next = slices * 2;
                if !shape.kv_head_count().is_multiple_of(next) {
                    return Err(e);
                }
                slices = next;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The inference claim: one layer's prefill (flash) and per-token decode at `shape`. A
/// prefill run takes long on slow adapters (half a minute on lavapipe), so it is timed
/// without a warm-up (pipelines are compiled before timing) and as few as one run. Where
/// the layer does not fit the device's buffers it runs in equal slices of its heads, and
/// one slice's time counts once per slice.
fn inference(
    bench: &Bench,
    flash: &dyn Kernel,
    decode: &dyn Kernel,
    shape: Shape,
    layers: u32,
    log: &mut dyn FnMut(&str),
) -> Result<InferenceClaim> {
    let (slice, slices) = layer_slice(bench, flash, shape)?;
    let inputs = AttentionInputs::random(slice, 7)?;
    let prefill = KernelRun::plan_new(bench, flash, &inputs)?.measure(&MeasureOptions {
        warmup: 0,
        samples: 3,
        time_budget: Some(Duration::from_secs(20)),
        min_samples: 1,
    })?;
    let step = KernelRun::plan_new(bench, decode, &inputs)?.measure(&MeasureOptions {
        warmup: 2,
        samples: 10,
        time_budget: Some(Duration::from_secs(10)),
        min_samples: 3,
    })?;
    let prefill_ms = prefill.median_ms * f64::from(slices);
    let decode_ms = step.median_ms * f64::from(slices);
    log(&format!(
        "one layer at {} ({slices} slice(s) of {} heads): prefill {prefill_ms:.0} ms, decode {decode_ms:.2} ms per token",
        label(&shape),
        slice.heads
    ));
    Ok(InferenceClaim {
        shape: label(&shape),
        slices,
        prefill_ms,
        prefill_samples: prefill.samples_ms.len(),
        decode_ms,
        layers,
        model_prefill_s: f64::from(layers) * prefill_ms / 1e3,
        model_decode_ms: f64::from(layers) * decode_ms,
    })
}

impl LongContext {
    /// The report's long-context section as Markdown.
    pub fn markdown(&self) -> String {
        let mut md = String::from(
            "\nLong context (GQA, sliding windows, decode against a KV cache; decode's GB/s are \
             the bytes it must move — K, V and the query and output rows — over its time):\n\n",
        );
        let mut table = Table::of_markdown([("target", Align::Left), ("measured", Align::Right)]);
        if let Some(b) = &self.decode_bandwidth {
            table.row([
                format!("decode {} vs probed bandwidth", b.shape),
                format!(
                    "{:.2} / {:.2} GB/s = **{:.0}%** ({:.1} ms per token)",
                    b.gbps,
                    b.probed_gbps,
                    100.0 * b.fraction,
                    b.time.ms
                ),
            ]);
        }
        if let Some(g) = &self.gqa_decode {
            table.row([
                format!("GQA decode {} vs HKV = H", g.gqa_shape),
                format!(
                    "{} vs {} (interleaved) = {} the time",
                    g.gqa.describe(),
                    g.mha.describe(),
                    g.ratio.describe()
                ),
            ]);
            table.row([
                format!("GQA decode {} peak bytes", g.gqa_shape),
                format!(
                    "{} vs K + V {} (+ 10% + 1 MiB = {}): **{}**",
                    crate::report::human_bytes(g.gqa_peak_bytes),
                    crate::report::human_bytes(g.kv_bytes),
                    crate::report::human_bytes(g.bound_bytes),
                    if g.gqa_peak_bytes <= g.bound_bytes {
                        "within"
                    } else {
                        "over"
                    }
                ),
            ]);
        }
        if let Some(w) = &self.window {
            table.row([
                format!("flash {} with W = {} vs full causal", w.shape, w.window),
                format!(
                    "{} vs {} (interleaved) = {} faster",
                    w.windowed.describe(),
                    w.full.describe(),
                    w.speedup.describe()
                ),
            ]);
        }
        if let Some(p) = &self.d128_peak {
            table.row(p.table_row());
        }
        md += &table.render();
        if let Some(c) = &self.inference {
            let verdict = if c.model_prefill_s <= 1.0 {
                "within"
            } else {
                "over"
            };
            md += &format!(
                "\nThe seed's inference claim (an assistant must answer a 10 000-token context \
                 within a second). One attention layer at {}, measured: flash prefill \
                 **{:.0} ms** (median of {} run(s){}), decode **{:.2} ms per generated token**. \
                 Extrapolated from that one layer to a {}-layer model (attention only; the \
                 feed-forward layers, the rest of the model and any batching are not counted): \
                 prefill {:.1} s — **{verdict}** the 1-second budget on this device — and \
                 {:.1} ms of attention per generated token.\n",
                c.shape,
                c.prefill_ms,
                c.prefill_samples,
                if c.slices > 1 {
                    format!(
                        "; in {} equal slices of the heads, which the device's buffers need, one slice's time counted {} times",
                        c.slices, c.slices
                    )
                } else {
                    String::new()
                },
                c.decode_ms,
                c.layers,
                c.model_prefill_s,
                c.model_decode_ms
            );
        }
        md
    }
}
