"""The register interface of every engine: the one table that templates and bindings share.

Each register is a 32-bit s_axilite scalar of the engine's top function, in this order; the C-sim
entry point receives them as a uint32 array in the same order. Offsets are byte offsets into the
one DDR space (the m_axi port). docs/engines.md describes the operands behind each offset.
"""

from typing import NamedTuple


class Register(NamedTuple):
    """One 32-bit control register: C++ identifier and meaning."""

    name: str
    doc: str


def _regs(*pairs: tuple[str, str]) -> tuple[Register, ...]:
    return tuple(Register(name, doc) for name, doc in pairs)


#: Bits of the conv `flags` register.
CONV_FLAGS = {"relu": 0, "pool": 1, "upsample": 2, "residual": 3}

#: `mode` values of the multi-op engines.
MODES = {
    "upsample": {"map": 0, "field": 1},
    "elementwise": {"affine": 0, "table": 1, "mul_map": 2, "softmax": 3},
    "keypoint": {"heatmap": 0, "sparse": 1, "deform": 2},
}

#: Return value of <engine>_top and <engine>_csim; nothing is written unless it is 0.
STATUS = {
    0: ("OK", "done"),
    1: ("SHAPE", "a shape register is 0 or beyond the capacity this engine was built for"),
    2: ("PARAM", "kernel, stride, padding, mode or a parameter register is not supported"),
    3: ("FEATURE", "a flag asks for a feature this engine was built without"),
    4: ("BOUNDS", "an operand lies outside the DDR buffer"),
}

REGISTERS: dict[str, tuple[Register, ...]] = {
    "conv": _regs(
        ("in_off", "input x int8 [in_c, in_h, in_w]"),
        ("out_off", "output int8 [out_c, Ho, Wo] (halved by pool)"),
        ("w_off", "weights int8 in the folding order, a span per step (engines/conv_weights.py)"),
        ("bias_off", "bias int32 [out_c]"),
        ("mult_off", "multiplier int32 [out_c] (ma with residual)"),
        ("shift_off", "shift uint8 [out_c]"),
        ("res_off", "residual int8 [out_c, Ho, Wo], read when flags.residual"),
        ("res_mult_off", "residual multiplier mr int32 [out_c], read when flags.residual"),
        ("in_c", "input channels"),
        ("in_h", "input height (before upsample)"),
        ("in_w", "input width (before upsample)"),
        ("out_c", "output channels"),
        ("kernel", "kernel size k (k x k)"),
        ("stride", "stride"),
        ("pad", "zero padding on each side, 2 * pad < kernel"),
        ("flags", "bit 0 relu, 1 pool on store, 2 upsample on load, 3 residual add"),
    ),
    "grid_sample": _regs(
        ("in_off", "source int8 [channels, in_h, in_w]"),
        ("grid_off", "grid int16 Q2.13 [out_h, out_w, 2] as (x, y)"),
        ("out_off", "output int8 [channels, out_h, out_w]"),
        ("channels", "channels"),
        ("in_h", "source height"),
        ("in_w", "source width"),
        ("out_h", "output height"),
        ("out_w", "output width"),
    ),
    "upsample": _regs(
        ("mode", "0 map (uint8 Q8), 1 field (int16 Q2.13 pairs)"),
        ("in_off", "map uint8 [channels, in_h, in_w] or field int16 [channels, in_h, in_w, 2]"),
        ("out_off", "output: same type, [channels, out_h, out_w] (field: [..., 2])"),
        ("channels", "independent maps or fields"),
        ("in_h", "input height"),
        ("in_w", "input width"),
        ("out_h", "output height"),
        ("out_w", "output width"),
    ),
    "elementwise": _regs(
        ("mode", "0 affine, 1 table, 2 mul_map, 3 softmax"),
        ("in_off", "input int8 [channels, height, width]"),
        ("out_off", "output: int8, table entries, or uint16 masks [channels, height, width]"),
        ("map_off", "mul_map: occlusion map uint8 Q8 [height, width]"),
        ("table_off", "table: 256 entries; softmax: exp table uint16 [256]"),
        ("mult_off", "affine: multiplier int32 [channels]"),
        ("shift_off", "affine: shift uint8 [channels]"),
        ("bias_off", "affine: bias int64 [channels]"),
        ("channels", "channels"),
        ("height", "height"),
        ("width", "width"),
        ("table_bytes", "table: bytes per entry, 1 or 2 (the output element size)"),
        ("flags", "affine: bit 0 relu; table: bit 0 index by the unsigned byte (pixels)"),
    ),
    "keypoint": _regs(
        ("mode", "0 heatmap, 1 sparse, 2 deform"),
        ("grid_off", "heatmap, sparse: coordinate grid int16 Q2.13 [height, width, 2]"),
        ("kp_driving_off", "heatmap, sparse: driving keypoints int16 Q2.13 [num_kp, 2]"),
        ("kp_source_off", "heatmap, sparse: source keypoints int16 Q2.13 [num_kp, 2]"),
        ("table_off", "heatmap: Gaussian table uint16 Q15 [4096]"),
        ("sparse_off", "deform: sparse motions int16 Q2.13 [channels, height, width, 2]"),
        ("masks_off", "deform: masks uint16 Q15 [channels, height, width]"),
        ("out_off", "int8 [K+1,H,W] heatmap; int16 [K+1,H,W,2] sparse; int16 [H,W,2] deform"),
        ("num_kp", "heatmap, sparse: keypoints K"),
        ("channels", "deform: motions C (K + 1)"),
        ("height", "height"),
        ("width", "width"),
        ("index_shift", "heatmap: S of the Gaussian table index, 1..31"),
        ("mult", "heatmap: requantize multiplier (int32 bit pattern)"),
        ("shift", "heatmap: requantize shift 1..62"),
    ),
}

ENGINES = tuple(REGISTERS)


def register_index(engine: str) -> dict[str, int]:
    """Map each register name of ``engine`` to its position in the C-sim regs array."""
    return {reg.name: i for i, reg in enumerate(REGISTERS[engine])}
