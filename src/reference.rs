//! The CPU reference: attention in f64, and the comparison every kernel must pass.

use crate::shape::Shape;
use serde::Serialize;

/// `softmax(scale·QKᵀ [causal]) · V` in f64 for `[B, H, n, d]` inputs (max-subtracted softmax).
pub fn attention_f64(shape: &Shape, q: &[f32], k: &[f32], v: &[f32]) -> Vec<f64> {
    attention_f64_last_rows(shape, q, k, v, shape.seq_len)
}

/// Like [`attention_f64`] for only the last `rows` query rows of each (batch, head):
/// `[B, H, rows, d]` (what a decode kernel computes).
pub fn attention_f64_last_rows(
    shape: &Shape,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    rows: u32,
) -> Vec<f64> {
    attention_rows(shape, q, k, v, rows)
}

/// The forward pass in f64 for inputs of any float type (f32 tensors, or f64 ones in the
/// gradient checks). K and V are `[B, HKV, n, d]` (grouped-query attention); q holds either
/// all n rows of each (batch, head) or only the last ones (at least `rows`: a decode step's
/// one-row q). Query i sees [`Shape::visible_keys`] (causal, sliding window).
fn attention_rows<T: Copy + Into<f64>>(
    shape: &Shape,
    q: &[T],
    k: &[T],
    v: &[T],
    rows: u32,
) -> Vec<f64> {
    let scale = 1.0 / (shape.head_dim as f64).sqrt();
    let dot = |qi: &[T], kj: &[T]| -> f64 {
        let dot: f64 = qi.iter().zip(kj).map(|(&a, &b)| a.into() * b.into()).sum();
        dot * scale
    };
    attention_f64_rows_scored(shape, q, k, v, rows, dot)
}

/// The forward pass in f64 on the last `rows` query rows, with each score `scale·q·k` computed by `score(q_row, k_row)`
/// instead: the reference itself (scaled dot products in f64), or a model of a kernel's own
/// score arithmetic (e.g. f16 dot products).
pub fn attention_f64_rows_scored<T: Copy + Into<f64>>(
    shape: &Shape,
    q: &[T],
    k: &[T],
    v: &[T],
    rows: u32,
    score: impl Fn(&[T], &[T]) -> f64,
) -> Vec<f64> {
    let n = shape.seq_len as usize;
    let d = shape.head_dim as usize;
    let rows = (rows as usize).min(n);
    let q_rows = q.len() / (shape.batch_heads() as usize * d).max(1);
    assert!(
        q_rows >= rows && q_rows <= n,
        "q holds {q_rows} rows per head, {rows} needed"
    );
    let mut out = vec![0.0f64; shape.batch_heads() as usize * rows * d];
    let mut scores = vec![0.0f64; n];
    for head in 0..shape.batch_heads() as usize {
        let kv_base = shape.kv_head_of(head as u64) as usize * n * d;
        let q_base = head * q_rows * d;
        let out_base = head * rows * d;
        for i in n - rows..n {
            let keys = shape.visible_keys(i as u32);
            let (first, end) = (keys.start as usize, keys.end as usize);
            let qr = i - (n - q_rows);
            let qi = &q[q_base + qr * d..q_base + (qr + 1) * d];
            let mut max = f64::NEG_INFINITY;
            for (j, s) in scores.iter_mut().enumerate().take(end).skip(first) {
                *s = score(qi, &k[kv_base + j * d..kv_base + (j + 1) * d]);
                max = max.max(*s);
            }
            let mut sum = 0.0;
            for s in scores.iter_mut().take(end).skip(first) {
                *s = (*s - max).exp();
                sum += *s;
            }
            let r = i - (n - rows);
            let oi = &mut out[out_base + r * d..out_base + (r + 1) * d];
            for (j, &p) in scores.iter().enumerate().take(end).skip(first) {
                let vj = &v[kv_base + j * d..kv_base + (j + 1) * d];
                for (o, &x) in oi.iter_mut().zip(vj) {
                    *o += p / sum * x.into();
                }
            }
        }
    }
    out
}

