//! [`NaivePlan`]: every choice `naive` and `chunked` make for one shape on one device, made
//! once by [`NaivePlan::new`] from the shape and the device's facts — how the score rows are
//! split across buffers, which matrix-product kernels run and with which tiles, how B reaches
//! them, the loop counts a driver's cap must allow — and read by the memory plan, the label
//! and the dispatches alike.

use super::params::{ChunkRows, Params};
use crate::error::{Error, Result};
use crate::gpu::{DeviceFacts, MemoryPlan, TEXEL_BYTES, texel_array_bytes, texel_extent};
use crate::kernels::{gradient_plan, io_plan};
use crate::shape::{F32_BYTES, Shape};

/// How the score matrix is held between the dispatches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScoreRows {
    /// The whole B·H·n×n matrix, in as many binding-sized buffers as it takes.
    Materialized,
    /// One buffer of [`QUERY_BLOCK`] rows, reused by every block of queries in turn.
    Blocked,
}

/// Query rows per block of the chunked kernel (Rabe & Staats 2021 use blocks of ~1024).
pub const QUERY_BLOCK: u64 = 256;

/// How the score matrix is split: `rows_per_chunk` whole rows per buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Chunking {
    /// Rows per chunk (the last may hold fewer).
    pub rows_per_chunk: u64,
    /// Number of chunks.
    pub chunks: u64,
}

/// Splits B·H·n rows of n scores into chunks that each fit one storage binding.
pub fn chunking(shape: &Shape, limits: &wgpu::Limits) -> Result<Chunking> {
    let row_bytes = u64::from(shape.seq_len) * F32_BYTES;
    let max_chunk = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    if row_bytes > max_chunk {
        return Err(Error::TooLarge {
            what: format!("naive at {shape}: one row of scores"),
            needed: row_bytes,
            allowed: max_chunk,
            limit: crate::error::Limit::MaxStorageBufferBindingSize,
        });
    }
    let rows = shape.rows();
    let rows_per_chunk = (max_chunk / row_bytes).min(rows);
    Ok(Chunking {
        rows_per_chunk,
        chunks: rows.div_ceil(rows_per_chunk),
    })
}

impl ScoreRows {
    /// The chunks of score rows for `shape` on a device with `limits`.
    pub fn split(self, shape: &Shape, limits: &wgpu::Limits) -> Result<Chunking> {
        let full = chunking(shape, limits)?;
        Ok(match self {
            ScoreRows::Materialized => full,
            ScoreRows::Blocked => {
                let rows_per_chunk = full.rows_per_chunk.min(QUERY_BLOCK);
                Chunking {
                    rows_per_chunk,
                    chunks: shape.rows().div_ceil(rows_per_chunk),
                }
            }
        })
    }
}

/// How the lane products read B (K, V, Q or dO).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BLoad {
    /// Texels of an `rgba32float` texture, packed before the products that read them.
    Texels,
    /// One vec4 storage load per four floats (head_dim a multiple of 4).
    Vec4,
    /// Four scalar storage loads per four floats.
    Scalar,
}

/// Which matrix-product kernels run, with their tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Products {
    /// `shaders/naive/lanes_*.wgsl`, for CPU drivers with one fixed subgroup size: B shared
    /// across a subgroup by broadcast, loops unrolled.
    Lanes {
        /// The subgroup size.
        subgroup: u32,
        /// Invocations per workgroup (a multiple of the subgroup size).
        block: u32,
        /// Query rows per invocation (scores and rows products).
        rows: u32,
        /// Groups of four keys per invocation (column products).
        quads: u32,
        /// How B is read.
        b: BLoad,
        /// Keys per workgroup of the scores product (a multiple of 4).
        key_block: u32,
    },
    /// `shaders/naive/tiles.wgsl`, for GPUs (and drivers without one fixed subgroup size):
    /// block tiles in workgroup memory, TM × TN outputs per invocation.
    Tiles {
        /// Outputs per invocation along C's rows and columns.
        tm: u32,
        /// See `tm`.
        tn: u32,
        /// Invocations along C's columns and rows.
        wx: u32,
        /// See `wx`.
        wy: u32,
        /// Depth of a tile.
        bk: u32,
    },
}

