// naive's row products on workgroup tiles (naive/tiles.wgsl): out = scale · S·B over one chunk,
// S = P and B = V (O) or S = dS and B = K (dQ). C's rows are a head's query rows, its columns
// the head dim (`key_blocks` blocks of them), its depth the keys the block's rows see; S's
// entries a row does not see are exact zeros.

@group(0) @binding(0) var<storage, read_write> s: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> params: Params;

// S is contiguous along the keys (the depth), B (rows of V) along the head dim.
const A_K_FASTEST: bool = true;
const B_K_FASTEST: bool = false;

struct Tile {
    q0: u32,
    col0: u32,
    head_row: u32,
    kv_row: u32,
}

fn tile_of(group: u32, bm: u32, bn: u32) -> Tile {
    let per_head = params.blocks * params.key_blocks;
    let head = params.first_head + group / per_head;
    let within = group % per_head;
    let n = params.seq_len;
    return Tile(
        block_order(within / params.key_blocks, params.blocks, true) * bm,
        (within % params.key_blocks) * bn,
        head * n,
        kv_head_of(head, params.heads, params.kv_heads) * n,
    );
}

fn tile_empty(t: Tile, bm: u32, bn: u32) -> bool {
    return false;
}

fn parts(t: Tile) -> u32 {
    return 1u;
}

// The keys some row of the block sees.
fn depth(t: Tile, part: u32, bm: u32, bn: u32) -> vec2<u32> {
    let n = params.seq_len;
    return vec2<u32>(first_visible_key(t.q0, params.window), select(n, min(n, t.q0 + bm), params.causal != 0u));
}

fn row_held(t: Tile, m: u32) -> bool {
    let row = t.head_row + t.q0 + m;
    return t.q0 + m < params.seq_len && row >= params.row_start && row < params.row_start + params.row_count;
}

fn load_a(t: Tile, part: u32, m: u32, k: u32, end: u32) -> f32 {
    let ok = row_held(t, m) && k < end;
    let at = select(0u, (t.head_row + t.q0 + m - params.row_start) * params.seq_len + k, ok);
    return select(0.0, s[at], ok);
}

fn load_b(t: Tile, part: u32, k: u32, c: u32, end: u32) -> f32 {
    let ok = k < end && t.col0 + c < params.head_dim;
    let at = select(0u, (t.kv_row + k) * params.head_dim + t.col0 + c, ok);
    return select(0.0, b[at], ok);
}

fn store_c(t: Tile, m: u32, c: u32, value: f32) {
    if (row_held(t, m) && t.col0 + c < params.head_dim) {
        out[(t.head_row + t.q0 + m) * params.head_dim + t.col0 + c] = value * params.scale;
    }
}
