"""What each instruction reads and writes in DDR, and the dependencies that order them.

The byte spans come from the registers (the operand layouts of docs/engines.md) and, for the conv
weights, the conv spec they are laid out for (engines/conv_weights.py: the size depends on the
folding), so the same model serves the compiler that derives dependencies and the checker that
audits any program, including one decoded from program.bin. What an instruction writes depends
on its registers alone (write_spans). Two instructions conflict when one writes a byte the other
reads or writes; the later one must then wait for the earlier one (read after write, write after
read because the memory planner reuses space, write after write). Only the transitive reduction
is kept: every dependency left is essential, so dropping any one of them breaks the order.
"""

from __future__ import annotations

from grace_flow.engines.conv_weights import conv_weight_bytes
from grace_flow.errors import FlowError
from grace_flow.engines.registers import CONV_FLAGS, MODES

Span = tuple[int, int]  # [start, end) byte offsets in DDR


class HazardError(FlowError):
    """A program whose dependencies let two conflicting instructions run in either order."""


def conv_geometry(regs: dict[str, int]) -> tuple[int, int, int, int]:
    """(Ho, Wo, stored height, stored width) of a conv instruction (before / after the pool)."""
    up = 2 if regs["flags"] >> CONV_FLAGS["upsample"] & 1 else 1
    k, stride, pad = regs["kernel"], regs["stride"], regs["pad"]
    height = (regs["in_h"] * up + 2 * pad - k) // stride + 1
    width = (regs["in_w"] * up + 2 * pad - k) // stride + 1
    if regs["flags"] >> CONV_FLAGS["pool"] & 1:
        return height, width, height // 2, width // 2
    return height, width, height, width


def _conv(r: dict) -> tuple[list, list]:
    ho, wo, sh, sw = conv_geometry(r)
    out_c, in_c, k = r["out_c"], r["in_c"], r["kernel"]
    # The weights' span is operand_spans' (it needs the conv spec).
    reads = [("in_off", in_c * r["in_h"] * r["in_w"]),
             ("bias_off", 4 * out_c), ("mult_off", 4 * out_c), ("shift_off", out_c)]
    if r["flags"] >> CONV_FLAGS["residual"] & 1:
        reads += [("res_off", out_c * ho * wo), ("res_mult_off", 4 * out_c)]
    return reads, [("out_off", out_c * sh * sw)]


def _grid_sample(r: dict) -> tuple[list, list]:
    pixels = r["out_h"] * r["out_w"]
    return ([("in_off", r["channels"] * r["in_h"] * r["in_w"]), ("grid_off", 4 * pixels)],
            [("out_off", r["channels"] * pixels)])


def _upsample(r: dict) -> tuple[list, list]:
    element = 4 if r["mode"] == MODES["upsample"]["field"] else 1
    return ([("in_off", element * r["channels"] * r["in_h"] * r["in_w"])],
            [("out_off", element * r["channels"] * r["out_h"] * r["out_w"])])


def _elementwise(r: dict) -> tuple[list, list]:
    modes, size = MODES["elementwise"], r["channels"] * r["height"] * r["width"]
    reads = [("in_off", size)]
    if r["mode"] == modes["affine"]:
        c = r["channels"]
        return reads + [("mult_off", 4 * c), ("shift_off", c), ("bias_off", 8 * c)], [
            ("out_off", size)]
    if r["mode"] == modes["table"]:
        return reads + [("table_off", 256 * r["table_bytes"])], [
            ("out_off", size * r["table_bytes"])]
    if r["mode"] == modes["mul_map"]:
        return reads + [("map_off", r["height"] * r["width"])], [("out_off", size)]
    return reads + [("table_off", 512)], [("out_off", 2 * size)]


