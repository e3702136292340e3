"""The golden model: deterministic across processes, close to float, sensitive to its params."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grace_flow.metrics import psnr
from grace_flow.quant.calibrate import float_inputs
from grace_flow.quant.float_exec import run_float
from grace_flow.quant.golden import run_golden
from quant_helpers import tiny_quantized

HERE = Path(__file__).resolve().parent
#: int8 vs float prediction of the random tiny decoder, 2 pairs (measured 61.6 dB).
MIN_PSNR_DB = 50.0

DIGEST_SCRIPT = """
import hashlib, sys
sys.path.insert(0, sys.argv[1])
from quant_helpers import tiny_quantized
from grace_flow.quant.golden import run_golden
_, qgraph, clips, keypoints = tiny_quantized()
values = run_golden(qgraph, clips[:, 0], keypoints[:, 0], keypoints[:, 3])
digest = hashlib.sha256()
for name in sorted(values):
    digest.update(name.encode() + values[name].dtype.str.encode() + values[name].tobytes())
print(digest.hexdigest())
"""


@pytest.fixture(scope="module")
def tiny():
    return tiny_quantized()


def _psnr_vs_float(graph, qgraph, clips, keypoints):
    inputs = clips[:, 0], keypoints[:, 0], keypoints[:, 3]
    real = run_float(graph, *float_inputs(*inputs))["prediction"].numpy()
    expected = np.clip(np.round(real * 255), 0, 255).astype(np.uint8)
    got = run_golden(qgraph, *inputs)["prediction"]
    return psnr(expected, got)


def test_golden_is_identical_in_two_processes(tiny):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    digests = []
    for seed in ("1", "2"):
        run = subprocess.run([sys.executable, "-c", DIGEST_SCRIPT, str(HERE)], check=True,
                             capture_output=True, text=True, env={**env, "PYTHONHASHSEED": seed})
        digests.append(run.stdout.strip())
    _, qgraph, clips, keypoints = tiny
    values = run_golden(qgraph, clips[:, 0], keypoints[:, 0], keypoints[:, 3])
    here = hashlib.sha256()
    for name in sorted(values):
        here.update(name.encode() + values[name].dtype.str.encode() + values[name].tobytes())
    assert digests[0] == digests[1] == here.hexdigest()


def test_golden_outputs_are_integers_of_the_declared_formats(tiny):
    _, qgraph, clips, keypoints = tiny
    values = run_golden(qgraph, clips[:, 0], keypoints[:, 0], keypoints[:, 3])
    for name, fmt in qgraph.formats.items():
        assert values[name].dtype == np.dtype(fmt["dtype"]), name
        assert list(values[name].shape[1:]) == qgraph.shapes[name], name


def test_golden_is_close_to_float(tiny):
    graph, qgraph, clips, keypoints = tiny
    assert _psnr_vs_float(graph, qgraph, clips, keypoints) >= MIN_PSNR_DB


def test_a_wrong_multiplier_breaks_the_closeness(tiny):
    graph, qgraph, clips, keypoints = tiny
    broken = qgraph.params["final.mult"].copy()
    qgraph.params["final.mult"] = -broken  # a sign error in one layer's requantization
    try:
        assert _psnr_vs_float(graph, qgraph, clips, keypoints) < MIN_PSNR_DB - 20
    finally:
        qgraph.params["final.mult"] = broken
