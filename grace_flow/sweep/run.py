"""A whole sweep: plan, run on a Dask client, write the Pareto report."""

from __future__ import annotations

import json
from typing import Callable

from distributed import Client

from grace_flow.fsutil import atomic_write_bytes, atomic_write_text
from grace_flow.pareto import page_html, scatter_png, section_html, table
from grace_flow.sweep.cluster import run_sweep, sweep_folder
from grace_flow.sweep.plan import Plan

#: The files of a sweep's report folder (artifacts/sweeps/<name>/), besides logs/.
REPORT_FILES = ("results.json", "pareto.txt", "pareto.png", "pareto.html", "index.html")


def sweep(plan: Plan, client: Client, echo: Callable[[str], None] = print) -> list[dict]:
    """Run ``plan`` (:func:`load_plan`) on ``client`` from the project folder (the current one);
    print and write its report; return the variants' results."""
    echo(f"sweep {plan.name}: {len(plan.variants)} variants of {plan.workflow_path.name} up to "
         f"{plan.until}")
    results = run_sweep(plan, client, echo)
    text = write_report(plan, results)
    echo(text + f"report: {sweep_folder(plan) / 'index.html'}")
    return results


def write_report(plan: Plan, results: list[dict]) -> str:
    """The report files of ``plan`` from ``results``; returns the terminal table."""
    folder = sweep_folder(plan)
    title = f"sweep {plan.name}"
    text = table(results, title)
    atomic_write_text(folder / "results.json", json.dumps(
        {"sweep": plan.name, "workflow": plan.workflow_path.name, "until": plan.until,
         "variants": [{k: v for k, v in r.items() if k not in ("worker", "seconds")}
                      for r in results]}, indent=1) + "\n")
    atomic_write_text(folder / "pareto.txt", text)
    atomic_write_bytes(folder / "pareto.png", scatter_png(results))
    atomic_write_text(folder / "pareto.html", section_html(results, title))
    atomic_write_text(folder / "index.html", page_html(results, title))
    return text
