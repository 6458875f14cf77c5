//! Q, K, V (and dO) on the host: random ones from a seed, or given ones checked against
//! the shape.

use crate::error::{Error, Result};
use crate::shape::Shape;

/// Q, K and V on the host, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct AttentionInputs {
    /// The problem shape.
    pub shape: Shape,
    /// Queries, `[B, H, r, d]`: the last r = [`AttentionInputs::query_rows`] rows of each
    /// (batch, head), all n of them unless loaded from a shorter `q.npy`.
    pub q: Vec<f32>,
    /// Keys, `[B, HKV, n, d]`.
    pub k: Vec<f32>,
    /// Values, `[B, HKV, n, d]`.
    pub v: Vec<f32>,
    /// The gradient of the loss with respect to O, `[B, H, r, d]` like `q`: present when the
    /// shape has a backward pass ([`crate::shape::Pass`]) or when loaded from `do.npy`.
    pub d_o: Option<Vec<f32>>,
}

impl AttentionInputs {
    /// Uniform random values in [-1, 1) from `seed`, the same on every machine (dO, drawn
    /// after V, only for shapes with a backward pass: Q, K and V do not depend on the pass).
    /// Refused with the bytes, before any allocation, when the host lacks the memory.
    pub fn random(shape: Shape, seed: u64) -> Result<Self> {
        shape.validate()?;
        crate::host::check(
            &format!("random inputs at {shape}"),
            crate::host::inputs_bytes(&shape),
        )?;
        let (q_len, kv_len) = host_lens(&shape)?;
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut tensor =
            |len: usize| -> Vec<f32> { (0..len).map(|_| rng.f32() * 2.0 - 1.0).collect() };
        let (q, k, v) = (tensor(q_len), tensor(kv_len), tensor(kv_len));
        let d_o = shape.pass.has_backward().then(|| tensor(q_len));
        Ok(AttentionInputs {
            shape,
            q,
            k,
            v,
            d_o,
        })
    }

    /// These inputs for `pass`: when it has a backward pass and no dO was loaded, dO is
    /// drawn uniformly in [-1, 1) from `seed`, shaped like `q`.
    pub fn for_pass(mut self, pass: crate::shape::Pass, seed: u64) -> Self {
        self.shape = self.shape.with_pass(pass);
        if pass.has_backward() && self.d_o.is_none() {
            let mut rng = fastrand::Rng::with_seed(seed ^ 0xd0d0_d0d0);
            self.d_o = Some((0..self.q.len()).map(|_| rng.f32() * 2.0 - 1.0).collect());
        }
        self
    }

    /// Wraps existing tensors, checking their lengths against the shape: K and V
    /// `[B, HKV, n, d]`, Q `[B, H, r, d]` for some 1 ≤ r ≤ n (the last r query rows).
    pub fn from_tensors(shape: Shape, q: Vec<f32>, k: Vec<f32>, v: Vec<f32>) -> Result<Self> {
        shape.validate()?;
        let (q_len, kv_len) = host_lens(&shape)?;
        for (name, t) in [("k", &k), ("v", &v)] {
            if t.len() != kv_len {
                return Err(Error::InvalidShape(format!(
                    "{name} has {} elements, the shape {shape} needs {kv_len}",
                    t.len()
                )));
            }
        }
        let row = shape.batch_heads() as usize * shape.head_dim as usize;
        if q.is_empty() || q.len() > q_len || !q.len().is_multiple_of(row) {
            return Err(Error::InvalidShape(format!(
                "q has {} elements, the shape {shape} needs {q_len} (or the last r rows of each head, a multiple of {row})",
                q.len()
            )));
        }
        Ok(AttentionInputs {
            shape,
            q,
            k,
            v,
            d_o: None,
        })
    }

    /// Query rows per (batch, head) that `q` holds: the last ones of the sequence.
    pub fn query_rows(&self) -> u32 {
        let row = self.shape.batch_heads() as usize * self.shape.head_dim as usize;
        (self.q.len() / row.max(1)) as u32
    }
}

/// dQ, dK and dV of one backward pass, on the host: dQ `[B, H, n, d]`, dK and dV
/// `[B, HKV, n, d]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients {
    /// Gradient with respect to Q.
    pub dq: Vec<f32>,
    /// Gradient with respect to K (summed over the query heads of each KV head).
    pub dk: Vec<f32>,
    /// Gradient with respect to V (summed likewise).
    pub dv: Vec<f32>,
}

impl Gradients {
    /// The three gradients with their file stems, in the order dQ, dK, dV.
    pub fn named(&self) -> [(&'static str, &[f32]); 3] {
        [("dq", &self.dq), ("dk", &self.dk), ("dv", &self.dv)]
    }
}

/// Host elements of Q (all n rows) and of K or V.
pub(crate) fn host_lens(shape: &Shape) -> Result<(usize, usize)> {
    let too_large = |_| Error::InvalidShape("tensor too large for host memory".into());
    Ok((
        usize::try_from(shape.tensor_elements()).map_err(too_large)?,
        usize::try_from(shape.kv_tensor_elements()).map_err(too_large)?,
    ))
}
