//! Verification on several devices at once. What a check costs on a cold machine is the
//! compilation of its kernel, and CPU drivers compile on their queue's thread at a
//! pipeline's first dispatch: one device compiles on one core. Each device (one per core,
//! opened by the caller) takes whole groups of cases — one kernel, head dim and direction
//! each, which share their pipelines — so no pipeline is compiled twice, and the groups
//! are dealt heaviest first to the device with the least work so far.

use super::cases::Case;
use super::check::{Check, check};
use crate::error::{Error, Result};
use crate::gpu::Gpu;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

/// The cases that share pipelines: one kernel, one head dim, forward or backward.
fn group_of(case: &Case) -> (&'static str, u32, bool) {
    (
        case.kernel.name(),
        case.shape.head_dim,
        case.shape.pass.has_backward(),
    )
}

/// A guess of what a group costs to compile, to balance the devices: a backward compiles
/// two big kernels, and unrolled kernels grow with the head dim.
fn weight(group: (&'static str, u32, bool)) -> u64 {
    let (_, head_dim, backward) = group;
    u64::from(head_dim.max(16)) * if backward { 3 } else { 1 }
}

/// Which device each case runs on: whole groups, heaviest first, each to the device with
/// the least weight so far.
pub fn assign(cases: &[Case], devices: usize) -> Vec<usize> {
    let mut groups: Vec<(&'static str, u32, bool)> = Vec::new();
    for case in cases {
        if !groups.contains(&group_of(case)) {
            groups.push(group_of(case));
        }
    }
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by_key(|&g| std::cmp::Reverse(weight(groups[g])));
    let mut load = vec![0u64; devices.max(1)];
    let mut device_of_group = vec![0usize; groups.len()];
    for g in order {
        let device = (0..load.len()).min_by_key(|&d| load[d]).unwrap_or(0);
        load[device] += weight(groups[g]);
        device_of_group[g] = device;
    }
    cases
        .iter()
        .map(|c| {
            let g = groups.iter().position(|&x| x == group_of(c)).unwrap_or(0);
            device_of_group[g]
        })
        .collect()
}

/// Runs every case of `cases` with inputs from `seed`, spread over `gpus` (one thread each),
/// and hands each check to `done` in the order of `cases`. Stops at the first error (or a
/// Ctrl-C) and returns it; checks that failed are results, not errors.
pub fn check_all(
    gpus: &[&Gpu],
    cases: &[Case],
    seed: u64,
    mut done: impl FnMut(&Case, Check, f64),
) -> Result<()> {
    let device_of = assign(cases, gpus.len());
    let stop = AtomicBool::new(false);
    let (sender, receiver) = mpsc::channel::<(usize, Result<Check>, f64)>();
    std::thread::scope(|scope| {
        for (d, &gpu) in gpus.iter().enumerate() {
            let sender = sender.clone();
            let (stop, device_of) = (&stop, &device_of);
            scope.spawn(move || {
                for (i, case) in cases.iter().enumerate() {
                    if device_of[i] != d {
                        continue;
                    }
                    if stop.load(Ordering::SeqCst) || crate::interrupt::requested() {
                        break;
                    }
                    let began = web_time::Instant::now();
                    let result = check(gpu, case.kernel, case.shape, seed, case.inputs);
                    let failed = result.is_err();
                    let _ = sender.send((i, result, began.elapsed().as_secs_f64()));
                    if failed {
                        stop.store(true, Ordering::SeqCst);
                        break;
                    }
                }
            });
        }
        drop(sender);
        // In the order of `cases`: results that arrive early wait for their turn.
        let mut pending: Vec<Option<(Check, f64)>> = vec![None; cases.len()];
        let mut next = 0;
        for (i, result, seconds) in receiver {
            match result {
                Ok(check) => pending[i] = Some((check, seconds)),
                Err(e) => {
                    stop.store(true, Ordering::SeqCst);
                    return Err(e);
                }
            }
            while next < cases.len() {
                let Some((check, seconds)) = pending[next].take() else {
                    break;
                };
                done(&cases[next], check, seconds);
                next += 1;
            }
        }
        if next < cases.len() {
            crate::interrupt::check()?;
            return Err(Error::Gpu {
                during: "verifying".into(),
                message: format!(
                    "{} of {} checks did not report",
                    cases.len() - next,
                    cases.len()
                ),
            });
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::find_kernel;
    use crate::verify::{Coverage, plan};

    #[test]
    fn groups_stay_on_one_device_and_the_load_is_shared() {
        let kernels = [find_kernel("naive").unwrap(), find_kernel("flash").unwrap()];
        let cases = plan(&kernels, Coverage::Device, None);
        let device_of = assign(&cases, 2);
        for (i, a) in cases.iter().enumerate() {
            for (j, b) in cases.iter().enumerate() {
                if group_of(a) == group_of(b) {
                    assert_eq!(device_of[i], device_of[j]);
                }
            }
        }
        assert!(device_of.contains(&0) && device_of.contains(&1));
        assert!(assign(&cases, 1).iter().all(|&d| d == 0));
    }
}