/// Gradients of attention in f64: dQ, dK and dV (each `[B, H, n, d]`) of
/// `O = softmax(scale·QKᵀ [causal]) · V` for the output gradient `d_o`, computed row by
/// row as FlashAttention-2's backward does, with O(n) memory beyond the outputs:
/// P recomputed per row, dV += Pᵀ·dO, dP = dO·Vᵀ, D = rowsum(dO ∘ O) = rowsum(P ∘ dP),
/// dS = P ∘ (dP − D), dQ = scale·dS·K, dK = scale·dSᵀ·Q.
pub fn attention_backward_f64(
    shape: &Shape,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    d_o: &[f32],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    backward_rows(shape, q, k, v, d_o)
}

fn backward_rows<T: Copy + Into<f64>>(
    shape: &Shape,
    q: &[T],
    k: &[T],
    v: &[T],
    d_o: &[T],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = shape.seq_len as usize;
    let d = shape.head_dim as usize;
    let scale = 1.0 / (d as f64).sqrt();
    let len = shape.batch_heads() as usize * n * d;
    let kv_len = shape.kv_tensor_elements() as usize;
    let (mut dq, mut dk, mut dv) = (vec![0.0; len], vec![0.0; kv_len], vec![0.0; kv_len]);
    let wide = |t: &[T]| -> Vec<f64> { t.iter().map(|&x| x.into()).collect() };
    let (q, k, v, d_o) = (wide(q), wide(k), wide(v), wide(d_o));
    let dot = |a: &[f64], b: &[f64]| -> f64 { a.iter().zip(b).map(|(x, y)| x * y).sum() };
    let mut p = vec![0.0f64; n];
    let mut dp = vec![0.0f64; n];
    for head in 0..shape.batch_heads() as usize {
        let base = head * n * d;
        let kv_base = shape.kv_head_of(head as u64) as usize * n * d;
        let row = |i: usize| base + i * d..base + (i + 1) * d;
        let kv_row = |j: usize| kv_base + j * d..kv_base + (j + 1) * d;
        for i in 0..n {
            let visible = shape.visible_keys(i as u32);
            let (first, keys) = (visible.start as usize, visible.end as usize);
            let (qi, doi) = (&q[row(i)], &d_o[row(i)]);
            let mut max = f64::NEG_INFINITY;
            for j in first..keys {
                p[j] = scale * dot(qi, &k[kv_row(j)]);
                max = max.max(p[j]);
            }
            let mut sum = 0.0;
            for pj in &mut p[first..keys] {
                *pj = (*pj - max).exp();
                sum += *pj;
            }
            let mut big_d = 0.0;
            for j in first..keys {
                p[j] /= sum;
                dp[j] = dot(doi, &v[kv_row(j)]);
                big_d += p[j] * dp[j];
            }
            for j in first..keys {
                let ds = scale * p[j] * (dp[j] - big_d);
                for c in 0..d {
                    dq[base + i * d + c] += ds * k[kv_base + j * d + c];
                    dk[kv_base + j * d + c] += ds * qi[c];
                    dv[kv_base + j * d + c] += p[j] * doi[c];
                }
            }
        }
    }
    (dq, dk, dv)
}

/// The last `rows` query rows of each (batch, head) of a `[B, H, n, d]` tensor.
pub fn last_rows(shape: &Shape, tensor: &[f32], rows: u32) -> Vec<f32> {
    let n = shape.seq_len as usize;
    let d = shape.head_dim as usize;
    let rows = (rows as usize).min(n);
    (0..shape.batch_heads() as usize)
        .flat_map(|h| {
            tensor[(h * n + n - rows) * d..(h + 1) * n * d]
                .iter()
                .copied()
        })
        .collect()
}

/// How far an output is from the reference.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Comparison {
    /// Largest |out − ref| over the elements.
    pub max_abs_error: f64,
    /// ‖out − ref‖₂ / ‖ref‖₂ (NaN or infinite when the output holds non-finite values).
    pub rel_l2_error: f64,
    /// Elements that are NaN or infinite (poisoned elements that were never written show here).
    pub non_finite: usize,
}

impl Comparison {
    /// Compares `out` with `reference` element by element.
    pub fn new(out: &[f32], reference: &[f64]) -> Self {
        Self::with_floor(out, reference, 0.0)
    }

