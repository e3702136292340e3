"""Calibration: observers by name, pair selection, exact errors."""

import numpy as np
import pytest
import torch

from grace_flow.quant import calibrate as cal
from grace_flow.quant.fuse import fuse
from quant_helpers import SIZE, random_clips
from test_fuse import random_decoder


def test_unknown_observer_names_the_key_and_the_choices():
    with pytest.raises(cal.CalibrationError,
                       match=r"^quantize\.observer: unknown observer 'mse': use one of minmax, "
                             r"histogram, percentile$"):
        cal.make_observer("mse", 99.9)


@pytest.mark.parametrize("value", [0, 100.5, -1])
def test_percentile_out_of_range(value):
    with pytest.raises(cal.CalibrationError, match=r"^quantize\.percentile: .* is not in"):
        cal.make_observer("percentile", value)


def test_empty_calibration_set_names_the_data_key():
    message = r"^data\.clips\.calibration: no key/driving frame pairs"
    with pytest.raises(cal.CalibrationError, match=message):
        cal.select_pairs(0, 4, 2, 8)
    with pytest.raises(cal.CalibrationError, match=message):
        cal.select_pairs(3, 4, 1, 8)  # every frame is a key frame
    with pytest.raises(cal.CalibrationError, match=r"^quantize\.calibration_pairs: 0"):
        cal.select_pairs(3, 4, 2, 0)


def test_pairs_are_key_frame_and_same_gop_driving_frame():
    rows = cal.select_pairs(2, 6, 3, 100)
    assert rows.tolist() == [[c, k, t] for c in (0, 1) for k, t in
                             ((0, 1), (0, 2), (3, 4), (3, 5))]
    assert cal.select_pairs(2, 6, 3, 3).tolist() == [[0, 0, 1], [1, 0, 1], [1, 3, 5]]


def test_observers_on_known_values():
    values = torch.arange(1, 10001, dtype=torch.float32)
    minmax = cal.make_observer("minmax", 0)
    minmax.observe(-values)
    minmax.observe(values / 2)
    assert minmax.amax() == 10000.0
    percentile = cal.make_observer("percentile", 99.0)
    percentile.observe(values[:100])  # the range then grows eightfold: bins merge
    percentile.observe(values[100:])
    assert abs(percentile.amax() - 9900) <= 10000 * 2 / cal.PERCENTILE_BINS
    histogram = cal.make_observer("histogram", 0)
    histogram.observe(torch.randn(10000, generator=torch.Generator().manual_seed(0)))
    assert 2.0 < histogram.amax() < 4.5  # MSE-optimal clipping of a unit Gaussian


@pytest.mark.parametrize("observer", cal.OBSERVERS)
def test_calibrate_covers_every_int8_tensor(observer):
    graph = fuse(random_decoder(), SIZE)
    clips, keypoints = random_clips()
    amax = cal.calibrate(graph, clips, keypoints, cal.select_pairs(2, 4, 2, 4),
                         observer=observer, percentile=99.9)
    assert sorted(amax) == sorted(cal.int8_tensors(graph))
    assert all(np.isfinite(v) and v >= cal.MIN_AMAX for v in amax.values())
    # A pooled conv is calibrated before its pool, where the range is wider.
    assert "down_blocks.0" in amax and "dense_motion_network.softmax" not in amax
