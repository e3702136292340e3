"""Fuzz: random mutations of a valid bitstream either decode or raise CodecError, quickly."""

from grace_flow.codec.mutate import MUTATIONS, fuzz

MUTATION_COUNT = 1400  # 200 of each of the 7 mutation kinds


def test_every_mutation_decodes_or_raises_codec_error(tiny_clip):
    report = fuzz(tiny_clip[2], MUTATION_COUNT, seed=2024)
    assert report.failures == []
    assert sum(report.outcomes.values()) == MUTATION_COUNT
    assert report.slowest_seconds < 2.0, report.slowest_mutation
    kinds = {outcome.split(" -> ")[0] for outcome in report.outcomes}
    assert kinds == set(MUTATIONS)
    # The CRC-resealing mutations must get past the CRCs to the payload decoders.
    assert any(o.startswith("payload_damage -> CodecError: GOP HEIF") for o in report.outcomes)
    assert any("keypoint payload" in o for o in report.outcomes)
    assert any(o.startswith("header_edit -> CodecError: header field") for o in report.outcomes)


def test_fuzz_is_deterministic(tiny_clip):
    assert fuzz(tiny_clip[2], 140, seed=7).outcomes == fuzz(tiny_clip[2], 140, seed=7).outcomes