/// Invocations per row of the row passes (`shaders/naive/softmax.wgsl`, `ds.wgsl`) where
/// they sum through workgroup memory.
const ROW_WG: u32 = 64;

/// How the row passes take a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RowPass {
    /// Invocations per row (one workgroup).
    pub invocations: u32,
    /// Whether they are one subgroup, reduced by subgroup operations (no barriers: lavapipe
    /// switches between a workgroup's subgroups at each), else through workgroup memory.
    pub subgroup: bool,
    /// vec4s of a row each invocation holds in registers when the softmax reads each row
    /// once (`shaders/naive/softmax_held.wgsl`, a power of two); `None`: rows too long, read
    /// twice (`softmax.wgsl`).
    pub held: Option<u32>,
}

impl RowPass {
    /// How rows of n scores are taken by `invocations` invocations (one subgroup where
    /// `subgroup`): held in registers, at most `most_held` vec4s per invocation.
    fn new(n: u32, invocations: u32, subgroup: bool, most_held: u32) -> RowPass {
        let quads = n.div_ceil(4 * invocations).next_power_of_two();
        RowPass {
            invocations,
            subgroup,
            held: (quads <= most_held).then_some(quads),
        }
    }
}

/// Parameter buffers per chunk of the forward: scores, softmax, rows.
const FORWARD_PRODUCTS: u64 = 3;

/// Parameter buffers per chunk of the backward: dP, dS, dQ, dK, dV.
const BACKWARD_PRODUCTS: u64 = 5;

/// Bytes of the parameters of one texel pack dispatch.
const PACK_PARAMS_BYTES: u64 = 16;

/// The texel pair B is read through: texels per array and bytes per array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TexelPairSize {
    /// Texels each array holds: K's (forward) or Q's (with a backward).
    pub texels: u64,
    /// Bytes each array takes on the device (whole texture rows).
    pub bytes: u64,
}

/// Everything a naive or chunked run on one shape needs decided before it allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NaivePlan {
    /// How score rows are held.
    pub rows: ScoreRows,
    /// The chunks of score rows (one bind group and set of dispatches each).
    pub split: Chunking,
    /// The matrix-product kernels.
    pub products: Products,
    /// The row passes.
    pub row_pass: RowPass,
    /// Whether the score matrix is read and written as vec4s (n a multiple of 4).
    pub s_vec4: bool,
    /// The texel pair B is read through, where it is.
    pub texels: Option<TexelPairSize>,
    /// Whether the run includes the backward.
    pub backward: bool,
}

