//! The parameters every naive dispatch reads ([`Params`], `shaders/naive/params.wgsl`) and the
//! chunk of score rows a dispatch works on ([`ChunkRows`]).

use crate::shape::Shape;

crate::gpu::shader_params! {
    /// The Params of `shaders/naive/params.wgsl`.
    pub(crate) struct Params {
        seq_len: u32,
        head_dim: u32,
        causal: u32,
        scale: f32,
        row_start: u32,
        row_count: u32,
        heads: u32,
        kv_heads: u32,
        window: u32,
        first_head: u32,
        blocks: u32,
        key_blocks: u32,
        key_block: u32,
        total_groups: u32,
        _pad0: u32,
        _pad1: u32,
    }
}

/// Chunk `index` of a plan's score rows: global query rows `start..start + count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChunkRows {
    /// Which chunk.
    pub index: u64,
    /// Its first global query row.
    pub start: u64,
    /// Its rows.
    pub count: u64,
}

impl ChunkRows {
    /// Every chunk of `shape`'s rows split into `chunks` of `per` rows, in order.
    pub(crate) fn all(shape: &Shape, per: u64, chunks: u64) -> impl Iterator<Item = ChunkRows> {
        let rows = shape.rows();
        (0..chunks).map(move |index| {
            let start = index * per;
            ChunkRows {
                index,
                start,
                count: per.min(rows - start),
            }
        })
    }

    /// The (batch, head) indices whose rows the chunk holds: first and how many.
    pub(crate) fn heads(&self, shape: &Shape) -> (u64, u64) {
        let n = u64::from(shape.seq_len);
        let first = self.start / n;
        let last = (self.start + self.count - 1) / n;
        (first, last - first + 1)
    }

    /// The (batch, KV head) indices read by the chunk's rows: first and how many.
    pub(crate) fn kv_heads(&self, shape: &Shape) -> (u64, u64) {
        let (first, count) = self.heads(shape);
        let kv_first = shape.kv_head_of(first);
        let kv_last = shape.kv_head_of(first + count - 1);
        (kv_first, kv_last - kv_first + 1)
    }

    /// The parameters of a dispatch over this chunk with `scale`; the product's own fields
    /// (first head, blocks, groups) zero.
    pub(crate) fn params(&self, shape: &Shape, scale: f32) -> Params {
        Params {
            seq_len: shape.seq_len,
            head_dim: shape.head_dim,
            causal: u32::from(shape.causal),
            scale,
            row_start: self.start as u32,
            row_count: self.count as u32,
            heads: shape.heads,
            kv_heads: shape.kv_head_count(),
            window: shape.window.unwrap_or(0),
            ..bytemuck::Zeroable::zeroed()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn params_match_the_shaders() {
        use crate::gpu::wgsl_mismatch;
        let naive = crate::gpu::shader!("naive/params.wgsl").wgsl;
        assert_eq!(wgsl_mismatch::<super::Params>(naive), None);
    }
}
