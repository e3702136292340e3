"""The pynq hardware layer with pynq 4.0.0's own Overlay, MMIO and PynqBuffer (no board)."""

import json
import re

import pytest
from pynq_board import EngineBoard, board_register_map, write_engines_hwh

from grace_flow.codec import decode_file
from grace_flow.runtime import runner as runner_module
from grace_flow.runtime.decode import decode_frames, frame_sha256
from grace_flow.runtime.emulated import EMULATED_DDR_ADDRESS
from grace_flow.runtime.hardware import HardwareError
from grace_flow.runtime.package import load_program
from grace_flow.runtime.prebuilt import package_libraries
from grace_flow.runtime.pynq_hw import PynqHardware
from grace_flow.runtime.runner import ProgramRunner


@pytest.fixture
def board(tiny_board, tmp_path):
    """(program, weights, a bitstream + .hwh of the package's engines, the C-sim libraries)."""
    package = tiny_board.package
    program = load_program(package)
    register_map = board_register_map(json.loads((package / "register_map.json").read_text()))
    write_engines_hwh(tmp_path / "overlay.hwh", register_map)
    (tmp_path / "overlay.bit").write_bytes(b"not loaded: download=False")
    libraries = {engine: library for engine, (library, _) in
                 package_libraries(package, register_map, tmp_path / "cache", print).items()}
    return program, (package / "weights.bin").read_bytes(), tmp_path / "overlay.bit", \
        libraries, register_map


def _hardware(board, **device_options):
    program, _, bitstream, libraries, register_map = board
    device = EngineBoard(libraries, register_map, **device_options)
    return PynqHardware(bitstream, program.ddr_bytes, device=device, download=False), device


def test_decodes_bit_exact_through_pynq_mmio(board, tiny_board):
    program, weights, *_ = board
    hardware, device = _hardware(board)
    found = {name: entry["base"] for name, entry in hardware.register_map.items()}
    assert found.items() >= {e: entry["base"] for e, entry in board[4].items()}.items()
    runner = ProgramRunner(program, weights, hardware)
    for path, golden in zip(tiny_board.bitstreams, tiny_board.golden):
        got = [frame_sha256(outputs["prediction"])
               for outputs, _ in decode_frames(runner, decode_file(path))]
        assert got == golden, path.name


def test_registers_written_at_the_hwh_offsets_then_ap_start(board):
    program, weights, *_ = board
    hardware, device = _hardware(board)
    runner = ProgramRunner(program, weights, hardware)
    conv = hardware.register_map["conv"]
    base, offsets = conv["base"], conv["registers"]
    # The DDR pointer: the buffer's physical address, low and high words.
    assert (base + offsets["ddr_1"], EMULATED_DDR_ADDRESS) in device.writes
    assert (base + offsets["ddr_2"], 0) in device.writes
    device.writes.clear()
    first = next(i for i, ins in enumerate(program.instructions) if ins.engine == "conv")
    ins = program.instructions[first]
    runner.drivers["conv"].start(runner._writes[first])
    written = dict(device.writes)
    for name, value in ins.registers.items():
        assert written[base + offsets[name]] == value & 0xFFFFFFFF, name
    assert device.writes[-1] == (base + offsets["CTRL"], 1)  # ap_start last


def test_an_engine_that_never_finishes_times_out(board, tiny_board, monkeypatch):
    program, weights, *_ = board
    hardware, _ = _hardware(board, stuck="conv")
    runner = ProgramRunner(program, weights, hardware)
    monkeypatch.setattr(runner_module, "TIMEOUT_S", 0.05)
    clip = decode_file(tiny_board.bitstreams[0])
    with pytest.raises(HardwareError, match=re.escape("did not finish within 0.05 s: the "
                                                      "bitstream and the program may not match")):
        next(decode_frames(runner, clip))
