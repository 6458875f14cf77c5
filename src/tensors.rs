//! Host-side inputs: random Q, K, V for a shape, and NumPy `.npy` files (float32,
//! shape `[B, H, n, d]`, C order) so anyone can check a kernel with their own tools.

use crate::error::{Error, Result};
use crate::shape::Shape;
use npyz::WriterBuilder;
use std::path::{Path, PathBuf};

/// Q, K and V on the host, each `[B, H, n, d]` row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct AttentionInputs {
    /// The problem shape.
    pub shape: Shape,
    /// Queries.
    pub q: Vec<f32>,
    /// Keys.
    pub k: Vec<f32>,
    /// Values.
    pub v: Vec<f32>,
}

impl AttentionInputs {
    /// Uniform random values in [-1, 1) from `seed`, the same on every machine.
    /// Refused with the bytes, before any allocation, when the host lacks the memory.
    pub fn random(shape: Shape, seed: u64) -> Result<Self> {
        shape.validate()?;
        crate::host::check(
            &format!("random inputs at {shape}"),
            crate::host::inputs_bytes(&shape),
        )?;
        let len = host_len(&shape)?;
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut tensor = || -> Vec<f32> { (0..len).map(|_| rng.f32() * 2.0 - 1.0).collect() };
        Ok(AttentionInputs {
            shape,
            q: tensor(),
            k: tensor(),
            v: tensor(),
        })
    }

    /// Wraps existing tensors, checking their lengths against the shape.
    pub fn from_tensors(shape: Shape, q: Vec<f32>, k: Vec<f32>, v: Vec<f32>) -> Result<Self> {
        shape.validate()?;
        let len = host_len(&shape)?;
        for (name, t) in [("q", &q), ("k", &k), ("v", &v)] {
            if t.len() != len {
                return Err(Error::InvalidShape(format!(
                    "{name} has {} elements, the shape {shape} needs {len}",
                    t.len()
                )));
            }
        }
        Ok(AttentionInputs { shape, q, k, v })
    }

    /// Reads `q.npy`, `k.npy` and `v.npy` from `dir`. Their common shape `[B, H, n, d]`
    /// gives the problem; `causal` is not stored in the files.
    pub fn load_npy_dir(dir: &Path, causal: bool) -> Result<Self> {
        let (q_dims, q) = read_npy(&dir.join("q.npy"))?;
        let (k_dims, k) = read_npy(&dir.join("k.npy"))?;
        let (v_dims, v) = read_npy(&dir.join("v.npy"))?;
        for (name, dims) in [("k.npy", &k_dims), ("v.npy", &v_dims)] {
            if *dims != q_dims {
                return Err(Error::TensorFile {
                    path: dir.join(name),
                    message: format!("shape {dims:?} differs from q.npy's {q_dims:?}"),
                });
            }
        }
        let shape = Shape {
            batch: q_dims[0],
            heads: q_dims[1],
            seq_len: q_dims[2],
            head_dim: q_dims[3],
            causal,
        };
        Self::from_tensors(shape, q, k, v)
    }

    /// Writes `q.npy`, `k.npy` and `v.npy` into `dir` (created if missing).
    pub fn save_npy_dir(&self, dir: &Path) -> Result<()> {
        for (name, t) in [("q.npy", &self.q), ("k.npy", &self.k), ("v.npy", &self.v)] {
            write_npy(&dir.join(name), &self.shape, t)?;
        }
        Ok(())
    }
}

fn host_len(shape: &Shape) -> Result<usize> {
    usize::try_from(shape.tensor_elements())
        .map_err(|_| Error::InvalidShape("tensor too large for host memory".into()))
}

/// Writes one `[B, H, n, d]` float32 tensor as `.npy`, creating the parent folder.
pub fn write_npy(path: &Path, shape: &Shape, data: &[f32]) -> Result<()> {
    let file_error = |e: std::io::Error| Error::TensorFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(file_error)?;
    }
    let dims = [
        u64::from(shape.batch),
        u64::from(shape.heads),
        u64::from(shape.seq_len),
        u64::from(shape.head_dim),
    ];
    let file = std::io::BufWriter::new(std::fs::File::create(path).map_err(file_error)?);
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&dims)
        .writer(file)
        .begin_nd()
        .map_err(file_error)?;
    writer.extend(data.iter().copied()).map_err(file_error)?;
    writer.finish().map_err(file_error)
}

