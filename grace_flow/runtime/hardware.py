"""The hardware-access layer under the program runner: register windows and the DDR arena.

Two implementations, one interface: ``pynq_hw.PynqHardware`` (a board: MMIO at the .hwh register
map, pynq.allocate) and ``emulated.EmulatedHardware`` (the C-sim engine libraries behind register
windows in host memory). The runner sees only:

* ``ddr``: the DDR arena, a 1-D contiguous uint8 numpy array of the program's ``ddr_bytes``;
  every offset register of the program counts from ``ddr[0]``;
* ``ddr_address``: the bus address of ``ddr[0]``, written to each engine's DDR pointer register;
* ``register_map``: ``{engine: {"base", "range", "registers": {name: byte offset}}}``;
* ``window(engine)``: that engine's register window, ``read(offset) -> int`` and
  ``write(offset, value)`` of 32-bit words;
* ``flush()`` before the engines read what the host wrote, ``invalidate()`` before the host reads
  what the engines wrote (the ARM caches are not coherent with the HP ports).

Each engine's window has the Vitis HLS ``ap_ctrl_hs`` layout: ``CTRL`` (bit 0 ap_start, 1 ap_done,
2 ap_idle), ``ap_return`` (the engine's status code), the DDR pointer (``ddr``, or ``ddr_1`` and
``ddr_2`` for a 64-bit pointer) and one data register per entry of the register table
(grace_flow/engines/registers.py). Data registers keep their values between runs.
"""

from __future__ import annotations

import time

from grace_flow.engines.registers import REGISTERS
from grace_flow.errors import FlowError

CTRL, RETURN = "CTRL", "ap_return"
AP_START, AP_DONE, AP_IDLE = 0x1, 0x2, 0x4


class HardwareError(FlowError):
    """A register map, engine or DDR arena the runner cannot drive."""


def pointer_registers(engine: str, registers: dict[str, int]) -> list[str]:
    """The DDR pointer register(s) of an engine: ``ddr`` (32-bit) or ``ddr_1``, ``ddr_2``."""
    for names in (["ddr"], ["ddr_1", "ddr_2"]):
        if all(name in registers for name in names):
            return names
    raise HardwareError(f"{engine}: the register map has no DDR pointer register (ddr, or ddr_1 "
                        "and ddr_2): the overlay was not built from grace_flow's engines")


class EngineDriver:
    """One engine behind its register window: start an instruction, poll for done, read status."""

    def __init__(self, engine: str, window, registers: dict[str, int], ddr_address: int):
        missing = [name for name in (CTRL, RETURN, *(r.name for r in REGISTERS[engine]))
                   if name not in registers]
        if missing:
            raise HardwareError(f"{engine}: no register {missing[0]!r} in the register map: the "
                                "overlay and this runtime disagree on the engine's interface")
        self.engine, self.window = engine, window
        self._ctrl, self._return = registers[CTRL], registers[RETURN]
        self._data = [registers[r.name] for r in REGISTERS[engine]]
        pointer = pointer_registers(engine, registers)
        for name, word in zip(pointer, (ddr_address & 0xFFFFFFFF, ddr_address >> 32)):
            window.write(registers[name], word)

    def encode(self, values: dict[str, int]) -> list[tuple[int, int]]:
        """(offset, 32-bit word) of every data register for ``values`` (absent ones are 0)."""
        unknown = sorted(set(values) - {r.name for r in REGISTERS[self.engine]})
        if unknown:
            raise HardwareError(f"{self.engine}: unknown register {unknown[0]!r}")
        return [(offset, int(values.get(reg.name, 0)) & 0xFFFFFFFF)
                for offset, reg in zip(self._data, REGISTERS[self.engine])]

    def start(self, writes: list[tuple[int, int]]) -> None:
        """Write an instruction's registers (from :meth:`encode`), then set ap_start."""
        for offset, word in writes:
            self.window.write(offset, word)
        self.window.write(self._ctrl, AP_START)

    def done(self) -> bool:
        """Whether the running instruction has finished (ap_done, or back to ap_idle)."""
        return bool(self.window.read(self._ctrl) & (AP_DONE | AP_IDLE))

    def status(self) -> int:
        """The finished instruction's status code (0: done; engines/registers.py STATUS)."""
        return self.window.read(self._return)


def wait_until(done, what: str, timeout_s: float) -> None:
    """Poll ``done()`` until it holds; HardwareError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise HardwareError(f"{what} did not finish within {timeout_s:g} s: the bitstream "
                                "and the program may not match; reload the overlay")
