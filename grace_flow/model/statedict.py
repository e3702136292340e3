"""Strict state-dict loading whose every failure is one line naming the file, parameter and key.

A checkpoint that does not fit the model almost always means one geometry key in workflow.yaml
differs from the one it was trained with; the first mismatching parameter tells which, through the
prefix tables below.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import torch
from torch import nn

from grace_flow.errors import FlowError


class ModelError(FlowError):
    """A checkpoint or model config that cannot be used; the one-line message says what to do."""


class KeyHint(NamedTuple):
    """The workflow key to blame for a parameter under ``prefix``."""

    prefix: str
    out_shape: str  # the parameter's shape differs (in its first dimension or its rank)
    in_shape: str  # only its second dimension, the input channels, differs
    presence: str  # the parameter exists on one side only


# First matching prefix wins, so the more specific prefixes come first.
DECODER_HINTS = (
    KeyHint("dense_motion_network.hourglass.encoder.down_blocks.0.",
            "model.dense_motion.block_expansion", "model.num_kp", "model.dense_motion.num_blocks"),
    KeyHint("dense_motion_network.hourglass.",
            "model.dense_motion.max_features", "model.dense_motion.max_features",
            "model.dense_motion.num_blocks"),
    KeyHint("dense_motion_network.mask.",
            "model.num_kp", "model.dense_motion.block_expansion", "model.num_kp"),
    KeyHint("dense_motion_network.occlusion.",
            "model.dense_motion.block_expansion", "model.dense_motion.block_expansion",
            "model.generator.estimate_occlusion_map"),
    KeyHint("dense_motion_network.down.", "model.dense_motion.scale_factor",
            "model.num_channels", "model.dense_motion.scale_factor"),
    KeyHint("first.", "model.generator.block_expansion", "model.num_channels",
            "model.generator.block_expansion"),
    KeyHint("down_blocks.", "model.generator.max_features", "model.generator.max_features",
            "model.generator.num_down_blocks"),
    KeyHint("up_blocks.", "model.generator.max_features", "model.generator.max_features",
            "model.generator.num_down_blocks"),
    KeyHint("bottleneck.", "model.generator.max_features", "model.generator.max_features",
            "model.generator.num_bottleneck_blocks"),
    KeyHint("final.", "model.num_channels", "model.generator.block_expansion",
            "model.generator.block_expansion"),
)

KP_DETECTOR_HINTS = (
    KeyHint("predictor.encoder.down_blocks.0.", "model.kp_detector.block_expansion",
            "model.num_channels", "model.kp_detector.num_blocks"),
    KeyHint("predictor.", "model.kp_detector.max_features", "model.kp_detector.max_features",
            "model.kp_detector.num_blocks"),
    KeyHint("kp.", "model.num_kp", "model.kp_detector.block_expansion", "model.num_kp"),
    KeyHint("down.", "model.kp_detector.scale_factor", "model.num_channels",
            "model.kp_detector.scale_factor"),
)

# Old FOMM checkpoints predate BatchNorm's step counter; a fresh zero is what torch itself fills in.
_OPTIONAL_SUFFIX = ".num_batches_tracked"


def _hint(name: str, hints: tuple[KeyHint, ...]) -> KeyHint:
    for hint in hints:
        if name.startswith(hint.prefix):
            return hint
    return KeyHint("", "model", "model", "model")


def _shape(tensor: torch.Tensor) -> str:
    return str(tuple(tensor.shape))


def _blamed_key(found: torch.Tensor, wanted: torch.Tensor, hint: KeyHint) -> str:
    only_inputs_differ = (
        found.dim() == wanted.dim() >= 2
        and found.shape[0] == wanted.shape[0]
        and found.shape[1] != wanted.shape[1]
    )
    return hint.in_shape if only_inputs_differ else hint.out_shape


def load_state_checked(model: nn.Module, state: dict, source: str | os.PathLike,
                       hints: tuple[KeyHint, ...], ignore_prefix: str | None = None) -> None:
    """Load ``state`` into ``model`` after checking every name and shape.

    Parameters under ``ignore_prefix`` are dropped first. The first problem, in the model's own
    parameter order, raises :class:`ModelError` naming ``source``, the parameter and the key to set.
    """
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{source}: holds no state dict of tensors: point it at a saved model")
    if ignore_prefix:
        state = {k: v for k, v in state.items() if not k.startswith(ignore_prefix)}
    expected = model.state_dict()
    complete = dict(state)
    for name, wanted in expected.items():
        hint = _hint(name, hints)
        if name not in state:
            if name.endswith(_OPTIONAL_SUFFIX):
                complete[name] = torch.zeros_like(wanted)
                continue
            raise ModelError(
                f"{source}: parameter {name} is missing from the checkpoint: "
                f"set {hint.presence} to match the checkpoint"
            )
        found = state[name]
        if found.shape != wanted.shape:
            key = _blamed_key(found, wanted, hint)
            raise ModelError(
                f"{source}: parameter {name} has shape {_shape(found)}, model expects "
                f"{_shape(wanted)}: set {key} to match the checkpoint"
            )
    for name in state:
        if name not in expected:
            raise ModelError(
                f"{source}: parameter {name} is in the checkpoint but not in the model: "
                f"set {_hint(name, hints).presence} to match the checkpoint"
            )
    model.load_state_dict(complete, strict=True)


def read_torch_file(path: str | os.PathLike, what: str) -> object:
    """``torch.load`` ``path`` on the CPU, tensors and plain containers only (no code runs).

    ``what`` names the workflow key that points at the file, for the error message.
    """
    if not os.path.isfile(path):
        raise ModelError(f"{path}: file not found: set {what} to an existing file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a file that is not a checkpoint
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        message = f"{path}: not a readable torch checkpoint ({reason}): check {what}"
        raise ModelError(message) from None
