"""One variant's flow: doit on the variant's own folder and state, every stage behind the store.

Runs in a child process of a Dask worker, in the project folder (``python -m
grace_flow.sweep.variant RESULT.json`` with the spec on stdin), so a variant's imports, threads
and memory never outlive it and a crash inside a stage cannot take the worker down. doit decides
what is out of date in ``artifacts/<variant>/`` exactly as for ``doit workflow=...``; a task it
runs first looks in the store, and copies the outputs when another variant (or an earlier sweep)
already made them from the same inputs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain
from doit.exceptions import TaskFailed

from grace_flow.config import ConfigError, validate_workflow
from grace_flow.perf.board import load_board
from grace_flow.sweep.store import Store, stage_key
from grace_flow.tasks import Graph, Runner, Step, flatten_files, run_stage


class Outcome:
    """What the tasks doit ran did: ``ran`` (computed and stored), ``stored`` (copied), ``failed``,
    and the first failure's one-line reason."""

    def __init__(self) -> None:
        self.tasks: dict[str, str] = {}
        self.reason: str | None = None

    def fail(self, task: str, message: str) -> None:
        self.tasks[task] = "failed"
        self.reason = self.reason or f"{task}: {message.strip().splitlines()[0]}"


def stored_runner(graph: Graph, store: Store, outcome: Outcome) -> Runner:
    """A task action maker for :meth:`Graph.creators`: each stage behind the store."""
    root = graph.paths.root.resolve()
    kept = kept_folders(graph)

    def runner(name: str, step: Step):
        stage = run_stage(step.action)
        if step.on_target:  # a deployment or a measurement on the target: always for real
            return stage
        task = step.task()
        writes = [str(Path(t).resolve().relative_to(root)) for t in task["targets"]]

        def run(**kwargs: Any) -> object:
            key = stage_key(step, task["file_dep"], writes)
            with store.lock(key):
                if store.restore(key, root) is not None:
                    outcome.tasks[name] = "stored"
                    return None
                try:
                    failed = stage(**kwargs)
                except Exception as err:  # a bug, not a user mistake: doit logs its traceback
                    outcome.fail(name, f"{type(err).__name__}: {err}")
                    raise
                if isinstance(failed, TaskFailed):
                    outcome.fail(name, failed.message)
                    return failed
                store.save(key, root, writes + kept[(step.action, step.name)],
                           {"task": name, "action": step.action, "variant": graph.workflow.name})
                outcome.tasks[name] = "ran"
                return None

        run.__name__ = stage.__name__
        return run

    return runner


def kept_folders(graph: Graph) -> dict[tuple[str, str], list[str]]:
    """Per step (action, name): the folders it fills with files it does not declare, which a
    later step reads (with Vitis: an engine's exported IP, read by synth:system). The store keeps
    them with the step's files, so a copied step leaves what a computed one would."""
    root = graph.paths.root.resolve()
    steps = [step for _, group in graph.stages() for step in group if not step.on_target]
    folders = [[Path(f).resolve() for f in flatten_files(s.untracked.values())] for s in steps]
    seen: set[Path] = set()
    kept = {}
    for i, step in enumerate(steps):
        declared = [Path(p).resolve() for p in (*step.also_writes, *step.also_reads)]
        kept[(step.action, step.name)] = [
            str(folder.relative_to(root)) for folder in folders[i]
            if folder not in seen and root in folder.parents
            and not any(folder in path.parents for path in declared)
            and any(folder in later for later in folders[i + 1:])]
        seen.update(folders[i])
    return kept


def figures(graph: Graph) -> dict[str, Any]:
    """The variant's figures from its reports, each with how it was obtained."""
    paths, found = graph.paths, {}
    quality = paths.quantize_file("quality.json")
    if quality.is_file():
        found["psnr_db"] = json.loads(quality.read_text())["int8_vs_original"]["psnr_db"]
        found["quality_label"] = "measured: int8 golden model vs the original test frames"
    if paths.system_report.is_file():
        system = json.loads(paths.system_report.read_text())
        frame = system["frame"]
        available = load_board(graph.board_path).resources.model_dump()
        found.update({
            "latency_ms": frame["latency_s"] * 1e3,
            "fps": frame["fps"],
            "uj_per_pixel": frame["uj_per_pixel"],
            "performance_label": f"{frame['label']}: cycle and power model at "
                                 f"{frame['clock_mhz']:g} MHz",
            "resources": system["resources"],
            "utilization": {k: v / available[k] for k, v in system["resources"].items()},
            "resources_label": ("measured: Vitis HLS reports" if system["toolchain"] == "vitis"
                                else "modeled: analytic estimate"),
        })
    return found


def failed(name: str, reason: str, tasks: dict | None = None) -> dict:
    """The result of a variant that failed, with its one-line reason."""
    return {"name": name, "status": "failed", "reason": reason, "tasks": tasks or {}}


def run_variant(spec: dict) -> dict:
    """Run the variant ``spec`` (name, workflow_path, workflow, until, store) up to its target
    in the current folder; its result (status, reason, tasks, figures)."""
    try:  # validated by the sweep; here again, for the files it names as this worker sees them
        workflow = validate_workflow(spec["workflow_path"], spec["workflow"], {})
    except ConfigError as err:
        return failed(spec["name"], str(err))
    graph = Graph(spec["workflow_path"], workflow)
    store, outcome = Store(spec["store"]), Outcome()
    namespace = {"DOIT_CONFIG": graph.doit_config,
                 **graph.creators(stored_runner(graph, store, outcome))}
    with store.lock(f"variant-{workflow.name}"):  # a retry waits for a lost worker's child
        code = DoitMain(ModuleTaskLoader(namespace)).run([spec["until"]])
    if code != 0:
        return failed(workflow.name, outcome.reason or f"doit exited with code {code} (see the "
                                                       "variant's log)", outcome.tasks)
    return {"name": workflow.name, "status": "ok", "reason": None, "tasks": outcome.tasks,
            "figures": figures(graph)}


def main(result_path: str) -> int:
    """Child-process entry: the spec as JSON on stdin, the result written to ``result_path``."""
    from grace_flow.fsutil import atomic_write_text

    result = run_variant(json.load(sys.stdin))
    atomic_write_text(result_path, json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
