// conv_engine.h — the convolution engine (docs/numerics.md §3–§5, docs/engines.md).
//
// y = store(requant(bias + Σ X·w)), X the input as read (optionally nearest ×2 upsampled on load,
// zero padded). An output tile is a band of g.rows output rows (at most Cfg::TILE_ROWS: as many
// as the input band's IN_ROWS rows hold for the instruction's kernel and stride) × a block of
// Cfg::UNROLL_OUT output channels; its int32 partial sums live in a local accumulator while the
// input channels stream through in blocks of Cfg::IN_BLOCK, so no buffer scales with the input
// channels. A *step* is (tile, input block): load that block's input band and weights, then add
// its MACs to the accumulator; the last step of a tile requantizes it. Steps are pipelined in two
// copies (ping-pong): while step s is loaded into one copy, step s−1 is computed from the other
// and the tile finished at step s−2 is stored (a DATAFLOW region per stage).
//
// DDR is a 64-bit word port (grace_ddr.h): input rows, weights, residual and output rows move as
// whole words, 8 bytes per beat, at any byte alignment. Tensors are CHW, so the source rows of an
// input channel's band are one contiguous span: a step reads each as one burst (a band of every
// source row, the block's channels together as one), each source byte once (an upsampled source
// row fills both of its band rows).
//
// Cfg (generated, <engine>_config.h): MAX_IN_C, MAX_OUT_C, MAX_W (widest row as read, after
// upsample), ROW_WORDS (64-bit words of a MAX_W row), ROW_BYTES (8 · ROW_WORDS), MAX_K,
// KERNEL_MASK / STRIDE_MASK (bit n set: n supported), UNROLL_IN, UNROLL_OUT, MACS_PER_DSP (1 or
// 2: dsp_pack.h), IN_BLOCK, TILE_ROWS, REQUANT_LANES (1 or 2: output columns requantized per
// cycle), HAS_RELU / HAS_POOL / HAS_UPSAMPLE / HAS_RESIDUAL, IN_ROWS (the input band's rows,
// ≥ MAX_K: engines/spec.py conv_in_rows), KK, W_ENTRIES (KK · IN_BLOCK / UNROLL_IN: a step's
// passes), W_ENTRY_WORDS (⌈UNROLL_IN · UNROLL_OUT / 8⌉: 64-bit words of a pass's weights),
// W_BANKS (the weight buffer's banks per copy, word e of an entry in bank e mod W_BANKS),
// W_READS (⌈W_ENTRY_WORDS / W_BANKS⌉: cycles a pass reads its entry in), and `regs`, the
// register struct. The GF_STATUS_* and GF_CONV_* constants come from the config too.
//
// Weights are in DDR in the engine's folding order (grace_flow/engines/conv_weights.py): per
// output block, input block, tap and group of UNROLL_IN input channels, one entry of
// W_ENTRY_WORDS words whose byte u · UNROLL_OUT + o is the weight of output channel o and input
// channel u of the group (0 beyond out_c or the block). A step's entries are one contiguous
// span, in the order conv_compute's passes run.
#ifndef CONV_ENGINE_H
#define CONV_ENGINE_H

#include <cstdint>

#include "dsp_pack.h"
#include "grace_ddr.h"
#include "grace_numerics.h"

