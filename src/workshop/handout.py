"""Trainee handouts from the stack outputs: one folder per trainee with config.json and a page.

The outputs come from `pulumi stack output --json` (live, via workshop.azure.stack) or from a
file saved earlier. They hold names and URLs only (no keys, tokens or connection strings): a
trainee signs in with their own account. Folders are built under a temporary name and renamed into
place, so an interrupted run never leaves a folder that looks complete but is not.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from workshop.azure import contract
from workshop.errors import WorkshopError
from workshop.kernel import KERNEL_DISPLAY_NAME, SCRIPT
from workshop.paths import ROOT

TEMPLATES = Path(__file__).parent / "templates"
TRAINEES = contract.TRAINEES
EXPIRES_ON = contract.EXPIRES_ON
REQUIRED = contract.HANDOUT_OUTPUTS
ENTRY_FIELDS = contract.TRAINEE_FIELDS
CONFIG_FIELDS = contract.CONFIG_JSON_KEYS
_SAFE_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")


@dataclass(frozen=True)
class Handout:
    key: str
    name: str
    studio_url: str
    config: dict[str, str]
    compute: str
    compute_instance: str | None
    workspace: str
    resource_group: str
    data_asset: str
    environment: str
    expires_on: str

    @property
    def instance_url(self) -> str | None:
        if not self.compute_instance:
            return None
        return self.studio_url.replace(
            "https://ml.azure.com/?",
            f"https://ml.azure.com/compute/{self.compute_instance}/details?",
        )


def _bad(source: str, what: str, hint: str | None = None) -> WorkshopError:
    return WorkshopError(
        f"{source}: {what}",
        hint=hint
        or "run `pulumi up` with this repository's infra/ program, then save the outputs with "
        "`pulumi stack output --json > outputs.json`",
    )


def handouts_from_outputs(outputs: Any, source: str) -> list[Handout]:
    """Check the outputs and build one Handout per trainee; errors name what is missing."""
    if not isinstance(outputs, Mapping):
        raise _bad(source, f"expected a JSON object of stack outputs, got {type(outputs).__name__}")
    missing = [key for key in REQUIRED if key not in outputs or outputs[key] in (None, "")]
    if missing:
        raise _bad(source, f"missing stack output {', '.join(missing)}")
    entries = outputs[TRAINEES]
    if not isinstance(entries, list):
        raise _bad(source, f"output {TRAINEES} must be a list, got {type(entries).__name__}")
    if not entries:
        raise _bad(
            source,
            "the stack has no trainees",
            hint="pulumi config set --path 'aml-workshop:trainees[0].name' NAME and "
            "'aml-workshop:trainees[0].objectId' GUID (or traineeGroupObjectId), then pulumi up",
        )
    strings = {k: outputs[k] for k in REQUIRED if k != TRAINEES}
    for key, value in strings.items():
        if not isinstance(value, str):
            raise _bad(source, f"output {key} must be a string, got {value!r}")
    handouts: list[Handout] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"{TRAINEES}[{index}]"
        if not isinstance(entry, Mapping):
            raise _bad(source, f"{where} must be an object, got {entry!r}")
        absent = [f for f in ENTRY_FIELDS if not isinstance(entry.get(f), str) or not entry[f]]
        if absent:
            raise _bad(source, f"{where} has no {', '.join(absent)}")
        key = entry[contract.TRAINEE_KEY]
        if not _SAFE_KEY.fullmatch(key) or key in seen:
            raise _bad(source, f"{where}.key {key!r} is not a unique folder name")
        seen.add(key)
        try:
            config = json.loads(entry[contract.CONFIG_JSON])
        except json.JSONDecodeError as exc:
            raise _bad(source, f"{where}.{contract.CONFIG_JSON} is not JSON ({exc.msg})") from None
        if not isinstance(config, dict) or any(
            not isinstance(config.get(f), str) or not config[f] for f in CONFIG_FIELDS
        ):
            raise _bad(source, f"{where}.{contract.CONFIG_JSON} needs {', '.join(CONFIG_FIELDS)}")
        instance = entry.get(contract.TRAINEE_COMPUTE_INSTANCE)
        if instance is not None and not isinstance(instance, str):
            field = f"{where}.{contract.TRAINEE_COMPUTE_INSTANCE}"
            raise _bad(source, f"{field} must be a name or null")
        handouts.append(
            Handout(
                key=key,
                name=entry[contract.TRAINEE_NAME],
                studio_url=entry[contract.STUDIO_URL],
                config={f: config[f] for f in CONFIG_FIELDS},
                compute=entry[contract.COMPUTE_NAME],
                compute_instance=instance or None,
                workspace=strings[contract.WORKSPACE_NAME],
                resource_group=strings[contract.RESOURCE_GROUP],
                data_asset=strings[contract.DATA_ASSET],
                environment=strings[contract.ENVIRONMENT],
                expires_on=str(outputs.get(EXPIRES_ON) or "the date your trainer announced"),
            )
        )
    return handouts


def read_outputs_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise WorkshopError(
            f"{path}: cannot read the outputs file ({exc.strerror})",
            hint="save it with `pulumi stack output --json > outputs.json`",
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkshopError(
            f"{path}: not JSON (line {exc.lineno}: {exc.msg})",
            hint="save it with `pulumi stack output --json > outputs.json` (not the table view)",
        ) from exc


def endpoint_name(key: str) -> str:
    """The trainee's own online endpoint name: endpoint names are unique per region."""
    return f"mnist-{key}"[:32].rstrip("-")


