"""The CI templates: valid for their services (check-jsonschema's bundled schemas), and the GitLab
pipeline run for real by gitlab-ci-local (shell executor, isolated builds, real caches) on the
tiny workflow in a test repository."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from doit_helpers import REPO, TINY_WORKFLOW, copy_project

from grace_flow.bundle.stage import verify_bundle

VENV = Path(sys.executable).parents[1]
GITLAB_CI_LOCAL = VENV / "node" / "node_modules" / ".bin" / "gitlab-ci-local"
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}


@pytest.mark.parametrize("template, schema", [("github-actions.yml", "vendor.github-workflows"),
                                              ("gitlab-ci.yml", "vendor.gitlab-ci")])
def test_templates_validate_against_the_services_schemas(template, schema):
    done = subprocess.run([str(VENV / "bin" / "check-jsonschema"), "--builtin-schema", schema,
                           str(REPO / "ci" / template)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def pipeline(repository: Path) -> subprocess.CompletedProcess:
    """Run the repository's .gitlab-ci.yml with gitlab-ci-local, on this venv's Python."""
    return subprocess.run(
        [str(GITLAB_CI_LOCAL), "--shell-isolation", "--variable", "WORKFLOW=w.yaml",
         "--variable", "SETUP=true", "--variable", f"PYTHON={sys.executable}"],
        cwd=repository, capture_output=True, text=True, timeout=900,
        env={**os.environ, **GIT_ENV, "PYTHONPATH": ""})


def flow_lines(run: subprocess.CompletedProcess) -> list[str]:
    """What doit printed in the flow job (gitlab-ci-local prefixes each line with the job)."""
    return [line.split(">", 1)[1].strip() for line in run.stdout.splitlines()
            if line.startswith("flow ") and ">" in line]


def test_the_gitlab_pipeline_runs_caches_and_uploads(tmp_path):
    repository = copy_project(tmp_path / "repository")
    shutil.copy(REPO / "ci" / "gitlab-ci.yml", repository / ".gitlab-ci.yml")
    (repository / "w.yaml").write_text(TINY_WORKFLOW)
    subprocess.run(["git", "init", "-q"], cwd=repository, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repository, check=True)
    subprocess.run(["git", "commit", "-qm", "tiny"], cwd=repository, check=True,
                   env={**os.environ, **GIT_ENV})

    first = pipeline(repository)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-2000:]
    assert "PASS  flow" in first.stdout
    ran = [line for line in flow_lines(first) if line.startswith(". ")]
    assert ".  overlay" in ran and ".  bundle" in ran
    # The uploaded artifacts, copied back by gitlab-ci-local: a bundle that verifies.
    bundle = repository / "artifacts" / "bundles" / "tiny.tar.gz"
    assert verify_bundle(bundle)["provenance"]["workflow"] == "w.yaml"
    assert (repository / "artifacts" / "tiny" / "overlay" / "manifest.json").is_file()
    assert (repository / ".gitlab-ci-local" / "cache").is_dir()

    # Same commit, same key: the cache restores doit's state and artifacts; nothing reruns.
    second = pipeline(repository)
    assert second.returncode == 0, second.stdout[-3000:]
    assert [line for line in flow_lines(second) if line.startswith(". ")] == []
