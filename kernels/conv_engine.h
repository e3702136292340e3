// conv_engine.h — the convolution engine (docs/numerics.md §3–§5, docs/engines.md).
//
// y = store(requant(bias + Σ X·w)), X the input as read (optionally nearest ×2 upsampled on load,
// zero padded). Tiled over bands of Cfg::TILE_ROWS output rows × blocks of Cfg::UNROLL_OUT output
// channels. Every tile has its own input band, weight block and output buffers, in two copies
// (ping-pong): while tile t is loaded into one copy, tile t−1 is computed from the other and tile
// t−2 is stored, so DDR reads, MACs and DDR writes overlap (a DATAFLOW region per stage).
//
// Cfg (generated, <engine>_config.h): MAX_IN_C, MAX_OUT_C, MAX_W (widest row as read, after
// upsample), MAX_K, MAX_STRIDE, KERNEL_MASK / STRIDE_MASK (bit n set: n supported), UNROLL_IN,
// UNROLL_OUT, TILE_ROWS, HAS_RELU / HAS_POOL / HAS_UPSAMPLE / HAS_RESIDUAL, IN_ROWS, KK, and
// `regs`, the register struct. The GF_STATUS_* and GF_CONV_* constants come from the config too.
#ifndef CONV_ENGINE_H
#define CONV_ENGINE_H

#include <cstdint>

#include "grace_numerics.h"

// Runtime geometry of one instruction, derived once from the registers.
struct ConvGeom {
    int up;                 // 1 when the input is upsampled on load (the row/column shift)
    int in_h, in_w;         // input size as read
    int out_h, out_w;       // conv output size
    int store_h, store_w;   // stored size (halved by pool)
    int n_blocks, n_tiles;  // output-channel blocks, tiles (bands × blocks)
};

template <class Cfg>
ConvGeom conv_geom(const typename Cfg::regs& r) {
    ConvGeom g;
    const bool pool = (r.flags >> GF_CONV_POOL) & 1;
    g.up = (r.flags >> GF_CONV_UPSAMPLE) & 1;
    g.in_h = static_cast<int>(r.in_h) << g.up;
    g.in_w = static_cast<int>(r.in_w) << g.up;
    const int k = static_cast<int>(r.kernel), s = static_cast<int>(r.stride);
    const int p = static_cast<int>(r.pad);
    g.out_h = (g.in_h + 2 * p - k) / s + 1;
    g.out_w = (g.in_w + 2 * p - k) / s + 1;
    g.store_h = pool ? g.out_h / 2 : g.out_h;
    g.store_w = pool ? g.out_w / 2 : g.out_w;
    g.n_blocks = (static_cast<int>(r.out_c) + Cfg::UNROLL_OUT - 1) / Cfg::UNROLL_OUT;
    const int n_bands = (g.out_h + Cfg::TILE_ROWS - 1) / Cfg::TILE_ROWS;
    g.n_tiles = n_bands * g.n_blocks;
    return g;
}

// Validate an instruction against this build (capacities, features) and a DDR window of
// ddr_bytes bytes; GF_STATUS_OK or the first problem found. Nothing runs unless it is OK.
template <class Cfg>
int conv_check(const typename Cfg::regs& r, uint64_t ddr_bytes) {
    const uint32_t f = r.flags;
    const bool relu = (f >> GF_CONV_RELU) & 1, pool = (f >> GF_CONV_POOL) & 1;
    const bool up = (f >> GF_CONV_UPSAMPLE) & 1, residual = (f >> GF_CONV_RESIDUAL) & 1;
    if ((f >> 4) != 0 || (relu && residual)) return GF_STATUS_PARAM;
    if ((relu && !Cfg::HAS_RELU) || (pool && !Cfg::HAS_POOL) ||
        (up && !Cfg::HAS_UPSAMPLE) || (residual && !Cfg::HAS_RESIDUAL))
        return GF_STATUS_FEATURE;
    if (r.kernel >= 32 || ((Cfg::KERNEL_MASK >> r.kernel) & 1) == 0) return GF_STATUS_PARAM;
    if (r.stride >= 32 || ((Cfg::STRIDE_MASK >> r.stride) & 1) == 0) return GF_STATUS_PARAM;
    if (2 * static_cast<uint64_t>(r.pad) >= r.kernel) return GF_STATUS_PARAM;
    const uint64_t read_h = static_cast<uint64_t>(r.in_h) << up;
    const uint64_t read_w = static_cast<uint64_t>(r.in_w) << up;
    if (r.in_c == 0 || r.in_c > Cfg::MAX_IN_C || r.out_c == 0 || r.out_c > Cfg::MAX_OUT_C ||
        r.in_h == 0 || read_h > (1u << 15) || r.in_w == 0 || read_w > Cfg::MAX_W ||
        read_h + 2 * r.pad < r.kernel || read_w + 2 * r.pad < r.kernel)
        return GF_STATUS_SHAPE;
    const ConvGeom g = conv_geom<Cfg>(r);
    if (g.store_h == 0 || g.store_w == 0) return GF_STATUS_SHAPE;
    const uint64_t oc = r.out_c, kk = static_cast<uint64_t>(r.kernel) * r.kernel;
    const bool ok =
        gf_span_ok(r.in_off, static_cast<uint64_t>(r.in_c) * r.in_h * r.in_w, ddr_bytes) &&
        gf_span_ok(r.out_off, oc * g.store_h * g.store_w, ddr_bytes) &&
        gf_span_ok(r.w_off, oc * r.in_c * kk, ddr_bytes) &&
        gf_span_ok(r.bias_off, 4 * oc, ddr_bytes) && gf_span_ok(r.mult_off, 4 * oc, ddr_bytes) &&
        gf_span_ok(r.shift_off, oc, ddr_bytes) &&
        (!residual || (gf_span_ok(r.res_off, oc * g.out_h * g.out_w, ddr_bytes) &&
                       gf_span_ok(r.res_mult_off, 4 * oc, ddr_bytes)));
    return ok ? GF_STATUS_OK : GF_STATUS_BOUNDS;
}

