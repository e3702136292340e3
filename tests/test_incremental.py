"""The incremental promise, executed by real doit: each edit reruns exactly the tasks it must.

A tiny workflow is built once in a copy of the project. Every case copies that built project to
a folder of its own (so each case is also the relocation check: a moved tree reruns nothing),
makes one edit (to the workflow, a template, or the copy's Python code) and compares the tasks
doit executes with the expected set. Two mutated graphs, one with a dependency narrowed and one
with a dependency widened, show that the comparison catches a wrong graph.
"""

import shutil
from pathlib import Path

import pytest
from doit_helpers import TINY_WORKFLOW, run_project

ENGINES = ["conv", "elementwise", "grid_sample", "keypoint", "upsample"]
#: What a new program reaches after compile: the decoder's C-sim, the system, the package, its
#: deployment and its validation.
SYSTEM = {"csim:decoder", "synth:system", "overlay", "deploy", "validate:target"}
ALGORITHM = ({"model", "codec:encode", "codec:quality", "quantize", "compile",
              "validate:reference"} | SYSTEM)
#: A new package (same program): deployed and validated again.
PACKAGE = {"overlay", "deploy", "validate:target"}


def chain(engine: str) -> set[str]:
    """The tasks of one engine: render, C-simulate, synthesize."""
    return {f"hls:{engine}", f"csim:{engine}", f"synth:{engine}"}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def workflow(project: Path, old: str, new: str) -> None:
    edit(project / "w.yaml", old, new)


#: TINY_WORKFLOW written another way: comments, sections and keys in another order.
REORDERED = """\
# the tiny version, reordered
synth:
  toolchain: estimate        # as before
name: tiny
engines:
  grid_sample: {band_rows: 8, unroll_channels: 4}
  conv: {tile_rows: 2, unroll_out: 4, unroll_in: 4}
quantize:
  calibration_pairs: 4
codec:
  gop: 2
model:
  num_kp: 4
  source: init
  generator: {max_features: 8, block_expansion: 4, num_bottleneck_blocks: 1, num_down_blocks: 2}
  dense_motion: {block_expansion: 4, max_features: 8, num_blocks: 2, scale_factor: 0.5}
  kp_detector: {block_expansion: 4, max_features: 8, num_blocks: 2, scale_factor: 0.5}
data:
  clips: {test: 2, train: 2, calibration: 1}
  frames_per_clip: 4
  frame_size: 32
validate: {min_psnr_db: null}
"""

#: case → (the edit, the tasks it must rerun)
CASES = {
    "no edit": (lambda p: None, set()),
    "comments and key order": (lambda p: (p / "w.yaml").write_text(REORDERED), set()),
    "more residual blocks": (
        lambda p: workflow(p, "num_bottleneck_blocks: 1", "num_bottleneck_blocks: 2"), ALGORITHM),
    "other channel counts": (
        lambda p: workflow(p, "generator: {block_expansion: 4, max_features: 8",
                           "generator: {block_expansion: 6, max_features: 12"), ALGORITHM),
    "more keypoints": (lambda p: workflow(p, "num_kp: 4", "num_kp: 5"), ALGORITHM),
    # auto resolves to the estimate here: the same toolchain, nothing to redo.
    "toolchain auto": (lambda p: workflow(p, "toolchain: estimate", "toolchain: auto"), set()),
    # The margin is read by the search and the budget check; the folding is fixed, so the
    # program and specs do not change: the system report does (it records the margin) and so
    # does the package built from it.
    "synth margin": (lambda p: workflow(p, "toolchain: estimate",
                                        "toolchain: estimate\n  margin: 0.2"),
                     {"compile", "synth:system"} | PACKAGE),
    # The GOP: new bitstreams, new calibration pairs, a new GOP average; the same engines.
    "key frame interval": (lambda p: workflow(p, "gop: 2", "gop: 3"),
                           ALGORITHM - {"model"}),
    "one engine's unroll": (
        lambda p: workflow(p, "grid_sample: {unroll_channels: 4", "grid_sample: {unroll_channels: 2"),
        {"compile"} | chain("grid_sample") | SYSTEM),
    # The library compiles to the same bytes and the estimate reads the spec, so neither the
    # decoder's C-sim nor the system report reruns; the package carries the engine's sources.
    "one engine's template": (
        lambda p: edit(p / "kernels" / "upsample_top.cpp.j2", "\n", "\n{# reworded #}\n"),
        chain("upsample") | PACKAGE),
    "validation thresholds": (
        lambda p: workflow(p, "min_psnr_db: null", "min_psnr_db: null\n  max_float_gap_db: 50.0"),
        {"validate:target"}),
    "deploy settings": (lambda p: (p / "w.yaml").write_text(
        (p / "w.yaml").read_text() + "deploy: {accept_new_host: true}\n"),
        {"deploy", "validate:target"}),
    # Same program out: nothing after compile reruns.
    "one stage's code": (
        lambda p: edit(p / "grace_flow" / "compile" / "lower.py", "\n", "\n# reworded\n"),
        {"compile"}),
    # Shared code reruns every stage whose module uses it (synth's engine and system reports
    # share grace_flow/synth/stage.py); unchanged outputs stop the cascade.
    "the performance model's code": (
        lambda p: edit(p / "grace_flow" / "perf" / "cycles.py", "\n", "\n# reworded\n"),
        {"compile", "synth:system"} | {f"synth:{engine}" for engine in ENGINES}),
}


