"""doit entry point: `doit` runs workflow.yaml's flow, `doit workflow=other.yaml` another one.

`doit compare ref=<git revision>` (or `against=<workflow file>`) puts this version next to another.
"""

from doit import get_var

from grace_flow.tasks import load_graph

_graph = load_graph(get_var("workflow", "workflow.yaml"),
                    compare_with=(get_var("ref", ""), get_var("against", "")))
DOIT_CONFIG = _graph.doit_config
globals().update(_graph.creators())
