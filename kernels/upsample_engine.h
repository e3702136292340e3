// upsample_engine.h — bilinear resize, align_corners = False (docs/numerics.md §8): uint8 Q8
// maps (resize_map_bilinear) or int16 Q2.13 fields of (x, y) pairs (resize_field_bilinear);
// `mode` selects one (docs/engines.md).
//
// Per output row the two source rows are copied into line buffers, then each output column is
// one pipelined step. Taps (i0, i1, Q8 fraction) cost one unsigned division per output row and
// per output column, as in the specification.
//
// Cfg (generated): MAX_W (widest input row), HAS_MAP, HAS_FIELD, `regs`.
#ifndef UPSAMPLE_ENGINE_H
#define UPSAMPLE_ENGINE_H

#include <cstdint>

#include "grace_numerics.h"

template <class Cfg>
int upsample_check(const typename Cfg::regs& r, uint64_t ddr_bytes) {
    if (r.mode > GF_UPSAMPLE_FIELD) return GF_STATUS_PARAM;
    if ((r.mode == GF_UPSAMPLE_MAP && !Cfg::HAS_MAP) ||
        (r.mode == GF_UPSAMPLE_FIELD && !Cfg::HAS_FIELD))
        return GF_STATUS_FEATURE;
    // Sizes up to 2048 keep t · 256 within u32 (numerics.md §8).
    if (r.channels == 0 || r.in_h == 0 || r.in_h > 2048 || r.in_w == 0 || r.in_w > Cfg::MAX_W ||
        r.out_h == 0 || r.out_h > 2048 || r.out_w == 0 || r.out_w > 2048)
        return GF_STATUS_SHAPE;
    const uint64_t element = r.mode == GF_UPSAMPLE_FIELD ? 4 : 1;
    const uint64_t c = r.channels;
    const bool ok = gf_span_ok(r.in_off, element * c * r.in_h * r.in_w, ddr_bytes) &&
                    gf_span_ok(r.out_off, element * c * r.out_h * r.out_w, ddr_bytes);
    return ok ? GF_STATUS_OK : GF_STATUS_BOUNDS;
}

// Source taps of output index d on an axis in_size → out_size: first, second, Q8 fraction.
struct UpTap {
    int first, second, frac;
};

static inline UpTap up_tap(uint32_t d, uint32_t in_size, uint32_t out_size) {
    const uint32_t scaled = (2 * d + 1) * in_size;
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
    const bool field = r.mode == GF_UPSAMPLE_FIELD;
    const int comps = field ? 2 : 1, bytes = field ? 2 : 1;
    const int row = static_cast<int>(r.in_w) * comps;  // values per source row
    for (uint32_t n = 0; n < r.channels; ++n) {
        const uint64_t src = r.in_off + static_cast<uint64_t>(n) * r.in_h * row * bytes;
        const uint64_t dst =
            r.out_off + static_cast<uint64_t>(n) * r.out_h * r.out_w * comps * bytes;
        for (uint32_t d = 0; d < r.out_h; ++d) {
            const UpTap ty = up_tap(d, r.in_h, r.out_h);
            for (int x = 0; x < row; ++x) {
#pragma HLS PIPELINE II = 1
                const uint64_t at0 = src + (static_cast<uint64_t>(ty.first) * row + x) * bytes;
                const uint64_t at1 = src + (static_cast<uint64_t>(ty.second) * row + x) * bytes;
                lines[0][x] = field ? gf_ld_i16(ddr, at0) : gf_ld_u8(ddr, at0);
                lines[1][x] = field ? gf_ld_i16(ddr, at1) : gf_ld_u8(ddr, at1);
            }
            for (uint32_t e = 0; e < r.out_w; ++e) {
#pragma HLS PIPELINE II = 1
                const UpTap tx = up_tap(e, r.in_w, r.out_w);
                for (int a = 0; a < comps; ++a) {
                    const int j0 = tx.first * comps + a, j1 = tx.second * comps + a;
                    // Weights ≤ 2^16 summing to 2^16: a map total is < 2^24, a field total lies
                    // in [−2^31, 2^31 − 2^16] (numerics.md §8), so int32 holds both.
                    const int32_t total = (256 - ty.frac) * (256 - tx.frac) * lines[0][j0] +
                                          (256 - ty.frac) * tx.frac * lines[0][j1] +
                                          ty.frac * (256 - tx.frac) * lines[1][j0] +
                                          ty.frac * tx.frac * lines[1][j1];
                    const int64_t v = gf_rhu(total, 16);
                    const uint64_t at =
                        dst + ((static_cast<uint64_t>(d) * r.out_w + e) * comps + a) * bytes;
                    if (field) {
                        gf_st_u16(ddr, at, static_cast<uint16_t>(gf_sat16(v)));
                    } else {
                        ddr[at] = static_cast<int8_t>(static_cast<uint8_t>(v));
                    }
                }
            }
        }
    }
}

#endif  // UPSAMPLE_ENGINE_H
