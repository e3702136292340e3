"""The quantized graph: the fused graph's structure plus every tensor's integer format and every
node's integer parameters: what the compiler lowers and what the golden model executes.

Saved as a readable JSON (nodes, tensor formats and scales, multipliers, shifts, biases, weight
scales) and an .npz of the integer arrays; the .npz is authoritative for the integers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from grace_flow.quant.graph import Node, load_graph_files, save_graph

#: Integer parameters listed only by dtype and shape in the JSON (too large to read).
BULK_PARAMS = ("weight", "grid", "table", "exp_table", "gauss_table", "pixel_table")

#: Fixed formats (docs/numerics.md §2).
COORDINATE = {"dtype": "int16", "frac_bits": 13}
UNIT_Q15 = {"dtype": "uint16", "frac_bits": 15}
MAP_Q8 = {"dtype": "uint8", "frac_bits": 8}
PIXELS = {"dtype": "uint8", "scale": 1 / 255}


def int8_format(scale: float) -> dict:
    """Format of an int8 activation at per-tensor ``scale``."""
    return {"dtype": "int8", "scale": float(scale)}


def dequantize(values: np.ndarray, fmt: dict) -> np.ndarray:
    """Real values (float64) of integer ``values`` in format ``fmt``."""
    if "scale" in fmt:
        return values.astype(np.float64) * fmt["scale"]
    return np.ldexp(values.astype(np.float64), -fmt["frac_bits"])


@dataclass
class QuantizedGraph:
    """Nodes in execution order, shapes, tensor formats, integer params and float weight scales.

    ``params`` keys are ``<node>.<name>`` (and ``source.pixel_table`` for the input image);
    ``weight_scales`` holds each conv's per-output-channel weight scale (for reports only).
    """

    nodes: list[Node]
    shapes: dict[str, list[int]]
    inputs: list[str]
    outputs: dict[str, str]
    formats: dict[str, dict]
    params: dict[str, np.ndarray]
    weight_scales: dict[str, list[float]]

    def node(self, name: str) -> Node:
        """The node called ``name``."""
        return next(n for n in self.nodes if n.name == name)

    def node_params(self, node: str) -> dict[str, np.ndarray]:
        """The integer parameters of ``node`` by short name (weight, bias, mult, shift, ...)."""
        prefix = f"{node}."
        return {k[len(prefix):]: v for k, v in self.params.items() if k.startswith(prefix)}

    def params_by_node(self) -> dict[str, dict[str, np.ndarray]]:
        """:meth:`node_params` of every node, in one pass over the params (a key is
        ``<node>.<short name>``, and short names have no dot)."""
        grouped: dict[str, dict[str, np.ndarray]] = {}
        for key, array in self.params.items():
            node, _, name = key.rpartition(".")
            grouped.setdefault(node, {})[name] = array
        return grouped

    def _readable(self, node: str) -> dict:
        out = {}
        for key, array in sorted(self.node_params(node).items()):
            if key in BULK_PARAMS:
                out[key] = {"dtype": array.dtype.name, "shape": list(array.shape)}
            else:
                out[key] = array.tolist()
        return out

    def to_json(self) -> dict:
        """The readable structure: inputs, outputs, nodes with formats and integer parameters."""
        return {
            "inputs": {name: {"shape": self.shapes[name], "format": self.formats[name],
                              "params": self._readable(name)} for name in self.inputs},
            "outputs": self.outputs,
            "nodes": [
                {**asdict(n), "shape": self.shapes[n.output], "format": self.formats[n.output],
                 "params": self._readable(n.name),
                 **({"weight_scale": self.weight_scales[n.name]}
                    if n.name in self.weight_scales else {})}
                for n in self.nodes
            ],
        }

    def save(self, json_path: Path, params_path: Path) -> None:
        """Write the structure (JSON) and the integer arrays (.npz), atomically."""
        save_graph(json_path, params_path, self.to_json(), self.params)

    @classmethod
    def load(cls, json_path: Path, params_path: Path) -> "QuantizedGraph":
        """Read a graph written by :meth:`save`."""
        data, nodes, params = load_graph_files(json_path, params_path)
        shapes = {name: d["shape"] for name, d in data["inputs"].items()}
        formats = {name: d["format"] for name, d in data["inputs"].items()}
        for d in data["nodes"]:
            shapes[d["output"]], formats[d["output"]] = d["shape"], d["format"]
        scales = {d["name"]: d["weight_scale"] for d in data["nodes"] if "weight_scale" in d}
        return cls(nodes, shapes, list(data["inputs"]), data["outputs"], formats, params, scales)
