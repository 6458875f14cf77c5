// naive's matrix products for GPUs (and drivers without one fixed subgroup size): a classic
// 2D block-tiled product C = A·B (SGEMM_CUDA's kernel 5). A workgroup of WX × WY invocations
// owns a BM × BN block of C (BM = TM·WY rows, BN = TN·WX columns); per step of BK along the
// depth it stages a BK × BM tile of A and a BK × BN tile of B in workgroup memory with
// coalesced loads (consecutive invocations take consecutive floats of whichever index is
// contiguous in memory), then each invocation accumulates its TM × TN outputs in registers
// from TM + TN values per depth: (TM + TN) loads from workgroup memory for TM·TN FMAs.
// Invocation (tx, ty) owns rows ty + i·WY and columns tx + j·WX, so that stores of C and reads
// of the tiles are consecutive across invocations.
//
// What A, B and C are is the including product's (naive/tiles_scores.wgsl, tiles_rows.wgsl,
// tiles_columns.wgsl): `Tile`, `tile_of`, `tile_empty`, `parts`, `depth`, `load_a`, `load_b`,
// `store_c`, and A_K_FASTEST / B_K_FASTEST (whether a tile's floats are contiguous along the
// depth). Depth ranges may be split into parts (the query heads of a KV head): the sums run
// over every part.

// Rewritten per pipeline by src/kernels/naive/matmul.rs (gpu::specialize):
const TM: u32 = 4u;
const TN: u32 = 4u;
const WX: u32 = 16u;
const WY: u32 = 16u;
const BK: u32 = 16u;
const BM: u32 = TM * WY;
const BN: u32 = TN * WX;
const WG: u32 = WX * WY;

var<workgroup> a_tile: array<f32, BK * BM>;   // [k][m]
var<workgroup> b_tile: array<f32, BK * BN>;   // [k][n]

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let group = workgroup_linear_id(wid, nwg);
    if (group >= params.total_groups) {
        return;
    }
    let tile = tile_of(group, BM, BN);
    if (tile_empty(tile, BM, BN)) {
        return;
    }
    let tx = lid % WX;
    let ty = lid / WX;
    var acc: array<f32, TM * TN>;
    for (var part = 0u; part < parts(tile); part++) {
        let range = depth(tile, part, BM, BN);
        for (var k0 = range.x; k0 < range.y; k0 += BK) {
            for (var e = lid; e < BK * BM; e += WG) {
                let k = select(e / BM, e % BK, A_K_FASTEST);
                let m = select(e % BM, e / BK, A_K_FASTEST);
                a_tile[k * BM + m] = load_a(tile, part, m, k0 + k, range.y);
            }
            for (var e = lid; e < BK * BN; e += WG) {
                let k = select(e / BN, e % BK, B_K_FASTEST);
                let c = select(e % BN, e / BK, B_K_FASTEST);
                b_tile[k * BN + c] = load_b(tile, part, k0 + k, c, range.y);
            }
            workgroupBarrier();
            for (var k = 0u; k < BK; k++) { // unroll
                var ar: array<f32, TM>;
                var br: array<f32, TN>;
                for (var i = 0u; i < TM; i++) { // unroll
                    ar[i] = a_tile[k * BM + ty + i * WY];
                }
                for (var j = 0u; j < TN; j++) { // unroll
                    br[j] = b_tile[k * BN + tx + j * WX];
                }
                for (var i = 0u; i < TM; i++) { // unroll
                    for (var j = 0u; j < TN; j++) { // unroll
                        acc[i * TN + j] = fma(ar[i], br[j], acc[i * TN + j]);
                    }
                }
            }
            workgroupBarrier();
        }
    }
    for (var i = 0u; i < TM; i++) { // unroll
        for (var j = 0u; j < TN; j++) { // unroll
            store_c(tile, ty + i * WY, tx + j * WX, acc[i * TN + j]);
        }
    }
}