// Rows of the band of tile t that exist in the output (the last band may be short).
template <class Cfg>
int conv_band_rows(const ConvGeom& g, int band) {
    const int left = g.out_h - band * Cfg::TILE_ROWS;
    return left < Cfg::TILE_ROWS ? left : Cfg::TILE_ROWS;
}

// DDR → one copy of the tile buffers: input band (upsampled, rows outside the image zeroed),
// weight block, per-channel parameters and, for a residual add, the residual rows.
// t outside [0, n_tiles) is a pipeline bubble: nothing to do. Tiles run band by band, so this
// copy often still holds the band (it was loaded for tile t − 2): then it is not read again.
template <class Cfg>
void conv_load(const int8_t* ddr, const typename Cfg::regs& r, const ConvGeom& g, int t,
               int8_t xin[Cfg::MAX_IN_C][Cfg::IN_ROWS][Cfg::MAX_W],
               int8_t w[Cfg::UNROLL_OUT][Cfg::MAX_IN_C][Cfg::KK], int32_t bias[Cfg::UNROLL_OUT],
               int32_t mult[Cfg::UNROLL_OUT], int32_t rmult[Cfg::UNROLL_OUT],
               uint8_t shift[Cfg::UNROLL_OUT],
               int8_t res[Cfg::UNROLL_OUT][Cfg::TILE_ROWS][Cfg::MAX_W]) {
    if (t < 0 || t >= g.n_tiles) return;
    const int band = t / g.n_blocks, block = t % g.n_blocks;
    const int k = static_cast<int>(r.kernel), s = static_cast<int>(r.stride);
    const int rows = conv_band_rows<Cfg>(g, band);
    const int first = band * Cfg::TILE_ROWS * s - static_cast<int>(r.pad);
    const int in_rows = (rows - 1) * s + k;
    const int src_w = static_cast<int>(r.in_w);
    const bool band_held = t >= 2 && (t - 2) / g.n_blocks == band;
    for (int i = 0; i < (band_held ? 0 : static_cast<int>(r.in_c)); ++i) {
        for (int rr = 0; rr < in_rows; ++rr) {
            const int row = first + rr;
            const bool inside = row >= 0 && row < g.in_h;
            const uint64_t base =
                r.in_off + (static_cast<uint64_t>(i) * r.in_h + (inside ? row >> g.up : 0)) * src_w;
            for (int c = 0; c < g.in_w; ++c) {
#pragma HLS PIPELINE II = 1
                xin[i][rr][c] = inside ? ddr[base + (c >> g.up)] : static_cast<int8_t>(0);
            }
        }
    }
    const bool residual = (r.flags >> GF_CONV_RESIDUAL) & 1;
    const int kk = k * k;
    for (int o = 0; o < Cfg::UNROLL_OUT; ++o) {
        const int oc = block * Cfg::UNROLL_OUT + o;
        if (oc >= static_cast<int>(r.out_c)) break;
        bias[o] = gf_ld_i32(ddr, r.bias_off + 4ull * oc);
        mult[o] = gf_ld_i32(ddr, r.mult_off + 4ull * oc);
        shift[o] = gf_ld_u8(ddr, r.shift_off + static_cast<uint64_t>(oc));
        rmult[o] = residual ? gf_ld_i32(ddr, r.res_mult_off + 4ull * oc) : 0;
        for (int i = 0; i < static_cast<int>(r.in_c); ++i) {
            const uint64_t base = r.w_off + (static_cast<uint64_t>(oc) * r.in_c + i) * kk;
            for (int j = 0; j < kk; ++j) {
#pragma HLS PIPELINE II = 1
                w[o][i][j] = ddr[base + j];
            }
        }
        if (!residual) continue;
        for (int rr = 0; rr < rows; ++rr) {
            const uint64_t base =
                r.res_off +
                (static_cast<uint64_t>(oc) * g.out_h + band * Cfg::TILE_ROWS + rr) * g.out_w;
            for (int c = 0; c < g.out_w; ++c) {
#pragma HLS PIPELINE II = 1
                res[o][rr][c] = ddr[base + c];
            }
        }
    }
}

