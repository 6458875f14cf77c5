//! The checks of the one validating loader of results files (`ResultsFile` is
//! deserialized through [`StoredResultsFile`] and these checks): every number finite and in
//! range, intervals that hold their median and have the samples they need, shapes with no
//! zero size, one row per point, every row's run recorded, and a known family that agrees
//! with its row. A file that fails is refused whole, with the row and the field.
//! [`check_time_ms`] and friends are shared with the other files of a device folder.

use super::family::FamilyKind;
use super::header::DeviceHeader;
use super::run::{Ceilings, RunRecord};
use super::schema::{ResultRow, Status};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The longest time a row may state: a day, in ms. A median past it is no measurement of
/// attnbench's (a run's budget is seconds), and charts need finite axes.
pub const DAY_MS: f64 = 86_400_000.0;

/// The largest rate a file may state, GFLOP/s or GB/s: an exa-unit, far past any device.
pub const MAX_RATE: f64 = 1e9;

/// The most families, and kernels, one results file may hold: a full sweep has about 25
/// families and 6 kernels; each family is a set of charts to draw.
pub const MAX_FAMILIES: usize = 64;

/// A time in ms: finite, above 0 and under a day.
pub fn check_time_ms(field: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && value > 0.0 && value < DAY_MS {
        Ok(())
    } else {
        Err(format!(
            "{field}: {value} is not a time in ms (finite, above 0, under a day)"
        ))
    }
}

/// A rate or ceiling: finite, above 0 and at most [`MAX_RATE`].
pub fn check_rate(field: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && value > 0.0 && value <= MAX_RATE {
        Ok(())
    } else {
        Err(format!(
            "{field}: {value} is not a rate (finite, above 0, at most {MAX_RATE:e})"
        ))
    }
}

/// A derived quantity: finite and at least 0, at most `max`.
fn check_amount(field: &str, value: f64, max: f64) -> Result<(), String> {
    if value.is_finite() && value >= 0.0 && value <= max {
        Ok(())
    } else {
        Err(format!(
            "{field}: {value} is out of range (finite, 0 to {max:e})"
        ))
    }
}

fn each_optional(
    fields: &[(&str, Option<f64>)],
    check: impl Fn(&str, f64) -> Result<(), String>,
) -> Result<(), String> {
    for (field, value) in fields {
        if let Some(v) = value {
            check(field, *v)?;
        }
    }
    Ok(())
}

/// The device's ceilings: every one a rate.
pub fn check_ceilings(field: &str, c: &Ceilings) -> Result<(), String> {
    check_rate(&format!("{field}.fma_f32_gflops"), c.fma_f32_gflops)?;
    if let Some(f16) = c.fma_f16_gflops {
        check_rate(&format!("{field}.fma_f16_gflops"), f16)?;
    }
    check_rate(&format!("{field}.bandwidth_gbps"), c.bandwidth_gbps)?;
    // Transfer rates are 0 where only the quick probe ran.
    check_amount(&format!("{field}.upload_gbps"), c.upload_gbps, MAX_RATE)?;
    check_amount(&format!("{field}.readback_gbps"), c.readback_gbps, MAX_RATE)
}

/// A header's identity: an adapter and a backend to name the device by.
pub fn check_header(h: &DeviceHeader) -> Result<(), String> {
    for (field, text) in [
        ("device.adapter", &h.adapter),
        ("device.backend", &h.backend),
    ] {
        if text.trim().is_empty() {
            return Err(format!("{field}: empty"));
        }
    }
    Ok(())
}

/// One run record: an id, finite ceilings and stability.
fn check_run(i: usize, run: &RunRecord) -> Result<(), String> {
    let at = |field: &str| format!("runs[{i}] ({}): {field}", run.id);
    if run.id.trim().is_empty() {
        return Err(format!("runs[{i}]: id: empty"));
    }
    for (field, c) in [
        ("ceilings_start", &run.ceilings_start),
        ("ceilings_end", &run.ceilings_end),
    ] {
        if let Some(c) = c {
            check_ceilings(&at(field), c)?;
        }
    }
    if let Some(s) = &run.stability {
        for (field, v) in [
            ("stability.fma_change", s.fma_change),
            ("stability.bandwidth_change", s.bandwidth_change),
        ] {
            if !v.is_finite() {
                return Err(format!("{}: {v} is not finite", at(field)));
            }
        }
    }
    Ok(())
}

