"""The task graph: the one place that knows artifact paths and which stage feeds which.

Stage packages expose plain functions; this module wires them into doit tasks with ``file_dep``,
``targets`` and a ``config_changed`` on exactly the workflow sections each stage reads. Loading
the graph imports no stage code (and so no torch): each action imports its stage when it runs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from doit.exceptions import TaskFailed
from doit.tools import config_changed

from grace_flow.config import ConfigError, Workflow, load_workflow, resolve, section_digest
from grace_flow.errors import FlowError

ARTIFACTS = Path("artifacts")


@dataclass(frozen=True)
class Paths:
    """Where every artifact of one workflow lives (``artifacts/<name>/<stage>/...``)."""

    root: Path
    test_clips: int

    @property
    def clips(self) -> Path:
        return self.root / "data" / "clips.npz"

    @property
    def checkpoint(self) -> Path:
        return self.root / "model" / "decoder.pt"

    @property
    def train_log(self) -> Path:
        return self.root / "model" / "train_log.json"

    @property
    def loss_plot(self) -> Path:
        return self.root / "model" / "loss.png"

    @property
    def float_quality(self) -> Path:
        return self.root / "model" / "quality.json"

    @property
    def bitstreams(self) -> list[Path]:
        return [self.root / "codec" / f"test_{i:03d}.agc" for i in range(self.test_clips)]

    @property
    def bitrate(self) -> Path:
        return self.root / "codec" / "bitrate.json"

    @property
    def quantized(self) -> Path:
        return self.root / "quantize"


def run_stage(function: Callable[..., object]) -> Callable[..., object]:
    """Wrap a stage function so a user mistake fails its task with one line, not a traceback."""

    def action(**kwargs: object) -> object:
        try:
            function(**kwargs)
        except FlowError as err:
            return TaskFailed(str(err), report=True)
        return None

    action.__name__ = getattr(function, "__name__", "stage")
    return action


# Each action imports its stage lazily so that building the graph never imports torch.


def _make_data(**kwargs):
    from grace_flow.data import make_dataset

    make_dataset(**kwargs)


def _build_model(**kwargs):
    from grace_flow.model.stage import build_model

    build_model(**kwargs)


def _encode_test_clips(**kwargs):
    from grace_flow.codec.stage import encode_test_clips

    encode_test_clips(**kwargs)


def _float_quality(**kwargs):
    from grace_flow.model.quality import float_quality

    float_quality(**kwargs)


def _quantize(**kwargs):
    from grace_flow.quant.stage import quantize_model

    quantize_model(**kwargs)


class Graph:
    """All tasks of one workflow file; ``creators()`` feeds dodo.py's namespace."""

    def __init__(self, workflow_path: str | Path):
        self.workflow_path = Path(workflow_path)
        self.workflow: Workflow = load_workflow(self.workflow_path)
        self.paths = Paths(ARTIFACTS / self.workflow.name, self.workflow.data.clips.test)

    @property
    def doit_config(self) -> dict:
        """DOIT_CONFIG: one dependency database per workflow, so versions never clash."""
        self.paths.root.mkdir(parents=True, exist_ok=True)
        return {
            "dep_file": str(self.paths.root / ".doit.db"),
            "backend": "sqlite3",
            "verbosity": 2,
        }

    def creators(self) -> dict[str, Callable[[], object]]:
        """``task_*`` functions for doit, in flow order."""
        return {"task_data": self.task_data, "task_model": self.task_model,
                "task_codec": self.task_codec, "task_quantize": self.task_quantize}

    def _changed(self, *sections: str):
        return config_changed(section_digest(self.workflow, *sections))

    def _input_file(self, relative: str | None) -> list[str]:
        return [str(resolve(self.workflow_path, relative))] if relative else []

    def task_data(self) -> dict:
        """Talking-face clips: train / calibration / test splits."""
        data = self.workflow.data
        video = self._input_file(None if data.source == "synthetic" else data.source)
        return {
            "doc": "build the train / calibration / test clips",
            "actions": [(run_stage(_make_data), [], {
                "out_path": self.paths.clips,
                "source": video[0] if video else "synthetic",
                "frame_size": data.frame_size,
                "frames_per_clip": data.frames_per_clip,
                "clips": data.clips.model_dump(),
                "seed": data.seed,
            })],
            "file_dep": video,
            "targets": [str(self.paths.clips)],
            "uptodate": [self._changed("data")],
            "clean": True,
        }

    def task_model(self) -> Iterator[dict]:
        """The float decoder (trained, loaded or initialised) and its float quality."""
        model = self.workflow.model
        inputs = self._input_file(model.checkpoint) + self._input_file(model.fomm_config)
        targets = [self.paths.checkpoint]
        if model.source == "train":
            inputs.append(str(self.paths.clips))
            targets += [self.paths.train_log, self.paths.loss_plot]
        yield {
            "name": "decoder",
            "doc": f"float decoder checkpoint (model.source: {model.source})",
            "actions": [(run_stage(_build_model), [], {
                "model": model,
                "workflow_path": self.workflow_path,
                "clips_path": self.paths.clips,
                "out_dir": self.paths.checkpoint.parent,
            })],
            "file_dep": inputs,
            "targets": [str(t) for t in targets],
            "uptodate": [self._changed("model")],
            "clean": True,
        }
        yield {
            "name": "quality",
            "doc": "PSNR / SSIM of the decoded test clips vs repeating the key frame",
            "actions": [(run_stage(_float_quality), [], {
                "checkpoint": self.paths.checkpoint,
                "clips_path": self.paths.clips,
                "bitstreams": self.paths.bitstreams,
                "out_path": self.paths.float_quality,
            })],
            "file_dep": [str(p) for p in [self.paths.checkpoint, self.paths.clips,
                                          *self.paths.bitstreams]],
            "targets": [str(self.paths.float_quality)],
            "clean": True,
        }

    def task_codec(self) -> dict:
        """Encode every test clip into an AGC bitstream and report its bitrate."""
        codec = self.workflow.codec
        return {
            "doc": "encode the test clips (HEVC key frames + FP16 keypoints)",
            "actions": [(run_stage(_encode_test_clips), [], {
                "checkpoint": self.paths.checkpoint,
                "clips_path": self.paths.clips,
                "out_paths": self.paths.bitstreams,
                "report_path": self.paths.bitrate,
                "gop": codec.gop,
                "fps": codec.fps,
                "quality": codec.key_frame_quality,
            })],
            "file_dep": [str(self.paths.checkpoint), str(self.paths.clips)],
            "targets": [str(p) for p in [*self.paths.bitstreams, self.paths.bitrate]],
            "uptodate": [self._changed("codec")],
            "clean": True,
        }


    def task_quantize(self) -> dict:
        """Fuse, calibrate and quantize the decoder; the integer golden model and its quality."""
        from grace_flow.quant.stage import OUTPUTS

        settings = self.workflow.quantize
        return {
            "doc": "int8 post-training quantization, fused graph and golden vectors",
            "actions": [(run_stage(_quantize), [], {
                "checkpoint": self.paths.checkpoint,
                "clips_path": self.paths.clips,
                "out_dir": self.paths.quantized,
                "frame_size": self.workflow.data.frame_size,
                "observer": settings.observer,
                "percentile": settings.percentile,
                "calibration_pairs": settings.calibration_pairs,
                "accumulator_bits": settings.accumulator_bits,
                "gop": self.workflow.codec.gop,
            })],
            "file_dep": [str(self.paths.checkpoint), str(self.paths.clips)],
            "targets": [str(self.paths.quantized / name) for name in OUTPUTS],
            "uptodate": [config_changed({**section_digest(self.workflow, "quantize"),
                                         "gop": self.workflow.codec.gop})],
            "clean": True,
        }


def load_graph(workflow_path: str | Path) -> Graph:
    """Build the graph for ``workflow_path``; a bad workflow exits with its one-line error."""
    try:
        return Graph(workflow_path)
    except ConfigError as err:
        print(f"grace_flow: {err}", file=sys.stderr)
        raise SystemExit(2) from None
