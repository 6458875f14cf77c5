//! NumPy `.npy` files of attention tensors: float32, C order, rank 4, read with bounds
//! (regular files only, length checked against the header before any data is read) and
//! written atomically.

use super::inputs::{AttentionInputs, Gradients};
use crate::error::{Error, Result};
use crate::shape::Shape;
use npyz::WriterBuilder;
use std::path::{Path, PathBuf};

impl AttentionInputs {
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

    /// Refuses tensors loaded from `dir` ([`AttentionInputs::load_npy_dir`]) that hold a
    /// NaN or an infinity, naming the file and the first such element: such inputs give
    /// NaN outputs that look like a kernel's fault.
    pub fn check_finite(&self, dir: &Path) -> Result<()> {
        let s = self.shape;
        let q_dims = [s.batch, s.heads, self.query_rows(), s.head_dim];
        let kv_dims = [s.batch, s.kv_head_count(), s.seq_len, s.head_dim];
        let tensors = [
            ("q.npy", Some(&self.q), q_dims),
            ("k.npy", Some(&self.k), kv_dims),
            ("v.npy", Some(&self.v), kv_dims),
            ("do.npy", self.d_o.as_ref(), q_dims),
        ];
        for (name, data, dims) in tensors {
            let Some((i, x)) = data.and_then(|d| first_non_finite(d)) else {
                continue;
            };
            let (mut index, mut rest) = ([0usize; 4], i);
            for axis in (0..4).rev() {
                let len = (dims[axis] as usize).max(1);
                index[axis] = rest % len;
                rest /= len;
            }
            return Err(Error::TensorFile {
                path: dir.join(name),
                message: format!(
                    "element {i} ({index:?}) is {x}: inputs must be finite (--allow-non-finite runs them anyway)"
                ),
            });
        }
        Ok(())
    }

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

impl Gradients {
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

/// Longest `.npy` header accepted (numpy writes a few hundred bytes).
const MAX_HEADER_BYTES: usize = 1 << 20;
/// Writes one float32 tensor of dims `[B, heads, rows, d]` as `.npy`, creating the parent
/// folder: into a temporary file beside it, flushed, then renamed, so that a full disk or a
/// killed run never leaves a truncated tensor under the real name.
pub fn write_npy(path: &Path, dims: [u32; 4], data: &[f32]) -> Result<()> {
    let file_error = |e: std::io::Error| Error::TensorFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    crate::files::create_dir(dir)?;
    let dims = dims.map(u64::from);
    let mut tmp = crate::files::temp_file_in(dir).map_err(file_error)?;
    let mut buffered = std::io::BufWriter::new(tmp.as_file_mut());
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&dims)
        .writer(&mut buffered)
        .begin_nd()
        .map_err(file_error)?;
    writer.extend(data.iter().copied()).map_err(file_error)?;
    writer.finish().map_err(file_error)?;
    std::io::Write::flush(&mut buffered).map_err(file_error)?;
    drop(buffered);
    tmp.as_file().sync_all().map_err(file_error)?;
    tmp.persist(path).map_err(|e| file_error(e.error))?;
    Ok(())
}

/// Reads a float32 `.npy` file of rank 4 in C order; any other content is an error that
/// names the file. Bounded: the file must be a regular file (a symlink to one is fine; a
/// device or FIFO is refused before it is opened), and its length must match the shape in
/// its header before a byte of data is read.
pub fn read_npy(path: &Path) -> Result<([u32; 4], Vec<f32>)> {
    use std::io::{Read, Seek};
    let bad = |message: String| Error::TensorFile {
        path: PathBuf::from(path),
        message,
    };
    let cannot_read = |e: std::io::Error| bad(format!("cannot read: {e}"));
    // Before opening: opening a FIFO blocks until someone writes into it.
    if !std::fs::metadata(path).map_err(cannot_read)?.is_file() {
        return Err(bad(
            "not a regular file (a device, FIFO or folder holds no tensor)".into(),
        ));
    }
    let mut file = std::fs::File::open(path).map_err(cannot_read)?;
    let meta = file.metadata().map_err(cannot_read)?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    let size = meta.len();
    let mut prefix = Vec::with_capacity(12);
    (&mut file)
        .take(12)
        .read_to_end(&mut prefix)
        .map_err(cannot_read)?;
    let header_len = npy_header_len(&prefix)
        .filter(|&len| len as u64 <= size)
        .ok_or_else(|| bad("not a valid .npy file".into()))?;
    if header_len > MAX_HEADER_BYTES {
        return Err(bad(format!(
            "not a valid .npy file: a header of {header_len} bytes (at most {MAX_HEADER_BYTES})"
        )));
    }
    let mut header = vec![0u8; header_len];
    file.rewind().map_err(cannot_read)?;
    file.read_exact(&mut header).map_err(cannot_read)?;
    let npy =
        npyz::NpyFile::new(&header[..]).map_err(|e| bad(format!("not a valid .npy file: {e}")))?;
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
    let data_len = size - header_len as u64;
    if data_len != expected.saturating_mul(4) {
        return Err(bad(format!(
            "holds {data_len} data bytes, shape {shape:?} needs {} (truncated, or trailing bytes after the data)",
            expected.saturating_mul(4)
        )));
    }
    // The file's bytes and the decoded tensor are both held for a moment.
    crate::host::check(
        &format!("reading {}", path.display()),
        size.saturating_mul(2),
    )?;
    let mut bytes = Vec::new();
    file.rewind().map_err(cannot_read)?;
    // Never more than the length checked above, even if the file grows meanwhile.
    file.take(size)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 != size {
        return Err(bad("changed while it was read".into()));
    }
    let npy =
        npyz::NpyFile::new(&bytes[..]).map_err(|e| bad(format!("not a valid .npy file: {e}")))?;
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
/// data starts (format versions 1.0, 2.0 and 3.0), from the file's first 12 bytes.
fn npy_header_len(prefix: &[u8]) -> Option<usize> {
    if prefix.len() < 10 || &prefix[..6] != b"\x93NUMPY" {
        return None;
    }
    match prefix[6] {
        1 => Some(10 + usize::from(u16::from_le_bytes([prefix[8], prefix[9]]))),
        2 | 3 if prefix.len() >= 12 => {
            Some(12 + u32::from_le_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]) as usize)
        }
        _ => None,
    }
}

