"""elementwise engine: C-sim matches channel_affine, apply_table, mul_by_map, softmax_masks."""

import numpy as np
import pytest
from csim_support import assert_case

from grace_flow.csim.cases import make_case
from grace_flow.engines.spec import default_spec

CASES = 64
SPEC = default_spec("elementwise")


@pytest.mark.parametrize("case", range(CASES))
def test_elementwise_matches_golden(engine_library, case):
    """Each mode over 16 cases: gamma 0, saturation, every table type, map 255, equal logits."""
    assert_case(engine_library("elementwise"),
                make_case("elementwise", SPEC, np.random.default_rng(3000 + case), case))


def test_elementwise_cases_cover_every_variant():
    """Modes take turns; every table type and softmax edge occurs among the cases."""
    cases = [make_case("elementwise", SPEC, np.random.default_rng(3000 + i), i)
             for i in range(CASES)]
    assert [c.tags["modes"][0] for c in cases[:4]] == SPEC["modes"]
    edges = {edge for c in cases for edge in c.tags["edges"]}
    assert edges >= {"saturate", "pixels", "table_uint8", "table_int8", "table_int16", "map_255",
                     "all_equal", "dominant", "max_size"}
