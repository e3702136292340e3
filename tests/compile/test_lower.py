"""Lowering: instruction structure, concat placement, aligned DDR layout, dependencies, limits."""

import json
import re

import pytest
from decoder_support import compile_tiny, tiny_qgraph
from repo_paths import BOARD_FILE

from grace_flow.compile.hazards import HazardError, check_dependencies, operand_spans
from grace_flow.compile.lower import CompileError, lower
from grace_flow.engines.conv_weights import conv_weight_layout
from grace_flow.engines.program import Program, decode
from grace_flow.engines.spec import default_spec

KP = 4
#: The conv engine the weights are laid out for (an odd folding: entries padded to words).
CONV = {**default_spec("conv"), "unroll_in": 2, "unroll_out": 5, "max_out_channels": 130}


@pytest.fixture(scope="module")
def program() -> Program:
    return lower(tiny_qgraph(), alignment=64, ddr_limit=512 << 20, conv_spec=CONV)[0]


def test_one_instruction_per_node_grid_sample_per_motion_no_concat(program):
    nodes = [ins.node for ins in program.instructions]
    assert nodes[0] == "source"  # the pixel table: uint8 key frame → int8 source
    assert nodes.count("dense_motion_network.sparse_deformed") == KP + 1
    assert not any("concat" in n or n.endswith(".features") for n in nodes)
    qgraph = tiny_qgraph()
    computing = [n.name for n in qgraph.nodes if n.op != "concat"]
    key = [name for name in computing if name in KEY_NODES]
    assert list(dict.fromkeys(nodes[1:])) == key + [n for n in computing if n not in key]


#: The nodes computed from the key frame alone (besides the pixel table "source").
KEY_NODES = {"dense_motion_network.down", "first", "down_blocks.0", "down_blocks.1"}


def test_exactly_the_source_only_nodes_are_key_and_come_first(program):
    phases = [ins.phase for ins in program.instructions]
    assert {ins.node for ins in program.instructions if ins.phase == "key"} == {"source",
                                                                               *KEY_NODES}
    assert set(phases) == {"key", "frame"}
    assert phases == sorted(phases, key=["key", "frame"].index)  # every key one first
    for ins in program.instructions:  # a key instruction never waits for a frame one
        if ins.phase == "key":
            assert all(program.instructions[d].phase == "key" for d in ins.deps)


def _touches(spans, tensor) -> bool:
    start, end = tensor["offset"], tensor["offset"] + tensor["bytes"]
    return any(s < end and start < e for s, e in spans)


def test_key_outputs_frame_instructions_read_are_never_overwritten(program):
    """A key output a frame instruction reads is written by its writer only (it must last the
    GOP); no frame instruction writes any key tensor's bytes."""
    t = program.tensors
    for name, reader in (("down_blocks.1", "warped"),
                         ("dense_motion_network.down", "dense_motion_network.sparse_deformed")):
        assert any(ins.node == reader and ins.phase == "frame"
                   and _touches(operand_spans(ins.engine, ins.registers, CONV)[0], t[name])
                   for ins in program.instructions)
        for index, ins in enumerate(program.instructions):
            if index not in t[name]["writers"]:
                assert not _touches(operand_spans(ins.engine, ins.registers, CONV)[1], t[name]), (
                    name, ins.node)
    for name in ("source", *KEY_NODES):
        for ins in program.instructions:
            if ins.phase == "frame":
                assert not _touches(operand_spans(ins.engine, ins.registers, CONV)[1], t[name]), (
                    name, ins.node)


def test_layout_weights_arena_io_aligned_and_within_ddr(program):
    w_off, w_len = program.weights
    a_off, a_len = program.arena
    assert w_off == 0 and a_off % 64 == 0 and a_off >= w_len and program.ddr_bytes % 64 == 0
    for ins in program.instructions:
        reads, writes = operand_spans(ins.engine, ins.registers, CONV)
        for start, end in reads + writes:
            assert 0 <= start < end <= program.ddr_bytes
            if end <= w_len:  # a constant operand: burst aligned in the blob
                assert start % 64 == 0
        for start, _ in writes:
            assert start >= a_off  # nothing writes into the weights
    io = [t for name, t in program.tensors.items() if name in program.io.values()]
    assert all(t["offset"] >= a_off + a_len and t["offset"] % 64 == 0 for t in io)
    assert sorted(program.io) == ["input.kp_driving_fp16", "input.kp_source_fp16",
                                  "input.source_u8", "output.deformation", "output.mask",
                                  "output.occlusion_map", "output.prediction"]


