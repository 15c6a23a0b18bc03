"""An environment's conda file, and a generated environment's version.

- `conda-file`: the top-level keys are conda's (it drops any other key with only a warning, so
  a misspelt `dependency:` builds an environment with nothing in it: conda's `VALID_KEYS`,
  https://docs.conda.io/projects/conda/en/23.9.x/dev-guide/api/conda_env/env/index.html); every
  `pip:` entry is a requirement pip can read (PEP 508, as `packaging` parses it); and the pip
  section resolves for Linux x86_64 and the file's Python with the real resolver (`uv pip
  compile`, workshop.jobspec.conda), unless `--offline` (then a note says it was skipped).
- `env-version`: an environment whose conda file `make lock` generates carries the version
  `make lock` derives from its content (environment versions are immutable on Azure, so a
  changed definition under an old version is refused at registration).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from workshop.jobspec.conda import ResolveError, read_conda_file, resolve_conda_file
from workshop.jobspec.envlock import GENERATED, content_version
from workshop.jobspec.references import local_path
from workshop.jobspec.yamlread import SpecReadError, read_mapping
from workshop.validate.checks import Inventory
from workshop.validate.documents import Document
from workshop.validate.findings import Finding

CONDA_KEYS = ("name", "channels", "dependencies", "prefix", "variables")
NETWORK_ERRORS = ("failed to fetch", "error sending request", "dns error", "connect", "timed out")


def check_environment(
    doc: Document, ctx: Inventory, environment: dict[str, Any] | None = None
) -> Iterator[Finding]:
    """The conda file's keys, its pip entries, whether it resolves; a generated one's version.

    `environment` is a job's inline environment (`environment: {image, conda_file}`); without it
    the document is an environment YAML.
    """
    spec = doc.data if environment is None else environment
    conda_path = (doc.folder / str(local_path(spec["conda_file"]))).resolve()
    try:
        data = read_mapping(conda_path)
    except SpecReadError as exc:
        yield Finding("error", "conda-file", conda_path, exc.key, exc.message, exc.fix)
        return
    valid = True
    for key in data:
        if key not in CONDA_KEYS:
            valid = valid and key != "dependencies"
            close = difflib.get_close_matches(str(key), CONDA_KEYS, n=1)
            yield Finding(
                "error",
                "conda-file",
                conda_path,
                str(key),
                f"`{key}` is not a key of a conda environment file (conda drops it with a "
                f"warning; keys: {', '.join(CONDA_KEYS)})",
                f"rename it to `{close[0]}`" if close else "remove it",
            )
    entries = list(_pip_entries(data))
    for key, entry in entries:
        problem = _requirement_problem(entry)
        if problem:
            valid = False
            yield Finding("error", "conda-file", conda_path, key, problem, _requirement_fix(entry))
    if valid and entries:
        yield from _resolve(conda_path, ctx)
    if environment is None:  # an inline environment has no version of its own
        yield from _check_version(doc, conda_path)


def _pip_entries(data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    deps = data.get("dependencies")
    for i, dep in enumerate(deps if isinstance(deps, list) else []):
        if isinstance(dep, dict) and isinstance(dep.get("pip"), list):
            for j, entry in enumerate(dep["pip"]):
                yield f"dependencies[{i}].pip[{j}]", str(entry).strip()


def _requirement_problem(entry: str) -> str | None:
    """Why pip cannot read `entry` as a requirement; None for a requirement or a pip option.

    Options (`-r file`, `--extra-index-url URL`), URLs and local paths are left to pip.
    """
    if not entry or entry.startswith(("-", ".", "/", "~")) or "://" in entry:
        return None
    if entry.endswith((".whl", ".tar.gz", ".zip")):
        return None
    try:
        Requirement(entry)
    except InvalidRequirement as exc:
        return f"`{entry}` is not a requirement pip can read: {str(exc).splitlines()[0]}"
    return None


def _requirement_fix(entry: str) -> str:
    if "=" in entry and "==" not in entry and not any(op in entry for op in ("<=", ">=", "!=")):
        name, _, version = entry.partition("=")
        return f"pip pins with `==`: write `{name.strip()}=={version.strip()}` (`=` is conda's)"
    return "write `name==version` (or `name>=version`), as pip's requirement syntax has it"


def _resolve(conda_path: Path, ctx: Inventory) -> Iterator[Finding]:
    if ctx.offline:
        yield Finding(
            "note",
            "conda-file",
            conda_path,
            "dependencies",
            "not resolved (--offline): whether the pip section can be installed is unchecked",
            "run `workshop validate` without --offline where the package index is reachable",
        )
        return
    if conda_path not in ctx.resolved:
        found: list[Finding] = []
        try:
            resolve_conda_file(read_conda_file(conda_path))
        except ResolveError as exc:
            detail = " ".join(exc.detail.split())
            if any(word in detail.lower() for word in NETWORK_ERRORS):
                found.append(
                    Finding(
                        "warning",
                        "conda-file",
                        conda_path,
                        "dependencies",
                        f"could not reach the package index to resolve the pip section: "
                        f"{detail[:300]}",
                        "check the network, or pass --offline to skip resolving",
                    )
                )
            else:
                found.append(
                    Finding(
                        "error",
                        "conda-file",
                        conda_path,
                        "dependencies",
                        "the pip section does not resolve for Linux x86_64 (Azure ML's image "
                        f"build would fail): {detail[:600]}",
                        "change the pins the resolver names (`uv pip compile` with "
                        "--python-platform x86_64-manylinux_2_28 reproduces it)",
                    )
                )
        ctx.resolved[conda_path] = found
    yield from ctx.resolved[conda_path]


def _check_version(doc: Document, conda_path: Path) -> Iterator[Finding]:
    marker = GENERATED.split("{", 1)[0]
    try:
        generated = conda_path.read_text(encoding="utf-8").startswith(marker)
    except OSError:
        return
    if not generated:
        return
    expected = content_version(doc.path)
    actual = str(doc.data.get("version"))
    if actual != expected:
        yield Finding(
            "error",
            "env-version",
            doc.path,
            "version",
            f"`{actual}` is not the version of this content (`{expected}`): Azure refuses to "
            "register changed content under an existing environment version",
            f'run `make lock` (it writes `version: "{expected}"` and every reference to it)',
        )
