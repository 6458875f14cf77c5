//! flash against Burn, the native peer on the same adapter through the same wgpu: Burn's
//! `attention` (tracel-ai's cubek kernels, autotuned) in `attnbench-burn-peer` (`peers/burn`),
//! run as a child process under deadlines (a hung or crashed peer is a skipped row with its
//! reason). attnbench writes the inputs, the peer times its loops when asked, sample by
//! sample between flash's samples (flash, Burn, flash, Burn, …), then writes its output,
//! which attnbench checks against its own f64 reference.

use super::burn_peer::{BURN_PEER_NAME, BurnPeer, BurnRow, PeerCommand, PeerMessage};
use super::child::PeerChild;
use super::options::{MAX_SPREAD, Ratio, TargetOptions, Timed, measure_options};
use super::peers::PEER_REFERENCE_ROWS;
use crate::bench::Bench;
use crate::error::{Error, Result};
use crate::gpu::{BatchReading, TimingSource, per_run_times};
use crate::kernels::Kernel;
use crate::markdown::{Align, Cell, Table};
use crate::reference::{Comparison, attention_f64_last_rows, last_rows};
use crate::run::{KernelRun, Measurement, gflops};
use crate::shape::Shape;
use crate::tensors::{AttentionInputs, read_npy};
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

/// The least time the peer is given to start, load the inputs and warm up (its autotune
/// times each candidate several times) before it is killed; more where one flash call is
/// predicted to be long ([`ready_limit`]).
const READY_LIMIT: Duration = Duration::from_secs(300);

/// How long the peer may take to be ready at `shape`: [`READY_LIMIT`], or 100 flash calls
/// at flash's known rate where that is longer (Burn's autotune runs several candidates
/// several times, each possibly slower than flash).
fn ready_limit(shape: &Shape, options: &TargetOptions) -> Duration {
    let flash_call_s = options
        .flash_gflops_hint
        .map_or(0.0, |g| shape.flops() / (g.max(1e-3) * 1e9));
    READY_LIMIT.max(Duration::from_secs_f64(100.0 * flash_call_s))
}

/// The least a sample, or the peer's last answer, is waited for (more for long samples).
const ANSWER_LIMIT: Duration = Duration::from_secs(30);

/// flash against Burn at one shape, on the same inputs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BurnComparison {
    /// The shape (`B×H×n×d`, with HKV and causal).
    pub shape: String,
    /// flash's time, when measured.
    pub flash: Option<Timed>,
    /// Burn's time per call (wall clock over loops of ≥ 10 ms, each ending with a device
    /// sync), when it ran.
    pub burn: Option<Timed>,
    /// flash ÷ Burn (below 1: attnbench is faster).
    pub ratio: Option<Ratio>,
    /// flash's GFLOP/s (4·B·H·n²·d, halved when causal).
    pub flash_gflops: Option<f64>,
    /// Burn's GFLOP/s, same FLOP model.
    pub burn_gflops: Option<f64>,
    /// flash's error against the f64 reference (the last rows of each head).
    pub flash_rel_l2_err: Option<f64>,
    /// Burn's error against the same reference, from the output it wrote.
    pub burn_rel_l2_err: Option<f64>,
    /// The strategy Burn's autotune chose, where it could be read.
    pub strategy: Option<String>,
    /// `burn <version> on <adapter> (<backend>)`.
    pub peer: Option<String>,
    /// The peer's own row (its autotune candidates, peak bytes, and every sample it
    /// took: a re-measured comparison's first round too, where `burn` has the second's).
    pub burn_row: Option<BurnRow>,
    /// Why the comparison (or Burn's side of it) did not run.
    pub skipped: Option<String>,
}

impl BurnComparison {
    /// A comparison not run at `shape`, for `reason`.
    fn skipped(shape: &Shape, reason: String) -> Self {
        BurnComparison {
            shape: label(shape),
            skipped: Some(reason),
            ..BurnComparison::default()
        }
    }
}

/// `B×H×n×d`, with HKV and causal where set.
fn label(s: &Shape) -> String {
    let mut text = super::options::shape_text(s);
    if let Some(kv) = s.kv_heads.filter(|&kv| kv != s.heads) {
        text += &format!(" HKV={kv}");
    }
    if s.causal {
        text += " causal";
    }
    text
}

