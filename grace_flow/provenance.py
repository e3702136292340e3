"""Where an artifact comes from: the git state of the checkout that built it."""

from __future__ import annotations

from pathlib import Path


def git_state(repo_dir: str | Path) -> dict:
    """{commit, dirty} of the git checkout holding ``repo_dir``; "unknown" outside a repo."""
    try:
        import git

        repo = git.Repo(repo_dir, search_parent_directories=True)
        return {"commit": repo.head.commit.hexsha, "dirty": repo.is_dirty(untracked_files=False)}
    except Exception:  # no repo, no commit yet, or no git executable: provenance is unknown
        return {"commit": "unknown", "dirty": "unknown"}
