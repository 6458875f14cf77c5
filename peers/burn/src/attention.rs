//! Burn's attention on one problem: the inputs uploaded once, a call, a timed sample (a loop
//! of calls ended by a device sync), the output read back.

use crate::error::PeerError;
use attnbench::tensors::AttentionInputs;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{DType, Device, Tensor, TensorData};
use std::time::Instant;

/// The shortest a timed sample may be: enough calls to last this long.
pub const MIN_SAMPLE_MS: f64 = 10.0;

/// Burn's attention on one set of inputs, on one device.
pub struct BurnAttention {
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    options: AttentionModuleOptions,
    device: Device,
}

impl BurnAttention {
    /// Uploads `inputs` (f32) to `device` as `dtype`. The softmax scale is Burn's default,
    /// 1/√d, which is attnbench's: naming it, even with the same value, sends Burn to its
    /// unfused fallback (its flash kernels take no custom scale).
    pub fn new(inputs: &AttentionInputs, device: &Device, dtype: DType) -> Self {
        let s = inputs.shape;
        let upload = |data: &[f32], heads: u32| {
            let dims = [s.batch, heads, s.seq_len, s.head_dim].map(|x| x as usize);
            Tensor::<4>::from_data(TensorData::new(data.to_vec(), dims), (device, dtype))
        };
        let options = AttentionModuleOptions {
            scale: None,
            is_causal: s.causal,
            ..AttentionModuleOptions::default()
        };
        BurnAttention {
            q: upload(&inputs.q, s.heads),
            k: upload(&inputs.k, s.kv_head_count()),
            v: upload(&inputs.v, s.kv_head_count()),
            options,
            device: device.clone(),
        }
    }

    /// One call, queued.
    pub fn call(&self) -> Tensor<4> {
        attention(
            self.q.clone(),
            self.k.clone(),
            self.v.clone(),
            None,
            None,
            self.options,
        )
    }

    /// Waits for everything queued on the device.
    pub fn sync(&self) -> Result<(), PeerError> {
        self.device
            .sync()
            .map_err(|e| PeerError::Device(format!("the device failed: {e:?}")))
    }

    /// One timed sample: `calls` calls, then a device sync; ms per call (wall clock).
    pub fn sample(&self, calls: u64) -> Result<f64, PeerError> {
        let started = Instant::now();
        for _ in 0..calls {
            drop(self.call());
        }
        self.sync()?;
        Ok(started.elapsed().as_secs_f64() * 1e3 / calls.max(1) as f64)
    }

    /// Calls per sample for samples of at least [`MIN_SAMPLE_MS`], from one call's time.
    pub fn calls_per_sample(one_call_ms: f64) -> u64 {
        if one_call_ms <= 0.0 || !one_call_ms.is_finite() {
            return 1;
        }
        (MIN_SAMPLE_MS / one_call_ms).ceil().max(1.0) as u64
    }

    /// One call's output, read back as f32 (`[B, H, n, d]`).
    pub fn output(&self) -> Result<Vec<f32>, PeerError> {
        let data = self
            .call()
            .try_into_data_dtype(DType::F32)
            .map_err(|e| PeerError::Device(format!("reading the output: {e:?}")))?;
        data.as_slice::<f32>()
            .map(<[f32]>::to_vec)
            .map_err(|e| PeerError::Device(format!("the output is not f32: {e:?}")))
    }

    /// Bytes Burn's allocator holds after one call from a cleaned-up pool (the inputs, the
    /// output and whatever the strategy allocates, pages held for reuse included), where
    /// the device reports it.
    pub fn reserved_bytes(&self) -> Result<Option<u64>, PeerError> {
        self.sync()?;
        self.device.memory_cleanup();
        let out = self.call();
        self.sync()?;
        let bytes = self.device.memory_pool_usage().map(|u| u.bytes_reserved);
        drop(out);
        Ok(bytes)
    }
}
