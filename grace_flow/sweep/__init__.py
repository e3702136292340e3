"""Variant sweeps: many algorithm versions and engine foldings of one workflow, run on Dask.

``plan`` reads a sweep file into variants, ``cluster`` runs them on a Dask cluster, ``variant``
is one variant's flow (doit) behind the shared ``store``, ``run`` ties them together and writes
the Pareto report; ``python -m grace_flow.sweep SWEEP.yaml`` is the command (docs/sweep.md).
"""
