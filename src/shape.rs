//! The attention problem: `O = softmax(scale · Q·Kᵀ [+ causal mask]) · V` on f32 tensors
//! laid out `[batch, heads, seq_len, head_dim]` row-major, with `scale = 1/√head_dim`.
//! Queries and keys have the same length `seq_len`. K and V may have fewer heads than Q
//! (grouped-query attention: `kv_heads` divides `heads`, query head h reading KV head
//! h / (heads / kv_heads)), and causal attention may be limited to a sliding window of the
//! last `window` keys.

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
    /// Heads of K and V, HKV (grouped-query attention; 1: multi-query). `None`: as many as
    /// `heads` (plain multi-head attention). See [`Shape::kv_head_count`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_heads: Option<u32>,
    /// Sliding window W (Mistral-style, implies causal): query i sees keys j with
    /// i − W < j ≤ i. `None`: no window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<u32>,
    /// Which passes a run computes and times: the forward pass (inference), the backward
    /// pass alone (its forward runs untimed) or both (a training step).
    #[serde(default, skip_serializing_if = "Pass::is_forward")]
    pub pass: Pass,
}

/// The passes of attention a run computes and times.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum Pass {
    /// O from Q, K, V.
    #[default]
    #[serde(rename = "fwd")]
    Forward,
    /// dQ, dK, dV from Q, K, V, O, dO (and the forward's row statistics); the forward that
    /// produces O runs once, untimed.
    #[serde(rename = "bwd")]
    Backward,
    /// The forward and then the backward, timed together: one training step of attention.
    #[serde(rename = "fwd-bwd")]
    ForwardBackward,
}

impl Pass {
    /// Every pass, in the order `--pass` lists them.
    pub const ALL: [Pass; 3] = [Pass::Forward, Pass::Backward, Pass::ForwardBackward];

    /// The name on the command line and in results: `fwd`, `bwd`, `fwd-bwd`.
    pub fn name(self) -> &'static str {
        match self {
            Pass::Forward => "fwd",
            Pass::Backward => "bwd",
            Pass::ForwardBackward => "fwd-bwd",
        }
    }

    /// Parses [`Pass::name`].
    pub fn parse(text: &str) -> Result<Pass> {
        Pass::ALL
            .into_iter()
            .find(|p| p.name() == text.trim())
            .ok_or_else(|| {
                Error::InvalidShape(format!(
                    "unknown pass `{text}`: expected fwd, bwd or fwd-bwd"
                ))
            })
    }

    /// True for the forward pass alone.
    pub fn is_forward(&self) -> bool {
        *self == Pass::Forward
    }

    /// True when the run computes gradients.
    pub fn has_backward(self) -> bool {
        self != Pass::Forward
    }

    /// True when the forward is part of what is timed.
    pub fn times_forward(self) -> bool {
        self != Pass::Backward
    }

    /// FLOPs of the pass in units of the forward's, FlashAttention's convention: the
    /// backward does five matrix products where the forward does two (2.5×), a training
    /// step both (3.5×). Recomputation inside a kernel is not counted.
    pub fn flop_factor(self) -> f64 {
        match self {
            Pass::Forward => 1.0,
            Pass::Backward => 2.5,
            Pass::ForwardBackward => 3.5,
        }
    }
}

