"""The workflow.yaml schema: one typed definition, validated once at load, hashed per section.

A workflow file is an *algorithm version*: which data, which decoder geometry, how it is coded.
Each top-level section is a pydantic model; tasks depend on exactly the sections they read through
:func:`section_digest`. Every user mistake becomes one :class:`ConfigError` line of the form
``<file>:<line>: <key path>: <what was expected>, got <value>``.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from grace_flow.errors import FlowError
from grace_flow.engines.registers import ENGINES
from grace_flow.engines.spec import SpecError, check_spec, default_spec
from grace_flow.yamlload import YamlError, load_with_lines


BOARDS = Path(__file__).resolve().parents[1] / "constraints" / "boards"


class ConfigError(FlowError):
    """A workflow file that cannot be used; the message is one line naming file, line and key."""


class Section(BaseModel):
    """Base of every schema section: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ClipCounts(Section):
    """How many clips each split holds."""

    train: Annotated[int, Field(ge=1, le=10000, description="Training clips.")] = 64
    calibration: Annotated[
        int, Field(ge=1, le=1000, description="Quantization calibration clips.")
    ] = 8
    test: Annotated[int, Field(ge=1, le=1000, description="Held-out test clips.")] = 8


class DataConfig(Section):
    """Talking-face clips: synthetic (offline, deterministic by seed) or cut from a video file."""

    source: str = Field("synthetic", description="'synthetic', or a video file path (mp4, ...).")
    seed: Annotated[int, Field(ge=0, le=2**31 - 1, description="Seed of the synthetic faces.")] = 0
    frame_size: Annotated[
        int, Field(ge=16, le=512, multiple_of=16, description="Square frame side.")
    ] = 64
    frames_per_clip: Annotated[int, Field(ge=2, le=1000, description="Frames in one clip.")] = 32
    clips: ClipCounts = ClipCounts()


class KeypointDetectorConfig(Section):
    """Encoder-side keypoint detector (FOMM's KPDetector without Jacobians)."""

    block_expansion: Annotated[int, Field(ge=1, le=1024, description="Hourglass base width.")] = 32
    max_features: Annotated[int, Field(ge=1, le=4096, description="Hourglass width cap.")] = 256
    num_blocks: Annotated[int, Field(ge=1, le=8, description="Hourglass depth.")] = 4
    temperature: Annotated[
        float, Field(gt=0, le=10, description="Heatmap softmax temperature.")
    ] = 0.1
    scale_factor: Annotated[float, Field(gt=0, le=1, description="Input downscale factor.")] = 0.5


class DenseMotionConfig(Section):
    """Dense motion network: heatmaps → hourglass → K+1 masks and the occlusion map."""

    block_expansion: Annotated[int, Field(ge=1, le=1024, description="Hourglass base width.")] = 32
    max_features: Annotated[int, Field(ge=1, le=4096, description="Hourglass width cap.")] = 256
    num_blocks: Annotated[int, Field(ge=1, le=8, description="Hourglass depth.")] = 3
    scale_factor: Annotated[float, Field(gt=0, le=1, description="Motion-field resolution.")] = 0.5
    kp_variance: Annotated[float, Field(gt=0, le=1, description="Gaussian heatmap variance.")] = (
        0.01
    )


class GeneratorConfig(Section):
    """Occlusion-aware generator: down blocks, warp, residual bottleneck, up blocks."""

    block_expansion: Annotated[int, Field(ge=1, le=1024, description="First feature width.")] = 32
    max_features: Annotated[int, Field(ge=1, le=4096, description="Feature width cap.")] = 256
    num_down_blocks: Annotated[int, Field(ge=0, le=6, description="Down (and up) blocks.")] = 2
    num_bottleneck_blocks: Annotated[int, Field(ge=0, le=32, description="Residual blocks.")] = 3
    estimate_occlusion_map: bool = Field(True, description="Predict and apply an occlusion map.")