    /// Like [`Comparison::new`], with the relative error taken against at least
    /// `floor_norm`: for an output that is nearly zero where its companions are not (dQ of
    /// a one-hot softmax, whose terms cancel), error relative to its own tiny norm measures
    /// only rounding.
    pub fn with_floor(out: &[f32], reference: &[f64], floor_norm: f64) -> Self {
        let mut diff2 = 0.0;
        let mut ref2 = 0.0;
        let mut max_abs: f64 = 0.0;
        let mut non_finite = 0;
        for (&o, &r) in out.iter().zip(reference) {
            if !o.is_finite() {
                non_finite += 1;
            }
            let e = f64::from(o) - r;
            diff2 += e * e;
            ref2 += r * r;
            max_abs = max_abs.max(e.abs());
        }
        if out.len() != reference.len() {
            non_finite += out.len().abs_diff(reference.len());
        }
        let rel = if non_finite > 0 {
            f64::NAN
        } else if ref2 == 0.0 && floor_norm == 0.0 {
            diff2.sqrt()
        } else {
            diff2.sqrt() / ref2.sqrt().max(floor_norm)
        };
        Comparison {
            max_abs_error: if non_finite > 0 { f64::NAN } else { max_abs },
            rel_l2_error: rel,
            non_finite,
        }
    }

