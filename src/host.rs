//! Host memory. Building inputs, reading outputs back and the f64 reference all live in host
//! memory; their bytes are checked against what the host has available before anything is
//! allocated, so an oversized request is refused with the bytes (exit 2) instead of waking
//! the kernel's OOM killer or aborting on a failed allocation.

use crate::error::{Error, Result};
use crate::shape::Shape;

/// `MemAvailable` from `/proc/meminfo`, in bytes; `None` where the host does not tell
/// (then nothing is refused here), and always in a browser (without `native`).
pub fn available_bytes() -> Option<u64> {
    if !cfg!(feature = "native") {
        return None;
    }
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Host bytes of random Q, K and V for `shape` (and dO when it has a backward pass).
pub fn inputs_bytes(shape: &Shape) -> u64 {
    let d_o = if shape.pass.has_backward() {
        shape.tensor_bytes()
    } else {
        0
    };
    shape
        .tensor_bytes()
        .saturating_add(shape.kv_tensor_bytes().saturating_mul(2))
        .saturating_add(d_o)
}

/// Host bytes of one output read back (a byte buffer, then the f32 vector).
pub fn readback_bytes(shape: &Shape) -> u64 {
    shape.tensor_bytes().saturating_mul(2)
}

/// Host bytes of checking one kernel on `shape` against the f64 reference, for `rows`
/// query rows per head: inputs, the NaN poison, the read-back output, the compared rows
/// and the f64 reference of those rows (twice an f32 output), plus one f64 score row.
pub fn verify_bytes(shape: &Shape, rows: u32) -> u64 {
    let rows = u64::from(rows.min(shape.seq_len));
    let compared = shape.batch_heads() * rows * u64::from(shape.head_dim) * 4;
    inputs_bytes(shape)
        .saturating_add(shape.tensor_bytes()) // poison
        .saturating_add(readback_bytes(shape))
        .saturating_add(compared.saturating_mul(3)) // f32 rows + f64 reference
        .saturating_add(u64::from(shape.seq_len) * 8)
        .saturating_add(gradient_check_bytes(shape))
}

/// Host bytes of checking dQ, dK and dV: each read back (twice, as outputs are) and its f64
/// reference, for shapes with a backward pass.
fn gradient_check_bytes(shape: &Shape) -> u64 {
    if !shape.pass.has_backward() {
        return 0;
    }
    let grads = shape
        .tensor_bytes()
        .saturating_add(shape.kv_tensor_bytes().saturating_mul(2));
    grads.saturating_mul(4)
}

/// Refuses `needed` bytes of host memory for `what` when the host has less available.
pub fn check(what: &str, needed: u64) -> Result<()> {
    check_against(what, needed, available_bytes())
}

/// [`check`] against a given amount (tests).
pub fn check_against(what: &str, needed: u64, available: Option<u64>) -> Result<()> {
    match available {
        Some(allowed) if needed > allowed => Err(Error::TooLarge {
            what: what.to_string(),
            needed,
            allowed,
            limit: crate::error::Limit::HostMemory,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_past_the_host_are_refused_with_both_numbers() {
        let shape = Shape::new(64, 64).with_batch_heads(1, 1_000_000);
        let needed = verify_bytes(&shape, 64);
        assert!(needed > 16_384_000_000 * 3, "{needed}");
        let err = check_against("verify", needed, Some(24 << 30)).unwrap_err();
        assert!(err.is_input_error());
        assert!(err.to_string().contains(&needed.to_string()), "{err}");
        assert!(check_against("verify", 10, Some(24 << 30)).is_ok());
        assert!(check_against("verify", u64::MAX, None).is_ok());
    }

    #[test]
    fn the_reference_stays_a_bounded_multiple_of_the_output() {
        let shape = Shape::new(4096, 64).with_batch_heads(2, 8);
        assert!(verify_bytes(&shape, 4096) <= 10 * shape.tensor_bytes());
    }
}
