// upsample_engine.h — bilinear resize, align_corners = False (docs/numerics.md §8): uint8 Q8
// maps (resize_map_bilinear) or int16 Q2.13 fields of (x, y) pairs (resize_field_bilinear);
// `mode` selects one (docs/engines.md).
//
// Per output row the two source rows are copied into line buffers, then each output column is
// one pipelined step. Taps (i0, i1, Q8 fraction) cost one unsigned division per output row and
// per output column, as in the specification. Every address is a running offset (the output is
// written in order, source rows are walked to row by row): no index product.
//
// Cfg (generated): MAX_W (widest input row), HAS_MAP, HAS_FIELD, `regs`.
#ifndef UPSAMPLE_ENGINE_H
#define UPSAMPLE_ENGINE_H

#include <cstdint>

#include "grace_numerics.h"

template <class Cfg>
int upsample_check(const typename Cfg::regs& r, uint64_t ddr_bytes) {
    // The byte counts below: one shift-and-add multiplier (gf_mul_serial), no DSP48E1.
#pragma HLS ALLOCATION function instances = gf_mul_serial limit = 1
    if (r.mode > GF_UPSAMPLE_FIELD) return GF_STATUS_PARAM;
    if ((r.mode == GF_UPSAMPLE_MAP && !Cfg::HAS_MAP) ||
        (r.mode == GF_UPSAMPLE_FIELD && !Cfg::HAS_FIELD))
        return GF_STATUS_FEATURE;
    // Sizes up to 2048 keep t · 256 within u32 (numerics.md §8).
    if (r.channels == 0 || r.in_h == 0 || r.in_h > 2048 || r.in_w == 0 || r.in_w > Cfg::MAX_W ||
        r.out_h == 0 || r.out_h > 2048 || r.out_w == 0 || r.out_w > 2048)
        return GF_STATUS_SHAPE;
    const int element_shift = r.mode == GF_UPSAMPLE_FIELD ? 2 : 0;  // 4 bytes or 1
    const uint64_t in_values = gf_mul_serial(gf_mul_serial(r.channels, r.in_h), r.in_w);
    const uint64_t out_values = gf_mul_serial(gf_mul_serial(r.channels, r.out_h), r.out_w);
    const bool ok = gf_span_ok(r.in_off, in_values << element_shift, ddr_bytes) &&
                    gf_span_ok(r.out_off, out_values << element_shift, ddr_bytes);
    return ok ? GF_STATUS_OK : GF_STATUS_BOUNDS;
}

// Source taps of an output index d on an axis in_size → out_size: first, second, Q8 fraction.
struct UpTap {
    int first, second, frac;
};

// `scaled` = (2d + 1) · in_size, accumulated by the caller (an adder, not a product).
static inline UpTap up_tap(uint32_t scaled, uint32_t in_size, uint32_t out_size) {
    const uint32_t t = scaled > out_size ? scaled - out_size : 0;  // max(0, (2d+1)·in − out)
    const uint32_t src8 = (t * 256 + out_size) / (2 * out_size);
    UpTap tap;
    tap.first = static_cast<int>(src8 >> 8);
    tap.second = tap.first + 1 < static_cast<int>(in_size) ? tap.first + 1 : tap.first;
    tap.frac = static_cast<int>(src8 & 255);
    return tap;
}

// Run one checked instruction with two line buffers (BRAM on the device). A map row holds
// in_w values, a field row 2 · in_w (x, y interleaved), both widened to int16.
template <class Cfg>
void upsample_run(int8_t* ddr, const typename Cfg::regs& r, int16_t lines[2][2 * Cfg::MAX_W]) {
    const int field = r.mode == GF_UPSAMPLE_FIELD;  // a field value: 2 components of 2 bytes
    const int comps = 1 + field, bytes = 1 + field;
    const int row = static_cast<int>(r.in_w) << field;       // values per source row
    const uint64_t row_bytes = static_cast<uint64_t>(row) << field;
    const int in_h = static_cast<int>(r.in_h);
    uint64_t source = r.in_off;  // row `source_row` of channel n
    uint64_t at = r.out_off;     // the output, written in order
    for (uint32_t n = 0; n < r.channels; ++n) {
        int source_row = 0;
        uint32_t scaled_y = r.in_h;
        for (uint32_t d = 0; d < r.out_h; ++d) {
            const UpTap ty = up_tap(scaled_y, r.in_h, r.out_h);
            scaled_y += 2 * r.in_h;
            // A row's first tap never moves up: walk to it.
            for (; source_row < ty.first; ++source_row) source += row_bytes;
            const uint64_t at0 = source, at1 = ty.second > ty.first ? source + row_bytes : source;
            for (int x = 0; x < row; ++x) {
#pragma HLS PIPELINE II = 1
                const uint64_t offset = static_cast<uint64_t>(x) << field;
                lines[0][x] = field ? gf_ld_i16(ddr, at0 + offset) : gf_ld_u8(ddr, at0 + offset);
                lines[1][x] = field ? gf_ld_i16(ddr, at1 + offset) : gf_ld_u8(ddr, at1 + offset);
            }
            uint32_t scaled_x = r.in_w;
            for (uint32_t e = 0; e < r.out_w; ++e) {
#pragma HLS PIPELINE II = 1
                const UpTap tx = up_tap(scaled_x, r.in_w, r.out_w);
                scaled_x += 2 * r.in_w;
                for (int a = 0; a < 1 + Cfg::HAS_FIELD; ++a) {
#pragma HLS UNROLL
                    if (a >= comps) continue;
                    const int j0 = (tx.first << field) + a, j1 = (tx.second << field) + a;
                    const int32_t v00 = lines[0][j0], v01 = lines[0][j1];
                    const int32_t v10 = lines[1][j0], v11 = lines[1][j1];
                    // Two 1-D blends, exactly Σ w·v of the 2-D weights (numerics.md §8):
                    // (256 − fy)·top + fy·bottom, top = (256 − fx)·V00 + fx·V01. The fx
                    // products (8 × 17 bits) go to the fabric, the fy one (8 × 25) to a DSP48E1
                    // (docs/estimate.md); the total, a map's < 2^24 or a field's in
                    // [−2^31, 2^31 − 2^16], passes through int64 (fy · (bottom − top) may not
                    // fit int32).
                    const int32_t top_step = tx.frac * (v01 - v00);
#pragma HLS BIND_OP variable = top_step op = mul impl = fabric
                    const int32_t bottom_step = tx.frac * (v11 - v10);
#pragma HLS BIND_OP variable = bottom_step op = mul impl = fabric
                    const int32_t top = v00 * 256 + top_step, bottom = v10 * 256 + bottom_step;
                    const int64_t rise = bottom - top;
                    const int64_t total = static_cast<int64_t>(top) * 256 + ty.frac * rise;
                    const int64_t v = gf_rhu(total, 16);
                    if (field) {
                        gf_st_u16(ddr, at, static_cast<uint16_t>(gf_sat16(v)));
                    } else {
                        ddr[at] = static_cast<int8_t>(static_cast<uint8_t>(v));
                    }
                    at += bytes;
                }
            }
        }
        for (; source_row < in_h; ++source_row) source += row_bytes;  // the next channel
    }
}

#endif  // UPSAMPLE_ENGINE_H
