"""workflow.yaml schema: valid files load, each malformed one fails with one exact line."""

import json
from pathlib import Path

import pytest

from grace_flow.config import ConfigError, json_schema, load_workflow, section_digest, stable_hash

REPO = Path(__file__).resolve().parents[1]

# (file content, exact message). Line numbers count from 1 in the file as written.
MALFORMED = [
    ("", "w.yaml:1: the workflow file is empty: it needs at least 'name:'"),
    ("# only a comment\n", "w.yaml:1: the workflow file is empty: it needs at least 'name:'"),
    ("- a\n- b\n", "w.yaml:1: (top level): expected a mapping of sections, got a list"),
    ("just text\n", "w.yaml:1: (top level): expected a mapping of sections, got 'just text'"),
    ("name: [x\n", "w.yaml:2: not valid YAML: expected ',' or ']', but got '<stream end>'"),
    ("name: x\n  bad: indent\n", "w.yaml:2: not valid YAML: mapping values are not allowed here"),
    ("name: x\nname: y\n", "w.yaml:2: name: duplicate key (remove one of them)"),
    (
        "a: &a [1, 2]\nb: *a\n",
        "w.yaml:2: YAML aliases (*a) are not allowed in a workflow file: write the value out",
    ),
    (
        "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\n",
        "w.yaml:2: YAML aliases (*a) are not allowed in a workflow file: write the value out",
    ),
    ("name: x\n1: y\n", "w.yaml:2: key 1 must be a string"),
    ("data: {}\n", "w.yaml:1: name: missing required key"),
    (
        "name: 'a b'\n",
        "w.yaml:1: name: expected a name of letters, digits and _ (1-64 characters), got 'a b'",
    ),
    (
        "name: x\nmodel:\n  num_kp: ten\n",
        "w.yaml:3: model.num_kp: expected an integer 1..64, got 'ten'",
    ),
    ("name: x\nmodel:\n  num_kp: 0\n", "w.yaml:3: model.num_kp: expected an integer 1..64, got 0"),
    (
        "name: x\nmodel:\n  num_kp: 1.5\n",
        "w.yaml:3: model.num_kp: expected an integer 1..64, got 1.5",
    ),
    (
        "name: x\nmodel:\n  num_kp: true\n",
        "w.yaml:3: model.num_kp: expected an integer 1..64, got True",
    ),
    (
        "name: x\nmodel:\n  num_kpp: 3\n",
        "w.yaml:3: model.num_kpp: unknown key; did you mean 'num_kp'?",
    ),
    (
        "name: x\nkp_detector: {}\n",
        "w.yaml:2: kp_detector: unknown key; did you mean 'model.kp_detector'?",
    ),
    (
        "name: x\nzzz: 1\n",
        "w.yaml:2: zzz: unknown key; known keys: name, data, model, codec, "
        "quantize, engines, synth, deploy, validate, board",
    ),
    (
        "name: x\ndeploy: {target: 'ssh://pynq/home'}\n",
        "w.yaml:2: deploy.target: expected 'emulator' or ssh://user@host[:port]/absolute/folder, "
        "got 'ssh://pynq/home'",
    ),
    (
        "name: x\nvalidate:\n  min_fps: fast\n",
        "w.yaml:3: validate.min_fps: expected null or a number 0..10000, got 'fast'",
    ),
    (
        "name: x\nmodel: {train: {stepz: 3}}\n",
        "w.yaml:2: model.train.stepz: unknown key; did you mean 'steps'?",
    ),
    (
        "name: x\nmodel:\n  source: foo\n",
        "w.yaml:3: model.source: expected one of 'train', 'checkpoint', 'init', got 'foo'",
    ),
    (
        "name: x\nmodel: {source: checkpoint}\n",
        "w.yaml:2: model.checkpoint: required when model.source is 'checkpoint'",
    ),
    (
        "name: x\nmodel:\n  source: checkpoint\n  checkpoint: nope.pt\n",
        "w.yaml:4: model.checkpoint: file 'nope.pt' does not exist (paths are "
        "relative to w.yaml's folder)",
    ),
    (
        "name: x\ndata:\n  source: talk.mp4\n",
        "w.yaml:3: data.source: file 'talk.mp4' does not exist (paths are "
        "relative to w.yaml's folder)",
    ),
    (
        "name: x\ndata: {frame_size: 65}\n",
        "w.yaml:2: data.frame_size: expected an integer 16..512, a multiple of 16, got 65",
    ),
    (
        "name: x\ndata:\n  clips: 3\n",
        "w.yaml:3: data.clips: expected a mapping with keys train, calibration, test, got 3",
    ),
    (
        "name: x\ndata:\n  clips: {test: -1}\n",
        "w.yaml:3: data.clips.test: expected an integer 1..1000, got -1",
    ),
    ("name: x\ndata: {source: 5}\n", "w.yaml:2: data.source: expected a string, got 5"),
    (
        "name: x\nmodel: {kp_detector: {temperature: 0}}\n",
        "w.yaml:2: model.kp_detector.temperature: expected a number > 0 and ≤ 10, got 0",
    ),
    (
        "name: x\nmodel:\n  generator:\n    estimate_occlusion_map: maybe\n",
        "w.yaml:4: model.generator.estimate_occlusion_map: expected true or false, got 'maybe'",
    ),
    (
        "name: x\nmodel:\n  generator:\n",
        "w.yaml:3: model.generator: expected a mapping with keys block_expansion, max_features, "
        "num_down_blocks, num_bottleneck_blocks, estimate_occlusion_map, got nothing",
    ),
    (
        "name: x\nmodel:\n  kp_detector:\n    - 1\n",
        "w.yaml:3: model.kp_detector: expected a mapping with keys block_expansion, max_features, "
        "num_blocks, temperature, scale_factor, got a list",
    ),
    (
        "name: x\ncodec: {fps: '25'}\n",
        "w.yaml:2: codec.fps: expected a number > 0 and ≤ 240, got '25'",
    ),
    ("name: x\ncodec:\n  gop: 0\n", "w.yaml:3: codec.gop: expected an integer 1..10000, got 0"),
    (
        "name: x\ncodec:\n  key_frame_quality: 101\n",
        "w.yaml:3: codec.key_frame_quality: expected an integer 1..100, got 101",
    ),
    (
        "name: x\nquantize: {observer: kl}\n",
        "w.yaml:2: quantize.observer: expected one of 'minmax', 'percentile', "
        "'histogram', got 'kl'",
    ),
    (
        "name: x\nengines:\n  conv:\n    unroll_in: many\n",
        "w.yaml:4: engines.conv.unroll_in: expected 'auto' or an integer, got 'many'",
    ),
    (
        "name: x\nengines:\n  conv:\n    unroll_inn: 3\n",
        "w.yaml:4: engines.conv.unroll_inn: unknown key; did you mean 'unroll_in'?",
    ),
    (
        "name: x\nengines:\n  conv:\n    unroll_in: 3\n",
        "w.yaml:4: engines.conv.unroll_in: unroll_in 3 does not divide max_in_channels 128",
    ),
    (
        "name: x\nengines:\n  conv:\n    features: [relu, fly]\n",
        "w.yaml:4: engines.conv.features: features entry 'fly' unknown; use relu, pool, upsample, "
        "residual",
    ),
    (
        "name: x\nengines:\n  dsp: {}\n",
        "w.yaml:3: engines.dsp: unknown key; known keys: conv, grid_sample, upsample, elementwise, "
        "keypoint",
    ),
    (
        "name: x\nsynth: {toolchain: quartus}\n",
        "w.yaml:2: synth.toolchain: expected one of 'auto', 'vitis', 'estimate', got 'quartus'",
    ),
    ("name: x\nsynth:\n  margin: 1\n", "w.yaml:3: synth.margin: expected a number 0..1, got 1"),
    (
        "name: x\nboard: zcu104\n",
        "w.yaml:2: board: unknown board 'zcu104'; known: pynq-z1 (or give a .yaml file)",
    ),
    (
        "name: x\nboard: boards/zcu104.yaml\n",
        "w.yaml:2: board: file 'boards/zcu104.yaml' does not exist (paths are "
        "relative to w.yaml's folder)",
    ),
    (
        "name: x\nmodel: " + "[" * 5000 + "]" * 5000 + "\n",
        "w.yaml:2: nested more than 32 levels deep; a workflow needs at most a few",
    ),
    (
        "name: x\n" + "".join("  " * i + f"k{i}:\n" for i in range(40)) + "  " * 40 + "v: 1\n",
        "w.yaml:34: nested more than 32 levels deep; a workflow needs at most a few",
    ),
]


