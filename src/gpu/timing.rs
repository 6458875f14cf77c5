//! Timing compute passes. Where the device has `TIMESTAMP_QUERY`, each timed batch of
//! passes writes a timestamp at the beginning of its first pass and the end of its last
//! (pass boundaries work on every backend that has timestamps, Apple GPUs included);
//! ticks × `queue.get_timestamp_period()` gives ns. Otherwise the caller times submit →
//! full device poll with a wall clock, and the result says so.

use crate::error::Result;
use serde::{Deserialize, Serialize};

/// Where a time came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimingSource {
    /// GPU timestamp queries written at the compute pass boundaries.
    GpuTimestamps,
    /// Host wall clock from submit until a full device poll returned.
    WallClock,
}

impl TimingSource {
    /// The name used in results files.
    pub fn as_str(&self) -> &'static str {
        match self {
            TimingSource::GpuTimestamps => "gpu-timestamps",
            TimingSource::WallClock => "wall-clock",
        }
    }
}

impl std::fmt::Display for TimingSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Query set and buffers for timing up to `capacity` batches of passes (a slot each).
pub struct PassTimer {
    query_set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    capacity: u32,
    period_ns: f64,
}

/// wgpu caps a query set at 4096 queries: two per slot.
pub(crate) const MAX_TIMED_PASSES: u32 = 2048;

impl PassTimer {
    /// A timer for up to `capacity` batches, or `None` when the device has no timestamps.
    pub(crate) fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        capacity: u32,
    ) -> Option<PassTimer> {
        if !device.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
            return None;
        }
        let capacity = capacity.clamp(1, MAX_TIMED_PASSES);
        let bytes = u64::from(capacity) * 2 * 8;
        let query_set = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("attnbench timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count: capacity * 2,
        });
        let resolve = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("attnbench timestamp resolve"),
            size: bytes,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("attnbench timestamp readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Some(PassTimer {
            query_set,
            resolve,
            readback,
            capacity,
            period_ns: f64::from(queue.get_timestamp_period()),
        })
    }

    /// How many batches it can time.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Timestamp writes of a pass of the batch in slot `slot` (< capacity): the beginning
    /// where it is the batch's `first` pass, the end where it is its `last`; `None` for a
    /// pass in between.
    pub fn writes(
        &self,
        slot: u32,
        first: bool,
        last: bool,
    ) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        (first || last).then(|| wgpu::ComputePassTimestampWrites {
            query_set: &self.query_set,
            beginning_of_pass_write_index: first.then_some(2 * slot),
            end_of_pass_write_index: last.then_some(2 * slot + 1),
        })
    }

    /// Reads back the durations in ns of the batches in slots `0..count`. One whose end is
    /// not after its beginning (a zero or wrapped reading, gfx-rs/wgpu#6406) gives `None`.
    pub(crate) async fn read(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        count: u32,
    ) -> Result<Vec<Option<f64>>> {
        let count = count.min(self.capacity);
        if count == 0 {
            return Ok(Vec::new());
        }
        let bytes = u64::from(count) * 16;
        let mut encoder = device.create_command_encoder(&Default::default());
        encoder.resolve_query_set(&self.query_set, 0..count * 2, &self.resolve, 0);
        encoder.copy_buffer_to_buffer(&self.resolve, 0, &self.readback, 0, bytes);
        queue.submit([encoder.finish()]);
        let raw: Vec<u64> = super::context::map_read(device, &self.readback, bytes)
            .await
            .map(|data| bytemuck::pod_collect_to_vec(&data))?;
        Ok(raw
            .chunks_exact(2)
            .map(|pair| {
                let (begin, end) = (pair[0], pair[1]);
                (begin != 0 && end > begin).then(|| (end - begin) as f64 * self.period_ns)
            })
            .collect())
    }
}

impl std::fmt::Debug for PassTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassTimer")
            .field("capacity", &self.capacity)
            .field("period_ns", &self.period_ns)
            .finish()
    }
}
