"""`workshop validate`: load every job YAML the way Azure ML would, offline, and check the rest.

`validate(paths)` returns a `Report`; the command in workshop.commands.validate prints it. The
pieces: workshop.jobspec (read YAML with the alias guard, tell the kind, the one grammar for
`${{...}}` and `azureml:`), documents.py (load with azure-ai-ml), checks.py (what the SDK misses
offline), conda.py (an environment's conda file), metrics.py (which metric names the training
code logs), findings.py (the report).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

from workshop import names
from workshop.jobspec.kinds import detect_kind
from workshop.paths import JOBS_DIR
from workshop.validate.checks import Inventory, run_checks
from workshop.validate.documents import (
    Document,
    load_entity,
    read_yaml,
    sdk_validate,
    yaml_files,
)
from workshop.validate.findings import Finding, Report
from workshop_common import contract

__all__ = ["Finding", "Report", "validate"]


def validate(
    paths: Iterable[Path],
    *,
    progress: Callable[[Path], None] | None = None,
    offline: bool = False,
    references: bool | None = None,
) -> Report:
    """Validate every YAML named or under `paths`; `progress` is called once per file loaded.

    `offline` skips what needs the package index (resolving conda files) with a note.
    `references` checks `azureml:` names against what this repository creates: by default for
    files inside this checkout only (elsewhere the names are someone else's workspace's).
    """
    report = Report(files=yaml_files(paths))
    ctx = Inventory(
        computes={contract.CLUSTER_NAME},
        models={names.MODEL_NAME},
        offline=offline,
        references=references,
    )

    # What this repository creates: the YAMLs under jobs/ plus the ones being validated.
    for path in yaml_files([JOBS_DIR]):
        data, _ = read_yaml(path)
        kind = detect_kind(data) if data else None
        if data and kind:
            ctx.learn(Document(path, kind, data))

    documents: list[Document] = []
    unknown: list[Path] = []
    for path in report.files:
        data, problem = read_yaml(path)
        if problem:
            report.add(problem)
            continue
        assert data is not None
        kind = detect_kind(data)
        if kind is None:
            unknown.append(path)
            continue
        doc = Document(path, kind, data)
        documents.append(doc)
        ctx.documents[path] = doc
        ctx.learn(doc)

    # conda files are named by an environment; anything else unrecognised is worth a warning.
    conda_files = {
        (doc.folder / str(doc.data["conda_file"])).resolve()
        for doc in documents
        if doc.kind == "environment" and isinstance(doc.data.get("conda_file"), str)
    }
    for path in unknown:
        if path not in conda_files and not _looks_like_conda_file(path):
            report.add(
                Finding(
                    "warning",
                    "kind",
                    path,
                    "$schema",
                    "not recognised as an Azure ML YAML (no known `$schema` or keys); skipped",
                    "add the `$schema:` line of its kind, e.g. "
                    "https://azuremlschemas.azureedge.net/latest/commandJob.schema.json",
                )
            )

    with warnings.catch_warnings():
        # azure-ai-ml's schemas raise thousands of marshmallow deprecation warnings: not ours.
        warnings.simplefilter("ignore")
        from workshop.jobspec.sdkload import loaders as sdk_loaders

        loaders = sdk_loaders() if documents else {}
        for doc in documents:
            if progress:
                progress(doc.path)
            for finding in load_entity(doc, loaders):
                report.add(finding)
            for finding in sdk_validate(doc):
                report.add(finding)
            for finding in run_checks(doc, ctx):
                report.add(finding)
    return report


def _looks_like_conda_file(path: Path) -> bool:
    """A conda environment file (`dependencies:` and no Azure ML keys): an inline environment's
    `conda_file` that no environment YAML names. It is checked through the job that uses it, so
    advising a job `$schema` for it would be wrong."""
    data, problem = read_yaml(path)
    return (
        problem is None
        and isinstance(data, dict)
        and "dependencies" in data
        and not ({"$schema", "type", "command", "jobs"} & set(data))
    )
