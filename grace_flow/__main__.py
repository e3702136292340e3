"""Commands for CI pipelines (doit runs the flow itself).

    python -m grace_flow cache-key [workflow.yaml]   the key of this version's CI cache
    python -m grace_flow verify-bundle FILE.tar.gz   check a bundle made by `doit bundle`
"""

from __future__ import annotations

import sys

from grace_flow.errors import FlowError


def cache_key(workflow_path: str) -> str:
    """``<name>-<inputs digest>-<code digest>``: equal only when nothing would rebuild; a cache
    saved under an older key still restores by its ``<name>-`` prefix, and doit then reruns
    what changed."""
    from grace_flow.code_digest import code_digest
    from grace_flow.config import stable_hash
    from grace_flow.tasks import load_graph

    graph = load_graph(workflow_path)
    steps = graph.steps()
    code = stable_hash(sorted({code_digest(s.action.split(":")[0], s.tools)
                               for s in steps.values()}))
    return f"{graph.workflow.name}-{graph.built_from()[:16]}-{code[:16]}"


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["cache-key"] and len(argv) <= 2:
            print(cache_key(argv[1] if len(argv) == 2 else "workflow.yaml"))
        elif argv[:1] == ["verify-bundle"] and len(argv) == 2:
            from grace_flow.bundle.stage import verify_bundle

            manifest = verify_bundle(argv[1])
            print(f"{argv[1]}: {len(manifest['files'])} files verified; built from "
                  f"{manifest['provenance']['built_from'][:16]} at git "
                  f"{manifest['provenance']['git']['commit']}")
        else:
            print(__doc__.strip(), file=sys.stderr)
            return 2
    except FlowError as err:
        print(f"grace_flow: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
