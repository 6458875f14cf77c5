//! The attention problem: `O = softmax(scale · Q·Kᵀ [+ causal mask]) · V` on f32 tensors
//! laid out `[batch, heads, seq_len, head_dim]` row-major, with `scale = 1/√head_dim`.
//! Queries and keys have the same length `seq_len`.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Largest head dimension any kernel of attnbench is written for.
pub const MAX_HEAD_DIM: u32 = 256;

/// Bytes of one f32 element.
pub const F32_BYTES: u64 = 4;

/// One attention problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shape {
    /// Batch size B.
    pub batch: u32,
    /// Number of heads H.
    pub heads: u32,
    /// Sequence length n (queries and keys alike).
    pub seq_len: u32,
    /// Head dimension d.
    pub head_dim: u32,
    /// Whether query i only attends to keys j ≤ i.
    pub causal: bool,
}

impl Shape {
    /// A shape with B = H = 1, not causal.
    pub fn new(seq_len: u32, head_dim: u32) -> Self {
        Shape {
            batch: 1,
            heads: 1,
            seq_len,
            head_dim,
            causal: false,
        }
    }

    /// This shape with another batch and head count.
    pub fn with_batch_heads(self, batch: u32, heads: u32) -> Self {
        Shape {
            batch,
            heads,
            ..self
        }
    }

    /// This shape with the causal flag set as given.
    pub fn with_causal(self, causal: bool) -> Self {
        Shape { causal, ..self }
    }

    /// Checks the sizes every kernel relies on: nothing zero, the head dim within
    /// [`MAX_HEAD_DIM`], and element counts of Q/K/V/O and of the n×n matrix that fit u64
    /// bytes and u32 row indices.
    pub fn validate(&self) -> Result<()> {
        let fields = [
            ("batch", self.batch),
            ("heads", self.heads),
            ("seq_len", self.seq_len),
            ("head_dim", self.head_dim),
        ];
        for (name, value) in fields {
            if value == 0 {
                return Err(Error::InvalidShape(format!("{name} must be at least 1")));
            }
        }
        if self.head_dim > MAX_HEAD_DIM {
            return Err(Error::InvalidShape(format!(
                "head_dim {} is larger than the largest supported, {MAX_HEAD_DIM}",
                self.head_dim
            )));
        }
        // Kernels index rows (batch·heads·seq_len) and elements with u32.
        let elements = u128::from(self.batch)
            * u128::from(self.heads)
            * u128::from(self.seq_len)
            * u128::from(self.head_dim);
        if elements > u128::from(u32::MAX) {
            return Err(Error::InvalidShape(format!(
                "batch·heads·seq_len·head_dim = {elements} elements is too many to index with u32"
            )));
        }
        if self.score_elements().is_none() {
            return Err(Error::InvalidShape(
                "batch·heads·seq_len² overflows 64 bits".into(),
            ));
        }
        Ok(())
    }

    /// B·H, the number of independent attention problems.
    pub fn batch_heads(&self) -> u64 {
        u64::from(self.batch) * u64::from(self.heads)
    }

    /// B·H·n, the number of query (and output) rows.
    pub fn rows(&self) -> u64 {
        self.batch_heads() * u64::from(self.seq_len)
    }

    /// Elements of one of Q, K, V or O.
    pub fn tensor_elements(&self) -> u64 {
        self.rows() * u64::from(self.head_dim)
    }

    /// Bytes of one of Q, K, V or O in f32.
    pub fn tensor_bytes(&self) -> u64 {
        self.tensor_elements() * F32_BYTES
    }

    /// Elements of the full score matrix, B·H·n², or `None` on overflow.
    pub fn score_elements(&self) -> Option<u64> {
        let n = u64::from(self.seq_len);
        self.batch_heads().checked_mul(n)?.checked_mul(n)
    }

    /// Bytes of the full B·H·n×n score matrix in f32 (saturating): what a naive kernel materializes.
    pub fn score_matrix_bytes(&self) -> u64 {
        self.score_elements()
            .and_then(|e| e.checked_mul(F32_BYTES))
            .unwrap_or(u64::MAX)
    }

    /// The softmax scale 1/√d.
    pub fn scale(&self) -> f32 {
        1.0 / (self.head_dim as f32).sqrt()
    }

    /// The FLOP model: 4·B·H·n²·d (2 for Q·Kᵀ and 2 for P·V, a multiply-add counted as 2),
    /// halved when causal. Softmax is not counted.
    ///
    /// ```
    /// use attnbench::Shape;
    /// let shape = Shape::new(4096, 64).with_batch_heads(1, 8);
    /// assert_eq!(shape.flops(), 4.0 * 8.0 * 4096.0 * 4096.0 * 64.0);
    /// assert_eq!(shape.with_causal(true).flops(), shape.flops() / 2.0);
    /// // The n×n matrix naive materializes, per head: 67 MB at n = 4096.
    /// assert_eq!(Shape::new(4096, 64).score_matrix_bytes(), 67_108_864);
    /// ```
    pub fn flops(&self) -> f64 {
        let n = f64::from(self.seq_len);
        let full = 4.0 * self.batch_heads() as f64 * n * n * f64::from(self.head_dim);
        if self.causal { full / 2.0 } else { full }
    }

    /// The fewest bytes any attention kernel must move: read Q, K, V once and write O once.
    pub fn min_io_bytes(&self) -> u64 {
        4 * self.tensor_bytes()
    }

    /// A short label such as `B1 H8 n4096 d64 causal`.
    pub fn label(&self) -> String {
        format!(
            "B{} H{} n{} d{}{}",
            self.batch,
            self.heads,
            self.seq_len,
            self.head_dim,
            if self.causal { " causal" } else { "" }
        )
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flop_model_is_4bhn2d_and_halves_when_causal() {
        let s = Shape::new(4096, 64).with_batch_heads(2, 3);
        assert_eq!(s.flops(), 4.0 * 6.0 * 4096.0 * 4096.0 * 64.0);
        assert_eq!(s.with_causal(true).flops(), s.flops() / 2.0);
    }

    #[test]
    fn score_matrix_sizes_match_the_quadratic_wall() {
        assert_eq!(Shape::new(4096, 64).score_matrix_bytes(), 67_108_864);
        assert_eq!(Shape::new(16384, 64).score_matrix_bytes(), 1_073_741_824);
        assert_eq!(Shape::new(100_000, 64).score_matrix_bytes(), 40_000_000_000);
    }

    #[test]
    fn validation_rejects_zero_and_oversized_dims() {
        assert!(Shape::new(0, 64).validate().is_err());
        assert!(Shape::new(16, 0).validate().is_err());
        assert!(Shape::new(16, MAX_HEAD_DIM + 1).validate().is_err());
        assert!(
            Shape::new(16, 64)
                .with_batch_heads(0, 1)
                .validate()
                .is_err()
        );
        assert!(
            Shape::new(u32::MAX, 64)
                .with_batch_heads(u32::MAX, 2)
                .validate()
                .is_err()
        );
        assert!(Shape::new(1, 1).validate().is_ok());
    }
}