class TrainConfig(Section):
    """Training from scratch on the data: clips (deterministic by seed)."""

    steps: Annotated[int, Field(ge=1, le=10**7, description="Optimizer steps.")] = 1500
    batch_size: Annotated[int, Field(ge=1, le=1024, description="Frame pairs per step.")] = 16
    learning_rate: Annotated[float, Field(gt=0, le=1, description="Adam learning rate.")] = 2e-3
    seed: Annotated[int, Field(ge=0, le=2**31 - 1, description="Seed of init and sampling.")] = 0
    pyramid_scales: Annotated[int, Field(ge=1, le=6, description="Scales of the L1 pyramid.")] = 3
    equivariance_weight: Annotated[
        float, Field(ge=0, le=100, description="Keypoint equivariance.")
    ] = 1.0
    landmark_weight: Annotated[float, Field(ge=0, le=100, description="Landmark supervision.")] = (
        1.0
    )


class ModelConfig(Section):
    """The float AGC decoder (+ keypoint detector): where it comes from and its geometry."""

    source: Literal["train", "checkpoint", "init"] = Field(
        "train", description="train on data:, load model.checkpoint, or random init (sizing only)."
    )
    checkpoint: Optional[str] = Field(None, description="Checkpoint file (source: checkpoint).")
    fomm_config: Optional[str] = Field(
        None, description="First-order-model YAML; makes checkpoint a FOMM-format file."
    )
    num_channels: Annotated[int, Field(ge=1, le=4, description="Image channels.")] = 3
    num_kp: Annotated[int, Field(ge=1, le=64, description="Keypoints per frame.")] = 10
    kp_detector: KeypointDetectorConfig = KeypointDetectorConfig()
    dense_motion: DenseMotionConfig = DenseMotionConfig()
    generator: GeneratorConfig = GeneratorConfig()
    train: TrainConfig = TrainConfig()


class CodecConfig(Section):
    """The AGC bitstream: HEVC-intra key frames plus FP16 entropy-coded keypoints."""

    gop: Annotated[int, Field(ge=1, le=10000, description="Frames per key frame.")] = 32
    fps: Annotated[float, Field(gt=0, le=240, description="Frame rate for kbps.")] = 25.0
    key_frame_quality: Annotated[int, Field(ge=1, le=100, description="HEIF quality.")] = 90


class QuantizeConfig(Section):
    """Post-training static int8 quantization: calibration and accumulator limits."""

    observer: Literal["minmax", "percentile", "histogram"] = Field(
        "percentile", description="Activation range observer used on the calibration clips."
    )
    percentile: Annotated[float, Field(gt=90, le=100, description="|x| percentile kept.")] = 99.99
    calibration_pairs: Annotated[
        int, Field(ge=1, le=100000, description="(key frame, frame) pairs to calibrate on.")
    ] = 64
    accumulator_bits: Annotated[
        int, Field(ge=16, le=48, description="Conv accumulator width the engines provide.")
    ] = 32


def _engine_section(engine: str) -> type[Section]:
    """``engines.<engine>``: every spec key of the engine, each a value or ``auto``."""
    fields = {}
    for key, value in default_spec(engine).items():
        kind = list[type(value[0])] if isinstance(value, list) else type(value)
        fields[key] = (
            Union[Literal["auto"], kind],
            Field(
                "auto",
                description=(
                    f"{engine} engine {key}; auto: sized by compile (and synth search for unroll)"
                ),
            ),
        )
    return create_model(
        f"{engine.title().replace('_', '')}Engine",
        __base__=Section,
        __doc__=f"Compile-time parameters of the {engine} engine.",
        **fields,
    )


EnginesConfig = create_model(
    "EnginesConfig",
    __base__=Section,
    __doc__="Engine parameters: capacities, features, unroll factors, tiles (or auto).",
    **{engine: (_engine_section(engine), _engine_section(engine)()) for engine in ENGINES},
)


class SynthConfig(Section):
    """Synthesis: which toolchain, at what clock, optimising what, with what headroom."""

    toolchain: Literal["auto", "vitis", "estimate"] = Field(
        "auto", description="vitis runs vitis_hls/vivado; estimate models; auto: vitis if on PATH."
    )
    clock_mhz: Annotated[float, Field(gt=0, le=500, description="PL clock (a board choice).")] = (
        100.0
    )
    objective: Literal["latency", "energy"] = Field(
        "latency", description="What the unroll search minimises."
    )
    margin: Annotated[
        float, Field(ge=0, lt=1, description="Fraction of each resource kept free.")
    ] = 0.1


TARGET_PATTERN = r"^(emulator|ssh://[A-Za-z0-9._-]+@[A-Za-z0-9._-]+(:[0-9]{1,5})?/[^\s]+)$"


