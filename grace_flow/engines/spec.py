"""Engine specs: the capacities and features an engine is generated for, and their checks.

A spec is a plain dict (from workflow.yaml and the program's requirements, or default_spec).
check_spec rejects anything the templates cannot serve with a one-line SpecError, and
engine_constants turns a valid spec into the compile-time constants of <engine>_config.h.
"""

import json
import re
from pathlib import Path

from grace_flow.errors import FlowError
from grace_flow.engines.registers import CONV_FLAGS, MODES

_NAME = re.compile(r"^[A-Za-z0-9_]+$")

#: Largest square kernel the conv engine is generated for (its weight buffers are MAX_K²).
MAX_KERNEL = 13  # FOMM's anti-alias blur at scale 1/4 is 13 × 13
#: Words of a 64-bit BRAM bank that cost no more than one: two BRAM18 side by side, 512 × 36.
BRAM_BANK_DEPTH = 512

_DEFAULTS = {
    "conv": {
        "max_in_channels": 128,
        "max_out_channels": 128,
        "max_width": 64,
        "kernel_sizes": [1, 3, 5, 7],
        "strides": [1, 2],
        "unroll_in": 4,
        "unroll_out": 4,
        # Two int8 MACs per DSP48E1 (kernels/dsp_pack.h), or 1: one per DSP.
        "macs_per_dsp": 2,
        "in_block": 16,
        "tile_rows": 2,
        # Output columns a tile's requantization finishes per cycle (1 or 2: the DSPs of a
        # requant lane each; docs/engines.md §2).
        "requant_lanes": 1,
        "features": ["relu", "pool", "upsample", "residual"],
    },
    "grid_sample": {"max_channels": 128, "max_width": 64, "band_rows": 8, "unroll_channels": 4},
    "upsample": {"max_width": 256, "modes": ["map", "field"]},
    "elementwise": {
        "max_channels": 64,
        "max_width": 256,
        "modes": ["affine", "table", "mul_map", "softmax"],
    },
    "keypoint": {"max_kp": 32, "modes": ["heatmap", "sparse", "deform"]},
}


#: Capacity → the unroll factor that must divide it (an auto capacity is rounded up to one).
UNROLLED_CAPACITIES = {("conv", "max_in_channels"): "unroll_in",
                       ("conv", "max_out_channels"): "unroll_out",
                       ("grid_sample", "max_channels"): "unroll_channels"}


