"""Lowering: a QuantizedGraph → a co-processor Program and its weight blob.

One instruction per node, except a 5-D grid_sample (one per motion, sharing the source) and a
concat (none: its inputs are placed as slices of its buffer, so producers write straight into
it). The key frame arrives as uint8 pixels [3, H, W] and becomes the int8 source through an
elementwise table instruction; keypoints arrive as Q2.13 (the host converts FP16 once per frame,
grace_flow/runtime/host.py).

Phases: an instruction whose every input is (transitively) derived only from the key frame and
constants (the pixel table, the generator's encoder, the motion network's downsample of the
source) is a ``key`` instruction, run once per key frame; all the others are ``frame``
instructions. Key instructions are issued first; a key output that a frame instruction reads
lives for the whole program in the memory plan, so no instruction reuses its bytes and it stays
valid in DDR for the whole GOP. Key buffers are planned in their own part of the arena (at its
start), so frame instructions never write over a key tensor and never wait for a key instruction
except to read its output.

DDR layout: [weights | activation arena | inputs and outputs], every region and operand aligned to
the AXI burst. The weight blob holds every constant operand in instruction order (the order the
engines stream them), identical operands once; conv weights in the folding order of the conv
spec they are lowered for (engines/conv_weights.py), so the blob serves that engine build only.
The arena is planned by lifetime (memory.py), so tensors share space once dead; dependencies
are then derived from the placed byte spans (hazards.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grace_flow.compile.hazards import conflicts, reduce_dependencies
from grace_flow.compile.memory import Use, align_up, plan_arena
from grace_flow.engines.conv_weights import conv_weight_layout
from grace_flow.engines.program import Instruction, Program
from grace_flow.errors import FlowError
from grace_flow.engines.registers import CONV_FLAGS, MODES
from grace_flow.quant.qgraph import PIXELS, QuantizedGraph

#: The uint8 key frame [3, H, W] the host writes; the pixel-table instruction reads it.
PIXEL_INPUT = "source_pixels"
MIB = 1 << 20


class CompileError(FlowError):
    """A graph the co-processor cannot run (or not within the board's limits)."""


@dataclass(frozen=True)
class At:
    """A register value still to be placed: the DDR offset of ``tensor`` plus ``delta`` bytes."""

    tensor: str
    delta: int = 0


@dataclass
class _Proto:
    engine: str
    node: str
    registers: dict  # name → int or At
    reads: list[str]
    writes: str
    phase: str = "frame"


def _chw(shape: list[int]) -> tuple[int, int, int]:
    """[..., H, W] as (channels, H, W): leading axes are channels (a [K+1, C, h, w] block too)."""
    return int(np.prod(shape[:-2])), shape[-2], shape[-1]


class _Blob:
    """The weight blob: aligned constant operands, each distinct byte string stored once."""

    def __init__(self, alignment: int):
        self.alignment, self.data, self._seen = alignment, bytearray(), {}

    def add(self, array, dtype: str) -> int:
        return self.add_bytes(np.ascontiguousarray(np.asarray(array).astype(dtype)).tobytes())

    def add_bytes(self, raw: bytes) -> int:
        if raw not in self._seen:
            self._seen[raw] = len(self.data)
            self.data += raw + bytes(align_up(len(raw), self.alignment) - len(raw))
        return self._seen[raw]


class _Lowering:
    def __init__(self, qgraph: QuantizedGraph, alignment: int, conv_spec: dict):
        self.q, self.blob, self.protos, self.phase = qgraph, _Blob(alignment), [], "frame"
        self.conv_spec = conv_spec

    def emit(self, engine, node, registers, reads, writes):
        self.protos.append(_Proto(engine, node, registers, reads, writes, self.phase))

    def pixels(self):
        _, h, w = self.q.shapes["source"]
        table = self.blob.add(self.q.params["source.pixel_table"], "i1")
        self.emit("elementwise", "source", dict(
            mode=MODES["elementwise"]["table"], flags=1, table_bytes=1, in_off=At(PIXEL_INPUT),
            out_off=At("source"), table_off=table, channels=3, height=h, width=w),
            [PIXEL_INPUT], "source")

    def conv(self, node, p):
        a, source = node.attrs, node.inputs[0]
        in_c, in_h, in_w = _chw(self.q.shapes[source])
        out_c, _, k, _ = p["weight"].shape
        if p["weight"].shape[1] != in_c:
            raise CompileError(f"compile: layer {node.name}: weights expect "
                               f"{p['weight'].shape[1]} input channels, {source} has {in_c}")
        flags = sum(1 << bit for name, bit in CONV_FLAGS.items() if a.get(name))
        regs = dict(in_off=At(source), out_off=At(node.output),
                    w_off=self.blob.add_bytes(conv_weight_layout(p["weight"], self.conv_spec)),
                    bias_off=self.blob.add(p["bias"], "<i4"),
                    mult_off=self.blob.add(p["mult_acc"] if a["residual"] else p["mult"], "<i4"),
                    shift_off=self.blob.add(p["shift"], "u1"), in_c=in_c, in_h=in_h, in_w=in_w,
                    out_c=out_c, kernel=k, stride=a["stride"], pad=a["padding"], flags=flags)
        if a["residual"]:
            regs.update(res_off=At(node.inputs[1]),
                        res_mult_off=self.blob.add(p["mult_res"], "<i4"))
        self.emit("conv", node.name, regs, list(node.inputs), node.output)

    def grid_sample(self, node, p):
        source, grid = node.inputs
        channels, in_h, in_w = _chw(self.q.shapes[source])
        *motions, out_h, out_w, _ = self.q.shapes[grid]
        plane = out_h * out_w
        for m in range(motions[0] if motions else 1):  # 5-D: one source, one grid per motion
            self.emit("grid_sample", node.name, dict(
                in_off=At(source), grid_off=At(grid, 4 * plane * m),
                out_off=At(node.output, channels * plane * m), channels=channels, in_h=in_h,
                in_w=in_w, out_h=out_h, out_w=out_w), [source, grid], node.output)

    def keypoint(self, node, p):
        modes = MODES["keypoint"]
        if node.op == "deformation":
            masks, sparse = node.inputs
            channels, h, w = _chw(self.q.shapes[masks])
            self.emit("keypoint", node.name, dict(
                mode=modes["deform"], sparse_off=At(sparse), masks_off=At(masks),
                out_off=At(node.output), channels=channels, height=h, width=w),
                [masks, sparse], node.output)
            return
        kp_source, kp_driving = node.inputs
        h, w = p["grid"].shape[:2]
        regs = dict(grid_off=self.blob.add(p["grid"], "<i2"), kp_driving_off=At(kp_driving),
                    kp_source_off=At(kp_source), out_off=At(node.output),
                    num_kp=self.q.shapes[kp_source][0], height=h, width=w)
        if node.op == "heatmap":
            regs.update(mode=modes["heatmap"], table_off=self.blob.add(p["gauss_table"], "<u2"),
                        index_shift=int(p["index_shift"]), mult=int(p["mult"]) & 0xFFFFFFFF,
                        shift=int(p["shift"]))
        else:
            regs["mode"] = modes["sparse"]
        self.emit("keypoint", node.name, regs, list(node.inputs), node.output)

    def elementwise(self, node, p):
        modes, x = MODES["elementwise"], node.inputs[0]
        channels, h, w = _chw(self.q.shapes[x])
        regs = dict(in_off=At(x), out_off=At(node.output), channels=channels, height=h, width=w)
        if node.op == "affine":
            regs.update(mode=modes["affine"], mult_off=self.blob.add(p["mult"], "<i4"),
                        shift_off=self.blob.add(p["shift"], "u1"),
                        bias_off=self.blob.add(p["bias"], "<i8"), flags=int(node.attrs["relu"]))
        elif node.op == "table":
            table = p["table"]
            regs.update(mode=modes["table"], table_off=self.blob.add(table, table.dtype.str),
                        table_bytes=table.itemsize)
        elif node.op == "softmax":
            regs.update(mode=modes["softmax"], table_off=self.blob.add(p["exp_table"], "<u2"))
        else:
            regs.update(mode=modes["mul_map"], map_off=At(node.inputs[1]))
        self.emit("elementwise", node.name, regs, list(node.inputs), node.output)

    def resize(self, node, p):
        x, out = node.inputs[0], self.q.shapes[node.output]
        if self.q.formats[x]["dtype"] == "int16":  # a deformation field [H, W, 2]
            (in_h, in_w, _), (out_h, out_w, _) = self.q.shapes[x], out
            mode, channels = MODES["upsample"]["field"], 1
        else:
            channels, in_h, in_w = _chw(self.q.shapes[x])
            mode, out_h, out_w = MODES["upsample"]["map"], out[-2], out[-1]
        self.emit("upsample", node.name, dict(
            mode=mode, in_off=At(x), out_off=At(node.output), channels=channels, in_h=in_h,
            in_w=in_w, out_h=out_h, out_w=out_w), [x], node.output)


_EMIT = {"conv": _Lowering.conv, "grid_sample": _Lowering.grid_sample,
         "heatmap": _Lowering.keypoint, "sparse_motion": _Lowering.keypoint,
         "deformation": _Lowering.keypoint, "affine": _Lowering.elementwise,
         "table": _Lowering.elementwise, "softmax": _Lowering.elementwise,
         "mul_map": _Lowering.elementwise, "resize": _Lowering.resize}


def _concat_parents(q: QuantizedGraph) -> dict[str, tuple[str, int]]:
    """Each concat input → (the concat's tensor, its byte offset in it): its storage."""
    parents: dict[str, tuple[str, int]] = {}
    for node in (n for n in q.nodes if n.op == "concat"):
        offset, (_, h, w) = 0, _chw(q.shapes[node.output])
        for name in node.inputs:
            channels, hi, wi = _chw(q.shapes[name])
            if (hi, wi) != (h, w) or q.formats[name]["dtype"] != "int8" or name in parents:
                raise CompileError(f"compile: layer {node.name}: input {name} cannot be placed in "
                                   "the concat buffer (size, type, or already in another concat)")
            parents[name] = (node.output, offset)
            offset += channels * h * w
        if offset != int(np.prod(q.shapes[node.output])):
            raise CompileError(f"compile: layer {node.name}: inputs do not add up to its shape")
    return parents


def _homes(q: QuantizedGraph, parents: dict) -> dict[str, tuple[str, int]]:
    """Tensor → (the buffer it is stored in, its byte offset there): nested concats resolved."""
    home = {}
    for name in q.shapes:
        root, delta = name, 0
        while root in parents:
            root, step = parents[root]
            delta += step
        home[name] = (root, delta)
    return home


def _key_tensors(q: QuantizedGraph) -> set[str]:
    """Tensors derived only from the key frame and constants (a concat: all its inputs are)."""
    key = {PIXEL_INPUT, "source"}
    for node in q.nodes:  # topological order
        if all(name in key for name in node.inputs):
            key.add(node.output)
    return key


def _tensor_bytes(q: QuantizedGraph, name: str) -> int:
    return int(np.prod(q.shapes[name])) * np.dtype(q.formats[name]["dtype"]).itemsize


def lower(q: QuantizedGraph, *, alignment: int, ddr_limit: int,
          conv_spec: dict) -> tuple[Program, bytes]:
    """The program and weight blob of ``q`` for a conv engine built for ``conv_spec`` (the
    weights' layout); CompileError if it cannot run within ``ddr_limit``."""
    q = QuantizedGraph(q.nodes, {**q.shapes, PIXEL_INPUT: [3, *q.shapes["source"][1:]]},
                       q.inputs, q.outputs, {**q.formats, PIXEL_INPUT: PIXELS}, q.params,
                       q.weight_scales)
    lowering = _emit(q, alignment, conv_spec)
    protos = lowering.protos
    parents = _concat_parents(q)
    home = _homes(q, parents)
    roots, ddr_bytes, arena = _layout(q, protos, home, len(lowering.blob.data), alignment,
                                      ddr_limit)

    def place(value):
        if not isinstance(value, At):
            return value
        root, delta = home[value.tensor]
        return roots[root] + delta + value.delta

    instructions = [Instruction(p.engine, p.node, {k: place(v) for k, v in p.registers.items()},
                                phase=p.phase) for p in protos]
    for instruction, deps in zip(instructions,
                                 reduce_dependencies(conflicts(instructions, conv_spec))):
        instruction.deps = deps
    tensors = {name: {"offset": place(At(name)), "bytes": _tensor_bytes(q, name),
                      "shape": q.shapes[name], "format": q.formats[name],
                      "writers": _writers(protos, name, parents)}
               for name in home if home[name][0] in roots}
    io = {"input.source_u8": PIXEL_INPUT, "input.kp_source_fp16": "kp_source",
          "input.kp_driving_fp16": "kp_driving",
          **{f"output.{role}": name for role, name in q.outputs.items()}}
    program = Program(instructions, ddr_bytes, (0, len(lowering.blob.data)), arena, tensors, io)
    return program, bytes(lowering.blob.data)


def _emit(q: QuantizedGraph, alignment: int, conv_spec: dict) -> _Lowering:
    """The instructions (unplaced) and the weight blob: key nodes first, then the frame nodes,
    each in graph order."""
    lowering = _Lowering(q, alignment, conv_spec)
    lowering.phase = "key"
    lowering.pixels()
    key = _key_tensors(q)
    for phase in ("key", "frame"):
        lowering.phase = phase
        for node in q.nodes:
            if node.op == "concat" or (node.output in key) != (phase == "key"):
                continue
            if node.op not in _EMIT:
                raise CompileError(f"compile: layer {node.name}: no engine runs op {node.op!r}")
            _EMIT[node.op](lowering, node, q.node_params(node.name))
    return lowering


def _layout(q: QuantizedGraph, protos: list[_Proto], home: dict, weights_bytes: int,
            alignment: int, ddr_limit: int) -> tuple[dict[str, int], int, tuple[int, int]]:
    """DDR address of every storage buffer ([weights | arena | inputs and outputs]), the DDR
    bytes needed, and the arena's (offset, bytes)."""
    io_names = [PIXEL_INPUT, "kp_source", "kp_driving", *q.outputs.values()]
    io_roots = list(dict.fromkeys(home[name][0] for name in io_names))
    uses = [Use(p.phase, tuple(home[name][0] for name in p.reads), home[p.writes][0])
            for p in protos]
    sizes = {root: _tensor_bytes(q, root) for root in {home[name][0] for name in home}}
    offsets, arena_bytes = plan_arena(uses, sizes, set(io_roots), alignment)
    arena_base = align_up(weights_bytes, alignment)
    roots = {root: arena_base + offset for root, offset in offsets.items()}
    cursor = align_up(arena_base + arena_bytes, alignment)
    for root in io_roots:
        roots[root] = cursor
        cursor = align_up(cursor + _tensor_bytes(q, root), alignment)
    if cursor > ddr_limit:
        raise CompileError(f"compile: the program needs {cursor / MIB:.1f} MiB of DDR ({cursor} "
                           f"bytes), the board has {ddr_limit / MIB:.1f} MiB: shrink the decoder")
    return roots, cursor, (arena_base, arena_bytes)


def _writers(protos: list[_Proto], name: str, parents: dict) -> list[int]:
    """Instructions writing ``name`` itself or, for a concat, any of its inputs."""
    members = {name}
    while True:
        more = {child for child, (parent, _) in parents.items() if parent in members} - members
        if not more:
            break
        members |= more
    return [i for i, p in enumerate(protos) if p.writes in members]
