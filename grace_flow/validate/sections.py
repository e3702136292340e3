"""The report's sections that come from the flow's artifacts rather than from the target:
rate (codec), speed and energy (synth:system's model beside what the target measured), resources
against the board, modeled latency and overlap (compile's schedule), provenance."""

from __future__ import annotations

#: Slowest layers listed in the report.
TOP_LAYERS = 12


def rate(bitrate: dict) -> dict:
    """Bits per pixel and kbit/s of the test bitstreams (codec/bitrate.json)."""
    clips = bitrate["per_clip"]
    return {"bits_per_pixel": bitrate["mean_bits_per_pixel"], "kbps": bitrate["mean_kbps"],
            "fps": bitrate["fps"], "gop": bitrate["gop"],
            "key_frame_bytes": sum(c["key_frame_bytes"] for c in clips),
            "keypoint_bytes": sum(c["keypoint_bytes"] for c in clips)}


def speed(facts: dict, frame: dict) -> dict:
    """Frames per second: what the target measured, and the board's figure the check uses."""
    frames = sum(clip["frames"] for clip in facts["clips"])
    seconds = sum(clip["seconds"] for clip in facts["clips"])
    measured = frames / seconds if seconds else 0.0
    on_board = facts["backend"] == "pynq"
    return {
        "measured_fps": measured,
        "measured_label": "measured on the board" if on_board else
        "emulated: C-simulation of the engines on this host, not the board's speed",
        "board_fps": measured if on_board else frame["fps"],
        "board_fps_label": "measured on the board" if on_board else
        f"modeled by synth:system at {frame['clock_mhz']:g} MHz (the emulator cannot measure it)",
        "modeled_fps": frame["fps"],
    }


def energy(facts: dict, frame: dict) -> dict:
    """µJ per reconstructed pixel: modeled, with the model's assumptions (no target here reports
    its power: the emulator has no rails and the PYNQ-Z1 no power monitor)."""
    where = "the emulator has no power rails" if facts["backend"] != "pynq" else \
        "the PYNQ-Z1 has no power monitor"
    return {"uj_per_pixel": frame["uj_per_pixel"], "uj_per_pixel_pl": frame["uj_per_pixel_pl"],
            "power_w": frame["power_w"]["total"], "label": f"modeled ({where})",
            "assumptions": {name: str(value) for name, value in frame["assumptions"].items()}}


def resources(system: dict, available: dict) -> dict:
    """Used resources (engines + platform) against the board and its budget."""
    used = system["resources"]
    margin = system["margin"]
    return {"used": used, "available": available, "margin": margin,
            "budget_percent": round(100 * (1 - margin), 1),
            "utilization": system["utilization"], "board": system["board"],
            "part": system["part"],
            "source": f"{system['toolchain']} toolchain",
            "within_budget": all(used[name] <= available[name] * (1 - margin) for name in used)}


def latency(schedule: dict, frame: dict) -> dict:
    """Per-engine busy time per frame (synth:system) and per-layer time (compile's schedule)."""
    mhz = frame["clock_mhz"]
    per_layer: dict[str, float] = {}
    for ins in schedule["instructions"]:
        per_layer[ins["node"]] = per_layer.get(ins["node"], 0.0) + ins["cycles"] / (mhz * 1e6)
    slowest = sorted(per_layer.items(), key=lambda item: -item[1])[:TOP_LAYERS]
    return {"engine_seconds": {engine: cycles / (mhz * 1e6)
                               for engine, cycles in frame["engine_busy_cycles"].items()},
            "layers": [[name, seconds] for name, seconds in slowest],
            "overlap_gain": schedule["overlap_gain"], "clock_mhz": mhz,
            "label": "modeled: engines by synth:system, layers and overlap by compile"}


def provenance(receipt: dict, manifest: dict, facts: dict, host_git: dict,
               workflow_hash: str) -> dict:
    """Where every figure comes from: package, target, runtime, commits, tools."""
    return {
        "target": receipt["target"], "package": receipt["package"],
        "deployed": f"{receipt['time']} ({receipt['action']})",
        "workflow hash": workflow_hash, "package workflow hash": manifest["workflow_hash"],
        "package git": f"{manifest['git']['commit']} (dirty: {manifest['git']['dirty']})",
        "validated at git": f"{host_git['commit']} (dirty: {host_git['dirty']})",
        "toolchain": manifest["toolchain"],
        "tool versions": ", ".join(f"{k} {v}" for k, v in manifest["versions"].items()),
        "runtime": f"{facts['backend']} on {facts['machine']}, Python {facts['python']}",
        "engines": ", ".join(f"{k}: {v}" for k, v in facts.get("engines", {}).items()) or "pynq",
    }