impl NaivePlan {
    /// The plan of `rows` for `shape` (its pass says whether a backward runs) on a device
    /// with `facts`: refused with the reason where a binding, the driver's loop cap or the
    /// register cap rules it out.
    pub fn new(rows: ScoreRows, shape: &Shape, facts: &DeviceFacts) -> Result<NaivePlan> {
        let products = choose_products(shape, facts);
        // Rows held in registers up to 512 floats per invocation on CPU drivers (n = 4096 at
        // subgroups of 8), 64 on GPUs (n = 4096 at 64 invocations).
        let row_pass = match products {
            Products::Lanes { subgroup, .. } => RowPass::new(shape.seq_len, subgroup, true, 128),
            Products::Tiles { .. } => RowPass::new(shape.seq_len, ROW_WG, false, 16),
        };
        let mut plan = NaivePlan {
            rows,
            split: rows.split(shape, &facts.limits)?,
            products,
            row_pass,
            s_vec4: shape.seq_len.is_multiple_of(4),
            texels: None,
            backward: shape.pass.has_backward(),
        };
        if let Products::Lanes {
            b: BLoad::Texels, ..
        } = plan.products
        {
            // Forward: K and V; with a backward also Q and dO, Q the largest.
            let tensor = if plan.backward {
                shape.tensor_bytes()
            } else {
                shape.kv_tensor_bytes()
            };
            let pair = TexelPairSize {
                texels: tensor / TEXEL_BYTES,
                bytes: texel_array_bytes(tensor / TEXEL_BYTES, &facts.limits),
            };
            let without = plan.memory(shape).total_bytes();
            let packs = if plan.backward { 3 } else { 1 };
            let fits = texel_extent("naive", pair.texels, &facts.limits).is_ok()
                && facts.memory_budget.is_none_or(|budget| {
                    without + 2 * pair.bytes + packs * PACK_PARAMS_BYTES <= budget
                });
            if fits {
                plan.texels = Some(pair);
            } else if let Products::Lanes { b, .. } = &mut plan.products {
                // The textures are a speed-up, never a need: where they do not fit, B comes
                // from the buffers and the memory wall stays where the score matrix puts it.
                *b = BLoad::Vec4;
            }
        }
        plan.check_loops(shape, facts)?;
        let limits = &facts.limits;
        let (bytes, invocations) = (plan.workgroup_bytes(), plan.invocations());
        if bytes > limits.max_compute_workgroup_storage_size
            || invocations > limits.max_compute_invocations_per_workgroup
            || invocations > limits.max_compute_workgroup_size_x
        {
            return Err(Error::Unsupported {
                kernel: rows_name(rows).into(),
                reason: format!(
                    "{} needs {bytes} bytes of workgroup memory and {invocations} invocations per workgroup, device has {} and {}",
                    plan.label(),
                    limits.max_compute_workgroup_storage_size,
                    limits
                        .max_compute_invocations_per_workgroup
                        .min(limits.max_compute_workgroup_size_x)
                ),
            });
        }
        facts.check_registers(
            rows_name(rows),
            &format!("{} at head_dim {}", plan.label(), shape.head_dim),
            plan.live_floats(shape.head_dim),
        )?;
        Ok(plan)
    }

    /// The chunks of score rows, in order.
    pub(crate) fn chunks(&self, shape: &Shape) -> impl Iterator<Item = ChunkRows> {
        ChunkRows::all(shape, self.split.rows_per_chunk, self.split.chunks)
    }

    /// Pack dispatches of the texel pair: one (K, V) for the forward, two more (K, V, then
    /// Q, dO) for the backward.
    pub fn packs(&self) -> u64 {
        match (self.texels, self.backward) {
            (None, _) => 0,
            (Some(_), false) => 1,
            (Some(_), true) => 3,
        }
    }

    /// Every buffer the run creates: Q, K, V, O, the score chunks (with a backward also dP's
    /// and the gradients), one parameter buffer per product, pass and chunk, and the texel
    /// pair with its packs' parameters.
    pub fn memory(&self, shape: &Shape) -> MemoryPlan {
        let mut plan = io_plan(shape, shape.seq_len);
        let row_bytes = u64::from(shape.seq_len) * F32_BYTES;
        let split = self.split;
        let params = std::mem::size_of::<Params>() as u64;
        // Counted entries, not one per chunk: the plan of a problem of millions of chunks
        // is as small as any other's (it is made before the problem is refused).
        let matrices: &[&str] = if self.backward {
            &["scores", "dscores"]
        } else {
            &["scores"]
        };
        for label in matrices {
            match self.rows {
                ScoreRows::Materialized => {
                    let rest = shape.rows() % split.rows_per_chunk;
                    plan.storage_n(
                        *label,
                        shape.rows() / split.rows_per_chunk,
                        split.rows_per_chunk * row_bytes,
                    )
                    .storage_n(
                        format!("{label} (last chunk)"),
                        u64::from(rest > 0),
                        rest * row_bytes,
                    );
                }
                ScoreRows::Blocked => {
                    plan.storage(*label, split.rows_per_chunk * row_bytes);
                }
            }
        }
        plan.other_n("params", FORWARD_PRODUCTS * split.chunks, params);
        if self.backward {
            plan.buffers.extend(gradient_plan(shape).buffers);
            let per_chunk = match self.rows {
                ScoreRows::Materialized => BACKWARD_PRODUCTS,
                // chunked recomputes each block's P: scores and softmax again.
                ScoreRows::Blocked => BACKWARD_PRODUCTS + 2,
            };
            plan.other_n("backward params", per_chunk * split.chunks, params);
        }
        if let Some(pair) = self.texels {
            plan.other("texels a", pair.bytes)
                .other("texels b", pair.bytes)
                .other_n("texels pack params", self.packs(), PACK_PARAMS_BYTES);
        }
        plan
    }

