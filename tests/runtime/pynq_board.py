"""A pynq Device for the tests: pynq's real Overlay, MMIO and PynqBuffer over C-sim engines.

pynq 4.0.0 builds an Overlay from a .hwh without a board (``download=False``) and routes MMIO
through a device with the REGISTER_RW capability; this device answers those register accesses
with the runtime's emulated register windows (so ap_start runs the C-sim engine) and allocates
the DDR arena as a PynqBuffer over the emulated memory. The .hwh is a real vendor file
(tests/fixtures/vendor) whose HLS IP is cloned once per engine with the engine's register map.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from pathlib import Path

from pynq.buffer import PynqBuffer
from pynq.pl_server.device import Device
from pynqmetadata.frontends import Metadata
from pynqmetadata.views.runtime import RuntimeMetadataParser
from repo_paths import VENDOR

from grace_flow.runtime.emulated import EmulatedHardware

TEMPLATE_HWH = VENDOR / "hwh" / "pynqz2_add_axilite.hwh"
TEMPLATE_IP = "scalar_add"


def _set_property(element: ET.Element, tag: str, name: str, value: str) -> None:
    for item in element.iter(tag):
        if item.get("NAME") == name:
            item.set("VALUE", value)


def board_register_map(register_map: dict, shift: int = 0x10_0000) -> dict:
    """``register_map`` moved up by ``shift``: clear of the template IP's window at 0x4000_0000."""
    return {engine: {**entry, "base": entry["base"] + shift}
            for engine, entry in register_map.items()}


def write_engines_hwh(path: Path, register_map: dict) -> Path:
    """The template .hwh plus one HLS IP per engine of ``register_map`` (base, range,
    registers), each a copy of the template's IP (which stays: the design references it)."""
    root = ET.fromstring(TEMPLATE_HWH.read_text(encoding="utf-8-sig"))
    modules = root.find("MODULES")
    template = next(m for m in modules if m.get("INSTANCE") == TEMPLATE_IP)
    memrange = next(e for e in root.iter("MEMRANGE") if e.get("INSTANCE") == TEMPLATE_IP)
    memory_map = next(p for p in root.iter() if memrange in list(p))
    for engine, entry in register_map.items():
        high = hex(entry["base"] + entry["range"] - 1)
        module = copy.deepcopy(template)
        module.set("INSTANCE", engine)
        module.set("FULLNAME", f"/{engine}")
        registers = module.find("ADDRESSBLOCKS/ADDRESSBLOCK/REGISTERS")
        prototype = registers[0]
        for register in list(registers):
            registers.remove(register)
        for name, offset in entry["registers"].items():
            register = copy.deepcopy(prototype)
            register.set("NAME", name)
            _set_property(register, "PROPERTY", "ADDRESS_OFFSET", str(offset))
            registers.append(register)
        _set_property(module, "PARAMETER", "C_S_AXI_CONTROL_BASEADDR", hex(entry["base"]))
        _set_property(module, "PARAMETER", "C_S_AXI_CONTROL_HIGHADDR", high)
        modules.append(module)
        mapped = copy.deepcopy(memrange)
        mapped.set("INSTANCE", engine)
        mapped.set("BASEVALUE", hex(entry["base"]))
        mapped.set("HIGHVALUE", high)
        memory_map.append(mapped)
    path.write_text(ET.tostring(root, encoding="unicode"), encoding="utf-8")
    return path


class EngineBoard(Device):
    """A pynq Device whose engines are C-sim libraries; it records every register write."""

    def __init__(self, libraries: dict, register_map: dict, stuck: str | None = None):
        super().__init__("grace_flow_test_board")
        self.capabilities = {"REGISTER_RW": True}
        self._libraries, self._register_map = libraries, register_map
        self.hardware: EmulatedHardware | None = None
        self.writes: list[tuple[int, int]] = []
        self.stuck = stuck  # an engine that never finishes

    def get_bitfile_metadata(self, bitfile_name, partial=False):
        return RuntimeMetadataParser(Metadata(input=Path(bitfile_name).with_suffix(".hwh")))

    def allocate(self, shape, dtype, **kwargs):
        (size,) = shape
        self.hardware = EmulatedHardware(size, self._libraries, self._register_map)
        memory = self.hardware.ddr
        return PynqBuffer(shape, dtype, buffer=memory.data, device=self, coherent=True,
                          device_address=self.hardware.ddr_address)

    def _window(self, address: int):
        for engine, entry in self._register_map.items():
            if entry["base"] <= address < entry["base"] + entry["range"]:
                return engine, self.hardware.window(engine), address - entry["base"]
        raise AssertionError(f"access outside every engine window: {address:#x}")

    def read_registers(self, address: int, length: int) -> bytes:
        engine, window, offset = self._window(address)
        value = 0 if engine == self.stuck and offset == 0 else window.read(offset)
        return value.to_bytes(length, "little")

    def write_registers(self, address: int, data: bytes) -> None:
        value = int.from_bytes(data, "little")
        self.writes.append((address, value))
        engine, window, offset = self._window(address)
        window.write(offset, value)
