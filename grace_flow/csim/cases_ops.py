"""Self-test cases of grid_sample, upsample, elementwise and keypoint against the numerics ops.

The multi-mode engines take mode modes[i mod M] for case i and pass v = i div M, the case's
number within its mode, to the mode's draw, which picks its edge cases from residues of v.
"""

import numpy as np

from grace_flow.csim.draft import Draft
from grace_flow.engines.registers import MODES
from grace_flow.quant import numerics as nx
from grace_flow.quant import tables

#: Grid kinds of grid_sample cases, in the order case i uses them (i mod 4).
GRID_KINDS = ("identity", "wild", "far", "borders")


def random_grid(rng: np.random.Generator, kind: str, out_h: int, out_w: int) -> np.ndarray:
    """A Q2.13 sampling grid [out_h, out_w, 2] of one of GRID_KINDS.

    identity: the decoder's near-identity deformation; wild: anywhere in [-1.5, 1.5] (often
    outside the band and the image); far: the whole int16 range; borders: exactly ±1, one LSB
    either side, pixel centres and the int16 extremes.
    """
    shape = (out_h, out_w, 2)
    if kind == "identity":
        base = tables.coordinate_grid(max(out_h, 2), max(out_w, 2))[:out_h, :out_w]
        noise = rng.integers(-1200, 1201, shape)
        return np.clip(base.astype(np.int32) + noise, -32768, 32767).astype(np.int16)
    if kind == "wild":
        return rng.integers(-12288, 12289, shape).astype(np.int16)
    if kind == "far":
        return rng.integers(-32768, 32768, shape, dtype=np.int16)
    special = np.array([-8192, -8191, -8193, 8192, 8191, 8193, 0, -32768, 32767], dtype=np.int16)
    return rng.choice(special, shape)


def _grid_sample(spec: dict, rng: np.random.Generator, index: int) -> Draft:
    max_c, max_w = spec["max_channels"], spec["max_width"]
    channels = int(rng.choice([c for c in (1, 3, 4, 7, 32) if c <= max_c])) if index % 7 else max_c
    # Sources taller than the band cache, so the band slides and corners fall outside it.
    in_h = int(rng.integers(1, max(41, spec["band_rows"] + 9)))
    in_w = max_w if index % 10 == 4 else int(rng.integers(1, min(max_w, 64) + 1))
    out_h, out_w = int(rng.integers(1, 25)), int(rng.integers(1, 25))
    kind = GRID_KINDS[index % len(GRID_KINDS)]
    x = rng.integers(-128, 128, (1, channels, in_h, in_w), dtype=np.int8)
    grid = random_grid(rng, kind, out_h, out_w)
    edges = [name for name, hit in (("max_channels", channels == max_c),
                                    ("max_width", in_w == max_w)) if hit]
    draft = Draft(dict(channels=channels, in_h=in_h, in_w=in_w, out_h=out_h, out_w=out_w),
                  {"grids": (kind,), "edges": tuple(edges)})
    draft.input("in_off", x, 1)
    draft.input("grid_off", grid.astype("<i2"), 2)
    draft.output("out_off", nx.grid_sample_int8(x, grid[None])[0], 1)
    return draft


def _mode(spec: dict, index: int) -> tuple[str, int]:
    """The mode of case ``index`` and its number among the cases of that mode."""
    modes = spec["modes"]
    return modes[index % len(modes)], index // len(modes)


def _resize_sizes(rng: np.random.Generator, v: int, max_w: int) -> tuple[int, int, int, int]:
    """Input and output sizes: equal, x2 / x4, or anything from 1 to 96 (shrinking too)."""
    in_h = int(rng.integers(1, 40))
    in_w = max_w if v % 10 == 9 else int(rng.integers(1, min(39, max_w) + 1))
    if v % 5 == 0:
        return in_h, in_w, in_h, in_w
    if v % 5 == 1:
        return in_h, in_w, 2 * in_h, min(4 * in_w, 2048)
    return in_h, in_w, int(rng.integers(1, 97)), int(rng.integers(1, 97))