/// The first value of `data` that is NaN or infinite: its index and the value.
pub fn first_non_finite(data: &[f32]) -> Option<(usize, f32)> {
    data.iter()
        .position(|x| !x.is_finite())
        .map(|i| (i, data[i]))
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

    /// Hostile files: a FIFO, a device, a header whose shape promises far less than the
    /// file holds. Each is refused before its data is read (a FIFO would block forever).
    #[cfg(unix)]
    #[test]
    fn only_regular_files_of_the_right_length_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("q.npy");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let err = read_npy(&fifo).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        let zero = dir.path().join("zero.npy");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let err = read_npy(&zero).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        // A valid header for 8 floats, then a sparse 1 GiB tail: refused from its length.
        let sparse = dir.path().join("sparse.npy");
        write_npy(&sparse, [1, 1, 2, 4], &[0.5; 8]).unwrap();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&sparse)
            .unwrap();
        file.set_len(1 << 30).unwrap();
        let err = read_npy(&sparse).unwrap_err().to_string();
        assert!(err.contains("trailing"), "{err}");
        // A symlink to a regular file is fine.
        let good = dir.path().join("good.npy");
        write_npy(&good, [1, 1, 2, 4], &[0.5; 8]).unwrap();
        let link = dir.path().join("link.npy");
        std::os::unix::fs::symlink(&good, &link).unwrap();
        assert_eq!(read_npy(&link).unwrap().1, vec![0.5; 8]);
    }

    #[test]
    fn non_finite_inputs_are_named_with_their_first_index() {
        let dir = tempfile::tempdir().unwrap();
        let shape = Shape::new(4, 2).with_batch_heads(1, 2);
        let mut inputs = AttentionInputs::random(shape, 1).unwrap();
        assert!(inputs.check_finite(dir.path()).is_ok());
        inputs.k[11] = f32::INFINITY;
        inputs.k[13] = f32::NAN;
        let err = inputs.check_finite(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("k.npy") && err.contains("element 11 ([0, 1, 1, 1])"),
            "{err}"
        );
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
