// elementwise_engine.h — per-element ops of docs/numerics.md: channel_affine (§6), apply_table
// (§7), mul_by_map (§8) and softmax_masks (§11); `mode` selects one (docs/engines.md).
//
// Affine, table and map stream element by element (one per cycle). The table (256 entries) is
// loaded into BRAM once per instruction. Softmax keeps one row of logits of every channel in a
// line buffer, because each pixel needs the max and the sum over channels before any mask.
//
// No index product: the streaming modes walk [C, H, W] in order with wrapping counters, softmax
// accumulates its row and channel offsets (the plane by shift and add, gf_mul_serial). The one
// product per element of each mode (affine x·m, mul_map x·m, softmax e·R) is in a different
// mode, so the three share one multiplier.
//
// Cfg (generated): MAX_C, MAX_W (softmax line buffer), HAS_AFFINE, HAS_TABLE, HAS_MUL_MAP,
// HAS_SOFTMAX, `regs`.
#ifndef ELEMENTWISE_ENGINE_H
#define ELEMENTWISE_ENGINE_H

#include <cstdint>

#include "grace_numerics.h"

template <class Cfg>
int elementwise_check(const typename Cfg::regs& r, uint64_t ddr_bytes) {
    // The byte counts below: one shift-and-add multiplier (gf_mul_serial), no DSP48E1.
#pragma HLS ALLOCATION function instances = gf_mul_serial limit = 1
    const uint32_t m = r.mode;
    if (m > GF_ELEMENTWISE_SOFTMAX) return GF_STATUS_PARAM;
    if ((m == GF_ELEMENTWISE_AFFINE && !Cfg::HAS_AFFINE) ||
        (m == GF_ELEMENTWISE_TABLE && !Cfg::HAS_TABLE) ||
        (m == GF_ELEMENTWISE_MUL_MAP && !Cfg::HAS_MUL_MAP) ||
        (m == GF_ELEMENTWISE_SOFTMAX && !Cfg::HAS_SOFTMAX))
        return GF_STATUS_FEATURE;
    // flags bit 0: ReLU (affine), unsigned index (table); no other op takes a flag.
    if (r.flags > (m == GF_ELEMENTWISE_AFFINE || m == GF_ELEMENTWISE_TABLE ? 1u : 0u))
        return GF_STATUS_PARAM;
    if (m == GF_ELEMENTWISE_TABLE && r.table_bytes != 1 && r.table_bytes != 2)
        return GF_STATUS_PARAM;
    if (r.channels == 0 || r.height == 0 || r.width == 0 ||
        (m == GF_ELEMENTWISE_SOFTMAX && (r.channels > Cfg::MAX_C || r.width > Cfg::MAX_W)))
        return GF_STATUS_SHAPE;
    const uint64_t c = r.channels, plane = gf_mul_serial(r.height, r.width);
    const uint64_t elements = gf_mul_serial(plane, r.channels);
    const int out_shift = m == GF_ELEMENTWISE_TABLE ? r.table_bytes - 1  // 1 or 2 bytes
                          : (m == GF_ELEMENTWISE_SOFTMAX ? 1 : 0);
    const uint64_t out_bytes = 1ull << out_shift;
    bool ok = gf_span_ok(r.in_off, elements, ddr_bytes) &&
              gf_span_ok(r.out_off, elements << out_shift, ddr_bytes);
    if (m == GF_ELEMENTWISE_AFFINE)
        ok = ok && gf_span_ok(r.mult_off, 4 * c, ddr_bytes) &&
             gf_span_ok(r.shift_off, c, ddr_bytes) && gf_span_ok(r.bias_off, 8 * c, ddr_bytes);
    if (m == GF_ELEMENTWISE_TABLE) ok = ok && gf_span_ok(r.table_off, 256 * out_bytes, ddr_bytes);
    if (m == GF_ELEMENTWISE_SOFTMAX) ok = ok && gf_span_ok(r.table_off, 512, ddr_bytes);
    if (m == GF_ELEMENTWISE_MUL_MAP) ok = ok && gf_span_ok(r.map_off, plane, ddr_bytes);
    return ok ? GF_STATUS_OK : GF_STATUS_BOUNDS;
}

// y = SAT8([ReLU] RHU(x·m + b, shift)) per channel (§6): int64 throughout.
template <class Cfg>
void ew_affine(int8_t* ddr, const typename Cfg::regs& r) {
#pragma HLS INLINE
    const bool relu = r.flags & 1;
    uint64_t i = 0;  // the element, channel after channel
    for (uint32_t c = 0; c < r.channels; ++c) {
        const int64_t mult = gf_ld_i32(ddr, r.mult_off + 4ull * c);
        const int shift = gf_valid_shift(gf_ld_u8(ddr, r.shift_off + c));
        const int64_t bias = gf_ld_i64(ddr, r.bias_off + 8ull * c);
        for (uint32_t y = 0, x = 0; y < r.height; ++i) {
#pragma HLS PIPELINE II = 1
            int64_t v = gf_rhu(ddr[r.in_off + i] * mult + bias, shift);
            if (relu && v < 0) v = 0;
            ddr[r.out_off + i] = gf_sat8(v);
            if (++x == r.width) {
                x = 0;
                ++y;
            }
        }
    }
}

