//! The device buffers of a problem ([`AttentionBuffers`], [`GradientBuffers`]) and their
//! memory-plan entries.

use crate::gpu::{MemoryPlan, TrackedBuffer};
use crate::shape::Shape;

/// Q, K, V and O of one problem on the device, f32: Q and O `[B, H, rows, d]`
/// ([`Kernel::query_rows`](crate::kernels::Kernel::query_rows)), K and V `[B, HKV, n, d]`.
#[derive(Debug)]
pub struct AttentionBuffers {
    /// Queries.
    pub q: TrackedBuffer,
    /// Keys.
    pub k: TrackedBuffer,
    /// Values.
    pub v: TrackedBuffer,
    /// Output.
    pub o: TrackedBuffer,
}

/// dO on the device and the gradients a backward pass writes, f32: dO and dQ
/// `[B, H, n, d]`, dK and dV `[B, HKV, n, d]` (summed over each KV head's query heads).
#[derive(Debug)]
pub struct GradientBuffers {
    /// Gradient of the loss with respect to O (input).
    pub d_o: TrackedBuffer,
    /// Gradient with respect to Q (output).
    pub dq: TrackedBuffer,
    /// Gradient with respect to K (output).
    pub dk: TrackedBuffer,
    /// Gradient with respect to V (output).
    pub dv: TrackedBuffer,
}

/// The plan entries for dO and the three gradients.
pub fn gradient_plan(shape: &Shape) -> MemoryPlan {
    let mut plan = MemoryPlan::default();
    plan.storage("do", shape.tensor_bytes())
        .storage("dq", shape.tensor_bytes())
        .storage("dk", shape.kv_tensor_bytes())
        .storage("dv", shape.kv_tensor_bytes());
    plan
}

/// The plan entries for Q, K, V and O, Q and O holding `query_rows` rows per (batch, head)
/// ([`Kernel::query_rows`](crate::kernels::Kernel::query_rows)), K and V the KV heads ([`Shape::kv_tensor_bytes`]).
pub fn io_plan(shape: &Shape, query_rows: u32) -> MemoryPlan {
    let rows_bytes = query_bytes(shape, query_rows);
    let mut plan = MemoryPlan::default();
    plan.storage("q", rows_bytes)
        .storage("k", shape.kv_tensor_bytes())
        .storage("v", shape.kv_tensor_bytes())
        .storage("o", rows_bytes);
    plan
}

/// Bytes of Q or O holding `query_rows` rows of each (batch, head), f32.
pub fn query_bytes(shape: &Shape, query_rows: u32) -> u64 {
    shape.batch_heads() * u64::from(query_rows.min(shape.seq_len)) * u64::from(shape.head_dim) * 4
}
