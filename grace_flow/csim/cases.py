"""Randomized self-test cases of every engine, within its spec, with golden expected outputs.

A Case is one instruction: its operands placed in a DDR image, its register values, and the
outputs the numerics ops (grace_flow.quant.numerics, the specification) compute from them. Each
case respects the spec it is drawn for (capacities, kernel sizes, strides, features, modes), so
every case is servable; the case index cycles through the spec's kernels × strides or modes so
that a few dozen cases cover all of them, and fixed residues of the index hit the edges
(saturation, capacity limits, grids far outside the image, all-equal softmax logits, ...).
The per-engine draws live in cases_conv.py and cases_ops.py.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from grace_flow.csim.ddr import Ddr, bytes_needed
from grace_flow.hls.spec import check_spec


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


@dataclass
class Draft:
    """A case before placement: operands by offset register, scalar registers, tags."""

    regs: dict[str, int]
    tags: dict[str, tuple]
    inputs: list[tuple[str, np.ndarray, int]] = field(default_factory=list)
    outputs: list[tuple[str, np.ndarray, int]] = field(default_factory=list)

    def input(self, register: str, array: np.ndarray, align: int) -> None:
        """Place ``array`` (already in its DDR dtype) and point ``register`` at it."""
        self.inputs.append((register, np.ascontiguousarray(array), align))

    def output(self, register: str, want: np.ndarray, align: int) -> None:
        """Reserve room for ``want`` and point ``register`` at it; the engine must write it."""
        self.outputs.append((register, np.ascontiguousarray(want), align))


def make_case(engine: str, spec: dict, rng: np.random.Generator, index: int) -> Case:
    """Case number ``index`` of ``engine`` for ``spec``, its random draws taken from ``rng``."""
    # Imported here: the engine modules import Draft from this one.
    from grace_flow.csim import cases_conv, cases_ops

    check_spec(engine, spec)
    draw = {"conv": cases_conv.conv_case, **cases_ops.GENERATORS}[engine]
    return _place(engine, index, rng, draw(spec, rng, index))


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