// y = T[x + 128] (apply_table), or T[p] for an unsigned byte p with flags bit 0 (the input
// image, pixels_to_int8); entries of table_bytes bytes (the output keeps the table's type).
template <class Cfg>
void ew_table(int8_t* ddr, const typename Cfg::regs& r, uint16_t table[256]) {
#pragma HLS INLINE
    const uint32_t bytes = r.table_bytes;
    const int offset = (r.flags & 1) ? 0 : 128;
    for (int j = 0; j < 256; ++j) {
#pragma HLS PIPELINE II = 1
        table[j] = bytes == 2 ? gf_ld_u16(ddr, r.table_off + 2ull * j)
                              : gf_ld_u8(ddr, r.table_off + static_cast<uint64_t>(j));
    }
    // (c, y, x) count the element i: the loop ends after channels · height · width of them.
    uint64_t i = 0;
    for (uint32_t c = 0, y = 0, x = 0; c < r.channels; ++i) {
#pragma HLS PIPELINE II = 1
        const int8_t v8 = ddr[r.in_off + i];
        const uint16_t v = table[offset ? v8 + offset : static_cast<uint8_t>(v8)];
        if (bytes == 2) {
            gf_st_u16(ddr, r.out_off + 2 * i, v);
        } else {
            ddr[r.out_off + i] = static_cast<int8_t>(static_cast<uint8_t>(v));
        }
        if (++x == r.width) {
            x = 0;
            if (++y == r.height) {
                y = 0;
                ++c;
            }
        }
    }
}

// y = SAT8(RHU(x · m, 8)), the Q8 map broadcast over channels (§8): the map's index restarts
// with every channel.
template <class Cfg>
void ew_mul_map(int8_t* ddr, const typename Cfg::regs& r) {
#pragma HLS INLINE
    uint64_t i = 0, m = 0;
    for (uint32_t c = 0, y = 0, x = 0; c < r.channels; ++i) {
#pragma HLS PIPELINE II = 1
        const int32_t product =
            ddr[r.in_off + i] * static_cast<int32_t>(gf_ld_u8(ddr, r.map_off + m));
        ddr[r.out_off + i] = gf_sat8(gf_rhu(product, 8));
        ++m;
        if (++x == r.width) {
            x = 0;
            if (++y == r.height) {
                y = 0;
                m = 0;
                ++c;
            }
        }
    }
}

// Softmax over channels per pixel (§11): E[max − x], one division 2^39 / Σ, RHU(e · R, 24).
template <class Cfg>
void ew_softmax(int8_t* ddr, const typename Cfg::regs& r, uint16_t table[256],
                int8_t lines[Cfg::MAX_C][Cfg::MAX_W]) {
#pragma HLS INLINE
    for (int j = 0; j < 256; ++j) {
#pragma HLS PIPELINE II = 1
        table[j] = gf_ld_u16(ddr, r.table_off + 2ull * j);
    }
    const int channels = static_cast<int>(r.channels), width = static_cast<int>(r.width);
    const uint64_t plane = gf_mul_serial(r.height, r.width);  // 32 cycles, no DSP48E1
    uint64_t row = 0;  // y · width
    for (uint32_t y = 0; y < r.height; ++y) {
        uint64_t channel = r.in_off + row;
        for (int c = 0; c < channels; ++c) {
            for (int x = 0; x < width; ++x) {
#pragma HLS PIPELINE II = 1
                lines[c][x] = ddr[channel + x];
            }
            channel += plane;
        }
        for (int x = 0; x < width; ++x) {
            int top = -128;
            for (int c = 0; c < channels; ++c) top = lines[c][x] > top ? lines[c][x] : top;
            uint32_t sum = 0;  // 2^15 ≤ Σ ≤ C · 2^15 ≤ 2^23
            for (int c = 0; c < channels; ++c) sum += table[top - lines[c][x]];
            const uint64_t reciprocal = (static_cast<uint64_t>(1) << 39) / sum;
            uint64_t at = r.out_off + 2 * (row + x);
            for (int c = 0; c < channels; ++c) {
#pragma HLS PIPELINE II = 1
                const int64_t e = table[top - lines[c][x]];
                const int64_t mask = gf_rhu(e * static_cast<int64_t>(reciprocal), 24);
                gf_st_u16(ddr, at, static_cast<uint16_t>(mask));
                at += 2 * plane;
            }
        }
        row += width;
    }
}

// Run one checked instruction; table and lines are BRAM on the device. The modes are inlined
// here, so the limit shares one multiplier between their products (never two in one cycle).
template <class Cfg>
void elementwise_run(int8_t* ddr, const typename Cfg::regs& r, uint16_t table[256],
                     int8_t lines[Cfg::MAX_C][Cfg::MAX_W]) {
#pragma HLS ALLOCATION operation instances = mul limit = 1
    switch (r.mode) {
        case GF_ELEMENTWISE_AFFINE: ew_affine<Cfg>(ddr, r); break;
        case GF_ELEMENTWISE_TABLE: ew_table<Cfg>(ddr, r, table); break;
        case GF_ELEMENTWISE_MUL_MAP: ew_mul_map<Cfg>(ddr, r); break;
        default: ew_softmax<Cfg>(ddr, r, table, lines); break;
    }
}

#endif  // ELEMENTWISE_ENGINE_H
