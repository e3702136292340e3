// grid_sample_engine.h — bilinear grid sample, zero padding, align_corners = False
// (docs/numerics.md §13, docs/engines.md).
//
// Per output pixel the Q2.13 grid point becomes a Q11 pixel coordinate (floor + 11-bit fraction)
// once; then the channels are sampled UNROLL_C at a time. Source rows come from a band cache: a
// window of BAND_ROWS rows of every channel in BRAM, slid down with the output rows (a
// deformation is close to the identity, so most samples hit it). A corner outside the band is
// read from DDR directly, one outside the image is not read at all (it counts 0).
//
// Cfg (generated): MAX_C, MAX_W (source width), BAND_ROWS, UNROLL_C, `regs`.
#ifndef GRID_SAMPLE_ENGINE_H
#define GRID_SAMPLE_ENGINE_H

#include <cstdint>

#include "grace_numerics.h"

static const int GS_WEIGHT_BITS = 11;  // Q11 pixel coordinates and 1-D weights
static const int GS_ONE = 1 << GS_WEIGHT_BITS;

template <class Cfg>
int grid_sample_check(const typename Cfg::regs& r, uint64_t ddr_bytes) {
    if (r.channels == 0 || r.channels > Cfg::MAX_C || r.in_w == 0 || r.in_w > Cfg::MAX_W ||
        r.in_h == 0 || r.in_h > (1u << 14) || r.out_h == 0 || r.out_h > (1u << 15) ||
        r.out_w == 0 || r.out_w > (1u << 15))
        return GF_STATUS_SHAPE;
    const uint64_t c = r.channels, pixels = static_cast<uint64_t>(r.out_h) * r.out_w;
    const bool ok = gf_span_ok(r.in_off, c * r.in_h * r.in_w, ddr_bytes) &&
                    gf_span_ok(r.grid_off, 4 * pixels, ddr_bytes) &&
                    gf_span_ok(r.out_off, c * pixels, ddr_bytes);
    return ok ? GF_STATUS_OK : GF_STATUS_BOUNDS;
}

// Q2.13 normalised coordinate → Q11 pixel coordinate: RHU((g + 2^13)·size − 2^13, 3).
static inline int32_t gs_pixel(int16_t g, int size) {
    const int32_t exact_q14 = (static_cast<int32_t>(g) + 8192) * size - 8192;
    return static_cast<int32_t>(gf_rhu(exact_q14, 3));
}

// Slide the band so that it starts at `top` (never moves up): load only the rows it gains.
template <class Cfg>
void gs_slide(const int8_t* ddr, const typename Cfg::regs& r, int& band_top, int top,
              int8_t band[Cfg::MAX_C][Cfg::BAND_ROWS][Cfg::MAX_W]) {
    if (top == band_top) return;
    const int kept_end = band_top + Cfg::BAND_ROWS;
    const int first = top > kept_end ? top : kept_end;
    const int end = top + Cfg::BAND_ROWS < static_cast<int>(r.in_h)
                        ? top + Cfg::BAND_ROWS : static_cast<int>(r.in_h);
    for (int c = 0; c < static_cast<int>(r.channels); ++c) {
        for (int y = first; y < end; ++y) {
            const uint64_t base = r.in_off + (static_cast<uint64_t>(c) * r.in_h + y) * r.in_w;
            for (int x = 0; x < static_cast<int>(r.in_w); ++x) {
#pragma HLS PIPELINE II = 1
                band[c][y % Cfg::BAND_ROWS][x] = ddr[base + x];
            }
        }
    }
    band_top = top;
}

// Source value V(y, x) of channel c: 0 outside the image, else from the band or from DDR.
template <class Cfg>
int32_t gs_value(const int8_t* ddr, const typename Cfg::regs& r, int band_top,
                 const int8_t band[Cfg::MAX_C][Cfg::BAND_ROWS][Cfg::MAX_W], int c, int y, int x) {
    if (y < 0 || y >= static_cast<int>(r.in_h) || x < 0 || x >= static_cast<int>(r.in_w)) return 0;
    if (y >= band_top && y < band_top + Cfg::BAND_ROWS) return band[c][y % Cfg::BAND_ROWS][x];
    return ddr[r.in_off + (static_cast<uint64_t>(c) * r.in_h + y) * r.in_w + x];
}

// Run one checked instruction. `band` is the cache (BRAM on the device).
template <class Cfg>
void grid_sample_run(int8_t* ddr, const typename Cfg::regs& r,
                     int8_t band[Cfg::MAX_C][Cfg::BAND_ROWS][Cfg::MAX_W]) {
    const int in_h = static_cast<int>(r.in_h), in_w = static_cast<int>(r.in_w);
    const int out_h = static_cast<int>(r.out_h), out_w = static_cast<int>(r.out_w);
    const int groups = (static_cast<int>(r.channels) + Cfg::UNROLL_C - 1) / Cfg::UNROLL_C;
    const int top_max = in_h > Cfg::BAND_ROWS ? in_h - Cfg::BAND_ROWS : 0;
    int band_top = -Cfg::BAND_ROWS;  // holds nothing yet
    for (int ho = 0; ho < out_h; ++ho) {
        // Centre the band on the source row the identity mapping would read for this row.
        const int centre =
            static_cast<int>((static_cast<int64_t>(2 * ho + 1) * in_h) / (2 * out_h));
        int top = centre - Cfg::BAND_ROWS / 2;
        top = top < 0 ? 0 : (top > top_max ? top_max : top);
        gs_slide<Cfg>(ddr, r, band_top, top, band);
        for (int wo = 0; wo < out_w; ++wo) {
            const uint64_t at = r.grid_off + 4 * (static_cast<uint64_t>(ho) * out_w + wo);
            const int32_t px = gs_pixel(gf_ld_i16(ddr, at), in_w);
            const int32_t py = gs_pixel(gf_ld_i16(ddr, at + 2), in_h);
            const int x0 = px >> GS_WEIGHT_BITS, y0 = py >> GS_WEIGHT_BITS;
            const int32_t fx = px & (GS_ONE - 1), fy = py & (GS_ONE - 1);
            // 2-D weights, each ≤ 2^22, summing to exactly 2^22.
            const int32_t w00 = (GS_ONE - fy) * (GS_ONE - fx), w01 = (GS_ONE - fy) * fx;
            const int32_t w10 = fy * (GS_ONE - fx), w11 = fy * fx;
            for (int g = 0; g < groups; ++g) {
#pragma HLS PIPELINE II = 1
                for (int u = 0; u < Cfg::UNROLL_C; ++u) {
#pragma HLS UNROLL
                    const int c = g * Cfg::UNROLL_C + u;
                    if (c >= static_cast<int>(r.channels)) continue;
                    const int32_t acc =
                        w00 * gs_value<Cfg>(ddr, r, band_top, band, c, y0, x0) +
                        w01 * gs_value<Cfg>(ddr, r, band_top, band, c, y0, x0 + 1) +
                        w10 * gs_value<Cfg>(ddr, r, band_top, band, c, y0 + 1, x0) +
                        w11 * gs_value<Cfg>(ddr, r, band_top, band, c, y0 + 1, x0 + 1);
                    ddr[r.out_off + (static_cast<uint64_t>(c) * out_h + ho) * out_w + wo] =
                        gf_sat8(gf_rhu(acc, 2 * GS_WEIGHT_BITS));
                }
            }
        }
    }
}

#endif  // GRID_SAMPLE_ENGINE_H