/// The arguments that have the peer serve `shape`'s inputs in `dir` on `bench`'s adapter.
fn peer_args(dir: &Path, shape: &Shape, bench: &Bench) -> Vec<String> {
    let summary = bench.summary();
    let mut args = vec![
        "--serve".to_string(),
        "--load-tensors".into(),
        dir.display().to_string(),
        "--save-output".into(),
        dir.display().to_string(),
        "--backend".into(),
        summary.backend.to_ascii_lowercase(),
        "--adapter".into(),
        summary.name.clone(),
    ];
    if shape.causal {
        args.push("--causal".into());
    }
    args
}

/// The peer's next message, or why there is none.
fn next_message(
    peer: &mut PeerChild,
    deadline: Instant,
    what: &str,
) -> std::result::Result<PeerMessage, String> {
    let line = peer.next_line(deadline, what)?;
    match serde_json::from_str::<PeerMessage>(&line) {
        Ok(PeerMessage::Failed { reason, .. }) => Err(format!("{BURN_PEER_NAME}: {reason}")),
        Ok(message) => Ok(message),
        Err(e) => Err(format!("{BURN_PEER_NAME} printed no message {what} ({e})")),
    }
}

/// What the peer said when it was ready.
struct Ready {
    sample_ms: f64,
    strategy: Option<String>,
}

/// How many times the peer is started at one shape when it crashes while warming up.
const START_TRIES: u32 = 3;

/// Why the peer did not start, and whether a fresh process may: it ended (crashed, or
/// said it failed) before its deadline, as with wgpu-core 30.0.2's race in
/// `Device::maintain` (gfx-rs/wgpu#9958), after which a new process runs the same shape.
struct StartFailure {
    reason: String,
    worth_retrying: bool,
}

impl From<String> for StartFailure {
    fn from(reason: String) -> Self {
        StartFailure {
            reason,
            worth_retrying: false,
        }
    }
}

/// Starts the peer on the inputs in `dir` and waits until it is warmed up, checking that
/// it runs on `bench`'s adapter.
fn start_peer(
    path: &Path,
    dir: &Path,
    shape: &Shape,
    bench: &Bench,
    options: &TargetOptions,
) -> std::result::Result<(PeerChild, Ready), StartFailure> {
    let mut peer = PeerChild::spawn(path, &peer_args(dir, shape, bench))?;
    let limit = Instant::now() + ready_limit(shape, options);
    let deadline = options.deadline.map_or(limit, |budget| budget.min(limit));
    let message = next_message(&mut peer, deadline, "while warming up").map_err(|reason| {
        if deadline < limit && Instant::now() >= deadline {
            format!(
                "the time budget ran out while Burn warmed up (its autotune included): {reason}"
            )
            .into()
        } else {
            StartFailure {
                reason,
                worth_retrying: Instant::now() < deadline,
            }
        }
    })?;
    let PeerMessage::Ready {
        adapter,
        backend,
        sample_ms,
        strategy,
        ..
    } = message
    else {
        return Err(format!("{BURN_PEER_NAME} answered {message:?} at start").into());
    };
    let ours = bench.summary();
    if adapter != ours.name || backend != ours.backend {
        return Err(format!(
            "Burn ran on {adapter} ({backend}), attnbench on {} ({}): not the same adapter",
            ours.name, ours.backend
        )
        .into());
    }
    Ok((
        peer,
        Ready {
            sample_ms,
            strategy,
        },
    ))
}

/// How long one answer of the peer is waited for.
fn answer_limit(ready: &Ready) -> Duration {
    ANSWER_LIMIT.max(Duration::from_secs_f64(
        ready.sample_ms.max(0.0) * 20.0 / 1e3,
    ))
}

/// The samples of one round: flash's batches (their timer decided over all of them) and
/// Burn's ms per call.
struct Rounds {
    flash: Vec<BatchReading>,
    burn: Vec<f64>,
}

impl Rounds {
    /// flash's measurement, its timer decided over all its batches (`gpu::per_run_times`).
    fn flash(&self, bench: &Bench) -> Result<Measurement> {
        let timestamps = bench
            .gpu()
            .features()
            .contains(wgpu::Features::TIMESTAMP_QUERY);
        Measurement::from_run_times(per_run_times(&self.flash, timestamps))
    }
}

