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
    // The byte counts below: one shift-and-add multiplier (gf_mul_serial), no DSP48E1.
#pragma HLS ALLOCATION function instances = gf_mul_serial limit = 1
    if (r.channels == 0 || r.channels > Cfg::MAX_C || r.in_w == 0 || r.in_w > Cfg::MAX_W ||
        r.in_h == 0 || r.in_h > (1u << 14) || r.out_h == 0 || r.out_h > (1u << 15) ||
        r.out_w == 0 || r.out_w > (1u << 15))
        return GF_STATUS_SHAPE;
    const uint64_t pixels = gf_mul_serial(r.out_h, r.out_w);
    const uint64_t in_bytes = gf_mul_serial(gf_mul_serial(r.channels, r.in_h), r.in_w);
    const bool ok = gf_span_ok(r.in_off, in_bytes, ddr_bytes) &&
                    gf_span_ok(r.grid_off, 4 * pixels, ddr_bytes) &&
                    gf_span_ok(r.out_off, gf_mul_serial(pixels, r.channels), ddr_bytes);
    return ok ? GF_STATUS_OK : GF_STATUS_BOUNDS;
}

// Q2.13 normalised coordinate → Q11 pixel coordinate: RHU((g + 2^13)·size − 2^13, 3).
static inline int32_t gs_pixel(int16_t g, int size) {
#pragma HLS INLINE
    const int32_t exact_q14 = (static_cast<int32_t>(g) + 8192) * size - 8192;
    return static_cast<int32_t>(gf_rhu(exact_q14, 3));
}

// Slide the band so that it starts at `top` (never moves up): load only the rows it gains.
// Addresses are accumulated: one product (the first row's offset) per slide.
template <class Cfg>
void gs_slide(const int8_t* ddr, const typename Cfg::regs& r, uint32_t in_plane, int& band_top,
              int top, int8_t band[Cfg::MAX_C][Cfg::BAND_ROWS][Cfg::MAX_W]) {
#pragma HLS INLINE
    if (top == band_top) return;
    const int in_w = static_cast<uint16_t>(r.in_w);
    const int kept_end = band_top + Cfg::BAND_ROWS;
    const int first = top > kept_end ? top : kept_end;
    const int end = top + Cfg::BAND_ROWS < static_cast<int>(r.in_h)
                        ? top + Cfg::BAND_ROWS : static_cast<int>(r.in_h);
    uint64_t channel = r.in_off + static_cast<uint32_t>(static_cast<uint16_t>(first) * in_w);
    for (int c = 0; c < static_cast<int>(r.channels); ++c) {
        uint64_t base = channel;
        for (int y = first; y < end; ++y) {
            for (int x = 0; x < in_w; ++x) {
#pragma HLS PIPELINE II = 1
                band[c][y % Cfg::BAND_ROWS][x] = ddr[base + x];
            }
            base += in_w;
        }
        channel += in_plane;
    }
    band_top = top;
}

// Source value V(y, x) of channel c: 0 outside the image, else from the band or from DDR
// (`channel` the channel's first byte, `row` = y · in_w).
template <class Cfg>
int32_t gs_value(const int8_t* ddr, const typename Cfg::regs& r, int band_top,
                 const int8_t band[Cfg::MAX_C][Cfg::BAND_ROWS][Cfg::MAX_W], int c,
                 uint64_t channel, int y, int row, int x) {
    if (y < 0 || y >= static_cast<int>(r.in_h) || x < 0 || x >= static_cast<int>(r.in_w)) return 0;
    if (y >= band_top && y < band_top + Cfg::BAND_ROWS) return band[c][y % Cfg::BAND_ROWS][x];
    return ddr[channel + row + x];
}

