"""keypoint engine: C-sim matches keypoint_heatmaps, sparse_motion and deformation_field."""

import numpy as np
import pytest
from csim_support import assert_case

from grace_flow.csim.cases import make_case
from grace_flow.engines.spec import default_spec

CASES = 60
SPEC = default_spec("keypoint")


@pytest.mark.parametrize("case", range(CASES))
def test_keypoint_matches_golden(engine_library, case):
    """Each mode over 20 cases: identity and wild grids, keypoints on borders and far away."""
    assert_case(engine_library("keypoint"),
                make_case("keypoint", SPEC, np.random.default_rng(4000 + case), case))
