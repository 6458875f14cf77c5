//! The inputs a kernel is checked on ([`InputKind`]): uniform random values, which give a
//! nearly uniform softmax, and the hostile ones where the softmax's max subtraction and
//! rescaling bugs live — peaked scores, large scores, one dominant key late in the
//! sequence, and all-equal keys.

use crate::error::Result;
use crate::shape::Shape;
use crate::tensors::AttentionInputs;
use serde::{Deserialize, Serialize};

/// What the inputs of a check look like.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// Q, K, V uniform in [-1, 1): scores near zero, a nearly uniform softmax.
    #[default]
    Uniform,
    /// Each query close to the key of its own position (which every mask leaves visible),
    /// scaled so that its score leads the others by about 30: a nearly one-hot softmax.
    Peaked,
    /// Q scaled so that scores spread over hundreds: without max subtraction, exp
    /// overflows.
    Large,
    /// The last key aligned with every query, its score about 30 above the rest: the
    /// running max jumps at the end of the sequence, and every row seeing it must rescale.
    DominantLateKey,
    /// Every key the same: the softmax is exactly uniform over the visible keys, and O the
    /// mean of their values.
    EqualKeys,
}

impl InputKind {
    /// Every kind, uniform first.
    pub const ALL: [InputKind; 5] = [
        InputKind::Uniform,
        InputKind::Peaked,
        InputKind::Large,
        InputKind::DominantLateKey,
        InputKind::EqualKeys,
    ];

    /// The hostile kinds.
    pub const HOSTILE: [InputKind; 4] = [
        InputKind::Peaked,
        InputKind::Large,
        InputKind::DominantLateKey,
        InputKind::EqualKeys,
    ];

    /// How results and `verify` name it.
    pub fn name(self) -> &'static str {
        match self {
            InputKind::Uniform => "uniform",
            InputKind::Peaked => "peaked",
            InputKind::Large => "large",
            InputKind::DominantLateKey => "dominant-late-key",
            InputKind::EqualKeys => "equal-keys",
        }
    }

    /// Inputs of this kind for `shape` from `seed` (dO uniform where the shape has a
    /// backward pass).
    pub fn inputs(self, shape: Shape, seed: u64) -> Result<AttentionInputs> {
        let mut inputs = AttentionInputs::random(shape, seed)?;
        match self {
            InputKind::Uniform => {}
            InputKind::Peaked => peak(&mut inputs),
            InputKind::Large => {
                // Uniform q·k has a standard deviation of √d / 3; scaled by 1/√d, of 1/3:
                // × 600 spreads the scores over ±200.
                inputs.q.iter_mut().for_each(|x| *x *= 600.0);
            }
            InputKind::DominantLateKey => dominate_late(&mut inputs, seed),
            InputKind::EqualKeys => {
                let d = shape.head_dim as usize;
                let n = shape.seq_len as usize;
                for head in inputs.k.chunks_mut(n * d) {
                    let first: Vec<f32> = head[..d].to_vec();
                    head.chunks_mut(d)
                        .for_each(|key| key.copy_from_slice(&first));
                }
            }
        }
        Ok(inputs)
    }
}

impl std::fmt::Display for InputKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Query row `r` of each head (the last rows of the sequence when q holds fewer than n)
/// becomes its own position's key, scaled so that its score is about 30 (the others, of
/// random keys, stay within a few units of 0).
fn peak(inputs: &mut AttentionInputs) {
    let s = inputs.shape;
    let (n, d) = (s.seq_len as usize, s.head_dim as usize);
    let rows = inputs.query_rows() as usize;
    for head in 0..s.batch_heads() as usize {
        let kv = s.kv_head_of(head as u64) as usize;
        for r in 0..rows {
            let i = n - rows + r;
            let key = &inputs.k[(kv * n + i) * d..(kv * n + i + 1) * d];
            let norm2: f32 = key.iter().map(|x| x * x).sum::<f32>().max(1e-6);
            // score = q·k / √d = 30  →  q = k · 30 √d / |k|².
            let gain = 30.0 * (d as f32).sqrt() / norm2;
            let q = &mut inputs.q[(head * rows + r) * d..(head * rows + r + 1) * d];
            for (qx, &kx) in q.iter_mut().zip(key) {
                *qx = kx * gain;
            }
        }
    }
}

/// Every query gets a common direction u beside its noise, and the last key of each KV
/// head becomes u scaled so that its score leads by about 30.
fn dominate_late(inputs: &mut AttentionInputs, seed: u64) {
    let s = inputs.shape;
    let (n, d) = (s.seq_len as usize, s.head_dim as usize);
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x1a7e_0c0d);
    let u: Vec<f32> = (0..d)
        .map(|_| if rng.bool() { 1.0 } else { -1.0 })
        .collect();
    for row in inputs.q.chunks_mut(d) {
        for (qx, &ux) in row.iter_mut().zip(&u) {
            *qx = 0.5 * ux + 0.5 * *qx;
        }
    }
    // q·u ≈ d/2, so score = gain · d/2 / √d = 30  →  gain = 60 / √d.
    let gain = 60.0 / (d as f32).sqrt();
    for head in inputs.k.chunks_mut(n * d) {
        let last = &mut head[(n - 1) * d..];
        for (kx, &ux) in last.iter_mut().zip(&u) {
            *kx = ux * gain;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::attention_f64;

    /// The largest softmax weight of each row of the reference's scores, averaged.
    fn scores(inputs: &AttentionInputs) -> Vec<f64> {
        let s = inputs.shape;
        let (n, d) = (s.seq_len as usize, s.head_dim as usize);
        let scale = 1.0 / (d as f64).sqrt();
        (0..n)
            .flat_map(|i| {
                (0..n).map(move |j| (i, j)).map(|(i, j)| {
                    let q = &inputs.q[i * d..(i + 1) * d];
                    let k = &inputs.k[j * d..(j + 1) * d];
                    q.iter()
                        .zip(k)
                        .map(|(&a, &b)| f64::from(a * b))
                        .sum::<f64>()
                        * scale
                })
            })
            .collect()
    }

    #[test]
    fn each_kind_has_the_scores_it_promises() {
        let shape = Shape::new(32, 64);
        let n = 32;
        let peaked = scores(&InputKind::Peaked.inputs(shape, 3).unwrap());
        for i in 0..n {
            let row = &peaked[i * n..(i + 1) * n];
            let others = row.iter().enumerate().filter(|&(j, _)| j != i);
            let best_other = others.map(|(_, &s)| s).fold(f64::MIN, f64::max);
            assert!((row[i] - 30.0).abs() < 1e-3 && row[i] - best_other > 15.0);
        }
        let large = scores(&InputKind::Large.inputs(shape, 3).unwrap());
        assert!(large.iter().any(|s| s.abs() > 100.0));
        let late = scores(&InputKind::DominantLateKey.inputs(shape, 3).unwrap());
        for i in 0..n {
            let row = &late[i * n..(i + 1) * n];
            assert!(row[..n - 1].iter().all(|&s| row[n - 1] - s > 10.0));
        }
        let equal = InputKind::EqualKeys.inputs(shape, 3).unwrap();
        let o = attention_f64(&shape, &equal.q, &equal.k, &equal.v);
        // O is the mean of the values, whatever the query.
        let mean0: f64 = (0..n).map(|j| f64::from(equal.v[j * 64])).sum::<f64>() / n as f64;
        assert!((o[0] - mean0).abs() < 1e-9 && (o[64 * 7] - mean0).abs() < 1e-9);
    }
}
