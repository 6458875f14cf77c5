//! Buffer accounting. Every buffer a kernel run creates is a [`TrackedBuffer`] registered
//! with one [`BufferTracker`], which knows the live bytes and the high-water mark: the
//! "peak buffer size" the suite reports. Before allocating, a run states its
//! [`MemoryPlan`], which is checked against the device limits and the [`MemoryBudget`] so
//! that a request that cannot fit is refused with both numbers instead of attempted.

use crate::error::{Error, Limit, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Live and peak bytes of the buffers of one run.
#[derive(Debug, Default)]
pub struct BufferTracker {
    live: AtomicU64,
    peak: AtomicU64,
}

impl BufferTracker {
    /// A new tracker with nothing allocated.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Bytes held by buffers alive now.
    pub fn live_bytes(&self) -> u64 {
        self.live.load(Ordering::SeqCst)
    }

    /// Most bytes held at once since creation.
    pub fn peak_bytes(&self) -> u64 {
        self.peak.load(Ordering::SeqCst)
    }

    pub(crate) fn add(&self, bytes: u64) {
        let live = self.live.fetch_add(bytes, Ordering::SeqCst) + bytes;
        self.peak.fetch_max(live, Ordering::SeqCst);
    }

    pub(crate) fn remove(&self, bytes: u64) {
        self.live.fetch_sub(bytes, Ordering::SeqCst);
    }
}

/// A wgpu buffer whose bytes count in a [`BufferTracker`] while it lives.
#[derive(Debug)]
pub struct TrackedBuffer {
    buffer: wgpu::Buffer,
    bytes: u64,
    tracker: Arc<BufferTracker>,
}

impl TrackedBuffer {
    /// Registers `buffer` (of `bytes` bytes) with `tracker`.
    pub(crate) fn new(buffer: wgpu::Buffer, bytes: u64, tracker: Arc<BufferTracker>) -> Self {
        tracker.add(bytes);
        TrackedBuffer {
            buffer,
            bytes,
            tracker,
        }
    }

    /// Size in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl std::ops::Deref for TrackedBuffer {
    type Target = wgpu::Buffer;
    fn deref(&self) -> &wgpu::Buffer {
        &self.buffer
    }
}

impl Drop for TrackedBuffer {
    fn drop(&mut self) {
        self.buffer.destroy();
        self.tracker.remove(self.bytes);
    }
}

/// One buffer a run will create, or `count` alike (e.g. the score chunks of naive: a
/// plan's size never grows with the number of chunks, so planning a huge problem costs
/// no memory before it is refused).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedBuffer {
    /// What it holds, e.g. `scores[0]`.
    pub label: String,
    /// Size in bytes of each.
    pub bytes: u64,
    /// How many buffers of this size (1 for most).
    pub count: u64,
    /// Whether it is bound as a storage buffer (so `max_storage_buffer_binding_size` applies).
    pub storage_binding: bool,
}

impl PlannedBuffer {
    /// Bytes of all `count` buffers (saturating).
    pub fn total_bytes(&self) -> u64 {
        self.bytes.saturating_mul(self.count)
    }
}

/// Every buffer a run will create, stated before anything is allocated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryPlan {
    /// The buffers.
    pub buffers: Vec<PlannedBuffer>,
}

impl MemoryPlan {
    /// Adds a storage buffer.
    pub fn storage(&mut self, label: impl Into<String>, bytes: u64) -> &mut Self {
        self.storage_n(label, 1, bytes)
    }

    /// Adds `count` storage buffers of `bytes` each (nothing when `count` is 0).
    pub fn storage_n(&mut self, label: impl Into<String>, count: u64, bytes: u64) -> &mut Self {
        self.push(label.into(), count, bytes, true)
    }

    /// Adds a uniform or other non-storage buffer.
    pub fn other(&mut self, label: impl Into<String>, bytes: u64) -> &mut Self {
        self.other_n(label, 1, bytes)
    }