    /// True when every element is finite and the relative error is below `tolerance`
    /// (NaN never passes).
    pub fn passes(&self, tolerance: f64) -> bool {
        self.non_finite == 0 && self.rel_l2_error < tolerance
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_key_gives_its_value() {
        let shape = Shape::new(1, 2);
        let out = attention_f64(&shape, &[0.3, -2.0], &[5.0, 1.0], &[7.0, -1.5]);
        assert_eq!(out, vec![7.0, -1.5]);
    }

    #[test]
    fn equal_scores_average_the_values() {
        let shape = Shape::new(2, 1);
        // q = 0 gives equal scores; row 0 under causal sees only v0.
        let out = attention_f64(&shape, &[0.0, 0.0], &[1.0, 2.0], &[2.0, 4.0]);
        assert_eq!(out, vec![3.0, 3.0]);
        let causal = attention_f64(
            &shape.with_causal(true),
            &[0.0, 0.0],
            &[1.0, 2.0],
            &[2.0, 4.0],
        );
        assert_eq!(causal, vec![2.0, 3.0]);
    }

    #[test]
    fn last_rows_match_the_full_reference() {
        let shape = Shape::new(5, 3).with_batch_heads(2, 1).with_causal(true);
        let t: Vec<f32> = (0..30).map(|i| (i as f32 * 0.37).sin()).collect();
        let full = attention_f64(&shape, &t, &t, &t);
        let tail = attention_f64_last_rows(&shape, &t, &t, &t, 2);
        let full_f32: Vec<f32> = full.iter().map(|&x| x as f32).collect();
        let expected: Vec<f64> = last_rows(&shape, &full_f32, 2)
            .iter()
            .map(|&x| f64::from(x))
            .collect();
        assert_eq!(tail.len(), expected.len());
        for (a, b) in tail.iter().zip(&expected) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    /// Central differences of L = Σ O ∘ dO in f64 match the analytic gradients.
    #[test]
    fn gradients_match_finite_differences() {
        let plain = Shape::new(5, 3).with_batch_heads(1, 2);
        let shapes = [
            plain,
            plain.with_causal(true),
            // MQA (both query heads read one KV head) with a window of 2 keys.
            plain.with_kv_heads(1).with_window(Some(2)),
        ];
        for shape in shapes {
            let causal = shape.causal;
            let make = |seed: f64, len: u64| -> Vec<f64> {
                (0..len)
                    .map(|i| ((i as f64 + seed) * 0.731).sin() * 1.5)
                    .collect()
            };
            let (q_len, kv_len) = (shape.tensor_elements(), shape.kv_tensor_elements());
            let (q, k, v, d_o) = (
                make(0.1, q_len),
                make(1.7, kv_len),
                make(3.2, kv_len),
                make(5.9, q_len),
            );
            let (dq, dk, dv) = backward_rows(&shape, &q, &k, &v, &d_o);
            let loss = |q: &[f64], k: &[f64], v: &[f64]| -> f64 {
                attention_rows(&shape, q, k, v, shape.seq_len)
                    .iter()
                    .zip(&d_o)
                    .map(|(o, g)| o * g)
                    .sum()
            };
            let h = 1e-6;
            for (which, grad) in [(0, &dq), (1, &dk), (2, &dv)] {
                for e in 0..grad.len() {
                    let mut plus = [q.clone(), k.clone(), v.clone()];
                    let mut minus = [q.clone(), k.clone(), v.clone()];
                    plus[which][e] += h;
                    minus[which][e] -= h;
                    let numeric = (loss(&plus[0], &plus[1], &plus[2])
                        - loss(&minus[0], &minus[1], &minus[2]))
                        / (2.0 * h);
                    assert!(
                        (numeric - grad[e]).abs() < 1e-6 * (1.0 + numeric.abs()),
                        "{shape} tensor {which} element {e}: {numeric} vs {}",
                        grad[e]
                    );
                }
            }
            // Causal: the first query row sees one key, its softmax is constant, and its
            // gradient is zero.
            if causal {
                assert!(dq[..3].iter().all(|&x| x.abs() < 1e-12), "{:?}", &dq[..3]);
            }
        }
    }

    /// GQA is MHA with each KV head repeated for its group; a window equals a causal mask
    /// with the keys before i − W + 1 removed, checked against a brute-force mask.
    #[test]
    fn gqa_and_windows_match_their_definitions() {
        let (n, d) = (7usize, 3usize);
        let gqa = Shape::new(n as u32, d as u32)
            .with_batch_heads(2, 4)
            .with_kv_heads(2)
            .with_window(Some(3));
        let wave = |len: usize, seed: f32| -> Vec<f32> {
            (0..len)
                .map(|i| ((i as f32 + seed) * 0.613).sin())
                .collect()
        };
        let q = wave(2 * 4 * n * d, 0.3);
        let k = wave(2 * 2 * n * d, 1.1);
        let v = wave(2 * 2 * n * d, 2.9);
        // Repeat each KV head for the two query heads of its group.
        let repeat = |t: &[f32]| -> Vec<f32> {
            (0..8)
                .flat_map(|h| {
                    let kv = gqa.kv_head_of(h) as usize;
                    t[kv * n * d..(kv + 1) * n * d].to_vec()
                })
                .collect()
        };
        let mha = Shape {
            kv_heads: None,
            ..gqa
        };
        let got = attention_f64(&gqa, &q, &k, &v);
        assert_eq!(got, attention_f64(&mha, &q, &repeat(&k), &repeat(&v)));
        // Brute force for row i of head 0: softmax over j in (i − 3, i].
        let i = 5;
        let scale = 1.0 / (d as f64).sqrt();
        let scores: Vec<f64> = (3..=5)
            .map(|j| {
                (0..d)
                    .map(|c| f64::from(q[i * d + c]) * f64::from(k[j * d + c]))
                    .sum::<f64>()
                    * scale
            })
            .collect();
        let total: f64 = scores.iter().map(|s| s.exp()).sum();
        for c in 0..d {
            let expected: f64 = (3..=5)
                .zip(&scores)
                .map(|(j, s)| s.exp() / total * f64::from(v[j * d + c]))
                .sum();
            assert!((got[i * d + c] - expected).abs() < 1e-12);
        }
        // A one-row q gives the last row alone.
        let last = attention_f64_last_rows(&gqa, &last_rows(&gqa, &q, 1), &k, &v, 1);
        let full_last = attention_f64_last_rows(&gqa, &q, &k, &v, 1);
        assert_eq!(last, full_last);
    }

    #[test]
    fn nan_never_passes() {
        let c = Comparison::new(&[1.0, f32::NAN], &[1.0, 1.0]);
        assert!(!c.passes(1.0));
        assert_eq!(c.non_finite, 1);
        let ok = Comparison::new(&[1.0, 1.0], &[1.0, 1.0]);
        assert!(ok.passes(1e-12));
    }
}