// int32 accumulator → int8 (numerics.md §3, or §5 with the residual term).
static inline int8_t conv_requant(int32_t acc, int32_t mult, int32_t rmult, uint8_t shift,
                                  int8_t residual_value, bool residual, bool relu) {
    int64_t total = static_cast<int64_t>(acc) * mult;
    if (residual) total += static_cast<int64_t>(residual_value) * rmult;
    int64_t v = gf_rhu(total, gf_valid_shift(shift));
    if (relu && v < 0) v = 0;
    return gf_sat8(v);
}

// One tile of MACs: per output pixel, UNROLL_OUT × UNROLL_IN products per cycle, then requant.
template <class Cfg>
void conv_compute(const typename Cfg::regs& r, const ConvGeom& g, int t,
                  const int8_t xin[Cfg::MAX_IN_C][Cfg::IN_ROWS][Cfg::MAX_W],
                  const int8_t w[Cfg::UNROLL_OUT][Cfg::MAX_IN_C][Cfg::KK],
                  const int32_t bias[Cfg::UNROLL_OUT], const int32_t mult[Cfg::UNROLL_OUT],
                  const int32_t rmult[Cfg::UNROLL_OUT], const uint8_t shift[Cfg::UNROLL_OUT],
                  const int8_t res[Cfg::UNROLL_OUT][Cfg::TILE_ROWS][Cfg::MAX_W],
                  int8_t out[Cfg::UNROLL_OUT][Cfg::TILE_ROWS][Cfg::MAX_W]) {
    if (t < 0 || t >= g.n_tiles) return;
    const int k = static_cast<int>(r.kernel), s = static_cast<int>(r.stride);
    const int p = static_cast<int>(r.pad), in_c = static_cast<int>(r.in_c);
    const int rows = conv_band_rows<Cfg>(g, t / g.n_blocks);
    const int in_groups = (in_c + Cfg::UNROLL_IN - 1) / Cfg::UNROLL_IN;
    const bool relu = (r.flags >> GF_CONV_RELU) & 1;
    const bool residual = (r.flags >> GF_CONV_RESIDUAL) & 1;
    for (int rr = 0; rr < rows; ++rr) {
        for (int c = 0; c < g.out_w; ++c) {
            int32_t acc[Cfg::UNROLL_OUT];
#pragma HLS ARRAY_PARTITION variable = acc complete
            for (int o = 0; o < Cfg::UNROLL_OUT; ++o) {
#pragma HLS UNROLL
                acc[o] = bias[o];
            }
            for (int ky = 0; ky < k; ++ky) {
                for (int kx = 0; kx < k; ++kx) {
                    const int col = c * s + kx - p;
                    const bool inside = col >= 0 && col < g.in_w;
                    for (int ig = 0; ig < in_groups; ++ig) {
#pragma HLS PIPELINE II = 1
                        for (int o = 0; o < Cfg::UNROLL_OUT; ++o) {
#pragma HLS UNROLL
                            for (int u = 0; u < Cfg::UNROLL_IN; ++u) {
#pragma HLS UNROLL
                                const int i = ig * Cfg::UNROLL_IN + u;
                                // A channel beyond in_c or a padding column contributes 0.
                                if (i < in_c && inside) {
                                    acc[o] += static_cast<int32_t>(xin[i][rr * s + ky][col]) *
                                              w[o][i][ky * k + kx];
                                }
                            }
                        }
                    }
                }
            }
            for (int o = 0; o < Cfg::UNROLL_OUT; ++o) {
#pragma HLS UNROLL
                out[o][rr][c] = conv_requant(acc[o], mult[o], rmult[o], shift[o],
                                             residual ? res[o][rr][c] : static_cast<int8_t>(0),
                                             residual, relu);
            }
        }
    }
}

