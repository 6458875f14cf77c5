// naive's scores on workgroup tiles (naive/tiles.wgsl): S = scale · A·Bᵀ over one chunk, A = Q
// and B = K (the forward) or A = dO and B = V (dP, scale 1). C's rows are a head's query rows,
// its columns keys, its depth the head dim. Blocks of keys no row of the block sees are
// skipped whole; masked scores of the blocks computed are written as 0 (naive/softmax.wgsl
// reads only the keys each row sees).

@group(0) @binding(0) var<storage, read_write> s: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;
@group(0) @binding(3) var<storage, read> params: Params;

// A (rows of Q) and B (rows of K) are both contiguous along the head dim.
const A_K_FASTEST: bool = true;
const B_K_FASTEST: bool = true;

struct Tile {
    q0: u32,        // first query row of the block, within its head
    key0: u32,      // first key
    head_row: u32,  // first global row of the head
    kv_row: u32,    // first row of its KV head
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

// No row of the block sees any of its keys.
fn tile_empty(t: Tile, bm: u32, bn: u32) -> bool {
    let past_causal = params.causal != 0u && t.key0 > t.q0 + bm - 1u;
    let before_window = t.key0 + bn <= first_visible_key(t.q0, params.window);
    return past_causal || before_window;
}

fn parts(t: Tile) -> u32 {
    return 1u;
}

fn depth(t: Tile, part: u32, bm: u32, bn: u32) -> vec2<u32> {
    return vec2<u32>(0u, params.head_dim);
}

// Whether row q0 + m of the head lies in the chunk.
fn row_held(t: Tile, m: u32) -> bool {
    let row = t.head_row + t.q0 + m;
    return t.q0 + m < params.seq_len && row >= params.row_start && row < params.row_start + params.row_count;
}

fn load_a(t: Tile, part: u32, m: u32, k: u32, end: u32) -> f32 {
    let ok = row_held(t, m) && k < end;
    let at = select(0u, (t.head_row + t.q0 + m) * params.head_dim + k, ok);
    return select(0.0, a[at] * params.scale, ok);
}

fn load_b(t: Tile, part: u32, k: u32, c: u32, end: u32) -> f32 {
    let ok = t.key0 + c < params.seq_len && k < end;
    let at = select(0u, (t.kv_row + t.key0 + c) * params.head_dim + k, ok);
    return select(0.0, b[at], ok);
}

fn store_c(t: Tile, m: u32, c: u32, value: f32) {
    let i = t.q0 + m;
    let key = t.key0 + c;
    if (row_held(t, m) && key < params.seq_len) {
        let seen = key >= first_visible_key(i, params.window) && key < visible_end(i);
        s[(t.head_row + i - params.row_start) * params.seq_len + key] = select(0.0, value, seen);
    }
}