def _upsample(spec: dict, rng: np.random.Generator, index: int) -> Draft:
    mode, v = _mode(spec, index)
    in_h, in_w, out_h, out_w = _resize_sizes(rng, v, spec["max_width"])
    if mode == "map":  # maps [C, 1, H, W] of uint8; extremes 0 and 255
        channels = int(rng.integers(1, 4))
        shape, dtype, extremes = (channels, 1, in_h, in_w), np.uint8, v % 6 == 0
    else:  # fields [C, H, W, 2] of int16; extremes bound the int32 weighted sum
        channels = int(rng.integers(1, 3))
        shape, dtype, extremes = (channels, in_h, in_w, 2), np.int16, v % 4 == 0
    info = np.iinfo(dtype)
    if extremes:
        data = rng.choice(np.array([info.min, info.max], dtype=dtype), shape)
    else:
        data = rng.integers(info.min, info.max + 1, shape, dtype=dtype)
    edges = [name for name, hit in (("max_width", in_w == spec["max_width"]),
                                    ("extremes", extremes)) if hit]
    draft = Draft(dict(mode=MODES["upsample"][mode], channels=channels, in_h=in_h, in_w=in_w,
                       out_h=out_h, out_w=out_w), {"modes": (mode,), "edges": tuple(edges)})
    draft.input("in_off", data, data.itemsize)
    if mode == "map":
        draft.output("out_off", nx.resize_map_bilinear(data, out_h, out_w)[:, 0], 1)
    else:
        draft.output("out_off", nx.resize_field_bilinear(data, out_h, out_w), 2)
    return draft


def _planes(rng: np.random.Generator, spec: dict, max_c: int) -> tuple[int, int, int]:
    """Channels, height, width of an elementwise case, within the spec's capacities."""
    return (int(rng.integers(1, min(max_c, spec["max_channels"]) + 1)), int(rng.integers(1, 20)),
            int(rng.integers(1, min(39, spec["max_width"]) + 1)))


def _affine(spec, rng, v, draft):
    c, h, w = _planes(rng, spec, 16)
    x = rng.integers(-128, 128, (1, c, h, w), dtype=np.int8)
    gamma = rng.uniform(-3, 3, c) * (rng.integers(0, 4, c) > 0)  # some channels with gamma 0
    saturate = v % 2 == 0
    beta = rng.uniform(-1e4, 1e4, c) if saturate else rng.uniform(-50, 50, c)
    mult, shift, bias = nx.channel_affine_params(0.05, gamma, beta, 0.05)
    relu = v % 3 == 0
    draft.regs.update(flags=int(relu), channels=c, height=h, width=w)
    draft.tags["edges"] = ("saturate",) if saturate else ()
    draft.input("in_off", x, 1)
    draft.input("mult_off", mult.astype("<i4"), 4)
    draft.input("shift_off", shift.astype(np.uint8), 1)
    draft.input("bias_off", bias.astype("<i8"), 8)
    draft.output("out_off", nx.channel_affine(x, mult, shift, bias, relu)[0], 1)


def _table(spec, rng, v, draft):
    c, h, w = _planes(rng, spec, 8)
    draft.regs.update(channels=c, height=h, width=w)
    if v % 4 == 3:  # the key frame: int8 code of each uint8 pixel, indexed without offset
        pixels = rng.integers(0, 256, (1, c, h, w), dtype=np.uint8)
        table = tables.pixel_table(float(rng.choice([1 / 127, 1 / 100])))
        draft.regs.update(flags=1, table_bytes=1)
        draft.tags["edges"] = ("pixels",)
        draft.input("in_off", pixels, 1)
        draft.input("table_off", table, 1)
        draft.output("out_off", nx.pixels_to_int8(pixels, table)[0], 1)
        return
    dtype = (np.uint8, np.int8, np.int16)[v % 3]
    out_scale = {np.uint8: 1 / 256, np.int8: 1 / 127, np.int16: 1 / 30000}[dtype]
    function = (lambda t: 1 / (1 + np.exp(-t))) if dtype == np.uint8 else np.tanh
    table = tables.build_table(function, 0.05, out_scale, dtype)
    x = rng.integers(-128, 128, (1, c, h, w), dtype=np.int8)
    draft.regs.update(table_bytes=table.itemsize)
    draft.tags["edges"] = (f"table_{np.dtype(dtype).name}",)
    draft.input("in_off", x, 1)
    draft.input("table_off", table, 2)
    draft.output("out_off", nx.apply_table(x, table)[0], 2)


def _mul_map(spec, rng, v, draft):
    c, h, w = _planes(rng, spec, 16)
    x = rng.integers(-128, 128, (1, c, h, w), dtype=np.int8)
    m = rng.integers(0, 256, (1, 1, h, w), dtype=np.uint8)
    if v % 4 == 2:
        m[...] = 255
    draft.regs.update(channels=c, height=h, width=w)
    draft.tags["edges"] = ("map_255",) if v % 4 == 2 else ()
    draft.input("in_off", x, 1)
    draft.input("map_off", m, 1)
    draft.output("out_off", nx.mul_by_map(x, m)[0], 1)


