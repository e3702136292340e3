"""The float AGC decoder and keypoint detector (FOMM-compatible, no Jacobians) and checkpoints.

``AGCDecoder`` and ``KeypointDetector`` load first-order-model checkpoints by parameter name
(``from_fomm``); ``save_checkpoint`` / ``load_checkpoint`` handle grace_flow's own format.
"""

from grace_flow.model.checkpoint import load_checkpoint, save_checkpoint
from grace_flow.model.decoder import AGCDecoder
from grace_flow.model.keypoints import KeypointDetector
from grace_flow.model.statedict import ModelError

__all__ = ["AGCDecoder", "KeypointDetector", "ModelError", "load_checkpoint", "save_checkpoint"]
