"""The model stage: a float decoder checkpoint from `model.source` (train, checkpoint or init)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from grace_flow.fsutil import atomic_write_text


def geometry(model) -> dict:
    """Constructor arguments of both nets from the workflow's ``model:`` section."""
    dense = model.dense_motion
    gen = model.generator
    kp = model.kp_detector
    return {
        "decoder": {
            "num_kp": model.num_kp,
            "num_channels": model.num_channels,
            "block_expansion": gen.block_expansion,
            "max_features": gen.max_features,
            "num_down_blocks": gen.num_down_blocks,
            "num_bottleneck_blocks": gen.num_bottleneck_blocks,
            "estimate_occlusion_map": gen.estimate_occlusion_map,
            "dense_motion_params": {
                "block_expansion": dense.block_expansion,
                "max_features": dense.max_features,
                "num_blocks": dense.num_blocks,
                "scale_factor": dense.scale_factor,
                "kp_variance": dense.kp_variance,
            },
        },
        "kp_detector": {
            "num_kp": model.num_kp,
            "num_channels": model.num_channels,
            "block_expansion": kp.block_expansion,
            "max_features": kp.max_features,
            "num_blocks": kp.num_blocks,
            "temperature": kp.temperature,
            "scale_factor": kp.scale_factor,
        },
    }


def build_model(model, checkpoint: Path | None, fomm_config: Path | None,
                clips_path: Path | None, out_dir: Path) -> Path:
    """Write ``out_dir/decoder.pt`` (our checkpoint format) as ``model.source`` asks; return it.

    * ``train``: train from scratch on the train split of ``clips_path``; also writes
      ``train_log.json`` and ``loss.png``;
    * ``checkpoint``: load ``checkpoint`` (ours, or a first-order-model file with its
      ``fomm_config`` YAML);
    * ``init``: seeded random weights, for sizing a geometry that has no trained weights.
    """
    from grace_flow.model import AGCDecoder, KeypointDetector, load_checkpoint, save_checkpoint

    shapes = geometry(model)
    out_dir = Path(out_dir)
    if model.source == "checkpoint":
        path = Path(checkpoint)
        if fomm_config:
            decoder = AGCDecoder.from_fomm(path, fomm_config)
            kp_detector = KeypointDetector.from_fomm(path, fomm_config)
            _check_against_workflow(decoder, kp_detector, shapes, path)
        else:
            decoder, kp_detector = load_checkpoint(path, expected_geometry=shapes)
    else:
        torch.manual_seed(model.train.seed)
        decoder = AGCDecoder(**shapes["decoder"])
        kp_detector = KeypointDetector(**shapes["kp_detector"])
        if model.source == "train":
            _train(decoder, kp_detector, model, clips_path, out_dir)
    return save_checkpoint(out_dir / "decoder.pt", decoder.eval(), kp_detector.eval(), shapes)


def _train(decoder, kp_detector, model, clips_path: Path, out_dir: Path) -> None:
    from grace_flow.data import load_split
    from grace_flow.model.train import plot_losses, train

    frames, landmarks = load_split(clips_path, "train")
    log = train(decoder, kp_detector, frames, landmarks, model.train, max_gap=frames.shape[1])
    summary = {
        "steps": len(log),
        "seconds": log[-1]["seconds"],
        "final_loss": float(np.mean([row["loss"] for row in log[-50:]])),
        "log": log,
    }
    atomic_write_text(out_dir / "train_log.json", json.dumps(summary, indent=1) + "\n")
    plot_losses(log, out_dir / "loss.png")


def _check_against_workflow(decoder, kp_detector, shapes: dict, path: Path) -> None:
    """A FOMM checkpoint must have the geometry ``model:`` declares (later stages size from it)."""
    from grace_flow.model import AGCDecoder, KeypointDetector, ModelError

    expected = {"decoder": AGCDecoder(**shapes["decoder"]).state_dict(),
                "kp_detector": KeypointDetector(**shapes["kp_detector"]).state_dict()}
    loaded = {"decoder": decoder.state_dict(), "kp_detector": kp_detector.state_dict()}
    for net, state in loaded.items():
        for name, tensor in state.items():
            want = expected[net].get(name)
            if want is not None and want.shape != tensor.shape:
                raise ModelError(
                    f"{path.name}: {net} parameter {name} has shape {tuple(tensor.shape)}, "
                    f"workflow model: gives {tuple(want.shape)}: make model: match the FOMM config"
                )
