"""The shared store: keys from content, complete entries only, one computation per key."""

import json
import threading
import time

import pytest
from doit_helpers import TINY_WORKFLOW

from grace_flow.config import load_workflow
from grace_flow.sweep.store import Store, stage_key
from grace_flow.sweep.variant import kept_folders
from grace_flow.tasks import EngineInputs, Step
from grace_flow.tasks import Graph


def _step(action="grace_flow.hls.stage:hls_engine", engine="conv", tools=()):
    return Step("s", "a step", action, EngineInputs(engine=engine), tools=tools)


def test_the_key_follows_content_not_paths(tmp_path):
    for name, text in {"a.txt": "same", "b.txt": "same", "c.txt": "other"}.items():
        (tmp_path / name).write_text(text)
    key = stage_key(_step(), [str(tmp_path / "a.txt")], ["out.json"])
    assert stage_key(_step(), [str(tmp_path / "b.txt")], ["out.json"]) == key
    changed = [stage_key(_step(), [str(tmp_path / "c.txt")], ["out.json"]),
               stage_key(_step(engine="upsample"), [str(tmp_path / "a.txt")], ["out.json"]),
               stage_key(_step("grace_flow.hls.stage:other"), [str(tmp_path / "a.txt")],
                         ["out.json"]),
               stage_key(_step(), [str(tmp_path / "a.txt")], ["other.json"]),
               # another stage module: other code; another tool: another version
               stage_key(_step("grace_flow.csim.stage:hls_engine"), [str(tmp_path / "a.txt")],
                         ["out.json"]),
               stage_key(_step(tools=("g++",)), [str(tmp_path / "a.txt")], ["out.json"])]
    assert key not in changed and len(set(changed)) == 6


def test_saved_files_and_folders_come_back_byte_for_byte(tmp_path):
    made, elsewhere = tmp_path / "v1", tmp_path / "v2"
    (made / "synth" / "conv").mkdir(parents=True)
    (made / "report.json").write_text('{"a": 1}\n')
    (made / "synth" / "conv" / "ip.zip").write_bytes(bytes(range(256)))
    store = Store(tmp_path / "store")
    assert store.restore("k" * 64, elsewhere) is None
    store.save("k" * 64, made, ["report.json", "synth/conv"], {"task": "t"})
    assert store.restore("k" * 64, elsewhere) == ["report.json", "synth/conv/ip.zip"]
    assert (elsewhere / "synth" / "conv" / "ip.zip").read_bytes() == bytes(range(256))
    entry = json.loads((store.entry("k" * 64) / "entry.json").read_text())
    assert entry["task"] == "t" and sorted(entry["files"]) == ["report.json", "synth/conv/ip.zip"]
    assert not list((tmp_path / "store" / ".staging").iterdir())


def test_a_damaged_entry_is_dropped(tmp_path):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "out.bin").write_bytes(b"good")
    store = Store(tmp_path / "store")
    store.save("d" * 64, tmp_path / "v1", ["out.bin"], {})
    (store.entry("d" * 64) / "files" / "out.bin").write_bytes(b"evil")
    assert store.restore("d" * 64, tmp_path / "v2") is None
    assert not store.entry("d" * 64).exists()
    assert not (tmp_path / "v2" / "out.bin").exists()


def test_the_lock_makes_a_second_holder_wait(tmp_path):
    store, order = Store(tmp_path), []

    def hold(name: str, seconds: float) -> None:
        with store.lock("key"):
            order.append(f"{name} in")
            time.sleep(seconds)
            order.append(f"{name} out")

    first = threading.Thread(target=hold, args=("first", 0.3))
    first.start()
    time.sleep(0.1)
    hold("second", 0)
    first.join()
    assert order == ["first in", "first out", "second in", "second out"]


@pytest.mark.parametrize("toolchain, kept", [
    ("estimate", {}),
    # With Vitis, synth:system reads each engine's exported IP from its synth folder.
    ("vitis", {("grace_flow.synth.stage:synth_engine_report", e): [f"synth/{e}"]
               for e in ("conv", "elementwise", "grid_sample", "keypoint", "upsample")}),
])
def test_undeclared_folders_a_later_step_reads_are_kept(tmp_path, monkeypatch, toolchain, kept):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "w.yaml").write_text(TINY_WORKFLOW.replace("estimate", toolchain))
    graph = Graph(tmp_path / "w.yaml", load_workflow(tmp_path / "w.yaml"))
    assert {step: folders for step, folders in kept_folders(graph).items() if folders} == kept
