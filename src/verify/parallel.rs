//! Verification on several devices at once. What a check costs on a cold machine is the
//! compilation of its kernel, and CPU drivers compile on their queue's thread at a
//! pipeline's first dispatch: one device compiles on one core. Each device (one per core,
//! opened by the caller) takes whole groups of cases — one kernel and head dim each,
//! forward and backward together (a backward check runs its kernel's forward too), so no
//! pipeline is compiled twice — and takes its next group when it finishes one, heaviest
//! first, so the longest compiles start at once and the devices finish together.

use super::cases::Case;
use super::check::{Check, check};
use crate::bench::Bench;
use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

/// Most devices verification opens at once.
pub const MAX_DEVICES: usize = 4;

/// How many devices to verify on: one per core, at most [`MAX_DEVICES`] (each compiles on
/// its own core; more than that costs memory for little).
pub fn verification_devices() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, MAX_DEVICES))
}

/// The cases that share pipelines: one kernel at one head dim.
type Group = (&'static str, u32);

fn group_of(case: &Case) -> Group {
    (case.kernel.name(), case.shape.head_dim)
}

/// A guess of what a group costs to compile, to start the dearest first: unrolled kernels
/// grow with the head dim up to 128 (past it they hold fewer rows per invocation), and a
/// backward compiles two big kernels beside the forward.
fn weight(cases: &[Case], group: Group) -> u64 {
    let backward = cases
        .iter()
        .any(|c| group_of(c) == group && c.shape.pass.has_backward());
    u64::from(group.1.clamp(16, 128)) * if backward { 3 } else { 1 }
}

/// The groups of `cases`, dearest first, and for each case the index of its group in
/// that order.
pub(super) fn groups(cases: &[Case]) -> (Vec<Group>, Vec<usize>) {
    let mut groups: Vec<Group> = Vec::new();
    for case in cases {
        if !groups.contains(&group_of(case)) {
            groups.push(group_of(case));
        }
    }
    // Stable: among equal weights, the plan's order.
    groups.sort_by_key(|&g| std::cmp::Reverse(weight(cases, g)));
    let group_of_case = cases
        .iter()
        .map(|c| groups.iter().position(|&g| g == group_of(c)).unwrap_or(0))
        .collect();
    (groups, group_of_case)
}

/// Runs every case of `cases` with inputs from `seed`, spread over `benches` (one thread each),
/// and hands each check to `done` in the order of `cases`. Stops at the first error (or a
/// Ctrl-C) and returns it; checks that failed are results, not errors.
pub fn check_all(
    benches: &[&Bench],
    cases: &[Case],
    seed: u64,
    mut done: impl FnMut(&Case, Check, f64),
) -> Result<()> {
    let (groups, group_of_case) = groups(cases);
    let next_group = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (sender, receiver) = mpsc::channel::<(usize, Result<Check>, f64)>();
    std::thread::scope(|scope| {
        for &bench in benches {
            let sender = sender.clone();
            let (stop, next_group, groups, group_of_case) =
                (&stop, &next_group, &groups, &group_of_case);
            scope.spawn(move || {
                'groups: loop {
                    let g = next_group.fetch_add(1, Ordering::SeqCst);
                    if g >= groups.len() {
                        break;
                    }
                    for (i, case) in cases.iter().enumerate() {
                        if group_of_case[i] != g {
                            continue;
                        }
                        if stop.load(Ordering::SeqCst) || crate::interrupt::requested() {
                            break 'groups;
                        }
                        let began = web_time::Instant::now();
                        let result = check(bench, case.kernel, case.shape, seed, case.inputs);
                        let failed = result.is_err();
                        let _ = sender.send((i, result, began.elapsed().as_secs_f64()));
                        if failed {
                            stop.store(true, Ordering::SeqCst);
                            break 'groups;
                        }
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
    use crate::shape::Pass;
    use crate::verify::{Coverage, plan};

    #[test]
    fn a_kernels_forward_and_backward_share_a_group_and_the_dearest_comes_first() {
        let kernels = [find_kernel("naive").unwrap(), find_kernel("flash").unwrap()];
        let cases = plan(&kernels, Coverage::Device, None);
        let (order, group_of_case) = groups(&cases);
        for (i, a) in cases.iter().enumerate() {
            assert_eq!(order[group_of_case[i]], group_of(a));
        }
        // A d = 64 group with its backward (naive's, the plan's first) weighs most and
        // starts first.
        let first: Vec<&Case> = cases
            .iter()
            .enumerate()
            .filter(|&(i, _)| group_of_case[i] == 0)
            .map(|(_, c)| c)
            .collect();
        assert!(first.iter().any(|c| c.shape.pass == Pass::Forward));
        assert!(first.iter().any(|c| c.shape.pass == Pass::Backward));
        assert!(first.iter().all(|c| c.shape.head_dim == 64));
        let weights: Vec<u64> = order.iter().map(|&g| weight(&cases, g)).collect();
        assert!(weights.windows(2).all(|w| w[0] >= w[1]), "{weights:?}");
    }
}
