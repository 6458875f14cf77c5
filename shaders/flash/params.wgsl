// Parameters, the Q, O bindings and the query-block prologue shared by flash/tiles.wgsl and
// flash/lanes.wgsl (the same Params as src/kernels/flash/); each shader declares its own
// K, V and state bindings.

struct Params {
    seq_len: u32,
    head_dim: u32,
    causal: u32,
    // scale · log2(e)
    scale_log2: f32,
    // query blocks per (batch, head) and the number of workgroups that do work
    q_blocks: u32,
    total_groups: u32,
    // keys of this pass, and bit 0: first pass (start fresh), bit 1: last pass (write O),
    // bit 2: the last pass also writes each row's logsumexp into `state` (float D4·4 + 2
    // of the row; `state` then holds every row), for a backward pass
    kv_begin: u32,
    kv_stop: u32,
    pass_flags: u32,
    // grouped-query attention: query head h reads KV head h / (heads / kv_heads)
    heads: u32,
    kv_heads: u32,
    // causal sliding window W (0: none): query i sees keys i − W < j ≤ i
    window: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
@group(0) @binding(5) var<storage, read> params: Params;

// What workgroup `group` works on, and in which pass.
struct QueryBlock {
    // First query row of the block within its (batch, head).
    q0: u32,
    // First global row of this (batch, head) in Q and O.
    head_row: u32,
    // First global row of the K/V head it reads.
    kv_row: u32,
    // First key any row of the block may see (its first row's window start, a multiple
    // of 4).
    kv_first: u32,
    causal: bool,
    // First pass over the keys (start fresh) / last pass (write O).
    first: bool,
    last: bool,
}

// The block of `rows_per_block` query rows that workgroup `group` owns. Causal blocks get
// longer with their index: they are handed out short with long (0, last, 1, last − 1, …)
// so that drivers that split the grid into contiguous ranges per thread, as lavapipe
// does, get equal work per thread (n = 2048: 1.14× → 1.61×, see src/kernels/flash/).
fn query_block(group: u32, rows_per_block: u32) -> QueryBlock {
    let head = group / params.q_blocks;
    let block = group % params.q_blocks;
    let zigzag = select(block / 2u, params.q_blocks - 1u - block / 2u, (block & 1u) == 1u);
    let causal = params.causal != 0u;
    let q0 = select(block, zigzag, causal) * rows_per_block;
    return QueryBlock(
        q0,
        head * params.seq_len,
        kv_head_of(head, params.heads, params.kv_heads) * params.seq_len,
        // Rounded down to a multiple of 4, as key passes are: a step of four keys never
        // straddles a pass boundary (keys before a row's window are masked).
        first_visible_key(q0, params.window) & ~3u,
        causal,
        (params.pass_flags & 1u) != 0u,
        (params.pass_flags & 2u) != 0u,
    );
}
