//! Host-side inputs: random Q, K, V for a shape, and NumPy `.npy` files (float32, C order)
//! so anyone can check a kernel with their own tools. Q is `[B, H, n, d]` (or
//! `[B, H, r, d]` with r < n: the last r query rows, as a decode step's one-row q), K and V
//! are `[B, HKV, n, d]` (HKV < H: grouped-query attention).

use crate::error::{Error, Result};
use crate::shape::Shape;
#[cfg(feature = "native")]
use npyz::WriterBuilder;
#[cfg(feature = "native")]
use std::path::{Path, PathBuf};

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

    #[cfg(feature = "native")]
    /// Reads `q.npy`, `k.npy` and `v.npy` from `dir`: q `[B, H, r, d]`, k and v
    /// `[B, HKV, n, d]`, with HKV dividing H (grouped-query attention) and 1 ≤ r ≤ n (r = 1:
    /// a decode step's query). They give the problem; `causal` and `window` are not stored
    /// in the files. `do.npy`, when present, is the output gradient (the shape of q.npy).
    pub fn load_npy_dir(dir: &Path, causal: bool, window: Option<u32>) -> Result<Self> {
        let (q_dims, q) = read_npy(&dir.join("q.npy"))?;
        let (k_dims, k) = read_npy(&dir.join("k.npy"))?;
        let (v_dims, v) = read_npy(&dir.join("v.npy"))?;
        if v_dims != k_dims {
            return Err(Error::TensorFile {
                path: dir.join("v.npy"),
                message: format!("shape {v_dims:?} differs from k.npy's {k_dims:?}"),
            });
        }
        let [batch, heads, q_rows, head_dim] = q_dims;
        let [k_batch, kv_heads, seq_len, k_dim] = k_dims;
        let mismatch = if k_batch != batch || k_dim != head_dim {
            Some("batch and head dim differ from q.npy's")
        } else if kv_heads == 0 || !heads.is_multiple_of(kv_heads) {
            Some("its heads (HKV) must divide q.npy's heads (H)")
        } else if q_rows > seq_len {
            Some("it holds fewer rows than q.npy")
        } else {
            None
        };
        if let Some(why) = mismatch {
            return Err(Error::TensorFile {
                path: dir.join("k.npy"),
                message: format!("shape {k_dims:?} against q.npy's {q_dims:?}: {why}"),
            });
        }
        let shape = Shape::new(seq_len, head_dim)
            .with_batch_heads(batch, heads)
            .with_causal(causal)
            .with_kv_heads(kv_heads)
            .with_window(window);
        let mut inputs = Self::from_tensors(shape, q, k, v)?;
        let do_path = dir.join("do.npy");
        if do_path.exists() {
            let (do_dims, d_o) = read_npy(&do_path)?;
            if do_dims != q_dims {
                return Err(Error::TensorFile {
                    path: do_path,
                    message: format!("shape {do_dims:?} differs from q.npy's {q_dims:?}"),
                });
            }
            inputs.d_o = Some(d_o);
        }
        Ok(inputs)
    }

    #[cfg(feature = "native")]
    /// Writes `q.npy`, `k.npy` and `v.npy` (and `do.npy` when there is a dO) into `dir`
    /// (created if missing).
    pub fn save_npy_dir(&self, dir: &Path) -> Result<()> {
        let s = self.shape;
        write_npy(
            &dir.join("q.npy"),
            [s.batch, s.heads, self.query_rows(), s.head_dim],
            &self.q,
        )?;
        let kv = [s.batch, s.kv_head_count(), s.seq_len, s.head_dim];
        write_npy(&dir.join("k.npy"), kv, &self.k)?;
        write_npy(&dir.join("v.npy"), kv, &self.v)?;
        if let Some(d_o) = &self.d_o {
            write_npy(
                &dir.join("do.npy"),
                [s.batch, s.heads, self.query_rows(), s.head_dim],
                d_o,
            )?;
        }
        Ok(())
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

    #[cfg(feature = "native")]
    /// Writes `dq.npy`, `dk.npy` and `dv.npy` into `dir` for `shape`.
    pub fn save_npy_dir(&self, shape: &Shape, dir: &Path) -> Result<()> {
        let s = shape;
        write_npy(
            &dir.join("dq.npy"),
            [s.batch, s.heads, s.seq_len, s.head_dim],
            &self.dq,
        )?;
        let kv = [s.batch, s.kv_head_count(), s.seq_len, s.head_dim];
        write_npy(&dir.join("dk.npy"), kv, &self.dk)?;
        write_npy(&dir.join("dv.npy"), kv, &self.dv)
    }
}

