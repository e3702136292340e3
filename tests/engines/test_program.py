"""Program container: binary round trip, listing round trip, damage detected."""

import struct
import zlib

import pytest

from grace_flow.engines.program import Instruction, Program, ProgramError, decode, frame_only


def sample() -> Program:
    return Program(
        [Instruction("conv", "first", {"in_off": 4096, "out_off": 8192, "kernel": 7, "in_c": 3,
                                       "mult_off": 0xFFFFFFFF}, phase="key"),
         Instruction("elementwise", "prediction", {"mode": 1, "in_off": 8192}, deps=[0])],
        ddr_bytes=1 << 20, weights=(0, 4096), arena=(4096, 65536),
        tensors={"source": {"offset": 4096, "bytes": 12288}})


def test_binary_round_trip_keeps_engines_registers_and_deps():
    program = sample()
    decoded = decode(program.encode())
    assert [(i.engine, i.deps, i.phase) for i in decoded.instructions] == [
        ("conv", [], "key"), ("elementwise", [0], "frame")]
    assert decoded.instructions[0].registers["kernel"] == 7
    assert decoded.instructions[0].registers["mult_off"] == 0xFFFFFFFF
    assert decoded.instructions[0].registers["flags"] == 0  # absent registers are 0
    assert (decoded.ddr_bytes, decoded.weights, decoded.arena) == (1 << 20, (0, 4096),
                                                                   (4096, 65536))


def test_listing_round_trip(tmp_path):
    program = sample()
    program.save(tmp_path / "p.bin", tmp_path / "p.json")
    again = Program.load(tmp_path / "p.json")
    assert again.encode() == program.encode() == (tmp_path / "p.bin").read_bytes()


def test_damage_is_a_one_line_error():
    data = bytearray(sample().encode())
    data[30] ^= 1
    with pytest.raises(ProgramError, match=r"^p.bin: CRC mismatch"):
        decode(bytes(data), "p.bin")
    body = bytes(sample().encode()[:-4])[:-3]
    with pytest.raises(ProgramError, match=r"^program.bin: truncated inside the instruction list$"):
        decode(body + struct.pack("<I", zlib.crc32(body)))
    with pytest.raises(ProgramError, match=r"^program.bin: 3 bytes is too short"):
        decode(b"abc")


def _reencoded(data: bytearray) -> bytes:
    body = bytes(data[:-4])
    return body + struct.pack("<I", zlib.crc32(body))


def test_phase_flags_are_checked():
    data = bytearray(sample().encode())
    flags = 28 + 2  # header, then engine id and register count of instruction 0
    assert data[flags] == 1  # the key bit
    data[flags] = 0x81
    with pytest.raises(ProgramError, match=r"^program.bin: instruction 0 has unknown flags 0x81$"):
        decode(_reencoded(data))
    program = sample()
    program.instructions[0].phase, program.instructions[1].phase = "frame", "key"
    with pytest.raises(ProgramError, match=r"^program.bin: key instruction 1 after a frame "):
        decode(program.encode())
    old = bytearray(sample().encode())
    old[4:6] = struct.pack("<H", 1)  # a version-1 program (no phases) must be recompiled
    with pytest.raises(ProgramError, match=r"^program.bin: not a version-2 grace_flow program"):
        decode(_reencoded(old))


def test_frame_only_drops_the_key_instructions_and_renumbers():
    program = sample()
    program.instructions.append(Instruction("conv", "final", {}, deps=[0, 1]))
    rest = frame_only(program.instructions)
    assert [(i.node, i.deps, i.phase) for i in rest] == [("prediction", [], "frame"),
                                                         ("final", [0], "frame")]
