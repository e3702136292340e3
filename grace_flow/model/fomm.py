"""Reading first-order-model (FOMM) files: its YAML config and its ``.pth.tar`` checkpoints.

Only what the AGC decoder uses is read. Jacobian settings (``estimate_jacobian``,
``single_jacobian_map``) are accepted and dropped, like the ``jacobian.*`` parameters they create.
"""

from __future__ import annotations

import os

import yaml

from grace_flow.model.statedict import ModelError, load_state_checked, read_torch_file

JACOBIAN_PREFIX = "jacobian."
_JACOBIAN_OPTIONS = {"estimate_jacobian", "single_jacobian_map"}

_COMMON = {"num_kp", "num_channels"}
_KP_REQUIRED = {"block_expansion", "max_features", "num_blocks", "temperature"}
_KP_OPTIONAL = {"scale_factor", "pad"}
_GENERATOR_REQUIRED = {"block_expansion", "max_features", "num_down_blocks",
                       "num_bottleneck_blocks", "dense_motion_params"}
_GENERATOR_OPTIONAL = {"estimate_occlusion_map"}
_MOTION_REQUIRED = {"block_expansion", "max_features", "num_blocks"}
_MOTION_OPTIONAL = {"scale_factor", "kp_variance"}


def _section(config_path: os.PathLike | str, parent: dict, key_path: str, required: set[str],
             optional: set[str] = frozenset()) -> dict:
    """Return the mapping at ``key_path`` with only the decoder's keys, checking it is complete."""
    section = parent.get(key_path.rsplit(".", 1)[-1])
    if not isinstance(section, dict):
        raise ModelError(f"{config_path}: missing mapping {key_path}: use a first-order-model "
                         "config such as config/vox-256.yaml")
    for key in sorted(required):
        if key not in section:
            raise ModelError(f"{config_path}: missing key {key_path}.{key}: add it to the config")
    for key in sorted(section):
        if key not in required | optional | _JACOBIAN_OPTIONS:
            raise ModelError(f"{config_path}: unknown key {key_path}.{key}: remove it; "
                             "the AGC decoder does not support it")
    return {k: v for k, v in section.items() if k in required | optional}


def read_fomm_config(config_path: os.PathLike | str) -> tuple[dict, dict]:
    """Return the (AGCDecoder, KeypointDetector) constructor kwargs a FOMM YAML config describes."""
    if not os.path.isfile(config_path):
        raise ModelError(f"{config_path}: file not found: set model.fomm_config to an existing "
                         "file")
    try:
        with open(config_path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except yaml.YAMLError as error:
        line = getattr(getattr(error, "problem_mark", None), "line", -1) + 1
        raise ModelError(f"{config_path}:{line}: not valid YAML: fix the syntax there") from None
    params = document.get("model_params") if isinstance(document, dict) else None
    if not isinstance(params, dict):
        raise ModelError(f"{config_path}: missing mapping model_params: use a first-order-model "
                         "config such as config/vox-256.yaml")
    common = _section(config_path, params, "model_params.common_params", _COMMON)
    kp_params = _section(config_path, params, "model_params.kp_detector_params",
                         _KP_REQUIRED, _KP_OPTIONAL)
    generator = _section(config_path, params, "model_params.generator_params",
                         _GENERATOR_REQUIRED, _GENERATOR_OPTIONAL)
    generator["dense_motion_params"] = _section(
        config_path, generator, "model_params.generator_params.dense_motion_params",
        _MOTION_REQUIRED, _MOTION_OPTIONAL)
    # FOMM's generator leaves the occlusion map off unless the config asks for it.
    generator.setdefault("estimate_occlusion_map", False)
    return {**common, **generator}, {**common, **kp_params}


def read_fomm_checkpoint(checkpoint_path: os.PathLike | str) -> dict:
    """Return the ``generator`` and ``kp_detector`` state dicts of a FOMM checkpoint."""
    checkpoint = read_torch_file(checkpoint_path, "model.checkpoint")
    if not isinstance(checkpoint, dict) or not {"generator", "kp_detector"} <= checkpoint.keys():
        raise ModelError(f"{checkpoint_path}: not a first-order-model checkpoint (needs "
                         "'generator' and 'kp_detector' state dicts): check model.checkpoint")
    return {"generator": checkpoint["generator"], "kp_detector": checkpoint["kp_detector"]}


def load_fomm_part(model, checkpoint_path: os.PathLike | str, part: str, hints) -> object:
    """Load the ``part`` state dict (generator or kp_detector) of a FOMM checkpoint into ``model``.

    Jacobian parameters are ignored; the model is returned in eval mode.
    """
    state = read_fomm_checkpoint(checkpoint_path)[part]
    load_state_checked(model, state, checkpoint_path, hints, ignore_prefix=JACOBIAN_PREFIX)
    return model.eval()