def test_weight_blob_holds_every_constant_in_instruction_order(program):
    qgraph = tiny_qgraph()
    _, weights = lower(qgraph, alignment=64, ddr_limit=512 << 20, conv_spec=CONV)
    first = program.instructions[1]  # dense_motion_network.down
    laid_out = conv_weight_layout(qgraph.params["dense_motion_network.down.weight"], CONV)
    start = first.registers["w_off"]
    assert weights[start:start + len(laid_out)] == laid_out
    offsets = [ins.registers["w_off"] for ins in program.instructions if ins.engine == "conv"]
    assert offsets == sorted(offsets)


def test_dependencies_are_complete_and_each_is_essential(program):
    check_dependencies(program.instructions, CONV)
    edges = [(j, d) for j, ins in enumerate(program.instructions) for d in ins.deps]
    assert len(edges) >= len(program.instructions) - 3
    for j, d in edges:
        saved = program.instructions[j].deps
        program.instructions[j].deps = [x for x in saved if x != d]
        try:
            with pytest.raises(HazardError, match=rf"^program: instruction {j} \(.*\) touches "
                                                  r"bytes of instruction \d+ \(.*\) but does not "
                                                  r"wait for it: recompile$"):
                check_dependencies(program.instructions, CONV)
        finally:
            program.instructions[j].deps = saved


def test_independent_engines_may_overlap(program):
    """The keypoint instructions wait for nothing: they can run beside the first convolutions."""
    for ins in program.instructions:
        if ins.node in ("dense_motion_network.heatmap", "dense_motion_network.sparse_motion"):
            assert ins.deps == []


def test_binary_program_decodes_to_the_same_instructions(tmp_path):
    compile_tiny(tmp_path, tiny_qgraph())
    listed = Program.load(tmp_path / "compile" / "program.json")
    decoded = decode((tmp_path / "compile" / "program.bin").read_bytes())
    assert [(i.engine, i.deps, i.phase) for i in decoded.instructions] == [
        (i.engine, i.deps, i.phase) for i in listed.instructions]
    assert {i.phase for i in decoded.instructions} == {"key", "frame"}
    conv = json.loads((tmp_path / "compile" / "specs" / "conv.json").read_text())
    check_dependencies(decoded.instructions, conv)
    assert (tmp_path / "compile" / "weights.bin").stat().st_size == listed.weights[1]


def test_weights_are_laid_out_for_the_spec_compile_sizes(tmp_path):
    """compile lowers first with the default conv spec's layout, then with the sized spec's."""
    compile_tiny(tmp_path, tiny_qgraph(), settings={"conv": {"unroll_in": 3, "unroll_out": 5}})
    conv = json.loads((tmp_path / "compile" / "specs" / "conv.json").read_text())
    assert (conv["unroll_in"], conv["unroll_out"]) == (3, 5)
    listed = Program.load(tmp_path / "compile" / "program.json")
    weights = (tmp_path / "compile" / "weights.bin").read_bytes()
    for ins in listed.instructions:
        if ins.engine == "conv":
            laid_out = conv_weight_layout(tiny_qgraph().params[f"{ins.node}.weight"], conv)
            start = ins.registers["w_off"]
            assert weights[start:start + len(laid_out)] == laid_out
    check_dependencies(listed.instructions, conv)


def test_ddr_limit_is_a_one_line_error(tmp_path):
    program, _ = lower(tiny_qgraph(), alignment=64, ddr_limit=512 << 20, conv_spec=CONV)
    need = program.ddr_bytes
    message = (f"compile: the program needs {need / 2**20:.1f} MiB of DDR ({need} bytes), the "
               "board has 0.1 MiB: shrink the decoder")
    with pytest.raises(CompileError, match=f"^{re.escape(message)}$"):
        lower(tiny_qgraph(), alignment=64, ddr_limit=100_000, conv_spec=CONV)
    # The compile stage takes the limit from the board file, and writes nothing when over it.
    small = tmp_path / "small.yaml"
    small.write_text(BOARD_FILE.read_text().replace("size_mb: 512", "size_mb: 1"))
    wide = tiny_qgraph(block_expansion=48, max_features=256)  # about 2 MiB of DDR
    with pytest.raises(CompileError, match=r"^compile: .* the board has 1\.0 MiB: shrink"):
        compile_tiny(tmp_path, wide, board=small)
    assert not (tmp_path / "compile").exists()
