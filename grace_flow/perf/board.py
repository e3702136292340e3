"""The target board as data: part, resources, PL clocks, DDR and AXI ports, power model.

Read from ``constraints/boards/<board>.yaml`` and validated once; a missing or ill-typed field is
one :class:`BoardError` line ``<file>:<line>: <key path>: <problem>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from grace_flow.errors import FlowError
from grace_flow.yamlload import YamlError, load_with_lines

_NAME = r"^[A-Za-z0-9_]+$"
_POSITIVE_INT = Annotated[int, Field(gt=0)]


class BoardError(FlowError):
    """A board file that cannot be used, or a request (clock) the board cannot meet."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Resources(_Strict):
    """Programmable-logic resources of the part, in the units the reports count."""

    LUT: _POSITIVE_INT
    FF: _POSITIVE_INT
    BRAM18: _POSITIVE_INT
    DSP: _POSITIVE_INT


class Clocks(_Strict):
    """PL clock frequencies the PS can generate exactly, and the one used by default."""

    choices_mhz: Annotated[list[Annotated[float, Field(gt=0, le=500)]], Field(min_length=1)]
    default_mhz: Annotated[float, Field(gt=0)]

    @field_validator("default_mhz")
    @classmethod
    def _default_is_a_choice(cls, value: float, info: ValidationInfo) -> float:
        choices = info.data.get("choices_mhz")
        if choices is not None and value not in choices:
            raise ValueError(f"must be one of choices_mhz ({', '.join(f'{c:g}' for c in choices)})")
        return value


class Ddr(_Strict):
    """The external memory behind the PS's DDR controller."""

    kind: str
    width_bits: _POSITIVE_INT
    mega_transfers_per_s: _POSITIVE_INT
    size_mb: _POSITIVE_INT


class HpPorts(_Strict):
    """The PS's high-performance AXI slave ports into DDR."""

    count: Annotated[int, Field(ge=1, le=4)]
    width_bits: Literal[32, 64]


class Memory(_Strict):
    """DDR, the HP ports the engines' m_axi masters use, and the control (GP) port."""

    ddr: Ddr
    hp_ports: HpPorts
    control_port: Literal["M_AXI_GP0", "M_AXI_GP1"]


class Coefficient(_Strict):
    """One power-model number and where it comes from (a report, or an assumption)."""

    value: Annotated[float, Field(ge=0)]
    source: Annotated[str, Field(min_length=1)]


class PowerModel(_Strict):
    """Board power: PS static and dynamic, PL static, PL dynamic per resource per MHz, and the
    DDR chips' energy per byte moved."""

    ps_static_w: Coefficient
    ps_dynamic_w: Coefficient
    pl_static_w: Coefficient
    dsp_w_per_mhz: Coefficient
    bram18_w_per_mhz: Coefficient
    lut_w_per_mhz: Coefficient
    ff_w_per_mhz: Coefficient
    ddr_j_per_byte: Coefficient

    def ddr_joules(self, ddr_bytes: float) -> float:
        """Energy in J of the DDR chips moving ``ddr_bytes`` bytes (read or written)."""
        return self.ddr_j_per_byte.value * ddr_bytes

    def watts(self, resources: dict[str, int], clock_mhz: float) -> dict[str, float]:
        """Estimated power in W of a design using ``resources`` at ``clock_mhz``, by part."""
        per_mhz = {"DSP": self.dsp_w_per_mhz, "BRAM18": self.bram18_w_per_mhz,
                   "LUT": self.lut_w_per_mhz, "FF": self.ff_w_per_mhz}
        pl_dynamic = sum(resources.get(key, 0) * c.value * clock_mhz for key, c in per_mhz.items())
        parts = {
            "ps": self.ps_static_w.value + self.ps_dynamic_w.value,
            "pl_static": self.pl_static_w.value,
            "pl_dynamic": pl_dynamic,
        }
        return {**parts, "total": sum(parts.values())}


class Board(_Strict):
    """A Zynq board: what synthesis targets and what the budget check and estimates read."""

    name: Annotated[str, Field(pattern=_NAME)]
    part: Annotated[str, Field(pattern=r"^[a-z0-9-]+$")]
    board_part: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]+$")]
    resources: Resources
    clocks: Clocks
    memory: Memory
    power: PowerModel

    @property
    def ddr_peak_bytes_per_s(self) -> float:
        """DDR peak bandwidth: bus width in bytes times transfers per second."""
        ddr = self.memory.ddr
        return ddr.width_bits / 8 * ddr.mega_transfers_per_s * 1e6

    def hp_peak_bytes_per_s(self, clock_mhz: float) -> float:
        """Peak of one HP port at ``clock_mhz`` (one beat per cycle), before the DDR limit."""
        return self.memory.hp_ports.width_bits / 8 * clock_mhz * 1e6

    def pl_clock_mhz(self, clock_mhz: float | None = None) -> float:
        """The board's PL clock nearest ``clock_mhz`` (default: the board's default clock).

        Within 0.01 MHz counts as a match, so 142.86 selects 1000/7 MHz; anything else the PS
        cannot generate raises :class:`BoardError`.
        """
        if clock_mhz is None:
            return self.clocks.default_mhz
        for choice in self.clocks.choices_mhz:
            if abs(choice - clock_mhz) <= 0.01:
                return choice
        choices = ", ".join(f"{c:g}" for c in self.clocks.choices_mhz)
        raise BoardError(
            f"board {self.name}: clock {clock_mhz:g} MHz is not one the PS can generate; "
            f"choose one of {choices}"
        )

    def clock_ns(self, clock_mhz: float | None = None) -> float:
        """The period in ns (rounded to ps) of :meth:`pl_clock_mhz` of ``clock_mhz``."""
        return round(1000.0 / self.pl_clock_mhz(clock_mhz), 3)


def load_board(path: str | Path) -> Board:
    """Read and validate the board file at ``path``; raise :class:`BoardError` on any problem."""
    path = Path(path)
    if not path.is_file():
        raise BoardError(f"{path}: board file not found; boards live in constraints/boards/")
    if not path.read_text(encoding="utf-8", errors="replace").strip():
        raise BoardError(f"{path.name}:1: the board file is empty")
    try:
        raw, lines = load_with_lines(path)
    except YamlError as err:
        raise BoardError(str(err)) from None
    try:
        return Board.model_validate(raw)
    except ValidationError as err:
        raise BoardError(_describe(path, lines, err)) from None


def _describe(path: Path, lines: dict[tuple[str, ...], int], err: ValidationError) -> str:
    """Pydantic's first error as ``<file>:<line>: <key>: <problem>``."""
    error = err.errors()[0]
    loc = tuple(str(part) for part in error["loc"])
    line = next((lines[loc[:end]] for end in range(len(loc), 0, -1) if loc[:end] in lines), 1)
    where = f"{path.name}:{line}: {'.'.join(loc) or '(top level)'}"
    if error["type"] == "missing":
        return f"{where}: missing required key"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message[0].lower()}{message[1:]}, got {_show(error.get('input'))}"


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "nothing" if value is None else repr(value)