def _keypoint(r: dict) -> tuple[list, list]:
    modes, plane = MODES["keypoint"], r["height"] * r["width"]
    if r["mode"] == modes["deform"]:
        c = r["channels"]
        return [("sparse_off", 4 * c * plane), ("masks_off", 2 * c * plane)], [
            ("out_off", 4 * plane)]
    k = r["num_kp"]
    reads = [("grid_off", 4 * plane), ("kp_driving_off", 4 * k), ("kp_source_off", 4 * k)]
    if r["mode"] == modes["heatmap"]:
        return reads + [("table_off", 8192)], [("out_off", (k + 1) * plane)]
    return reads, [("out_off", 4 * (k + 1) * plane)]


_OPERANDS = {"conv": _conv, "grid_sample": _grid_sample, "upsample": _upsample,
             "elementwise": _elementwise, "keypoint": _keypoint}


def _registers(registers: dict[str, int]) -> dict[str, int]:
    return {**{name: 0 for name in ("flags", "mode")}, **registers}


def operand_spans(engine: str, registers: dict[str, int],
                  conv_spec: dict) -> tuple[list[Span], list[Span]]:
    """(read spans, write spans) of one instruction, its conv weights laid out for
    ``conv_spec``: [start, end) byte ranges in DDR."""
    regs = _registers(registers)
    reads, writes = _OPERANDS[engine](regs)
    if engine == "conv":
        reads.append(("w_off", conv_weight_bytes(regs["out_c"], regs["in_c"], regs["kernel"],
                                                 conv_spec)))
    return ([(regs[k], regs[k] + n) for k, n in reads],
            [(regs[k], regs[k] + n) for k, n in writes])


def write_spans(engine: str, registers: dict[str, int]) -> list[Span]:
    """The [start, end) byte ranges one instruction writes in DDR."""
    regs = _registers(registers)
    return [(regs[k], regs[k] + n) for k, n in _OPERANDS[engine](regs)[1]]


def _overlap(a: list[Span], b: list[Span]) -> bool:
    return any(s < e2 and s2 < e for s, e in a for s2, e2 in b)


def conflicts(instructions, conv_spec: dict) -> list[list[int]]:
    """For each instruction, the earlier instructions it conflicts with (RAW, WAR, WAW); conv
    weights laid out for ``conv_spec``."""
    spans = [operand_spans(ins.engine, ins.registers, conv_spec) for ins in instructions]
    found = []
    for j, (reads_j, writes_j) in enumerate(spans):
        found.append([i for i, (reads_i, writes_i) in enumerate(spans[:j])
                      if _overlap(writes_i, reads_j + writes_j) or _overlap(reads_i, writes_j)])
    return found


def _ancestors(deps: list[list[int]]) -> list[int]:
    """Bit set of every instruction each one (transitively) waits for."""
    reach: list[int] = []
    for j, direct in enumerate(deps):
        bits = 0
        for d in direct:
            if not 0 <= d < j:
                raise HazardError(f"program: instruction {j} waits for {d}, which is not earlier")
            bits |= reach[d] | 1 << d
        reach.append(bits)
    return reach


def reduce_dependencies(candidates: list[list[int]]) -> list[list[int]]:
    """The transitive reduction of ``candidates`` (each instruction's earlier conflicts)."""
    reduced: list[list[int]] = []
    reach: list[int] = []
    for direct in candidates:
        kept, bits = [], 0
        for d in sorted(direct, reverse=True):  # a dep implied by a later one is redundant
            if not bits >> d & 1:
                kept.append(d)
                bits |= reach[d] | 1 << d
        reduced.append(sorted(kept))
        reach.append(bits)
    return reduced


def check_dependencies(instructions, conv_spec: dict) -> None:
    """Raise HazardError unless every conflicting pair is ordered by the dependencies (conv
    weights laid out for ``conv_spec``)."""
    reach = _ancestors([ins.deps for ins in instructions])
    for j, earlier in enumerate(conflicts(instructions, conv_spec)):
        for i in earlier:
            if not reach[j] >> i & 1:
                a, b = instructions[i], instructions[j]
                raise HazardError(
                    f"program: instruction {j} ({b.engine} {b.node}) touches bytes of instruction "
                    f"{i} ({a.engine} {a.node}) but does not wait for it: recompile")
