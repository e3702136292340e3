"""Assertions of the C-sim tests over the package's cases and exact comparison."""

import numpy as np

from grace_flow.csim.cases import Case
from grace_flow.csim.ddr import Ddr, first_mismatch
from grace_flow.csim.selftest import check_case


def assert_exact(engine: str, case: int, tensor: str, got: np.ndarray, want: np.ndarray) -> None:
    """Assert bit-exact equality, naming engine, case, tensor and the first differing index."""
    problem = first_mismatch(got, want)
    assert problem is None, f"{engine} case {case} tensor {tensor}: {problem}"


def assert_case(library, case: Case) -> None:
    """Run a package case: accepted, nothing written outside its outputs, outputs bit-exact."""
    failure = check_case(library, case)
    assert failure is None, f"{case.engine} {failure}"


def run_case(library, ddr: Ddr, regs: dict[str, int]) -> None:
    """Run one hand-built instruction and check that nothing outside its outputs changed."""
    before = ddr.bytes.copy()
    library.run(ddr.bytes, regs)
    stray = ddr.stray_write(before)
    assert stray is None, f"{library.engine}: wrote outside its output ({stray})"