// One copy of the output buffers → DDR, through the 2×2 average pool when flags.pool
// (numerics.md §4; TILE_ROWS is even whenever pool is built, so pairs never straddle tiles).
template <class Cfg>
void conv_store(int8_t* ddr, const typename Cfg::regs& r, const ConvGeom& g, int t,
                const int8_t out[Cfg::UNROLL_OUT][Cfg::TILE_ROWS][Cfg::MAX_W]) {
    if (t < 0 || t >= g.n_tiles) return;
    const int band = t / g.n_blocks, block = t % g.n_blocks;
    const bool pool = (r.flags >> GF_CONV_POOL) & 1;
    const int rows = conv_band_rows<Cfg>(g, band);
    for (int o = 0; o < Cfg::UNROLL_OUT; ++o) {
        const int oc = block * Cfg::UNROLL_OUT + o;
        if (oc >= static_cast<int>(r.out_c)) break;
        if (pool) {
            const int row0 = band * Cfg::TILE_ROWS / 2;
            for (int pr = 0; pr < rows / 2 && row0 + pr < g.store_h; ++pr) {
                const uint64_t base =
                    r.out_off + (static_cast<uint64_t>(oc) * g.store_h + row0 + pr) * g.store_w;
                for (int pc = 0; pc < g.store_w; ++pc) {
#pragma HLS PIPELINE II = 1
                    const int sum = out[o][2 * pr][2 * pc] + out[o][2 * pr][2 * pc + 1] +
                                    out[o][2 * pr + 1][2 * pc] + out[o][2 * pr + 1][2 * pc + 1];
                    ddr[base + pc] = gf_sat8(gf_rhu(sum, 2));
                }
            }
        } else {
            for (int rr = 0; rr < rows; ++rr) {
                const uint64_t base =
                    r.out_off +
                    (static_cast<uint64_t>(oc) * g.out_h + band * Cfg::TILE_ROWS + rr) * g.out_w;
                for (int c = 0; c < g.out_w; ++c) {
#pragma HLS PIPELINE II = 1
                    ddr[base + c] = out[o][rr][c];
                }
            }
        }
    }
}

// The ping-pong buffers: index 0 and 1 of the leading dimension are the two copies.
template <class Cfg>
struct ConvBuffers {
    int8_t xin[2][Cfg::MAX_IN_C][Cfg::IN_ROWS][Cfg::MAX_W];
    int8_t w[2][Cfg::UNROLL_OUT][Cfg::MAX_IN_C][Cfg::KK];
    int32_t bias[2][Cfg::UNROLL_OUT];
    int32_t mult[2][Cfg::UNROLL_OUT];
    int32_t rmult[2][Cfg::UNROLL_OUT];
    uint8_t shift[2][Cfg::UNROLL_OUT];
    int8_t res[2][Cfg::UNROLL_OUT][Cfg::TILE_ROWS][Cfg::MAX_W];
    int8_t out[2][Cfg::UNROLL_OUT][Cfg::TILE_ROWS][Cfg::MAX_W];
};

// Stage t of the tile pipeline with copy P: load tile t into copy P, compute tile t−1 from copy
// 1−P, store tile t−2 from copy P. The three touch disjoint buffers, hence DATAFLOW.
template <class Cfg, int P>
void conv_stage(int8_t* ddr, const typename Cfg::regs& r, const ConvGeom& g, int t,
                ConvBuffers<Cfg>& b) {
#pragma HLS DATAFLOW
    conv_load<Cfg>(ddr, r, g, t, b.xin[P], b.w[P], b.bias[P], b.mult[P], b.rmult[P], b.shift[P],
                   b.res[P]);
    conv_compute<Cfg>(r, g, t - 1, b.xin[1 - P], b.w[1 - P], b.bias[1 - P], b.mult[1 - P],
                      b.rmult[1 - P], b.shift[1 - P], b.res[1 - P], b.out[1 - P]);
    conv_store<Cfg>(ddr, r, g, t - 2, b.out[P]);
}

// Run one checked instruction (conv_check returned GF_STATUS_OK).
template <class Cfg>
void conv_run(int8_t* ddr, const typename Cfg::regs& r, ConvBuffers<Cfg>& b) {
    const ConvGeom g = conv_geom<Cfg>(r);
    // n_tiles + 2 stages drain the pipeline; stages go in pairs so each copy index is constant.
    for (int t = 0; t < g.n_tiles + 2; t += 2) {
        conv_stage<Cfg, 0>(ddr, r, g, t, b);
        conv_stage<Cfg, 1>(ddr, r, g, t + 1, b);
    }
}

#endif  // CONV_ENGINE_H