def _softmax(spec, rng, v, draft):
    if v % 4 == 2:  # the line buffer full: every channel of the widest row
        c, h, w = spec["max_channels"], int(rng.integers(1, 4)), spec["max_width"]
    else:
        c, h, w = _planes(rng, spec, 64)
    x = rng.integers(-128, 128, (1, c, h, w), dtype=np.int8)
    edges = {2: "max_size", 3: "all_equal", 1: "dominant"}.get(v % 4)
    if v % 4 == 3:
        x[...] = rng.integers(-128, 128, dtype=np.int8)
    elif v % 4 == 1:  # one channel dominates, the others get table entry 255
        x[:, 0] = 127
        x[:, 1:] = -128
    table = tables.softmax_exp_table(float(rng.choice([0.01, 0.05, 0.2])))
    draft.regs.update(channels=c, height=h, width=w)
    draft.tags["edges"] = (edges,) if edges else ()
    draft.input("in_off", x, 1)
    draft.input("table_off", table.astype("<u2"), 2)
    draft.output("out_off", nx.softmax_masks(x, table)[0], 2)


def _elementwise(spec: dict, rng: np.random.Generator, index: int) -> Draft:
    mode, v = _mode(spec, index)
    draft = Draft({"mode": MODES["elementwise"][mode]}, {"modes": (mode,)})
    {"affine": _affine, "table": _table, "mul_map": _mul_map, "softmax": _softmax}[mode](
        spec, rng, v, draft
    )
    return draft


def _keypoints(rng: np.random.Generator, count: int, v: int) -> np.ndarray:
    """Q2.13 keypoints [1, count, 2]: in the image, or (v mod 3 = 2) on its border and far out."""
    if v % 3 == 2:
        return rng.choice(np.array([-32768, -8192, 8192, 32767, 0], dtype=np.int16), (1, count, 2))
    return rng.integers(-9000, 9001, (1, count, 2)).astype(np.int16)


def _keypoint(spec: dict, rng: np.random.Generator, index: int) -> Draft:
    mode, v = _mode(spec, index)
    k = spec["max_kp"] if v % 5 == 4 else int(rng.integers(1, spec["max_kp"] + 1))
    h, w = int(rng.integers(2, 20)), int(rng.integers(2, 20))
    identity = v % 2 == 0
    grid = (tables.coordinate_grid(h, w) if identity
            else rng.integers(-32768, 32768, (h, w, 2), dtype=np.int16))
    kp_driving, kp_source = _keypoints(rng, k, v), _keypoints(rng, k, v + 1)
    edges = ["identity_grid" if identity else "wild_grid"]
    edges += ["far_keypoints"] if 2 in (v % 3, (v + 1) % 3) else []
    edges += ["max_kp"] if k == spec["max_kp"] else []
    draft = Draft(dict(mode=MODES["keypoint"][mode], height=h, width=w),
                  {"modes": (mode,)})
    if mode == "deform":
        sparse = nx.sparse_motion(grid, kp_driving, kp_source)
        logits = rng.integers(-128, 128, (1, k + 1, h, w), dtype=np.int8)
        if v % 4 == 1:
            logits[...] = 5
            edges.append("all_equal_masks")
        masks = nx.softmax_masks(logits, tables.softmax_exp_table(0.05))
        draft.regs.update(channels=k + 1)
        draft.input("sparse_off", sparse.astype("<i2"), 4)
        draft.input("masks_off", masks.astype("<u2"), 2)
        draft.output("out_off", nx.deformation_field(sparse, masks)[0], 2)
    else:
        draft.regs.update(num_kp=k)
        draft.input("grid_off", grid.astype("<i2"), 4)
        draft.input("kp_driving_off", kp_driving.astype("<i2"), 4)
        draft.input("kp_source_off", kp_source.astype("<i2"), 4)
        if mode == "heatmap":
            table, index_shift = tables.gaussian_exp_table(float(rng.choice([0.01, 0.05, 0.5])))
            out_scale = float(rng.choice([1 / 127, 1 / 300, 1 / 60]))
            mult, shift = nx.quantize_multiplier(2.0**-15 / out_scale)
            draft.regs.update(index_shift=index_shift, mult=int(mult), shift=int(shift))
            draft.input("table_off", table.astype("<u2"), 2)
            want = nx.keypoint_heatmaps(grid, kp_driving, kp_source, table, index_shift, mult,
                                        shift)[0]
            draft.output("out_off", want, 1)
        else:
            draft.output("out_off", nx.sparse_motion(grid, kp_driving, kp_source)[0], 2)
    draft.tags["edges"] = tuple(edges)
    return draft


#: The draw of each engine's case (conv's is in cases_conv.py).
GENERATORS = {"grid_sample": _grid_sample, "upsample": _upsample, "elementwise": _elementwise,
              "keypoint": _keypoint}
