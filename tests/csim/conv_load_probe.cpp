// conv_load probe (tests/csim/test_conv_load.py): runs conv_load over every step of an
// instruction and checks that its steps are the bands of the reference band height below (the
// most output rows whose input rows IN_ROWS holds, at most TILE_ROWS, even when pooled; an
// instruction with none is refused PARAM) and, per step, that
//  * each input channel's band is one GfReader open over exactly the source rows the band needs,
//    or, when those are all the image's rows, the input block is one open over its channels,
//  * that reader reads each word of its span exactly once, in order, and takes one chunk per
//    band word of the source rows of its channels (so no band row rereads DDR),
//  * xin is bit-identical to the row-by-row reference load below (one reader per band row, the
//    previous implementation) over the whole buffer, except for the bytes of a row's last word
//    beyond column in_w − 1: take(n) leaves the bytes above n unspecified, and the compute stage
//    never reads them (columns ≥ in_w are padding, masked).
// Input lines: in_c in_h in_w out_c kernel stride pad upsample pool in_off. Output: one line per
// instruction, "ok <steps> <opens> <words> <block opens>" (block opens: those over a whole input
// block), "ok refused" (refused as the reference says) or "FAIL <what>" (or "refused <status>").
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "conv_config.h"
#include "grace_ddr.h"

namespace probe {
uint64_t lo = 0, hi = 0;  // the input tensor's bytes; readers opened there are recorded
struct Open {
    uint64_t start, bytes;
    std::vector<uint64_t> words;  // word indices read, in order
    long takes = 0;
};
std::vector<Open> opens;
}  // namespace probe

// GfReader, recording the opens inside the input tensor and the words they read.
struct CountingReader : GfReader {
    int id = -1;
    void open(const uint64_t* port, uint64_t start, uint64_t bytes) {
        GfReader::open(port, start, bytes);
        id = -1;
        if (start < probe::lo || start >= probe::hi) return;
        id = static_cast<int>(probe::opens.size());
        probe::opens.push_back({start, bytes, {}, 0});
        if (bytes) probe::opens[id].words.push_back(start >> 3);
        if (bytes && (start >> 3) < last) probe::opens[id].words.push_back((start >> 3) + 1);
    }
    uint64_t take(int n) {
        const uint64_t before = next;
        const uint64_t v = GfReader::take(n);
        if (id >= 0) {
            ++probe::opens[id].takes;
            if (next != before && before <= last) probe::opens[id].words.push_back(before);
        }
        return v;
    }
};

#define GfReader CountingReader
#include "conv_engine.h"
#undef GfReader

using Cfg = conv_cfg;
using Xin = int8_t[Cfg::IN_BLOCK][Cfg::IN_ROWS][Cfg::ROW_BYTES];

// Word j of a band row (its 8 bytes, little-endian).
static uint64_t xin_word(const int8_t* row, int j) {
    uint64_t v;
    std::memcpy(&v, row + 8 * j, 8);
    return v;
}

// Output rows per band for r, searched from TILE_ROWS down: the first height whose input rows
// fit the band buffer (and, pooled, that is even); 0 when there is none.
static int ref_band_height(const Cfg::regs& r) {
    const bool pool = (r.flags >> GF_CONV_POOL) & 1;
    for (int h = Cfg::TILE_ROWS; h > 0; --h) {
        const bool fits = (h - 1) * static_cast<int>(r.stride) + static_cast<int>(r.kernel) <=
                          Cfg::IN_ROWS;
        if (fits && !(pool && h % 2)) return h;
    }
    return 0;
}

// Output rows of band `band` of height h: h, or what is left of the output for the last.
static int ref_rows(const ConvGeom& g, int h, int band) {
    const int left = g.out_h - band * h;
    return left < h ? left : h;
}