/// Where a row is, for messages: `rows[12] (prefill-d64 flash n=1024 d=64)`.
fn row_place(i: usize, r: &ResultRow) -> String {
    format!(
        "rows[{i}] ({} {} n={} d={})",
        r.family.escape_debug(),
        r.kernel.escape_debug(),
        r.seq_len,
        r.head_dim
    )
}

/// The shape's sizes: nothing zero, heads a multiple of the KV heads, a window of at least
/// one key on a causal mask; a measured row's shape passes every check kernels rely on.
fn check_shape(r: &ResultRow) -> Result<(), String> {
    for (field, value) in [
        ("batch", r.batch),
        ("heads", r.heads),
        ("seq_len", r.seq_len),
        ("head_dim", r.head_dim),
    ] {
        if value == 0 {
            return Err(format!("{field}: 0 (at least 1)"));
        }
    }
    if let Some(kv) = r.kv_heads
        && (kv == 0 || !r.heads.is_multiple_of(kv))
    {
        return Err(format!(
            "kv_heads: {kv} does not divide heads ({})",
            r.heads
        ));
    }
    if let Some(w) = r.window
        && (w == 0 || !r.causal)
    {
        return Err(format!("window: {w} (at least 1, on a causal mask)"));
    }
    if r.is_ok() {
        r.shape()
            .validate()
            .map_err(|e| format!("shape of a measured row: {e}"))?;
    }
    Ok(())
}

/// A measured row's times: a median, its extremes around it, an interval that holds it
/// from at least two samples, every time in range.
fn check_times(r: &ResultRow) -> Result<(), String> {
    let Some(median) = r.median_ms else {
        return Err("median_ms: missing on a measured row".into());
    };
    check_time_ms("median_ms", median)?;
    if r.samples == 0 {
        return Err("samples: 0 on a measured row".into());
    }
    let time_or_zero = |field: &str, v: f64| {
        if v == 0.0 {
            Ok(())
        } else {
            check_time_ms(field, v)
        }
    };
    each_optional(&[("min_ms", r.min_ms), ("max_ms", r.max_ms)], time_or_zero)?;
    if let Some(min) = r.min_ms.filter(|&m| m > median) {
        return Err(format!("min_ms: {min} is above median_ms {median}"));
    }
    if let Some(max) = r.max_ms.filter(|&m| m < median) {
        return Err(format!("max_ms: {max} is below median_ms {median}"));
    }
    match (r.interval_low_ms, r.interval_high_ms) {
        (None, None) => {}
        (Some(low), Some(high)) => {
            time_or_zero("interval_low_ms", low)?;
            check_time_ms("interval_high_ms", high)?;
            if !(low <= median && median <= high) {
                return Err(format!(
                    "interval_low_ms, interval_high_ms: {low}–{high} does not hold median_ms {median}"
                ));
            }
            if r.samples < 2 {
                return Err(format!(
                    "interval_low_ms: an interval from {} sample(s) (it needs 2 or more)",
                    r.samples
                ));
            }
        }
        _ => return Err("interval_low_ms, interval_high_ms: only one end given".into()),
    }
    if let Some(c) = r.interval_coverage
        && !(c.is_finite() && (0.0..=1.0).contains(&c))
    {
        return Err(format!("interval_coverage: {c} is not a probability"));
    }
    Ok(())
}

/// A skipped row states no time.
fn check_skipped(r: &ResultRow) -> Result<(), String> {
    for (field, value) in [
        ("median_ms", r.median_ms),
        ("interval_low_ms", r.interval_low_ms),
        ("interval_high_ms", r.interval_high_ms),
        ("gflops", r.gflops),
    ] {
        if let Some(v) = value {
            return Err(format!("{field}: {v} on a skipped row"));
        }
    }
    Ok(())
}

/// The row's derived numbers: FLOPs, rates and shares finite and in range.
fn check_derived(r: &ResultRow) -> Result<(), String> {
    check_amount("flops", r.flops, 1e30)?;
    each_optional(
        &[("gflops", r.gflops), ("achieved_gbps", r.achieved_gbps)],
        |field, v| check_amount(field, v, MAX_RATE),
    )?;
    each_optional(
        &[
            ("pct_of_fma_peak", r.pct_of_fma_peak),
            ("pct_of_bandwidth", r.pct_of_bandwidth),
        ],
        |field, v| check_amount(field, v, 1e6),
    )?;
    // A model of a read-back (also of points never run), not a measurement: any finite
    // time.
    each_optional(
        &[("scores_transfer_ms", r.scores_transfer_ms)],
        |field, v| check_amount(field, v, 1e15),
    )
}

