"""DDR planner: aligned, non-overlapping while alive, and reusing dead space."""

import numpy as np

from grace_flow.compile.memory import (Buffer, Use, align_up, check_no_overlap, lifetimes,
                                       plan_arena, plan_memory)


def test_chain_reuses_space_of_dead_tensors():
    # a → b → c → d: at most two tensors are alive at once.
    chain = [Buffer(n, 1000, i, i + 1) for i, n in enumerate("abcd")]
    offsets, arena = plan_memory(chain, 64)
    assert arena == 2 * align_up(1000, 64) == 2048
    assert all(offset % 64 == 0 for offset in offsets.values())
    check_no_overlap(chain, offsets)
    assert offsets["a"] == offsets["c"]


def test_skip_connection_stays_alive():
    buffers = [Buffer("x", 512, 0, 5), Buffer("y", 512, 1, 2), Buffer("z", 512, 2, 3),
               Buffer("w", 512, 3, 5)]
    offsets, arena = plan_memory(buffers, 64)
    check_no_overlap(buffers, offsets)
    assert arena == 3 * 512


def test_random_plans_never_overlap_and_are_deterministic():
    rng = np.random.default_rng(0)
    for _ in range(50):
        buffers = []
        for i in range(30):
            first = int(rng.integers(0, 40))
            buffers.append(Buffer(f"t{i}", int(rng.integers(1, 5000)), first,
                                  first + int(rng.integers(0, 10))))
        offsets, arena = plan_memory(buffers, 128)
        check_no_overlap(buffers, offsets)
        assert all(o % 128 == 0 and o + b.size <= arena for b, o in
                   ((b, offsets[b.name]) for b in buffers))
        assert plan_memory(list(reversed(buffers)), 128) == (offsets, arena)


def test_overlap_check_catches_a_bad_plan():
    buffers = [Buffer("a", 100, 0, 2), Buffer("b", 100, 1, 3)]
    try:
        check_no_overlap(buffers, {"a": 0, "b": 50})
    except AssertionError as err:
        assert str(err) == "memory plan: a and b overlap"
    else:
        raise AssertionError("overlap not detected")


def test_key_outputs_read_by_frame_instructions_live_over_the_whole_program():
    uses = [Use("key", (), "enc"), Use("key", ("enc",), "feat"), Use("frame", (), "kp"),
            Use("frame", ("feat", "kp"), "out"), Use("frame", ("out",), "final")]
    assert lifetimes(uses) == {"enc": (0, 1), "feat": (0, 4), "kp": (2, 3), "out": (3, 4),
                               "final": (4, 4)}


def test_key_only_buffers_get_their_own_region_first():
    uses = [Use("key", (), "enc"), Use("key", ("enc",), "feat"), Use("frame", (), "kp"),
            Use("frame", ("feat", "kp"), "out")]
    sizes = {"enc": 64, "feat": 64, "kp": 64, "out": 64}
    offsets, arena = plan_arena(uses, sizes, outside={"kp"}, alignment=64)
    assert set(offsets) == {"enc", "feat", "out"}
    # enc and feat (key only) first; out (frame) after them, never over a key buffer.
    assert sorted(offsets.values())[:2] == [0, 64] and offsets["out"] == 128 and arena == 192
