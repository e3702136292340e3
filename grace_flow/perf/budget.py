"""Budget check: engines plus the fixed platform logic against the board, less a margin.

The platform is what every overlay carries besides the engines: the PS7 block, its AXI-Lite
interconnect and the reset logic, read from the utilization report of the smallest PS design
among the fixtures (pynq_add: PS7 + one tiny s_axilite HLS IP, so a slight overestimate), plus
the HP-side interconnect that joins the engines' m_axi masters to the HP ports.
"""

from __future__ import annotations

from grace_flow.errors import FlowError
from grace_flow.perf.board import Board

RESOURCES = ("LUT", "FF", "BRAM18", "DSP")

#: Platform overhead (fixture vivado/pynq_add_utilization_placed.rpt, Vivado 2020.2).
PLATFORM = {
    "LUT": 501,
    "FF": 607,
    "BRAM18": 0,
    "DSP": 0,
    "source": "pynq_add_utilization_placed.rpt: PS7, AXI-Lite interconnect, reset, add IP",
}
#: HP-side interconnect of several m_axi masters: the two SmartConnects into HP0/HP1 (5960 +
#: 2293 LUT, 7522 + 3277 FF) of the public post-synthesis breakdown that calibration.py's
#: MAXI_ADAPTER comes from (an HLS accelerator with five m_axi bundles on xc7z020).
HP_INTERCONNECT = {"LUT": 8253, "FF": 10799, "BRAM18": 0, "DSP": 0}

#: Workflow keys that shrink each resource of each engine, most effective first.
FIX_KEYS = {
    "DSP": {"conv": ["unroll_out", "unroll_in"], "grid_sample": ["unroll_channels"]},
    "BRAM18": {
        # conv's buffers scale with the input block, not with max_in_channels; its weight
        # buffer has a bank per 8 MAC lanes.
        "conv": ["max_width", "in_block", "tile_rows", "kernel_sizes", "unroll_out", "unroll_in"],
        "grid_sample": ["max_channels", "band_rows", "max_width"],
        "upsample": ["max_width"],
        "elementwise": ["max_channels", "max_width"],
        "keypoint": ["max_kp"],
    },
    "LUT": {"conv": ["unroll_out", "unroll_in"], "grid_sample": ["unroll_channels"]},
    "FF": {"conv": ["unroll_out", "unroll_in"], "grid_sample": ["unroll_channels"]},
}


class BudgetError(FlowError):
    """The engines do not fit the board with the requested margin."""


def total_resources(used: dict[str, dict]) -> dict[str, int]:
    """Sum of every engine's resources plus the platform overhead."""
    return {key: platform(key) + sum(r[key] for r in used.values()) for key in RESOURCES}


def platform(key: str) -> int:
    """The fixed logic of ``key`` besides the engines: PS7 side and HP interconnect."""
    return PLATFORM[key] + HP_INTERCONNECT[key]


def budget(board: Board, margin: float) -> dict[str, int]:
    """Usable resources: the board's, less ``margin`` (a fraction) of each, rounded down."""
    available = board.resources.model_dump()
    return {key: int(available[key] * (1 - margin)) for key in RESOURCES}


def over_budget(used: dict[str, dict], board: Board, margin: float) -> list[str]:
    """The resources over budget (empty when the design fits)."""
    total, limit = total_resources(used), budget(board, margin)
    return [key for key in RESOURCES if total[key] > limit[key]]


def check_budget(used: dict[str, dict], board: Board, margin: float) -> dict[str, int]:
    """Return the total resources, or raise BudgetError naming each resource over, the engines
    using it and the workflow keys that would bring it down."""
    over = over_budget(used, board, margin)
    if not over:
        return total_resources(used)
    total, limit = total_resources(used), budget(board, margin)
    parts = []
    for key in over:
        users = sorted((e for e in used if used[e][key]), key=lambda e: (-used[e][key], e))
        who = ", ".join(f"{e} {used[e][key]}" for e in users)
        # Keys of the engines holding at least a tenth of the engines' share: the ones that help.
        share = sum(used[e][key] for e in users)
        fixes = [f"engines.{e}.{k}" for e in users if 10 * used[e][key] >= share
                 for k in FIX_KEYS[key].get(e, [])]
        parts.append(f"{key} {total[key]} > {limit[key]} ({who}, platform {platform(key)}; "
                     f"lower {', '.join(fixes) or 'nothing configurable'})")
    raise BudgetError(f"over budget on {board.name} with margin {margin:g}: " + "; ".join(parts))
