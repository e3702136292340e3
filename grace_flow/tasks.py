"""The task graph: one table of stages, the one place that knows artifact paths.

Each :class:`Step` declares one doit task once: the stage function it runs, the files it reads
and writes (keyword arguments of that function, so they are exactly its ``file_dep`` and
``targets``), and a typed :class:`Inputs` object holding the workflow values it reads. The same
object is passed to the function as keyword arguments and hashed for doit's ``config_changed``,
so what a stage reads and what invalidates it cannot drift apart. Loading the graph imports no
stage code (and so no torch): each action imports its stage when it runs.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Union

from doit.exceptions import TaskFailed
from doit.tools import config_changed
from pydantic import BaseModel, ConfigDict

from grace_flow.config import (ConfigError, Workflow, board_file, engine_settings, load_workflow,
                               resolve, stable_hash)
from grace_flow.engines.registers import ENGINES
from grace_flow.errors import FlowError
from grace_flow.compile.stage import OUTPUTS as COMPILE_OUTPUTS
from grace_flow.hls.render import KERNELS, SHARED_HEADERS, template_names
from grace_flow.quant.stage import OUTPUTS as QUANTIZE_OUTPUTS
from grace_flow.synth.stage import found_toolchain

ARTIFACTS = Path("artifacts")
#: DDR alignment of every operand: one AXI burst of the 64-bit HP port (16 beats × 8 bytes).
ALIGNMENT = 128


class Inputs(BaseModel):
    """The workflow values one stage reads: its keyword arguments and its config_changed."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    def arguments(self) -> dict[str, Any]:
        """The fields as keyword arguments (nested sections stay typed objects)."""
        return {name: getattr(self, name) for name in type(self).model_fields}

    def digest(self) -> str:
        """Stable hash of the content: the task reruns exactly when it changes."""
        return stable_hash(self.model_dump(mode="json"))


class NoInputs(Inputs):
    """A stage configured by its files alone."""


class DataInputs(Inputs):
    frame_size: int
    frames_per_clip: int
    clips: dict[str, int]
    seed: int


class ModelInputs(Inputs):
    model: Any  # config.ModelConfig


class CodecInputs(Inputs):
    gop: int
    fps: float
    quality: int


class QuantizeInputs(Inputs):
    frame_size: int
    observer: str
    percentile: float
    calibration_pairs: int
    accumulator_bits: int
    gop: int


class CompileInputs(Inputs):
    engine_settings: dict[str, dict]
    clock_mhz: float
    margin: float
    objective: str
    gop: int
    pixels: int
    alignment: int


class EngineInputs(Inputs):
    engine: str


class SynthEngineInputs(Inputs):
    engine: str
    clock_mhz: float
    toolchain: str


class SynthSystemInputs(Inputs):
    clock_mhz: float
    margin: float
    toolchain: str
    pixels: int
    gop: int


class OverlayInputs(Inputs):
    workflow_hash: str


Files = Union[Path, list, dict, None]


@dataclass(frozen=True)
class Step:
    """One task: ``action`` ("module:function") called with ``inputs`` and the files."""

    name: str
    doc: str
    action: str
    inputs: Inputs
    #: Keyword → input file(s): the task's file_dep.
    reads: dict[str, Files] = field(default_factory=dict)
    #: Keyword → output file(s): the task's targets.
    writes: dict[str, Files] = field(default_factory=dict)
    #: Keyword → folder the stage writes into (its files are in ``also_writes``) or keeps a
    #: cache or tool scratch in: passed, neither a dependency nor a target.
    folders: dict[str, Files] = field(default_factory=dict)
    #: Files read without being passed (templates the renderer finds itself).
    also_reads: tuple[Path, ...] = ()
    #: Files written inside ``folders`` under names the stage owns.
    also_writes: tuple[Path, ...] = ()

    def task(self, action: Optional[Callable[..., object]] = None) -> dict:
        """The doit task dict (``name`` is set by the caller for sub-tasks); ``action`` replaces
        :func:`run_stage` of the stage function (a sweep wraps it in its store)."""
        keywords = {**self.inputs.arguments(), **self.reads, **self.writes, **self.folders}
        return {
            "doc": self.doc,
            "actions": [(action or run_stage(self.action), [], keywords)],
            "file_dep": [_relative(p) for p in [*flatten_files(self.reads.values()),
                                                *self.also_reads]],
            "targets": [_relative(p) for p in [*flatten_files(self.writes.values()),
                                               *self.also_writes]],
            "uptodate": [config_changed(self.inputs.digest())],
            "clean": True,
        }


#: Makes a task's action from its doit name and its step.
Runner = Callable[[str, "Step"], Callable[..., object]]


