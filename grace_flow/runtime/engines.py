"""ctypes bindings of a C-sim engine library: named registers in, status code checked."""

import ctypes
from pathlib import Path

import numpy as np

from grace_flow.errors import FlowError
from grace_flow.engines.registers import REGISTERS, STATUS, register_index


class EngineError(FlowError):
    """An engine refused an instruction (its status code) or got malformed registers."""


def status_text(status: int) -> str:
    """'status <n> <NAME>: <meaning>' of an engine's return value (the STATUS table)."""
    name, meaning = STATUS.get(status, ("UNKNOWN", "unknown status"))
    return f"status {status} {name}: {meaning}"


class EngineLibrary:
    """One engine's C-sim shared library; ``run`` executes one instruction on a DDR buffer."""

    def __init__(self, library_path, engine: str):
        if engine not in REGISTERS:
            raise EngineError(f"unknown engine {engine!r}; engines: {', '.join(REGISTERS)}")
        self.engine = engine
        self._index = register_index(engine)
        self._function = getattr(ctypes.CDLL(str(Path(library_path))), f"{engine}_csim")
        self._function.restype = ctypes.c_int
        # Plain addresses: building numpy's .ctypes view costs more than a small instruction.
        self._function.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_void_p]

    def pack(self, regs: dict[str, int]) -> np.ndarray:
        """The uint32 register array for ``regs``: absent ones are 0, int32 values allowed."""
        values = np.zeros(len(self._index), dtype=np.uint32)
        for name, value in regs.items():
            if name not in self._index:
                raise EngineError(f"{self.engine}: unknown register {name!r}")
            value = int(value)
            if not -(1 << 31) <= value < 1 << 32:
                raise EngineError(f"{self.engine}: register {name} = {value} does not fit 32 bits")
            values[self._index[name]] = value & 0xFFFFFFFF
        return values

    def call(self, ddr: np.ndarray, values: np.ndarray) -> int:
        """Run one instruction on ``ddr`` (1-D contiguous uint8) with packed register ``values``
        (the uint32 array of :meth:`pack`); returns the engine's status code (0: done)."""
        if ddr.dtype != np.uint8 or ddr.ndim != 1 or not ddr.flags.c_contiguous:
            raise EngineError(f"{self.engine}: DDR must be a 1-D contiguous uint8 array")
        if not ddr.flags.writeable:
            raise EngineError(f"{self.engine}: DDR buffer is read-only")
        values = np.ascontiguousarray(values, dtype=np.uint32)
        return self._function(ddr.__array_interface__["data"][0], ddr.size,
                              values.__array_interface__["data"][0])

    def run(self, ddr: np.ndarray, regs: dict[str, int]) -> None:
        """Run one instruction on ``ddr`` (1-D contiguous uint8); EngineError if refused."""
        status = self.call(ddr, self.pack(regs))
        if status != 0:
            raise EngineError(f"{self.engine}: {status_text(status)}")
