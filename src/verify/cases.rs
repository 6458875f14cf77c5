//! What `verify`, the suite and the tests check ([`plan`]): each kernel on shapes chosen to
//! break attention kernels, with uniform and hostile inputs, forward and backward.
//!
//! Two coverages. [`Coverage::Device`] (the default) checks every code path of the
//! configurations the device runs, on few head dims: compiling a kernel for a head dim is
//! what a check costs (tens of seconds on a CPU driver, cold), so the default uses four —
//! 19 (not a multiple of four: the scalar loads), 64, 128 and 256 (the largest, where the
//! register-tiled kernels change shape) — and runs every input kind on a few shapes; the
//! backward only below d = 128 (lavapipe's cold compile of it at d = 128 alone takes over
//! 10 minutes).
//! [`Coverage::Exhaustive`] (`verify --all`, CI) adds head dims 3, 16, 32 and 80, every
//! shape with every input kind, and the backward on every shape.

use super::inputs::InputKind;
use crate::kernels::Kernel;
use crate::shape::{Pass, Shape};

/// How much to check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Coverage {
    /// Every code path of what the device runs, on few head dims.
    #[default]
    Device,
    /// Every shape with every kind of input, more head dims.
    Exhaustive,
}

/// One check: a kernel, a shape (its pass says forward, backward or both) and its inputs.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// The kernel.
    pub kernel: &'static dyn Kernel,
    /// The problem.
    pub shape: Shape,
    /// What the inputs look like.
    pub inputs: InputKind,
}

/// (B, H, HKV, n, d, causal, W): W = 0 for no window.
type Row = (u32, u32, u32, u32, u32, bool, u32);

/// The shapes of the default coverage: n = 1, 2 and 3, lengths that are no multiple of any
/// tile, batch and heads, grouped-query and multi-query attention, windows of 1, mid-block,
/// crossing blocks and longer than n, at head dims 19, 64, 128 and 256.
const DEVICE_SHAPES: &[Row] = &[
    (1, 1, 1, 1, 64, false, 0),
    (1, 1, 1, 2, 19, true, 0),
    (1, 2, 1, 3, 64, true, 0),
    (1, 1, 1, 67, 64, true, 0),
    (2, 3, 3, 100, 64, false, 0),
    (1, 2, 2, 129, 19, true, 0),
    (1, 1, 1, 256, 128, true, 0),
    (1, 1, 1, 33, 256, false, 0),
    (1, 2, 1, 1000, 64, true, 0),
    (1, 4, 2, 67, 64, false, 0),
    (2, 6, 1, 100, 64, true, 0),
    (1, 8, 2, 33, 19, false, 0),
    (1, 2, 1, 1, 64, true, 1),
    (1, 1, 1, 130, 64, true, 1),
    (1, 2, 2, 67, 19, true, 200),
    (1, 4, 2, 300, 64, true, 37),
    (2, 4, 2, 257, 128, true, 70),
];

/// Shapes the default coverage checks with every hostile input kind too: a causal block
/// boundary, a window with grouped-query attention, an odd head dim.
const HOSTILE_SHAPES: &[Row] = &[
    (1, 2, 2, 67, 64, true, 0),
    (1, 4, 2, 130, 64, true, 37),
    (1, 2, 1, 129, 19, false, 0),
];

/// What the exhaustive coverage adds: head dims 3, 16, 32, 80, and more of everything.
const MORE_SHAPES: &[Row] = &[
    (1, 1, 1, 1, 16, false, 0),
    (1, 1, 1, 2, 3, true, 0),
    (1, 1, 1, 67, 16, false, 0),
    (1, 1, 1, 67, 128, false, 0),
    (2, 3, 3, 100, 64, true, 0),
    (1, 2, 2, 129, 80, true, 0),
    (1, 1, 1, 256, 16, true, 0),
    (1, 1, 1, 256, 64, false, 0),
    (4, 8, 8, 17, 32, true, 0),
    (2, 6, 1, 100, 32, true, 0),
    (1, 2, 2, 67, 16, true, 200),
    (1, 1, 1, 1000, 64, true, 100),
    (1, 2, 1, 129, 80, true, 5),
    (1, 4, 4, 100, 256, true, 33),
];

fn shape((batch, heads, kv_heads, seq_len, head_dim, causal, window): Row) -> Shape {
    Shape::new(seq_len, head_dim)
        .with_batch_heads(batch, heads)
        .with_causal(causal)
        .with_kv_heads(kv_heads)
        .with_window((window > 0).then_some(window))
}

/// The forward shapes of `coverage`.
pub fn forward_shapes(coverage: Coverage) -> Vec<Shape> {
    let mut rows = DEVICE_SHAPES.to_vec();
    if coverage == Coverage::Exhaustive {
        rows.extend_from_slice(MORE_SHAPES);
    }
    rows.into_iter().map(shape).collect()
}

