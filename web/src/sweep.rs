//! The browser's driver of the core sweep ([`SweepRunner`] on [`SweepConfig::page`]): the
//! same points, phases, stop rules and skip reasons as `cargo bench` and `attnbench sweep`,
//! awaited instead of blocked on, each point sampled as `attnbench sweep` samples it
//! ([`sweep_sampling`]: a time budget per point; a long point its own samples), its run's
//! buffers freed before the next; every point not measured is a row with its reason. The
//! page's peer (ONNX Runtime Web) is measured beside the kernels: at each n of a prefill
//! family, when the sweep reaches it ([`PeerLine`]).

use crate::events::{Event, Events};
use crate::peer::Peer;
use crate::peer_line::PeerLine;
use attnbench::results::{ResultRow, Skip};
use attnbench::run::{KernelRun, MeasureOptions};
use attnbench::sweep::{
    Family, FamilyKind, MeasureCost, PointMeasured, SweepConfig, SweepPoint, SweepRunner,
    SweepStep, point_options, sweep_sampling,
};
use attnbench::tensors::AttentionInputs;
use attnbench::{Bench, Error, Kernel};
use web_time::Instant;

/// Timed runs of an ordinary point (within twice the run budget: [`sweep_sampling`]).
const SAMPLES: u32 = 10;

/// What to sweep: the core's page sweep ([`SweepConfig::page`]) and its families.
pub struct SweepPlan {
    config: SweepConfig,
    families: Vec<Family>,
    deadline: Instant,
}

/// Why ORT's MultiHeadAttention cannot run a family, if it cannot.
fn peer_refuses(family: &Family) -> Option<String> {
    match family.kind {
        FamilyKind::Prefill { causal: false, .. } => None,
        FamilyKind::Prefill { causal: true, .. } => Some(
            "ONNX Runtime Web's WebGPU MultiHeadAttention refuses unidirectional (causal) \
             attention"
                .into(),
        ),
        _ => Some("no ONNX Runtime Web model of this family".into()),
    }
}

