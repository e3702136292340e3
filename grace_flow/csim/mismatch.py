"""Which instruction first differs from the golden model, given every tensor of a frame.

The byte spans each instruction writes come from its registers (compile/hazards.py), so the
instruction that wrote the first differing element is named, not the consequences of its error.
"""

from __future__ import annotations

import numpy as np

from grace_flow.compile.hazards import write_spans
from grace_flow.engines.program import Program


def compare_with_golden(program: Program, ddr_tensors: dict, golden: dict) -> dict | None:
    """None if every tensor in both equals its golden value, else the earliest mismatch.

    The mismatch names the instruction that wrote the first differing element (engine, index,
    node), the tensor, the index and both values; tensors are compared in the order their
    writers ran, so the first wrong instruction is reported, not its consequences.
    """
    found = []
    for name in sorted(set(ddr_tensors) & set(golden)):
        got, want = np.asarray(ddr_tensors[name]), np.asarray(golden[name])
        if got.shape != want.shape or got.dtype != want.dtype:
            found.append((-1, {"tensor": name, "problem": f"shape/dtype {list(got.shape)} "
                               f"{got.dtype}, want {list(want.shape)} {want.dtype}"}))
            continue
        if np.array_equal(got, want):
            continue
        index = tuple(int(i) for i in np.argwhere(got != want)[0])
        flat = int(np.ravel_multi_index(index, got.shape))
        where = program.tensors[name]["offset"] + flat * got.itemsize
        writer = next((i for i in program.tensors[name]["writers"]
                       if any(s <= where < e for s, e in write_spans(
                           program.instructions[i].engine, program.instructions[i].registers))),
                      -1)
        ins = program.instructions[writer] if writer >= 0 else None
        found.append((writer, {
            "engine": ins.engine if ins else "host", "instruction": writer,
            "node": ins.node if ins else name, "tensor": name, "index": list(index),
            "got": got[index].item(), "want": want[index].item()}))
    return min(found, key=lambda item: item[0])[1] if found else None


def mismatch_text(mismatch: dict) -> str:
    """One line describing a mismatch from compare_with_golden."""
    if "problem" in mismatch:
        return f"tensor {mismatch['tensor']}: {mismatch['problem']}"
    return (f"{mismatch['engine']} instruction {mismatch['instruction']} ({mismatch['node']}) "
            f"tensor {mismatch['tensor']} index {tuple(mismatch['index'])}: got "
            f"{mismatch['got']}, want {mismatch['want']}")
