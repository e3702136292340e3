"""The emulated co-processor: a simulated DDR, the C-sim engines, and the program run on them.

The DDR is one uint8 buffer of program.ddr_bytes with the weight blob at its offset; the host
side (host.py) writes a frame's inputs, every instruction runs on its engine's C-sim library
through the register interface the board uses (EngineLibrary.run), and the outputs are read back.
Key-phase instructions run only for a new key frame (the first frame of a GOP); their outputs
stay in DDR for the following frames.
compare_with_golden names the first instruction whose output differs from the golden model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from grace_flow.compile.hazards import operand_spans
from grace_flow.engines.program import Program
from grace_flow.csim.build import build_engine
from grace_flow.csim.engines import EngineLibrary
from grace_flow.csim.host import read_tensor, write_inputs
from grace_flow.errors import FlowError
from grace_flow.hls.render import render_engine


class EmulatorError(FlowError):
    """A program or weight blob that does not fit the emulated co-processor."""


def load_engines(specs_dir, build_dir, engines) -> dict[str, EngineLibrary]:
    """Render and build (cached) each engine in ``engines`` from specs_dir/<engine>.json."""
    libraries = {}
    for engine in sorted(set(engines)):
        spec_path = Path(specs_dir) / f"{engine}.json"
        if not spec_path.is_file():
            raise EmulatorError(f"csim: {spec_path} missing: run the compile stage first")
        sources = Path(build_dir) / "sources" / engine
        render_engine(engine, json.loads(spec_path.read_text()), sources)
        libraries[engine] = EngineLibrary(build_engine(sources, engine, build_dir), engine)
    return libraries


class Emulator:
    """One co-processor: DDR with the weights loaded, and an engine library per engine used."""

    def __init__(self, program: Program, weights: bytes, engines: dict[str, EngineLibrary]):
        offset, size = program.weights
        if len(weights) != size:
            raise EmulatorError(f"csim: weights.bin has {len(weights)} bytes, the program expects "
                                f"{size}: recompile")
        missing = sorted({ins.engine for ins in program.instructions} - set(engines))
        if missing:
            raise EmulatorError(f"csim: no {missing[0]} engine library for this program")
        self.program, self.engines = program, engines
        # Garbage outside the weights, as on a board, so an unwritten byte read shows as a mismatch.
        self.ddr = np.random.default_rng(0).integers(0, 256, program.ddr_bytes, dtype=np.uint8)
        self.ddr[offset:offset + size] = np.frombuffer(weights, dtype=np.uint8)
        self._complete = _completion(program)
        self._key_source = None  # the key frame the key instructions last ran on
        self._key_tensors: dict = {}  # their tensors then (key tensors are not rewritten later)

    def run_decoder(self, source_u8, kp_source_fp16, kp_driving_fp16, *,
                    every_tensor: bool = False, new_key_frame: bool = True) -> tuple[dict, dict]:
        """Decode one frame: (outputs by role, every tensor by name if ``every_tensor``).

        Instructions run in issue order; each waits only for earlier ones (its deps), so this
        order respects them. A tensor is copied right after its last writer, before the
        planner's reuse of its bytes can overwrite it. Key instructions run only when
        ``new_key_frame`` (the first frame of a GOP); otherwise ``source_u8`` must be the key
        frame they last ran on, and the tensors they wrote then are reported again.
        """
        program = self.program
        source_u8 = np.asarray(source_u8)
        if not new_key_frame and (self._key_source is None
                                  or not np.array_equal(source_u8, self._key_source)):
            raise EmulatorError("csim: a frame without a new key frame must reuse the key frame "
                                "of the last new_key_frame run")
        write_inputs(self.ddr, program, source_u8, kp_source_fp16, kp_driving_fp16)
        if new_key_frame:
            self._key_source, self._key_tensors = source_u8.copy(), {}
        tensors = {}
        if every_tensor:
            tensors = {name: read_tensor(self.ddr, program, name)
                       for name, done in self._complete.items() if done < 0}
            if not new_key_frame:
                tensors.update(self._key_tensors)
        for index, ins in enumerate(program.instructions):
            if any(d >= index for d in ins.deps):
                raise EmulatorError(f"csim: instruction {index} waits for a later instruction")
            key = ins.phase == "key"
            if key and not new_key_frame:
                continue
            self.engines[ins.engine].run(self.ddr, ins.registers)
            if every_tensor or key:
                done = {name: read_tensor(self.ddr, program, name)
                        for name, last in self._complete.items() if last == index}
                if every_tensor:
                    tensors.update(done)
                if key:
                    self._key_tensors.update(done)
        outputs = {key.split(".", 1)[1]: read_tensor(self.ddr, program, name)
                   for key, name in program.io.items() if key.startswith("output.")}
        return outputs, tensors


def _completion(program: Program) -> dict[str, int]:
    """Each tensor's last writer (-1: written by the host)."""
    return {name: max(entry["writers"], default=-1) for name, entry in program.tensors.items()}


def compare_with_golden(program: Program, ddr_tensors: dict, golden: dict) -> dict | None:
    """None if every tensor in both equals its golden value, else the earliest mismatch.

    The mismatch names the instruction that wrote the first differing element (engine, index,
    node), the tensor, the index and both values; tensors are compared in the order their
    writers ran, so the first wrong instruction is reported, not its consequences.
    """
    found = []
    for name in sorted(set(ddr_tensors) & set(golden)):
        got, want = np.asarray(ddr_tensors[name]), np.asarray(golden[name])
        if got.shape != want.shape or got.dtype != want.dtype:
            found.append((-1, {"tensor": name, "problem": f"shape/dtype {list(got.shape)} "
                               f"{got.dtype}, want {list(want.shape)} {want.dtype}"}))
            continue
        if np.array_equal(got, want):
            continue
        index = tuple(int(i) for i in np.argwhere(got != want)[0])
        flat = int(np.ravel_multi_index(index, got.shape))
        where = program.tensors[name]["offset"] + flat * got.itemsize
        writer = next((i for i in program.tensors[name]["writers"]
                       if any(s <= where < e for s, e in operand_spans(
                           program.instructions[i].engine, program.instructions[i].registers)[1])),
                      -1)
        ins = program.instructions[writer] if writer >= 0 else None
        found.append((writer, {
            "engine": ins.engine if ins else "host", "instruction": writer,
            "node": ins.node if ins else name, "tensor": name, "index": list(index),
            "got": got[index].item(), "want": want[index].item()}))
    return min(found, key=lambda item: item[0])[1] if found else None


def mismatch_text(mismatch: dict) -> str:
    """One line describing a mismatch from compare_with_golden."""
    if "problem" in mismatch:
        return f"tensor {mismatch['tensor']}: {mismatch['problem']}"
    return (f"{mismatch['engine']} instruction {mismatch['instruction']} ({mismatch['node']}) "
            f"tensor {mismatch['tensor']} index {tuple(mismatch['index'])}: got "
            f"{mismatch['got']}, want {mismatch['want']}")

