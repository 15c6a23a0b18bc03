"""What `workshop run` needs from azure-ai-ml's `load_job`, kept so warm runs skip the SDK.

Importing azure-ai-ml takes seconds; the runner uses only what the load produced: the entity's
dictionary form, its experiment name and the paths of inline conda files. Those are stored as JSON
under the workshop home (`paths.runner_cache()`), written atomically, under a key made of
everything the load reads: the azure-ai-ml version, the YAML's absolute path and bytes, the bytes
of every local file it names (transitively: component YAMLs, conda files...), and the `--set`
overrides. Any change is a different key, so a stale entry is never read; an unreadable one is a
miss, and a miss is the real SDK load.

Files are found generically: every string value in a YAML that names an existing file relative
to that YAML (or absolute) counts, with an optional `file:` prefix, as the SDK accepts it.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from workshop.paths import runner_cache
from workshop.runner.cachefile import write_atomically

FORMAT = 2  # 2: boolean inputs kept boolean (binding._booleans_as_given)
"""Bump when what is stored changes shape."""
MAX_FILES = 200
"""A YAML naming more local files than this is not cached (the key would cost what it saves)."""

MAX_HASHED = 1 << 20
"""Files the key reads whole; a bigger one (a data file an input names) counts by size and time."""

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def key(path: Path, overrides: dict[str, Any]) -> str | None:
    """The content key of loading `path` with `overrides`; None if it cannot be computed."""
    digest = hashlib.sha256()
    try:
        sdk = metadata.version("azure-ai-ml")
    except metadata.PackageNotFoundError:
        return None
    head = {"format": FORMAT, "sdk": sdk, "path": str(path.resolve()), "overrides": overrides}
    digest.update(json.dumps(head, sort_keys=True, default=repr).encode())
    seen: set[Path] = set()
    pending = [path.resolve()]
    # --set values may name files too (relative to the YAML, as the SDK reads them).
    extra = [(path.resolve().parent, value) for value in overrides.values()]
    try:
        while pending:
            current = pending.pop(0)
            if current in seen:
                continue
            seen.add(current)
            if len(seen) > MAX_FILES:
                return None
            stat = current.stat()
            if stat.st_size > MAX_HASHED:  # data, not something the load reads: its stamp
                digest.update(f"\0{current}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
                continue
            data = current.read_bytes()
            digest.update(f"\0{current}\0{len(data)}\0".encode())
            digest.update(data)
            if current.suffix.lower() not in {".yml", ".yaml"}:
                continue
            try:
                tree = yaml.load(data, Loader=_Loader)  # a safe loader
            except yaml.YAMLError:
                continue  # the SDK load reports it; the bytes are in the key already
            strings = [(current.parent, s) for s in _strings(tree)]
            if current == path.resolve():
                strings += [(base, s) for base, value in extra for s in _strings(value)]
            pending.extend(found for base, s in strings if (found := _file(base, s)) is not None)
    except (OSError, RecursionError):
        return None
    return digest.hexdigest()[:32]


def _strings(tree: Any) -> list[str]:
    found: list[str] = []
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _file(base: Path, text: str) -> Path | None:
    text = text.strip().removeprefix("file:")
    if not text or "\n" in text or "\0" in text or len(text) > 1024 or "://" in text:
        return None
    try:
        candidate = (base / text).resolve()
        return candidate if candidate.is_file() else None
    except (OSError, ValueError, RuntimeError):
        return None


def entry_path(content_key: str) -> Path:
    return runner_cache() / "jobs" / f"{content_key}.json"


def read(content_key: str) -> dict[str, Any] | None:
    """The stored load, or None (absent, unreadable, or not the shape this version writes)."""
    try:
        data = json.loads(entry_path(content_key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(data, dict)
        or data.get("format") != FORMAT
        or not isinstance(data.get("spec"), dict)
        or not isinstance(data.get("conda_paths"), dict)
        or not isinstance(data.get("experiment_name"), str | None)
    ):
        return None
    return data


def write(content_key: str, spec: dict[str, Any], experiment_name: str | None, conda: dict) -> None:
    """Store a load atomically (a temporary file renamed into place); best effort."""
    data = {
        "format": FORMAT,
        "spec": spec,
        "experiment_name": experiment_name,
        "conda_paths": {k: str(v) for k, v in conda.items()},
    }
    try:
        text = json.dumps(data, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return  # something JSON cannot hold exactly: load with the SDK every time
    if json.loads(text) != data:
        return  # e.g. a tuple would come back as a list: not the same load
    write_atomically(entry_path(content_key), text)
