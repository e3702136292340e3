"""Which files an engine's sources are rendered from and into (no Jinja2 needed to know)."""

from pathlib import Path

KERNELS = Path(__file__).resolve().parents[2] / "kernels"
#: Templates shared by every engine (besides its own <engine>_top.cpp.j2).
SHARED_TEMPLATES = ("engine_config.h.j2", "engine_top.j2")
#: Hand-written headers every engine needs.
SHARED_HEADERS = ("grace_numerics.h", "grace_ddr.h")
#: Hand-written headers of one engine besides its <engine>_engine.h.
ENGINE_HEADERS = {"conv": ("dsp_pack.h",)}


def template_names(engine: str) -> list[str]:
    """The templates ``engine``'s generated files come from (their texts key the header hash)."""
    return [*SHARED_TEMPLATES, f"{engine}_top.cpp.j2"]


def kernel_files(engine: str) -> list[Path]:
    """Every file of kernels/ that ``engine``'s sources are made from."""
    return [KERNELS / name for name in (*template_names(engine), *SHARED_HEADERS,
                                        *ENGINE_HEADERS.get(engine, ()), f"{engine}_engine.h")]


def rendered_files(engine: str) -> list[str]:
    """The names of ``engine``'s sources in its folder: generated config and top, copied
    headers."""
    return [f"{engine}_config.h", f"{engine}_top.cpp", *SHARED_HEADERS,
            *ENGINE_HEADERS.get(engine, ()), f"{engine}_engine.h"]