// The row-by-row input load conv_load replaced: one reader and one loop per band row.
static void ref_load(const uint64_t* ddr, const Cfg::regs& r, const ConvGeom& g, int h, int s,
                     Xin xin) {
    const int t = s / g.n_in, ib = s % g.n_in;
    const int band = t / g.n_blocks;
    const int k = static_cast<int>(r.kernel), stride = static_cast<int>(r.stride);
    const int rows = ref_rows(g, h, band);
    const int first = band * h * stride - static_cast<int>(r.pad);
    const int in_rows = (rows - 1) * stride + k;
    const int src_w = static_cast<int>(r.in_w);
    const int nb = conv_block_channels<Cfg>(r, ib);
    const int row_words = (g.in_w + 7) / 8;
    const bool held = s >= 2 && ((s - 2) / g.n_in) / g.n_blocks == band && (s - 2) % g.n_in == ib;
    for (int i = 0; i < (held ? 0 : nb); ++i) {
        const int ch = ib * Cfg::IN_BLOCK + i;
        for (int rr = 0; rr < in_rows; ++rr) {
            const int row = first + rr;
            const bool inside = row >= 0 && row < g.in_h;
            GfReader in;
            const uint64_t src_row = static_cast<uint64_t>(ch) * r.in_h + (row >> g.up);
            if (inside) in.open(ddr, r.in_off + src_row * src_w, src_w);
            for (int j = 0; j < row_words; ++j) {
                const int left = src_w - (g.up ? 4 : 8) * j;
                const int n = g.up ? (left < 4 ? left : 4) : (left < 8 ? left : 8);
                uint64_t v = 0;
                if (inside) v = g.up ? conv_spread(in.take(n)) : in.take(n);
                std::memcpy(&xin[i][rr][8 * j], &v, 8);
            }
        }
    }
}