// One output pixel's channels, UNROLL_C lanes per cycle. Source corner (x0, y0), `row0` =
// y0 · in_w, Q11 fractions fx, fy; `pixel` = ho · out_w + wo. A lane's channel offsets are
// accumulated (lane_in / lane_out: u · plane), so the lanes hold no index product. Bilinear
// is two 1-D blends, exactly Σ w·v of numerics.md §13's 2-D weights ((1 − fy)·top + fy·bottom,
// top = (1 − fx)·V00 + fx·V01): three products per lane instead of four; the two fx ones
// (11 × 9 bits) cost fewer LUTs than the device has per DSP48E1, so they go to the fabric
// (docs/estimate.md), the fy one (11 × 21 bits) takes a DSP48E1.
template <class Cfg>
void gs_lanes(int8_t* ddr, const typename Cfg::regs& r, int band_top,
              const int8_t band[Cfg::MAX_C][Cfg::BAND_ROWS][Cfg::MAX_W],
              const uint64_t lane_in[Cfg::UNROLL_C], const uint64_t lane_out[Cfg::UNROLL_C],
              uint64_t in_step, uint64_t out_step, uint64_t pixel, int x0, int y0, int row0,
              int32_t fx, int32_t fy) {
#pragma HLS INLINE off
    const int groups = (static_cast<int>(r.channels) + Cfg::UNROLL_C - 1) / Cfg::UNROLL_C;
    const int row1 = row0 + static_cast<int>(r.in_w);
    uint64_t group_in = r.in_off, group_out = r.out_off + pixel;
    for (int g = 0; g < groups; ++g) {
#pragma HLS PIPELINE II = 1
        for (int u = 0; u < Cfg::UNROLL_C; ++u) {
#pragma HLS UNROLL
            const int c = g * Cfg::UNROLL_C + u;
            if (c >= static_cast<int>(r.channels)) continue;
            const uint64_t channel = group_in + lane_in[u];
            const int32_t v00 = gs_value<Cfg>(ddr, r, band_top, band, c, channel, y0, row0, x0);
            const int32_t v01 =
                gs_value<Cfg>(ddr, r, band_top, band, c, channel, y0, row0, x0 + 1);
            const int32_t v10 =
                gs_value<Cfg>(ddr, r, band_top, band, c, channel, y0 + 1, row1, x0);
            const int32_t v11 =
                gs_value<Cfg>(ddr, r, band_top, band, c, channel, y0 + 1, row1, x0 + 1);
            const int32_t top_step = fx * (v01 - v00);
#pragma HLS BIND_OP variable = top_step op = mul impl = fabric
            const int32_t bottom_step = fx * (v11 - v10);
#pragma HLS BIND_OP variable = bottom_step op = mul impl = fabric
            const int32_t top = v00 * GS_ONE + top_step, bottom = v10 * GS_ONE + bottom_step;
            // |acc| ≤ 2^22 · 128: int32.
            const int32_t acc = top * GS_ONE + fy * (bottom - top);
            ddr[group_out + lane_out[u]] = gf_sat8(gf_rhu(acc, 2 * GS_WEIGHT_BITS));
        }
        group_in += in_step;
        group_out += out_step;
    }
}

// Run one checked instruction. `band` is the cache (BRAM on the device).
template <class Cfg>
void grid_sample_run(int8_t* ddr, const typename Cfg::regs& r,
                     int8_t band[Cfg::MAX_C][Cfg::BAND_ROWS][Cfg::MAX_W]) {
    // Every product here (planes once, the slide's row once per row, the two coordinate
    // scalings and the corner row per pixel) is outside a pipelined loop: one multiplier
    // serves them all. The lanes (gs_lanes, not inlined) keep their own.
#pragma HLS ALLOCATION operation instances = mul limit = 1
    // The check bounds every shape by 2^15: 16-bit operands, one DSP48E1.
    const int in_h = static_cast<uint16_t>(r.in_h), in_w = static_cast<uint16_t>(r.in_w);
    const int out_h = static_cast<uint16_t>(r.out_h), out_w = static_cast<uint16_t>(r.out_w);
    const uint32_t in_plane = static_cast<uint32_t>(in_h * in_w);
    const uint32_t out_plane = static_cast<uint32_t>(out_h) * static_cast<uint32_t>(out_w);
    uint64_t lane_in[Cfg::UNROLL_C], lane_out[Cfg::UNROLL_C];
#pragma HLS ARRAY_PARTITION variable = lane_in complete
#pragma HLS ARRAY_PARTITION variable = lane_out complete
    lane_in[0] = lane_out[0] = 0;
    for (int u = 1; u < Cfg::UNROLL_C; ++u) {
        lane_in[u] = lane_in[u - 1] + in_plane;
        lane_out[u] = lane_out[u - 1] + out_plane;
    }
    const uint64_t in_step = lane_in[Cfg::UNROLL_C - 1] + in_plane;
    const uint64_t out_step = lane_out[Cfg::UNROLL_C - 1] + out_plane;
    const int top_max = in_h > Cfg::BAND_ROWS ? in_h - Cfg::BAND_ROWS : 0;
    int band_top = -Cfg::BAND_ROWS;  // holds nothing yet
    int64_t centre_num = in_h;       // (2·ho + 1) · in_h
    uint64_t at = r.grid_off, pixel = 0;
    for (int ho = 0; ho < out_h; ++ho) {
        // Centre the band on the source row the identity mapping would read for this row.
        const int centre = static_cast<int>(centre_num / (2 * out_h));
        centre_num += 2 * in_h;
        int top = centre - Cfg::BAND_ROWS / 2;
        top = top < 0 ? 0 : (top > top_max ? top_max : top);
        gs_slide<Cfg>(ddr, r, in_plane, band_top, top, band);
        for (int wo = 0; wo < out_w; ++wo) {
            const int32_t px = gs_pixel(gf_ld_i16(ddr, at), in_w);
            const int32_t py = gs_pixel(gf_ld_i16(ddr, at + 2), in_h);
            const int x0 = px >> GS_WEIGHT_BITS, y0 = py >> GS_WEIGHT_BITS;
            // |y0| < 2^16, in_w ≤ 2^12: int32.
            gs_lanes<Cfg>(ddr, r, band_top, band, lane_in, lane_out, in_step, out_step, pixel,
                          x0, y0, y0 * in_w, px & (GS_ONE - 1), py & (GS_ONE - 1));
            at += 4;
            ++pixel;
        }
    }
}

#endif  // GRID_SAMPLE_ENGINE_H