@pytest.mark.parametrize("text, message", MALFORMED)
def test_malformed_workflow_is_one_exact_line(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    Path("w.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_workflow("w.yaml")
    assert str(err.value) == message


def test_at_least_25_malformed_cases():
    assert len(MALFORMED) >= 25


def test_a_broken_board_file_is_one_line_when_the_workflow_loads(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    board = (REPO / "constraints" / "boards" / "pynq-z1.yaml").read_text()
    Path("my_board.yaml").write_text(board.replace("    size_mb: 512\n", ""))
    Path("w.yaml").write_text("name: x\nboard: my_board.yaml\n")
    with pytest.raises(ConfigError) as err:
        load_workflow("w.yaml")
    assert str(err.value) == ("w.yaml:2: board: my_board.yaml:21: memory.ddr.size_mb: missing "
                              "required key")


def test_unreadable_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        ConfigError, match=r"^missing.yaml: workflow file not found \(pass workflow=<file.yaml>\)$"
    ):
        load_workflow("missing.yaml")
    Path("bin.yaml").write_bytes(b"\xff\xfe\x00name")
    with pytest.raises(
        ConfigError, match=r"^bin.yaml: cannot read the workflow file: not UTF-8 text$"
    ):
        load_workflow("bin.yaml")
    Path("dir.yaml").mkdir()
    with pytest.raises(
        ConfigError, match=r"^dir.yaml: cannot read the workflow file: Is a directory$"
    ):
        load_workflow("dir.yaml")


@pytest.mark.parametrize("path", sorted((REPO / "workflows").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_algorithm_version_loads(path):
    assert load_workflow(path).name == path.stem


def test_default_workflow_loads_with_defaults_filled():
    workflow = load_workflow(REPO / "workflow.yaml")
    assert workflow.name == "default"
    assert workflow.model.num_kp == 10
    assert workflow.codec.gop == 32


def test_section_digest_changes_only_with_its_section(tmp_path):
    base = (REPO / "workflow.yaml").read_text()
    (tmp_path / "a.yaml").write_text(base)
    (tmp_path / "b.yaml").write_text(base.replace("gop: 32", "gop: 16"))
    a, b = load_workflow(tmp_path / "a.yaml"), load_workflow(tmp_path / "b.yaml")
    assert section_digest(a, "model", "data") == section_digest(b, "model", "data")
    assert stable_hash(section_digest(a, "codec")) != stable_hash(section_digest(b, "codec"))


def test_committed_json_schema_is_current():
    """workflow.schema.json is generated: refresh it with `python -m grace_flow.config`."""
    committed = json.loads((REPO / "workflow.schema.json").read_text())
    assert committed == json_schema()
    assert committed["additionalProperties"] is False
    assert committed["required"] == ["name"]
