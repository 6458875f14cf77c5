//! How close a forward output must be to the f64 reference. f32 kernels: their own
//! tolerance (relative L2 ≤ 1e-4). f16 kernels hold Q·scale, K and V in f16 and take their
//! scores from f16 dot products, so their error depends on the inputs: the tolerance is a
//! small multiple of the error that arithmetic predicts — large for peaked or large scores,
//! small for mild ones, so that a systematic 0.5% error fails on mild inputs.

use crate::kernels::{Kernel, Precision};
use crate::reference::{attention_f64_last_rows, attention_f64_rows_scored};
use crate::shape::Shape;
use crate::tensors::AttentionInputs;
use half::f16;

/// The multiple of the predicted f16 error an f16 kernel may reach: room for a GPU whose
/// rounding follows none of the modelled orders.
const F16_ERROR_MULTIPLE: f64 = 3.0;

/// The tolerance of `kernel`'s forward output on `inputs`.
pub(super) fn forward(kernel: &dyn Kernel, inputs: &AttentionInputs) -> f64 {
    match kernel.precision() {
        Precision::F32 => kernel.tolerance(),
        Precision::F16 => {
            let floor = crate::kernels::KERNELS
                .iter()
                .find(|k| k.precision() == Precision::F32)
                .map_or(1e-4, |k| k.tolerance());
            (F16_ERROR_MULTIPLE * f16_arithmetic_error(kernel, inputs)).max(floor)
        }
    }
}

/// Query rows × keys × head dim up to which the f16 error is predicted on every row.
const PREDICTION_MACS: u64 = 1 << 26;

/// The f16 kernel's error as its arithmetic predicts it: the largest of
/// ‖ref_f16 − ref‖ / ‖ref‖ on the rows `kernel` computes over the orders a GPU may round a
/// four-element f16 dot product in ([`dot_sequential`] and the three after it), where ref_f16 holds Q·scale·log2(e),
/// K and V rounded to f16 as the kernel does and sums each score's f16 dot products in f32
/// (here f64). Large scores lose most to the dot products: partial sums of hundreds keep
/// only a few bits after the point. One order alone can under-predict another's error
/// several times over on a few rows; their largest does not. A shape past
/// [`PREDICTION_MACS`] is predicted from the last rows of its first head: a relative error
/// over hundreds of rows is as good a prediction as over all of them.
fn f16_arithmetic_error(kernel: &dyn Kernel, inputs: &AttentionInputs) -> f64 {
    let full = inputs.shape;
    let full_rows = kernel.query_rows(&full);
    let per_row = u64::from(full.seq_len) * u64::from(full.head_dim);
    let (shape, rows) = if full.batch_heads() * u64::from(full_rows) * per_row <= PREDICTION_MACS {
        (full, full_rows)
    } else {
        let rows = (PREDICTION_MACS / per_row).clamp(1, u64::from(full_rows)) as u32;
        let one_head = Shape {
            batch: 1,
            heads: 1,
            kv_heads: None,
            ..full
        };
        (one_head, rows)
    };
    // Head 0's query rows (all the rows q holds for it) and its KV head's keys and values.
    let q_len = inputs.q.len() / full.batch_heads() as usize * shape.batch_heads() as usize;
    let kv_len = shape.kv_tensor_elements() as usize;
    let (q32, k32, v32) = (&inputs.q[..q_len], &inputs.k[..kv_len], &inputs.v[..kv_len]);
    let scale_log2 = f64::from(shape.scale()) * std::f64::consts::LOG2_E;
    let q: Vec<f64> = q32
        .iter()
        .map(|&x| round_f16(f64::from(x) * scale_log2))
        .collect();
    let k: Vec<f64> = k32.iter().map(|&x| round_f16(f64::from(x))).collect();
    let v: Vec<f64> = v32.iter().map(|&x| round_f16(f64::from(x))).collect();
    let exact = attention_f64_last_rows(&shape, q32, k32, v32, rows);
    let error = |dot4: fn(&[f64], &[f64]) -> f64| {
        let score = |qi: &[f64], kj: &[f64]| -> f64 {
            let chunks = qi.chunks(4).zip(kj.chunks(4));
            chunks.map(|(a, b)| dot4(a, b)).sum::<f64>() * std::f64::consts::LN_2
        };
        relative_l2(
            &attention_f64_rows_scored(&shape, &q, &k, &v, rows, score),
            &exact,
        )
    };
    [
        error(dot_sequential),
        error(dot_fused),
        error(dot_pairwise),
        error(dot_rounded_once),
    ]
    .into_iter()
    .fold(0.0, f64::max)
}

/// A four-element f16 dot product (of up to four elements of `a` and `b`): products and
/// sums in sequence, each rounded.
#[inline(always)]
fn dot_sequential(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .fold(0.0, |sum, (&x, &y)| round_f16(sum + round_f16(x * y)))
}

/// A chain of fused multiply-adds.
#[inline(always)]
fn dot_fused(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .fold(0.0, |sum, (&x, &y)| round_f16(sum + x * y))
}

/// Each product rounded, summed in pairs.
#[inline(always)]
fn dot_pairwise(a: &[f64], b: &[f64]) -> f64 {
    let mut products = [0.0; 4];
    for (p, (&x, &y)) in products.iter_mut().zip(a.iter().zip(b)) {
        *p = round_f16(x * y);
    }
    round_f16(round_f16(products[0] + products[1]) + round_f16(products[2] + products[3]))
}

/// The exact sum rounded once.
#[inline(always)]
fn dot_rounded_once(a: &[f64], b: &[f64]) -> f64 {
    round_f16(a.iter().zip(b).map(|(&x, &y)| x * y).sum::<f64>())
}

/// ‖a − b‖ / ‖b‖ (‖a − b‖ where b is zero).
fn relative_l2(a: &[f64], b: &[f64]) -> f64 {
    let (mut diff2, mut ref2) = (0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        diff2 += (x - y) * (x - y);
        ref2 += y * y;
    }
    if ref2 > 0.0 {
        (diff2 / ref2).sqrt()
    } else {
        diff2.sqrt()
    }
}

/// `x` rounded to the nearest f16. In f16's normal range by Veltkamp's split (x keeps the
/// 11 significant bits of an f16), three flops where the `half` crate's conversion costs
/// tens: the tolerance rounds every product of a reference pass.
fn round_f16(x: f64) -> f64 {
    const SPLIT: f64 = ((1u64 << (f64::MANTISSA_DIGITS - f16::MANTISSA_DIGITS)) + 1) as f64;
    let normal = f64::from(f16::MIN_POSITIVE)..=f64::from(f16::MAX);
    if normal.contains(&x.abs()) {
        let c = SPLIT * x;
        c - (c - x)
    } else {
        f64::from(f16::from_f64(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::find_kernel;
    use crate::shape::Shape;
    use crate::verify::InputKind;

    #[test]
    fn rounding_to_f16_matches_the_conversion() {
        let mut x = 1.0e-9f64;
        while x < 60_000.0 {
            for v in [x, -x, x * 1.000_244_140_625, x * 0.999_755_859_375] {
                let (got, expected) = (round_f16(v), f64::from(f16::from_f64(v)));
                assert_eq!(f64::from(f16::from_f64(got)), got, "{v}: not an f16");
                // Both nearest (a tie may go either way).
                assert!(
                    (got - v).abs() <= (expected - v).abs(),
                    "{v}: {got} vs {expected}"
                );
            }
            x *= 1.37;
        }
    }

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
