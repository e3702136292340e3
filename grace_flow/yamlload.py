"""YAML loading that remembers where each key was written, so errors can name the line.

Aliases are refused outright: a workflow never needs them, and refusing them is the simplest
defence against alias bombs ("billion laughs"), which expand before any size check could run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


#: Deepest nesting of mappings and lists a workflow may use (it needs four); deeper input is
#: refused before PyYAML's recursive composer could exhaust the stack.
MAX_DEPTH = 32
_OPEN = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken, yaml.FlowMappingStartToken,
         yaml.FlowSequenceStartToken)
_CLOSE = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


class YamlError(Exception):
    """A file that is not a usable YAML mapping; the message is one line with file and line."""


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise YamlError(
                f"{self.name}:{event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are not "
                "allowed in a workflow file: write the value out"
            )
        return super().compose_node(parent, index)


def load_with_lines(path: Path) -> tuple[Any, dict[tuple[str, ...], int]]:
    """Parse ``path``; return (data, {key path: 1-based line of that key})."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YamlError(f"{path}: workflow file not found (pass workflow=<file.yaml>)") from None
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
        raise YamlError(f"{path}: cannot read the workflow file: {reason}") from None
    loader = _NoAliasLoader(text)
    loader.name = path.name
    try:
        _check_depth(text, path.name)
        root = loader.get_single_node()
        if root is None:
            raise YamlError(f"{path.name}:1: the workflow file is empty: it needs at least 'name:'")
        lines: dict[tuple[str, ...], int] = {}
        data = _construct(loader, root, (), lines, path.name)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlError(
            f"{path.name}:{line}: not valid YAML: {err.problem or err.context}"
        ) from None
    except yaml.YAMLError as err:
        raise YamlError(f"{path.name}:1: not valid YAML: {str(err).splitlines()[0]}") from None
    finally:
        loader.dispose()
    return data, lines


def _check_depth(text: str, name: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH, scanning tokens (the scanner does not recurse)."""
    depth = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, _OPEN):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlError(f"{name}:{token.start_mark.line + 1}: nested more than "
                                f"{MAX_DEPTH} levels deep; a workflow needs at most a few")
        elif isinstance(token, _CLOSE):
            depth -= 1


def _construct(loader, node, key_path, lines, name):
    """Build plain Python data from ``node``, recording the line of every mapping key."""
    if isinstance(node, yaml.MappingNode):
        result = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if not isinstance(key, str):
                raise YamlError(
                    f"{name}:{key_node.start_mark.line + 1}: key {key!r} must be a string"
                )
            if key in result:
                raise YamlError(
                    f"{name}:{key_node.start_mark.line + 1}: {'.'.join(key_path + (key,))}: "
                    "duplicate key (remove one of them)"
                )
            lines[key_path + (key,)] = key_node.start_mark.line + 1
            result[key] = _construct(loader, value_node, key_path + (key,), lines, name)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _construct(loader, item, key_path + (str(i),), lines, name)
            for i, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)
