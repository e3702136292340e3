"""keypoint engine: C-sim matches keypoint_heatmaps, sparse_motion and deformation_field."""

import numpy as np
import pytest
from csim_support import Ddr, assert_exact, run_case

from grace_flow.quant import numerics as nx
from grace_flow.quant import tables

CASES = 60
MODES = ("heatmap", "sparse", "deform")


def _keypoints(rng: np.random.Generator, count: int, case: int) -> np.ndarray:
    """Q2.13 keypoints: in the image, on its border, or far outside (clamped offsets)."""
    if case % 3 == 2:
        return rng.choice(np.array([-32768, -8192, 8192, 32767, 0], dtype=np.int16), (1, count, 2))
    return rng.integers(-9000, 9001, (1, count, 2)).astype(np.int16)


def _grid(rng, h, w, case):
    if case % 2 == 0:
        return tables.coordinate_grid(h, w)
    return rng.integers(-32768, 32768, (h, w, 2), dtype=np.int16)


def _heatmap(rng, ddr, case):
    k, h, w = int(rng.integers(1, 33)), int(rng.integers(2, 20)), int(rng.integers(2, 20))
    grid, kd, ks = _grid(rng, h, w, case), _keypoints(rng, k, case), _keypoints(rng, k, case + 1)
    table, index_shift = tables.gaussian_exp_table(float(rng.choice([0.01, 0.05, 0.5])))
    mult, shift = nx.quantize_multiplier(2.0**-15 / float(rng.choice([1 / 127, 1 / 300, 1 / 60])))
    want = nx.keypoint_heatmaps(grid, kd, ks, table, index_shift, mult, shift)[0]
    regs = dict(mode=0, grid_off=ddr.put(grid, 4), kp_driving_off=ddr.put(kd, 4),
                kp_source_off=ddr.put(ks, 4), table_off=ddr.put(table, 2), num_kp=k,
                height=h, width=w, index_shift=index_shift, mult=int(mult), shift=int(shift),
                out_off=ddr.output(np.int8, want.shape, 1))
    return regs, want


def _sparse(rng, ddr, case):
    k, h, w = int(rng.integers(1, 33)), int(rng.integers(2, 20)), int(rng.integers(2, 20))
    grid, kd, ks = _grid(rng, h, w, case), _keypoints(rng, k, case), _keypoints(rng, k, case + 1)
    want = nx.sparse_motion(grid, kd, ks)[0]
    regs = dict(mode=1, grid_off=ddr.put(grid, 4), kp_driving_off=ddr.put(kd, 4),
                kp_source_off=ddr.put(ks, 4), num_kp=k, height=h, width=w,
                out_off=ddr.output(np.int16, want.shape, 2))
    return regs, want


def _deform(rng, ddr, case):
    k, h, w = int(rng.integers(1, 33)), int(rng.integers(2, 20)), int(rng.integers(2, 20))
    grid, kd, ks = _grid(rng, h, w, case), _keypoints(rng, k, case), _keypoints(rng, k, case + 1)
    sparse = nx.sparse_motion(grid, kd, ks)
    logits = rng.integers(-128, 128, (1, k + 1, h, w), dtype=np.int8)
    if case % 4 == 1:
        logits[...] = 5  # all-equal masks
    masks = nx.softmax_masks(logits, tables.softmax_exp_table(0.05))
    want = nx.deformation_field(sparse, masks)[0]
    regs = dict(mode=2, sparse_off=ddr.put(sparse, 4), masks_off=ddr.put(masks, 2),
                channels=k + 1, height=h, width=w, out_off=ddr.output(np.int16, want.shape, 2))
    return regs, want


@pytest.mark.parametrize("case", range(CASES))
def test_keypoint_matches_golden(engine_library, case):
    """Each mode over 20 cases: identity and wild grids, keypoints on borders and far away."""
    library = engine_library("keypoint")
    rng = np.random.default_rng(4000 + case)
    mode = MODES[case % 3]
    ddr = Ddr(rng)
    regs, want = {"heatmap": _heatmap, "sparse": _sparse, "deform": _deform}[mode](
        rng, ddr, case // 3
    )
    run_case(library, ddr, regs)
    got = ddr.get(regs["out_off"], want.dtype, want.shape)
    assert_exact("keypoint", case, mode, got, want)