/// The row's family, where it is a known one, agrees with the row: its name, the shape's
/// fixed sizes and pass, the axis and the workload.
fn check_family(r: &ResultRow, kind: &FamilyKind) -> Result<(), String> {
    if kind.name() != r.family {
        return Err(format!(
            "family_kind: {} does not name family {:?}",
            kind.name(),
            r.family
        ));
    }
    kind.holds(&r.shape())
        .map_err(|field| format!("{field}: not a point of family {}", r.family))?;
    if r.axis != kind.axis() {
        return Err(format!("axis: not the axis of family {}", r.family));
    }
    if r.workload != kind.workload() {
        return Err(format!("workload: not the workload of family {}", r.family));
    }
    Ok(())
}

/// Phases a row may split its time into (naive's backward names seven), and the longest
/// phase name.
const MAX_PHASES: usize = 16;
const MAX_PHASE_NAME: usize = 32;

/// A row's phase split: a few named phases, each a time in range and a rate in range.
fn check_phases(split: &super::PhaseSplit) -> Result<(), String> {
    if split.phases.len() > MAX_PHASES || split.repeats == 0 {
        return Err(format!(
            "phases: {} phases over {} repeats (1 to {MAX_PHASES} phases, 1 repeat or more)",
            split.phases.len(),
            split.repeats
        ));
    }
    for p in &split.phases {
        if p.phase.is_empty() || p.phase.chars().count() > MAX_PHASE_NAME {
            return Err(format!(
                "phases: a phase name of {} characters (1 to {MAX_PHASE_NAME})",
                p.phase.chars().count()
            ));
        }
        check_amount("phases.median_ms", p.median_ms, DAY_MS)?;
        each_optional(&[("phases.gflops", p.gflops)], |field, v| {
            check_amount(field, v, MAX_RATE)
        })?;
    }
    Ok(())
}

/// Every check of one row.
fn check_row(r: &ResultRow, runs: &[RunRecord]) -> Result<(), String> {
    check_shape(r)?;
    match r.status {
        Status::Ok => check_times(r)?,
        Status::Skipped => check_skipped(r)?,
    }
    check_derived(r)?;
    if let Some(split) = &r.phases {
        check_phases(split)?;
    }
    if let Some(kind) = &r.family_kind {
        check_family(r, kind)?;
    }
    if let Some(id) = &r.run_id
        && !runs.iter().any(|run| &run.id == id)
    {
        return Err(format!(
            "run_id: {:?} names no run of the file's `runs`",
            id
        ));
    }
    Ok(())
}

/// Every check of a results file's parts; the first failure, naming the row (or part)
/// and field.
pub(super) fn check_results(
    device: &DeviceHeader,
    ceilings: Option<&Ceilings>,
    runs: &[RunRecord],
    rows: &[ResultRow],
) -> Result<(), String> {
    check_header(device)?;
    if let Some(c) = ceilings {
        check_ceilings("ceilings", c)?;
    }
    for (i, run) in runs.iter().enumerate() {
        check_run(i, run)?;
        if let Some(j) = runs[..i].iter().position(|o| o.id == run.id) {
            return Err(format!("runs[{i}]: id {:?} repeats runs[{j}]", run.id));
        }
    }
    for (what, count) in [
        ("families", distinct(rows.iter().map(|r| &r.family))),
        ("kernels", distinct(rows.iter().map(|r| &r.kernel))),
    ] {
        if count > MAX_FAMILIES {
            return Err(format!(
                "rows: {count} {what}, more than the {MAX_FAMILIES} a results file may hold"
            ));
        }
    }
    let mut keys = std::collections::HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        check_row(row, runs).map_err(|e| format!("{}: {e}", row_place(i, row)))?;
        if let Some(j) = keys.insert(row.key(), i) {
            return Err(format!(
                "{}: the same point as rows[{j}] (one row per family, kernel, shape and dtype)",
                row_place(i, row)
            ));
        }
    }
    Ok(())
}

