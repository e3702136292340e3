"""A sweep file: a base workflow and its variants, each a set of overrides of workflow keys.

```yaml
name: folding                   # the sweep's report: artifacts/sweeps/folding/
workflow: ../workflow.yaml      # the base algorithm version, relative to this file
until: synth:system             # the last task each variant runs
grid:                           # every combination of these values ...
  engines.conv.unroll_out: [2, 4]
  model.num_kp: [4, 6]
variants:                       # ... and these named variants
  - name: folding_wide
    set: {engines.conv.unroll_in: 8}
```

A key is a dotted path of workflow.yaml. Each variant is the base workflow with its overrides,
validated exactly like a workflow file: a bad override makes that variant fail with the one-line
message of :func:`grace_flow.config.validate_workflow`, naming the sweep file's line; the other
variants still run. A mistake in the sweep file itself is one :class:`SweepError` line.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grace_flow.config import (ConfigError, key_place, load_workflow, resolve,
                               validate_workflow)
from grace_flow.errors import FlowError
from grace_flow.tasks import Graph
from grace_flow.yamlload import YamlError, load_with_lines

NAME = r"^[A-Za-z0-9_]{1,64}$"
#: The folder under artifacts/ holding every sweep's report (so no variant may take the name).
SWEEPS = "sweeps"


class SweepError(FlowError):
    """A sweep file that cannot be used; one line naming the file, line and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class NamedVariant(_Strict):
    """One variant written out: its name and its overrides."""

    name: Annotated[str, Field(pattern=NAME, description="Its artifact folder name.")]
    set: dict[str, Any] = Field(description="Dotted workflow key → value.")


class SweepFile(_Strict):
    """The schema of a sweep file."""

    name: Annotated[str, Field(pattern=NAME, description="The sweep's report folder name.")]
    workflow: str = Field(description="The base workflow file, relative to the sweep file.")
    until: str = Field("synth:system", description="The last task each variant runs.")
    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(
        {}, description="Dotted workflow key → values; every combination is a variant.")
    variants: list[NamedVariant] = Field([], description="Variants with names of their own.")


@dataclass(frozen=True)
class Variant:
    """One variant: the base workflow with ``overrides``; ``error`` when they do not validate."""

    name: str
    overrides: dict[str, Any]
    #: The variant's workflow content (the base's raw YAML with the overrides), when valid.
    workflow: Optional[dict]
    error: Optional[str] = None
    #: The digest of each step's inputs, in flow order (what the variant shares with others).
    digests: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """A loaded sweep: what to run and where its workflow's named files resolve."""

    name: str
    workflow_path: Path
    until: str
    variants: list[Variant]