/// flash's and Burn's samples taken in turn (flash's of `runs` runs each), until
/// `options`' sample count or its time budget; the peer's failure comes back as text with
/// the samples already taken.
fn sample_in_turn(
    (run, runs): (&KernelRun<'_>, u32),
    peer: &mut PeerChild,
    ready: &Ready,
    options: &TargetOptions,
) -> Result<(Rounds, Option<String>)> {
    let measure = measure_options(options);
    let started = Instant::now();
    let mut rounds = Rounds {
        flash: Vec::new(),
        burn: Vec::new(),
    };
    let mut taken = 0;
    while taken < measure.samples.max(1) {
        crate::interrupt::check()?;
        rounds
            .flash
            .extend(run.timed_samples(runs, 1, 1, None)?.batches);
        taken += 1;
        let answer = peer
            .send(PeerCommand::Sample.line())
            .and_then(|()| next_message(peer, Instant::now() + answer_limit(ready), "to a sample"));
        match answer {
            Ok(PeerMessage::Sample { ms }) if ms.is_finite() && ms > 0.0 => rounds.burn.push(ms),
            Ok(other) => return Ok((rounds, Some(format!("answered {other:?} to a sample")))),
            Err(reason) => return Ok((rounds, Some(reason))),
        }
        let enough = taken >= measure.min_samples;
        let out_of_time = measure.time_budget.is_some_and(|b| started.elapsed() >= b)
            || options.deadline.is_some_and(|d| Instant::now() >= d);
        if enough && out_of_time {
            break;
        }
    }
    Ok((rounds, None))
}

/// A time from samples in ms.
fn timed(samples: Vec<f64>, timing: TimingSource, remeasured: bool) -> Result<Timed> {
    Ok(Timed::of(
        &Measurement::from_samples(samples, timing)?,
        remeasured,
    ))
}

/// flash against Burn at each of `options.burn_shapes` (the targets' Burn step): a
/// comparison per shape, measured or skipped with its reason; steps that do not fit the
/// deadline are also listed in `skipped`.
pub fn compare_with_burn(
    bench: &Bench,
    options: &TargetOptions,
    skipped: &mut Vec<String>,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<BurnComparison>> {
    let flash: &dyn Kernel = &crate::kernels::flash::FLASH;
    let mut comparisons = Vec::new();
    for &shape in &options.burn_shapes {
        let what = format!("flash against Burn at {}", label(&shape));
        let comparison = if options.time_for_flash(&what, &shape, skipped) {
            compare_at(bench, flash, shape, options, log)?
        } else {
            BurnComparison::skipped(&shape, "the time budget ran out".into())
        };
        comparisons.push(comparison);
    }
    Ok(comparisons)
}

/// flash and Burn on the same inputs at `shape`, timed in turn, both outputs checked
/// against the f64 reference on the last rows of each head.
fn compare_at(
    bench: &Bench,
    flash: &dyn Kernel,
    shape: Shape,
    options: &TargetOptions,
    log: &mut dyn FnMut(&str),
) -> Result<BurnComparison> {
    let path = match &options.burn_peer {
        BurnPeer::At(path) => path.clone(),
        BurnPeer::Absent { looked } => {
            return Ok(BurnComparison::skipped(
                &shape,
                BurnPeer::absent_reason(looked),
            ));
        }
    };
    if shape.window.is_some() {
        let reason = "Burn's attention has no sliding window (only a materialized n×n mask)";
        return Ok(BurnComparison::skipped(&shape, reason.into()));
    }
    if let Err(e) = crate::run::PointPlan::checked(bench, flash, &shape) {
        return Ok(BurnComparison::skipped(&shape, e.to_string()));
    }
    let inputs = AttentionInputs::random(shape, 5)?;
    let dir = tempfile::tempdir().map_err(|e| Error::io("creating a temporary folder", e))?;
    inputs.save_npy_dir(dir.path())?;
    let mut started = start_peer(&path, dir.path(), &shape, bench, options);
    for tries in 2..=START_TRIES {
        match started {
            Err(failure) if failure.worth_retrying => {
                log(&format!(
                    "Burn peer at {}: {}; trying a fresh one",
                    label(&shape),
                    failure.reason
                ));
                started = start_peer(&path, dir.path(), &shape, bench, options).map_err(|e| {
                    StartFailure {
                        reason: format!("{tries} times: {}", e.reason),
                        ..e
                    }
                });
            }
            _ => break,
        }
    }
    let (mut peer, ready) = match started {
        Ok(started) => started,
        Err(failure) => {
            log(&format!(
                "Burn peer at {}: {}",
                label(&shape),
                failure.reason
            ));
            return Ok(BurnComparison::skipped(&shape, failure.reason));
        }
    };
    let run = KernelRun::plan_new(bench, flash, &inputs)?;
    let runs = run.calibrate(false)?;
    let (mut rounds, mut failure) = sample_in_turn((&run, runs), &mut peer, &ready, options)?;
    let too_spread = |m: &Measurement| {
        m.interval
            .is_some_and(|i| i.relative_spread(m.median_ms) > MAX_SPREAD)
    };
    let mut remeasured = false;
    if failure.is_none()
        && !rounds.burn.is_empty()
        && (too_spread(&rounds.flash(bench)?)
            || too_spread(&Measurement::from_samples(
                rounds.burn.clone(),
                TimingSource::WallClock,
            )?))
        && options.deadline.is_none_or(|d| Instant::now() < d)
    {
        (rounds, failure) = sample_in_turn((&run, runs), &mut peer, &ready, options)?;
        remeasured = true;
    }
    let flops = flash.flops(&shape);
    let flash_time = if rounds.flash.is_empty() {
        None
    } else {
        Some(Timed::of(&rounds.flash(bench)?, remeasured))
    };
    let rows = PEER_REFERENCE_ROWS.min(shape.seq_len);
    let reference = attention_f64_last_rows(&shape, &inputs.q, &inputs.k, &inputs.v, rows);
    let error_of =
        |out: &[f32]| Comparison::new(&last_rows(&shape, out, rows), &reference).rel_l2_error;
    run.poison_output()?;
    run.run_once()?;
    let flash_err = error_of(&run.read_output()?);
    drop(run);
    let mut comparison = BurnComparison::skipped(&shape, String::new());
    comparison.flash = flash_time;
    comparison.flash_gflops = flash_time.map(|t| gflops(flops, t.ms));
    comparison.flash_rel_l2_err = Some(flash_err);
    comparison.strategy = ready.strategy.clone();
    let finished = match failure {
        Some(reason) => Err(reason),
        None => finish_peer(peer, &ready),
    };
    let row = match finished {
        Ok(row) => row,
        Err(reason) => {
            log(&format!("Burn peer at {}: {reason}", label(&shape)));
            comparison.skipped = Some(reason);
            return Ok(comparison);
        }
    };
    let (dims, out) = read_npy(&dir.path().join("o.npy"))?;
    let expected = [shape.batch, shape.heads, shape.seq_len, shape.head_dim];
    if dims != expected {
        comparison.skipped = Some(format!(
            "Burn wrote an output of shape {dims:?}, not {expected:?}"
        ));
        return Ok(comparison);
    }
    let burn_time = timed(rounds.burn, TimingSource::WallClock, remeasured)?;
    comparison.burn = Some(burn_time);
    comparison.burn_gflops = Some(gflops(flops, burn_time.ms));
    comparison.burn_rel_l2_err = Some(error_of(&out));
    comparison.ratio = flash_time.map(|f| f.ratio(&burn_time));
    comparison.strategy = row.row.config.clone().or(comparison.strategy);
    comparison.peer = Some(format!(
        "burn {} on {} ({})",
        row.burn_version, row.adapter, row.backend
    ));
    comparison.burn_row = Some(row);
    comparison.skipped = None;
    log(&format!(
        "{}: flash {}, Burn {} ({})",
        comparison.shape,
        flash_time.map_or("-".into(), |t| t.describe()),
        burn_time.describe(),
        comparison.strategy.as_deref().unwrap_or("strategy unknown")
    ));
    Ok(comparison)
}

/// Asks the peer for its row (it writes its output first) and waits for it to exit.
fn finish_peer(mut peer: PeerChild, ready: &Ready) -> std::result::Result<BurnRow, String> {
    peer.send(PeerCommand::Finish.line())?;
    let limit = answer_limit(ready).saturating_mul(2);
    let message = next_message(&mut peer, Instant::now() + limit, "to finish")?;
    let _status = peer.finish(Instant::now() + ANSWER_LIMIT);
    match message {
        PeerMessage::Row { row } => Ok(*row),
        other => Err(format!("{BURN_PEER_NAME} answered {other:?} to finish")),
    }
}

/// The comparisons as Markdown.
pub(super) fn burn_table(comparisons: &[BurnComparison], timing: &str) -> String {
    if comparisons.is_empty() {
        return String::new();
    }
    let mut md = format!(
        "\nThe native peer on the same adapter through the same wgpu: Burn's `attention` \
         (cubek's kernels; the strategy its autotune chose), run by `{BURN_PEER_NAME}` as a \
         child process and timed in turn with flash, sample by sample, on the same f32 inputs. \
         flash: {timing}; Burn: wall clock per call over loops of ≥ 10 ms, each ending with a \
         device sync. Errors against the f64 reference on the last {PEER_REFERENCE_ROWS} rows \
         of each head, Burn's from the output it wrote; \"attnbench ÷ burn\" below 1: \
         attnbench is faster:\n\n"
    );
    let mut table = Table::new([
        ("shape", Align::Left),
        ("flash", Align::Right),
        ("Burn", Align::Right),
        ("Burn's strategy", Align::Left),
        ("GFLOP/s flash / Burn", Align::Right),
        ("rel. error flash / Burn", Align::Right),
        ("attnbench ÷ burn", Align::Right),
    ]);
    // The peer's words (its strategy, its failures) are text from another program,
    // escaped; the times and ratios are Markdown attnbench wrote.
    let num = |x: Option<f64>, f: fn(f64) -> String| x.map_or("-".to_string(), f);
    for c in comparisons {
        let flash = Cell::md(c.flash.map_or("-".into(), |t| t.describe()));
        let Some(burn) = c.burn else {
            let reason = c.skipped.as_deref().unwrap_or("?");
            table.row([
                Cell::from(&c.shape),
                flash,
                Cell::from(format!("not measured: {reason}")),
            ]);
            continue;
        };
        table.row([
            Cell::from(&c.shape),
            flash,
            Cell::md(burn.describe()),
            Cell::from(c.strategy.clone().unwrap_or_else(|| "?".into())),
            Cell::md(format!(
                "{} / {}",
                num(c.flash_gflops, |g| format!("{g:.1}")),
                num(c.burn_gflops, |g| format!("{g:.1}"))
            )),
            Cell::md(format!(
                "{} / {}",
                num(c.flash_rel_l2_err, |e| format!("{e:.1e}")),
                num(c.burn_rel_l2_err, |e| format!("{e:.1e}"))
            )),
            Cell::md(c.ratio.map_or("-".into(), |r| r.describe())),
        ]);
    }
    md += &table.render();
    if let Some(peer) = comparisons.iter().find_map(|c| c.peer.clone()) {
        md += &format!("\nThe peer: {}.\n", crate::markdown::text(&peer));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ratio and times are attnbench's Markdown; what the peer said (its strategy, a
    /// failure's reason) is escaped text, so it cannot break the table.
    #[test]
    fn the_table_escapes_the_peers_words_and_keeps_its_own() {
        let shape = Shape::new(2048, 64);
        let timed = |samples: &[f64]| Timed::from_samples(samples).unwrap();
        let (flash, burn) = (timed(&[10.0, 11.0, 12.0]), timed(&[30.0, 31.0, 33.0]));
        let mut measured = BurnComparison::skipped(&shape, String::new());
        measured.skipped = None;
        measured.flash = Some(flash);
        measured.burn = Some(burn);
        measured.ratio = Some(flash.ratio(&burn));
        measured.strategy = Some("unit|<b>".into());
        let failed = BurnComparison::skipped(&shape, "crashed | *badly*".into());
        let md = burn_table(&[measured, failed], "GPU timestamps");
        assert!(md.contains("attnbench ÷ burn"), "{md}");
        assert!(md.contains("**0.35×**"), "{md}");
        assert!(md.contains(r"unit\|\<b\>"), "{md}");
        assert!(md.contains(r"crashed \| \*badly\*"), "{md}");
        let rows: Vec<&str> = md
            .lines()
            .filter(|l| l.starts_with("| 1×1×2048×64"))
            .collect();
        assert_eq!(rows.len(), 2, "{md}");
        assert!(burn_table(&[], "").is_empty());
    }
}