    /// Adds `count` non-storage buffers of `bytes` each (nothing when `count` is 0).
    pub fn other_n(&mut self, label: impl Into<String>, count: u64, bytes: u64) -> &mut Self {
        self.push(label.into(), count, bytes, false)
    }

    fn push(&mut self, label: String, count: u64, bytes: u64, storage_binding: bool) -> &mut Self {
        if count > 0 {
            self.buffers.push(PlannedBuffer {
                label,
                bytes,
                count,
                storage_binding,
            });
        }
        self
    }

    /// Number of buffers (the counts added up).
    pub fn buffer_count(&self) -> u64 {
        self.buffers.iter().map(|b| b.count).sum()
    }

    /// Total bytes (saturating).
    pub fn total_bytes(&self) -> u64 {
        self.buffers
            .iter()
            .fold(0u64, |sum, b| sum.saturating_add(b.total_bytes()))
    }

    /// Checks the plan against the device: the total against the memory budget, each buffer
    /// against `max_buffer_size` and, when bound as storage, `max_storage_buffer_binding_size`.
    pub fn check(&self, what: &str, limits: &wgpu::Limits, budget: &MemoryBudget) -> Result<()> {
        let total = self.total_bytes();
        if let Some(allowed) = budget.bytes
            && total > allowed
        {
            return Err(Error::TooLarge {
                what: what.to_string(),
                needed: total,
                allowed,
                limit: crate::error::Limit::MemoryBudget {
                    source: budget.source.clone(),
                },
            });
        }
        for buffer in &self.buffers {
            let mut checks = vec![(limits.max_buffer_size, Limit::MaxBufferSize)];
            if buffer.storage_binding {
                checks.push((
                    limits.max_storage_buffer_binding_size,
                    Limit::MaxStorageBufferBindingSize,
                ));
            }
            for (allowed, limit) in checks {
                if buffer.bytes > allowed {
                    return Err(Error::TooLarge {
                        what: format!("{what}: buffer {}", buffer.label),
                        needed: buffer.bytes,
                        allowed,
                        limit,
                    });
                }
            }
        }
        Ok(())
    }
}

/// How many bytes of buffers the device can hold at once, and where that number came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MemoryBudget {
    /// The budget, or `None` when nothing tells it (then only per-buffer limits apply).
    pub bytes: Option<u64>,
    /// Where it came from: an override, the backend's heap sizes, or host memory.
    pub source: String,
}

impl MemoryBudget {
    /// Parses a byte count such as `2147483648`, `512M`, `2G` or `2GiB` (binary units).
    pub fn parse_bytes(text: &str) -> Result<u64> {
        let t = text.trim();
        let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (number, unit) = t.split_at(digits_end);
        let shift = match unit.trim().to_ascii_uppercase().as_str() {
            "" | "B" => 0,
            "K" | "KB" | "KIB" => 10,
            "M" | "MB" | "MIB" => 20,
            "G" | "GB" | "GIB" => 30,
            "T" | "TB" | "TIB" => 40,
            _ => u32::MAX,
        };
        number
            .parse::<u64>()
            .ok()
            .filter(|_| shift != u32::MAX)
            .and_then(|n| n.checked_mul(1u64 << shift.min(40)))
            .filter(|&n| n > 0)
            .ok_or_else(|| Error::InvalidSetting {
                what: "memory budget (ATTNBENCH_MEMORY_BUDGET / --memory-budget)".into(),
                value: text.into(),
                expected: "a positive byte count, optionally with K, M, G or T".into(),
            })
    }

    /// The budget for `adapter`: the override if given, else the largest device-local heap
    /// the backend reports (Vulkan), else for CPU adapters the host's available memory.
    pub fn detect(adapter: &wgpu::Adapter, override_text: Option<&str>) -> Result<Self> {
        if let Some(text) = override_text {
            return Ok(MemoryBudget {
                bytes: Some(Self::parse_bytes(text)?),
                source: "override (ATTNBENCH_MEMORY_BUDGET / --memory-budget)".into(),
            });
        }
        if let Some(bytes) = vulkan_device_local_heap(adapter) {
            return Ok(MemoryBudget {
                bytes: Some(bytes),
                source: "Vulkan device-local heap".into(),
            });
        }
        if adapter.get_info().device_type == wgpu::DeviceType::Cpu
            && let Some(bytes) = crate::host::available_bytes()
        {
            return Ok(MemoryBudget {
                bytes: Some(bytes),
                source: "host available memory (CPU adapter)".into(),
            });
        }
        Ok(MemoryBudget {
            bytes: None,
            source: "unknown (only per-buffer limits apply)".into(),
        })
    }
}

