// naive's column products on workgroup tiles (naive/tiles.wgsl): out = scale · Sᵀ·B over one
// chunk, S = P and B = dO (dV) or S = dS and B = Q (dK), summed over the query heads that read
// each KV head (the parts of the depth) and over the chunks (a KV head whose query rows began
// in an earlier chunk adds to what it holds). C's rows are a KV head's keys, its columns the
// head dim (`key_blocks` blocks of them), its depth the query rows of the chunk that see some
// key of the block.

@group(0) @binding(0) var<storage, read_write> s: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> params: Params;

// S is contiguous along the keys (C's rows), B (rows of dO) along the head dim.
const A_K_FASTEST: bool = false;
const B_K_FASTEST: bool = false;

struct Tile {
    key0: u32,
    col0: u32,
    kv_head: u32,
    first_head: u32,   // the first query head reading the KV head
}

fn tile_of(group: u32, bm: u32, bn: u32) -> Tile {
    let per_head = params.blocks * params.key_blocks;
    let kv_head = params.first_head + group / per_head;
    let within = group % per_head;
    let group_size = params.heads / params.kv_heads;
    return Tile(
        block_order(within / params.key_blocks, params.blocks, true) * bm,
        (within % params.key_blocks) * bn,
        kv_head,
        (kv_head / params.kv_heads) * params.heads + (kv_head % params.kv_heads) * group_size,
    );
}

fn tile_empty(t: Tile, bm: u32, bn: u32) -> bool {
    return false;
}

fn parts(t: Tile) -> u32 {
    return params.heads / params.kv_heads;
}

// Rows i of query head `part` held by the chunk that see some key of the block.
fn depth(t: Tile, part: u32, bm: u32, bn: u32) -> vec2<u32> {
    let n = params.seq_len;
    let head_row = (t.first_head + part) * n;
    let chunk_end = params.row_start + params.row_count;
    let k_last = min(n, t.key0 + bm) - 1u;
    let i_begin = select(0u, t.key0, params.causal != 0u);
    let i_end = select(n, min(n, k_last + params.window), params.window != 0u);
    let lo = max(i_begin, max(head_row, params.row_start) - head_row);
    let hi = select(0u, min(i_end, min(head_row + n, chunk_end) - head_row), chunk_end > head_row);
    return vec2<u32>(lo, max(lo, hi));
}

fn load_a(t: Tile, part: u32, m: u32, k: u32, end: u32) -> f32 {
    let n = params.seq_len;
    let ok = k < end && t.key0 + m < n;
    let at = select(0u, ((t.first_head + part) * n + k - params.row_start) * n + t.key0 + m, ok);
    return select(0.0, s[at], ok);
}

fn load_b(t: Tile, part: u32, k: u32, c: u32, end: u32) -> f32 {
    let ok = k < end && t.col0 + c < params.head_dim;
    let at = select(0u, ((t.first_head + part) * params.seq_len + k) * params.head_dim + t.col0 + c, ok);
    return select(0.0, b[at], ok);
}

fn store_c(t: Tile, m: u32, c: u32, value: f32) {
    let key = t.key0 + m;
    let col = t.col0 + c;
    if (key < params.seq_len && col < params.head_dim) {
        let at = (t.kv_head * params.seq_len + key) * params.head_dim + col;
        let adds = t.first_head * params.seq_len < params.row_start;
        out[at] = select(0.0, out[at], adds) + value * params.scale;
    }
}