def _fields(handout: Handout, escape: bool) -> dict[str, str]:
    quote = html.escape if escape else (lambda s: s)
    values = {
        "title": quote(f"MNIST hands-on: {handout.name}"),
        "name": quote(handout.name),
        "expires": quote(handout.expires_on),
        "studio_url": quote(handout.studio_url),
        "workspace": quote(handout.workspace),
        "resource_group": quote(handout.resource_group),
        "data_asset": quote(handout.data_asset),
        "environment": quote(handout.environment),
        "compute": quote(handout.compute),
        "endpoint": quote(endpoint_name(handout.key)),
        "kernel": quote(KERNEL_DISPLAY_NAME),
        "kernel_script": quote(SCRIPT.relative_to(ROOT).as_posix()),
    }
    name, url = handout.compute_instance, handout.instance_url
    note = "stops when idle and every evening"
    if name and url:
        values["instance_md"] = f"[`{name}`]({url}) ({note})"
        values["instance_html"] = (
            f'<a href="{html.escape(url)}"><code>{html.escape(name)}</code></a> ({note})'
        )
    else:
        values["instance_md"] = values["instance_html"] = "none (jobs use the cluster)"
    return values


def render(handout: Handout) -> dict[str, str]:
    """The files of one trainee's folder, by name."""
    markdown = Template((TEMPLATES / "handout.md").read_text(encoding="utf-8"))
    page = Template((TEMPLATES / "handout.html").read_text(encoding="utf-8"))
    return {
        "config.json": json.dumps(handout.config, indent=2) + "\n",
        "README.md": markdown.substitute(_fields(handout, escape=False)),
        "index.html": page.substitute(_fields(handout, escape=True)),
    }


def write_handouts(handouts: Sequence[Handout], out_dir: Path) -> list[Path]:
    """Write every folder under out_dir; each appears complete or not at all."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkshopError(
            f"--out {out_dir}: cannot create the folder ({exc.strerror})",
            hint="choose a writable folder that is not an existing file, e.g. --out handouts/",
        ) from None
    written: list[Path] = []
    for handout in handouts:
        staging = Path(tempfile.mkdtemp(prefix=f".{handout.key}-", dir=out_dir))
        try:
            for name, text in render(handout).items():
                (staging / name).write_text(text, encoding="utf-8")
            target = out_dir / handout.key
            if target.exists():
                shutil.rmtree(target)  # the old handout: replaced whole, never merged
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        written.append(target)
    return written
