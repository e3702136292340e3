// keypoint_engine.h — the dense-motion arithmetic of docs/numerics.md: Gaussian keypoint
// heatmaps (§10), sparse motion and the deformation field (§12); `mode` selects one
// (docs/engines.md). Coordinates are int16 Q2.13 throughout.
//
// The keypoints (2 × K pairs) and the 4096-entry Gaussian table are copied into BRAM once per
// instruction; grid, masks and motions stream from DDR one pixel per step.
//
// No index product: the outputs are written in order (a running offset), the deformation's
// per-motion strides are accumulated, and the plane (height · width) is formed once per
// instruction by shift and add (gf_mul_serial). The modes are inlined into keypoint_run, whose
// limit lets the deformation's two products reuse two of the heatmap's five multipliers.
//
// Cfg (generated): MAX_KP, HAS_HEATMAP, HAS_SPARSE, HAS_DEFORM, `regs`.
#ifndef KEYPOINT_ENGINE_H
#define KEYPOINT_ENGINE_H

#include <cstdint>

#include "grace_numerics.h"

static const int KP_TABLE_SIZE = 4096;

template <class Cfg>
int keypoint_check(const typename Cfg::regs& r, uint64_t ddr_bytes) {
    // The byte counts below: one shift-and-add multiplier (gf_mul_serial), no DSP48E1.
#pragma HLS ALLOCATION function instances = gf_mul_serial limit = 1
    const uint32_t m = r.mode;
    if (m > GF_KEYPOINT_DEFORM) return GF_STATUS_PARAM;
    if ((m == GF_KEYPOINT_HEATMAP && !Cfg::HAS_HEATMAP) ||
        (m == GF_KEYPOINT_SPARSE && !Cfg::HAS_SPARSE) ||
        (m == GF_KEYPOINT_DEFORM && !Cfg::HAS_DEFORM))
        return GF_STATUS_FEATURE;
    if (m == GF_KEYPOINT_HEATMAP && (r.index_shift < 1 || r.index_shift > 31 || r.shift < 1 ||
                                     r.shift > 62))
        return GF_STATUS_PARAM;
    const bool motion = m != GF_KEYPOINT_DEFORM;
    if (r.height == 0 || r.width == 0 || r.height > (1u << 15) || r.width > (1u << 15) ||
        (motion && (r.num_kp == 0 || r.num_kp > Cfg::MAX_KP)) ||
        (!motion && (r.channels == 0 || r.channels >= (1u << 16) - 1)))
        return GF_STATUS_SHAPE;
    const uint64_t plane = gf_mul_serial(r.height, r.width);
    if (!motion) {
        const uint64_t values = gf_mul_serial(plane, r.channels);
        return gf_span_ok(r.sparse_off, 4 * values, ddr_bytes) &&
                       gf_span_ok(r.masks_off, 2 * values, ddr_bytes) &&
                       gf_span_ok(r.out_off, 4 * plane, ddr_bytes)
                   ? GF_STATUS_OK : GF_STATUS_BOUNDS;
    }
    const uint64_t maps = gf_mul_serial(plane, r.num_kp + 1);  // (K + 1) · plane
    const uint64_t out_bytes = m == GF_KEYPOINT_HEATMAP ? maps : 4 * maps;
    const bool ok = gf_span_ok(r.grid_off, 4 * plane, ddr_bytes) &&
                    gf_span_ok(r.kp_driving_off, 4ull * r.num_kp, ddr_bytes) &&
                    gf_span_ok(r.kp_source_off, 4ull * r.num_kp, ddr_bytes) &&
                    gf_span_ok(r.out_off, out_bytes, ddr_bytes) &&
                    (m != GF_KEYPOINT_HEATMAP ||
                     gf_span_ok(r.table_off, 2 * KP_TABLE_SIZE, ddr_bytes));
    return ok ? GF_STATUS_OK : GF_STATUS_BOUNDS;
}

// Q15 heat of grid point (gx, gy) for keypoint (kx, ky): G[min(RHU(dx² + dy², S), 4095)].
static inline uint16_t kp_heat(const uint16_t table[KP_TABLE_SIZE], int32_t gx, int32_t gy,
                               int32_t kx, int32_t ky, int index_shift) {
    const int32_t dx = gx - kx, dy = gy - ky;
    // Clamped to ±32767 so that dx² + dy² < 2^31 (only offsets ≥ 4 change, whose heat is 0);
    // held as int16, each square is a 16 × 16-bit product (one DSP48E1).
    const int16_t cx = dx < -32767 ? -32767 : (dx > 32767 ? 32767 : dx);
    const int16_t cy = dy < -32767 ? -32767 : (dy > 32767 ? 32767 : dy);
    const uint64_t d2 = static_cast<uint64_t>(cx * cx) + static_cast<uint64_t>(cy * cy);
    const uint64_t index = (d2 + (1ull << (index_shift - 1))) >> index_shift;
    return table[index < KP_TABLE_SIZE ? index : KP_TABLE_SIZE - 1];
}

