"""Trainee handouts from the stack outputs: one folder per trainee with config.json and a page.

The outputs come from `pulumi stack output --json` (live, via workshop.azure.stack) or from a
file saved earlier. They hold names and URLs only (no keys, tokens or connection strings): a
trainee signs in with their own account. Folders are built under a temporary name and renamed into
place, so an interrupted run never leaves a folder that looks complete but is not.

Each page is written in the stack's `handoutLanguage` (Japanese by default: the course is Japanese
first; or English), with the expiry date written for people in that language, in UTC.

The outputs are data, not markup: links go only to Azure ML Studio (https://ml.azure.com/), every
value is escaped for the page it lands in (HTML, or Markdown: a newline or `<script>` in a name
cannot change either document), and the folders get the permissions a plain `mkdir` would give
(they are meant to be handed on), not the owner-only ones of a temporary folder.
"""

from __future__ import annotations

import datetime as dt
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

from workshop.errors import WorkshopError
from workshop.markdown import md_code, md_text, one_line
from workshop.paths import ROOT
from workshop_common import contract
from workshop_common.kernel import KERNEL_DISPLAY_NAME, SCRIPT
from workshop_common.languages import HANDOUT_LANGUAGES

TEMPLATES = Path(__file__).parent / "templates"
TRAINEES = contract.TRAINEES
EXPIRES_ON = contract.EXPIRES_ON
REQUIRED = contract.HANDOUT_OUTPUTS
ENTRY_FIELDS = contract.TRAINEE_FIELDS
CONFIG_FIELDS = contract.CONFIG_JSON_KEYS
_SAFE_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")
STUDIO = "https://ml.azure.com/"
"""The only place a handout links to: Azure ML Studio."""
# RFC 3986 characters minus the ones that end or break a Markdown link or an HTML attribute
# ( ) [ ] ' and the whitespace, quotes and angle brackets RFC 3986 does not allow anyway.
_INSTANCE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{2,23}")
"""Azure ML compute names: 3-24 letters, digits and hyphens, starting with a letter."""
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#@!$&*+,;=%]+")

LANGUAGE_SETTING = "handoutLanguage"
"""The stack setting (Pulumi.yaml declares its default) that picks the handouts' language."""
_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d")
"""expiresOn as the stack writes it (the `expires-on` tag: UTC), or a bare UTC date."""
_EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_JA_WEEKDAYS = "月火水木金土日"
PHRASES: dict[str, dict[str, str]] = {
    "ja": {
        "title": "MNIST ハンズオン: {name}",
        "no_expiry": "講師が案内した日時",
        "instance_note": "（アイドル時と毎晩、自動で停止します）",
        "no_instance": "なし（ジョブはクラスターで実行します）",
    },
    "en": {
        "title": "MNIST hands-on: {name}",
        "no_expiry": "the date your trainer announced",
        "instance_note": " (stops when idle and every evening)",
        "no_instance": "none (jobs use the cluster)",
    },
}
"""The words of a page that are not in its template, by language."""


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
    expires_on: dt.datetime | None  # UTC
    language: str  # one of HANDOUT_LANGUAGES

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


def check_language(value: object, where: str) -> str:
    """`value` as a handout language (ja, en; any case), or one clear error naming it."""
    for language in HANDOUT_LANGUAGES:
        if isinstance(value, str) and value.strip().lower() == language:
            return language
    raise WorkshopError(
        f"{where} = {value!r} is not a handout language: use one of {', '.join(HANDOUT_LANGUAGES)}",
        hint=f"pulumi config set {contract.PROJECT}:{LANGUAGE_SETTING} ja (or en), "
        "or pass --language ja|en",
    )


def default_language() -> str:
    """The handouts' language when nothing chooses one: Pulumi.yaml's default for the setting."""
    from workshop_infra.project_file import project_file

    declared = project_file().settings[LANGUAGE_SETTING].default
    return check_language(declared, f"Pulumi.yaml: {contract.PROJECT}:{LANGUAGE_SETTING}")


def stack_language(stack: str, root: Path = ROOT) -> str:
    """The stack's handoutLanguage (its Pulumi.<stack>.yaml, else the declared default)."""
    from workshop.azure.stack import stack_config

    config, _ = stack_config(stack, root=root)
    value = config.get(LANGUAGE_SETTING, default_language())
    return check_language(value, f"stack {stack}: {contract.PROJECT}:{LANGUAGE_SETTING}")