impl SweepPlan {
    /// n from `min_n` doubling to `max_n` for `kernels`, inputs from `seed`, nothing started
    /// past `deadline`.
    pub fn new(
        kernels: &[&'static dyn Kernel],
        (min_n, max_n): (u32, u32),
        seed: u64,
        deadline: Instant,
    ) -> Self {
        let config = SweepConfig::page(kernels, (min_n, max_n), seed, deadline);
        let families = config.page_families();
        SweepPlan {
            config,
            families,
            deadline,
        }
    }

    /// Points of the kernels in all.
    pub fn points(&self) -> usize {
        let kernels = &self.config.kernels;
        self.families
            .iter()
            .map(|f| {
                let lines = kernels
                    .iter()
                    .filter(|k| k.workload() == f.workload())
                    .count();
                lines * f.shapes.len()
            })
            .sum()
    }

    /// Points in all, the peer's among them when there is one.
    pub fn total(&self, peer: Option<&Peer>) -> usize {
        let peer_points: usize =
            peer.map_or(0, |p| self.peer_lines(p).iter().map(PeerLine::len).sum());
        self.points() + peer_points
    }

    /// The peer's lines: one per prefill family (a causal one refused with the reason).
    fn peer_lines(&self, peer: &Peer) -> Vec<PeerLine> {
        self.families
            .iter()
            .filter(|f| matches!(f.kind, FamilyKind::Prefill { .. }))
            .map(|f| {
                let refused = peer
                    .unavailable()
                    .or_else(|| peer_refuses(f))
                    .map(|reason| Skip::Unsupported { reason });
                PeerLine::new(f, refused)
            })
            .collect()
    }
}

/// How an ordinary point is sampled.
fn sampling(config: &SweepConfig) -> MeasureOptions {
    sweep_sampling(config.time_budget, SAMPLES)
}

/// Runs `plan` on `bench`, with `peer` beside the kernels; `unverified(kernel)` says why a
/// kernel must not be measured. Returns one row per point, measured or skipped. Only a
/// lost device, or an error that is not the device's, ends the sweep early.
pub async fn sweep(
    bench: &Bench,
    plan: &SweepPlan,
    peer: Option<&Peer>,
    unverified: &dyn Fn(&str) -> Option<String>,
    events: &Events,
) -> Result<Vec<ResultRow>, Error> {
    let excluded = |kernel: &dyn Kernel, _: &Family| {
        unverified(kernel.name()).map(|reason| Skip::Unsupported { reason })
    };
    let base = sampling(&plan.config);
    let cost = MeasureCost {
        overhead: std::time::Duration::ZERO,
        runs_per_point: base.warmup + base.samples,
    };
    let mut runner = SweepRunner::new(
        bench.planner(),
        &plan.config,
        &plan.families,
        cost,
        &excluded,
    );
    let mut peer_lines = peer.map(|p| plan.peer_lines(p)).unwrap_or_default();
    let peer_points: usize = peer_lines.iter().map(PeerLine::len).sum();
    let mut peer_done = 0;
    while let Some(step) = runner.next(Instant::now())? {
        let (runner_done, runner_total) = runner.progress();
        let total = runner_total + peer_points;
        let (family, seq_len) = match &step {
            SweepStep::Skipped(row) => (row.family.clone(), row.seq_len),
            SweepStep::Measure(point) => (point.family.to_string(), point.shape.seq_len),
        };
        // The peer at this n first, once.
        if let Some(peer) = peer
            && let Some(line) = peer_lines.iter_mut().find(|l| l.family == family)
            && let Some(i) = line.pending(seq_len)
        {
            let before = runner_done - 1 + peer_done;
            measure_peer(peer, line, i, (plan, &base), (before, total), events).await;
            peer_done += 1;
        }
        let before = runner_done - 1 + peer_done;
        match step {
            SweepStep::Skipped(row) => events.emit(&Event::Point {
                done: before + 1,
                total,
                row: &row,
            }),
            SweepStep::Measure(point) => {
                events.emit(&Event::PointStart {
                    done: before,
                    total,
                    family: point.family,
                    kernel: point.kernel.name(),
                    shape: point.shape.to_string(),
                });
                let outcome = measure(bench, &point, &base, plan.config.seed).await;
                if let Err(e @ Error::DeviceLost(_)) = outcome {
                    return Err(e);
                }
                if let Some(row) = runner.record(point, outcome.map(Some))? {
                    events.emit(&Event::Point {
                        done: before + 1,
                        total,
                        row: &row,
                    });
                }
            }
        }
    }
    let mut rows = runner.finish();
    for line in peer_lines {
        rows.extend(line.finish());
    }
    Ok(rows)
}

/// Measures the peer's point `i` of `line` and emits its check and row.
async fn measure_peer(
    peer: &Peer,
    line: &mut PeerLine,
    i: usize,
    (plan, base): (&SweepPlan, &MeasureOptions),
    (done, total): (usize, usize),
    events: &Events,
) {
    let shape = line.shape(i);
    let now = Instant::now();
    let row = match line.plan(i, (now, plan.deadline), base, plan.config.time_budget) {
        Err(row) => *row,
        Ok(options) => {
            events.emit(&Event::PointStart {
                done,
                total,
                family: &line.family,
                kernel: attnbench::report::ORT_PEER,
                shape: shape.to_string(),
            });
            let outcome = peer.measure(&shape, plan.config.seed, &options).await;
            if let Ok(point) = &outcome {
                events.emit(&Event::PeerCheck {
                    check: &point.check,
                });
            }
            line.record(i, outcome.as_ref().map_err(Clone::clone))
        }
    };
    events.emit(&Event::Point {
        done: done + 1,
        total,
        row: &row,
    });
}

/// Allocates, uploads and measures `point` (sampled from `base`); returns the measurement,
/// the peak bytes of the run's buffers and the phase split (as native sweeps record it).
/// The run's buffers are freed when it returns.
async fn measure(
    bench: &Bench,
    point: &SweepPoint<'_>,
    base: &MeasureOptions,
    seed: u64,
) -> Result<PointMeasured, Error> {
    let inputs = AttentionInputs::random(point.shape, seed)?;
    let run = KernelRun::new_async(bench, &point.plan, &inputs).await?;
    let m = run
        .measure_async(&point_options(base, point.samples))
        .await?;
    bench.check_health(&format!("measuring {}", point.kernel.name()))?;
    let phases = run
        .phase_split_async(attnbench::run::sweep_repeats(m.median_ms))
        .await?;
    Ok(PointMeasured {
        measurement: m,
        peak_buffer_bytes: run.peak_buffer_bytes(),
        phases,
    })
}
