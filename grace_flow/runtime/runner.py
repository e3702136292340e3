"""The program runner: the co-processor program run on the engines behind the hardware layer.

The DDR arena (hardware.ddr) holds the weight blob at its offset, written once; the host side
(host.py) writes a frame's inputs, every instruction runs on its engine through its register
window (hardware.py: registers, ap_start, poll ap_done, status), and the outputs are read back.
The same runner drives a board (pynq_hw.PynqHardware) and the C-sim engines
(emulated.EmulatedHardware).
Instructions are issued in program order; an instruction starts when its engine is free and every
instruction it waits for has finished, so independent instructions on different engines overlap
(on the emulated hardware each one finishes as it starts).
Key-phase instructions run only for a new key frame (the first frame of a GOP); their outputs
stay in DDR for the following frames.
"""

from __future__ import annotations

import numpy as np

from grace_flow.engines.program import Program
from grace_flow.errors import FlowError
from grace_flow.runtime.engines import status_text
from grace_flow.runtime.hardware import EngineDriver, wait_until
from grace_flow.runtime.host import read_tensor, write_inputs

#: Longest an instruction may run before the runner gives up on the engine.
TIMEOUT_S = 10.0


class RunnerError(FlowError):
    """A program or weight blob that does not fit the co-processor, or an engine that refused."""


class ProgramRunner:
    """One co-processor: the weights in its DDR arena, and a driver per engine of the program."""

    def __init__(self, program: Program, weights: bytes, hardware):
        offset, size = program.weights
        if len(weights) != size:
            raise RunnerError(f"runtime: weights.bin has {len(weights)} bytes, the program "
                              f"expects {size}: recompile")
        if hardware.ddr.size < program.ddr_bytes:
            raise RunnerError(f"runtime: the DDR arena has {hardware.ddr.size} bytes, the program "
                              f"needs {program.ddr_bytes}")
        missing = sorted({ins.engine for ins in program.instructions} - set(hardware.register_map))
        if missing:
            raise RunnerError(f"runtime: the overlay has no {missing[0]} engine for this program")
        self.program, self.hardware = program, hardware
        self.ddr = hardware.ddr
        self.ddr[offset:offset + size] = np.frombuffer(weights, dtype=np.uint8)
        hardware.flush()
        self.drivers = {engine: EngineDriver(engine, hardware.window(engine),
                                             hardware.register_map[engine]["registers"],
                                             hardware.ddr_address)
                        for engine in sorted({ins.engine for ins in program.instructions})}
        # Register writes of every instruction, encoded once (the program never changes).
        self._writes = [self.drivers[ins.engine].encode(ins.registers)
                        for ins in program.instructions]
        for index, ins in enumerate(program.instructions):
            if any(d >= index for d in ins.deps):
                raise RunnerError(f"runtime: instruction {index} waits for a later instruction")
        self._complete = _completion(program)
        self._completed_by: dict[int, list[str]] = {}  # instruction -> tensors it completes
        for name, last in self._complete.items():
            self._completed_by.setdefault(last, []).append(name)
        self._key_source = None  # the key frame the key instructions last ran on
        self._key_tensors: dict = {}  # their tensors then (key tensors are not rewritten later)

    def run_decoder(self, source_u8, kp_source_fp16, kp_driving_fp16, *,
                    every_tensor: bool = False, new_key_frame: bool = True) -> tuple[dict, dict]:
        """Decode one frame: (outputs by role, every tensor by name if ``every_tensor``).

        A tensor is copied as soon as its last writer has finished, before any instruction that
        reuses its bytes can start (such an instruction waits for that writer). Key instructions
        run only when ``new_key_frame`` (the first frame of a GOP); otherwise ``source_u8`` must
        be the key frame they last ran on, and the tensors they wrote then are reported again.
        """
        program = self.program
        source_u8 = np.asarray(source_u8)
        if not new_key_frame and (self._key_source is None
                                  or not np.array_equal(source_u8, self._key_source)):
            raise RunnerError("runtime: a frame without a new key frame must reuse the key frame "
                              "of the last new_key_frame run")
        write_inputs(self.ddr, program, source_u8, kp_source_fp16, kp_driving_fp16)
        self.hardware.flush()
        if new_key_frame:
            self._key_source, self._key_tensors = source_u8.copy(), {}
        tensors = {}
        if every_tensor:
            tensors = {name: read_tensor(self.ddr, program, name)
                       for name, done in self._complete.items() if done < 0}
            if not new_key_frame:
                tensors.update(self._key_tensors)
        finished = [ins.phase == "key" and not new_key_frame for ins in program.instructions]
        running: dict[str, int] = {}  # engine -> the instruction it runs

        def wait(ready, what: str) -> None:
            """Retire finished instructions (copying the tensors they completed) until ready()."""

            def poll() -> bool:
                for engine, index in list(running.items()):
                    if self.drivers[engine].done():
                        del running[engine]
                        self._retire(index, tensors, every_tensor)
                        finished[index] = True
                return ready()

            wait_until(poll, what, TIMEOUT_S)

        for index, ins in enumerate(program.instructions):
            if finished[index]:
                continue
            wait(lambda: ins.engine not in running and all(finished[d] for d in ins.deps),
                 f"the co-processor, before instruction {index} ({ins.node}),")
            self.drivers[ins.engine].start(self._writes[index])
            running[ins.engine] = index
        wait(lambda: not running, "the co-processor's last instructions")
        self.hardware.invalidate()
        outputs = {key.split(".", 1)[1]: read_tensor(self.ddr, program, name)
                   for key, name in program.io.items() if key.startswith("output.")}
        return outputs, tensors

    def _retire(self, index: int, tensors: dict, every_tensor: bool) -> None:
        """Check a finished instruction's status; copy the tensors it was the last writer of
        (into ``tensors`` if ``every_tensor``, and kept for the GOP if it is a key one)."""
        ins = self.program.instructions[index]
        status = self.drivers[ins.engine].status()
        if status != 0:
            raise RunnerError(f"runtime: {ins.engine} refused instruction {index} ({ins.node}): "
                              f"{status_text(status)}")
        key = ins.phase == "key"
        names = self._completed_by.get(index, [])
        if not names or not (every_tensor or key):
            return
        self.hardware.invalidate()
        done = {name: read_tensor(self.ddr, self.program, name) for name in names}
        if every_tensor:
            tensors.update(done)
        if key:
            self._key_tensors.update(done)


def _completion(program: Program) -> dict[str, int]:
    """Each tensor's last writer (-1: written by the host)."""
    return {name: max(entry["writers"], default=-1) for name, entry in program.tensors.items()}
