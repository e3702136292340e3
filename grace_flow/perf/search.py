"""Design-space search: choose the folding (unroll, tile) of ``auto`` engine keys.

Candidates are enumerated in a fixed order (engines sorted, keys in spec order, values
ascending); each is costed with the estimate model (resources) and the frame model (latency,
energy) over the program's instructions. The winner minimises the objective among candidates
within the budget; ties go to fewer resources (the sum of used fractions), then to the earlier
candidate. Monotone by construction: a larger budget admits a superset of candidates.
"""

from __future__ import annotations

import itertools

from grace_flow.errors import FlowError
from grace_flow.engines.spec import SpecError, check_spec, conv_bandless, round_to_unroll
from grace_flow.perf.board import Board
from grace_flow.perf.budget import RESOURCES, budget, total_resources
from grace_flow.perf.estimate import engine_resources
from grace_flow.perf.frame import frame_model

#: Values tried for each searchable key (filtered by the spec's own rules, e.g. divisibility).
CANDIDATES = {
    ("conv", "unroll_in"): (1, 2, 4, 8, 16, 32),
    # Output lanes need not be a power of two: the DSP column is 220, not 256.
    ("conv", "unroll_out"): (*range(1, 17), 18, 20, 24, 28, 32),
    # Two int8 MACs per DSP48E1 or one: packing halves the MAC array's DSPs and adds logic.
    ("conv", "macs_per_dsp"): (1, 2),
    # The input band no longer grows with tile_rows × the largest stride (conv_in_rows): taller
    # tiles cost the accumulator, output and residual rows, 6 and 16 included to find the edge.
    ("conv", "tile_rows"): (2, 4, 6, 8, 16),
    # Requantizing two columns per cycle costs a second requant lane's DSPs (4, 6 with the
    # residual) and shortens every tile's last step by half its requantization.
    ("conv", "requant_lanes"): (1, 2),
    ("grid_sample", "unroll_channels"): (1, 2, 4, 8),
    ("grid_sample", "band_rows"): (4, 8, 16),
}
#: Keys searched only beside another auto key of their engine: alone they keep the spec's
#: default (packed, one requant lane), so a workflow that fixes the folding keeps its hardware.
COMPANION_KEYS = {("conv", "macs_per_dsp"), ("conv", "requant_lanes")}
OBJECTIVES = ("latency", "energy")


class SearchError(FlowError):
    """No folding of the auto keys fits the budget, or a key cannot be searched."""


def _options(specs: dict, auto_keys: dict[str, list[str]]) -> list[tuple[str, str, tuple]]:
    options = []
    for engine in sorted(auto_keys):
        for key in specs[engine]:
            if key not in auto_keys[engine]:
                continue
            if (engine, key) not in CANDIDATES:
                raise SearchError(f"engines.{engine}.{key}: the search cannot size this key; "
                                  "give it a value in the workflow")
            options.append((engine, key, CANDIDATES[(engine, key)]))
    return options


def _within(specs: dict[str, dict], limit: dict[str, int]) -> dict[str, int] | None:
    """The total resources of ``specs`` with the platform, or None when one is over ``limit``."""
    total = total_resources({engine: engine_resources(engine, spec)
                             for engine, spec in specs.items()})
    return None if any(total[key] > limit[key] for key in RESOURCES) else total


