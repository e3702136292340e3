"""The ``estimate`` toolchain: DSP, BRAM18, LUT and FF of an engine from its spec, without tools.

What the model assumes (docs/estimate.md holds the full table and the calibration):

* DSP48E1: one per int8 × int8 MAC lane, or one per two lanes where the conv spec packs
  (``macs_per_dsp`` 2, kernels/dsp_pack.h: lanes q and q + unroll_out // 2 share a DSP); one
  per product whose operands fit 25 × 18 bits, 2 when one operand is 32 bits wide, 4 for a
  32 × 32 product.
  Plus the runtime index products of the address arithmetic, 1 DSP each (shapes fit 18 bits
  after HLS's bit-width narrowing: an assumption), counted in the kernels; products an
  ALLOCATION limit makes share a multiplier count once, products bound to the fabric as LUT/FF
  (FABRIC_MUL), not DSP.
* BRAM18: every buffer the top template declares, split into the banks its partition pragmas ask
  for; a bank of at most 1 Kbit goes to LUTRAM, a bigger one takes the cheapest 18 Kb aspect
  ratio (16K×1 … 512×36) that holds it. Completely partitioned arrays are registers (FF).
* LUT/FF: ``c0 + c_dsp × DSP + c_maxi × m_axi``, the adapter cost read off public reports and
  the line fitted to real reports (see grace_flow.synth.calibration) with DSP the datapath DSPs (index products carry no
  surrounding logic), plus LUTRAM and register bits of the buffers, plus for a packed MAC array
  the logic dsp_pack.h adds (PACKED_LOGIC: the second weight's select, the separation).

The result is the same record type as :func:`grace_flow.synth.reports.parse_report`, with
``kind`` "estimate" and ``tool`` "grace_flow estimate", so estimates and real reports sit side
by side.
"""

from __future__ import annotations

import math

from grace_flow.engines.spec import check_spec, engine_constants
from grace_flow.perf.board import Board

TOOL = "grace_flow estimate"
#: Bits of one BRAM18 tile and its aspect ratios (port width, depth).
BRAM18_SHAPES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))
#: A bank of at most this many bits is implemented in LUTRAM (HLS's choice for small memories).
LUTRAM_MAX_BITS = 1024
#: LUT and FF = c0 + c_dsp × DSP + c_maxi × (m_axi bundles): c_maxi a measured adapter, c0 and
#: c_dsp grace_flow.synth.calibration's fit (relative least squares; residuals in
#: docs/estimate.md).
LOGIC_COEFFICIENTS = {
    "LUT": {"c0": 901.6, "c_dsp": 98.3, "c_maxi": 1041},
    "FF": {"c0": 373.3, "c_dsp": 115.3, "c_maxi": 1376},
}
#: DSP48E1 per runtime index product (operands narrowed to 18 × 25 bits: an assumption).
INDEX_PRODUCT_DSP = 1
#: A LUT-based multiplier (BIND_OP impl=fabric): the one 7-series LUT figure of the Xilinx
#: Multiplier LogiCORE data sheet (DS255 v11.2, 9 × 9 "Use LUTs", speed optimized: 115 LUT,
#: 110 FF), scaled by the partial-product bits n · m of the product (an assumption).
FABRIC_MUL = {"LUT": 115, "FF": 110}
FABRIC_MUL_BITS = 9 * 9
#: Products one packed DSP chain sums before its two sums are separated (kernels/dsp_pack.h).
PACK_CHAIN = 4
#: Logic a packed MAC array adds beside the fit's per-DSP logic (counted from dsp_pack.h; an
#: assumption until a Vitis report of the packed engine): per packed DSP the second weight's
#: 8-bit 8:1 tap select (16 LUT) and register (8 FF); per lane pair and chain the high sum's
#: sign fix-up (a 31-bit incrementer, 31 LUT, 32 FF of pipeline register) and, past the first
#: chain, the two 32-bit adds of the separated sums into the lanes (64 LUT).
PACKED_LOGIC = {"LUT": {"dsp": 16, "chain": 31, "add": 64}, "FF": {"dsp": 8, "chain": 32, "add": 0}}


def bram18_tiles(words: int, bits: int) -> int:
    """BRAM18 tiles of one memory bank of ``words`` × ``bits`` (0 when it fits LUTRAM)."""
    if words * bits <= LUTRAM_MAX_BITS:
        return 0
    return min(math.ceil(bits / width) * math.ceil(words / depth)
               for width, depth in BRAM18_SHAPES)


