"""selftest_engine: every engine bit-exact on its default spec; failures reported exactly."""

import numpy as np
import pytest

from grace_flow.csim.cases import generate_cases
from grace_flow.runtime.engines import EngineError
from grace_flow.csim.selftest import selftest_engine
from grace_flow.engines.registers import ENGINES
from grace_flow.engines.spec import default_spec

#: Reduced specs: every case must stay inside them, and a library built for them serves all.
REDUCED = {
    "conv": dict(max_in_channels=8, max_out_channels=4, max_width=12, kernel_sizes=[3],
                 strides=[1], unroll_in=2, unroll_out=2, macs_per_dsp=2, in_block=4, tile_rows=1,
                 requant_lanes=2, features=["relu"]),
    "grid_sample": dict(max_channels=8, max_width=16, band_rows=4, unroll_channels=2),
    "upsample": dict(max_width=16, modes=["field"]),
    "elementwise": dict(max_channels=8, max_width=16, modes=["softmax", "mul_map"]),
    "keypoint": dict(max_kp=4, modes=["heatmap"]),
}


class PerturbingLibrary:
    """An EngineLibrary stand-in that runs the real engine, then spoils instruction ``call``."""

    def __init__(self, library, call: int, spoil):
        self.engine, self._library, self._call, self._spoil = library.engine, library, call, spoil
        self.calls = 0

    def run(self, ddr: np.ndarray, regs: dict[str, int]) -> None:
        """Run the real instruction; on call number ``call``, apply ``spoil(ddr, regs)``."""
        self._library.run(ddr, regs)
        if self.calls == self._call:
            self._spoil(ddr, regs)
        self.calls += 1


@pytest.mark.parametrize("engine", ENGINES)
def test_selftest_passes_on_default_spec(engine_library, engine):
    """50 cases per engine, all bit-exact, covering every kernel, stride, feature and mode."""
    spec = default_spec(engine)
    report = selftest_engine(engine, spec, engine_library(engine))
    assert (report["engine"], report["cases"], report["passed"]) == (engine, 50, 50)
    assert report["first_failure"] is None and len(report["spec_hash"]) == 12
    coverage = report["coverage"]
    for key, category in (("kernel_sizes", "kernels"), ("strides", "strides"),
                          ("features", "features"), ("modes", "modes")):
        if key in spec:
            assert coverage[category] == sorted(spec[key]), key
    assert coverage["edges"]


def _conv_case(index: int):
    """Case ``index`` of selftest_engine's default run of conv (seed 0, 50 cases)."""
    cases = generate_cases("conv", default_spec("conv"), np.random.default_rng(0), 50)
    return next(case for case in cases if case.index == index)


def test_selftest_reports_first_perturbed_output_byte(engine_library):
    """One output byte of case 3 flipped: case, tensor, index, got and want named exactly."""

    def spoil(ddr, regs):
        ddr[regs["out_off"] + 5] ^= 0x10

    library = PerturbingLibrary(engine_library("conv"), 3, spoil)
    report = selftest_engine("conv", default_spec("conv"), library)
    want = _conv_case(3).expected["out"][1]
    index = np.unravel_index(5, want.shape)
    got = np.int8(int(want[index]) ^ 0x10)
    assert report["passed"] == 49
    assert report["first_failure"] == {
        "case": 3, "tensor": "out",
        "problem": f"first difference at {tuple(map(int, index))}: got {got}, want {want[index]}",
    }


def test_selftest_reports_stray_write_and_refusal(engine_library):
    """A write outside the outputs names the DDR address; a refusal names the status."""

    def stray(ddr, regs):
        ddr[0] ^= 1

    library = PerturbingLibrary(engine_library("conv"), 7, stray)
    failure = selftest_engine("conv", default_spec("conv"), library)["first_failure"]
    want = int(_conv_case(7).ddr.bytes[0])
    assert failure == {"case": 7, "tensor": "ddr",
                       "problem": f"first difference at (0,): got {want ^ 1}, want {want}"}

    def refuse(ddr, regs):
        raise EngineError("conv: status 1 SHAPE: too big")

    library = PerturbingLibrary(engine_library("conv"), 0, refuse)
    failure = selftest_engine("conv", default_spec("conv"), library, count=2)["first_failure"]
    assert failure == {"case": 0, "tensor": None, "problem": "conv: status 1 SHAPE: too big"}


def _within(engine: str, spec: dict, regs: dict[str, int]) -> bool:
    """Whether an instruction's registers stay inside the reduced spec's capacities."""
    if engine == "conv":
        read_w = regs["in_w"] << (regs["flags"] >> 2 & 1)
        return (regs["kernel"] == 3 and regs["stride"] == 1 and regs["flags"] in (0, 1)
                and regs["in_c"] <= 8 and regs["out_c"] <= 4 and read_w <= 12)
    if engine == "grid_sample":
        return regs["channels"] <= 8 and regs["in_w"] <= 16
    if engine == "upsample":
        return regs["mode"] == 1 and regs["in_w"] <= 16
    if engine == "elementwise":
        return regs["mode"] in (2, 3) and regs["channels"] <= 8 and regs["width"] <= 16
    return regs["mode"] == 0 and regs["num_kp"] <= 4


@pytest.mark.parametrize("engine", ENGINES)
def test_cases_respect_a_reduced_spec(engine_library, engine):
    """No case of a reduced spec uses a kernel, stride, feature, mode or size beyond it."""
    spec = REDUCED[engine]
    cases = list(generate_cases(engine, spec, np.random.default_rng(5), 50))
    outside = [case.index for case in cases if not _within(engine, spec, case.regs)]
    assert outside == []
    report = selftest_engine(engine, spec, engine_library(engine, spec), seed=5)
    assert report["passed"] == 50, report["first_failure"]
    if engine == "conv":
        assert report["coverage"]["kernels"] == [3] and report["coverage"]["strides"] == [1]
        assert report["coverage"]["features"] == ["relu"]