    /// The configuration as results name it, e.g. `lanes,32,4,texels` (invocations per
    /// workgroup, query rows per invocation, how B is read; with a backward also the keys
    /// per invocation of the column products) or `tiles,16x16,4x4,16` (invocations, outputs
    /// per invocation, depth of a tile).
    pub fn label(&self) -> String {
        match self.products {
            Products::Lanes {
                block,
                rows,
                quads,
                b,
                ..
            } => {
                let b = match b {
                    BLoad::Texels => "texels",
                    BLoad::Vec4 => "vec4",
                    BLoad::Scalar => "scalar",
                };
                if self.backward {
                    format!("lanes,{block},{rows},{b}; bwd keys {}", 4 * quads)
                } else {
                    format!("lanes,{block},{rows},{b}")
                }
            }
            Products::Tiles { tm, tn, wx, wy, bk } => format!("tiles,{wx}x{wy},{tm}x{tn},{bk}"),
        }
    }

    /// Bytes of workgroup memory the dearest kernel of the plan takes: the tiles of A and B
    /// (BK × (BM + BN) floats), or the row passes' sums.
    pub fn workgroup_bytes(&self) -> u32 {
        let rows = if self.row_pass.subgroup {
            0
        } else {
            4 * self.row_pass.invocations
        };
        let tiles = match self.products {
            Products::Lanes { .. } => 0,
            Products::Tiles { tm, tn, wx, wy, bk } => 4 * bk * (tm * wy + tn * wx),
        };
        rows.max(tiles)
    }

    /// Invocations per workgroup of the widest kernel of the plan.
    pub fn invocations(&self) -> u32 {
        let products = match self.products {
            Products::Lanes { block, .. } => block,
            Products::Tiles { wx, wy, .. } => wx * wy,
        };
        products.max(self.row_pass.invocations)
    }

    /// Floats one invocation of the largest product keeps live across its loop (what a
    /// GPU's register cap bounds): for tiles, the TM × TN sums, TM + TN operands and about
    /// 12 indices and bounds.
    pub fn live_floats(&self, head_dim: u32) -> u32 {
        match self.products {
            Products::Lanes {
                subgroup,
                rows,
                quads,
                ..
            } => {
                let b = 8 * head_dim.div_ceil(subgroup.max(1));
                let sums = (rows * head_dim).max(if self.backward {
                    4 * quads * head_dim
                } else {
                    0
                });
                sums + b + 16 * quads.max(rows)
            }
            Products::Tiles { tm, tn, .. } => tm * tn + tm + tn + 12,
        }
    }

