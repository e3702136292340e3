"""Engine requirements of a program, and the engine specs that serve them.

Requirements are what the instructions use (largest channel counts and widths, kernel sizes,
strides, features, modes), read from the registers, mirroring each engine's own capacity checks.
A spec is the workflow's ``engines.<engine>`` settings where every ``auto`` key is resolved:

* a capacity becomes max(default, requirement rounded up to a power of two), so a model change
  within the default capacities leaves the spec — and the engine — untouched;
* a list (kernel sizes, strides, features, modes) becomes the union of default and required;
* unroll, tile and band keys keep their default (a later design-space search may choose them).

A fixed key that cannot serve an instruction is a one-line CompileError naming the first such
layer, the need, the key and its value.
"""

from __future__ import annotations

import json

from grace_flow.compile.hazards import conv_geometry
from grace_flow.compile.lower import CompileError
from grace_flow.engines.registers import CONV_FLAGS, ENGINES, MODES
from grace_flow.engines.spec import (SpecError, check_spec, conv_bandless, conv_in_rows,
                                     default_spec, round_to_unroll)

#: Capacity keys and what one unit of them is, for the error messages.
CAPACITIES = {
    "conv": {"max_in_channels": "input channels", "max_out_channels": "output channels",
             "max_width": "pixels per input row (as read, after upsample)"},
    "grid_sample": {"max_channels": "channels", "max_width": "pixels per source row"},
    "upsample": {"max_width": "pixels per input row"},
    "elementwise": {"max_channels": "softmax channels", "max_width": "pixels per softmax row"},
    "keypoint": {"max_kp": "keypoints"},
}
#: List keys and the name of one of their entries.
LISTS = {
    "conv": {"kernel_sizes": "kernel size", "strides": "stride", "features": "feature"},
    "upsample": {"modes": "mode"},
    "elementwise": {"modes": "mode"},
    "keypoint": {"modes": "mode"},
}


def _mode(engine: str, value: int) -> str:
    return next(name for name, code in MODES[engine].items() if code == value)


def instruction_needs(engine: str, r: dict[str, int]) -> dict:
    """What one instruction needs of its engine: capacities (int) and list entries (list)."""
    if engine == "conv":
        up = 2 if r["flags"] >> CONV_FLAGS["upsample"] & 1 else 1
        conv_geometry(r)  # the registers describe a real convolution
        return {"max_in_channels": r["in_c"], "max_out_channels": r["out_c"],
                "max_width": r["in_w"] * up, "kernel_sizes": [r["kernel"]],
                "strides": [r["stride"]],
                "features": [f for f, bit in CONV_FLAGS.items() if r["flags"] >> bit & 1]}
    if engine == "grid_sample":
        return {"max_channels": r["channels"], "max_width": r["in_w"]}
    mode = _mode(engine, r.get("mode", 0))
    if engine == "upsample":
        return {"max_width": r["in_w"], "modes": [mode]}
    if engine == "elementwise":  # only softmax keeps a line of every channel
        if mode != "softmax":
            return {"modes": [mode]}
        return {"max_channels": r["channels"], "max_width": r["width"], "modes": [mode]}
    return {**({"max_kp": r["num_kp"]} if mode != "deform" else {}), "modes": [mode]}


def _canonical(engine: str, key: str, entries) -> list:
    """Entries in the fixed order: numbers ascending, names in the register table's order."""
    if key == "features":
        return [name for name in CONV_FLAGS if name in entries]
    if key == "modes":
        return [name for name in MODES[engine] if name in entries]
    return sorted(set(entries))


def requirements(program) -> dict[str, dict]:
    """Per engine, the largest capacities and every list entry the program's instructions use."""
    found: dict[str, dict] = {engine: {} for engine in ENGINES}
    for ins in program.instructions:
        for key, need in instruction_needs(ins.engine, ins.registers).items():
            have = found[ins.engine]
            have[key] = have.get(key, []) + need if isinstance(need, list) else max(
                have.get(key, 0), need)
    return {engine: {key: _canonical(engine, key, value) if isinstance(value, list) else value
                     for key, value in sorted(needs.items())} for engine, needs in found.items()}


def _power_of_two(value: int) -> int:
    return 1 << (value - 1).bit_length()


def resolve_spec(engine: str, settings: dict, required: dict) -> dict:
    """The spec of ``engine``: fixed settings as given, ``auto`` ones sized from ``required``."""
    spec = {}
    for key, default in default_spec(engine).items():
        value = settings.get(key, "auto")
        if value != "auto":
            spec[key] = value
        elif key in CAPACITIES.get(engine, {}):
            spec[key] = max(default, _power_of_two(required[key])) if key in required else default
        elif key in LISTS.get(engine, {}):
            spec[key] = _canonical(engine, key, default + required.get(key, []))
        else:
            spec[key] = default
    round_to_unroll(engine, spec, [key for key in spec if settings.get(key, "auto") == "auto"])
    try:
        check_spec(engine, spec)
    except SpecError as error:
        raise CompileError(f"compile: engines.{engine}: {error}") from None
    return spec


def check_fixed(program, specs: dict[str, dict], settings: dict[str, dict]) -> None:
    """CompileError for the first instruction a fixed spec key cannot serve."""
    for ins in program.instructions:
        fixed = settings.get(ins.engine, {})
        spec = specs[ins.engine]
        for key, need in instruction_needs(ins.engine, ins.registers).items():
            if fixed.get(key, "auto") == "auto":
                continue
            where = f"engines.{ins.engine}.{key}"
            if isinstance(need, list):
                missing = [entry for entry in need if entry not in spec[key]]
                if missing:
                    raise CompileError(
                        f"compile: layer {ins.node} needs {LISTS[ins.engine][key]} {missing[0]}, "
                        f"{where} is {json.dumps(spec[key])}: add it or set it to auto")
            elif need > spec[key]:
                raise CompileError(
                    f"compile: layer {ins.node} needs {need} {CAPACITIES[ins.engine][key]}, "
                    f"{where} is {spec[key]}: raise it or set it to auto")


def check_bands(program, conv_spec: dict) -> None:
    """CompileError for the first pooled conv layer whose kernel and stride leave the conv
    spec's input band no room for the two output rows of a pool pair."""
    ins = conv_bandless(conv_spec, program.instructions)
    if ins is not None:
        r = ins.registers
        raise CompileError(
            f"compile: layer {ins.node} (kernel {r['kernel']}, stride {r['stride']}, pooled) "
            f"needs a conv input band of {r['kernel'] + r['stride']} rows, engines.conv "
            f"(tile_rows {conv_spec['tile_rows']}) has {conv_in_rows(conv_spec)}: raise "
            "engines.conv.tile_rows or set it to auto")


def engine_specs(program, settings: dict[str, dict]) -> tuple[dict, dict]:
    """(requirements, specs) per engine for ``program`` under the workflow's ``settings``."""
    required = requirements(program)
    specs = {engine: resolve_spec(engine, settings.get(engine, {}), required[engine])
             for engine in ENGINES}
    check_fixed(program, specs, settings)
    return required, specs
