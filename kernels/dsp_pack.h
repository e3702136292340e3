// dsp_pack.h — the conv engine's multiply-accumulate: one int8 MAC per DSP48E1, or two that share
// an activation (docs/estimate.md "Two MACs per DSP48E1").
//
// Packed (MACS_PER_DSP 2): output lanes q and q + OUT/2 (lane pair q < OUT/2; an odd last lane
// stays unpacked) share the activation x, so one multiply x · (w1 · 2^17 + w0), w0 lane q's weight
// and w1 lane q + OUT/2's, gives both products: the 25-bit packed weight is formed once per pass,
// when the pass's weights are loaded (gf_pack_weights: one adder per lane pair and input, held
// in a register through the pass's pixels), the DSP48E1's A port takes it, B takes x, and a chain
// of DSPs sums through PCIN. The sum is
// P = H · 2^17 + L with H = Σ x·w1 and L = Σ x·w0; L is the low 17 bits read as signed and
// H = (P − L) / 2^17, exact while L stays in [−2^16, 2^16). Weights are in [−127, 127]
// (docs/numerics.md §1; conv2d_int8 refuses −128): the packed weight then fits 25 bits (w1 = −128
// with w0 < 0 would not) and |x · w| ≤ 128 · 127 = 16256, so a chain sums at most
// GF_PACK_CHAIN = 4 products (4 · 16256 = 65024 < 2^16) before it is separated; wider input
// groups are split into chains of 4, each separated and added to the int32 lanes.
//
// Types: for synthesis the packed weight is 25 bits, the activation 18 and the chain sum 48 (the
// DSP48E1's A, B and P widths), so Vitis maps each packed multiply-add onto one
// DSP48E1. C-sim uses int64 (also for the packed weight: gf_mac's chain sums then are int64 only,
// which lets g++ pick its vector width by them) and wraps the packed weight to 25 bits as
// ap_int<25> does, so both compute the same bits for any weight.
#ifndef DSP_PACK_H
#define DSP_PACK_H

#include <cstdint>

#ifdef __SYNTHESIS__
#include <ap_int.h>
typedef ap_int<25> gf_packed_weight;
typedef ap_int<18> gf_dsp_operand;
typedef ap_int<48> gf_dsp_sum;
#else
typedef int64_t gf_packed_weight;
typedef int64_t gf_dsp_operand;
typedef int64_t gf_dsp_sum;
#endif

// Width of the low product's field in a packed sum, and the products a chain may add before
// separation (see above).
static const int GF_PACK_SHIFT = 17;
static const int GF_PACK_CHAIN = 4;

// The packed weight w1 · 2^17 + w0, 25 bits (two's complement wrap).
static inline gf_packed_weight gf_pack(int32_t w1, int32_t w0) {
#ifdef __SYNTHESIS__
    return static_cast<gf_packed_weight>(w1 * (1 << GF_PACK_SHIFT) + w0);
#else
    const uint32_t bits = static_cast<uint32_t>(w1 * (1 << GF_PACK_SHIFT) + w0) & 0x1FFFFFF;
    return static_cast<int32_t>(bits ^ 0x1000000) - 0x1000000;
#endif
}

// The two int32 sums of a packed chain sum p: lo = Σ x·w0, hi = Σ x·w1 (the low field's sign
// extended by xor and subtract, no branch: g++ vectorizes it).
static inline void gf_unpack(gf_dsp_sum p, int32_t& lo, int32_t& hi) {
    const int64_t sum = static_cast<int64_t>(p);
    const int64_t field = sum & ((static_cast<int64_t>(1) << GF_PACK_SHIFT) - 1);
    const int64_t sign = static_cast<int64_t>(1) << (GF_PACK_SHIFT - 1);
    const int64_t low = (field ^ sign) - sign;
    lo = static_cast<int32_t>(low);
    hi = static_cast<int32_t>((sum - low) >> GF_PACK_SHIFT);
}