class DeployConfig(Section):
    """Where the overlay package is installed: the local emulated board, or a board over SSH."""

    target: str = Field(
        "emulator", pattern=TARGET_PATTERN,
        description="emulator (a folder under the artifacts, run by this Python) or "
                    "ssh://user@host[:port]/absolute/folder (a PYNQ board or any Linux host).",
        json_schema_extra={"expected": "'emulator' or ssh://user@host[:port]/absolute/folder"})
    identity: Optional[str] = Field(
        None, description="SSH private key file (relative to this file, or ~/...); "
                          "default: the SSH agent and ~/.ssh/id_*.")
    known_hosts: Optional[str] = Field(
        None, description="known_hosts file the target's host key is checked against; "
                          "default: ~/.ssh/known_hosts.")
    accept_new_host: bool = Field(
        False, description="Add a host missing from known_hosts (a changed key is always refused).")
    python: str = Field(
        "python3", pattern=r"^[^\s'\"]+$", description="The Python interpreter on the target.",
        json_schema_extra={"expected": "an interpreter path without spaces or quotes"})


class ValidateConfig(Section):
    """Thresholds of the checks run on the target, and what the report shows."""

    bit_exact: bool = Field(
        True, description="Every frame on the target must equal the golden model's.")
    min_psnr_db: Optional[float] = Field(
        20.0, ge=0, le=100,
        description="Mean PSNR of the target's predicted frames vs the originals (null: report "
                    "only).")
    max_float_gap_db: Optional[float] = Field(
        1.0, ge=0, le=100,
        description="How far that PSNR may fall below the float decoder's (null: report only).")
    min_fps: Optional[float] = Field(
        None, ge=0, le=10000,
        description="Frames per second on the board: measured on a board, modeled "
                    "(synth:system) on the emulator (null: report only).")
    max_uj_per_pixel: Optional[float] = Field(
        None, gt=0, le=1e6,
        description="Energy per reconstructed pixel, µJ: measured where the board reports "
                    "power, else modeled (null: report only; GRACE: 11.7).")
    report_clips: Annotated[int, Field(ge=1, le=100, description="Test clips shown in "
                                       "report.html.")] = 3


# The `validate` section shadows BaseModel.validate, pydantic's deprecated v1 classmethod that
# nothing here calls; the section is named after its stage, so that one warning is silenced.
warnings.filterwarnings("ignore", message='Field name "validate" in "Workflow" shadows',
                        category=UserWarning)


class Workflow(Section):
    """One algorithm version of the decoder and its hardware."""

    name: Annotated[
        str, Field(pattern=r"^[A-Za-z0-9_]{1,64}$", description="Artifact folder name.")
    ]
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    codec: CodecConfig = CodecConfig()
    quantize: QuantizeConfig = QuantizeConfig()
    engines: EnginesConfig = EnginesConfig()
    synth: SynthConfig = SynthConfig()
    deploy: DeployConfig = DeployConfig()
    validate: ValidateConfig = ValidateConfig()
    board: str = Field(
        "pynq-z1",
        description=(
            "A board of constraints/boards/ by name, or a board .yaml file (relative to this file)."
        ),
    )


def load_workflow(path: str | Path) -> Workflow:
    """Read, validate and return the workflow at ``path``; :class:`ConfigError` on any problem."""
    path = Path(path)
    try:
        raw, lines = load_with_lines(path)
    except YamlError as err:
        raise ConfigError(str(err)) from None
    return validate_workflow(path, raw, lines)


#: Where each key was written: its line in the workflow file, or ``"file:line"`` for a key set
#: in another file (a sweep's override).
Lines = dict[tuple[str, ...], Union[int, str]]


def validate_workflow(path: str | Path, raw: Any, lines: Lines) -> Workflow:
    """Validate ``raw`` as the workflow file ``path`` (the files it names are relative to that
    file); a mistake is a :class:`ConfigError` naming where its key was written."""
    path = Path(path)
    try:
        workflow = Workflow.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_first_error(path, raw, lines, err)) from None
    _check_files(path, workflow, lines)
    _check_board(path, workflow, lines)
    _check_engines(path, workflow, lines)
    return workflow


def resolve(workflow_path: str | Path, relative: str) -> Path:
    """A path named in the workflow, resolved against the workflow file's folder."""
    return (Path(workflow_path).parent / relative).resolve()