// Runtime geometry of one instruction, derived once from the registers.
struct ConvGeom {
    int up;                 // 1 when the input is upsampled on load (the row/column shift)
    int in_h, in_w;         // input size as read
    int out_h, out_w;       // conv output size
    int store_h, store_w;   // stored size (halved by pool)
    int rows;               // output rows of a band (the last one may be short), even with pool
    int in_step;            // input rows from one band's first to the next's: rows · stride
    int n_bands, last_rows; // bands, and the output rows of the last
    int n_blocks, n_tiles;  // output-channel blocks, tiles (bands × blocks)
    int n_in, n_steps;      // input-channel blocks per tile, steps (tiles × input blocks)
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
    // A band of h output rows reads (h − 1) · s + k input rows: g.rows is the most h whose
    // rows IN_ROWS holds, at most TILE_ROWS, counted up (at most TILE_ROWS iterations of an
    // add and a compare: no divider, no multiplier). Every kernel the build has is ≤ IN_ROWS,
    // so h ≥ 1; with pool h is rounded down to even so that pool pairs never straddle bands
    // (0 when not even 2 fit: conv_check refuses the instruction). The band count is one
    // division per instruction, like out_h's.
    g.rows = 1;
    g.in_step = s;
    for (int need = k + s; g.rows < Cfg::TILE_ROWS && need <= Cfg::IN_ROWS; need += s) {
        ++g.rows;
        g.in_step += s;
    }
    if (pool && (g.rows & 1)) {
        --g.rows;
        g.in_step -= s;
    }
    g.n_bands = g.rows ? (g.out_h + g.rows - 1) / g.rows : 0;
    g.last_rows = g.rows ? (g.out_h - 1) % g.rows + 1 : 0;
    g.n_blocks = (static_cast<int>(r.out_c) + Cfg::UNROLL_OUT - 1) / Cfg::UNROLL_OUT;
    g.n_tiles = g.n_bands * g.n_blocks;
    g.n_in = (static_cast<int>(r.in_c) + Cfg::IN_BLOCK - 1) / Cfg::IN_BLOCK;
    g.n_steps = g.n_tiles * g.n_in;
    return g;
}

// Bytes of an instruction's laid-out weights: an entry per k² taps, output block and input group.
template <class Cfg>
uint64_t conv_weight_bytes(const typename Cfg::regs& r) {
    const uint64_t blocks = (r.out_c + Cfg::UNROLL_OUT - 1) / Cfg::UNROLL_OUT;
    const uint64_t groups = (r.in_c + Cfg::UNROLL_IN - 1) / Cfg::UNROLL_IN;
    return 8ull * Cfg::W_ENTRY_WORDS * r.kernel * r.kernel * blocks * groups;
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
    // A pooled band needs two output rows, which a kernel and stride this tall leave no room
    // for in the input band: a combination of parameters the build does not support.
    if (g.rows == 0) return GF_STATUS_PARAM;
    const uint64_t oc = r.out_c;
    const bool ok =
        gf_span_ok(r.in_off, static_cast<uint64_t>(r.in_c) * r.in_h * r.in_w, ddr_bytes) &&
        gf_span_ok(r.out_off, oc * g.store_h * g.store_w, ddr_bytes) &&
        gf_span_ok(r.w_off, conv_weight_bytes<Cfg>(r), ddr_bytes) &&
        gf_span_ok(r.bias_off, 4 * oc, ddr_bytes) && gf_span_ok(r.mult_off, 4 * oc, ddr_bytes) &&
        gf_span_ok(r.shift_off, oc, ddr_bytes) &&
        (!residual || (gf_span_ok(r.res_off, oc * g.out_h * g.out_w, ddr_bytes) &&
                       gf_span_ok(r.res_mult_off, 4 * oc, ddr_bytes)));
    return ok ? GF_STATUS_OK : GF_STATUS_BOUNDS;
}

// Output rows of band `band` (the last band may be short).
static inline int conv_band_rows(const ConvGeom& g, int band) {
    return band == g.n_bands - 1 ? g.last_rows : g.rows;
}

// The first output row of band `band`: band < 2^15 times rows ≤ 64, a product small enough for
// LUTs (one instance in each function that inlines it: conv_load and conv_store).
static inline int conv_band_row0(const ConvGeom& g, int band) {
#pragma HLS INLINE
    const int row0 = band * g.rows;
#pragma HLS BIND_OP variable = row0 op = mul impl = fabric
    return row0;
}

// Input channels in input block ib (the last one may be short).
template <class Cfg>
int conv_block_channels(const typename Cfg::regs& r, int ib) {
    const int left = static_cast<int>(r.in_c) - ib * Cfg::IN_BLOCK;
    return left < Cfg::IN_BLOCK ? left : Cfg::IN_BLOCK;
}