// The packed weights of a pass, formed once when the pass's weights are loaded (not per pixel):
// pw[u][q] = w[u][q + OUT/2] · 2^17 + w[u][q] for the lane pairs q; (OUT + 1) / 2 entries keep
// the array non-empty for OUT = 1.
template <int OUT, int IN, int MACS_PER_DSP>
void gf_pack_weights(const int32_t w[IN][OUT], gf_packed_weight pw[IN][(OUT + 1) / 2]) {
#pragma HLS INLINE
    const int pairs = MACS_PER_DSP == 2 ? OUT / 2 : 0;
    for (int u = 0; u < IN; ++u) {
#pragma HLS UNROLL
        for (int q = 0; q < pairs; ++q) {
#pragma HLS UNROLL
            pw[u][q] = gf_pack(w[u][q + pairs], w[u][q]);
        }
    }
}

// a[o] += Σ_u x[u] · w[u][o] for OUT output lanes and IN inputs, MACS_PER_DSP MACs per DSP48E1
// (with 2, the lane pairs from pw, an odd last lane unpacked from w). w is [input][output] and the
// lanes run innermost: one input's products are one SIMD update in C-sim.
//
// Packed, in two steps: the chain sums (per lane pair and chain of ≤ GF_PACK_CHAIN inputs, one DSP
// cascade each), then per lane s = the sum of its fields of its pair's chain sums, the low field
// for lanes below OUT/2, the high one above, and a += s. p holds a chain sum once per lane of its
// pair (wires in hardware) so that the second step is the same update for every lane. For C-sim
// the two steps stay loops (GCC unroll 1: a loop g++ unrolls early is left to its basic-block
// vectorizer, which cannot vectorize the two fields' different operations); g++ then vectorizes
// them across the pairs and lanes, the sums in int64 lanes only, the separation across the OUT
// int32 lanes. a is added to outside them, so that a stays the caller's registers (a loop over
// a keeps it in memory, written piecewise and read as one vector: a store-forwarding stall).
template <int OUT, int IN, int MACS_PER_DSP>
void gf_mac(int32_t a[OUT], const int32_t x[IN], const int32_t w[IN][OUT],
            const gf_packed_weight pw[IN][(OUT + 1) / 2]) {
#pragma HLS INLINE
    const int pairs = MACS_PER_DSP == 2 ? OUT / 2 : 0;
    const int chains = (IN + GF_PACK_CHAIN - 1) / GF_PACK_CHAIN;
    gf_dsp_sum p[chains][OUT];
#pragma HLS ARRAY_PARTITION variable = p complete dim = 0
    int32_t s[OUT];
#pragma HLS ARRAY_PARTITION variable = s complete dim = 0
#ifndef __SYNTHESIS__
#pragma GCC unroll 1
#endif
    for (int q = 0; q < pairs; ++q) {
#pragma HLS UNROLL
        for (int c = 0; c < chains; ++c) {
#pragma HLS UNROLL
            gf_dsp_sum sum = 0;
            for (int k = 0; k < GF_PACK_CHAIN; ++k) {
#pragma HLS UNROLL
                const int u = c * GF_PACK_CHAIN + k;
                if (u < IN) {
                    sum += static_cast<gf_dsp_sum>(static_cast<gf_dsp_operand>(x[u]) * pw[u][q]);
                }
            }
            p[c][q] = sum;
            p[c][q + pairs] = sum;
        }
    }
#ifndef __SYNTHESIS__
#pragma GCC unroll 1
#endif
    for (int o = 0; o < 2 * pairs; ++o) {
#pragma HLS UNROLL
        int32_t sum = 0;
        for (int c = 0; c < chains; ++c) {
#pragma HLS UNROLL
            int32_t lo, hi;
            gf_unpack(p[c][o], lo, hi);
            sum += o < pairs ? lo : hi;
        }
        s[o] = sum;
    }
    for (int o = 0; o < 2 * pairs; ++o) {
#pragma HLS UNROLL
        a[o] += s[o];
    }
    for (int u = 0; u < IN; ++u) {
#pragma HLS UNROLL
        for (int o = 2 * pairs; o < OUT; ++o) {
#pragma HLS UNROLL
            a[o] += x[u] * w[u][o];
        }
    }
}

#endif  // DSP_PACK_H
