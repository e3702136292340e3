"""The emulated hardware: the C-sim engine libraries behind register windows, DDR in host memory.

Each engine gets a register window laid out like the Vitis HLS top of that engine (0x00 CTRL,
0x04 GIER, 0x08 IP_IER, 0x0C IP_ISR, 0x10 ap_return, 0x18/0x1C the 64-bit DDR pointer, then one
32-bit data register every 8 bytes from 0x24 in the register table's order), at its own base
address. Setting ap_start runs the engine's C-sim entry point on the DDR arena with the
window's data registers and leaves ap_done, ap_idle and the status in ap_return, so the runner
drives the emulated engines exactly as it drives a board.
"""

from __future__ import annotations

import numpy as np

from grace_flow.engines.registers import REGISTERS, STATUS
from grace_flow.runtime.hardware import (AP_DONE, AP_IDLE, AP_START, CTRL, RETURN,
                                         pointer_registers)

#: Engine i's register window starts at EMULATED_BASE + i × EMULATED_STRIDE.
EMULATED_BASE, EMULATED_STRIDE = 0x4000_0000, 0x1_0000
#: The bus address the emulated engines see for ddr[0] (any value works; this one looks like DDR).
EMULATED_DDR_ADDRESS = 0x1000_0000
_CONTROL = {CTRL: 0x00, "GIER": 0x04, "IP_IER": 0x08, "IP_ISR": 0x0C, RETURN: 0x10,
            "ddr_1": 0x18, "ddr_2": 0x1C}
_FIRST_DATA, _DATA_STRIDE = 0x24, 8
_BOUNDS = next(code for code, (name, _) in STATUS.items() if name == "BOUNDS")


def emulated_register_map(engines: list[str]) -> dict:
    """The register map of the emulated overlay (register_map.json's shape, as from a .hwh)."""
    order = list(REGISTERS)
    return {
        engine: {
            "base": EMULATED_BASE + order.index(engine) * EMULATED_STRIDE,
            "range": EMULATED_STRIDE,
            "vlnv": f"grace_flow:emulated:{engine}:1.0",
            "registers": {**_CONTROL, **{reg.name: _FIRST_DATA + _DATA_STRIDE * i
                                         for i, reg in enumerate(REGISTERS[engine])}},
        }
        for engine in engines
    }


class _Window:
    """One engine's register window: 32-bit words; ap_start runs the C-sim library."""

    def __init__(self, hardware: "EmulatedHardware", library, entry: dict):
        registers = entry["registers"]
        self._hardware, self._library = hardware, library
        self._words = np.zeros(entry["range"] // 4, dtype=np.uint32)
        self._ctrl, self._return = registers[CTRL] // 4, registers[RETURN] // 4
        self._pointer = [registers[name] // 4
                         for name in pointer_registers(library.engine, registers)]
        self._data = [registers[reg.name] // 4 for reg in REGISTERS[library.engine]]

    def read(self, offset: int) -> int:
        value = int(self._words[offset // 4])
        if offset // 4 == self._ctrl:  # ap_done is clear-on-read, as in the HLS control block
            self._words[self._ctrl] &= ~np.uint32(AP_DONE)
        return value

    def write(self, offset: int, value: int) -> None:
        self._words[offset // 4] = value
        if offset // 4 == self._ctrl and value & AP_START:
            pointer = sum(int(self._words[w]) << 32 * i for i, w in enumerate(self._pointer))
            hardware = self._hardware
            status = (self._library.call(hardware.ddr, self._words[self._data])
                      if pointer == hardware.ddr_address else _BOUNDS)
            self._words[self._return] = status
            self._words[self._ctrl] = AP_DONE | AP_IDLE


class EmulatedHardware:
    """The hardware layer over C-sim libraries: register windows and a DDR arena in memory.

    ``libraries`` maps each engine to its runtime.engines.EngineLibrary; ``register_map`` is the
    package's register_map.json (emulated_register_map for the emulated overlay).
    """

    def __init__(self, ddr_bytes: int, libraries: dict, register_map: dict):
        # Garbage in DDR, as on a board, so reading a byte nobody wrote shows as a mismatch.
        self.ddr = np.random.default_rng(0).integers(0, 256, ddr_bytes, dtype=np.uint8)
        self.ddr_address = EMULATED_DDR_ADDRESS
        self.register_map = {engine: register_map[engine] for engine in libraries
                             if engine in register_map}
        self._windows = {engine: _Window(self, libraries[engine], entry)
                         for engine, entry in self.register_map.items()}

    def window(self, engine: str) -> _Window:
        return self._windows[engine]

    def flush(self) -> None:
        """Nothing to do: host and engines share one memory."""

    def invalidate(self) -> None:
        """Nothing to do: host and engines share one memory."""