/// Host elements of Q (all n rows) and of K or V.
fn host_lens(shape: &Shape) -> Result<(usize, usize)> {
    let too_large = |_| Error::InvalidShape("tensor too large for host memory".into());
    Ok((
        usize::try_from(shape.tensor_elements()).map_err(too_large)?,
        usize::try_from(shape.kv_tensor_elements()).map_err(too_large)?,
    ))
}

#[cfg(feature = "native")]
/// Writes one float32 tensor of dims `[B, heads, rows, d]` as `.npy`, creating the parent
/// folder.
pub fn write_npy(path: &Path, dims: [u32; 4], data: &[f32]) -> Result<()> {
    let file_error = |e: std::io::Error| Error::TensorFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(file_error)?;
    }
    let dims = dims.map(u64::from);
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

#[cfg(feature = "native")]
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

#[cfg(feature = "native")]
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

#[cfg(all(test, feature = "native"))]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trip_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let shape = Shape::new(5, 3).with_batch_heads(2, 1);
        let inputs = AttentionInputs::random(shape, 7).unwrap();
        inputs.save_npy_dir(dir.path()).unwrap();
        let back = AttentionInputs::load_npy_dir(dir.path(), false, None).unwrap();
        assert_eq!(back, inputs);

        let q = dir.path().join("q.npy");
        let bytes = std::fs::read(&q).unwrap();
        std::fs::write(&q, &bytes[..bytes.len() - 6]).unwrap();
        let err = AttentionInputs::load_npy_dir(dir.path(), false, None).unwrap_err();
        assert!(err.to_string().contains("q.npy"), "{err}");

        let mut trailing = bytes.clone();
        trailing.extend_from_slice(&[0, 0, 0, 0]);
        std::fs::write(&q, &trailing).unwrap();
        let err = AttentionInputs::load_npy_dir(dir.path(), false, None).unwrap_err();
        assert!(err.to_string().contains("trailing"), "{err}");
        std::fs::write(&q, &bytes).unwrap();
        assert!(AttentionInputs::load_npy_dir(dir.path(), false, None).is_ok());
    }

    #[test]
    fn npy_round_trip_with_gqa_and_a_one_row_query() {
        let dir = tempfile::tempdir().unwrap();
        let shape = Shape::new(6, 4)
            .with_batch_heads(2, 4)
            .with_kv_heads(2)
            .with_window(Some(3));
        let mut inputs = AttentionInputs::random(shape, 3).unwrap();
        assert_eq!(inputs.k.len(), 2 * 2 * 6 * 4);
        inputs.q = crate::reference::last_rows(&shape, &inputs.q, 1);
        assert_eq!(inputs.query_rows(), 1);
        inputs.save_npy_dir(dir.path()).unwrap();
        let back = AttentionInputs::load_npy_dir(dir.path(), true, Some(3)).unwrap();
        assert_eq!(back, inputs);
        // K with 3 heads cannot serve 4 query heads.
        let bad = AttentionInputs::random(Shape::new(6, 4).with_batch_heads(2, 3), 1).unwrap();
        write_npy(&dir.path().join("k.npy"), [2, 3, 6, 4], &bad.k).unwrap();
        write_npy(&dir.path().join("v.npy"), [2, 3, 6, 4], &bad.v).unwrap();
        let err = AttentionInputs::load_npy_dir(dir.path(), true, None).unwrap_err();
        assert!(err.to_string().contains("must divide"), "{err}");
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