impl std::fmt::Display for Pass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
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
            kv_heads: None,
            window: None,
            pass: Pass::Forward,
        }
    }

    /// This shape computing `pass` (forward, backward or both).
    pub fn with_pass(self, pass: Pass) -> Self {
        Shape { pass, ..self }
    }

    /// This shape's forward problem (what the backward differentiates).
    pub fn forward(self) -> Self {
        self.with_pass(Pass::Forward)
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

    /// This shape with `kv_heads` heads of K and V (stored as `None` when it equals
    /// `heads`, so that a GQA shape with HKV = H is the multi-head shape).
    pub fn with_kv_heads(self, kv_heads: u32) -> Self {
        Shape {
            kv_heads: (kv_heads != self.heads).then_some(kv_heads),
            ..self
        }
    }

    /// This shape with a causal sliding window of `window` keys (`None`: no window). A
    /// window implies causal.
    pub fn with_window(self, window: Option<u32>) -> Self {
        Shape {
            window,
            causal: self.causal || window.is_some(),
            ..self
        }
    }

    /// HKV, the heads of K and V (H for multi-head attention).
    pub fn kv_head_count(&self) -> u32 {
        self.kv_heads.unwrap_or(self.heads)
    }

    /// Query heads per KV head, H / HKV (1 for multi-head attention).
    pub fn group_size(&self) -> u32 {
        self.heads / self.kv_head_count().max(1)
    }

    /// The KV head (index into `[B, HKV]`) that query head `head` (index into `[B, H]`)
    /// reads: same batch, head h / (H / HKV).
    pub fn kv_head_of(&self, head: u64) -> u64 {
        let heads = u64::from(self.heads);
        (head / heads) * u64::from(self.kv_head_count())
            + (head % heads) / u64::from(self.group_size())
    }

    /// The first key query `i` sees: i + 1 − W with a window W, else 0.
    pub fn first_key(&self, i: u32) -> u32 {
        match self.window {
            Some(w) => (i + 1).saturating_sub(w),
            None => 0,
        }
    }

    /// Keys `[first, end)` query `i` sees.
    pub fn visible_keys(&self, i: u32) -> std::ops::Range<u32> {
        let end = if self.causal { i + 1 } else { self.seq_len };
        self.first_key(i)..end
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
        let kv_heads = self.kv_head_count();
        if kv_heads == 0 || !self.heads.is_multiple_of(kv_heads) {
            return Err(Error::InvalidShape(format!(
                "heads ({}) must be a multiple of kv_heads ({kv_heads})",
                self.heads
            )));
        }
        if let Some(w) = self.window {
            if w == 0 {
                return Err(Error::InvalidShape("window must be at least 1".into()));
            }
            if !self.causal {
                return Err(Error::InvalidShape(
                    "a sliding window is causal: set causal with window".into(),
                ));
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

    /// Bytes of one of Q or O (and of K or V without GQA) in f32.
    pub fn tensor_bytes(&self) -> u64 {
        self.tensor_elements() * F32_BYTES
    }

    /// Elements of one of K or V: B·HKV·n·d.
    pub fn kv_tensor_elements(&self) -> u64 {
        u64::from(self.batch)
            * u64::from(self.kv_head_count())
            * u64::from(self.seq_len)
            * u64::from(self.head_dim)
    }

    /// Bytes of one of K or V in f32: B·HKV·n·d·4.
    pub fn kv_tensor_bytes(&self) -> u64 {
        self.kv_tensor_elements() * F32_BYTES
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
    /// halved when causal; with a window W, 4·B·H·d·Σᵢ min(i + 1, W) (the keys each query
    /// sees). Softmax is not counted. GQA changes the bytes, not the FLOPs.
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
        self.pass.flop_factor() * self.forward_flops()
    }

    /// FLOPs of the forward pass alone (see [`Shape::flops`]).
    pub fn forward_flops(&self) -> f64 {
        if let Some(w) = self.window {
            return 4.0
                * self.batch_heads() as f64
                * f64::from(self.head_dim)
                * windowed_pairs(self.seq_len, w);
        }
        let n = f64::from(self.seq_len);
        let full = 4.0 * self.batch_heads() as f64 * n * n * f64::from(self.head_dim);
        if self.causal { full / 2.0 } else { full }
    }

    /// The FLOP model of [`Shape::flops`] in words, e.g. `4·B·H·n²·d/2 (causal)` or
    /// `2.5 × 4·B·H·n²·d (bwd)`.
    pub fn flop_model(&self) -> String {
        let forward = match self.window {
            Some(w) => format!("4·B·H·d·Σᵢ min(i+1, W), W = {w}"),
            None if self.causal => "4·B·H·n²·d/2, causal".into(),
            None => "4·B·H·n²·d".into(),
        };
        match self.pass {
            Pass::Forward => forward,
            pass => format!("{} × {forward} ({pass})", pass.flop_factor()),
        }
    }

    /// The fewest bytes any attention kernel must move: read Q, K, V once and write O once
    /// (K and V with their own head count); the backward reads Q, K, V, O and dO and writes
    /// dQ, dK and dV; a training step does both.
    pub fn min_io_bytes(&self) -> u64 {
        let forward = 2 * self.tensor_bytes() + 2 * self.kv_tensor_bytes();
        let backward = 4 * self.tensor_bytes() + 4 * self.kv_tensor_bytes();
        match self.pass {
            Pass::Forward => forward,
            Pass::Backward => backward,
            Pass::ForwardBackward => forward + backward,
        }
    }

    /// A short label such as `B1 H8 n4096 d64 causal`.
    pub fn label(&self) -> String {
        let mut label = format!(
            "B{} H{} n{} d{}{}",
            self.batch,
            self.heads,
            self.seq_len,
            self.head_dim,
            if self.causal { " causal" } else { "" }
        );
        if let Some(kv) = self.kv_heads {
            label.push_str(&format!(" kv{kv}"));
        }
        if let Some(w) = self.window {
            label.push_str(&format!(" w{w}"));
        }
        if self.pass.has_backward() {
            label.push_str(&format!(" {}", self.pass));
        }
        label
    }
}

/// Σᵢ min(i + 1, W) over i < n: the (query, key) pairs of a causal window.
fn windowed_pairs(n: u32, w: u32) -> f64 {
    let (n, w) = (f64::from(n), f64::from(w));
    let ramp = n.min(w);
    ramp * (ramp + 1.0) / 2.0 + (n - ramp) * w
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
    fn backward_counts_two_and_a_half_forwards_and_parses_its_name() {
        let s = Shape::new(2048, 64).with_causal(true);
        assert_eq!(
            s.with_pass(Pass::Backward).flops(),
            10.0 * 2048.0 * 2048.0 * 64.0 / 2.0
        );
        assert_eq!(s.with_pass(Pass::ForwardBackward).flops(), 3.5 * s.flops());
        for pass in Pass::ALL {
            assert_eq!(Pass::parse(pass.name()).unwrap(), pass);
        }
        assert!(Pass::parse("backward").is_err());
        assert!(s.with_pass(Pass::Backward).label().ends_with(" bwd"));
        assert!(
            s.with_pass(Pass::Backward)
                .flop_model()
                .starts_with("2.5 × ")
        );
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

    #[test]
    fn gqa_maps_query_heads_to_kv_heads_and_checks_divisibility() {
        let s = Shape::new(8, 4).with_batch_heads(2, 8).with_kv_heads(2);
        assert_eq!(s.group_size(), 4);
        assert_eq!(s.kv_head_of(0), 0);
        assert_eq!(s.kv_head_of(3), 0);
        assert_eq!(s.kv_head_of(4), 1);
        assert_eq!(s.kv_head_of(8), 2); // batch 1, head 0
        assert_eq!(s.kv_head_of(15), 3);
        assert_eq!(s.kv_tensor_bytes() * 4, s.tensor_bytes());
        assert!(s.validate().is_ok());
        assert!(s.with_kv_heads(3).validate().is_err());
        assert!(
            Shape {
                kv_heads: Some(0),
                ..s
            }
            .validate()
            .is_err()
        );
        assert_eq!(s.with_kv_heads(8).kv_heads, None);
        assert!(s.label().ends_with("kv2"));
    }

    #[test]
    fn windows_imply_causal_and_count_the_keys_seen() {
        let s = Shape::new(10, 2).with_window(Some(3));
        assert!(s.causal);
        assert_eq!(s.visible_keys(0), 0..1);
        assert_eq!(s.visible_keys(5), 3..6);
        // Σ min(i+1, 3) for i < 10 = 1 + 2 + 3·8 = 27 pairs.
        assert_eq!(s.flops(), 4.0 * 2.0 * 27.0);
        assert!(Shape { causal: false, ..s }.validate().is_err());
        assert!(s.with_window(Some(0)).validate().is_err());
        // W ≥ n is full causal attention, counted exactly: n(n+1)/2 pairs.
        assert_eq!(
            Shape::new(10, 2).with_window(Some(64)).flops(),
            4.0 * 2.0 * 55.0
        );
    }
}
