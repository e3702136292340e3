"""A self-test case before placement: what the per-engine draws return to cases.make_case."""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Draft:
    """Operands by offset register, scalar registers and tags of one case, not yet in DDR."""

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
