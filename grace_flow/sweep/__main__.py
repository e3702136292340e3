"""``python -m grace_flow.sweep SWEEP.yaml [--scheduler ADDRESS | --workers N]``."""

from __future__ import annotations

import argparse
import logging
import sys
from contextlib import ExitStack

from grace_flow.sweep.plan import SweepError, load_plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grace_flow.sweep",
        description="Run a sweep's variants on Dask and print their Pareto table.")
    parser.add_argument("sweep", help="the sweep file (docs/sweep.md)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="a running Dask scheduler: its address (tcp://host:8786) or its "
                            "scheduler file (.json); default: a local cluster")
    where.add_argument("--workers", type=int, default=2, metavar="N",
                       help="workers of the local cluster, one variant each at a time "
                            "(default: 2)")
    args = parser.parse_args(argv)

    try:
        plan = load_plan(args.sweep)
    except SweepError as err:
        print(f"grace_flow: {err}", file=sys.stderr)
        return 2
    from distributed import Client, LocalCluster

    from grace_flow.sweep.run import sweep

    with ExitStack() as stack:
        try:
            if args.scheduler:
                kind = "scheduler_file" if args.scheduler.endswith(".json") else "address"
                client = stack.enter_context(Client(**{kind: args.scheduler}, timeout="20s"))
            else:
                cluster = stack.enter_context(LocalCluster(
                    n_workers=args.workers, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.ERROR))
                client = stack.enter_context(Client(cluster))
        except OSError as err:
            print(f"grace_flow: cannot reach the Dask scheduler {args.scheduler}: {err}",
                  file=sys.stderr)
            return 2
        results = sweep(plan, client)
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
