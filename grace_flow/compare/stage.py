"""`doit compare`: this algorithm version next to another, from what each has built.

Each side is a summary the graph makes of a version (its workflow file, settings, the input
digest of every task, which tasks are built for exactly these inputs, and where its results
live). The comparison says which workflow keys differ, which tasks that makes rebuild (and which
may follow, if their inputs come out different), and puts quality, rate, resources, latency and
energy side by side. A figure a version has not built says which task builds it.
"""

from __future__ import annotations

import json
from pathlib import Path

from grace_flow.compare.versions import changed_keys
from grace_flow.fsutil import atomic_write_text

#: (row label, result file key, task that builds it, path into its JSON, unit or format)
ROWS = [
    ("float PSNR (predicted frames)", "float_quality", "codec:quality",
     ("decoder", "psnr_db"), "dB"),
    ("int8 vs float PSNR", "int8_quality", "quantize", ("int8_vs_float", "psnr_db"), "dB"),
    ("bits per pixel", "bitrate", "codec:encode", ("mean_bits_per_pixel",), ""),
    ("kbps", "bitrate", "codec:encode", ("mean_kbps",), ""),
    ("LUT", "system", "synth:system", ("resources", "LUT"), ""),
    ("FF", "system", "synth:system", ("resources", "FF"), ""),
    ("BRAM18", "system", "synth:system", ("resources", "BRAM18"), ""),
    ("DSP", "system", "synth:system", ("resources", "DSP"), ""),
    ("latency per frame (modeled)", "system", "synth:system", ("frame", "latency_s"), "s"),
    ("fps (modeled)", "system", "synth:system", ("frame", "fps"), ""),
    ("energy (modeled)", "system", "synth:system", ("frame", "uj_per_pixel"), "uJ/pixel"),
]


def _figure(version: dict, key: str, task: str, path: tuple[str, ...]):
    """The figure, or None when the version has not built it for its current inputs."""
    file = version["files"][key]
    if not version["built"].get(task) or not Path(file).is_file():
        return None
    value = json.loads(Path(file).read_text())
    for part in path:
        value = value[part]
    return value


def _show(value, unit: str) -> str:
    if isinstance(value, float):
        text = f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    else:
        text = f"{value:,}"
    return f"{text} {unit}".strip()


def _downstream(version: dict, changed: set[str]) -> list[str]:
    """Tasks that read, transitively, a file a changed task writes (they rerun if it changes)."""
    writes = {task: set(files) for task, files in version["writes"].items()}
    reads = {task: set(files) for task, files in version["reads"].items()}
    reached, todo = set(), list(changed)
    while todo:
        outputs = writes.get(todo.pop(), set())
        for task, inputs in reads.items():
            if task not in reached | changed and inputs & outputs:
                reached.add(task)
                todo.append(task)
    return sorted(reached)


def _same_spec(ours: Path, theirs: Path) -> str:
    """Whether two compiled engine specs are equal: then the engine's tasks do not rerun."""
    if not (Path(ours).is_file() and Path(theirs).is_file()):
        return "unknown (compile both versions)"
    same = json.loads(Path(ours).read_text()) == json.loads(Path(theirs).read_text())
    return "same hardware" if same else "differs: its hls, csim and synth tasks rerun"


def compare_versions(ours: dict, theirs: dict, out_path: Path) -> dict:
    """Compare two version summaries; print the table, write ``out_path`` (JSON), return it."""
    keys = changed_keys(ours["settings"], theirs["settings"])
    rebuild = sorted(task for task in ours["digests"]
                     if ours["digests"][task] != theirs["digests"].get(task))
    rows, missing = [], {}
    for label, key, task, path, unit in ROWS:
        values = [_figure(version, key, task, path) for version in (ours, theirs)]
        for version, value in zip((ours, theirs), values):
            if value is None:
                missing.setdefault(version["label"], set()).add(task)
        rows.append({"figure": label, "unit": unit, "ours": values[0], "theirs": values[1]})
    result = {
        "ours": {"label": ours["label"], "workflow": ours["workflow"]},
        "theirs": {"label": theirs["label"], "workflow": theirs["workflow"]},
        "changed_keys": {key: list(pair) for key, pair in keys.items()},
        "rebuild": rebuild,
        "may_follow": _downstream(ours, set(rebuild)),
        "engines": {engine: _same_spec(ours["specs"][engine], theirs["specs"][engine])
                    for engine in ours["specs"]},
        "rows": rows,
        "missing": {label: sorted(tasks) for label, tasks in missing.items()},
        "build_commands": {version["label"]: f"doit workflow={version['workflow']} "
                           + " ".join(sorted(missing[version["label"]]))
                           for version in (ours, theirs) if version["label"] in missing},
    }
    print(format_comparison(result))
    atomic_write_text(out_path, json.dumps(result, indent=1, default=str) + "\n")
    return result


def format_comparison(result: dict) -> str:
    """The comparison as terminal text: keys, rebuilds, then the side-by-side table."""
    ours, theirs = result["ours"]["label"], result["theirs"]["label"]
    lines = [f"{ours} vs {theirs}"]
    if result["changed_keys"]:
        lines.append("workflow keys that differ:")
        lines += [f"  {key}: {a!r} -> {b!r}" for key, (a, b) in result["changed_keys"].items()]
    else:
        lines.append("workflow keys that differ: none")
    lines.append("tasks with other inputs (rebuild): " + (", ".join(result["rebuild"]) or "none"))
    if result["may_follow"]:
        lines.append("then, if their outputs differ: " + ", ".join(result["may_follow"]))
    lines += [f"engine {engine}: {verdict}" for engine, verdict in result["engines"].items()]
    width = max(len(row["figure"]) for row in result["rows"])
    lines.append(f"\n{'':{width}}  {ours:>22}  {theirs:>22}")
    for row in result["rows"]:
        cells = [_show(v, row["unit"]) if v is not None else "not built"
                 for v in (row["ours"], row["theirs"])]
        lines.append(f"{row['figure']:{width}}  {cells[0]:>22}  {cells[1]:>22}")
    for label, command in result["build_commands"].items():
        lines.append(f"{label}: not built for these inputs; build with: {command}")
    return "\n".join(lines)