def board_file(workflow_path: str | Path, workflow: Workflow) -> Path:
    """The board description the workflow names."""
    if workflow.board.endswith(".yaml"):
        return resolve(workflow_path, workflow.board)
    return BOARDS / f"{workflow.board}.yaml"


def section_digest(workflow: Workflow, *sections: str) -> dict[str, Any]:
    """The JSON-able content of ``sections`` for doit's ``config_changed`` (keys sorted, stable)."""
    return {name: getattr(workflow, name).model_dump(mode="json") for name in sections}


def stable_hash(obj: Any) -> str:
    """sha256 of ``obj``'s canonical JSON (sorted keys): equal content, equal hash, any process."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def json_schema() -> dict[str, Any]:
    """JSON Schema of workflow.yaml, generated from the same pydantic definition."""
    schema = Workflow.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "grace_flow workflow"
    return schema


def _check_files(path: Path, workflow: Workflow, lines: Lines) -> None:
    if workflow.model.source == "checkpoint" and not workflow.model.checkpoint:
        raise ConfigError(
            f"{key_place(path, lines, ('model', 'source'))}: model.checkpoint: required when "
            "model.source is 'checkpoint'"
        )
    named = {
        ("model", "checkpoint"): workflow.model.checkpoint,
        ("model", "fomm_config"): workflow.model.fomm_config,
    }
    if workflow.board.endswith(".yaml"):
        named[("board",)] = workflow.board
    elif not board_file(path, workflow).is_file():
        known = sorted(p.stem for p in BOARDS.glob("*.yaml"))
        raise ConfigError(
            f"{key_place(path, lines, ('board',))}: board: unknown board "
            f"{workflow.board!r}; known: {', '.join(known)} (or give a .yaml file)"
        )
    if workflow.data.source != "synthetic":
        named[("data", "source")] = workflow.data.source
    for key, value in named.items():
        if value and not resolve(path, value).is_file():
            raise ConfigError(
                f"{key_place(path, lines, key)}: {'.'.join(key)}: file {value!r} does not "
                f"exist (paths are relative to {path.name}'s folder)"
            )


def _check_board(path: Path, workflow: Workflow, lines: Lines) -> None:
    """The board file must load: its mistakes surface now, not after training."""
    from grace_flow.perf.board import BoardError, load_board

    try:
        load_board(board_file(path, workflow))
    except BoardError as err:
        raise ConfigError(f"{key_place(path, lines, ('board',))}: board: {err}") from None


def engine_settings(workflow: Workflow) -> dict[str, dict]:
    """``engines:`` as plain dicts per engine (values or 'auto')."""
    return {engine: getattr(workflow.engines, engine).model_dump() for engine in ENGINES}


def _check_engines(path: Path, workflow: Workflow, lines: Lines) -> None:
    """Fixed engine values must form a servable spec (auto ones take the defaults here)."""
    for engine, settings in engine_settings(workflow).items():
        spec = {k: default_spec(engine)[k] if v == "auto" else v for k, v in settings.items()}
        try:
            check_spec(engine, spec)
        except SpecError as err:
            fixed = [k for k, v in settings.items() if v != "auto" and f" {k} " in f" {err} "]
            key = ("engines", engine, fixed[0]) if fixed else ("engines", engine)
            raise ConfigError(
                f"{key_place(path, lines, key)}: {'.'.join(key)}: "
                f"{str(err).split(': ', 1)[-1]}"
            ) from None


def _first_error(path: Path, raw: Any, lines: Lines, err: ValidationError) -> str:
    """Turn pydantic's first error into the one-line message users see."""
    error = err.errors()[0]
    # Union members appear in the location as type tags ("literal['auto']", "int"): not keys.
    loc = tuple(
        str(part)
        for part in error["loc"]
        if not re.match(r"^(literal\[.*\]|int|float|str|bool|list\[.*\])$", str(part))
    )
    kind = error["type"]
    where = f"{key_place(path, lines, loc)}: {'.'.join(loc) if loc else '(top level)'}"
    if kind == "model_type" and not loc:
        return f"{path.name}:1: (top level): expected a mapping of sections, got {_show(raw)}"
    if kind == "extra_forbidden":
        known = _fields_at(loc[:-1])
        guess = difflib.get_close_matches(loc[-1], known, n=1) or _elsewhere(loc[-1])
        hint = f"did you mean '{guess[0]}'?" if guess else f"known keys: {', '.join(known)}"
        return f"{where}: unknown key; {hint}"
    if kind == "missing":
        return f"{where}: missing required key"
    field = _field_at(loc)
    expected = _expectation(field) if field is not None else error["msg"]
    return f"{where}: expected {expected}, got {_show(error.get('input'))}"