def parse_expiry(value: object, source: str) -> dt.datetime | None:
    """The expiresOn output as a UTC time; None when the stack has none."""
    if value is None or value == "":
        return None
    for fmt in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(str(value), fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    raise _bad(
        source,
        f"output {EXPIRES_ON} {value!r} is not a UTC time YYYY-MM-DDTHH:MM:SSZ (or YYYY-MM-DD)",
    )


def expiry_for_people(moment: dt.datetime | None, language: str) -> str:
    """The expiry as people write it in `language`, in UTC (the time zone the stack states it in):
    ja `2026年12月6日(日) 9:00 UTC`, en `Sunday 6 December 2026, 09:00 UTC`."""
    if moment is None:
        return PHRASES[language]["no_expiry"]
    utc = moment.astimezone(dt.UTC)
    if language == "ja":
        weekday = _JA_WEEKDAYS[utc.weekday()]
        return f"{utc.year}年{utc.month}月{utc.day}日({weekday}) {utc.hour}:{utc.minute:02d} UTC"
    weekday, month = _EN_WEEKDAYS[utc.weekday()], _EN_MONTHS[utc.month - 1]
    return f"{weekday} {utc.day} {month} {utc.year}, {utc:%H:%M} UTC"


def handouts_from_outputs(outputs: Any, source: str, language: str | None = None) -> list[Handout]:
    """Check the outputs and build one Handout per trainee; errors name what is missing.

    `language` (ja, en) is the pages' language; None: Pulumi.yaml's default for handoutLanguage.
    """
    language = check_language(language, "--language") if language else default_language()
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
    expires_on = parse_expiry(outputs.get(EXPIRES_ON), source)
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
        studio_url = check_studio_url(entry[contract.STUDIO_URL], source, where)
        instance = entry.get(contract.TRAINEE_COMPUTE_INSTANCE)
        if instance is not None and (
            not isinstance(instance, str) or not _INSTANCE_NAME.fullmatch(instance)
        ):
            field = f"{where}.{contract.TRAINEE_COMPUTE_INSTANCE}"
            raise _bad(source, f"{field} must be a compute instance name or null, got {instance!r}")
        handouts.append(
            Handout(
                key=key,
                name=entry[contract.TRAINEE_NAME],
                studio_url=studio_url,
                config={f: config[f] for f in CONFIG_FIELDS},
                compute=entry[contract.COMPUTE_NAME],
                compute_instance=instance or None,
                workspace=strings[contract.WORKSPACE_NAME],
                resource_group=strings[contract.RESOURCE_GROUP],
                data_asset=strings[contract.DATA_ASSET],
                environment=strings[contract.ENVIRONMENT],
                expires_on=expires_on,
                language=language,
            )
        )
    return handouts


def check_studio_url(url: str, source: str, where: str) -> str:
    """The trainee's Studio link, accepted only as an https://ml.azure.com/ URL."""
    if not url.startswith(STUDIO) or not _URL_CHARS.fullmatch(url):
        raise _bad(
            source,
            f"{where}.{contract.STUDIO_URL} {url!r} is not an Azure ML Studio link "
            f"(a handout links only to {STUDIO}...)",
        )
    return url


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
    text = html.escape if escape else md_text
    code = html.escape if escape else md_code
    words = PHRASES[handout.language]
    values = {
        "title": text(words["title"].format(name=handout.name)),
        "name": text(handout.name),
        "expires": text(expiry_for_people(handout.expires_on, handout.language)),
        "studio_url": html.escape(handout.studio_url) if escape else handout.studio_url,
        "workspace": text(handout.workspace),
        "resource_group": code(handout.resource_group),
        "data_asset": code(handout.data_asset),
        "environment": code(handout.environment),
        "compute": code(handout.compute),
        "endpoint": html.escape(endpoint_name(handout.key))
        if escape
        else endpoint_name(handout.key),
        # inside the fenced command block: one line, nothing else is parsed there
        "resource_group_cmd": html.escape(one_line(handout.resource_group))
        if escape
        else one_line(handout.resource_group),
        "workspace_cmd": html.escape(one_line(handout.workspace))
        if escape
        else one_line(handout.workspace),
        "kernel": html.escape(KERNEL_DISPLAY_NAME) if escape else md_code(KERNEL_DISPLAY_NAME),
        "kernel_script": code(f"bash {SCRIPT.relative_to(ROOT).as_posix()}"),
    }
    name, url = handout.compute_instance, handout.instance_url
    note = words["instance_note"]
    if name and url:
        values["instance_md"] = f"[{md_code(name)}]({url}){note}"
        values["instance_html"] = (
            f'<a href="{html.escape(url)}"><code>{html.escape(name)}</code></a>{note}'
        )
    else:
        values["instance_md"] = values["instance_html"] = words["no_instance"]
    return values


def render(handout: Handout) -> dict[str, str]:
    """The files of one trainee's folder, by name, in the handout's language."""
    markdown = Template(template(handout.language, "md").read_text(encoding="utf-8"))
    page = Template(template(handout.language, "html").read_text(encoding="utf-8"))
    return {
        "config.json": json.dumps(handout.config, indent=2) + "\n",
        "README.md": markdown.substitute(_fields(handout, escape=False)),
        "index.html": page.substitute(_fields(handout, escape=True)),
    }


def template(language: str, kind: str) -> Path:
    """templates/handout.<language>.<md|html>."""
    return TEMPLATES / f"handout.{language}.{kind}"


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def _check_destination(target: Path) -> None:
    """A handout replaces only a folder of its own: never a symlink, never a file."""
    if target.is_symlink():
        raise WorkshopError(
            f"{target} is a symbolic link; a handout folder is never written through one",
            hint=f"remove the link (rm {target}) or choose another --out folder",
        )
    if target.exists() and not target.is_dir():
        raise WorkshopError(
            f"{target} exists and is not a folder",
            hint="move it away or choose another --out folder",
        )


def write_handouts(handouts: Sequence[Handout], out_dir: Path) -> list[Path]:
    """Write every folder under out_dir; each appears complete or not at all.

    Every destination is checked before anything is written. The folders get the mode a plain
    `mkdir` gives under the current umask (typically rwxr-xr-x), because they are made to be
    handed on; tempfile's owner-only staging mode is not kept.
    """
    for handout in handouts:
        _check_destination(out_dir / handout.key)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkshopError(
            f"--out {out_dir}: cannot create the folder ({exc.strerror})",
            hint="choose a writable folder that is not an existing file, e.g. --out handouts/",
        ) from None
    folder_mode = 0o777 & ~_umask()
    written: list[Path] = []
    for handout in handouts:
        staging = Path(tempfile.mkdtemp(prefix=f".{handout.key}-", dir=out_dir))
        try:
            for name, text in render(handout).items():
                (staging / name).write_text(text, encoding="utf-8")
            staging.chmod(folder_mode)
            target = out_dir / handout.key
            _check_destination(target)  # again: nothing may have appeared meanwhile
            if target.exists():
                shutil.rmtree(target)  # the old handout: replaced whole, never merged
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        written.append(target)
    return written
