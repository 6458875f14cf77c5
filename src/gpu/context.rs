//! [`Gpu`]: one adapter, its device and queue, created once and shared (tests, benches and
//! the CLI reuse it), with a cache of compiled pipelines and wgpu's errors turned into
//! [`crate::Error`]s instead of panics.

#[cfg(not(target_arch = "wasm32"))]
use super::adapter::{AdapterChoice, select_adapter};
use super::adapter::{AdapterSummary, DeviceOptions, describe_adapter};
use super::facts::{DeviceFacts, texel_format_usable};
use super::memory::{BufferTracker, MemoryBudget, TrackedBuffer};
use super::shaders::CompiledShader;
use crate::error::{Error, Result};
use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// WGSL source of one shader file, with the name it is known by.
#[derive(Clone, Copy, Debug)]
pub struct ShaderSource {
    /// File name, used as the cache key and in error messages.
    pub name: &'static str,
    /// The WGSL text.
    pub wgsl: &'static str,
}

/// The device everything runs on.
pub struct Gpu {
    adapter: wgpu::Adapter,
    /// The wgpu device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    summary: AdapterSummary,
    facts: DeviceFacts,
    pub(super) options: DeviceOptions,
    budget: MemoryBudget,
    uncaptured: Arc<Mutex<Vec<String>>>,
    lost: Arc<Mutex<Option<String>>>,
    /// Compiled pipelines and layouts: per key type and value type, a map of typed keys.
    cache: Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
    pub(super) compiled: Mutex<Vec<CompiledShader>>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu")
            .field("adapter", &self.summary.name)
            .field("backend", &self.summary.backend)
            .finish()
    }
}

/// Features the kernels can use, requested whenever the adapter has them.
const OPTIONAL_FEATURES: wgpu::Features = wgpu::Features::TIMESTAMP_QUERY
    .union(wgpu::Features::SUBGROUP)
    .union(wgpu::Features::SHADER_F16);