    /// Loop iterations the dearest invocation of the run runs, per kernel, in all (every
    /// loop counts: lavapipe's limiter counts them together), refused past 90% of a driver's
    /// cap.
    fn check_loops(&self, shape: &Shape, facts: &DeviceFacts) -> Result<()> {
        let Some(cap) = facts.loop_cap else {
            return Ok(());
        };
        let n = u64::from(shape.seq_len);
        let d = u64::from(shape.head_dim);
        let group = u64::from(shape.group_size());
        let row_wg = u64::from(self.row_pass.invocations);
        let reduce = if self.row_pass.subgroup {
            0
        } else {
            2 * u64::from(row_wg.ilog2())
        };
        let row_pass = 2 * n.div_ceil(4 * row_wg) + d.div_ceil(row_wg) + 2 * reduce;
        let row_pass = if self.row_pass.held.is_some() && !self.backward {
            2 * reduce
        } else {
            row_pass
        };
        let mut loops: Vec<(&str, u64)> = vec![("its softmax", row_pass)];
        match self.products {
            Products::Lanes { key_block, .. } => {
                loops.push(("its scores", u64::from(key_block) / 4));
                loops.push(("P·V", n.div_ceil(4)));
                if self.backward {
                    loops.push(("dK and dV", group * (1 + n.div_ceil(4))));
                }
            }
            Products::Tiles { tm, tn, wx, wy, bk } => {
                let wg = u64::from(wx * wy);
                let bk = u64::from(bk);
                let step = 1
                    + (bk * u64::from(tm * wy)).div_ceil(wg)
                    + (bk * u64::from(tn * wx)).div_ceil(wg);
                loops.push(("its scores", 2 + d.div_ceil(bk) * step));
                loops.push(("P·V", 2 + n.div_ceil(bk) * step));
                if self.backward {
                    loops.push(("dK and dV", 1 + group * (1 + n.div_ceil(bk) * step)));
                }
            }
        }
        let kernel = rows_name(self.rows);
        match loops.into_iter().find(|(_, count)| *count > cap * 9 / 10) {
            Some((what, count)) => Err(Error::Unsupported {
                kernel: kernel.into(),
                reason: format!(
                    "{} caps shader loops at {cap} iterations per invocation; {kernel}'s {what} would run {count} (n = {n})",
                    facts.name
                ),
            }),
            None => Ok(()),
        }
    }
}

/// The registry name of the kernel holding score rows as `rows`.
pub(super) fn rows_name(rows: ScoreRows) -> &'static str {
    match rows {
        ScoreRows::Materialized => "naive",
        ScoreRows::Blocked => "chunked",
    }
}

/// The products for `shape` on a device with `facts`: on CPU drivers with one fixed
/// subgroup size the lane products (4 subgroups per workgroup; as many query rows per
/// invocation as 512 unrolled floats hold, at most 4, one at d = 256; B as texels where the
/// head dim and the device allow), elsewhere 16 × 16 invocations of 4 × 4 outputs on tiles
/// 16 deep (8 KiB of workgroup memory, 36 live floats: within every GPU's register cap).
fn choose_products(shape: &Shape, facts: &DeviceFacts) -> Products {
    let d = shape.head_dim;
    if facts.is_cpu
        && let Some(sg) = facts.fixed_subgroup_size()
    {
        let most = if d <= 128 { 512 } else { 256 };
        let rows = (most / d).clamp(1, 4);
        let b = if d.is_multiple_of(4) && facts.texel_arrays {
            BLoad::Texels
        } else if d.is_multiple_of(4) {
            BLoad::Vec4
        } else {
            BLoad::Scalar
        };
        let block = 4 * sg;
        return Products::Lanes {
            subgroup: sg,
            block,
            rows,
            quads: 1,
            b,
            key_block: key_block(shape, block * rows),
        };
    }
    let most = facts.limits.max_compute_invocations_per_workgroup;
    let side = if most >= 256 { 16 } else { 8 };
    Products::Tiles {
        tm: 4,
        tn: 4,
        wx: side,
        wy: side,
        bk: 16,
    }
}

/// Keys per workgroup of the lane scores: all of a row's (rounded up to 4) where the
/// problem has 16 blocks of query rows or more, else fewer (at least 256), so that small
/// problems still give each core several workgroups.
fn key_block(shape: &Shape, rows_per_block: u32) -> u32 {
    let n4 = shape.seq_len.next_multiple_of(4);
    let blocks = shape.batch_heads() * u64::from(shape.seq_len.div_ceil(rows_per_block));
    let splits = 16u64.div_ceil(blocks).max(1) as u32;
    n4.div_ceil(splits).next_multiple_of(4).max(256).min(n4)
}
