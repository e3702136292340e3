"""A sweep's variants fanned out on Dask distributed: one Dask task per variant.

Through the scheduler travel only small things: each variant's spec (its name, the workflow
content with its overrides, the target task and the project folder's path) and each result (status,
one-line reason, the tasks run, the figures: a few hundred bytes). Every artifact, the store and
the logs stay in the project folder, which every worker must see at the same path (the one machine,
or a shared filesystem on a cluster); a worker reads and writes them there directly.

A worker lost while running a variant is Dask's to handle: the scheduler gives the variant to
another worker (up to ``distributed.scheduler.allowed-failures`` times). A variant that fails is
a result, not an exception, so the sweep goes on.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

from distributed import Client, as_completed, get_worker

from grace_flow.sweep.plan import SWEEPS, Plan, Variant, leaders_first
from grace_flow.sweep.variant import failed
from grace_flow.tasks import ARTIFACTS

#: Where every sweep's report folder lives (next to the variants' folders).
SWEEP_FOLDERS = ARTIFACTS / SWEEPS
#: The store shared by every sweep of the project.
STORE = ARTIFACTS / ".store"


def sweep_folder(plan: Plan) -> Path:
    return SWEEP_FOLDERS / plan.name


def spec_of(plan: Plan, variant: Variant, project: Path) -> dict:
    """What a worker needs to run ``variant`` (JSON-able, small)."""
    return {"name": variant.name, "project": str(project), "workflow": variant.workflow,
            "workflow_path": str(plan.workflow_path.resolve()), "until": plan.until,
            "store": str((project / STORE).resolve()),
            "log": str(sweep_folder(plan) / "logs" / f"{variant.name}.log")}


def run_on_worker(spec: dict) -> dict:
    """The Dask task: the variant's flow in a child process in the project folder."""
    start = time.monotonic()
    project = Path(spec["project"])
    if not project.is_dir():
        return failed(spec["name"], f"worker on {socket.gethostname()}: project folder "
                                    f"{project} not found: workers need it at the same path "
                                    "(a shared filesystem)")
    worker = get_worker().address
    log = project / spec["log"]
    log.parent.mkdir(parents=True, exist_ok=True)
    # Appended, never truncated: a lost worker's child may still be writing to it.
    with tempfile.TemporaryDirectory() as scratch, open(log, "a") as out:
        out.write(f"== {spec['name']} on worker {worker} ==\n")
        out.flush()
        result_path = Path(scratch) / "result.json"
        child = subprocess.run([sys.executable, "-m", "grace_flow.sweep.variant",
                                str(result_path)], input=json.dumps(spec), text=True,
                               stdout=out, stderr=subprocess.STDOUT, cwd=project,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})  # a live log
        result = (json.loads(result_path.read_text()) if result_path.is_file() else
                  failed(spec["name"], f"the variant's process exited with code "
                                       f"{child.returncode}; see {spec['log']}"))
    return {**result, "worker": worker, "seconds": round(time.monotonic() - start, 3)}


def run_sweep(plan: Plan, client: Client, echo: Callable[[str], None] = print) -> list[dict]:
    """Run every valid variant of ``plan`` on ``client``'s cluster; the results in plan order
    (invalid variants are failed results without running). Call in the project folder."""
    project = Path.cwd().resolve()
    results = {v.name: failed(v.name, v.error) for v in plan.variants if v.error}
    for name, result in results.items():
        echo(_progress(result))
    futures = {}
    for variant in leaders_first(plan.variants):
        spec = spec_of(plan, variant, project)
        (project / spec["log"]).parent.mkdir(parents=True, exist_ok=True)
        (project / spec["log"]).write_text("")  # this sweep's log (see run_on_worker)
        future = client.submit(run_on_worker, spec, pure=False,
                               key=f"{variant.name}-{uuid.uuid4().hex[:8]}")
        futures[future] = variant.name
    for future in as_completed(futures):
        name = futures[future]
        try:
            result = future.result()
        except Exception as err:  # e.g. KilledWorker: every worker that took it was lost
            result = failed(name, f"{type(err).__name__}: {str(err).splitlines()[0]}")
        results[name] = result
        echo(_progress(result))
    return [{**results[v.name], "overrides": v.overrides} for v in plan.variants]


def _progress(result: dict) -> str:
    tasks = list(result["tasks"].values())
    done = (f"ran {tasks.count('ran')}, copied {tasks.count('stored')} from the store"
            if tasks else "nothing to do")
    where = f" in {result['seconds']:.1f} s on {result['worker']}" if "worker" in result else ""
    if result["status"] == "ok":
        return f"  {result['name']}: ok{where} ({done})"
    return f"  {result['name']}: FAILED{where}: {result['reason']}"