/// How many distinct values `values` holds.
fn distinct<'a>(values: impl Iterator<Item = &'a String>) -> usize {
    values.collect::<std::collections::HashSet<_>>().len()
}

/// A results file as stored: its parts parsed one by one (so that a type error names the
/// run or row and the field, [`parse`]), then checked ([`check_results`]) into a
/// `ResultsFile`. Rows of files written before their family was recorded get it from
/// their family's name, here, once.
#[derive(Deserialize)]
pub(super) struct StoredResultsFile {
    schema: String,
    device: Value,
    #[serde(default)]
    ceilings: Option<Value>,
    #[serde(default)]
    runs: Vec<Value>,
    rows: Vec<Value>,
}

/// `value` as a `T`; on a type error, the message names `place` and the field whose value
/// `T` cannot take (found by putting each field of `value` into `template`, a valid `T`,
/// until one breaks it).
fn parse<T: DeserializeOwned + serde::Serialize>(
    place: &str,
    value: Value,
    template: &T,
) -> Result<T, String> {
    serde_json::from_value::<T>(value.clone()).map_err(|e| {
        let field = (|| {
            let template = serde_json::to_value(template).ok()?;
            value.as_object()?.iter().find_map(|(key, v)| {
                let mut one = template.clone();
                one[key] = v.clone();
                serde_json::from_value::<T>(one)
                    .is_err()
                    .then(|| key.escape_debug().to_string())
            })
        })();
        match field {
            Some(field) => format!("{place}: {field}: {e}"),
            None => format!("{place}: {e}"),
        }
    })
}

/// A results file's parts, checked: schema, header, ceilings, runs and rows.
pub(super) type Parts = (
    String,
    DeviceHeader,
    Option<Ceilings>,
    Vec<RunRecord>,
    Vec<ResultRow>,
);

impl StoredResultsFile {
    /// Its parts, each parsed and every check passed ([`check_results`]).
    pub(super) fn checked(self) -> Result<Parts, String> {
        let header = DeviceHeader {
            adapter: "a".into(),
            vendor: 0,
            backend: "b".into(),
            device_type: String::new(),
            driver: String::new(),
            wgpu_version: String::new(),
            attnbench_version: String::new(),
            git_commit: None,
            date: String::new(),
            os: String::new(),
            memory_budget_bytes: None,
            max_storage_buffer_binding_size: 0,
        };
        let ceilings = Ceilings {
            fma_f32_gflops: 1.0,
            fma_f16_gflops: None,
            bandwidth_gbps: 1.0,
            upload_gbps: 1.0,
            readback_gbps: 1.0,
        };
        let run = RunRecord {
            id: "r".into(),
            kind: super::RunKind::Sweep,
            started: String::new(),
            finished: None,
            commit: None,
            sources: String::new(),
            attnbench_version: String::new(),
            wgpu_version: String::new(),
            adapter: String::new(),
            backend: String::new(),
            driver: String::new(),
            inputs: String::new(),
            settings: Vec::new(),
            ceilings_start: None,
            ceilings_end: None,
            stability: None,
        };
        let row = ResultRow::new("prefill-d1", "naive", &crate::shape::Shape::new(1, 1));
        let stored = self;
        let device: DeviceHeader = parse("device", stored.device, &header)?;
        let ceilings: Option<Ceilings> = stored
            .ceilings
            .filter(|c| !c.is_null())
            .map(|c| parse("ceilings", c, &ceilings))
            .transpose()?;
        let runs: Vec<RunRecord> = stored
            .runs
            .into_iter()
            .enumerate()
            .map(|(i, r)| parse(&format!("runs[{i}]"), r, &run))
            .collect::<Result<_, _>>()?;
        let mut rows: Vec<ResultRow> = stored
            .rows
            .into_iter()
            .enumerate()
            .map(|(i, r)| parse(&format!("rows[{i}]"), r, &row))
            .collect::<Result<_, _>>()?;
        for row in &mut rows {
            if row.family_kind.is_none() {
                row.family_kind = FamilyKind::from_name(&row.family, row.window);
            }
        }
        check_results(&device, ceilings.as_ref(), &runs, &rows)?;
        Ok((stored.schema, device, ceilings, runs, rows))
    }
}
