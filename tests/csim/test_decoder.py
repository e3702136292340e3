"""The whole decoder on the emulated co-processor: bit-exact with the golden model."""

import json

import numpy as np
import pytest
from decoder_support import GEOMETRY, compile_tiny, random_frames, tiny_qgraph

from grace_flow.csim.emulated import emulated_runner, load_engines
from grace_flow.csim.mismatch import compare_with_golden, mismatch_text
from grace_flow.engines.program import Instruction, Program
from grace_flow.runtime.engines import EngineLibrary
from grace_flow.runtime.runner import RunnerError
from grace_flow.quant.golden import run_golden

VARIANTS = {
    "default": {},
    "no_occlusion_full_res_motion": {
        "estimate_occlusion_map": False, "num_bottleneck_blocks": 1,
        "dense_motion_params": {**GEOMETRY["dense_motion_params"], "scale_factor": 1}},
}


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("engines")


def _emulator(folder, build_dir, qgraph, settings=None):
    compile_tiny(folder, qgraph, settings)
    program = Program.load(folder / "compile" / "program.json")
    engines = load_engines(folder / "compile" / "specs", build_dir,
                           [i.engine for i in program.instructions])
    weights = (folder / "compile" / "weights.bin").read_bytes()
    return program, emulated_runner(program, weights, engines), engines


@pytest.fixture(scope="module")
def default(tmp_path_factory, build_dir):
    return _emulator(tmp_path_factory.mktemp("default"), build_dir, tiny_qgraph())


#: Engine settings the decoder is also run with: the conv engine requantizing two columns per
#: cycle (every other key as the default workflow leaves it).
SETTINGS = {"default": {}, "requant_lanes_2": {"conv": {"requant_lanes": 2}}}


@pytest.mark.parametrize("variant, settings", [(v, "default") for v in sorted(VARIANTS)]
                         + [("default", "requant_lanes_2")])
def test_decoder_is_bit_exact_with_golden(tmp_path, build_dir, variant, settings):
    qgraph = tiny_qgraph(seed=3, **VARIANTS[variant])
    program, emulator, _ = _emulator(tmp_path, build_dir, qgraph, SETTINGS[settings])
    if settings != "default":
        spec = json.loads((tmp_path / "compile" / "specs" / "conv.json").read_text())
        assert spec["requant_lanes"] == 2
    kp = qgraph.shapes["kp_source"][0]
    images, kp_source, kp_driving = random_frames(3, kp, seed=7)
    golden = run_golden(qgraph, images, kp_source, kp_driving)
    for n in range(len(images)):
        outputs, tensors = emulator.run_decoder(images[n], kp_source[n], kp_driving[n],
                                                every_tensor=True)
        want = {name: value[n] for name, value in golden.items()}
        mismatch = compare_with_golden(program, tensors, want)
        assert mismatch is None, mismatch_text(mismatch)
        assert set(tensors) >= set(golden)  # every golden tensor was compared
        for role, name in qgraph.outputs.items():
            assert outputs[role].dtype == want[name].dtype
            assert np.array_equal(outputs[role], want[name]), role
    assert outputs["prediction"].dtype == np.uint8 and outputs["prediction"].shape == (3, 32, 32)


def test_key_work_runs_once_per_gop_and_stays_bit_exact(default):
    """One key frame, then frames that skip the key instructions: their outputs (read by the
    frame instructions after earlier frames ran) are still in DDR, every tensor equals the
    golden model's, which recomputes everything."""
    program, emulator, engines = default
    qgraph = tiny_qgraph()
    images, kp_source, kp_driving = random_frames(4, 4, seed=21)
    images, kp_source = np.repeat(images[:1], 4, axis=0), np.repeat(kp_source[:1], 4, axis=0)
    golden = run_golden(qgraph, images, kp_source, kp_driving)
    key_nodes = {ins.node for ins in program.instructions if ins.phase == "key"}
    assert "down_blocks.1" in key_nodes and "warped" not in key_nodes
    predictions = []
    for n in range(len(images)):
        outputs, tensors = emulator.run_decoder(images[n], kp_source[n], kp_driving[n],
                                                every_tensor=True, new_key_frame=n == 0)
        mismatch = compare_with_golden(program, tensors,
                                       {name: value[n] for name, value in golden.items()})
        assert mismatch is None, f"frame {n}: {mismatch_text(mismatch)}"
        assert set(tensors) >= set(golden)  # key tensors reported on frames that skipped them
        predictions.append(outputs["prediction"])
    assert not np.array_equal(predictions[1], predictions[2])  # the frames really differ
    with pytest.raises(RunnerError, match="must reuse the key frame"):
        emulator.run_decoder(images[0][::-1].copy(), kp_source[0], kp_driving[0],
                             new_key_frame=False)


