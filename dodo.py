"""doit entry point: `doit` runs workflow.yaml's flow, `doit workflow=other.yaml` another one."""

from doit import get_var

from grace_flow.tasks import load_graph

_graph = load_graph(get_var("workflow", "workflow.yaml"))
DOIT_CONFIG = _graph.doit_config
globals().update(_graph.creators())
