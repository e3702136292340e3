"""DDR memory planning: byte offsets for every activation, reusing space whose tensor is dead.

A buffer lives from the instruction that writes it to the last instruction that reads it; a key
output read by frame instructions lives over the whole program (it must survive the GOP). Two
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


@dataclass(frozen=True)
class Use:
    """The buffers one instruction reads and writes (by storage buffer), and its phase."""

    phase: str
    reads: tuple[str, ...]
    writes: str


def lifetimes(uses: list[Use]) -> dict[str, tuple[int, int]]:
    """Each buffer's first and last instruction; key outputs that frame instructions read live
    from the first instruction to the last."""
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for index, use in enumerate(uses):
        for name in [*use.reads, use.writes]:
            first.setdefault(name, index)
            last[name] = index
    key_written = {use.writes for use in uses if use.phase == "key"}
    frame_read = {name for use in uses if use.phase == "frame" for name in use.reads}
    for name in key_written & frame_read:
        first[name], last[name] = 0, len(uses) - 1
    return {name: (first[name], last[name]) for name in first}


def plan_arena(uses: list[Use], sizes: dict[str, int], outside: set[str], alignment: int
               ) -> tuple[dict[str, int], int]:
    """Offsets in the activation arena of every buffer ``uses`` touch (but those ``outside`` it),
    and the arena's size.

    Buffers only key instructions write get their own region at the arena's start: frame
    instructions never write a byte of it, so they wait for key instructions only to read their
    outputs and can overlap them.
    """
    live = lifetimes(uses)
    key_only = ({use.writes for use in uses if use.phase == "key"}
                - {use.writes for use in uses if use.phase == "frame"} - outside)
    key_region = [Buffer(name, sizes[name], *live[name]) for name in live if name in key_only]
    frame_region = [Buffer(name, sizes[name], *live[name]) for name in live
                    if name not in key_only and name not in outside]
    offsets, key_bytes = plan_memory(key_region, alignment)
    frame_offsets, frame_bytes = plan_memory(frame_region, alignment)
    offsets.update({name: key_bytes + offset for name, offset in frame_offsets.items()})
    check_no_overlap(key_region + frame_region, offsets)
    return offsets, key_bytes + frame_bytes


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