// Heatmaps (driving minus source, requantized) with a zero background map in front.
template <class Cfg>
void kp_heatmap(int8_t* ddr, const typename Cfg::regs& r, uint64_t plane,
                const int16_t kp[2][Cfg::MAX_KP][2], const uint16_t table[KP_TABLE_SIZE]) {
#pragma HLS INLINE
    const int index_shift = static_cast<int>(r.index_shift), shift = static_cast<int>(r.shift);
    const int64_t mult = static_cast<int32_t>(r.mult);
    uint64_t out = r.out_off;  // maps in order: background, then keypoint k
    for (uint64_t i = 0; i < plane; ++i) {
#pragma HLS PIPELINE II = 1
        ddr[out + i] = 0;
    }
    out += plane;
    for (uint32_t k = 0; k < r.num_kp; ++k) {
        for (uint64_t i = 0; i < plane; ++i) {
#pragma HLS PIPELINE II = 1
            const int32_t gx = gf_ld_i16(ddr, r.grid_off + 4 * i);
            const int32_t gy = gf_ld_i16(ddr, r.grid_off + 4 * i + 2);
            // A difference of two uint16 heats: 17 bits, so diff · mult is 17 × 32 (2 DSP48E1).
            const int32_t driving = kp_heat(table, gx, gy, kp[0][k][0], kp[0][k][1], index_shift);
            const int32_t source = kp_heat(table, gx, gy, kp[1][k][0], kp[1][k][1], index_shift);
            const int32_t diff = driving - source;
            ddr[out + i] = gf_sat8(gf_rhu(diff * mult, shift));
        }
        out += plane;
    }
}

// Sparse motions: the grid, then SAT16(grid + source − driving) per keypoint.
template <class Cfg>
void kp_sparse(int8_t* ddr, const typename Cfg::regs& r, uint64_t plane,
               const int16_t kp[2][Cfg::MAX_KP][2]) {
#pragma HLS INLINE
    uint64_t out = r.out_off;  // motions in order
    for (uint32_t k = 0; k <= r.num_kp; ++k) {
        for (uint64_t i = 0; i < plane; ++i) {
#pragma HLS PIPELINE II = 1
            for (int axis = 0; axis < 2; ++axis) {
                const int32_t g = gf_ld_i16(ddr, r.grid_off + 4 * i + 2 * axis);
                const int32_t move = k == 0 ? 0 : kp[1][k - 1][axis] - kp[0][k - 1][axis];
                gf_st_u16(ddr, out + 2 * axis, static_cast<uint16_t>(gf_sat16(g + move)));
            }
            out += 4;
        }
    }
}

// Deformation: SAT16(RHU(Σ_c mask_c · sparse_c, 15)) per pixel and axis. The specification
// bounds the sum to int32 for softmax masks; int64 keeps any other input well defined.
template <class Cfg>
void kp_deform(int8_t* ddr, const typename Cfg::regs& r, uint64_t plane) {
#pragma HLS INLINE
    for (uint64_t i = 0; i < plane; ++i) {
        int64_t acc[2] = {0, 0};
        uint64_t mask_at = r.masks_off + 2 * i, sparse_at = r.sparse_off + 4 * i;  // motion c
        for (uint32_t c = 0; c < r.channels; ++c) {
#pragma HLS PIPELINE II = 1
            const int64_t mask = gf_ld_u16(ddr, mask_at);
            for (int axis = 0; axis < 2; ++axis)
                acc[axis] += mask * gf_ld_i16(ddr, sparse_at + 2 * axis);
            mask_at += 2 * plane;
            sparse_at += 4 * plane;
        }
        for (int axis = 0; axis < 2; ++axis)
            gf_st_u16(ddr, r.out_off + 4 * i + 2 * axis,
                      static_cast<uint16_t>(gf_sat16(gf_rhu(acc[axis], 15))));
    }
}

// Run one checked instruction; kp and table are BRAM on the device.
template <class Cfg>
void keypoint_run(int8_t* ddr, const typename Cfg::regs& r, int16_t kp[2][Cfg::MAX_KP][2],
                  uint16_t table[KP_TABLE_SIZE]) {
    // The heatmap's four squared distances and diff · mult; the deformation's two products
    // (another mode, never at the same time) reuse two of them.
#pragma HLS ALLOCATION operation instances = mul limit = 5
    const uint64_t plane = gf_mul_serial(r.height, r.width);  // 32 cycles, no DSP48E1
    if (r.mode == GF_KEYPOINT_DEFORM) {
        kp_deform<Cfg>(ddr, r, plane);
        return;
    }
    for (uint32_t k = 0; k < r.num_kp; ++k) {
        for (int axis = 0; axis < 2; ++axis) {
            kp[0][k][axis] = gf_ld_i16(ddr, r.kp_driving_off + 4ull * k + 2 * axis);
            kp[1][k][axis] = gf_ld_i16(ddr, r.kp_source_off + 4ull * k + 2 * axis);
        }
    }
    if (r.mode == GF_KEYPOINT_SPARSE) {
        kp_sparse<Cfg>(ddr, r, plane, kp);
        return;
    }
    for (int j = 0; j < KP_TABLE_SIZE; ++j) {
#pragma HLS PIPELINE II = 1
        table[j] = gf_ld_u16(ddr, r.table_off + 2ull * j);
    }
    kp_heatmap<Cfg>(ddr, r, plane, kp, table);
}

#endif  // KEYPOINT_ENGINE_H
