// grace_ddr.h — 64-bit DDR port helpers: byte spans moved as aligned words, 8 bytes per beat.
//
// An engine with a word port sees DDR as `uint64_t* ddr` (the HP port width; little-endian, so
// byte a is bits 8·(a & 7) of word a >> 3). Register offsets stay byte offsets and tensors need
// no alignment: a span [start, start + n) is read as the aligned words covering it, each read
// exactly once and in order (one burst), and funnel-shifted into the bytes asked for; a span is
// written as whole words, with a read-modify-write of the partial first and last word only, so
// bytes outside the span are written back unchanged. Only words holding a byte of the span are
// touched, so a span inside the DDR window never reaches outside it.
#ifndef GRACE_DDR_H
#define GRACE_DDR_H

#include <cstdint>
#include <cstring>
#include <vector>

// The low n bytes (n in [0, 8]) of a word set.
static inline uint64_t gf_byte_mask(int n) {
    return n >= 8 ? ~static_cast<uint64_t>(0) : (static_cast<uint64_t>(1) << (8 * n)) - 1;
}

// Bytes pos .. pos + 7 of the 16-byte little-endian pair (lo, hi), pos in [0, 7].
static inline uint64_t gf_funnel(uint64_t lo, uint64_t hi, int pos) {
    return pos == 0 ? lo : (lo >> (8 * pos)) | (hi << (64 - 8 * pos));
}

static inline int8_t gf_byte(uint64_t word, int b) {
    return static_cast<int8_t>(static_cast<uint8_t>(word >> (8 * b)));
}

// Streams the bytes of one DDR span front to back; take(n) returns the next n (≤ 8) bytes in
// the low bytes of a word (higher bytes are unspecified) and reads at most one new word.
struct GfReader {
    const uint64_t* ddr = nullptr;
    uint64_t next = 0, last = 0;  // next word to read, last word of the span
    uint64_t cur = 0, ahead = 0;  // the two words under the read position
    int pos = 0;                  // byte position in cur

    void open(const uint64_t* port, uint64_t start, uint64_t bytes) {
        ddr = port;
        const uint64_t first = start >> 3;
        last = bytes ? (start + bytes - 1) >> 3 : first;
        pos = static_cast<int>(start & 7);
        cur = bytes ? ddr[first] : 0;
        ahead = bytes && first < last ? ddr[first + 1] : 0;
        next = first + 2;
    }

    uint64_t take(int n) {
        const uint64_t v = gf_funnel(cur, ahead, pos);
        pos += n;
        if (pos >= 8) {
            pos -= 8;
            cur = ahead;
            ahead = next <= last ? ddr[next] : 0;
            ++next;
        }
        return v;
    }
};

// Writes one DDR span front to back; put(v, n) appends the low n (≤ 8) bytes of v, writing a
// word whenever one is complete; close() writes the partial last word (read-modify-write).
struct GfWriter {
    uint64_t* ddr = nullptr;
    uint64_t at = 0;   // word being assembled
    uint64_t acc = 0;  // its bytes so far (the first `fill`)
    int fill = 0;

    void open(uint64_t* port, uint64_t start) {
        ddr = port;
        at = start >> 3;
        fill = static_cast<int>(start & 7);
        // A span starting mid-word keeps the bytes before it.
        acc = fill ? ddr[at] & gf_byte_mask(fill) : 0;
    }

    void put(uint64_t v, int n) {
        v &= gf_byte_mask(n);
        acc |= v << (8 * fill);
        if (fill + n >= 8) {
            ddr[at++] = acc;
            acc = fill ? v >> (8 * (8 - fill)) : 0;
            fill = fill + n - 8;
        } else {
            fill += n;
        }
    }

    void close() {
        if (fill) ddr[at] = (acc & gf_byte_mask(fill)) | (ddr[at] & ~gf_byte_mask(fill));
    }
};

// C-sim: run `top` on a word view of a byte buffer. A buffer that is not 8-byte aligned or not
// a whole number of words is copied into one that is (the last word's extra bytes are never
// part of a span, so nothing reads them meaningfully) and copied back afterwards.
template <class Run>
int gf_csim_words(int8_t* ddr, uint64_t ddr_bytes, Run top) {
    if (reinterpret_cast<uintptr_t>(ddr) % 8 == 0 && ddr_bytes % 8 == 0)
        return top(reinterpret_cast<uint64_t*>(ddr));
    std::vector<uint64_t> words((ddr_bytes + 7) / 8, 0);
    std::memcpy(words.data(), ddr, ddr_bytes);
    const int status = top(words.data());
    std::memcpy(ddr, words.data(), ddr_bytes);
    return status;
}

#endif  // GRACE_DDR_H
