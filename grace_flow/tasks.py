"""The task graph: one table of stages, the one place that knows artifact paths.

Each :class:`Step` declares one doit task once: the stage function it runs, the files it reads
and writes (keyword arguments of that function, so they are exactly its ``file_dep`` and
``targets``), and a typed :class:`Inputs` object holding the workflow values it reads. The same
object is passed to the function as keyword arguments and hashed for doit's ``config_changed``,
so what a stage reads and what invalidates it cannot drift apart. Loading the graph imports no
stage code (and so no torch): each action imports its stage when it runs.
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Union

from doit.exceptions import TaskFailed
from doit.tools import config_changed
from pydantic import BaseModel

from grace_flow.code_digest import code_changed
from grace_flow.config import (ConfigError, ModelConfig, Workflow, board_file, engine_settings,
                               load_workflow, resolve, stable_hash)
from grace_flow.engines.registers import ENGINES
from grace_flow.errors import FlowError
from grace_flow.hls.sources import kernel_files, rendered_files
from grace_flow.overlay.runtime_files import runtime_files
from grace_flow.toolrun import found_toolchain
from grace_flow.validate import REPORT_TEMPLATE

ARTIFACTS = Path("artifacts")
#: DDR alignment of every operand: one AXI burst of the 64-bit HP port (16 beats × 8 bytes).
ALIGNMENT = 128


@dataclass(frozen=True)
class Inputs:
    """The workflow values one stage reads: its keyword arguments and its config_changed."""

    def arguments(self) -> dict[str, Any]:
        """The fields as keyword arguments (nested sections stay typed objects)."""
        return {item.name: getattr(self, item.name) for item in fields(self)}

    def digest(self) -> str:
        """Stable hash of the content: the task reruns exactly when it changes."""
        return stable_hash({name: value.model_dump(mode="json") if isinstance(value, BaseModel)
                            else value for name, value in self.arguments().items()})


@dataclass(frozen=True)
class NoInputs(Inputs):
    """A stage configured by its files alone."""


@dataclass(frozen=True)
class DataInputs(Inputs):
    frame_size: int
    frames_per_clip: int
    clips: dict[str, int]
    seed: int


@dataclass(frozen=True)
class ModelInputs(Inputs):
    model: ModelConfig


@dataclass(frozen=True)
class CodecInputs(Inputs):
    gop: int
    fps: float
    quality: int


@dataclass(frozen=True)
class QuantizeInputs(Inputs):
    frame_size: int
    observer: str
    percentile: float
    calibration_pairs: int
    accumulator_bits: int
    gop: int


@dataclass(frozen=True)
class CompileInputs(Inputs):
    engine_settings: dict[str, dict]
    clock_mhz: float
    margin: float
    objective: str
    gop: int
    pixels: int
    alignment: int


@dataclass(frozen=True)
class EngineInputs(Inputs):
    engine: str


@dataclass(frozen=True)
class SynthEngineInputs(Inputs):
    engine: str
    clock_mhz: float
    toolchain: str


@dataclass(frozen=True)
class SynthSystemInputs(Inputs):
    clock_mhz: float
    margin: float
    toolchain: str
    pixels: int
    gop: int


@dataclass(frozen=True)
class OverlayInputs(Inputs):
    workflow_hash: str


@dataclass(frozen=True)
class DeployInputs(Inputs):
    settings: dict


@dataclass(frozen=True)
class ValidateInputs(Inputs):
    settings: dict
    deploy_settings: dict
    workflow: str
    workflow_hash: str


@dataclass(frozen=True)
class BundleInputs(Inputs):
    built_from: str
    toolchain: str
    workflow: str


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
    #: Keyword → what the stage gets but doit does not track: a folder it writes into (its files
    #: are in ``also_writes``), a cache, tool scratch, the target's own state.
    untracked: dict[str, Files] = field(default_factory=dict)
    #: Files read without being passed (templates the renderer finds itself).
    also_reads: tuple[Path, ...] = ()
    #: Files written inside ``untracked`` folders under names the stage owns.
    also_writes: tuple[Path, ...] = ()
    #: Tools and libraries whose version the outputs depend on (beyond the stage's own code).
    tools: tuple[str, ...] = ()
    #: Tasks that must succeed first although no file of theirs is read (doit's task_dep).
    after: tuple[str, ...] = ()
    #: Further up-to-date checks (callables doit calls with no argument).
    checks: tuple[Callable[[], bool], ...] = ()
    #: It acts on the target (a board, or the emulated one): its outputs are the target's state
    #: or a measurement there, never copied from another run (a sweep's store).
    on_target: bool = False

    def task(self, action: Optional[Callable[..., object]] = None) -> dict:
        """The doit task dict (``name`` is set by the caller for sub-tasks); ``action`` replaces
        :func:`run_stage` of the stage function (a sweep wraps it in its store)."""
        keywords = {**self.inputs.arguments(), **self.reads, **self.writes, **self.untracked}
        return {
            "doc": self.doc,
            "actions": [(action or run_stage(self.action), [], keywords)],
            "file_dep": [_relative(p) for p in [*flatten_files(self.reads.values()),
                                                *self.also_reads]],
            "targets": [_relative(p) for p in [*flatten_files(self.writes.values()),
                                               *self.also_writes]],
            "uptodate": [config_changed(self.inputs.digest()),
                         code_changed(self.action.split(":")[0], self.tools), *self.checks],
            "task_dep": list(self.after),
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
        return [self.hls(engine) / name for name in rendered_files(engine)]

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

    @property
    def receipt(self) -> Path:
        return self.root / "deploy" / "receipt.json"

    @property
    def emulator(self) -> Path:
        """The emulated board's filesystem (deploy.target: emulator): the target's own files,
        like a real board's, so no task's targets."""
        return self.root / "deploy" / "emulator"

    @property
    def reference(self) -> Path:
        return self.root / "validate" / "reference.npz"

    @property
    def validate_report(self) -> Path:
        return self.root / "validate" / "report.json"

    @property
    def report_html(self) -> Path:
        return self.root / "report.html"

    @property
    def comparison(self) -> Path:
        return self.root / "compare.json"

    @property
    def bundle(self) -> Path:
        """Beside the workflows' folders, so that it never holds itself."""
        return self.root.parent / "bundles" / f"{self.root.name}.tar.gz"

    def bundled(self, targets: list[Path]) -> list[Path]:
        """The targets a bundle carries: reports, bitstreams, sources and the overlay, not the
        training data, checkpoints, arrays or libraries (the overlay holds those it needs)."""
        def carried(path: Path) -> bool:
            relative = path.relative_to(self.root)
            if relative.parts[0] == "overlay":
                return True
            return (relative.parts[0] != "data" and path.suffix not in (".pt", ".npz", ".so")
                    and path.name != "weights.bin")

        return sorted({path for path in targets if carried(path)})

    @property
    def measured(self) -> list[Path]:
        """The artifacts that hold measured times (training seconds, emulated seconds per
        frame, the time of a deployment, frames per second on the target): they differ run to
        run, so no task hashes them (validate reads the receipt untracked)."""
        return [self.training[0], self.csim_decoder, self.receipt, self.validate_report,
                self.report_html]