impl Gpu {
    /// Opens the adapter chosen by `choice`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new(choice: &AdapterChoice) -> Result<Gpu> {
        let adapter = select_adapter(choice)?;
        let budget = MemoryBudget::detect(&adapter, choice.memory_budget.as_deref())?;
        pollster::block_on(Gpu::open(
            adapter,
            budget,
            choice.storage_binding_cap,
            choice.options,
        ))
    }

    /// Opens `adapter` with its own limits (binding sizes capped at `storage_binding_cap`
    /// when given) and the optional features the kernels use, under memory budget
    /// `budget`, as `options` say. The browser's way in: it has one adapter and must await
    /// the device.
    pub async fn open(
        adapter: wgpu::Adapter,
        budget: MemoryBudget,
        storage_binding_cap: Option<u64>,
        options: DeviceOptions,
    ) -> Result<Gpu> {
        let mut summary = describe_adapter(&adapter);
        let mut limits = adapter.limits();
        if let Some(cap) = storage_binding_cap {
            limits.max_storage_buffer_binding_size =
                limits.max_storage_buffer_binding_size.min(cap);
        }
        let desc = wgpu::DeviceDescriptor {
            label: Some("attnbench"),
            required_features: adapter.features() & OPTIONAL_FEATURES,
            required_limits: limits,
            ..Default::default()
        };
        let (device, queue) =
            adapter
                .request_device(&desc)
                .await
                .map_err(|e| Error::RequestDevice {
                    adapter: summary.name.clone(),
                    source: e,
                })?;
        let uncaptured = Arc::new(Mutex::new(Vec::new()));
        let sink = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut errors) = sink.lock() {
                errors.push(e.to_string());
            }
        }));
        let info = adapter.get_info();
        let is_cpu = info.device_type == wgpu::DeviceType::Cpu;
        let facts = DeviceFacts {
            // With the backend: GL and Vulkan can offer the same adapter with different
            // features (llvmpipe has subgroups on Vulkan only).
            name: format!("{} ({})", summary.name, summary.backend),
            limits: device.limits(),
            features: device.features(),
            subgroup_min: info.subgroup_min_size,
            subgroup_max: info.subgroup_max_size,
            is_cpu,
            // Mesa's llvmpipe/lavapipe (gallivm) silently stops every loop of an invocation
            // after 65 535 iterations in all: kernels refuse (or split) what would need more.
            loop_cap: summary
                .name
                .to_lowercase()
                .contains("llvmpipe")
                .then_some(65_535),
            register_cap: if is_cpu { None } else { options.register_cap },
            texel_arrays: texel_format_usable(&adapter),
            memory_budget: budget.bytes,
            // A CPU driver runs a workgroup per thread of the host (lavapipe: one per
            // core); wgpu reports no SM count for GPUs.
            compute_units: is_cpu
                .then(|| std::thread::available_parallelism().ok())
                .flatten()
                .and_then(|n| u32::try_from(n.get()).ok()),
        };
        // How the planners see the device, decided once as it opens, before any plan is
        // made. A CPU driver planned as a GPU is named so (`… (planned as a GPU)`), so that
        // its results, tuning and messages have a device folder of their own and never mix
        // with its own plans'.
        let planned = facts
            .clone()
            .planned_as(options.plan_as, options.register_cap);
        if planned.is_cpu != facts.is_cpu {
            summary.name = format!("{} (planned as a GPU)", summary.name);
        }
        let facts = planned;
        let lost = Arc::new(Mutex::new(None));
        let lost_sink = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut slot) = lost_sink.lock() {
                *slot = Some(format!("{reason:?}: {message}"));
            }
        });
        Ok(Gpu {
            adapter,
            device,
            queue,
            summary,
            facts,
            options,
            budget,
            uncaptured,
            lost,
            cache: Mutex::new(HashMap::new()),
            compiled: Mutex::new(Vec::new()),
        })
    }

    /// Names the adapter where the backend leaves its name empty: the browser's WebGPU
    /// gives none (`GPUAdapterInfo.description` is empty on most browsers), so the page
    /// names it from the vendor and architecture it reads itself. Results, run records and
    /// messages then carry this name.
    pub fn name_adapter(&mut self, name: impl Into<String>) {
        self.summary.name = name.into();
    }

    /// The kind of device (discrete or integrated GPU, CPU driver, ...).
    pub fn device_type(&self) -> wgpu::DeviceType {
        self.adapter.get_info().device_type
    }

    /// What the kernels decide their configurations from ([`DeviceFacts`]).
    pub fn facts(&self) -> &DeviceFacts {
        &self.facts
    }

    /// Whether the adapter is a CPU driver (lavapipe, llvmpipe, WARP), where memory loads
    /// cost far more than arithmetic. What the device is, whatever the planners see
    /// ([`PlanAs`]): plans read [`DeviceFacts::is_cpu`] from [`Gpu::facts`].
    pub fn is_cpu(&self) -> bool {
        self.device_type() == wgpu::DeviceType::Cpu
    }

    /// The adapter.
    pub fn adapter(&self) -> &wgpu::Adapter {
        &self.adapter
    }

    /// Name, backend, features and key limits of the adapter.
    pub fn summary(&self) -> &AdapterSummary {
        &self.summary
    }

    /// The device's limits (the adapter's own, as requested).
    pub fn limits(&self) -> wgpu::Limits {
        self.device.limits()
    }

    /// The features enabled on the device.
    pub fn features(&self) -> wgpu::Features {
        self.device.features()
    }

    /// The most loop iterations one shader invocation may run, where the driver caps it
    /// ([`DeviceFacts::loop_cap`]): a kernel must refuse the shapes that would need more
    /// rather than return wrong results.
    pub fn shader_loop_cap(&self) -> Option<u64> {
        self.facts.loop_cap
    }

    /// How many bytes of buffers may live at once.
    pub fn memory_budget(&self) -> &MemoryBudget {
        &self.budget
    }

    /// Runs `f` inside error scopes and turns any out-of-memory, validation or internal
    /// error it raised into an [`Error`].
    #[cfg(not(target_arch = "wasm32"))]
    pub fn scoped<T>(&self, during: &str, f: impl FnOnce() -> T) -> Result<T> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let value = f();
        let errors = [
            pollster::block_on(internal.pop()),
            pollster::block_on(validation.pop()),
            pollster::block_on(oom.pop()),
        ];
        if let Some(error) = errors.into_iter().flatten().next() {
            return Err(match error {
                wgpu::Error::OutOfMemory { source } => Error::OutOfMemory {
                    during: during.into(),
                    message: source.to_string(),
                },
                other => Error::Gpu {
                    during: during.into(),
                    message: other.to_string(),
                },
            });
        }
        self.check_health(during)?;
        Ok(value)
    }

    /// Runs `f` and reports what the device has said so far. In the browser an error
    /// scope's verdict can only be awaited, so errors arrive through the uncaptured-error
    /// handler instead, and the next awaited wait or read-back reports them.
    #[cfg(target_arch = "wasm32")]
    pub fn scoped<T>(&self, during: &str, f: impl FnOnce() -> T) -> Result<T> {
        let value = f();
        self.check_health(during)?;
        Ok(value)
    }

    /// Reports a lost device or an error that escaped the scopes.
    pub fn check_health(&self, during: &str) -> Result<()> {
        if let Some(reason) = self.lost.lock().ok().and_then(|l| l.clone()) {
            return Err(Error::DeviceLost(reason));
        }
        let escaped: Vec<String> = self
            .uncaptured
            .lock()
            .map(|mut e| e.drain(..).collect())
            .unwrap_or_default();
        if !escaped.is_empty() {
            return Err(Error::Gpu {
                during: during.into(),
                message: escaped.join("; "),
            });
        }
        Ok(())
    }

    /// The value cached under `key`, built by `build` the first time. Kernels keep their
    /// layouts and pipelines here, keyed by a typed key of their own (kernel, configuration,
    /// specialization), so that each is compiled once per device.
    pub fn cached<K, T>(&self, key: K, build: impl FnOnce() -> Result<T>) -> Result<T>
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        T: Clone + Send + Sync + 'static,
    {
        let slot = TypeId::of::<HashMap<K, T>>();
        let hit = self.cache.lock().ok().and_then(|c| {
            c.get(&slot)
                .and_then(|m| m.downcast_ref::<HashMap<K, T>>())
                .and_then(|m| m.get(&key).cloned())
        });
        if let Some(value) = hit {
            return Ok(value);
        }
        let value = build()?;
        if let Ok(mut cache) = self.cache.lock() {
            let map = cache
                .entry(slot)
                .or_insert_with(|| Box::new(HashMap::<K, T>::new()));
            if let Some(map) = map.downcast_mut::<HashMap<K, T>>() {
                map.insert(key, value.clone());
            }
        }
        Ok(value)
    }

    /// Creates a tracked buffer of `bytes` bytes (rounded up to 4) with `usage`.
    pub fn buffer(
        &self,
        tracker: &Arc<BufferTracker>,
        label: &str,
        bytes: u64,
        usage: wgpu::BufferUsages,
    ) -> Result<TrackedBuffer> {
        let size = bytes.max(4).next_multiple_of(4);
        let buffer = self.scoped(&format!("allocating {label} ({size} bytes)"), || {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            })
        })?;
        Ok(TrackedBuffer::new(buffer, size, tracker.clone()))
    }

    /// Waits until all submitted work is done.
    pub async fn wait_async(&self, during: &str) -> Result<()> {
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu {
                during: during.into(),
                message: e.to_string(),
            })?;
        #[cfg(target_arch = "wasm32")]
        {
            let (sender, receiver) = futures_channel::oneshot::channel();
            self.queue.on_submitted_work_done(move || {
                let _ = sender.send(());
            });
            receiver.await.map_err(|e| Error::Gpu {
                during: during.into(),
                message: e.to_string(),
            })?;
        }
        self.check_health(during)
    }

    /// Waits until all submitted work is done ([`Gpu::wait_async`], blocking).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn wait(&self, during: &str) -> Result<()> {
        pollster::block_on(self.wait_async(during))
    }

    /// Copies `bytes` bytes of `source` (which needs COPY_SRC) back to the host.
    pub async fn read_buffer_async(&self, source: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
        let staging = self.scoped("allocating a readback buffer", || {
            self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("attnbench readback"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })?;
        let mut encoder = self.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(source, 0, &staging, 0, bytes);
        self.queue.submit([encoder.finish()]);
        let data = map_read(&self.device, &staging, bytes).await;
        staging.destroy();
        self.check_health("reading back a buffer")?;
        data
    }

    /// Copies `bytes` bytes of `source` back to the host ([`Gpu::read_buffer_async`],
    /// blocking).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_buffer(&self, source: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
        pollster::block_on(self.read_buffer_async(source, bytes))
    }
}

/// Maps a MAP_READ buffer, waits for the mapping, and copies its first `bytes` bytes out.
pub(crate) async fn map_read(
    device: &wgpu::Device,
    buffer: &wgpu::Buffer,
    bytes: u64,
) -> Result<Vec<u8>> {
    let (sender, receiver) = futures_channel::oneshot::channel();
    buffer.map_async(wgpu::MapMode::Read, 0..bytes, move |r| {
        let _ = sender.send(r);
    });
    let gpu_error = |message: String| Error::Gpu {
        during: "reading back a buffer".into(),
        message,
    };
    // Natively the mapping completes inside a poll; in the browser the device does it.
    #[cfg(not(target_arch = "wasm32"))]
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| gpu_error(e.to_string()))?;
    #[cfg(target_arch = "wasm32")]
    let _ = device;
    receiver
        .await
        .map_err(|e| gpu_error(e.to_string()))?
        .map_err(|e| gpu_error(e.to_string()))?;
    let data = buffer
        .get_mapped_range(0..bytes)
        .map_err(|e| gpu_error(e.to_string()))?
        .to_vec();
    buffer.unmap();
    Ok(data)
}
