//! How close a forward output must be to the f64 reference. f32 kernels: their own
//! tolerance (relative L2 ≤ 1e-4). f16 kernels hold Q·scale, K and V in f16, so their error
//! depends on the inputs: the tolerance is a small multiple of the error of the same formula
//! evaluated exactly on f16-rounded inputs — large for peaked or large scores, small for
//! mild ones, so that a systematic 0.5% error fails on mild inputs.

use crate::kernels::{Kernel, Precision};
use crate::reference::{attention_f64_last_rows, attention_f64_rows};
use crate::tensors::AttentionInputs;

/// The multiple of the f16 rounding error an f16 kernel may reach (f16 arithmetic in its
/// four-element dot products adds to the rounding of its inputs).
const F16_ERROR_MULTIPLE: f64 = 4.0;

/// The tolerance of `kernel`'s forward output on `inputs`.
pub(super) fn forward(kernel: &dyn Kernel, inputs: &AttentionInputs) -> f64 {
    match kernel.precision() {
        Precision::F32 => kernel.tolerance(),
        Precision::F16 => {
            let floor = crate::kernels::KERNELS
                .iter()
                .find(|k| k.precision() == Precision::F32)
                .map_or(1e-4, |k| k.tolerance());
            (F16_ERROR_MULTIPLE * f16_rounding_error(kernel, inputs)).max(floor)
        }
    }
}

/// ‖ref(f16-rounded inputs) − ref(inputs)‖ / ‖ref(inputs)‖ on the rows `kernel` computes,
/// with Q rounded as the kernel holds it: multiplied by scale·log2(e) first.
fn f16_rounding_error(kernel: &dyn Kernel, inputs: &AttentionInputs) -> f64 {
    let shape = inputs.shape;
    let rows = kernel.query_rows(&shape);
    let scale_log2 = f64::from(shape.scale()) * std::f64::consts::LOG2_E;
    let round = |x: f64| f64::from(half::f16::from_f64(x));
    let q: Vec<f64> = inputs
        .q
        .iter()
        .map(|&x| round(f64::from(x) * scale_log2) / scale_log2)
        .collect();
    let k: Vec<f64> = inputs.k.iter().map(|&x| round(f64::from(x))).collect();
    let v: Vec<f64> = inputs.v.iter().map(|&x| round(f64::from(x))).collect();
    let exact = attention_f64_last_rows(&shape, &inputs.q, &inputs.k, &inputs.v, rows);
    let rounded = attention_f64_rows(&shape, &q, &k, &v, rows);
    let (mut diff2, mut ref2) = (0.0, 0.0);
    for (r, e) in rounded.iter().zip(&exact) {
        diff2 += (r - e) * (r - e);
        ref2 += e * e;
    }
    if ref2 > 0.0 {
        (diff2 / ref2).sqrt()
    } else {
        diff2.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::find_kernel;
    use crate::shape::Shape;
    use crate::verify::InputKind;

    #[test]
    fn f16_tolerances_follow_the_inputs_and_catch_a_half_percent_error() {
        let f16 = find_kernel("flash_f16").unwrap();
        let f32 = find_kernel("flash").unwrap();
        let shape = Shape::new(67, 64).with_causal(true);
        let uniform = InputKind::Uniform.inputs(shape, 5).unwrap();
        let large = InputKind::Large.inputs(shape, 5).unwrap();
        assert_eq!(forward(f32, &uniform), 1e-4);
        let mild = forward(f16, &uniform);
        assert!(
            mild < 5e-3 / 2.0,
            "a systematic 0.5% error must fail: {mild}"
        );
        assert!(
            forward(f16, &large) > mild,
            "large scores round worse in f16"
        );
    }
}
