"""The hardware layer on a PYNQ board: the bitstream loaded by pynq.Overlay, MMIO, pynq.allocate.

Each engine's register window is a pynq.MMIO at the base address and range the .hwh gives its IP
(the block design names each engine's cell after the engine), with the register offsets of the
.hwh register map; the DDR arena is one physically contiguous pynq buffer whose physical address
goes to every engine's DDR pointer register. Only this module imports pynq.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grace_flow.runtime.hardware import HardwareError


def _register_map(ip_dict: dict) -> dict:
    """register_map.json's shape from pynq's ip_dict (IPs without an AXI-Lite window skipped)."""
    return {name: {"base": ip["phys_addr"], "range": ip["addr_range"],
                   "registers": {reg: info["address_offset"]
                                 for reg, info in ip.get("registers", {}).items()}}
            for name, ip in ip_dict.items() if "phys_addr" in ip}


class PynqHardware:
    """The engines of ``bitstream`` (its .hwh beside it) and a DDR arena of ``ddr_bytes``.

    ``device`` and ``download`` go to pynq.Overlay: on a board, the active device and a download
    of the bitstream; tests pass their own pynq Device and skip the download.
    """

    def __init__(self, bitstream: Path, ddr_bytes: int, *, device=None, download: bool = True):
        import pynq

        try:
            overlay = pynq.Overlay(str(bitstream), device=device, download=download)
        except Exception as err:  # pynq raises bare errors for a missing .hwh, no FPGA manager...
            raise HardwareError(f"{bitstream}: pynq cannot load the overlay "
                                f"({type(err).__name__}: {err}); run on a PYNQ image as a user "
                                "that may program the FPGA (sudo)") from None
        self.overlay = overlay
        self.register_map = _register_map(overlay.ip_dict)
        self._windows = {name: pynq.MMIO(entry["base"], entry["range"], device=overlay.device)
                         for name, entry in self.register_map.items()}
        self.ddr = pynq.allocate((ddr_bytes,), np.uint8, target=overlay.device)
        self.ddr_address = int(self.ddr.physical_address)

    def window(self, engine: str):
        return self._windows[engine]

    def flush(self) -> None:
        """Write the ARM caches' view of the arena back to DDR, for the engines to read."""
        self.ddr.flush()

    def invalidate(self) -> None:
        """Drop cached lines of the arena, so the host reads what the engines wrote."""
        self.ddr.invalidate()