def round_to_unroll(engine: str, spec: dict, keys) -> None:
    """Round each capacity of ``spec`` named in ``keys`` up to a multiple of its unroll factor
    (in place): how an auto capacity is sized."""
    for (name, key), unroll in UNROLLED_CAPACITIES.items():
        if name == engine and key in keys:
            spec[key] = -(-spec[key] // spec[unroll]) * spec[unroll]


class SpecError(FlowError):
    """An engine spec the templates cannot serve."""


def default_spec(engine: str) -> dict:
    """A sensible spec for ``engine`` (a fresh copy), sized for the default 64×64 decoder."""
    if engine not in _DEFAULTS:
        raise SpecError(f"unknown engine {engine!r}; engines: {', '.join(_DEFAULTS)}")
    return {key: list(value) if isinstance(value, list) else value
            for key, value in _DEFAULTS[engine].items()}


def _count(engine: str, spec: dict, key: str, low: int, high: int) -> int:
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SpecError(
            f"{engine} spec: {key} must be an integer in [{low}, {high}], got {value!r}"
        )
    return value


def _names(engine: str, spec: dict, key: str, allowed) -> list[str]:
    value = spec[key]
    if not isinstance(value, list) or not value:
        raise SpecError(f"{engine} spec: {key} must be a non-empty list, got {value!r}")
    for name in value:
        if not isinstance(name, str) or not _NAME.match(name):
            raise SpecError(f"{engine} spec: {key} entry {name!r} is not a [A-Za-z0-9_] name")
        if name not in allowed:
            raise SpecError(
                f"{engine} spec: {key} entry {name!r} unknown; use {', '.join(allowed)}"
            )
    return value


def _sizes(engine: str, spec: dict, key: str, high: int) -> list[int]:
    value = spec[key]
    if not isinstance(value, list) or not value or any(
        isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= high for v in value
    ):
        raise SpecError(f"{engine} spec: {key} must be a non-empty list of integers in [1, {high}]")
    return value


def _divides(engine: str, spec: dict, unroll: str, total: str) -> None:
    if spec[total] % spec[unroll]:
        raise SpecError(
            f"{engine} spec: {unroll} {spec[unroll]} does not divide {total} {spec[total]}"
        )


def check_spec(engine: str, spec: dict) -> None:
    """Raise SpecError unless ``spec`` has exactly the keys of ``engine`` with servable values."""
    expected = default_spec(engine).keys()
    if not isinstance(spec, dict):
        raise SpecError(f"{engine} spec must be a mapping, got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(expected), key=str)
    if unknown:
        raise SpecError(f"{engine} spec: unknown key {unknown[0]!r}")
    missing = [key for key in expected if key not in spec]
    if missing:
        raise SpecError(f"{engine} spec: missing key {missing[0]!r}")
    if engine == "conv":
        for key in ("max_in_channels", "max_out_channels"):
            _count(engine, spec, key, 1, 4096)
        _count(engine, spec, "max_width", 1, 4096)
        _sizes(engine, spec, "kernel_sizes", MAX_KERNEL)
        _sizes(engine, spec, "strides", 4)
        _count(engine, spec, "unroll_in", 1, 64)
        _count(engine, spec, "unroll_out", 1, 64)
        _count(engine, spec, "macs_per_dsp", 1, 2)
        _count(engine, spec, "in_block", 1, 4096)
        _count(engine, spec, "tile_rows", 1, 64)
        _count(engine, spec, "requant_lanes", 1, 2)
        features = _names(engine, spec, "features", list(CONV_FLAGS))
        _divides(engine, spec, "unroll_in", "max_in_channels")
        _divides(engine, spec, "unroll_out", "max_out_channels")
        if "pool" in features and spec["tile_rows"] % 2:
            raise SpecError(f"conv spec: tile_rows {spec['tile_rows']} must be even with pool")
    elif engine == "grid_sample":
        _count(engine, spec, "max_channels", 1, 4096)
        _count(engine, spec, "max_width", 2, 4096)
        _count(engine, spec, "band_rows", 2, 256)
        _count(engine, spec, "unroll_channels", 1, 64)
        _divides(engine, spec, "unroll_channels", "max_channels")
    elif engine == "upsample":
        _count(engine, spec, "max_width", 1, 2048)
        _names(engine, spec, "modes", list(MODES[engine]))
    elif engine == "elementwise":
        _count(engine, spec, "max_channels", 1, 256)
        _count(engine, spec, "max_width", 1, 4096)
        _names(engine, spec, "modes", list(MODES[engine]))
    else:
        _count(engine, spec, "max_kp", 1, 255)
        _names(engine, spec, "modes", list(MODES[engine]))


def conv_in_rows(spec: dict) -> int:
    """Rows of the conv engine's input band (IN_ROWS): enough for the largest kernel's one
    output row, and for tile_rows output rows of a 3 × 3 stride-1 layer (nearly all of a
    decoder's MACs), whichever is more. A larger kernel or stride gets fewer rows per band
    (:func:`conv_band_rows`) instead of every band being sized for it."""
    return max(max(spec["kernel_sizes"]), spec["tile_rows"] + 2)


def conv_band_rows(spec: dict, kernel: int, stride: int, pool: bool) -> int:
    """Output rows of a band of a conv instruction (conv_geom's g.rows): the most whose
    (rows − 1) · stride + kernel input rows the band holds, at most tile_rows, rounded down to
    even with pool (0 then when not even 2 fit: the engine refuses the instruction, PARAM)."""
    rows = min(spec["tile_rows"], (conv_in_rows(spec) - kernel) // stride + 1)
    return rows - rows % 2 if pool else rows


def conv_bandless(spec: dict, instructions):
    """The first conv instruction of ``instructions`` that gets no band rows from ``spec`` (a
    pooled one whose kernel and stride leave no room for two), or None."""
    for ins in instructions:
        r = ins.registers
        if ins.engine == "conv" and not conv_band_rows(
                spec, r["kernel"], r["stride"], bool(r["flags"] >> CONV_FLAGS["pool"] & 1)):
            return ins
    return None


def engine_constants(engine: str, spec: dict) -> dict[str, int]:
    """The Cfg constants of <engine>_config.h for a checked spec (name → integer)."""
    if engine == "conv":
        max_k = max(spec["kernel_sizes"])
        features = spec["features"]
        # Input channels buffered per step: in_block rounded up to whole unroll_in groups,
        # never more than an instruction can have (max_in_channels is a multiple too).
        in_block = min(-(-spec["in_block"] // spec["unroll_in"]) * spec["unroll_in"],
                       spec["max_in_channels"])
        entries = max_k * max_k * (in_block // spec["unroll_in"])
        entry_words = -(-spec["unroll_in"] * spec["unroll_out"] // 8)
        # A pass reads its entry in W_READS cycles, W_BANKS words at a time: as many words of an
        # entry per bank as fill a bank's BRAM_BANK_DEPTH (a pass lasts its band's pixels, so a
        # few cycles of reading cost little; fewer banks cost much less BRAM).
        banks = -(-entry_words // min(entry_words, max(1, BRAM_BANK_DEPTH // entries)))
        return {
            "MAX_IN_C": spec["max_in_channels"],
            "MAX_OUT_C": spec["max_out_channels"],
            "MAX_W": spec["max_width"],
            # 64-bit words of the widest row as read (input band, residual and output rows).
            "ROW_WORDS": -(-spec["max_width"] // 8),
            # The input band's row in bytes (a whole number of words: one memory word each).
            "ROW_BYTES": 8 * -(-spec["max_width"] // 8),
            "MAX_K": max_k,
            "KK": max_k * max_k,
            # The input band's rows (conv_in_rows): a band's output rows follow from them per
            # instruction (conv_geom).
            "IN_ROWS": conv_in_rows(spec),
            "KERNEL_MASK": sum(1 << k for k in set(spec["kernel_sizes"])),
            "STRIDE_MASK": sum(1 << s for s in set(spec["strides"])),
            "UNROLL_IN": spec["unroll_in"],
            "UNROLL_OUT": spec["unroll_out"],
            "MACS_PER_DSP": spec["macs_per_dsp"],
            "IN_BLOCK": in_block,
            # The weight buffer (engines/conv_weights.py): an entry per pass of a step (KK taps
            # × the block's unroll_in groups), each a pass's unroll_in × unroll_out weight
            # bytes in whole 64-bit words, in W_BANKS banks (word e in bank e mod W_BANKS).
            "W_ENTRIES": entries,
            "W_ENTRY_WORDS": entry_words,
            "W_BANKS": banks,
            "W_READS": -(-entry_words // banks),
            "TILE_ROWS": spec["tile_rows"],
            # Columns of one output channel requantized per cycle (the accumulator's columns
            # are split cyclic by it so that each lane reads its own bank).
            "REQUANT_LANES": spec["requant_lanes"],
            **{f"HAS_{name.upper()}": int(name in features) for name in CONV_FLAGS},
        }
    if engine == "grid_sample":
        return {
            "MAX_C": spec["max_channels"],
            "MAX_W": spec["max_width"],
            "BAND_ROWS": spec["band_rows"],
            "UNROLL_C": spec["unroll_channels"],
        }
    modes = {f"HAS_{name.upper()}": int(name in spec["modes"]) for name in MODES[engine]}
    if engine == "upsample":
        return {"MAX_W": spec["max_width"], **modes}
    if engine == "elementwise":
        return {"MAX_C": spec["max_channels"], "MAX_W": spec["max_width"], **modes}
    return {"MAX_KP": spec["max_kp"], **modes}


def read_spec(engine: str, spec_path) -> dict:
    """The checked spec of ``engine`` in ``spec_path``; a one-line SpecError naming the file."""
    spec_path = Path(spec_path)
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{spec_path}: spec file missing; run the compile stage first") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        reason = str(error).splitlines()[0]
        raise SpecError(f"{spec_path}: not a JSON spec ({reason})") from None
    try:
        check_spec(engine, spec)
    except SpecError as error:
        raise SpecError(f"{spec_path}: {error}") from None
    return spec