def load_plan(path: str | Path) -> Plan:
    """Read and validate the sweep file at ``path``; expand it into variants."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"{path}: sweep file not found")
    try:
        raw, lines = load_with_lines(path)
    except YamlError as err:
        raise SweepError(str(err)) from None
    try:
        sweep = SweepFile.model_validate(raw)
    except ValidationError as err:
        raise SweepError(_first_error(path, lines, err)) from None
    workflow_path = resolve(path, sweep.workflow)
    if not workflow_path.is_file():
        raise SweepError(f"{key_place(path, lines, ('workflow',))}: workflow: file "
                         f"{sweep.workflow!r} does not exist (paths are relative to {path.name}'s "
                         "folder)")
    try:
        base = load_workflow(workflow_path)
        base_raw, base_lines = load_with_lines(workflow_path)
    except ConfigError as err:
        raise SweepError(f"{key_place(path, lines, ('workflow',))}: workflow: {err}") from None
    tasks = task_names(Graph(workflow_path, base))
    if sweep.until not in tasks:
        guess = difflib.get_close_matches(sweep.until, tasks, n=1)
        hint = f"did you mean {guess[0]!r}?" if guess else f"tasks: {', '.join(tasks)}"
        raise SweepError(f"{key_place(path, lines, ('until',))}: until: {sweep.until!r} is not a "
                         f"task of {workflow_path.name}; {hint}")
    named = [(name, combo, {key: key_place(path, lines, ("grid", key)) for key in combo})
             for name, combo in _grid(sweep)]
    for i, entry in enumerate(sweep.variants):
        place = {key: key_place(path, lines, ("variants", str(i), "set", key)) for key in entry.set}
        named.append((entry.name, entry.set, place))
    names = [name for name, _, _ in named]
    for i, entry in enumerate(sweep.variants):
        if names.count(entry.name) > 1 or entry.name == SWEEPS:
            raise SweepError(f"{key_place(path, lines, ('variants', str(i), 'name'))}: "
                             f"variants.{i}.name: {entry.name!r} is taken (by another variant, "
                             f"or the sweeps' folder)")
    if not named:
        raise SweepError(f"{path.name}:1: (top level): no variants: give a grid: or variants:")
    variants = [_variant(name, overrides, places, workflow_path, base_raw, base_lines)
                for name, overrides, places in named]
    return Plan(sweep.name, workflow_path, sweep.until, variants)


def task_names(graph: Graph) -> list[str]:
    """Every name doit accepts for a task of ``graph``: groups and their sub-tasks."""
    names = []
    for creator, create in graph.creators().items():
        group = creator.removeprefix("task_")
        made = create()
        names += [group, *([] if isinstance(made, dict) else
                           (f"{group}:{task['name']}" for task in made))]
    return names


def _grid(sweep: SweepFile) -> list[tuple[str, dict[str, Any]]]:
    """Every combination of the grid's values, named ``<sweep>_<key><value>...`` from each key's
    last part, or ``<sweep>_<index>`` when values are lists or mappings, or the names are not
    all usable and distinct."""
    if not sweep.grid:
        return []
    combos = [dict(zip(sweep.grid, values)) for values in itertools.product(*sweep.grid.values())]
    names = ["_".join([sweep.name, *(_tag(key, value) for key, value in combo.items())])
             for combo in combos]
    scalars = all(isinstance(v, (str, int, float)) for combo in combos for v in combo.values())
    fit = scalars and all(re.match(NAME, n) for n in names) and len(set(names)) == len(names)
    if not fit:
        names = [f"{sweep.name}_{i:03d}" for i in range(len(combos))]
    return list(zip(names, combos))


def _tag(key: str, value: Any) -> str:
    """``unroll_out2`` for ``engines.conv.unroll_out: 2`` (other characters of the value: p)."""
    return key.rsplit(".", 1)[-1] + re.sub(r"[^A-Za-z0-9]", "p", str(value))


def _variant(name: str, overrides: dict[str, Any], places: dict[str, str], workflow_path: Path,
             base_raw: dict, base_lines: dict) -> Variant:
    """The base workflow with ``overrides``, validated; ``places`` says where each was written."""
    raw = copy.deepcopy(base_raw)
    raw["name"] = name
    lines = dict(base_lines)
    try:
        for key, value in overrides.items():
            keys = tuple(key.split("."))
            # An override is written at its place in the sweep file: its key, everything below
            # it, and the sections it creates.
            lines = {k: v for k, v in lines.items() if k[:len(keys)] != keys}
            lines.update((made, places[key]) for made in _set(raw, keys, value, places[key]))
        workflow = validate_workflow(workflow_path, raw, lines)
    except ConfigError as err:
        return Variant(name, overrides, None, str(err))
    stages = Graph(workflow_path, workflow).stages()
    return Variant(name, overrides, raw, digests=tuple(step.inputs.digest() for _, steps in stages
                                                       for step in steps))


def leaders_first(variants: list[Variant]) -> list[Variant]:
    """The valid variants in the order to start them: grouped by their inputs up to the first
    step where variants differ (e.g. one group per trained model when the grid varies keypoints
    and foldings), one of each group in turn. Workers then compute different shared stages at
    once, instead of one waiting for the stage another is computing."""
    valid = [v for v in variants if v.error is None]
    first = next((i for i in range(min((len(v.digests) for v in valid), default=0))
                  if len({v.digests[i] for v in valid}) > 1), None)
    if first is None:
        return valid
    groups: dict[tuple, list[Variant]] = {}
    for variant in valid:
        groups.setdefault(variant.digests[:first + 1], []).append(variant)
    rounds = itertools.zip_longest(*groups.values())
    return [variant for round_ in rounds for variant in round_ if variant is not None]


def _set(raw: dict, keys: tuple[str, ...], value: Any, place: str) -> list[tuple[str, ...]]:
    """Set ``raw[keys[0]][keys[1]]... = value``; the key paths it wrote or created."""
    if keys == ("name",):
        raise ConfigError(f"{place}: name: variants are named by the sweep; use variants: "
                          "with a name of its own")
    section, made = raw, [keys]
    for depth, key in enumerate(keys[:-1]):
        if key not in section:
            made.append(keys[:depth + 1])
        section = section.setdefault(key, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{place}: {'.'.join(keys)}: {'.'.join(keys[:depth + 1])} is a "
                              "value, not a section")
    section[keys[-1]] = value
    return made


def _first_error(path: Path, lines: dict, err: ValidationError) -> str:
    error = err.errors()[0]
    loc = tuple(str(part) for part in error["loc"])
    where = f"{key_place(path, lines, loc)}: {'.'.join(loc) or '(top level)'}"
    if error["type"] == "extra_forbidden":
        model = NamedVariant if loc[0] == "variants" else SweepFile
        return f"{where}: unknown key; known keys: {', '.join(model.model_fields)}"
    if error["type"] == "missing":
        return f"{where}: missing required key"
    if error["type"] == "too_short":
        return f"{where}: expected at least one value, got {error.get('input')!r}"
    if error["type"] == "string_pattern_mismatch":
        return f"{where}: expected a name of letters, digits and _ (1-64 characters)"
    return f"{where}: {error['msg'][0].lower()}{error['msg'][1:]}, got {error.get('input')!r}"
