"""The co-processor program: engine instructions with dependencies, and its binary encoding.

An instruction is one engine run: the engine and the values of its registers (the table in
grace_flow/engines/registers.py), plus the indices of the instructions it must wait for. The host
walks the list, starting an instruction on its engine when its dependencies are done, so
independent instructions on different engines overlap.

Each instruction has a phase. ``key`` instructions depend only on the key frame (the source
image) and constants: they come first in the program and run once per key frame (the first
frame of a GOP); their outputs stay in DDR for the whole GOP. ``frame`` instructions run for
every frame; on a frame without a new key frame the host skips the key instructions and treats
dependencies on them as met.

Binary format (little-endian), what the board-side driver reads:

    header   magic b"GFPG", u16 version, u16 instruction count, u32 DDR bytes needed,
             u32 weights offset, u32 weights bytes, u32 arena offset, u32 arena bytes
    per instruction
             u8 engine id (ENGINE_IDS), u8 register count, u8 flags (bit 0: key phase, the
             other bits 0), u16 dependency count,
             u32 × registers (the engine's table order), u16 × dependencies

Every key instruction precedes every frame instruction (checked when decoding).
    trailer  u32 CRC-32 of everything before it
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grace_flow.errors import FlowError
from grace_flow.fsutil import atomic_write_bytes, atomic_write_text
from grace_flow.engines.registers import REGISTERS

MAGIC = b"GFPG"
VERSION = 2
ENGINE_IDS = {name: index for index, name in enumerate(REGISTERS)}
_HEADER = struct.Struct("<4sHHIIIII")
_INSTRUCTION = struct.Struct("<BBBH")
PHASES = ("key", "frame")
KEY_FLAG = 1


class ProgramError(FlowError):
    """A program file that cannot be read."""


@dataclass
class Instruction:
    """One engine run: ``registers`` by name (unsigned 32-bit values), waiting for ``deps``;
    ``phase`` "key" (once per key frame) or "frame" (every frame)."""

    engine: str
    node: str
    registers: dict[str, int]
    deps: list[int] = field(default_factory=list)
    phase: str = "frame"


def frame_only(instructions: list[Instruction]) -> list[Instruction]:
    """What a frame without a new key frame runs: the frame-phase instructions, renumbered, their
    dependencies on key instructions dropped (those outputs are already in DDR)."""
    new = {old: k for k, old in enumerate(
        i for i, ins in enumerate(instructions) if ins.phase != "key")}
    return [Instruction(ins.engine, ins.node, ins.registers,
                        [new[d] for d in ins.deps if d in new], ins.phase)
            for old, ins in enumerate(instructions) if old in new]


@dataclass
class Program:
    """Instructions in issue order and the DDR regions they use (byte offsets from DDR base)."""

    instructions: list[Instruction]
    ddr_bytes: int
    weights: tuple[int, int]  # (offset, bytes)
    arena: tuple[int, int]  # activations: (offset, bytes)
    tensors: dict[str, dict] = field(default_factory=dict)  # name → offset, bytes, format, shape
    io: dict[str, str] = field(default_factory=dict)  # input.<x> / output.<role> → tensor name

    def encode(self) -> bytes:
        """The binary program (see the module docstring)."""
        out = bytearray(_HEADER.pack(MAGIC, VERSION, len(self.instructions), self.ddr_bytes,
                                     *self.weights, *self.arena))
        for ins in self.instructions:
            names = [reg.name for reg in REGISTERS[ins.engine]]
            out += _INSTRUCTION.pack(ENGINE_IDS[ins.engine], len(names),
                                     KEY_FLAG if ins.phase == "key" else 0, len(ins.deps))
            out += struct.pack(f"<{len(names)}I", *(ins.registers.get(n, 0) & 0xFFFFFFFF
                                                    for n in names))
            out += struct.pack(f"<{len(ins.deps)}H", *ins.deps)
        out += struct.pack("<I", zlib.crc32(out))
        return bytes(out)

    def listing(self) -> dict:
        """The readable program: regions, tensors and every instruction with named registers."""
        return {
            "ddr_bytes": self.ddr_bytes,
            "weights": {"offset": self.weights[0], "bytes": self.weights[1]},
            "arena": {"offset": self.arena[0], "bytes": self.arena[1]},
            "tensors": self.tensors,
            "io": self.io,
            "instructions": [{"index": i, **asdict(ins)} for i, ins in enumerate(self.instructions)],
        }

    def save(self, binary_path: Path, listing_path: Path) -> None:
        """Write the binary program and its JSON listing atomically."""
        atomic_write_bytes(binary_path, self.encode())
        atomic_write_text(listing_path, json.dumps(self.listing(), indent=1) + "\n")

    @classmethod
    def load(cls, listing_path: Path) -> "Program":
        """Read a program from its JSON listing."""
        data = json.loads(Path(listing_path).read_text())
        # A listing without phases (an older compile) reruns everything every frame.
        instructions = [Instruction(d["engine"], d["node"], d["registers"], d["deps"],
                                    d.get("phase", "frame")) for d in data["instructions"]]
        return cls(instructions, data["ddr_bytes"],
                   (data["weights"]["offset"], data["weights"]["bytes"]),
                   (data["arena"]["offset"], data["arena"]["bytes"]), data["tensors"],
                   data["io"])


def decode(data: bytes, name: str = "program.bin") -> Program:
    """Parse a binary program (what the driver does); any damage is a one-line ProgramError."""
    if len(data) < _HEADER.size + 4:
        raise ProgramError(f"{name}: {len(data)} bytes is too short for a program")
    if zlib.crc32(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
        raise ProgramError(f"{name}: CRC mismatch: the file is damaged, rebuild it (doit compile)")
    magic, version, count, ddr_bytes, w_off, w_len, a_off, a_len = _HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        raise ProgramError(f"{name}: not a version-{VERSION} grace_flow program: recompile "
                           "(doit compile)")
    try:
        instructions, position = _decode_instructions(data[:-4], count, name)
    except struct.error:
        raise ProgramError(f"{name}: truncated inside the instruction list") from None
    if position != len(data) - 4:
        raise ProgramError(f"{name}: {len(data) - 4 - position} stray bytes after the instructions")
    return Program(instructions, ddr_bytes, (w_off, w_len), (a_off, a_len))


def _decode_instructions(data: bytes, count: int, name: str) -> tuple[list[Instruction], int]:
    engines = {index: engine for engine, index in ENGINE_IDS.items()}
    position, instructions = _HEADER.size, []
    for _ in range(count):
        engine_id, reg_count, flags, dep_count = _INSTRUCTION.unpack_from(data, position)
        engine = engines.get(engine_id)
        index = len(instructions)
        if engine is None or reg_count != len(REGISTERS[engine]):
            raise ProgramError(f"{name}: instruction {index} has a bad engine id")
        if flags & ~KEY_FLAG:
            raise ProgramError(f"{name}: instruction {index} has unknown flags {flags:#04x}")
        phase = "key" if flags & KEY_FLAG else "frame"
        if phase == "key" and instructions and instructions[-1].phase == "frame":
            raise ProgramError(f"{name}: key instruction {index} after a frame instruction")
        position += _INSTRUCTION.size
        values = struct.unpack_from(f"<{reg_count}I", data, position)
        position += 4 * reg_count
        deps = list(struct.unpack_from(f"<{dep_count}H", data, position))
        position += 2 * dep_count
        names = [reg.name for reg in REGISTERS[engine]]
        instructions.append(Instruction(engine, "", dict(zip(names, values)), deps, phase))
    return instructions, position
