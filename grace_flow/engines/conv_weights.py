"""The conv weights in DDR in the engine's folding order (docs/engines.md §2, "Weights").

The engine reads the weights of one step (output block ob of UO = UNROLL_OUT channels, input
block ib of IB = IN_BLOCK channels) as one burst and computes, per tap t and group g of
UI = UNROLL_IN input channels, one pass that needs UI × UO weights. So DDR holds them pass by
pass: for ob, for ib, for t in 0..k²−1, for g, one *entry* of W_ENTRY_WORDS = ⌈UI·UO/8⌉ 64-bit
words whose byte u·UO + o is weight[ob·UO + o][ib·IB + g·UI + u][t]; a channel beyond out_c or
beyond the input block is 0, and so are the bytes that pad the entry to whole words. The engine
stores entry e of a step at on-chip address e (t·groups + g), a word per cycle, and a pass reads
its entry's words from the buffer's banks.

IN_BLOCK is a multiple of UNROLL_IN, so the global group index ib·IB/UI + g runs over
0..⌈in_c/UI⌉−1 and step (ob, ib) starts at entry k²·(ob·⌈in_c/UI⌉ + ib·IB/UI): the size depends
on the unroll factors only, the order within an output block on IN_BLOCK too.
"""

from __future__ import annotations

import numpy as np

from grace_flow.engines.spec import engine_constants


def conv_weight_bytes(out_c: int, in_c: int, kernel: int, spec: dict) -> int:
    """Bytes of the laid-out weights of an out_c × in_c × kernel² conv for a conv ``spec``."""
    blocks = -(-out_c // spec["unroll_out"])
    groups = -(-in_c // spec["unroll_in"])
    return 8 * engine_constants("conv", spec)["W_ENTRY_WORDS"] * kernel * kernel * blocks * groups


def conv_weight_layout(weight: np.ndarray, spec: dict) -> bytes:
    """int8 weight[out_c, in_c, k, k] as the conv engine built for ``spec`` reads it."""
    out_c, in_c, k, _ = weight.shape
    ui, uo = spec["unroll_in"], spec["unroll_out"]
    c = engine_constants("conv", spec)
    per_block, entry_bytes = c["IN_BLOCK"] // ui, 8 * c["W_ENTRY_WORDS"]  # groups of a block
    blocks, groups = -(-out_c // uo), -(-in_c // ui)
    padded = np.zeros((blocks * uo, groups * ui, k * k), np.int8)
    padded[:out_c, :in_c] = weight.reshape(out_c, in_c, k * k)
    # [block, group, tap, u, o]: one pass's entry is the trailing u × o bytes.
    entries = padded.reshape(blocks, uo, groups, ui, k * k).transpose(0, 2, 4, 3, 1)
    entries = entries.reshape(blocks, groups, k * k, ui * uo)
    entries = np.pad(entries, ((0, 0), (0, 0), (0, 0), (0, entry_bytes - ui * uo)))
    # Within an output block, input block by input block, taps outer and groups inner.
    steps = [entries[:, g0:g0 + per_block].transpose(0, 2, 1, 3).reshape(blocks, -1)
             for g0 in range(0, groups, per_block)]
    return np.concatenate(steps, axis=1).tobytes()
