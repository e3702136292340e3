"""Cycles, DDR bytes and MACs of one engine instruction, modelled on the loops of kernels/*.h.

Every engine reaches DDR through one m_axi port: conv's is 64-bit (``uint64_t* ddr``, 8 bytes per
beat, grace_ddr.h), the others' int8 (``int8_t* ddr``). A pipelined loop moves ``port_bytes``
bytes per cycle on the read channel and as many on the write channel (AXI reads and writes are
separate channels): ENGINE_PORT_BYTES as the kernels are written, or a what-if width. The first beat of every entry
into a pipelined loop that touches DDR waits the DDR read latency (``DDR_LATENCY_NS``). A loop
that issues several accesses per iteration on one channel has II = that count (HLS schedules
conditional accesses too). conv overlaps load, compute and store per tile (its DATAFLOW stages);
the other engines run their loops one after the other. docs/estimate.md lists every constant.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from grace_flow.engines.registers import REGISTERS
from grace_flow.engines.spec import conv_band_rows, engine_constants
from grace_flow.perf.board import Board

#: DDR read latency through an HP port (address to first data); an assumption, not measured.
DDR_LATENCY_NS = 250.0
#: Bytes per cycle per channel of an engine's m_axi port as the kernels are written (the
#: engines not listed move one byte per cycle).
KERNEL_PORT_BYTES = 1
ENGINE_PORT_BYTES = {"conv": 8}
#: Words a GfReader reads before its first take (grace_ddr.h: the two under the start).
READER_PRIME = 2
#: Cycles of ap_start/ap_done handshaking and the capacity check per instruction.
INSTRUCTION_OVERHEAD = 50
#: conv: cycles the requantization's pipeline takes to fill, per output row (64-bit product,
#: round, saturate); a row then finishes requant_lanes columns per cycle.
REQUANT_CYCLES = 8
#: conv: DATAFLOW stage start/finish synchronisation per tile.
STAGE_SYNC = 4
#: Sequential 64-bit division (softmax reciprocal): one quotient bit per cycle plus set-up.
DIVIDE_CYCLES = 68


@dataclass(frozen=True)
class Cost:
    """Modelled cost of one instruction: cycles, DDR bytes moved (read + written), int8 MACs,
    and of those bytes the weights read (conv)."""

    cycles: int
    ddr_bytes: int
    macs: int = 0
    weight_bytes: int = 0


def latency_cycles(board: Board, clock_mhz: float | None) -> int:
    """The DDR read latency in cycles of the PL clock."""
    return math.ceil(DDR_LATENCY_NS * board.pl_clock_mhz(clock_mhz) / 1000)


def port_bytes_per_cycle(board: Board, clock_mhz: float | None, port_bytes: int) -> float:
    """Bytes per cycle one port channel moves: the kernel's width, at most the HP port's and
    the DDR peak's share per cycle."""
    mhz = board.pl_clock_mhz(clock_mhz)
    hp = board.memory.hp_ports.width_bits / 8
    return min(port_bytes, hp, board.ddr_peak_bytes_per_s / (mhz * 1e6))


#: Byte counts an engine forms per instruction with grace_numerics.h's shift-and-add
#: gf_mul_serial (its checks and plane sizes; the most any mode calls), 32 cycles each.
SERIAL_PRODUCTS = {"grid_sample": 4, "upsample": 4, "elementwise": 3, "keypoint": 4}
SERIAL_PRODUCT_CYCLES = 32


def instruction_cost(ins, spec: dict, board: Board, clock_mhz: float | None = None,
                     port_bytes: int | None = None) -> Cost:
    """The modelled :class:`Cost` of instruction ``ins`` on an engine built for ``spec``;
    ``port_bytes`` None is the engine's port as written (ENGINE_PORT_BYTES), a number a what-if."""
    if port_bytes is None:
        port_bytes = ENGINE_PORT_BYTES.get(ins.engine, KERNEL_PORT_BYTES)
    lat = latency_cycles(board, clock_mhz)
    beat = port_bytes_per_cycle(board, clock_mhz, port_bytes)
    # An absent register is 0, as on the device and in C-sim.
    registers = {reg.name: ins.registers.get(reg.name, 0) for reg in REGISTERS[ins.engine]}
    cost = _MODELS[ins.engine](registers, spec, lat, lambda n: math.ceil(n / beat))
    checks = SERIAL_PRODUCTS.get(ins.engine, 0) * SERIAL_PRODUCT_CYCLES
    return Cost(cost.cycles + checks + INSTRUCTION_OVERHEAD, cost.ddr_bytes, cost.macs,
                cost.weight_bytes)


def _classes(total: int, block: int) -> list[tuple[int, int, int]]:
    """Blocks of ``total`` items in blocks of ``block``: (index of the first, size, count)."""
    full, rem = divmod(total, block)
    out = [(0, block, 1)] if full else []
    if full > 1:
        out.append((1, block, 1))
    if full > 2:
        out.append((2, block, full - 2))
    if rem:
        out.append((full, rem, 1))
    return out