static std::string check(const std::vector<int>& a, long& steps, long& n_opens, long& n_words,
                         long& n_block_opens) {
    Cfg::regs r{};
    r.in_c = a[0], r.in_h = a[1], r.in_w = a[2], r.out_c = a[3];
    r.kernel = a[4], r.stride = a[5], r.pad = a[6];
    r.flags = a[7] << GF_CONV_UPSAMPLE | a[8] << GF_CONV_POOL;
    const uint64_t x_bytes = static_cast<uint64_t>(r.in_c) * r.in_h * r.in_w;
    r.in_off = a[9];
    r.w_off = ((r.in_off + x_bytes + 7) & ~7ull) + 8;
    r.bias_off = r.w_off + conv_weight_bytes<Cfg>(r) + 8;
    r.mult_off = r.bias_off + 4 * r.out_c;
    r.shift_off = r.mult_off + 4 * r.out_c;
    r.out_off = r.shift_off + r.out_c;
    const ConvGeom g0 = conv_geom<Cfg>(r);
    const uint64_t bytes = r.out_off + static_cast<uint64_t>(r.out_c) * g0.out_h * g0.out_w + 16;
    std::vector<uint64_t> ddr((bytes + 7) / 8);
    std::mt19937_64 rng(bytes * 7919 + r.in_off);
    for (uint64_t& w : ddr) w = rng();
    const int status = conv_check<Cfg>(r, ddr.size() * 8);
    const int h = ref_band_height(r);
    if (h == 0) return status == GF_STATUS_PARAM ? "ok refused" : "FAIL not refused";
    if (status != GF_STATUS_OK) return "refused " + std::to_string(status);
    const ConvGeom g = conv_geom<Cfg>(r);
    const int n_bands = (g.out_h + h - 1) / h;
    if (g.n_steps != n_bands * g.n_blocks * g.n_in)
        return "FAIL " + std::to_string(g.n_steps) + " steps, want " +
               std::to_string(n_bands * g.n_blocks * g.n_in);
    probe::lo = r.in_off, probe::hi = r.in_off + x_bytes;
    auto got = std::make_unique<ConvBuffers<Cfg>>();
    auto want = std::make_unique<ConvBuffers<Cfg>>();
    std::memset(static_cast<void*>(got.get()), 0x5A, sizeof(ConvBuffers<Cfg>));
    std::memset(static_cast<void*>(want.get()), 0x5A, sizeof(ConvBuffers<Cfg>));
    const int src_w = static_cast<int>(r.in_w), row_words = (g.in_w + 7) / 8;
    for (int s = 0; s < g.n_steps; ++s) {
        const int P = s & 1;
        ConvBuffers<Cfg>& b = *got;
        probe::opens.clear();
        conv_load<Cfg>(ddr.data(), r, g, s, b.xin[P], b.w[P], b.bias[P], b.mult[P], b.rmult[P],
                       b.shift[P], b.res[P]);
        ref_load(ddr.data(), r, g, h, s, want->xin[P]);
        const std::string at = " step " + std::to_string(s);
        for (int i = 0; i < Cfg::IN_BLOCK; ++i)
            for (int rr = 0; rr < Cfg::IN_ROWS; ++rr)
                for (int j = 0; j < Cfg::ROW_WORDS; ++j) {
                    const int cols = g.in_w - 8 * j;  // meaningful bytes of a written word
                    const uint64_t mask = j < row_words ? gf_byte_mask(cols) : ~0ull;
                    if ((xin_word(got->xin[P][i][rr], j) ^ xin_word(want->xin[P][i][rr], j)) &
                        mask)
                        return "FAIL xin channel " + std::to_string(i) + " row " +
                               std::to_string(rr) + " word " + std::to_string(j) + at;
                }
        // The reads the step should make: per channel, the source rows of the inside band rows.
        const int t = s / g.n_in, ib = s % g.n_in, band = t / g.n_blocks;
        const int rows = ref_rows(g, h, band);
        const int stride = static_cast<int>(r.stride);
        const int first = band * h * stride - static_cast<int>(r.pad);
        const int in_rows = (rows - 1) * stride + static_cast<int>(r.kernel);
        int a0 = -1, a1 = -1;  // first and last source row needed
        for (int rr = 0; rr < in_rows; ++rr) {
            const int row = first + rr;
            if (row < 0 || row >= g.in_h) continue;
            if (a0 < 0) a0 = row >> g.up;
            a1 = row >> g.up;
        }
        const bool held =
            s >= 2 && ((s - 2) / g.n_in) / g.n_blocks == band && (s - 2) % g.n_in == ib;
        const int nb = conv_block_channels<Cfg>(r, ib);
        // Every source row: the block's channels, consecutive in CHW, are one span.
        const bool whole = a0 == 0 && a1 == static_cast<int>(r.in_h) - 1;
        const int per_open = whole ? nb : 1;  // channels one open spans
        const size_t expect = held || a0 < 0 ? 0 : whole ? 1 : nb;
        if (probe::opens.size() != expect)
            return "FAIL " + std::to_string(probe::opens.size()) + " opens, want " +
                   std::to_string(expect) + at;
        for (size_t i = 0; i < expect; ++i) {
            const probe::Open& o = probe::opens[i];
            const uint64_t ch = static_cast<uint64_t>(ib) * Cfg::IN_BLOCK + i;
            const uint64_t start = r.in_off + (ch * r.in_h + a0) * src_w;
            const uint64_t n = static_cast<uint64_t>(per_open) * (a1 - a0 + 1) * src_w;
            const std::string of = " open " + std::to_string(i) + at;
            if (o.start != start || o.bytes != n) return "FAIL span" + of;
            std::vector<uint64_t> words;
            for (uint64_t w = start >> 3; w <= (start + n - 1) >> 3; ++w) words.push_back(w);
            if (o.words != words) return "FAIL words read" + of;
            if (o.takes != static_cast<long>(per_open) * (a1 - a0 + 1) * row_words)
                return "FAIL takes" + of;
            n_words += static_cast<long>(words.size());
        }
        n_opens += static_cast<long>(expect);
        if (whole) n_block_opens += static_cast<long>(expect);
        ++steps;
    }
    return "ok";
}

int main() {
    std::vector<int> a(10);
    while (std::scanf("%d %d %d %d %d %d %d %d %d %d", &a[0], &a[1], &a[2], &a[3], &a[4], &a[5],
                      &a[6], &a[7], &a[8], &a[9]) == 10) {
        long steps = 0, opens = 0, words = 0, block_opens = 0;
        const std::string result = check(a, steps, opens, words, block_opens);
        if (result == "ok")
            std::printf("ok %ld %ld %ld %ld\n", steps, opens, words, block_opens);
        else
            std::printf("%s\n", result.c_str());
    }
    return 0;
}
