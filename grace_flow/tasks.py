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

from grace_flow.config import (ConfigError, Workflow, board_file, engine_settings, load_workflow,
                               resolve, section_digest, stable_hash)
from grace_flow.errors import FlowError
from grace_flow.engines.registers import ENGINES
from grace_flow.hls.render import KERNELS, SHARED_HEADERS, template_names

ARTIFACTS = Path("artifacts")
#: DDR alignment of every operand: one AXI burst of the 64-bit HP port (16 beats × 8 bytes).
ALIGNMENT = 128


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

    @property
    def compiled(self) -> Path:
        return self.root / "compile"

    def spec(self, engine: str) -> Path:
        return self.compiled / "specs" / f"{engine}.json"

    def hls(self, engine: str) -> Path:
        return self.root / "hls" / engine

    @property
    def build(self) -> Path:
        return self.root / "csim" / "build"

    def csim_report(self, engine: str) -> Path:
        return self.root / "csim" / f"{engine}.json"

    def synth_report(self, engine: str) -> Path:
        return self.root / "synth" / f"{engine}.json"

    @property
    def overlay(self) -> Path:
        return self.root / "overlay"


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
    from grace_flow.codec.quality import float_quality

    float_quality(**kwargs)


def _quantize(**kwargs):
    from grace_flow.quant.stage import quantize_model

    quantize_model(**kwargs)


def _compile(**kwargs):
    from grace_flow.compile.stage import compile_program

    compile_program(**kwargs)


def _hls(**kwargs):
    from grace_flow.hls.stage import hls_engine

    hls_engine(**kwargs)


def _csim_engine(**kwargs):
    from grace_flow.csim.stage import csim_engine

    csim_engine(**kwargs)


def _csim_decoder(**kwargs):
    from grace_flow.csim.decoder import csim_test_clips

    csim_test_clips(**kwargs)


def _synth_engine(**kwargs):
    from grace_flow.synth.stage import synth_engine_report

    synth_engine_report(**kwargs)


def _synth_system(**kwargs):
    from grace_flow.synth.stage import synth_system_report

    synth_system_report(**kwargs)


def _overlay(**kwargs):
    from grace_flow.overlay.stage import build_overlay

    build_overlay(**kwargs)


