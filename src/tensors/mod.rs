//! Host-side inputs: random Q, K, V for a shape, and ([`npy`], native) NumPy `.npy` files
//! (float32, C order) so anyone can check a kernel with their own tools. Q is `[B, H, n, d]` (or
//! `[B, H, r, d]` with r < n: the last r query rows, as a decode step's one-row q), K and V
//! are `[B, HKV, n, d]` (HKV < H: grouped-query attention).

mod inputs;
#[cfg(feature = "native")]
pub mod npy;

pub use inputs::{AttentionInputs, Gradients};
#[cfg(feature = "native")]
pub use npy::{first_non_finite, read_npy, write_npy};
