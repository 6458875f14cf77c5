//! How far each kernel can go on a device: the largest n at a shape (from the kernels'
//! memory plans against the device limits and memory budget, nothing allocated), and the
//! bytes each needs at the sizes of the quadratic-wall argument.

#[cfg(feature = "native")]
mod file;
mod table;

#[cfg(feature = "native")]
pub use file::{SCHEMA, check_file, path, save};
pub use table::*;