// Every byte of a word duplicated from the low 4 bytes of v: nearest ×2 upsampling of 4 columns.
static inline uint64_t conv_spread(uint64_t v) {
    uint64_t out = 0;
    for (int b = 0; b < 8; ++b) {
#pragma HLS UNROLL
        out |= ((v >> (8 * (b >> 1))) & 0xFF) << (8 * b);
    }
    return out;
}

// Word j of a band row, its 8 bytes written in one cycle: xin is reshaped by 8 along the row
// (conv_top), so this is one write of one 64-bit word of the memory.
template <class Cfg>
void conv_put_word(int8_t row[Cfg::ROW_BYTES], int j, uint64_t v) {
    for (int b = 0; b < 8; ++b) {
#pragma HLS UNROLL
        row[8 * j + b] = gf_byte(v, b);
    }
}

// DDR → one copy of the step buffers: the input band of the step's input block (upsampled,
// rows outside the image zeroed), the weight entries of (output block, input block), the bias
// on a tile's first step and the requant parameters and residual rows on its last. A copy that
// still holds the same band and input block (from step s − 2) is not read again. s outside
// [0, n_steps) is a pipeline bubble.
//
// The band of one input channel is ONE reader and ONE flattened pipelined loop, not a reader
// and a loop per band row: the reader spans the channel's source rows that the band needs
// (src_rows · r.in_w bytes, contiguous in CHW), so they arrive as one burst (one DDR latency and
// reader prime per channel) and each word is read once. When the band needs every source row
// (a whole-image band: small images), the block's channels are one contiguous span and the
// block has ONE reader (one latency and prime per block) that every channel's loop takes
// from. The loop goes over (row slot, word),
// (zero_rows + src_rows) · row_words cycles with at most one take() each, a slot being a padding
// row (zeroed) or a source row. Under upsample a source row is 4 bytes per band word, spread to
// 8 columns and written to both band rows it makes (src_rows ≈ inside band rows / 2).
template <class Cfg>
void conv_load(const uint64_t* ddr, const typename Cfg::regs& r, const ConvGeom& g, int s,
               int8_t xin[Cfg::IN_BLOCK][Cfg::IN_ROWS][Cfg::ROW_BYTES],
               uint64_t w[Cfg::W_ENTRIES][Cfg::W_ENTRY_WORDS], int32_t bias[Cfg::UNROLL_OUT],
               int32_t mult[Cfg::UNROLL_OUT], int32_t rmult[Cfg::UNROLL_OUT],
               uint8_t shift[Cfg::UNROLL_OUT],
               uint64_t res[Cfg::UNROLL_OUT][Cfg::TILE_ROWS][Cfg::ROW_WORDS]) {
    if (s < 0 || s >= g.n_steps) return;
    const int t = s / g.n_in, ib = s % g.n_in;
    const int band = t / g.n_blocks, block = t % g.n_blocks;
    const int k = static_cast<int>(r.kernel), stride = static_cast<int>(r.stride);
    const int rows = conv_band_rows(g, band);
    const int first = band * g.in_step - static_cast<int>(r.pad);
    const int in_rows = (rows - 1) * stride + k;
    const int src_w = static_cast<int>(r.in_w);
    const int nb = conv_block_channels<Cfg>(r, ib);
    const int row_words = (g.in_w + 7) / 8;
    const bool held = s >= 2 && ((s - 2) / g.n_in) / g.n_blocks == band && (s - 2) % g.n_in == ib;
    // Band rows [top, bot) lie inside the image, the others are padding rows (any of the band
    // may be above the image and any below it). The inside rows come from source rows
    // src0 .. src0 + src_rows − 1 (band row rr is source row (first + rr) >> up).
    const int top = first < 0 ? (-first < in_rows ? -first : in_rows) : 0;
    const int end = g.in_h - first;
    const int bot = end < top ? top : (end < in_rows ? end : in_rows);
    const int src0 = bot > top ? (first + top) >> g.up : 0;
    const int src_rows = bot > top ? ((first + bot - 1) >> g.up) - src0 + 1 : 0;
    // A channel's loop goes over slots of row_words words, in band order: the padding rows above
    // the image, the source rows, the padding rows below it.
    const int zero_rows = in_rows - (bot - top);
    const int slots = zero_rows + src_rows;
    // A band that needs every source row reads the block's whole channels: consecutive in CHW,
    // they are one span of nb · in_h · in_w bytes, one reader opened by the block's first
    // channel. Each source slot takes exactly in_w bytes (row_words takes of ≤ 8, or ≤ 4 under
    // upsample, summing to in_w), so channel i + 1's first row follows channel i's last in the
    // stream. The rows a reader spans: nb ≤ IN_BLOCK times src_rows ≤ 2^15, a product small
    // enough for LUTs (estimate.fabric_multipliers).
    const bool whole = src_rows == static_cast<int>(r.in_h);
    const int span_rows = whole ? nb * src_rows : src_rows;
#pragma HLS BIND_OP variable = span_rows op = mul impl = fabric
    const uint64_t ch0 = static_cast<uint64_t>(ib) * Cfg::IN_BLOCK;
    GfReader in;
    for (int i = 0; i < (held ? 0 : nb); ++i) {
        if (src_rows > 0 && (i == 0 || !whole))
            in.open(ddr, r.in_off + ((ch0 + i) * r.in_h + static_cast<uint64_t>(src0)) * src_w,
                    static_cast<uint64_t>(span_rows) * src_w);
        int sl = 0, j = 0, left = src_w;
        for (int q = 0; q < slots * row_words; ++q) {
#pragma HLS PIPELINE II = 1
            // A source slot takes 8 source bytes per word, or under upsample 4 spread to 8
            // columns, and writes band rows rr and rr + 1 (rr is −1 when the band starts at a
            // source row's second half, rr + 1 is in_rows when it ends at a first half: skipped).
            // A padding slot writes 0 to its band row. The bytes of a row's last word beyond
            // column in_w − 1 are unspecified (never computed on).
            const bool src = sl >= top && sl < top + src_rows;
            const int rr = !src ? (sl < top ? sl : sl - src_rows + (bot - top))
                                : ((src0 + sl - top) << g.up) - first;
            const int n = g.up ? (left < 4 ? left : 4) : (left < 8 ? left : 8);
            uint64_t v = 0;
            if (src) v = g.up ? conv_spread(in.take(n)) : in.take(n);
            if (rr >= 0) conv_put_word<Cfg>(xin[i][rr], j, v);
            if (src && g.up && rr + 1 < in_rows) conv_put_word<Cfg>(xin[i][rr + 1], j, v);
            left -= n;
            if (++j == row_words) {
                j = 0;
                left = src_w;
                ++sl;
            }
        }
    }
    const bool residual = (r.flags >> GF_CONV_RESIDUAL) & 1;
    const int oc0 = block * Cfg::UNROLL_OUT;
    const int nout = static_cast<int>(r.out_c) - oc0 < Cfg::UNROLL_OUT
                         ? static_cast<int>(r.out_c) - oc0 : Cfg::UNROLL_OUT;
    // The step's weights are one contiguous span of k² · groups entries (conv_weights.py), one
    // burst, a word per cycle: word q is word q % W_ENTRY_WORDS of entry q / W_ENTRY_WORDS.
    const int kk = k * k, groups = (nb + Cfg::UNROLL_IN - 1) / Cfg::UNROLL_IN;
    const int w_words = kk * groups * Cfg::W_ENTRY_WORDS;
    const uint64_t in_groups = (r.in_c + Cfg::UNROLL_IN - 1) / Cfg::UNROLL_IN;
    const uint64_t entry0 = static_cast<uint64_t>(kk) *
        (block * in_groups + static_cast<uint64_t>(ib) * (Cfg::IN_BLOCK / Cfg::UNROLL_IN));
    GfReader wr;
    wr.open(ddr, r.w_off + 8 * Cfg::W_ENTRY_WORDS * entry0, 8ull * w_words);
    int e = 0, wd = 0;
    for (int q = 0; q < w_words; ++q) {
#pragma HLS PIPELINE II = 1
        w[e][wd] = wr.take(8);
        if (++wd == Cfg::W_ENTRY_WORDS) {
            wd = 0;
            ++e;
        }
    }
    if (ib == 0) {
        GfReader pb;
        pb.open(ddr, r.bias_off + 4ull * oc0, 4ull * nout);
        for (int o = 0; o < nout; ++o) {
#pragma HLS PIPELINE II = 1
            bias[o] = static_cast<int32_t>(static_cast<uint32_t>(pb.take(4)));
        }
    }
    if (ib != g.n_in - 1) return;
    GfReader pm, ps, pr;
    pm.open(ddr, r.mult_off + 4ull * oc0, 4ull * nout);
    ps.open(ddr, r.shift_off + static_cast<uint64_t>(oc0), nout);
    if (residual) pr.open(ddr, r.res_mult_off + 4ull * oc0, 4ull * nout);
    for (int o = 0; o < nout; ++o) {
#pragma HLS PIPELINE II = 1
        mult[o] = static_cast<int32_t>(static_cast<uint32_t>(pm.take(4)));
        shift[o] = static_cast<uint8_t>(ps.take(1));
        rmult[o] = residual ? static_cast<int32_t>(static_cast<uint32_t>(pr.take(4))) : 0;
    }
    if (!residual) return;
    const int out_words = (g.out_w + 7) / 8;
    const int row0 = conv_band_row0(g, band);
    for (int o = 0; o < nout; ++o) {
        // The band's residual rows of one channel are contiguous in DDR.
        GfReader rd;
        rd.open(ddr, r.res_off + ((static_cast<uint64_t>(oc0) + o) * g.out_h +
                                  static_cast<uint64_t>(row0)) * g.out_w,
                static_cast<uint64_t>(rows) * g.out_w);
        for (int rr = 0; rr < rows; ++rr) {
            for (int j = 0; j < out_words; ++j) {
#pragma HLS PIPELINE II = 1
                const int n = g.out_w - 8 * j < 8 ? g.out_w - 8 * j : 8;
                res[o][rr][j] = rd.take(n);
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

// One step of MACs into the tile's accumulator: per tap and group of UNROLL_IN input channels,
// one pipelined pass over the band's output pixels doing UNROLL_OUT × UNROLL_IN MACs per cycle
// (gf_mac: on UNROLL_IN × ⌈UNROLL_OUT / MACS_PER_DSP⌉ DSP48E1s).
// The tile's first step starts from the bias; its last requantizes the accumulator into `out`
// (REQUANT_LANES outputs per cycle, packed 8 to a word).
template <class Cfg>
void conv_compute(const typename Cfg::regs& r, const ConvGeom& g, int s,
                  const int8_t xin[Cfg::IN_BLOCK][Cfg::IN_ROWS][Cfg::ROW_BYTES],
                  const uint64_t w[Cfg::W_ENTRIES][Cfg::W_ENTRY_WORDS],
                  const int32_t bias[Cfg::UNROLL_OUT], const int32_t mult[Cfg::UNROLL_OUT],
                  const int32_t rmult[Cfg::UNROLL_OUT], const uint8_t shift[Cfg::UNROLL_OUT],
                  const uint64_t res[Cfg::UNROLL_OUT][Cfg::TILE_ROWS][Cfg::ROW_WORDS],
                  int32_t acc[Cfg::TILE_ROWS][Cfg::MAX_W][Cfg::UNROLL_OUT],
                  uint64_t out[Cfg::UNROLL_OUT][Cfg::TILE_ROWS][Cfg::ROW_WORDS]) {
    if (s < 0 || s >= g.n_steps) return;
    const int t = s / g.n_in, ib = s % g.n_in;
    const int k = static_cast<int>(r.kernel), stride = static_cast<int>(r.stride);
    const int p = static_cast<int>(r.pad);
    const int rows = conv_band_rows(g, t / g.n_blocks);
    const int nb = conv_block_channels<Cfg>(r, ib);
    const int groups = (nb + Cfg::UNROLL_IN - 1) / Cfg::UNROLL_IN;
    const int pixels = rows * g.out_w;
    for (int ky = 0; ky < k; ++ky) {
        for (int kx = 0; kx < k; ++kx) {
            const int tap = ky * k + kx;
            for (int gi = 0; gi < groups; ++gi) {
                const bool start = ib == 0 && ky == 0 && kx == 0 && gi == 0;
                // The pass's entry, one word from each bank per cycle over W_READS cycles.
                const int a = tap * groups + gi;
                uint64_t entry[Cfg::W_ENTRY_WORDS];
#pragma HLS ARRAY_PARTITION variable = entry complete dim = 0
                for (int rd = 0; rd < Cfg::W_READS; ++rd) {
#pragma HLS PIPELINE II = 1
                    for (int bank = 0; bank < Cfg::W_BANKS; ++bank) {
#pragma HLS UNROLL
                        const int e = rd * Cfg::W_BANKS + bank;
                        if (e < Cfg::W_ENTRY_WORDS) entry[e] = w[a][e];
                    }
                }
                // Its UNROLL_IN × UNROLL_OUT weights: byte u · UNROLL_OUT + o. A channel beyond
                // the block or out_c is 0 in DDR, so it contributes 0 whatever its input byte
                // holds. [u][o]: a pixel's MACs are UNROLL_IN updates of the UNROLL_OUT
                // accumulators (one SIMD vector in C-sim).
                int32_t wt[Cfg::UNROLL_IN][Cfg::UNROLL_OUT];
#pragma HLS ARRAY_PARTITION variable = wt complete dim = 0
                for (int u = 0; u < Cfg::UNROLL_IN; ++u) {
#pragma HLS UNROLL
                    for (int o = 0; o < Cfg::UNROLL_OUT; ++o) {
#pragma HLS UNROLL
                        const int byte = u * Cfg::UNROLL_OUT + o;
                        wt[u][o] = gf_byte(entry[byte / 8], byte % 8);
                    }
                }
                gf_packed_weight pw[Cfg::UNROLL_IN][(Cfg::UNROLL_OUT + 1) / 2];
#pragma HLS ARRAY_PARTITION variable = pw complete dim = 0
                gf_pack_weights<Cfg::UNROLL_OUT, Cfg::UNROLL_IN, Cfg::MACS_PER_DSP>(wt, pw);
                int rr = 0, c = 0;
                for (int px = 0; px < pixels; ++px) {
#pragma HLS PIPELINE II = 1
#pragma HLS DEPENDENCE variable = acc inter false
                    const int col = c * stride + kx - p;
                    // A padding column reads as 0.
                    const bool inside = col >= 0 && col < g.in_w;
                    const int row = rr * stride + ky;
                    int32_t a[Cfg::UNROLL_OUT];
#pragma HLS ARRAY_PARTITION variable = a complete dim = 0
                    for (int o = 0; o < Cfg::UNROLL_OUT; ++o) {
#pragma HLS UNROLL
                        a[o] = start ? bias[o] : acc[rr][c][o];
                    }
                    int32_t x[Cfg::UNROLL_IN];
#pragma HLS ARRAY_PARTITION variable = x complete dim = 0
                    for (int u = 0; u < Cfg::UNROLL_IN; ++u) {
#pragma HLS UNROLL
                        x[u] = inside ? xin[gi * Cfg::UNROLL_IN + u][row][col] : 0;
                    }
                    gf_mac<Cfg::UNROLL_OUT, Cfg::UNROLL_IN, Cfg::MACS_PER_DSP>(a, x, wt, pw);
                    for (int o = 0; o < Cfg::UNROLL_OUT; ++o) {
#pragma HLS UNROLL
                        acc[rr][c][o] = a[o];
                    }
                    if (++c == g.out_w) {
                        c = 0;
                        ++rr;
                    }
                }
            }
        }
    }
    if (ib != g.n_in - 1) return;
    const bool relu = (r.flags >> GF_CONV_RELU) & 1;
    const bool residual = (r.flags >> GF_CONV_RESIDUAL) & 1;
    const int oc0 = (t % g.n_blocks) * Cfg::UNROLL_OUT;
    // A cycle requantizes REQUANT_LANES consecutive columns c0 + l of one channel (c0 a multiple
    // of the lanes, which divide 8): lane l reads acc's bank l (columns split cyclic by the
    // lanes, conv_top) and its byte lands in the same out word as the others'. An odd out_w's
    // last group has fewer columns.
    constexpr int lanes = Cfg::REQUANT_LANES;
    static_assert(8 % lanes == 0, "a cycle's requantized columns share one 64-bit out word");
    const int groups_per_row = (g.out_w + lanes - 1) / lanes;
    for (int o = 0; o < Cfg::UNROLL_OUT; ++o) {
        if (oc0 + o >= static_cast<int>(r.out_c)) break;
        for (int rr = 0; rr < rows; ++rr) {
            uint64_t word = 0;
            for (int cg = 0; cg < groups_per_row; ++cg) {
#pragma HLS PIPELINE II = 1
                const int c0 = cg * lanes;
                for (int l = 0; l < lanes; ++l) {
#pragma HLS UNROLL
                    const int c = c0 + l;
                    if (c < g.out_w) {
                        const int8_t rv = residual ? gf_byte(res[o][rr][c >> 3], c & 7)
                                                   : static_cast<int8_t>(0);
                        const int8_t v = conv_requant(acc[rr][c][o], mult[o], rmult[o],
                                                      shift[o], rv, residual, relu);
                        word |= static_cast<uint64_t>(static_cast<uint8_t>(v)) << (8 * (c & 7));
                    }
                }
                if (((c0 + lanes - 1) & 7) == 7 || cg == groups_per_row - 1) {
                    out[o][rr][c0 >> 3] = word;
                    word = 0;
                }
            }
        }
    }
}

// The stored bytes of pooled word j of rows (2·pr, 2·pr + 1): columns 16j .. 16j + 15 averaged
// in pairs (numerics.md §4).
template <class Cfg>
uint64_t conv_pool_word(const uint64_t out[Cfg::TILE_ROWS][Cfg::ROW_WORDS], int pr, int j) {
    const int hi = 2 * j + 1 < Cfg::ROW_WORDS ? 2 * j + 1 : 2 * j;
    const uint64_t a0 = out[2 * pr][2 * j], a1 = out[2 * pr][hi];
    const uint64_t b0 = out[2 * pr + 1][2 * j], b1 = out[2 * pr + 1][hi];
    uint64_t v = 0;
    for (int b = 0; b < 8; ++b) {
#pragma HLS UNROLL
        const uint64_t top = b < 4 ? a0 : a1, bottom = b < 4 ? b0 : b1;
        const int lo = (2 * b) & 7;
        const int sum = gf_byte(top, lo) + gf_byte(top, lo + 1) + gf_byte(bottom, lo) +
                        gf_byte(bottom, lo + 1);
        v |= static_cast<uint64_t>(static_cast<uint8_t>(gf_sat8(gf_rhu(sum, 2)))) << (8 * b);
    }
    return v;
}

// One copy of the output buffers → DDR, through the 2×2 average pool when flags.pool (g.rows
// is even then, so pairs never straddle tiles). A tile's rows of one channel
// are one contiguous DDR span, written as whole words (partial end words read-modify-write).
// Only the step that finished a tile stores.
template <class Cfg>
void conv_store(uint64_t* ddr, const typename Cfg::regs& r, const ConvGeom& g, int s,
                const uint64_t out[Cfg::UNROLL_OUT][Cfg::TILE_ROWS][Cfg::ROW_WORDS]) {
    if (s < 0 || s >= g.n_steps || s % g.n_in != g.n_in - 1) return;
    const int t = s / g.n_in;
    const int band = t / g.n_blocks, block = t % g.n_blocks;
    const bool pool = (r.flags >> GF_CONV_POOL) & 1;
    const int rows = conv_band_rows(g, band);
    // The band's first stored row: halved by pool.
    const int band_row0 = conv_band_row0(g, band);
    const int row0 = pool ? band_row0 >> 1 : band_row0;
    int stored = pool ? rows / 2 : rows;
    if (row0 + stored > g.store_h) stored = g.store_h - row0;
    const int words = (g.store_w + 7) / 8;
    for (int o = 0; o < Cfg::UNROLL_OUT; ++o) {
        const int oc = block * Cfg::UNROLL_OUT + o;
        if (oc >= static_cast<int>(r.out_c)) break;
        GfWriter wr;
        wr.open(ddr, r.out_off + (static_cast<uint64_t>(oc) * g.store_h + row0) * g.store_w);
        for (int pr = 0; pr < stored; ++pr) {
            for (int j = 0; j < words; ++j) {
#pragma HLS PIPELINE II = 1
                const int n = g.store_w - 8 * j < 8 ? g.store_w - 8 * j : 8;
                wr.put(pool ? conv_pool_word<Cfg>(out[o], pr, j) : out[o][pr][j], n);
            }
        }
        wr.close();
    }
}

// The ping-pong buffers: index 0 and 1 of the leading dimension are the two copies; the
// accumulator is the compute stage's own (one tile at a time).
template <class Cfg>
struct ConvBuffers {
    int8_t xin[2][Cfg::IN_BLOCK][Cfg::IN_ROWS][Cfg::ROW_BYTES];
    uint64_t w[2][Cfg::W_ENTRIES][Cfg::W_ENTRY_WORDS];
    int32_t bias[2][Cfg::UNROLL_OUT];
    int32_t mult[2][Cfg::UNROLL_OUT];
    int32_t rmult[2][Cfg::UNROLL_OUT];
    uint8_t shift[2][Cfg::UNROLL_OUT];
    uint64_t res[2][Cfg::UNROLL_OUT][Cfg::TILE_ROWS][Cfg::ROW_WORDS];
    uint64_t out[2][Cfg::UNROLL_OUT][Cfg::TILE_ROWS][Cfg::ROW_WORDS];
    int32_t acc[Cfg::TILE_ROWS][Cfg::MAX_W][Cfg::UNROLL_OUT];
};

// Stage s of the step pipeline with copy P: load step s into copy P, compute step s−1 from copy
// 1−P (its output, when it ends a tile, into out[1−P]) and store the tile ended by step s−2 from
// out[P]. The three touch disjoint buffers, hence DATAFLOW.
template <class Cfg, int P>
void conv_stage(uint64_t* ddr, const typename Cfg::regs& r, const ConvGeom& g, int s,
                ConvBuffers<Cfg>& b) {
#pragma HLS DATAFLOW
    conv_load<Cfg>(ddr, r, g, s, b.xin[P], b.w[P], b.bias[P], b.mult[P], b.rmult[P], b.shift[P],
                   b.res[P]);
    conv_compute<Cfg>(r, g, s - 1, b.xin[1 - P], b.w[1 - P], b.bias[1 - P], b.mult[1 - P],
                      b.rmult[1 - P], b.shift[1 - P], b.res[1 - P], b.acc, b.out[1 - P]);
    conv_store<Cfg>(ddr, r, g, s - 2, b.out[P]);
}

// Run one checked instruction (conv_check returned GF_STATUS_OK).
template <class Cfg>
void conv_run(uint64_t* ddr, const typename Cfg::regs& r, ConvBuffers<Cfg>& b) {
    const ConvGeom g = conv_geom<Cfg>(r);
    // n_steps + 2 stages drain the pipeline; stages go in pairs so each copy index is constant.
    for (int s = 0; s < g.n_steps + 2; s += 2) {
        conv_stage<Cfg, 0>(ddr, r, g, s, b);
        conv_stage<Cfg, 1>(ddr, r, g, s + 1, b);
    }
}

#endif  // CONV_ENGINE_H
