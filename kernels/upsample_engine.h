// upsample_engine.h — bilinear resize of uint8 Q8 maps, align_corners = False
// (docs/numerics.md §8 resize_map_bilinear, docs/engines.md).
//
// Per output row the two source rows are copied into line buffers, then each output column is
// one pipelined step. Taps (i0, i1, Q8 fraction) cost one unsigned division per output row and
// per output column, as in the specification.
//
// Cfg (generated): MAX_W (widest input row), `regs`.
#ifndef UPSAMPLE_ENGINE_H
#define UPSAMPLE_ENGINE_H

#include <cstdint>

#include "grace_numerics.h"

template <class Cfg>
int upsample_check(const typename Cfg::regs& r, uint64_t ddr_bytes) {
    if (r.mode != GF_UPSAMPLE_MAP) return GF_STATUS_PARAM;
    // Sizes up to 2048 keep t · 256 within u32 (numerics.md §8).
    if (r.channels == 0 || r.in_h == 0 || r.in_h > 2048 || r.in_w == 0 || r.in_w > Cfg::MAX_W ||
        r.out_h == 0 || r.out_h > 2048 || r.out_w == 0 || r.out_w > 2048)
        return GF_STATUS_SHAPE;
    const uint64_t c = r.channels;
    const bool ok = gf_span_ok(r.in_off, c * r.in_h * r.in_w, ddr_bytes) &&
                    gf_span_ok(r.out_off, c * r.out_h * r.out_w, ddr_bytes);
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

// Run one checked instruction with two line buffers (BRAM on the device).
template <class Cfg>
void upsample_run(int8_t* ddr, const typename Cfg::regs& r, uint8_t lines[2][Cfg::MAX_W]) {
    const int in_w = static_cast<int>(r.in_w);
    for (uint32_t c = 0; c < r.channels; ++c) {
        const uint64_t src = r.in_off + static_cast<uint64_t>(c) * r.in_h * r.in_w;
        const uint64_t dst = r.out_off + static_cast<uint64_t>(c) * r.out_h * r.out_w;
        for (uint32_t d = 0; d < r.out_h; ++d) {
            const UpTap ty = up_tap(d, r.in_h, r.out_h);
            for (int x = 0; x < in_w; ++x) {
#pragma HLS PIPELINE II = 1
                lines[0][x] = gf_ld_u8(ddr, src + static_cast<uint64_t>(ty.first) * in_w + x);
                lines[1][x] = gf_ld_u8(ddr, src + static_cast<uint64_t>(ty.second) * in_w + x);
            }
            for (uint32_t e = 0; e < r.out_w; ++e) {
#pragma HLS PIPELINE II = 1
                const UpTap tx = up_tap(e, r.in_w, r.out_w);
                // Weights ≤ 2^16 summing to 2^16: the total is < 2^24 and the result ≤ 255.
                const int32_t total = (256 - ty.frac) * (256 - tx.frac) * lines[0][tx.first] +
                                      (256 - ty.frac) * tx.frac * lines[0][tx.second] +
                                      ty.frac * (256 - tx.frac) * lines[1][tx.first] +
                                      ty.frac * tx.frac * lines[1][tx.second];
                ddr[dst + static_cast<uint64_t>(d) * r.out_w + e] =
                    static_cast<int8_t>(static_cast<uint8_t>(gf_rhu(total, 16)));
            }
        }
    }
}

#endif  // UPSAMPLE_ENGINE_H
