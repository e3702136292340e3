"""The decoder geometry of a workflow file, for the benchmarks that build the model themselves."""

from grace_flow.config import load_workflow
from grace_flow.model.stage import geometry


def workflow_geometry(workflow_path) -> tuple[int, dict]:
    """(frame size, decoder constructor arguments) of the workflow file at ``workflow_path``."""
    workflow = load_workflow(workflow_path)
    return workflow.data.frame_size, geometry(workflow.model)["decoder"]