def flatten_files(values: Iterable[Files]) -> list[Path]:
    """Every path in ``values`` (paths, lists and dicts of them; None skipped), in order."""
    paths: list[Path] = []
    for value in values:
        if isinstance(value, dict):
            paths += flatten_files(value.values())
        elif isinstance(value, list):
            paths += flatten_files(value)
        elif value is not None:
            paths.append(Path(value))
    return paths


def _relative(path: Path) -> str:
    """``path`` relative to the project folder when inside it, so doit's state can move."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def run_stage(action: str) -> Callable[..., object]:
    """The doit action of ``module:function``: imported when it runs; a user mistake fails its
    task with one line, not a traceback."""
    module, name = action.split(":")

    def run(**kwargs: object) -> object:
        function = getattr(importlib.import_module(module), name)
        try:
            function(**kwargs)
        except FlowError as err:
            return TaskFailed(str(err), report=True)
        return None

    run.__name__ = name
    return run


@dataclass(frozen=True)
class Paths:
    """Where every artifact of one workflow lives (``artifacts/<name>/<stage>/...``)."""

    root: Path
    test_clips: int

    @property
    def clips(self) -> Path:
        return self.root / "data" / "clips.npz"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def checkpoint(self) -> Path:
        return self.model / "decoder.pt"

    @property
    def training(self) -> list[Path]:
        return [self.model / "train_log.json", self.model / "loss.png"]

    @property
    def bitstreams(self) -> list[Path]:
        return [self.root / "codec" / f"test_{i:03d}.agc" for i in range(self.test_clips)]

    @property
    def bitrate(self) -> Path:
        return self.root / "codec" / "bitrate.json"

    @property
    def float_quality(self) -> Path:
        return self.root / "codec" / "quality.json"

    @property
    def quantized(self) -> Path:
        return self.root / "quantize"

    def quantize_file(self, name: str) -> Path:
        return self.quantized / name

    @property
    def compiled(self) -> Path:
        return self.root / "compile"

    def compile_file(self, name: str) -> Path:
        return self.compiled / name

    def spec(self, engine: str) -> Path:
        return self.compiled / "specs" / f"{engine}.json"

    def requirements(self, engine: str) -> Path:
        return self.compiled / "requirements" / f"{engine}.json"

    def hls(self, engine: str) -> Path:
        return self.root / "hls" / engine

    def hls_sources(self, engine: str) -> list[Path]:
        return [self.hls(engine) / name for name in
                (f"{engine}_config.h", f"{engine}_top.cpp", *SHARED_HEADERS, f"{engine}_engine.h")]

    @property
    def build_cache(self) -> Path:
        """g++ builds keyed on their inputs, shared by every workflow (a cache, not an output)."""
        return ARTIFACTS / ".cache" / "csim"

    def csim_report(self, engine: str) -> Path:
        return self.root / "csim" / f"{engine}.json"

    def csim_library(self, engine: str) -> Path:
        return self.root / "csim" / f"{engine}.so"

    @property
    def csim_decoder(self) -> Path:
        return self.root / "csim" / "decoder.json"

    def synth_report(self, engine: str) -> Path:
        return self.root / "synth" / f"{engine}.json"

    def synth_workdir(self, engine: str) -> Path:
        return self.root / "synth" / engine

    @property
    def system_report(self) -> Path:
        return self.root / "synth" / "system.json"

    @property
    def bitstream(self) -> Path:
        return self.root / "synth" / "overlay.bit"

    @property
    def hwh(self) -> Path:
        return self.root / "synth" / "overlay.hwh"

    @property
    def overlay(self) -> Path:
        return self.root / "overlay"


class Graph:
    """All tasks of one workflow file; ``creators()`` feeds dodo.py's namespace.

    ``workflow``, when given, is used instead of the file's content (a sweep's variant): the
    files it names still resolve against ``workflow_path``.
    """

    def __init__(self, workflow_path: str | Path, workflow: Optional[Workflow] = None):
        self.workflow_path = Path(workflow_path)
        self.workflow: Workflow = workflow or load_workflow(self.workflow_path)
        self.paths = Paths(ARTIFACTS / self.workflow.name, self.workflow.data.clips.test)
        self.board_path = board_file(self.workflow_path, self.workflow)
        toolchain = self.workflow.synth.toolchain
        self.toolchain = found_toolchain() if toolchain == "auto" else toolchain

    @property
    def doit_config(self) -> dict:
        """DOIT_CONFIG: one dependency database per workflow, so versions never clash."""
        self.paths.root.mkdir(parents=True, exist_ok=True)
        return {
            "dep_file": str(self.paths.root / ".doit.db"),
            "backend": "sqlite3",
            "verbosity": 2,
        }

    def stages(self) -> list[tuple[str, list[Step]]]:
        """The stage table, in flow order: (task group, its steps)."""
        wf, paths = self.workflow, self.paths
        gop, pixels = wf.codec.gop, wf.data.frame_size ** 2
        quantized = {"qgraph_json": paths.quantize_file("quantized_graph.json"),
                     "qparams_npz": paths.quantize_file("quantized_params.npz")}
        data = wf.data
        model = wf.model
        table = [
            ("data", [Step(
                "data", "build the train / calibration / test clips",
                "grace_flow.data.stage:build_clips",
                DataInputs(frame_size=data.frame_size, frames_per_clip=data.frames_per_clip,
                           clips=data.clips.model_dump(), seed=data.seed),
                reads={"video": self._named_file(None if data.source == "synthetic"
                                                 else data.source)},
                writes={"out_path": paths.clips})]),
            ("model", [Step(
                "model", f"float decoder checkpoint (model.source: {model.source})",
                "grace_flow.model.stage:build_model", ModelInputs(model=model),
                reads={"checkpoint": self._named_file(model.checkpoint),
                       "fomm_config": self._named_file(model.fomm_config),
                       "clips_path": paths.clips if model.source == "train" else None},
                folders={"out_dir": paths.model},
                also_writes=(paths.checkpoint,
                             *(paths.training if model.source == "train" else ())))]),
            ("codec", [
                Step("encode", "encode the test clips (HEVC key frames + FP16 keypoints)",
                     "grace_flow.codec.stage:encode_test_clips",
                     CodecInputs(gop=gop, fps=wf.codec.fps, quality=wf.codec.key_frame_quality),
                     reads={"checkpoint": paths.checkpoint, "clips_path": paths.clips},
                     writes={"out_paths": paths.bitstreams, "report_path": paths.bitrate}),
                Step("quality", "PSNR / SSIM of the decoded test clips vs repeating the key frame",
                     "grace_flow.codec.stage:float_quality", NoInputs(),
                     reads={"checkpoint": paths.checkpoint, "clips_path": paths.clips,
                            "bitstreams": paths.bitstreams},
                     writes={"out_path": paths.float_quality})]),
            ("quantize", [Step(
                "quantize", "int8 post-training quantization, fused graph and golden vectors",
                "grace_flow.quant.stage:quantize_model",
                QuantizeInputs(frame_size=data.frame_size, observer=wf.quantize.observer,
                               percentile=wf.quantize.percentile,
                               calibration_pairs=wf.quantize.calibration_pairs,
                               accumulator_bits=wf.quantize.accumulator_bits, gop=gop),
                reads={"checkpoint": paths.checkpoint, "clips_path": paths.clips},
                folders={"out_dir": paths.quantized},
                also_writes=tuple(paths.quantize_file(n) for n in QUANTIZE_OUTPUTS))]),
            ("compile", [Step(
                "compile", "program, weight blob, DDR plan, engine requirements and specs, "
                "overlap schedule",
                "grace_flow.compile.stage:compile_program",
                CompileInputs(engine_settings=engine_settings(wf),
                              clock_mhz=wf.synth.clock_mhz, margin=wf.synth.margin,
                              objective=wf.synth.objective, gop=gop, pixels=pixels,
                              alignment=ALIGNMENT),
                reads={**quantized, "board_path": self.board_path},
                folders={"out_dir": paths.compiled},
                also_writes=(*(paths.compile_file(n) for n in COMPILE_OUTPUTS),
                             *(paths.spec(e) for e in ENGINES),
                             *(paths.requirements(e) for e in ENGINES)))]),
            ("hls", [Step(
                engine, f"HLS C++ of the {engine} engine", "grace_flow.hls.stage:hls_engine",
                EngineInputs(engine=engine), reads={"spec_path": paths.spec(engine)},
                folders={"out_dir": paths.hls(engine)},
                also_reads=tuple(KERNELS / name for name in (*template_names(engine),
                                                             *SHARED_HEADERS,
                                                             f"{engine}_engine.h")),
                also_writes=tuple(paths.hls_sources(engine))) for engine in ENGINES]),
            ("csim", [*(Step(
                engine, f"build the {engine} engine with g++ and prove it bit-exact",
                "grace_flow.csim.stage:csim_engine", EngineInputs(engine=engine),
                reads={"spec_path": paths.spec(engine)},
                writes={"report_path": paths.csim_report(engine),
                        "library_path": paths.csim_library(engine)},
                folders={"sources_dir": paths.hls(engine), "build_dir": paths.build_cache},
                also_reads=tuple(paths.hls_sources(engine))) for engine in ENGINES), Step(
                "decoder", "every test frame on the emulated co-processor vs the golden model",
                "grace_flow.csim.stage:csim_decoder", NoInputs(),
                reads={"program_json": paths.compile_file("program.json"),
                       "weights_bin": paths.compile_file("weights.bin"), **quantized,
                       "bitstreams": paths.bitstreams,
                       "libraries": {e: paths.csim_library(e) for e in ENGINES}},
                writes={"report_path": paths.csim_decoder})]),
            ("synth", [*(Step(
                engine, f"synthesis report of the {engine} engine",
                "grace_flow.synth.stage:synth_engine_report",
                SynthEngineInputs(engine=engine, clock_mhz=wf.synth.clock_mhz,
                                  toolchain=self.toolchain),
                reads={"spec_path": paths.spec(engine), "board_path": self.board_path},
                writes={"report_path": paths.synth_report(engine)},
                folders={"sources_dir": paths.hls(engine), "workdir": paths.synth_workdir(engine)},
                also_reads=tuple(paths.hls_sources(engine))) for engine in ENGINES), Step(
                "system", "budget check on the board and the modeled frame (latency, fps, energy)",
                "grace_flow.synth.stage:synth_system_report",
                SynthSystemInputs(clock_mhz=wf.synth.clock_mhz, margin=wf.synth.margin,
                                  toolchain=self.toolchain, pixels=pixels, gop=gop),
                reads={"engine_reports": {e: paths.synth_report(e) for e in ENGINES},
                       "specs": {e: paths.spec(e) for e in ENGINES},
                       "program_json": paths.compile_file("program.json"),
                       "board_path": self.board_path},
                writes={"report_path": paths.system_report,
                        **({"bitstream": paths.bitstream, "hwh": paths.hwh}
                           if self.toolchain == "vitis" else {})},
                folders={"workdir": paths.synth_workdir("system"),
                         "ip_dirs": ({e: paths.synth_workdir(e) for e in ENGINES}
                                     if self.toolchain == "vitis" else None)})]),
        ]
        # The package's provenance: the inputs of every stage that made it, so a workflow edit
        # that changes none of them (a comment, auto spelled out) keeps the package.
        built_from = stable_hash([step.inputs.digest() for _, steps in table for step in steps])
        table += [
            ("overlay", [Step(
                "overlay", "package program, weights and engines with a verified manifest",
                "grace_flow.overlay.stage:build_overlay", OverlayInputs(workflow_hash=built_from),
                reads={"program_bin": paths.compile_file("program.bin"),
                       "program_json": paths.compile_file("program.json"),
                       "weights_bin": paths.compile_file("weights.bin"),
                       "system_report": paths.system_report,
                       **({"bitstream": paths.bitstream, "hwh": paths.hwh}
                          if self.toolchain == "vitis" else
                          {"libraries": {e: paths.csim_library(e) for e in ENGINES}})},
                folders={"out_dir": paths.overlay},
                also_writes=tuple(paths.overlay / name for name in
                                  _overlay_files(self.toolchain)))]),
        ]
        return table

    def creators(self, runner: Optional[Runner] = None) -> dict[str, Callable[[], object]]:
        """``task_<group>`` functions for doit, in flow order; ``runner(task name, step)``, when
        given, makes each task's action."""
        return {f"task_{group}": self._creator(group, steps, runner)
                for group, steps in self.stages()}

    @staticmethod
    def _creator(group: str, steps: list[Step], runner: Optional[Runner]) -> Callable[[], object]:
        def action(name: str, step: Step):
            return runner(name, step) if runner else None

        def create():
            if len(steps) == 1 and steps[0].name == group:
                return steps[0].task(action(group, steps[0]))
            return ({"name": step.name, **step.task(action(f"{group}:{step.name}", step))}
                    for step in steps)

        create.__doc__ = steps[0].doc if len(steps) == 1 else f"the {group} stage's tasks"
        return create

    def _named_file(self, relative: Optional[str]) -> Optional[Path]:
        return resolve(self.workflow_path, relative) if relative else None


def _overlay_files(toolchain: str) -> list[str]:
    from grace_flow.overlay.package import package_files

    return package_files(toolchain, ENGINES)


def load_graph(workflow_path: str | Path) -> Graph:
    """Build the graph for ``workflow_path``; a bad workflow exits with its one-line error."""
    try:
        return Graph(workflow_path)
    except ConfigError as err:
        print(f"grace_flow: {err}", file=sys.stderr)
        raise SystemExit(2) from None