def test_skipped_key_instructions_do_not_run(default):
    program, emulator, engines = default
    images, kp_source, kp_driving = random_frames(1, 4, seed=22)
    runs = []
    counting = emulated_runner(program, bytes(emulator.ddr[slice(*_span(program.weights))]),
                               {name: _Counting(lib, runs) for name, lib in engines.items()})
    with pytest.raises(RunnerError, match="must reuse the key frame"):
        counting.run_decoder(images[0], kp_source[0], kp_driving[0], new_key_frame=False)
    counting.run_decoder(images[0], kp_source[0], kp_driving[0])
    assert len(runs) == len(program.instructions)
    runs.clear()
    counting.run_decoder(images[0], kp_source[0], kp_driving[0], new_key_frame=False)
    assert len(runs) == sum(ins.phase == "frame" for ins in program.instructions)


class _Counting:
    """An engine library that records each run (its packed registers)."""

    def __init__(self, library: EngineLibrary, runs: list):
        self.library, self.runs, self.engine = library, runs, library.engine

    def call(self, ddr, values):
        self.runs.append(values.copy())
        return self.library.call(ddr, values)


@pytest.mark.parametrize("tensor, index, engine, node, offset", [
    ("bottleneck.r0.conv1", (5, 2, 3), "conv", "bottleneck.r0.conv1", 0),
    ("dense_motion_network.sparse_deformed", (2, 1, 3, 4), "grid_sample",
     "dense_motion_network.sparse_deformed", 2),
    ("dense_motion_network.features", (6, 1, 1), "grid_sample",
     "dense_motion_network.sparse_deformed", 0),
    ("prediction", (1, 9, 8), "elementwise", "prediction", 0),
])
def test_perturbed_golden_names_the_first_differing_instruction(default, tensor, index, engine,
                                                                 node, offset):
    program, emulator, engines = default
    images, kp_source, kp_driving = random_frames(1, 4, seed=9)
    _, tensors = emulator.run_decoder(images[0], kp_source[0], kp_driving[0], every_tensor=True)
    golden = {k: v[0] for k, v in run_golden(tiny_qgraph(), images, kp_source, kp_driving).items()}
    assert compare_with_golden(program, tensors, golden) is None
    golden[tensor] = golden[tensor].copy()
    golden[tensor][index] ^= 1
    first = [i for i, ins in enumerate(program.instructions) if ins.node == node][offset]
    got = tensors[tensor][index].item()
    assert compare_with_golden(program, tensors, golden) == {
        "engine": engine, "instruction": first, "node": node, "tensor": tensor,
        "index": list(index), "got": got, "want": got ^ 1}
    text = mismatch_text(compare_with_golden(program, tensors, golden))
    assert text == (f"{engine} instruction {first} ({node}) tensor {tensor} index {index}: "
                    f"got {got}, want {got ^ 1}")


def _shuffled(program: Program, rng) -> Program:
    """The same program issued in another order that respects every dependency."""
    waiting = {i: set(ins.deps) for i, ins in enumerate(program.instructions)}
    order = []
    while waiting:
        ready = sorted(i for i, deps in waiting.items() if deps <= set(order))
        order.append(int(rng.choice(ready)))
        del waiting[order[-1]]
    new = {old: k for k, old in enumerate(order)}
    instructions = [Instruction(program.instructions[old].engine, program.instructions[old].node,
                                program.instructions[old].registers,
                                sorted(new[d] for d in program.instructions[old].deps))
                    for old in order]
    tensors = {name: {**t, "writers": sorted(new[w] for w in t["writers"])}
               for name, t in program.tensors.items()}
    return Program(instructions, program.ddr_bytes, program.weights, program.arena, tensors,
                   program.io)


def test_reordering_independent_instructions_keeps_results(default):
    program, emulator, engines = default
    images, kp_source, kp_driving = random_frames(1, 4, seed=11)
    reference, _ = emulator.run_decoder(images[0], kp_source[0], kp_driving[0])
    rng = np.random.default_rng(0)
    for _ in range(3):
        shuffled = _shuffled(program, rng)
        assert [i.node for i in shuffled.instructions] != [i.node for i in program.instructions]
        other = emulated_runner(shuffled, bytes(emulator.ddr[slice(*_span(program.weights))]),
                                engines)
        outputs, _ = other.run_decoder(images[0], kp_source[0], kp_driving[0])
        assert all(np.array_equal(outputs[k], reference[k]) for k in reference)


def test_ignoring_a_dependency_changes_results(default):
    """Run one consumer before the producer it waits for: the output differs."""
    program, emulator, engines = default
    images, kp_source, kp_driving = random_frames(1, 4, seed=12)
    reference, _ = emulator.run_decoder(images[0], kp_source[0], kp_driving[0])
    final = next(i for i, ins in enumerate(program.instructions) if ins.node == "final")
    swapped = list(program.instructions)
    swapped[final - 1], swapped[final] = swapped[final], swapped[final - 1]
    broken = Program([Instruction(i.engine, i.node, i.registers, []) for i in swapped],
                     program.ddr_bytes, program.weights, program.arena, program.tensors,
                     program.io)
    other = emulated_runner(broken, bytes(emulator.ddr[slice(*_span(program.weights))]), engines)
    outputs, _ = other.run_decoder(images[0], kp_source[0], kp_driving[0])
    assert not np.array_equal(outputs["prediction"], reference["prediction"])


def _span(region):
    return region[0], region[0] + region[1]