/// The largest DEVICE_LOCAL heap of a Vulkan adapter. wgpu's safe API exposes no heap
/// sizes, so this asks Vulkan through wgpu-hal.
#[cfg(all(
    feature = "native",
    not(any(target_arch = "wasm32", target_vendor = "apple"))
))]
fn vulkan_device_local_heap(adapter: &wgpu::Adapter) -> Option<u64> {
    // SAFETY: the hal adapter is only used for a read-only property query while `adapter`
    // keeps it alive; no wgpu state is touched.
    unsafe {
        let hal = adapter.as_hal::<wgpu::hal::api::Vulkan>()?;
        let instance = hal.shared_instance().raw_instance();
        let props = instance.get_physical_device_memory_properties(hal.raw_physical_device());
        props
            .memory_heaps_as_slice()
            .iter()
            .filter(|h| h.flags.contains(ash::vk::MemoryHeapFlags::DEVICE_LOCAL))
            .map(|h| h.size)
            .max()
    }
}

#[cfg(not(all(
    feature = "native",
    not(any(target_arch = "wasm32", target_vendor = "apple"))
)))]
fn vulkan_device_local_heap(_adapter: &wgpu::Adapter) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_keeps_the_high_water_mark() {
        let t = BufferTracker::new();
        t.add(100);
        t.add(50);
        t.remove(100);
        t.add(20);
        assert_eq!(t.live_bytes(), 70);
        assert_eq!(t.peak_bytes(), 150);
    }

    #[test]
    fn plan_over_budget_is_refused_with_both_numbers() {
        let mut plan = MemoryPlan::default();
        plan.storage("a", 600).storage("b", 600);
        let budget = MemoryBudget {
            bytes: Some(1000),
            source: "test".into(),
        };
        let err = plan
            .check("k", &wgpu::Limits::default(), &budget)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("needs 1200 bytes, device allows 1000"),
            "{text}"
        );
    }

    #[test]
    fn plan_checks_binding_size_only_for_storage() {
        let limits = wgpu::Limits {
            max_storage_buffer_binding_size: 100,
            max_buffer_size: 1000,
            ..wgpu::Limits::default()
        };
        let budget = MemoryBudget {
            bytes: None,
            source: "none".into(),
        };
        let mut ok = MemoryPlan::default();
        ok.other("u", 500);
        assert!(ok.check("k", &limits, &budget).is_ok());
        let mut bad = MemoryPlan::default();
        bad.storage("s", 500);
        assert!(bad.check("k", &limits, &budget).is_err());
    }

    #[test]
    fn counted_entries_add_up_without_an_entry_each() {
        let mut plan = MemoryPlan::default();
        plan.storage_n("scores", 1_000_000, 100)
            .other_n("params", 0, 48)
            .other("u", 4);
        assert_eq!(plan.buffers.len(), 2);
        assert_eq!(plan.buffer_count(), 1_000_001);
        assert_eq!(plan.total_bytes(), 100_000_004);
    }

    #[test]
    fn byte_counts_parse_with_units() {
        assert_eq!(MemoryBudget::parse_bytes("1024").unwrap(), 1024);
        assert_eq!(MemoryBudget::parse_bytes("2G").unwrap(), 2 << 30);
        assert_eq!(MemoryBudget::parse_bytes("512MiB").unwrap(), 512 << 20);
        assert!(MemoryBudget::parse_bytes("lots").is_err());
        assert!(MemoryBudget::parse_bytes("0").is_err());
    }
}