class Graph:
    """All tasks of one workflow file; ``creators()`` feeds dodo.py's namespace."""

    def __init__(self, workflow_path: str | Path):
        self.workflow_path = Path(workflow_path)
        self.workflow: Workflow = load_workflow(self.workflow_path)
        self.paths = Paths(ARTIFACTS / self.workflow.name, self.workflow.data.clips.test)
        self.board_path = board_file(self.workflow_path, self.workflow)

    @property
    def board(self):
        """The board description (loaded when a task needs its numbers)."""
        from grace_flow.perf.board import load_board

        return load_board(self.board_path)

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
                "task_codec": self.task_codec, "task_quantize": self.task_quantize,
                "task_compile": self.task_compile, "task_hls": self.task_hls,
                "task_csim": self.task_csim, "task_synth": self.task_synth,
                "task_overlay": self.task_overlay}

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


    def task_compile(self) -> dict:
        """Lower the quantized graph to the co-processor program; size the engine specs."""
        from grace_flow.compile.stage import OUTPUTS

        synth = self.workflow.synth
        frame = self.workflow.data.frame_size
        return {
            "doc": "program, weight blob, DDR plan, engine requirements and specs, schedule",
            "actions": [(run_stage(_compile), [], {
                "qgraph_json": self.paths.quantized / "quantized_graph.json",
                "qparams_npz": self.paths.quantized / "quantized_params.npz",
                "out_dir": self.paths.compiled,
                "engine_settings": engine_settings(self.workflow),
                "ddr_limit": self.board.memory.ddr.size_mb << 20,
                "alignment": ALIGNMENT,
                "search": {"board": str(self.board_path), "clock_mhz": synth.clock_mhz,
                           "margin": synth.margin, "pixels": frame * frame,
                           "objective": synth.objective},
            })],
            "file_dep": [str(self.paths.quantized / "quantized_graph.json"),
                         str(self.paths.quantized / "quantized_params.npz"), str(self.board_path)],
            "targets": [str(self.paths.compiled / name) for name in OUTPUTS]
            + [str(self.paths.spec(engine)) for engine in ENGINES],
            "uptodate": [self._changed("engines", "synth")],
            "clean": True,
        }

    def task_hls(self) -> Iterator[dict]:
        """One task per engine: render its HLS C++ from its spec and templates."""
        for engine in ENGINES:
            kernels = [KERNELS / name for name in
                       (*template_names(engine), *SHARED_HEADERS, f"{engine}_engine.h")]
            yield {
                "name": engine,
                "doc": f"HLS C++ of the {engine} engine",
                "actions": [(run_stage(_hls), [], {"engine": engine,
                                                   "spec_path": self.paths.spec(engine),
                                                   "out_dir": self.paths.hls(engine)})],
                "file_dep": [str(self.paths.spec(engine))] + [str(k) for k in kernels],
                "targets": self._hls_sources(engine),
                "clean": True,
            }

    def _hls_sources(self, engine: str) -> list[str]:
        return [str(self.paths.hls(engine) / name) for name in
                (f"{engine}_config.h", f"{engine}_top.cpp", *SHARED_HEADERS, f"{engine}_engine.h")]

    def task_csim(self) -> Iterator[dict]:
        """Per engine: g++ build + bit-exact self-test; then the whole decoder, every test frame."""
        for engine in ENGINES:
            yield {
                "name": engine,
                "doc": f"build the {engine} engine with g++ and prove it bit-exact",
                "actions": [(run_stage(_csim_engine), [], {
                    "engine": engine, "spec_path": self.paths.spec(engine),
                    "sources_dir": self.paths.hls(engine), "build_dir": self.paths.build,
                    "report_path": self.paths.csim_report(engine)})],
                "file_dep": [str(self.paths.spec(engine)), *self._hls_sources(engine)],
                "targets": [str(self.paths.csim_report(engine))],
                "clean": True,
            }
        yield {
            "name": "decoder",
            "doc": "every test frame on the emulated co-processor vs the golden model",
            "actions": [(run_stage(_csim_decoder), [], {
                "program_dir": self.paths.compiled,
                "specs_dir": self.paths.compiled / "specs",
                "build_dir": self.paths.build,
                "qgraph_json": self.paths.quantized / "quantized_graph.json",
                "qparams_npz": self.paths.quantized / "quantized_params.npz",
                "bitstreams": self.paths.bitstreams,
                "report_path": self.paths.root / "csim" / "decoder.json"})],
            "file_dep": [str(self.paths.compiled / n) for n in ("program.json", "weights.bin")]
            + [str(self.paths.quantized / n) for n in ("quantized_graph.json",
                                                      "quantized_params.npz")]
            + [str(p) for p in self.paths.bitstreams]
            + [str(self.paths.csim_report(engine)) for engine in ENGINES],
            "targets": [str(self.paths.root / "csim" / "decoder.json")],
            "clean": True,
        }

    def task_synth(self) -> Iterator[dict]:
        """Per engine: resources and clock (vitis_hls or estimate); then the system budget/frame."""
        synth = self.workflow.synth
        for engine in ENGINES:
            yield {
                "name": engine,
                "doc": f"synthesis report of the {engine} engine",
                "actions": [(run_stage(_synth_engine), [], {
                    "engine": engine, "spec_path": self.paths.spec(engine),
                    "sources_dir": self.paths.hls(engine), "board_path": self.board_path,
                    "clock_mhz": synth.clock_mhz, "toolchain": synth.toolchain,
                    "workdir": self.paths.root / "synth" / engine,
                    "report_path": self.paths.synth_report(engine)})],
                "file_dep": [str(self.paths.spec(engine)), *self._hls_sources(engine),
                             str(self.board_path)],
                "targets": [str(self.paths.synth_report(engine))],
                "uptodate": [config_changed({"clock_mhz": synth.clock_mhz,
                                             "toolchain": synth.toolchain})],
                "clean": True,
            }
        frame = self.workflow.data.frame_size
        yield {
            "name": "system",
            "doc": "budget check on the board and the modeled frame (latency, fps, energy)",
            "actions": [(run_stage(_synth_system), [], {
                "engine_reports": {e: self.paths.synth_report(e) for e in ENGINES},
                "specs_dir": self.paths.compiled / "specs",
                "program_json": self.paths.compiled / "program.json",
                "board_path": self.board_path, "clock_mhz": synth.clock_mhz,
                "margin": synth.margin, "toolchain": synth.toolchain, "pixels": frame * frame,
                "gop": self.workflow.codec.gop, "hls_dir": self.paths.root / "hls",
                "workdir": self.paths.root / "synth" / "system",
                "report_path": self.paths.root / "synth" / "system.json"})],
            "file_dep": [str(self.paths.synth_report(e)) for e in ENGINES]
            + [str(self.paths.compiled / "program.json"), str(self.board_path)],
            "targets": [str(self.paths.root / "synth" / "system.json")],
            "uptodate": [config_changed({**section_digest(self.workflow, "synth"),
                                         "gop": self.workflow.codec.gop})],
            "clean": True,
        }

    def task_overlay(self) -> dict:
        """The overlay package: program, weights, engines, manifest with hashes."""
        return {
            "doc": "package program, weights and engines with a verified manifest",
            "actions": [(run_stage(_overlay), [], {
                "out_dir": self.paths.overlay,
                "program_dir": self.paths.compiled,
                "csim_reports": {e: self.paths.csim_report(e) for e in ENGINES},
                "build_dir": self.paths.build,
                "system_report": self.paths.root / "synth" / "system.json",
                "workflow_hash": stable_hash(self.workflow.model_dump(mode="json")),
            })],
            "file_dep": [str(self.paths.compiled / n) for n in
                         ("program.bin", "program.json", "weights.bin")]
            + [str(self.paths.csim_report(e)) for e in ENGINES]
            + [str(self.paths.root / "synth" / "system.json")],
            "targets": [str(self.paths.overlay / "manifest.json")],
            "clean": True,
        }


def load_graph(workflow_path: str | Path) -> Graph:
    """Build the graph for ``workflow_path``; a bad workflow exits with its one-line error."""
    try:
        return Graph(workflow_path)
    except ConfigError as err:
        print(f"grace_flow: {err}", file=sys.stderr)
        raise SystemExit(2) from None