def _band_iterations(in_rows: int, up: int, row_words: int) -> int:
    """Iterations of conv_load's loop over one channel's band (one DDR span, one loop entry): a
    word per band row and word, or under upsample a word per source row and word (it fills the
    one or two band rows that repeat the source row). Exact without upsample; under upsample
    exact or one row over for interior bands, and an edge band's padding rows (a row slot each)
    can add a row or two."""
    return ((in_rows + 1) // 2 + 1 if up else in_rows) * row_words


def _whole_image(first: int, in_rows: int, ih: int, up: int) -> bool:
    """Whether a band of ``in_rows`` rows from row ``first`` (of ``ih`` as read) needs every
    source row: conv_load then reads its input block as one span (one DDR latency and reader
    prime per block, not per channel)."""
    lo, hi = max(first, 0), min(first + in_rows, ih)
    return hi > lo and lo >> up == 0 and (hi - 1) >> up == (ih >> up) - 1


def _bands(out_h: int, band_rows: int, k: int, s: int, p: int, ih: int, up: int) -> Counter:
    """conv_run's bands as (output rows, whole image) → count. Only a band whose first row is
    at most ``up`` (the image's first source row) can be whole, so only those few are looked
    at."""
    full, short = divmod(out_h, band_rows)
    bands = Counter({(band_rows, False): full})
    if short:
        bands[short, False] += 1
    for row0 in range(0, min(out_h, (p + up) // s + 1), band_rows):
        rows = min(band_rows, out_h - row0)
        if _whole_image(row0 * s - p, (rows - 1) * s + k, ih, up):
            bands[rows, False] -= 1
            bands[rows, True] += 1
    return bands


def _conv(r: dict, spec: dict, lat: int, move) -> Cost:
    """conv_run's step pipeline: per (band, output block, input block) step
    max(load, compute, store) + STAGE_SYNC (its DATAFLOW stages); a band has the instruction's
    rows (conv_band_rows: at most tile_rows, fewer for a kernel or stride the band cannot hold
    tile_rows of). A step's input band is one DDR burst per channel, or one per input block
    when the band needs every source row (_whole_image)."""
    flags = r["flags"]
    pool, up, residual = (flags >> 1) & 1, (flags >> 2) & 1, (flags >> 3) & 1
    in_c, out_c, k, s, p = r["in_c"], r["out_c"], r["kernel"], r["stride"], r["pad"]
    ih, iw = r["in_h"] << up, r["in_w"] << up
    out_h, out_w = (ih + 2 * p - k) // s + 1, (iw + 2 * p - k) // s + 1
    store_w = out_w // 2 if pool else out_w
    ui, uo = spec["unroll_in"], spec["unroll_out"]
    band_rows = conv_band_rows(spec, k, s, bool(pool))
    constants = engine_constants("conv", spec)
    block, entry_words = constants["IN_BLOCK"], constants["W_ENTRY_WORDS"]
    w_reads, lanes = constants["W_READS"], constants["REQUANT_LANES"]
    depth = 4 + math.ceil(math.log2(ui))  # BRAM read, multiply, adder tree, accumulate
    kk = k * k
    row_words, out_words, store_words = (math.ceil(n / 8) for n in (iw, out_w, store_w))
    n_in = math.ceil(in_c / block)
    # Input blocks as (first, last, channels, count).
    if n_in == 1:
        in_blocks = [(True, True, in_c, 1)]
    else:
        in_blocks = [(True, False, block, 1), (False, True, in_c - (n_in - 1) * block, 1)]
        if n_in > 2:
            in_blocks.insert(1, (False, False, block, n_in - 2))
    cycles = bytes_moved = weight_bytes = 0
    for (rows, whole), n_bands in _bands(out_h, band_rows, k, s, p, ih, up).items():
        if n_bands == 0:
            continue
        in_rows = (rows - 1) * s + k
        band_words = _band_iterations(in_rows, up, row_words)
        stored_rows = rows // 2 if pool else rows
        pixels = rows * out_w
        for b_index, ch, count in _classes(out_c, uo):
            for first, last, nb, n in in_blocks:
                # A copy holds the band and input block of step s − 2 (docs/engines.md §2).
                loads = n_in > 2 or (b_index == 0 if n_in == 2 else b_index < 2)
                groups = math.ceil(nb / ui)
                # The step's weights: one burst of k² · groups entries, a word per cycle.
                w_words = kk * groups * entry_words
                # The input band: per channel, or per block for a whole-image band, one
                # latency and reader prime, then a word per iteration.
                opens = 1 if whole else nb
                load = (loads * (opens * (lat + READER_PRIME) + nb * band_words)
                        + lat + READER_PRIME + w_words
                        + first * (lat + ch)
                        + last * (lat + ch + residual * ch * (
                            lat + READER_PRIME + rows * out_words)))
                # A pass: its weight entry read in w_reads cycles, then its pixels.
                compute = kk * groups * (w_reads + pixels + depth)
                compute += last * ch * rows * (math.ceil(out_w / lanes) + REQUANT_CYCLES)
                store = last * ch * (lat + READER_PRIME + stored_rows * store_words)
                steps = n_bands * count * n
                cycles += steps * (max(load, compute, store) + STAGE_SYNC)
                weight_bytes += steps * 8 * w_words
                bytes_moved += steps * (
                    loads * nb * in_rows * r["in_w"] + 8 * w_words + first * 4 * ch
                    + last * ch * (5 + 4 * residual + residual * rows * out_w
                                   + stored_rows * store_w))
    # Pipeline fill (the first step's load) and drain (the last tile's store).
    first_block = min(in_c, block)
    first_rows = (min(band_rows, out_h) - 1) * s + k
    first_opens = 1 if _whole_image(-p, first_rows, ih, up) else first_block
    cycles += (first_opens * (lat + READER_PRIME)
               + first_block * _band_iterations(first_rows, up, row_words)
               + min(uo, out_c) * (lat + READER_PRIME + band_rows * store_words))
    return Cost(cycles, bytes_moved, out_h * out_w * out_c * in_c * k * k, weight_bytes)


def _grid_sample(r: dict, spec: dict, lat: int, move) -> Cost:
    c, in_h, in_w, out_h, out_w = (r[k] for k in ("channels", "in_h", "in_w", "out_h", "out_w"))
    band, lanes = spec["band_rows"], spec["unroll_channels"]
    top_max = max(in_h - band, 0)
    cycles = loaded = 0
    band_top = -band
    for ho in range(out_h):  # the band slides as in grid_sample_run
        top = min(max((2 * ho + 1) * in_h // (2 * out_h) - band // 2, 0), top_max)
        if top != band_top:
            gained = min(top + band, in_h) - max(top, band_top + band)
            if gained > 0:
                loaded += c * gained * in_w
                cycles += lat + move(c * gained * in_w)
            band_top = top
    # Per pixel: the grid point (4 byte reads, one DDR latency), weights, then ceil(C/U)
    # iterations at II = 4 · U: four conditional DDR-fallback corner reads per lane share the
    # read channel (corners are assumed to hit the band).
    # (+2: the coordinate scalings and the corner row's product share one multiplier.)
    per_pixel = lat + 14 + math.ceil(c / lanes) * 4 * lanes
    cycles += out_h * (out_w * per_pixel + lat)  # + write responses drained per row
    pixels = out_h * out_w
    return Cost(cycles, loaded + 4 * pixels + c * pixels, 4 * c * pixels)


def _upsample(r: dict, spec: dict, lat: int, move) -> Cost:
    field = r["mode"] == 1
    comps, size = (2, 2) if field else (1, 1)
    row = r["in_w"] * comps
    # Line load: two taps of `size` bytes per value (II 2·size); output: comps·size writes.
    per_row = 2 * lat + row * 2 * size + r["out_w"] * comps * size
    rows = r["channels"] * r["out_h"]
    return Cost(rows * per_row, rows * (2 * row * size + r["out_w"] * comps * size))


def _elementwise(r: dict, spec: dict, lat: int, move) -> Cost:
    mode, c, h, w = r["mode"], r["channels"], r["height"], r["width"]
    plane = h * w
    if mode == 0:  # affine: per channel 3 parameter loads, then read + write per element
        return Cost(c * (3 * lat + 16 + plane + lat), c * (2 * plane + 13))
    if mode == 1:  # table: 256 entries, then one read and table_bytes writes per element
        size = max(1, r["table_bytes"])
        return Cost(lat + 256 * size + lat + c * plane * size, 256 * size + c * plane * (1 + size))
    if mode == 2:  # mul_map: two reads per element
        return Cost(lat + 2 * c * plane, 3 * c * plane)
    # softmax: per row a line load of every channel, per pixel max, sum, division, C stores
    per_pixel = 2 * c + 2 * c + DIVIDE_CYCLES + 2 * c + lat
    return Cost(lat + 512 + h * (c * (lat + w) + w * per_pixel), 512 + 3 * c * plane)


def _keypoint(r: dict, spec: dict, lat: int, move) -> Cost:
    mode, k, h, w = r["mode"], r["num_kp"], r["height"], r["width"]
    plane = h * w
    if mode == 2:  # deform: per pixel C iterations of 6 byte reads, then 4 bytes written
        c = r["channels"]
        return Cost(plane * (6 * c + lat + 8), plane * (6 * c + 4))
    kp_load = 4 * k * (lat + 4)
    if mode == 1:  # sparse: 4 reads and 4 writes per pixel and motion
        return Cost(kp_load + (k + 1) * (lat + 4 * plane), 8 * k + (k + 1) * 8 * plane)
    table = lat + 2 * 4096
    return Cost(kp_load + table + plane + k * (lat + 4 * plane),
                8 * k + 8192 + plane + k * 5 * plane)


_MODELS = {"conv": _conv, "grid_sample": _grid_sample, "upsample": _upsample,
           "elementwise": _elementwise, "keypoint": _keypoint}