def buffers(engine: str, spec: dict) -> list[dict]:
    """The on-chip arrays of ``<engine>_top.cpp.j2`` for ``spec``: name, words per bank, bits,
    banks (partitioned as its pragmas say), and whether complete partitioning makes them FFs."""
    c = engine_constants(engine, spec)

    def array(name, elements, bits, banks, registers=False):
        return {"name": name, "words": elements // banks, "bits": bits, "banks": banks,
                "registers": registers}

    if engine == "conv":
        ui, uo, block = c["UNROLL_IN"], c["UNROLL_OUT"], c["IN_BLOCK"]
        tr, words, lanes = c["TILE_ROWS"], c["ROW_WORDS"], c["REQUANT_LANES"]
        row_pairs = 2 if "pool" in spec["features"] else 1
        return [
            # b.xin: ping-pong × input block split cyclic by UNROLL_IN; 64-bit words of a row.
            array("xin", 2 * block * c["IN_ROWS"] * words, 64, 2 * ui),
            # b.w: ping-pong × an entry per pass of a step × its W_ENTRY_WORDS 64-bit words,
            # complete on the copy and cyclic by W_BANKS on the word: a bank holds W_READS
            # words of each entry.
            {"name": "w", "words": c["W_ENTRIES"] * c["W_READS"], "bits": 64,
             "banks": 2 * c["W_BANKS"], "registers": False},
            array("res", 2 * uo * tr * words, 64, 2),
            array("out", 2 * uo * tr * words, 64, 2 * row_pairs),
            # b.acc: the tile's int32 partial sums, UNROLL_OUT banks, each split cyclic on the
            # column by REQUANT_LANES (a bank the larger half of an odd MAX_W).
            {"name": "acc", "words": tr * -(-c["MAX_W"] // lanes), "bits": 32,
             "banks": uo * lanes, "registers": False},
            # bias, mult, rmult (int32) and shift (uint8), complete: registers.
            array("params", 2 * uo, 32 * 3 + 8, 2 * uo, registers=True),
        ]
    if engine == "grid_sample":
        return [array("band", c["MAX_C"] * c["BAND_ROWS"] * c["MAX_W"], 8, c["UNROLL_C"])]
    if engine == "upsample":
        return [array("lines", 2 * 2 * c["MAX_W"], 16, 2)]
    if engine == "elementwise":
        return [array("table", 256, 16, 1), array("lines", c["MAX_C"] * c["MAX_W"], 8, 1)]
    return [array("kp", 2 * c["MAX_KP"] * 2, 16, 4), array("table", 4096, 16, 1)]


def dsp_count(engine: str, spec: dict) -> dict[str, int]:
    """DSP48E1 of ``engine`` by part: datapath products ("mac"), a multiplier shared by products
    outside the pipelined loops ("shared") and address (index) products ("index"). Products
    bound to the fabric are :func:`fabric_multipliers`, not here."""
    c = engine_constants(engine, spec)
    if engine == "conv":
        ui = c["UNROLL_IN"]
        # REQUANT_LANES requantization lanes (a tile's outputs that many per cycle), each
        # acc × mult (32 × 32: 4 DSP) and residual × rmult (8 × 32: 2 DSP).
        requant = c["REQUANT_LANES"] * (4 + 2 * c["HAS_RESIDUAL"])
        return {"mac": ui * mac_columns(spec), "requant": requant,
                "index": 12 * INDEX_PRODUCT_DSP}
    if engine == "grid_sample":
        # Per lane fy · (bottom − top) (11 × 21 bits); the planes, the slide's first row, the
        # two coordinate scalings and the corner row share one multiplier (ALLOCATION limit 1).
        return {"mac": c["UNROLL_C"], "shared": 1, "index": 0}
    if engine == "upsample":
        # Per component fy · (bottom − top) (8 × 25 bits); every address is a running offset.
        return {"mac": upsample_components(c), "index": 0}
    if engine == "elementwise":
        # One multiplier for the modes' products (one mode at a time), as wide as the widest:
        # affine x × m (8 × 32: 2), mul_map (8 × 8: 1), softmax e × reciprocal (16 × 40: 3).
        widest = max(2 * c["HAS_AFFINE"], c["HAS_MUL_MAP"], 3 * c["HAS_SOFTMAX"])
        return {"shared": widest, "index": 0}
    # heatmap: squared distances (16 × 16: 4) and diff × mult (17 × 32: 2); deform: mask × value
    # (2), on two of the heatmap's multipliers when both are built (ALLOCATION limit 5).
    return {"mac": max(6 * c["HAS_HEATMAP"], 2 * c["HAS_DEFORM"]), "index": 0}


def upsample_components(c: dict) -> int:
    """Lanes of the upsample datapath: a field value's two components, or one map value."""
    return 2 if c["HAS_FIELD"] else 1


def fabric_multipliers(engine: str, spec: dict) -> list[tuple[int, int]]:
    """Operand widths (bits) of the products ``engine``'s kernel binds to LUTs (BIND_OP
    impl=fabric): the 1-D blends' fx products, one per row of corners and lane/component;
    conv's band × band rows (a band's first output row, in conv_load and conv_store) and
    channels × source rows (the rows of an input block's span, conv_load)."""
    c = engine_constants(engine, spec)
    if engine == "conv":
        # band < 2^15, rows ≤ tile_rows ≤ 64; channels ≤ IN_BLOCK, source rows ≤ 2^15
        return [(15, 7)] * 2 + [(c["IN_BLOCK"].bit_length(), 15)]
    if engine == "grid_sample":
        return [(11, 9)] * (2 * c["UNROLL_C"])  # Q11 fraction × corner difference
    if engine == "upsample":
        return [(8, 17)] * (2 * upsample_components(c))  # Q8 fraction × value difference
    return []


def fabric_logic(engine: str, spec: dict) -> dict[str, int]:
    """LUT and FF of ``engine``'s fabric multipliers (FABRIC_MUL scaled by n · m bits)."""
    bits = sum(n * m for n, m in fabric_multipliers(engine, spec))
    return {key: round(cost * bits / FABRIC_MUL_BITS) for key, cost in FABRIC_MUL.items()}


def mac_columns(spec: dict) -> int:
    """DSP48E1 per input lane of a conv spec's MAC array: one per output lane, or with two MACs
    per DSP one per output-lane pair (an odd last lane has its own, dsp_pack.h's gf_mac)."""
    uo = spec["unroll_out"]
    return -(-uo // 2) if spec["macs_per_dsp"] == 2 else uo


def packed_logic(spec: dict) -> dict[str, int]:
    """LUT and FF that packing adds to a conv spec's MAC array (PACKED_LOGIC; 0 unpacked)."""
    if spec["macs_per_dsp"] != 2:
        return {"LUT": 0, "FF": 0}
    ui, pairs = spec["unroll_in"], spec["unroll_out"] // 2
    chains = -(-ui // PACK_CHAIN)
    return {key: ui * pairs * cost["dsp"] + pairs * (chains * cost["chain"]
                                                     + (chains - 1) * cost["add"])
            for key, cost in PACKED_LOGIC.items()}


def mac_lanes(engine: str, spec: dict) -> int:
    """int8 MACs the engine can do per cycle (conv only; 0 for the other engines)."""
    return spec["unroll_in"] * spec["unroll_out"] if engine == "conv" else 0


def engine_resources(engine: str, spec: dict) -> dict[str, int]:
    """LUT, FF, BRAM18 and DSP of ``engine`` built for ``spec`` (checked first)."""
    check_spec(engine, spec)
    parts = dsp_count(engine, spec)
    dsp = sum(parts.values())
    datapath = dsp - parts["index"]
    bram = lutram_luts = register_bits = 0
    for buf in buffers(engine, spec):
        if buf["registers"]:
            register_bits += buf["words"] * buf["bits"] * buf["banks"]
            continue
        tiles = bram18_tiles(buf["words"], buf["bits"])
        bram += tiles * buf["banks"]
        if tiles == 0:  # LUTRAM: one 64 × 1 LUT per 64 bits, two ports → twice
            lutram_luts += 2 * math.ceil(buf["words"] * buf["bits"] / 64) * buf["banks"]
    lut, ff = (LOGIC_COEFFICIENTS[key] for key in ("LUT", "FF"))
    packing = packed_logic(spec) if engine == "conv" else {"LUT": 0, "FF": 0}
    fabric = fabric_logic(engine, spec)
    return {
        "LUT": round(lut["c0"] + lut["c_dsp"] * datapath + lut["c_maxi"]) + lutram_luts
        + packing["LUT"] + fabric["LUT"],
        "FF": round(ff["c0"] + ff["c_dsp"] * datapath + ff["c_maxi"]) + register_bits
        + packing["FF"] + fabric["FF"],
        "BRAM18": bram,
        "DSP": dsp,
    }


def estimate_engine(engine: str, spec: dict, board: Board, clock_mhz: float | None = None,
                    instructions: list | None = None) -> dict:
    """The estimate record of one engine: resources, clock, and (given its ``instructions``)
    latency_cycles {min, max} over them; same keys as a parsed csynth report."""
    from grace_flow.perf.cycles import instruction_cost

    clock_ns = board.clock_ns(clock_mhz)
    record = {
        "kind": "estimate",
        "tool": TOOL,
        "tool_version": "1",
        "toolchain": "estimate",
        "part": board.part,
        "top": f"{engine}_top",
        "resources": {**engine_resources(engine, spec),
                      "available": board.resources.model_dump()},
        "clock_ns": {"target": clock_ns},
        "source": {"file": None, "kind": "estimate"},
        "assumptions": "modeled: see docs/estimate.md",
    }
    mine = [ins for ins in instructions or [] if ins.engine == engine]
    if mine:
        cycles = [instruction_cost(ins, spec, board, clock_mhz).cycles for ins in mine]
        record["latency_cycles"] = {"min": min(cycles), "max": max(cycles)}
    return record
