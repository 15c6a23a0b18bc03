"""Read a job spec's YAML safely: bounded size, and no alias expansion beyond a small bound.

PyYAML shares one object between an anchor and its aliases, so a 1 KB file of nine nested
`&a [*a, *a, ...]` levels loads quickly; everything that later walks or copies it (azure-ai-ml's
schemas, our checks) expands it to billions of nodes. The composed node graph is therefore sized
as if every alias were expanded, before any Python object is built and long before the SDK reads
the file, and refused above `MAX_NODES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 5_000_000
"""A job spec is a few kilobytes; Microsoft's largest public examples stay under 100 KB."""
MAX_NODES = 100_000
"""Nodes after expanding every alias; a real spec has hundreds."""


@dataclass
class SpecReadError(ValueError):
    """Why a file is not a readable YAML mapping: names the file, where, and the fix."""

    path: Path
    key: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}: {self.key}: {self.message}"


def load_text(text: str, path: Path) -> Any:
    """`yaml.safe_load(text)` that refuses documents whose aliases expand beyond MAX_NODES."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = expanded_size(node)
        if size > MAX_NODES:
            raise SpecReadError(
                path,
                "(aliases)",
                f"the YAML's aliases (`*name`) expand to more than {MAX_NODES:,} nodes "
                "(an alias bomb); refused before loading",
                "write the values out, or use far fewer nested `&anchor`/`*alias` repeats",
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def expanded_size(root: yaml.Node) -> int:
    """The number of nodes `root` has once every alias is replaced by a copy of its anchor.

    Stops counting as soon as the total passes MAX_NODES; a recursive alias counts as too many.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:  # an alias inside its own anchor: infinite once expanded
            return MAX_NODES + 1
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            children: list[yaml.Node] = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > MAX_NODES:
                break
        active.discard(key)
        sizes[key] = total
        return total

    return size(root)


def read_mapping(path: Path) -> dict[str, Any]:
    """The file's top-level mapping; SpecReadError (file, where, fix) when it is not one."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise SpecReadError(
                path,
                "(file)",
                f"{path.stat().st_size:,} bytes, over the {MAX_BYTES:,} a job spec may have",
                "give a job, component or asset YAML; data belongs in a data asset",
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecReadError(path, "(file)", f"cannot read: {exc}", "fix the path") from None
    try:
        data = load_text(text, path)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecReadError(
            path,
            "(syntax)",
            f"not valid YAML{at}: {problem}",
            "fix the YAML syntax (indentation, quotes, a missing colon)",
        ) from None
    except RecursionError:
        raise SpecReadError(
            path,
            "(syntax)",
            "nested too deeply to read",
            "flatten the YAML; a job spec needs a handful of levels",
        ) from None
    if not isinstance(data, dict):
        raise SpecReadError(
            path,
            "(top level)",
            f"expected a mapping of keys, found {type(data).__name__}",
            "start the file with `$schema:` and the keys of an Azure ML YAML",
        )
    return data
