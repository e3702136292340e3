"""grace_flow's own checkpoint: both networks' weights plus the geometry that rebuilds them.

File layout (one ``torch.save`` dict, readable with ``weights_only=True``)::

    {"format": "grace_flow-agc", "version": 1,
     "geometry": {"decoder": {...AGCDecoder kwargs}, "kp_detector": {...KeypointDetector kwargs}},
     "generator": state_dict, "kp_detector": state_dict}
"""

from __future__ import annotations

import os
from pathlib import Path

from grace_flow.fsutil import atomic_torch_save
from grace_flow.model.decoder import AGCDecoder
from grace_flow.model.keypoints import KeypointDetector
from grace_flow.model.statedict import (
    DECODER_HINTS,
    KP_DETECTOR_HINTS,
    ModelError,
    load_state_checked,
    read_torch_file,
)

FORMAT = "grace_flow-agc"
VERSION = 1

# Geometry key of each network → the workflow.yaml section that sets it.
_SECTIONS = {
    "decoder": {"num_kp": "model", "num_channels": "model",
                "dense_motion_params": "model.dense_motion", "": "model.generator"},
    "kp_detector": {"num_kp": "model", "num_channels": "model", "": "model.kp_detector"},
}


def _workflow_key(net: str, key: str, sub_key: str | None) -> str:
    section = _SECTIONS[net].get(key, _SECTIONS[net][""])
    if sub_key is not None:
        return f"{section}.{sub_key}"
    return f"{section}.{key}"


def _first_difference(net: str, found: dict, wanted: dict) -> tuple[str, object, object] | None:
    """Return (workflow key, checkpoint value, expected value) of the first differing entry."""
    for key in wanted:
        if isinstance(wanted[key], dict) and isinstance(found.get(key), dict):
            for sub_key in wanted[key]:
                if found[key].get(sub_key) != wanted[key][sub_key]:
                    return (_workflow_key(net, key, sub_key), found[key].get(sub_key),
                            wanted[key][sub_key])
        elif found.get(key) != wanted[key]:
            return _workflow_key(net, key, None), found.get(key), wanted[key]
    return None


def _agrees(full: dict, given: dict) -> bool:
    """True when every entry of ``given`` (nested) has the same value in ``full``."""
    return all(
        _agrees(full[key], value) if isinstance(value, dict) and isinstance(full.get(key), dict)
        else key in full and full[key] == value
        for key, value in given.items()
    )


def save_checkpoint(path: str | os.PathLike, decoder: AGCDecoder, kp_detector: KeypointDetector,
                    geometry: dict) -> Path:
    """Write both networks and ``geometry`` ({"decoder": kwargs, "kp_detector": kwargs}) atomically.

    ``geometry`` must describe the networks saved (omitted keys take the constructor defaults);
    the networks' complete geometry is what is stored. Returns the path written.
    """
    complete = {"decoder": decoder.geometry, "kp_detector": kp_detector.geometry}
    if geometry.keys() != complete.keys() or not _agrees(complete, geometry):
        raise ValueError(f"{path}: the geometry given does not describe the networks being saved")
    return atomic_torch_save(
        {
            "format": FORMAT,
            "version": VERSION,
            "geometry": complete,
            "generator": decoder.state_dict(),
            "kp_detector": kp_detector.state_dict(),
        },
        path,
    )


def _build(geometry: dict) -> tuple[AGCDecoder, KeypointDetector]:
    return AGCDecoder(**geometry["decoder"]), KeypointDetector(**geometry["kp_detector"])


def _read(path: str | os.PathLike) -> dict:
    checkpoint = read_torch_file(path, "model.checkpoint")
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise ModelError(f"{path}: not a {FORMAT} checkpoint: point model.checkpoint at a file "
                         "written by grace_flow (or set model.fomm_config for a FOMM checkpoint)")
    if checkpoint.get("version") != VERSION:
        raise ModelError(f"{path}: {FORMAT} checkpoint version {checkpoint.get('version')} is not "
                         f"{VERSION}: retrain the model with this grace_flow")
    geometry = checkpoint.get("geometry")
    if not isinstance(geometry, dict) or not {"decoder", "kp_detector"} <= geometry.keys():
        raise ModelError(f"{path}: {FORMAT} checkpoint has no geometry: retrain the model")
    return checkpoint


def load_checkpoint(path: str | os.PathLike, expected_geometry: dict | None = None,
                    ) -> tuple[AGCDecoder, KeypointDetector]:
    """Rebuild and load ``(decoder, kp_detector)`` from ``path``, both in eval mode.

    With ``expected_geometry`` (the workflow's), the networks are built from it instead of the
    stored geometry, so any difference is a :class:`ModelError` naming the workflow key to change.
    """
    checkpoint = _read(path)
    stored = checkpoint["geometry"]
    if expected_geometry is None:
        try:
            decoder, kp_detector = _build(stored)
        except TypeError as error:
            raise ModelError(f"{path}: checkpoint geometry does not build the networks ({error}): "
                             "retrain the model") from None
    else:
        decoder, kp_detector = _build(expected_geometry)
    load_state_checked(decoder, checkpoint["generator"], path, DECODER_HINTS)
    load_state_checked(kp_detector, checkpoint["kp_detector"], path, KP_DETECTOR_HINTS)
    # Same shapes can still hide a different geometry (temperature, kp_variance, scale, ...).
    for net, model in (("decoder", decoder), ("kp_detector", kp_detector)):
        difference = _first_difference(net, stored[net], model.geometry)
        if difference is not None:
            key, found, wanted = difference
            raise ModelError(f"{path}: checkpoint has {key} = {found!r}, workflow has {wanted!r}: "
                             f"set {key} to match the checkpoint")
    return decoder.eval(), kp_detector.eval()