/// The forward cases of `coverage` for one kernel: every shape with uniform inputs, and
/// hostile inputs on [`HOSTILE_SHAPES`] (on every shape when exhaustive).
fn forward_cases(kernel: &'static dyn Kernel, coverage: Coverage) -> Vec<Case> {
    let case = |shape, inputs| Case {
        kernel,
        shape,
        inputs,
    };
    let mut cases: Vec<Case> = forward_shapes(coverage)
        .into_iter()
        .map(|s| case(s, InputKind::Uniform))
        .collect();
    let hostile: Vec<Shape> = match coverage {
        Coverage::Device => HOSTILE_SHAPES.iter().copied().map(shape).collect(),
        Coverage::Exhaustive => forward_shapes(coverage),
    };
    for s in hostile {
        cases.extend(InputKind::HOSTILE.iter().map(|&kind| case(s, kind)));
    }
    cases
}

/// Head dims the default coverage checks the backward below. d = 128 and 256 are left to
/// [`Coverage::Exhaustive`]: on a CPU driver the backward's broadcast kernels unroll their
/// per-row arrays (d = 128: 4 dQ rows of 3 × 128 floats, 2 dK/dV rows of 4 × 128), and
/// lavapipe took over 10 minutes, cold, to compile them at d = 128 (the whole `verify
/// --pass bwd --kernel flash` did not finish in 25). GPUs' register cap does not shrink
/// them there: CPU drivers are not capped. d = 19 and 64 still run every code path of the
/// backward (scalar and vec4 loads, every mask, grouped queries, windows).
const DEVICE_BACKWARD_HEAD_DIMS_BELOW: u32 = 128;

/// The forward shapes of `coverage` on which its backward is checked: below
/// [`DEVICE_BACKWARD_HEAD_DIMS_BELOW`] by default, every one when exhaustive.
fn backward_shapes(coverage: Coverage) -> Vec<Shape> {
    forward_shapes(coverage)
        .into_iter()
        .filter(|s| {
            coverage == Coverage::Exhaustive || s.head_dim < DEVICE_BACKWARD_HEAD_DIMS_BELOW
        })
        .collect()
}

/// The backward cases of `coverage` for one kernel with a backward: the backward alone on
/// [`backward_shapes`], peaked and large inputs on the hostile shapes, and one training
/// step (O and the gradients checked together).
fn backward_cases(kernel: &'static dyn Kernel, coverage: Coverage) -> Vec<Case> {
    let case = |shape: Shape, inputs| Case {
        kernel,
        shape: shape.with_pass(Pass::Backward),
        inputs,
    };
    let mut cases: Vec<Case> = backward_shapes(coverage)
        .into_iter()
        .map(|s| case(s, InputKind::Uniform))
        .collect();
    let kinds: &[InputKind] = match coverage {
        Coverage::Device => &[InputKind::Peaked, InputKind::Large],
        Coverage::Exhaustive => &InputKind::HOSTILE,
    };
    for s in HOSTILE_SHAPES.iter().copied().map(shape) {
        cases.extend(kinds.iter().map(|&kind| case(s, kind)));
    }
    cases.push(Case {
        kernel,
        shape: shape((2, 2, 2, 129, 19, true, 0)).with_pass(Pass::ForwardBackward),
        inputs: InputKind::Uniform,
    });
    cases
}

/// The checks of `kernels` at `coverage`: each kernel's forward cases, then its backward
/// cases where it has a backward. With `pass`, only that pass (the backward's shapes in it;
/// kernels without a backward keep their backward cases, to be refused with the reason).
pub fn plan(kernels: &[&'static dyn Kernel], coverage: Coverage, pass: Option<Pass>) -> Vec<Case> {
    let mut out = Vec::new();
    for &kernel in kernels {
        match pass {
            None | Some(Pass::Forward) => out.extend(forward_cases(kernel, coverage)),
            Some(pass) => out.extend(backward_shapes(coverage).into_iter().map(|s| Case {
                kernel,
                shape: s.with_pass(pass),
                inputs: InputKind::Uniform,
            })),
        }
        if pass.is_none() && kernel.backward().is_some() {
            out.extend(backward_cases(kernel, coverage));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::find_kernel;

    #[test]
    fn the_default_coverage_uses_four_head_dims_and_every_input_kind() {
        let flash = find_kernel("flash").unwrap();
        let cases = plan(&[flash], Coverage::Device, None);
        let mut dims: Vec<u32> = cases.iter().map(|c| c.shape.head_dim).collect();
        dims.sort_unstable();
        dims.dedup();
        assert_eq!(dims, [19, 64, 128, 256]);
        for kind in InputKind::ALL {
            assert!(
                cases
                    .iter()
                    .any(|c| c.inputs == kind && !c.shape.pass.has_backward())
            );
        }
        assert!(cases.iter().any(|c| c.shape.pass == Pass::Backward));
        assert!(cases.iter().any(|c| c.shape.pass == Pass::ForwardBackward));
        let naive_backward = plan(&[find_kernel("decode").unwrap()], Coverage::Device, None);
        assert!(naive_backward.iter().all(|c| !c.shape.pass.has_backward()));
        let all = plan(&[flash], Coverage::Exhaustive, None);
        assert!(all.len() > 2 * cases.len());
    }
}
