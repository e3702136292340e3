// grace_numerics.h — the integer primitives of docs/numerics.md, defined once for every engine.
//
// Plain <cstdint> arithmetic: every intermediate fits the type chosen for it (the bounds are in
// docs/numerics.md), so g++ C-simulation and Vitis HLS compute the same bits. `>>` on a negative
// value is an arithmetic shift in g++ and in Vitis HLS (C++20 makes it standard).
#ifndef GRACE_NUMERICS_H
#define GRACE_NUMERICS_H

#include <cstdint>

// Round half up: (v + 2^(s-1)) >> s, for 1 <= s <= 62 (numerics.md §1).
static inline int64_t gf_rhu(int64_t v, int s) {
    return (v + (static_cast<int64_t>(1) << (s - 1))) >> s;
}

// A shift read from DDR is trusted to lie in [1, 62]; clamping keeps a corrupt value from being
// undefined behaviour in C-sim (it then gives a wrong but deterministic result).
static inline int gf_valid_shift(int s) {
    return s < 1 ? 1 : (s > 62 ? 62 : s);
}

static inline int8_t gf_sat8(int64_t v) {
    return static_cast<int8_t>(v < -128 ? -128 : (v > 127 ? 127 : v));
}

static inline int16_t gf_sat16(int64_t v) {
    return static_cast<int16_t>(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
}

// DDR is one byte space; multi-byte operands are little-endian (the ARM host's order). Byte-wise
// assembly keeps the engines independent of the alignment of an offset.
static inline uint8_t gf_ld_u8(const int8_t* ddr, uint64_t at) {
    return static_cast<uint8_t>(ddr[at]);
}

static inline uint16_t gf_ld_u16(const int8_t* ddr, uint64_t at) {
    return static_cast<uint16_t>(gf_ld_u8(ddr, at) | (gf_ld_u8(ddr, at + 1) << 8));
}

static inline int16_t gf_ld_i16(const int8_t* ddr, uint64_t at) {
    return static_cast<int16_t>(gf_ld_u16(ddr, at));
}

static inline uint32_t gf_ld_u32(const int8_t* ddr, uint64_t at) {
    return static_cast<uint32_t>(gf_ld_u16(ddr, at)) |
           (static_cast<uint32_t>(gf_ld_u16(ddr, at + 2)) << 16);
}

static inline int32_t gf_ld_i32(const int8_t* ddr, uint64_t at) {
    return static_cast<int32_t>(gf_ld_u32(ddr, at));
}

static inline int64_t gf_ld_i64(const int8_t* ddr, uint64_t at) {
    return static_cast<int64_t>(static_cast<uint64_t>(gf_ld_u32(ddr, at)) |
                                (static_cast<uint64_t>(gf_ld_u32(ddr, at + 4)) << 32));
}

static inline void gf_st_u16(int8_t* ddr, uint64_t at, uint16_t v) {
    ddr[at] = static_cast<int8_t>(v & 0xFF);
    ddr[at + 1] = static_cast<int8_t>(v >> 8);
}

// a · b mod 2^64 by shift and add, one bit of b per step (32 cycles, one 64-bit adder, no
// DSP48E1): the capacity checks' byte counts, once per instruction, where a multiplier as wide
// as 64 × 32 bits would take several DSP48E1s for a product nobody waits on. A check calls it
// through one instance (ALLOCATION function limit 1).
static inline uint64_t gf_mul_serial(uint64_t a, uint32_t b) {
#pragma HLS INLINE off
    uint64_t product = 0;
    for (int bit = 0; bit < 32; ++bit) {
#pragma HLS PIPELINE II = 1
        if (b & 1) product += a;
        a <<= 1;
        b >>= 1;
    }
    return product;
}

// True when [offset, offset + bytes) lies inside a DDR window of ddr_bytes bytes.
static inline bool gf_span_ok(uint32_t offset, uint64_t bytes, uint64_t ddr_bytes) {
    return bytes <= ddr_bytes && offset <= ddr_bytes - bytes;
}

#endif  // GRACE_NUMERICS_H