class Graph:
    """All tasks of one workflow file; ``creators()`` feeds dodo.py's namespace.

    ``workflow``, when given, is used instead of the file's content (a sweep's variant): the
    files it names still resolve against ``workflow_path``.
    """

    def __init__(self, workflow_path: str | Path, workflow: Optional[Workflow] = None,
                 compare_with: tuple[str, str] = ("", "")):
        self.workflow_path = Path(workflow_path)
        self.workflow: Workflow = workflow or load_workflow(self.workflow_path)
        #: (ref, against) of `doit compare`
        self.compare_with = compare_with
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
            "default_tasks": [group for group, _ in self.stages()],
        }

    @functools.cache  # noqa: B019  (one graph per process: doit asks for it several times)
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
                writes={"out_path": paths.clips}, tools=("numpy", "scipy", "pillow", "av"))]),
            ("model", [Step(
                "model", f"float decoder checkpoint (model.source: {model.source})",
                "grace_flow.model.stage:build_model", ModelInputs(model=model),
                reads={"checkpoint": self._named_file(model.checkpoint),
                       "fomm_config": self._named_file(model.fomm_config),
                       "clips_path": paths.clips if model.source == "train" else None},
                untracked={"out_dir": paths.model},
                also_writes=(paths.checkpoint,
                             *(paths.training if model.source == "train" else ())),
                tools=("torch",))]),
            ("codec", [
                Step("encode", "encode the test clips (HEVC key frames + FP16 keypoints)",
                     "grace_flow.codec.stage:encode_test_clips",
                     CodecInputs(gop=gop, fps=wf.codec.fps, quality=wf.codec.key_frame_quality),
                     reads={"checkpoint": paths.checkpoint, "clips_path": paths.clips},
                     writes={"out_paths": paths.bitstreams, "report_path": paths.bitrate},
                     tools=("torch", "pillow-heif")),
                Step("quality", "PSNR / SSIM of the decoded test clips vs repeating the key frame",
                     "grace_flow.codec.stage:float_quality", NoInputs(),
                     reads={"checkpoint": paths.checkpoint, "clips_path": paths.clips,
                            "bitstreams": paths.bitstreams},
                     writes={"out_path": paths.float_quality},
                     tools=("torch", "pillow-heif", "scikit-image"))]),
            ("quantize", [Step(
                "quantize", "int8 post-training quantization, fused graph and golden vectors",
                "grace_flow.quant.stage:quantize_model",
                QuantizeInputs(frame_size=data.frame_size, observer=wf.quantize.observer,
                               percentile=wf.quantize.percentile,
                               calibration_pairs=wf.quantize.calibration_pairs,
                               accumulator_bits=wf.quantize.accumulator_bits, gop=gop),
                reads={"checkpoint": paths.checkpoint, "clips_path": paths.clips},
                writes={**quantized, "quality_json": paths.quantize_file("quality.json")},
                tools=("torch", "numpy"))]),
            ("compile", [Step(
                "compile", "program, weight blob, DDR plan, engine requirements and specs, "
                "overlap schedule",
                "grace_flow.compile.stage:compile_program",
                CompileInputs(engine_settings=engine_settings(wf),
                              clock_mhz=wf.synth.clock_mhz, margin=wf.synth.margin,
                              objective=wf.synth.objective, gop=gop, pixels=pixels,
                              alignment=ALIGNMENT),
                reads={**quantized, "board_path": self.board_path},
                writes={"program_bin": paths.compile_file("program.bin"),
                        "program_json": paths.compile_file("program.json"),
                        "weights_bin": paths.compile_file("weights.bin"),
                        "schedule_json": paths.compile_file("schedule.json"),
                        "pareto_json": paths.compile_file("pareto.json"),
                        "specs": {e: paths.spec(e) for e in ENGINES},
                        "requirements": {e: paths.requirements(e) for e in ENGINES}},
                tools=("numpy",))]),
            ("hls", [Step(
                engine, f"HLS C++ of the {engine} engine", "grace_flow.hls.stage:hls_engine",
                EngineInputs(engine=engine), reads={"spec_path": paths.spec(engine)},
                untracked={"out_dir": paths.hls(engine)},
                also_reads=tuple(kernel_files(engine)),
                also_writes=tuple(paths.hls_sources(engine)), tools=("Jinja2",))
                for engine in ENGINES]),
            ("csim", [*(Step(
                engine, f"build the {engine} engine with g++ and prove it bit-exact",
                "grace_flow.csim.stage:csim_engine", EngineInputs(engine=engine),
                reads={"spec_path": paths.spec(engine)},
                writes={"report_path": paths.csim_report(engine),
                        "library_path": paths.csim_library(engine)},
                untracked={"sources_dir": paths.hls(engine), "build_dir": paths.build_cache},
                also_reads=tuple(paths.hls_sources(engine)), tools=("g++", "numpy"))
                for engine in ENGINES), Step(
                "decoder", "every test frame on the emulated co-processor vs the golden model",
                "grace_flow.csim.stage:csim_decoder", NoInputs(),
                reads={"program_json": paths.compile_file("program.json"),
                       "weights_bin": paths.compile_file("weights.bin"), **quantized,
                       "bitstreams": paths.bitstreams,
                       "libraries": {e: paths.csim_library(e) for e in ENGINES}},
                writes={"report_path": paths.csim_decoder},
                tools=("g++", "numpy", "pillow-heif"))]),
            ("synth", [*(Step(
                engine, f"synthesis report of the {engine} engine",
                "grace_flow.synth.stage:synth_engine_report",
                SynthEngineInputs(engine=engine, clock_mhz=wf.synth.clock_mhz,
                                  toolchain=self.toolchain),
                reads={"spec_path": paths.spec(engine), "board_path": self.board_path},
                writes={"report_path": paths.synth_report(engine)},
                untracked={"sources_dir": paths.hls(engine), "workdir": paths.synth_workdir(engine)},
                also_reads=tuple(paths.hls_sources(engine)),
                tools=("vitis_hls",) if self.toolchain == "vitis" else ())
                for engine in ENGINES), Step(
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
                untracked={"workdir": paths.synth_workdir("system"),
                         "ip_dirs": ({e: paths.synth_workdir(e) for e in ENGINES}
                                     if self.toolchain == "vitis" else None)},
                tools=("vivado",) if self.toolchain == "vitis" else ())]),
        ]
        built_from = self._built_from(table)
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
                untracked={"out_dir": paths.overlay,
                         "engine_sources": {e: paths.hls(e) for e in ENGINES}},
                also_reads=(*(f for e in ENGINES for f in paths.hls_sources(e)),
                            *runtime_files().values()),
                also_writes=tuple(paths.overlay / name for name in
                                  _overlay_files(self.toolchain)),
                tools=("g++", "pynq"))]),
            ("deploy", [Step(
                "deploy", f"install the overlay on {wf.deploy.target} (doit rollback undoes it)",
                "grace_flow.deploy.stage:deploy_overlay",
                DeployInputs(settings=wf.deploy.model_dump(mode="json")),
                writes={"receipt_path": paths.receipt},
                untracked={**self._target_state(), "overlay_dir": paths.overlay},
                also_reads=(paths.overlay / "manifest.json",),
                # Only what the emulated co-processor decoded bit-exact goes to a target.
                after=("csim:decoder",),
                # The receipt names the package (its manifest's sha256): after a rollback, the
                # next run deploys the workflow's package again.
                checks=(_records_digest(paths.receipt, "package",
                                        paths.overlay / "manifest.json"),), on_target=True)]),
            ("validate", [
                Step("reference", "golden-model and float frames of the test bitstreams (host)",
                     "grace_flow.validate.stage:reference_frames", NoInputs(),
                     reads={"checkpoint": paths.checkpoint, "clips_path": paths.clips,
                            **quantized, "bitstreams": paths.bitstreams},
                     writes={"out_path": paths.reference}, tools=("torch", "pillow-heif")),
                Step("target", "decode the test bitstreams on the target: checks, report.json, "
                     "report.html", "grace_flow.validate.stage:validate_deployment",
                     ValidateInputs(settings=wf.validate.model_dump(mode="json"),
                                    deploy_settings=wf.deploy.model_dump(mode="json"),
                                    workflow=wf.name, workflow_hash=built_from),
                     reads={"reference_npz": paths.reference,
                            "bitstreams": paths.bitstreams, **quantized,
                            "program_json": paths.compile_file("program.json"),
                            "schedule_json": paths.compile_file("schedule.json"),
                            "manifest_json": paths.overlay / "manifest.json",
                            "system_report": paths.system_report, "bitrate_json": paths.bitrate,
                            "board_path": self.board_path},
                     writes={"report_path": paths.validate_report,
                             "report_html": paths.report_html},
                     # The receipt holds the time of the deployment: read, not a dependency
                     # (the package's manifest and the deploy: section are).
                     untracked={**self._target_state(), "receipt_path": paths.receipt},
                     also_reads=(REPORT_TEMPLATE,), after=("deploy",),
                     # The report names the receipt it validated: every deploy, a rollback's
                     # redeploy included, is validated again.
                     checks=(_records_digest(paths.validate_report, "receipt_sha256",
                                             paths.receipt),),
                     tools=("pillow-heif", "matplotlib"), on_target=True)]),
        ]
        return table

    def _target_state(self) -> dict[str, Path]:
        """Where the emulated board lives, and the folder the deploy: section's files (the SSH
        key, known_hosts) are relative to."""
        return {"emulator_dir": self.paths.emulator, "base_dir": self.workflow_path.parent}

    def built_from(self) -> str:
        """The inputs digest of the whole flow (the overlay's provenance)."""
        return self.steps()["overlay"].inputs.workflow_hash

    @staticmethod
    def _built_from(table: list[tuple[str, list[Step]]]) -> str:
        """The inputs of every stage in ``table``: the provenance of what they make, so a
        workflow edit that changes none of them (a comment, auto spelled out) keeps it."""
        return stable_hash([step.inputs.digest() for _, steps in table for step in steps])

    def commands(self) -> list[Step]:
        """Tasks that a plain ``doit`` does not run: the bundle (compare is built apart)."""
        flow = self.stages()
        files = {f"{self.workflow.name}/{path.relative_to(self.paths.root).as_posix()}": path
                 for path in self.paths.bundled(
                     [Path(t) for _, steps in flow for step in steps for t in step.task()["targets"]])}
        files[f"{self.workflow.name}/{self.workflow_path.name}"] = self.workflow_path
        return [Step("bundle", "one tar.gz of the results and the overlay, with a manifest",
                     "grace_flow.bundle.stage:write_bundle",
                     BundleInputs(built_from=self._built_from(flow), toolchain=self.toolchain,
                                  workflow=_relative(self.workflow_path)),
                     reads={"files": files},
                     writes={"out_path": self.paths.bundle})]

    def steps(self) -> dict[str, Step]:
        """Every step by its doit task name ("compile", "hls:conv"), in flow order."""
        return {group if len(steps) == 1 and step.name == group else f"{group}:{step.name}": step
                for group, steps in self.stages() for step in steps}

    def creators(self, runner: Optional[Runner] = None) -> dict[str, Callable[[], object]]:
        """``task_<group>`` functions for doit, in flow order, then the commands;
        ``runner(task name, step)``, when given, makes each flow task's action."""
        flow = {f"task_{group}": self._creator(group, steps, runner)
                for group, steps in self.stages()}
        commands = {f"task_{step.name}": self._creator(step.name, [step], None)
                    for step in self.commands()}
        return {**flow, **commands, "task_compare": self._compare_task,
                "task_rollback": self._rollback_task}

    def _rollback_task(self) -> dict:
        """doit rollback: the target's previous version becomes current again."""
        keywords = {"receipt_path": self.paths.receipt,
                    "settings": self.workflow.deploy.model_dump(mode="json"),
                    **self._target_state()}
        return {"doc": "switch the target back to the version deployed before (rewrites the "
                       "receipt; the next doit deploys this workflow's package again)",
                "actions": [(run_stage("grace_flow.deploy.stage:rollback"), [], keywords)],
                "uptodate": [False], "verbosity": 2}

    def _compare_task(self) -> dict:
        """doit compare ref=<git revision> | against=<workflow file>: this version next to
        another."""
        return {"actions": [self._compare], "uptodate": [False], "verbosity": 2,
                "targets": [_relative(self.paths.comparison)]}

    def _compare(self) -> object:
        from grace_flow.compare.stage import compare_versions
        from grace_flow.compare.versions import CompareError, workflow_at_revision

        ref, against = self.compare_with
        try:
            if bool(ref) == bool(against):
                raise CompareError("compare: give ref=<git revision> or against=<workflow file>")
            other = (workflow_at_revision(self.workflow_path, ref, ARTIFACTS / "compare") if ref
                     else Path(against))
            theirs = Graph(other).summary(f"{self.workflow.name}@{ref}" if ref else None)
            compare_versions(self.summary(), theirs, self.paths.comparison)
        except FlowError as err:
            return TaskFailed(str(err), report=True)
        return None

    def summary(self, label: str | None = None) -> dict:
        """This version as `doit compare` sees it: settings, each task's input digest and files,
        which tasks are built for exactly these inputs, and where its results are."""
        steps = self.steps()
        built = self._built(steps)
        tasks = {name: step.task() for name, step in steps.items()}
        return {
            "label": label or self.workflow.name,
            "workflow": _relative(self.workflow_path),
            "settings": self.workflow.model_dump(mode="json"),
            "digests": {name: step.inputs.digest() for name, step in steps.items()},
            "reads": {name: task["file_dep"] for name, task in tasks.items()},
            "writes": {name: task["targets"] for name, task in tasks.items()},
            "built": built,
            "specs": {engine: self.paths.spec(engine) for engine in ENGINES},
            "files": {"float_quality": self.paths.float_quality,
                      "int8_quality": self.paths.quantize_file("quality.json"),
                      "bitrate": self.paths.bitrate, "system": self.paths.system_report},
        }

    def _built(self, steps: dict[str, Step]) -> dict[str, bool]:
        """Per task: did its last successful run (doit's database) have its current inputs,
        and are its targets there?"""
        database = self.paths.root / ".doit.db"
        if not database.is_file():
            return {name: False for name in steps}
        from doit.dependency import Dependency, SqliteDB

        state = Dependency(SqliteDB, str(database))
        try:
            return {name: state.get_values(name).get("_config_changed") == step.inputs.digest()
                    and all(Path(t).is_file() for t in step.task()["targets"])
                    for name, step in steps.items()}
        finally:
            state.close()

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

    return package_files(toolchain, {engine: rendered_files(engine) for engine in ENGINES},
                         list(runtime_files()))


def _records_digest(record: Path, key: str, file: Path) -> Callable[[], bool]:
    """Up to date only while the JSON file ``record`` holds the sha256 of ``file`` under ``key``."""

    def check() -> bool:
        from grace_flow.fsutil import sha256_file

        try:
            return json.loads(record.read_text())[key] == sha256_file(file)
        except (OSError, ValueError, KeyError):
            return False

    return check


def load_graph(workflow_path: str | Path, compare_with: tuple[str, str] = ("", "")) -> Graph:
    """Build the graph for ``workflow_path``; a bad workflow exits with its one-line error."""
    try:
        return Graph(workflow_path, compare_with=compare_with)
    except ConfigError as err:
        print(f"grace_flow: {err}", file=sys.stderr)
        raise SystemExit(2) from None
