"""Randomized self-test cases of every engine, within its spec, with golden expected outputs.

A Case is one instruction: its operands placed in a DDR image, its register values, and the
outputs the numerics ops (grace_flow.quant.numerics, the specification) compute from them. Each
case respects the spec it is drawn for (capacities, kernel sizes, strides, features, modes), so
every case is servable; the case index cycles through the spec's kernels × strides or modes so
that a few dozen cases cover all of them, and fixed residues of the index hit the edges
(saturation, capacity limits, grids far outside the image, all-equal softmax logits, ...).
The per-engine draws (Drafts) live in cases_conv.py and cases_ops.py.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from grace_flow.csim import cases_conv, cases_ops
from grace_flow.csim.ddr import Ddr, bytes_needed
from grace_flow.csim.draft import Draft
from grace_flow.engines.spec import check_spec


#: Each engine's draw: (spec, rng, index) -> Draft.
_DRAWS = {"conv": cases_conv.conv_case, **cases_ops.GENERATORS}


@dataclass
class Case:
    """One instruction of ``engine``: DDR image, registers, and expected outputs by tensor name.

    ``expected`` maps a tensor name (its register without ``_off``) to (byte offset, array);
    ``tags`` names what the case exercises (kernels, strides, features, modes, edges).
    """

    engine: str
    index: int
    ddr: Ddr
    regs: dict[str, int]
    expected: dict[str, tuple[int, np.ndarray]]
    tags: dict[str, tuple]


def make_case(engine: str, spec: dict, rng: np.random.Generator, index: int) -> Case:
    """Case number ``index`` of ``engine`` for ``spec``, its random draws taken from ``rng``."""
    check_spec(engine, spec)
    return _place(engine, index, rng, _DRAWS[engine](spec, rng, index))


def generate_cases(engine: str, spec: dict, rng: np.random.Generator, count: int) -> Iterator[Case]:
    """``count`` cases of ``engine`` within ``spec``, each from its own child of ``rng``."""
    for index, child in enumerate(rng.spawn(count)):
        yield make_case(engine, spec, child, index)


def _place(engine: str, index: int, rng: np.random.Generator, draft: Draft) -> Case:
    """Lay the draft's operands out in a DDR image just big enough for them."""
    arrays = [array for _, array, _ in draft.inputs + draft.outputs]
    ddr = Ddr(rng, bytes_needed(arrays))
    regs = dict(draft.regs)
    for register, array, align in draft.inputs:
        regs[register] = ddr.put(array, align)
    expected = {}
    for register, want, align in draft.outputs:
        regs[register] = ddr.output(want.dtype, want.shape, align)
        expected[register.removesuffix("_off")] = (regs[register], want)
    return Case(engine, index, ddr, regs, expected, draft.tags)