/// Reads a float32 `.npy` file of rank 4 in C order; any other content is an error that
/// names the file.
pub fn read_npy(path: &Path) -> Result<([u32; 4], Vec<f32>)> {
    let bad = |message: String| Error::TensorFile {
        path: PathBuf::from(path),
        message,
    };
    let size = std::fs::metadata(path)
        .map_err(|e| bad(format!("cannot read: {e}")))?
        .len();
    // The file's bytes and the decoded tensor are both held for a moment.
    crate::host::check(
        &format!("reading {}", path.display()),
        size.saturating_mul(2),
    )?;
    let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let header_len = npy_header_len(&bytes).ok_or_else(|| bad("not a valid .npy file".into()))?;
    let npy =
        npyz::NpyFile::new(&bytes[..]).map_err(|e| bad(format!("not a valid .npy file: {e}")))?;
    let descr = npy.dtype().descr();
    if !descr.contains("f4") {
        return Err(bad(format!("dtype {descr} is not float32")));
    }
    if npy.order() != npyz::Order::C {
        return Err(bad(
            "Fortran-ordered arrays are not supported; save in C order".into(),
        ));
    }
    let shape = npy.shape().to_vec();
    if shape.len() != 4 {
        return Err(bad(format!("shape {shape:?} is not [B, H, n, d]")));
    }
    let mut dims = [0u32; 4];
    for (slot, &value) in dims.iter_mut().zip(&shape) {
        *slot = u32::try_from(value).map_err(|_| bad(format!("dimension {value} too large")))?;
    }
    let expected: u64 = shape.iter().product();
    let data_len = (bytes.len() - header_len) as u64;
    if data_len != expected.saturating_mul(4) {
        return Err(bad(format!(
            "holds {data_len} data bytes, shape {shape:?} needs {} (truncated, or trailing bytes after the data)",
            expected.saturating_mul(4)
        )));
    }
    let data: Vec<f32> = npy
        .into_vec()
        .map_err(|e| bad(format!("truncated or unreadable data: {e}")))?;
    if data.len() as u64 != expected {
        return Err(bad(format!(
            "holds {} values, shape {shape:?} needs {expected}",
            data.len()
        )));
    }
    Ok((dims, data))
}

/// Length of a `.npy` file's magic, version, header-length field and header: where its
/// data starts (format versions 1.0, 2.0 and 3.0).
fn npy_header_len(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return None;
    }
    let len = match bytes[6] {
        1 => 10 + usize::from(u16::from_le_bytes([bytes[8], bytes[9]])),
        2 | 3 if bytes.len() >= 12 => {
            12 + u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize
        }
        _ => return None,
    };
    (len <= bytes.len()).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trip_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let shape = Shape::new(5, 3).with_batch_heads(2, 1);
        let inputs = AttentionInputs::random(shape, 7).unwrap();
        inputs.save_npy_dir(dir.path()).unwrap();
        let back = AttentionInputs::load_npy_dir(dir.path(), false).unwrap();
        assert_eq!(back, inputs);

        let q = dir.path().join("q.npy");
        let bytes = std::fs::read(&q).unwrap();
        std::fs::write(&q, &bytes[..bytes.len() - 6]).unwrap();
        let err = AttentionInputs::load_npy_dir(dir.path(), false).unwrap_err();
        assert!(err.to_string().contains("q.npy"), "{err}");

        let mut trailing = bytes.clone();
        trailing.extend_from_slice(&[0, 0, 0, 0]);
        std::fs::write(&q, &trailing).unwrap();
        let err = AttentionInputs::load_npy_dir(dir.path(), false).unwrap_err();
        assert!(err.to_string().contains("trailing"), "{err}");
        std::fs::write(&q, &bytes).unwrap();
        assert!(AttentionInputs::load_npy_dir(dir.path(), false).is_ok());
    }

    #[test]
    fn random_inputs_depend_on_the_seed() {
        let shape = Shape::new(4, 4);
        let a = AttentionInputs::random(shape, 1).unwrap();
        let b = AttentionInputs::random(shape, 1).unwrap();
        let c = AttentionInputs::random(shape, 2).unwrap();
        assert_eq!(a, b);
        assert_ne!(a.q, c.q);
    }
}