def choose_folding(specs: dict[str, dict], auto_keys: dict[str, list[str]], instructions: list,
                   board: Board, clock_mhz: float, margin: float, pixels: int,
                   objective: str = "latency", growable: dict[str, list[str]] | None = None,
                   gop: int = 1) -> tuple[dict[str, dict], list[dict]]:
    """Specs with the auto keys chosen, and the Pareto rows (binding-resource use vs objective).

    Each candidate is costed with :func:`frame_model` over a GOP of ``gop`` frames: the figure
    synth:system reports for the chosen folding.

    ``specs`` hold every key (auto ones at any valid value: they are overwritten); the input is
    not modified. A capacity named in ``growable`` (left auto in the workflow) is rounded up to
    a multiple of its unroll factor, as compile sizes it; a fixed one rules such unrolls out.
    """
    if objective not in OBJECTIVES:
        raise SearchError(f"synth.objective: {objective!r} unknown; use latency or energy")
    options = _options(specs, auto_keys)
    limit, available = budget(board, margin), board.resources.model_dump()
    rows = []
    for values in itertools.product(*(choices for _, _, choices in options)):
        trial = {engine: dict(spec) for engine, spec in specs.items()}
        for (engine, key, _), value in zip(options, values):
            trial[engine][key] = value
        for engine, spec in trial.items():
            round_to_unroll(engine, spec, (growable or {}).get(engine, []))
        try:
            for engine in {engine for engine, _, _ in options}:
                check_spec(engine, trial[engine])
        except SpecError:
            continue  # e.g. an unroll that does not divide the capacity
        if conv_bandless(trial["conv"], instructions) is not None:
            continue  # a pooled layer's kernel leaves the band no room for two rows
        total = _within(trial, limit)
        if total is None:
            continue
        frame = frame_model(instructions, trial, board, clock_mhz, pixels, gop=gop)
        rows.append({
            "choice": {f"{e}.{k}": v for (e, k, _), v in zip(options, values)},
            "specs": trial,
            "resources": total,
            "binding": max(total[k] / available[k] for k in RESOURCES),
            "fractions": sum(total[k] / available[k] for k in RESOURCES),
            "latency_cycles": frame["latency_cycles"],
            "latency_s": frame["latency_s"],
            "uj_per_pixel": frame["uj_per_pixel"],
        })
    if not rows:
        keys = ", ".join(f"engines.{e}.{k}" for e, k, _ in options) or "(none auto)"
        raise SearchError(f"no folding of {keys} fits {board.name} with margin {margin:g}; "
                          "lower the engines' capacities or the margin")
    metric = "latency_s" if objective == "latency" else "uj_per_pixel"
    best = min(rows, key=lambda row: (row[metric], row["fractions"]))
    return best["specs"], pareto(rows, metric)


def most_mac_lanes(specs: dict[str, dict], board: Board, margin: float) -> dict | None:
    """The conv folding with the most MAC lanes that fits beside the other engines as specified,
    whatever its speed: the ceiling of DSP-peak use (lanes / DSPs, every lane busy every cycle).

    Tries every unroll_in candidate with unroll_out from 1 up, conv's channel capacities rounded
    to the unrolls as compile would; returns {"unroll_in", "unroll_out", "lanes", "resources"}
    of the largest (ties: the earlier unroll_in), or None when not even one lane fits.
    """
    limit, best = budget(board, margin), None
    for unroll_in in CANDIDATES[("conv", "unroll_in")]:
        for unroll_out in itertools.count(1):
            conv = {**specs["conv"], "unroll_in": unroll_in, "unroll_out": unroll_out}
            round_to_unroll("conv", conv, ("max_in_channels", "max_out_channels"))
            try:
                check_spec("conv", conv)
            except SpecError:
                break  # unroll_out past the spec's bound
            total = _within({**specs, "conv": conv}, limit)
            if total is None:
                break  # every resource grows with the lanes
            if best is None or unroll_in * unroll_out > best["lanes"]:
                best = {"unroll_in": unroll_in, "unroll_out": unroll_out,
                        "lanes": unroll_in * unroll_out, "resources": total}
    return best


def pareto(rows: list[dict], metric: str) -> list[dict]:
    """Rows not dominated in (binding resource use, ``metric``), by increasing resource use."""
    ordered = sorted(rows, key=lambda row: (row["binding"], row[metric], row["fractions"]))
    front, best = [], float("inf")
    for row in ordered:
        if row[metric] < best:
            front.append({k: v for k, v in row.items() if k != "specs"})
            best = row[metric]
    return front

