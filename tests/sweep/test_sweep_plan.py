"""Sweep files: variants from a grid and a list, overrides validated like workflow.yaml."""

import pytest
import yaml
from doit_helpers import REPO, TINY_WORKFLOW

from grace_flow.sweep.plan import SweepError, leaders_first, load_plan


def plan_of(tmp_path, sweep: str, workflow: str = TINY_WORKFLOW):
    (tmp_path / "w.yaml").write_text(workflow)
    (tmp_path / "s.yaml").write_text(sweep)
    return load_plan(tmp_path / "s.yaml")


def error_of(tmp_path, sweep: str, workflow: str = TINY_WORKFLOW) -> str:
    with pytest.raises(SweepError) as caught:
        plan_of(tmp_path, sweep, workflow)
    return str(caught.value)


GRID = """\
name: g
workflow: w.yaml
grid:
  engines.conv.unroll_out: [2, 4]
  synth.clock_mhz: [100, 142.857]
variants:
  - name: g_small
    set: {model.num_kp: 3, quantize.observer: minmax}
"""


def test_grid_and_list_expand_in_order_with_readable_names(tmp_path):
    plan = plan_of(tmp_path, GRID)
    assert [v.name for v in plan.variants] == [
        "g_unroll_out2_clock_mhz100", "g_unroll_out2_clock_mhz142p857",
        "g_unroll_out4_clock_mhz100", "g_unroll_out4_clock_mhz142p857", "g_small"]
    assert plan.until == "synth:system"
    assert all(v.error is None for v in plan.variants)
    small = plan.variants[-1]
    assert small.overrides == {"model.num_kp": 3, "quantize.observer": "minmax"}
    assert small.workflow["model"]["num_kp"] == 3
    # Everything not overridden is the base workflow's.
    base = yaml.safe_load(TINY_WORKFLOW)
    assert small.workflow["model"]["kp_detector"] == base["model"]["kp_detector"]
    assert small.workflow["name"] == "g_small"


def test_names_that_would_not_fit_are_numbered(tmp_path):
    plan = plan_of(tmp_path, "name: g\nworkflow: w.yaml\ngrid:\n"
                             "  engines.conv.kernel_sizes: [[1, 3], [1, 3, 5]]\n")
    assert [v.name for v in plan.variants] == ["g_000", "g_001"]


@pytest.mark.parametrize("override, message", [
    ("engines.conv.unroll_out: many",
     "engines.conv.unroll_out: expected 'auto' or an integer, got 'many'"),
    ("model.num_kpp: 3", "model.num_kpp: unknown key; did you mean 'num_kp'?"),
    ("board.pins: 3", "board: expected a string, got a mapping"),
    ("model.num_kp.x: 3", "model.num_kp.x: model.num_kp is a value, not a section"),
    ("name: other", "name: variants are named by the sweep; use variants: with a name of its own"),
    ("engines.conv.unroll_in: 3",
     "engines.conv.unroll_in: unroll_in 3 does not divide max_in_channels 128"),
])
def test_a_bad_override_fails_its_variant_only(tmp_path, override, message):
    plan = plan_of(tmp_path, "name: g\nworkflow: w.yaml\nvariants:\n  - name: fine\n"
                             "    set: {model.num_kp: 3}\n  - name: bad\n"
                             f"    set: {{{override}}}\n")
    fine, bad = plan.variants
    assert fine.error is None
    assert bad.workflow is None
    assert bad.error == f"s.yaml:7: {message}"  # the line of the bad variant's set:


@pytest.mark.parametrize("sweep, message", [
    ("name: g\nworkflow: w.yaml\ngird: {}\n",
     "s.yaml:3: gird: unknown key; known keys: name, workflow, until, grid, variants"),
    ("name: g\nworkflow: w.yaml\n",
     "s.yaml:1: (top level): no variants: give a grid: or variants:"),
    ("name: g h\nworkflow: w.yaml\n",
     "s.yaml:1: name: expected a name of letters, digits and _ (1-64 characters)"),
    ("name: g\nworkflow: w.yaml\nuntil: synth:sytem\ngrid: {synth.margin: [0.1]}\n",
     "s.yaml:3: until: 'synth:sytem' is not a task of w.yaml; did you mean 'synth:system'?"),
    ("name: g\nworkflow: nothing.yaml\ngrid: {synth.margin: [0.1]}\n",
     "s.yaml:2: workflow: file 'nothing.yaml' does not exist (paths are relative to s.yaml's "
     "folder)"),
    ("name: g\nworkflow: w.yaml\nvariants:\n  - {name: a, set: {}}\n  - {name: a, set: {}}\n",
     "s.yaml:4: variants.0.name: 'a' is taken (by another variant, or the sweeps' folder)"),
    ("name: g\nworkflow: w.yaml\ngrid: {synth.margin: []}\n",
     "s.yaml:3: grid.synth.margin: expected at least one value, got []"),
])
def test_a_bad_sweep_file_is_one_line(tmp_path, sweep, message):
    assert error_of(tmp_path, sweep) == message


def test_a_bad_base_workflow_names_both_files(tmp_path):
    broken = TINY_WORKFLOW.replace("num_kp: 4", "num_kp: four")
    assert error_of(tmp_path, GRID, broken) == (
        "s.yaml:2: workflow: w.yaml:8: model.num_kp: expected an integer 1..64, got 'four'")


def test_variants_sharing_a_model_start_after_one_of_each_model(tmp_path):
    plan = plan_of(tmp_path, "name: g\nworkflow: w.yaml\ngrid:\n  model.num_kp: [3, 4]\n"
                             "  engines.conv.unroll_out: [1, 2, 4]\n")
    assert [v.name for v in leaders_first(plan.variants)] == [
        "g_num_kp3_unroll_out1", "g_num_kp4_unroll_out1", "g_num_kp3_unroll_out2",
        "g_num_kp4_unroll_out2", "g_num_kp3_unroll_out4", "g_num_kp4_unroll_out4"]
    foldings = plan_of(tmp_path, "name: g\nworkflow: w.yaml\ngrid:\n"
                                 "  engines.conv.unroll_out: [1, 2, 4]\n")
    assert leaders_first(foldings.variants) == foldings.variants


def test_the_example_sweep_loads(monkeypatch):
    monkeypatch.chdir(REPO)
    plan = load_plan(REPO / "workflows" / "sweeps" / "folding.yaml")
    assert len(plan.variants) == 6 and all(v.error is None for v in plan.variants)
