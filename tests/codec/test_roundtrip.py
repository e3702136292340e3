"""Round trips: exact FP16 keypoints, faithful key frames, GOP bookkeeping, bitrate arithmetic."""

import numpy as np
import pytest
from codec_clips import random_walk_keypoints, smooth_frames

from grace_flow.codec import bitrate, decode_clip, decode_file, encode_clip, encode_file
from grace_flow.codec.keyframe import decode_key_frame, encode_key_frame
from grace_flow.codec.keypoints import (
    decode_keypoints, encode_keypoints, from_ordered_codes, to_ordered_codes,
)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / mse)


def test_ordered_codes_are_a_monotone_bijection_on_all_fp16_patterns():
    patterns = np.arange(1 << 16, dtype=np.uint16)
    codes = to_ordered_codes(patterns.view(np.float16))
    assert len(np.unique(codes)) == 1 << 16
    assert np.array_equal(from_ordered_codes(codes).view(np.uint16), patterns)
    values = patterns.view(np.float16).astype(np.float64)[np.argsort(codes)]
    finite = values[np.isfinite(values)]
    assert np.all(np.diff(finite) >= 0)
    assert to_ordered_codes(np.array([-0.0], np.float16))[0] == -1


def test_keypoints_round_trip_bit_exact_including_signed_zero_and_extremes():
    keypoints = random_walk_keypoints(7, 10)
    keypoints[0, 0] = [-0.0, 0.0]
    keypoints[1, 0] = [-1.0, 1.0]
    keypoints[2, 0] = [6.0e-8, -6.0e-8]  # FP16 subnormals
    decoded = decode_keypoints(encode_keypoints(keypoints), 7, 10)
    assert decoded.dtype == np.float16
    assert np.array_equal(decoded.view(np.uint16), keypoints.astype(np.float16).view(np.uint16))


def test_keypoint_payload_is_smaller_than_raw_fp16():
    keypoints = random_walk_keypoints(50, 10)
    assert len(encode_keypoints(keypoints)) < 0.8 * keypoints.astype(np.float16).nbytes


@pytest.mark.parametrize("height,width", [(1, 1), (7, 5), (17, 23), (64, 64), (100, 37)])
def test_key_frame_keeps_odd_and_small_sizes(height, width):
    image = smooth_frames(1, height, width)[0]
    assert decode_key_frame(encode_key_frame(image, 80), width, height).shape == (height, width, 3)


def test_key_frame_psnr_above_30_db_at_quality_90_and_encoding_is_deterministic():
    image = smooth_frames(1, 64, 64)[0]
    payload = encode_key_frame(image, 90)
    assert psnr(decode_key_frame(payload, 64, 64), image) > 30
    assert encode_key_frame(image, 90) == payload


def test_clip_round_trip_and_gop_bookkeeping(tiny_clip):
    frames, keypoints, data = tiny_clip
    clip = decode_clip(data)
    assert clip.key_frames.shape == (3, 16, 16, 3) and clip.key_frames.dtype == np.uint8
    assert clip.keypoints.dtype == np.float32
    assert np.array_equal(clip.keypoints, keypoints.astype(np.float16).astype(np.float32))
    assert (clip.gop, clip.fps, clip.frame_count) == (4, 25.0, 10)
    owners = [[np.array_equal(clip.key_frame_for(t), key) for key in clip.key_frames].index(True)
              for t in range(10)]
    assert owners == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    for g, source in enumerate([0, 4, 8]):  # each key frame is frame 0 of its GOP
        assert psnr(clip.key_frames[g], frames[source]) > 30
    single = decode_clip(encode_clip(frames[[0]], keypoints[[0]], gop=4, fps=25.0, quality=60))
    assert np.array_equal(clip.key_frames[0], single.key_frames[0])
    with pytest.raises(IndexError, match=r"^frame 10 is outside the clip's 10 frames$"):
        clip.key_frame_for(10)


def test_fractional_fps_is_kept_to_a_millihertz():
    frames, keypoints = smooth_frames(2, 8, 8), random_walk_keypoints(2, 3)
    assert decode_clip(encode_clip(frames, keypoints, gop=2, fps=29.97, quality=50)).fps == 29.97


def test_bitrate_arithmetic_is_exact(tiny_clip):
    _, _, data = tiny_clip
    rate = bitrate(data, frame_count=10, width=16, height=16, fps=25.0)
    assert rate["bytes"] == len(data)
    assert rate["bits_per_pixel"] == 8 * len(data) / (10 * 16 * 16)
    assert rate["kbps"] == 8 * len(data) * 25.0 / 10 / 1000
    # 26-byte header + per GOP two 4-byte sizes and a 4-byte CRC.
    assert rate["container_bytes"] == 26 + 3 * 12
    assert rate["key_frame_bytes"] + rate["keypoint_bytes"] + rate["container_bytes"] == len(data)


def test_file_wrappers_round_trip(tmp_path, tiny_clip):
    frames, keypoints, data = tiny_clip
    path = encode_file(tmp_path / "clip.agc", frames, keypoints, gop=4, fps=25.0, quality=60)
    assert path.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["clip.agc"]
    assert np.array_equal(decode_file(path).keypoints, decode_clip(data).keypoints)
