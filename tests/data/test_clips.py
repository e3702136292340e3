"""make_dataset / load_split: determinism, shapes, held-out identities, video input, errors."""

import hashlib
import json
import re
import subprocess
import sys

import av
import numpy as np
import pytest

from grace_flow.data import LANDMARK_NAMES, SPLITS, DataError, load_split, make_dataset

SMALL = dict(frame_size=32, frames_per_clip=8, clips={"train": 2, "calibration": 1, "test": 2})


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "clips.npz"
    summary = make_dataset(path, seed=3, **SMALL)
    return path, summary


def test_shapes_dtypes_and_meta(small_dataset):
    path, summary = small_dataset
    with np.load(path) as data:
        meta = json.loads(str(data["meta"]))
        for split in SPLITS:
            n = SMALL["clips"][split]
            assert data[f"{split}_frames"].shape == (n, 8, 32, 32, 3)
            assert data[f"{split}_frames"].dtype == np.uint8
            landmarks = data[f"{split}_landmarks"]
            assert landmarks.shape == (n, 8, 10, 2) and landmarks.dtype == np.float32
            assert np.isfinite(landmarks).all() and np.abs(landmarks).max() < 1
    assert meta["clips"] == SMALL["clips"] and meta["seed"] == 3 and meta["frame_size"] == 32
    assert meta["landmark_names"] == list(LANDMARK_NAMES) and meta["source"] == "synthetic"
    assert summary["bytes"] == path.stat().st_size
    frames, landmarks = load_split(path, "test")
    assert frames.shape == (2, 8, 32, 32, 3) and landmarks.shape == (2, 8, 10, 2)


def test_same_seed_same_bytes_across_processes(small_dataset, tmp_path):
    path, _ = small_dataset
    again = tmp_path / "again.npz"
    code = (
        "from grace_flow.data import make_dataset; "
        f"make_dataset({str(again)!r}, seed=3, **{SMALL!r})"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(again) == digest(path)
    other = tmp_path / "other.npz"
    make_dataset(other, seed=4, **SMALL)
    assert not np.array_equal(load_split(other, "train")[0], load_split(path, "train")[0])


def test_test_identities_are_unseen_in_train(small_dataset):
    path, _ = small_dataset
    with np.load(path) as data:
        ids = {split: set(data[f"{split}_identity"].tolist()) for split in SPLITS}
        train_frames, test_frames = data["train_frames"], data["test_frames"]
    assert 0 in ids["train"]  # the astronaut photo animates train clip 0 only
    assert ids["train"].isdisjoint(ids["test"]) and ids["train"].isdisjoint(ids["calibration"])
    assert ids["test"].isdisjoint(ids["calibration"]) and len(ids["test"]) == 2
    # Unseen also in pixels: no test frame is close to any train frame.
    diff = np.abs(test_frames[:, :, None, None].astype(int) - train_frames[None, None].astype(int))
    assert diff.mean(axis=(-3, -2, -1)).min() > 20


def test_frames_move_moderately_and_talk(tmp_path):
    path = tmp_path / "d.npz"
    make_dataset(path, frame_size=32, frames_per_clip=32, clips={"train": 1, "calibration": 1,
                 "test": 4}, seed=0)
    frames, landmarks = load_split(path, "test")
    step = np.abs(np.diff(frames.astype(int), axis=1)).mean(axis=(2, 3, 4))
    assert (step > 0).all()  # every consecutive pair of frames differs
    nose = landmarks[:, :, LANDMARK_NAMES.index("nose_tip")]
    head_range = nose.max(axis=1) - nose.min(axis=1)
    assert (head_range > 0.01).all() and (head_range < 0.3).all()  # a few % of the frame
    lips = landmarks[:, :, LANDMARK_NAMES.index("lower_lip"), 1] - landmarks[
        :, :, LANDMARK_NAMES.index("upper_lip"), 1]
    assert (lips.max(axis=1) - lips.min(axis=1) > 0.02).all()  # the mouth opens and closes


def _write_video(path, frame_count, height=32, width=64):
    """Grey frames getting brighter over time, with red/blue bands outside the centre square."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"qscale": "2"}
        for index in range(frame_count):
            frame = np.full((height, width, 3), 40 + 20 * index, np.uint8)
            frame[:, :12] = (255, 0, 0)  # 4 columns away from the crop: chroma blur stays out
            frame[:, -12:] = (0, 0, 255)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_video_round_trip(tmp_path):
    video, out = tmp_path / "talk.mp4", tmp_path / "v.npz"
    _write_video(video, 9)
    clips = {"train": 2, "calibration": 1, "test": 1}
    summary = make_dataset(out, source=str(video), frame_size=16, frames_per_clip=2, clips=clips)
    assert summary["source"] == str(video) and summary["landmark_names"] == []
    brightness = []
    for split in SPLITS:
        frames, landmarks = load_split(out, split)
        assert frames.shape == (clips[split], 2, 16, 16, 3)
        assert landmarks.shape == (clips[split], 2, 0, 2) and landmarks.dtype == np.float32
        # Centre-cropped: the coloured side bands are gone, the frame is grey.
        spread = frames.astype(int).max(axis=-1) - frames.astype(int).min(axis=-1)
        assert spread.max() <= 6
        brightness += list(frames.mean(axis=(2, 3, 4)).ravel())
    expected = 40 + 20 * np.arange(8)  # consecutive frames, train first, test last
    assert np.abs(np.array(brightness) - expected).max() < 4


def _raises(message):
    return pytest.raises(DataError, match="^" + re.escape(message) + "$")


def test_video_errors(tmp_path):
    out = tmp_path / "v.npz"
    short = tmp_path / "talk.mp4"
    _write_video(short, 5)
    with _raises(f"data.source: {short} has 5 frames, need 16 (4 clips × 4 frames): "
                 "lower data.clips or data.frames_per_clip"):
        make_dataset(out, source=str(short), frame_size=16, frames_per_clip=4,
                     clips={"train": 2, "calibration": 1, "test": 1})
    missing = tmp_path / "none.mp4"
    with _raises(f'data.source: {missing} not found: give an existing video file or "synthetic"'):
        make_dataset(out, source=str(missing))
    garbage = tmp_path / "bad.mp4"
    garbage.write_text("not a video")
    with _raises(f"data.source: {garbage} is not a readable video: re-encode it (e.g. H.264 mp4)"):
        make_dataset(out, source=str(garbage))
    assert not out.exists()


def test_setting_errors(tmp_path, small_dataset):
    out = tmp_path / "x.npz"
    with _raises("data.clips: got splits train, val: give exactly train, calibration, test"):
        make_dataset(out, clips={"train": 1, "val": 1})
    with _raises("data.clips.test: 0 clips: use an integer >= 1"):
        make_dataset(out, clips={"train": 1, "calibration": 1, "test": 0})
    with _raises("data.frame_size: 8 is too small: use at least 16"):
        make_dataset(out, frame_size=8)
    with _raises("data.frames_per_clip: 1 is too small: use at least 2"):
        make_dataset(out, frames_per_clip=1)
    path, _ = small_dataset
    with _raises(f"{path}: no split 'val': use one of train, calibration, test"):
        load_split(path, "val")
    with _raises(f"{out}: data set not found: build it first (doit model)"):
        load_split(out, "train")
