"""Prove a C-sim engine bit-exact with the numerics ops on randomized cases within its spec.

Each case runs through the engine's EngineLibrary; its outputs must equal the golden ones bit
for bit, and no byte of the DDR image outside the outputs may change. The report says which
kernels, strides, features, modes and edge cases the cases exercised.
"""

import hashlib
import json
from typing import NamedTuple

import numpy as np

from grace_flow.csim.cases import Case, generate_cases
from grace_flow.csim.ddr import first_mismatch
from grace_flow.runtime.engines import EngineError

#: Tensor name of a failure that is a write outside the outputs (its index: the DDR address).
STRAY = "ddr"


class Failure(NamedTuple):
    """Why a case failed: its tensor (None when the engine refused it) and the problem."""

    case: int
    tensor: str | None
    problem: str

    def __str__(self) -> str:
        where = f"case {self.case}" + (f" tensor {self.tensor}" if self.tensor else "")
        return f"{where}: {self.problem}"


def spec_hash(spec: dict) -> str:
    """12 hex digits of sha256 over the canonical JSON of ``spec``."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def check_case(library, case: Case) -> Failure | None:
    """Run ``case`` on ``library`` (an EngineLibrary); None when bit-exact, else the Failure.

    A refused instruction, a stray write (tensor STRAY, index = DDR address) and the first
    differing output element, in that order, are failures.
    """
    before = case.ddr.bytes.copy()
    try:
        library.run(case.ddr.bytes, case.regs)
    except EngineError as error:
        return Failure(case.index, None, str(error))
    stray = case.ddr.stray_write(before)
    if stray is not None:
        return Failure(case.index, STRAY, stray)
    for tensor, (offset, want) in case.expected.items():
        problem = first_mismatch(case.ddr.get(offset, want.dtype, want.shape), want)
        if problem is not None:
            return Failure(case.index, tensor, problem)
    return None


def _coverage(tags: list[dict[str, tuple]]) -> dict[str, list]:
    """Every tag value seen, per category, sorted (kernels, strides, features, modes, edges)."""
    seen: dict[str, set] = {}
    for case_tags in tags:
        for category, values in case_tags.items():
            seen.setdefault(category, set()).update(values)
    return {category: sorted(values) for category, values in sorted(seen.items())}


def selftest_engine(engine: str, spec: dict, library, count: int = 50, seed: int = 0) -> dict:
    """Run ``count`` cases of ``engine`` within ``spec`` on ``library``; return the report.

    Report: engine, spec_hash, seed, cases, passed, coverage (tag category → values seen) and
    first_failure ({case, tensor, problem}, or None when every case is bit-exact).
    """
    passed, tags, first = 0, [], None
    for case in generate_cases(engine, spec, np.random.default_rng(seed), count):
        failure = check_case(library, case)
        tags.append(case.tags)
        if failure is None:
            passed += 1
        elif first is None:
            first = failure
    return {
        "engine": engine,
        "spec_hash": spec_hash(spec),
        "seed": seed,
        "cases": count,
        "passed": passed,
        "coverage": _coverage(tags),
        "first_failure": first._asdict() if first else None,
    }
