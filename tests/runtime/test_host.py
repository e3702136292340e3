"""Host side: FP16 keypoints to Q2.13 with integers only, input checks."""

import re

import numpy as np
import pytest

from grace_flow.runtime.host import HostError, kp_to_q13
from grace_flow.quant.numerics import kp_to_fixed


def test_integer_conversion_matches_the_golden_one_on_every_fp16_pattern():
    values = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    finite = values[np.isfinite(values)]
    assert np.array_equal(kp_to_q13(finite), kp_to_fixed(finite))


def test_non_finite_keypoint_is_a_one_line_error():
    with pytest.raises(HostError, match="^" + re.escape(
            "host: a keypoint is NaN or infinite: check the keypoint detector") + "$"):
        kp_to_q13(np.array([[0.5, np.inf]], np.float16))
