//! Correctness: every registered kernel against the f64 reference on fresh inputs — uniform
//! random ones and the hostile ones where softmax bugs live ([`InputKind`]) — over shapes
//! chosen to break attention kernels ([`cases`]: n = 1, primes, lengths that are not
//! multiples of any tile, odd and large head dims, causal, grouped-query attention, sliding
//! windows, and the backward). A check that did not run is a skip with its reason, never a
//! pass; NaN never passes.

pub mod cases;
mod check;
mod inputs;
#[cfg(not(target_arch = "wasm32"))]
mod parallel;
mod tally;
mod tolerance;

pub use cases::{Case, Coverage, plan};
pub use check::{Check, NotRun, OutputCheck, check_async, compare_output, fresh_seed};
#[cfg(not(target_arch = "wasm32"))]
pub use check::{check, check_kernel};
pub use inputs::InputKind;
#[cfg(not(target_arch = "wasm32"))]
pub use parallel::{MAX_DEVICES, check_all, verification_devices};
pub use tally::{Group, Tally, Unverified};
