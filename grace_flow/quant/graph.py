"""The fused graph: the decoder as a list of engine operations, the IR every later stage reads.

A node is one engine operation with its fused extras (bias/BN, ReLU, pool on store, upsample on
load, residual add); tensors are named by the FOMM module that produces them. The graph is plain
data: JSON for the structure, an .npz for the float parameters, so the compile stage and the tests
read it without torch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from grace_flow.fsutil import atomic_save_npz, atomic_write_text

#: The engine that runs each op (DESIGN.md §3).
ENGINE_OF = {
    "conv": "conv",
    "grid_sample": "grid_sample",
    "resize": "upsample",
    "heatmap": "keypoint",
    "sparse_motion": "keypoint",
    "deformation": "keypoint",
    "affine": "elementwise",
    "softmax": "elementwise",
    "table": "elementwise",
    "mul_map": "elementwise",
    "concat": "none",  # addressing only: producers write into slices of one buffer
}


@dataclass
class Node:
    """One operation: ``op`` on ``inputs`` writing ``output``; ``attrs`` hold its fused extras."""

    name: str
    op: str
    inputs: list[str]
    output: str
    attrs: dict = field(default_factory=dict)

    @property
    def engine(self) -> str:
        return ENGINE_OF[self.op]

    @classmethod
    def from_json(cls, entry: dict) -> "Node":
        """A node from its entry in a saved graph's ``nodes`` list."""
        return cls(entry["name"], entry["op"], entry["inputs"], entry["output"], entry["attrs"])


def save_graph(json_path: Path, params_path: Path, structure: dict,
               params: dict[str, np.ndarray]) -> None:
    """Write a graph's readable structure (JSON) and its arrays (.npz), atomically."""
    atomic_write_text(json_path, json.dumps(structure, indent=1) + "\n")
    atomic_save_npz(params_path, **params)


def load_graph_files(json_path: Path, params_path: Path) -> tuple[dict, list[Node], dict]:
    """(structure, nodes, arrays) of a graph written by :func:`save_graph`."""
    data = json.loads(Path(json_path).read_text())
    with np.load(params_path) as archive:
        params = {name: archive[name] for name in archive.files}
    return data, [Node.from_json(entry) for entry in data["nodes"]], params


@dataclass
class FusedGraph:
    """Nodes in execution order, tensor shapes (no batch axis) and float parameters."""

    nodes: list[Node]
    shapes: dict[str, list[int]]
    params: dict[str, np.ndarray]
    inputs: list[str]
    outputs: dict[str, str]  # role (prediction, mask, ...) → tensor name

    def node(self, name: str) -> Node:
        """The node called ``name``."""
        return next(n for n in self.nodes if n.name == name)

    def producer(self, tensor: str) -> Node | None:
        """The node writing ``tensor`` (None for graph inputs)."""
        return next((n for n in self.nodes if n.output == tensor), None)

    def to_json(self) -> dict:
        """The readable structure: nodes with engine, shapes and fused ops; parameter shapes."""
        return {
            "inputs": {name: self.shapes[name] for name in self.inputs},
            "outputs": self.outputs,
            "nodes": [
                {**asdict(n), "engine": n.engine, "shape": self.shapes[n.output]}
                for n in self.nodes
            ],
            "params": {name: list(array.shape) for name, array in sorted(self.params.items())},
        }

    def save(self, json_path: Path, params_path: Path) -> None:
        """Write the structure (JSON) and the float parameters (.npz), atomically."""
        save_graph(json_path, params_path, self.to_json(), self.params)

    @classmethod
    def load(cls, json_path: Path, params_path: Path) -> "FusedGraph":
        """Read a graph written by :meth:`save`."""
        data, nodes, params = load_graph_files(json_path, params_path)
        shapes = {**data["inputs"], **{d["output"]: d["shape"] for d in data["nodes"]}}
        return cls(nodes, shapes, params, list(data["inputs"]), data["outputs"])