@pytest.fixture
def project(built, tmp_path) -> Path:
    """The built project, moved to a folder of this test's own."""
    moved = tmp_path / "moved"
    shutil.copytree(built, moved, symlinks=True)
    return moved


def mismatch(executed: list[str], expected: set[str]) -> str | None:
    """None when doit executed exactly ``expected``, else what differs."""
    extra, missing = sorted(set(executed) - expected), sorted(expected - set(executed))
    if not extra and not missing:
        return None
    return f"ran but should not: {extra}; should have run: {missing}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_edit_reruns_exactly_what_it_must(project, case):
    change, expected = CASES[case]
    change(project)
    run = run_project(project, "workflow=w.yaml")
    assert run.returncode == 0, run.stdout + run.stderr
    assert mismatch(run.executed, expected) is None
    assert run_project(project, "workflow=w.yaml").executed == []


MUTATED_DODO = '''\
"""dodo.py with one step of the graph mutated (a test of the incremental tests)."""
import dataclasses

from doit import get_var

from grace_flow.tasks import load_graph

graph = load_graph(get_var("workflow", "workflow.yaml"))
table = graph.stages()


def mutate(step):
{body}


graph.stages = lambda: [(group, [mutate(step) for step in steps]) for group, steps in table]
DOIT_CONFIG = graph.doit_config
globals().update(graph.creators())
'''

#: mutation → (the mutated step, the case it breaks, the task the case then gets wrong)
MUTATIONS = {
    # csim:decoder no longer depends on the engine libraries (still passed, not declared).
    "narrowed": ('''\
    if step.name != "decoder" or "libraries" not in step.reads:
        return step
    reads = {k: v for k, v in step.reads.items() if k != "libraries"}
    return dataclasses.replace(step, reads=reads,
                               untracked={**step.untracked, "libraries": step.reads["libraries"]})''',
                 "one engine's unroll", "csim:decoder"),
    # hls:grid_sample also depends on the float model, which it does not read.
    "widened": ('''\
    if step.action.endswith("hls_engine") and step.name == "grid_sample":
        return dataclasses.replace(step, also_reads=(*step.also_reads,
                                                     graph.paths.checkpoint))
    return step''', "more residual blocks", "hls:grid_sample"),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_a_wrong_graph_fails_the_comparison(project, mutation):
    body, case, wrong = MUTATIONS[mutation]
    (project / "dodo.py").write_text(MUTATED_DODO.format(body=body))
    settle = run_project(project, "workflow=w.yaml")  # the graph itself changed: catch up once
    assert settle.returncode == 0, settle.stdout + settle.stderr
    change, expected = CASES[case]
    change(project)
    run = run_project(project, "workflow=w.yaml")
    assert run.returncode == 0, run.stdout + run.stderr
    found = mismatch(run.executed, expected)
    assert found is not None and wrong in found
