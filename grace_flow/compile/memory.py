"""DDR memory planning: byte offsets for every activation, reusing space whose tensor is dead.

A buffer lives from the instruction that writes it to the last instruction that reads it. Two
buffers may share bytes only if their lifetimes do not overlap. Placement is greedy, largest
first, at the lowest aligned offset free for the whole lifetime: simple, deterministic and close
to optimal for the chain-like graphs of the decoder. Offsets are aligned to the AXI burst so
every engine transfer starts on a burst boundary.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Buffer:
    """A tensor to place: ``size`` bytes, live over instructions ``first``..``last`` inclusive."""

    name: str
    size: int
    first: int
    last: int


def align_up(value: int, alignment: int) -> int:
    """``value`` rounded up to a multiple of ``alignment``."""
    return -(-value // alignment) * alignment


def plan_memory(buffers: list[Buffer], alignment: int) -> tuple[dict[str, int], int]:
    """Offsets (relative to the arena start) for ``buffers`` and the arena's size in bytes."""
    placed: list[tuple[Buffer, int]] = []
    offsets: dict[str, int] = {}
    order = sorted(buffers, key=lambda b: (-align_up(b.size, alignment), b.first, b.name))
    for buffer in order:
        size = align_up(buffer.size, alignment)
        busy = sorted(
            (offset, offset + align_up(other.size, alignment))
            for other, offset in placed
            if other.first <= buffer.last and buffer.first <= other.last
        )
        offset = 0
        for start, end in busy:
            if offset + size <= start:
                break
            offset = max(offset, end)
        placed.append((buffer, offset))
        offsets[buffer.name] = offset
    arena = max((offset + align_up(b.size, alignment) for b, offset in placed), default=0)
    return offsets, arena


def check_no_overlap(buffers: list[Buffer], offsets: dict[str, int]) -> None:
    """Raise AssertionError if two buffers alive at the same time share a byte (a self-check)."""
    for i, a in enumerate(buffers):
        for b in buffers[i + 1:]:
            live_together = a.first <= b.last and b.first <= a.last
            apart = (offsets[a.name] + a.size <= offsets[b.name]
                     or offsets[b.name] + b.size <= offsets[a.name])
            if live_together and not apart:
                raise AssertionError(f"memory plan: {a.name} and {b.name} overlap")