def key_place(path: Path, lines: Lines, loc: tuple[str, ...]) -> str:
    """``file:line`` of ``loc``, or of the nearest enclosing key written down."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            place = lines[loc[:end]]
            return place if isinstance(place, str) else f"{path.name}:{place}"
    return f"{path.name}:1"


def _model_at(loc: tuple[str, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = Workflow
    for part in loc:
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _elsewhere(key: str) -> list[str]:
    """Full paths of schema keys named ``key`` in other sections (a key put at the wrong level)."""
    found, todo = [], [((), Workflow)]
    while todo:
        prefix, model = todo.pop()
        for name, field in model.model_fields.items():
            if name == key:
                found.append(".".join(prefix + (name,)))
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                todo.append((prefix + (name,), field.annotation))
    return sorted(found)


def _fields_at(loc: tuple[str, ...]) -> list[str]:
    model = _model_at(loc)
    return list(model.model_fields) if model else []


def _field_at(loc: tuple[str, ...]):
    model = _model_at(loc[:-1]) if loc else None
    return model.model_fields.get(loc[-1]) if model else None


def _expectation(field) -> str:
    """Describe what a field accepts, from its annotation and constraints ('an integer 1..64')."""
    bounds = {}
    for meta in field.metadata:
        for name in ("ge", "gt", "le", "lt", "multiple_of", "pattern"):
            if getattr(meta, name, None) is not None:
                bounds[name] = getattr(meta, name)
    annotation = field.annotation
    if getattr(annotation, "__origin__", None) is Union and type(None) in annotation.__args__:
        (inner,) = [a for a in annotation.__args__ if a is not type(None)]  # Optional[inner]
        return "null or " + _describe(field, inner, bounds)
    return _describe(field, annotation, bounds)


def _describe(field, annotation, bounds: dict) -> str:
    if getattr(annotation, "__origin__", None) is Union:
        other = [a for a in annotation.__args__ if getattr(a, "__origin__", None) is not Literal]
        noun = {int: "an integer", float: "a number", bool: "true or false"}.get(other[0], None)
        if noun is None:
            noun = "a list of " + ("integers" if other[0].__args__[0] is int else "names")
        return f"'auto' or {noun}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "a mapping with keys " + ", ".join(annotation.model_fields)
    if getattr(annotation, "__origin__", None) is Literal:
        return "one of " + ", ".join(repr(v) for v in annotation.__args__)
    if annotation is bool:
        return "true or false"
    if "pattern" in bounds:
        extra = field.json_schema_extra or {}
        return extra.get("expected", "a name of letters, digits and _ (1-64 characters)")
    noun = {int: "an integer", float: "a number"}.get(annotation, "a string")
    low = bounds.get("ge", bounds.get("gt"))
    high = bounds.get("le", bounds.get("lt"))
    text = noun
    if low is not None and high is not None:
        text += (
            f" {_num(low)}..{_num(high)}"
            if "gt" not in bounds
            else f" > {_num(low)} and ≤ {_num(high)}"
        )
    if "multiple_of" in bounds:
        text += f", a multiple of {bounds['multiple_of']}"
    return text


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else str(value)


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    if value is None:
        return "nothing"
    return repr(value)


def dump_schema(path: str | Path) -> None:
    """Write the JSON Schema to ``path`` (atomically, only when it changed)."""
    from grace_flow.fsutil import write_if_changed

    write_if_changed(path, json.dumps(json_schema(), indent=2) + "\n")


__all__ = [
    "ConfigError",
    "Workflow",
    "load_workflow",
    "validate_workflow",
    "resolve",
    "section_digest",
    "stable_hash",
    "json_schema",
    "dump_schema",
]


if __name__ == "__main__":  # python -m grace_flow.config: refresh workflow.schema.json
    dump_schema(Path(__file__).resolve().parents[1] / "workflow.schema.json")
