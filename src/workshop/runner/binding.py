"""From a job YAML to concrete values: `--set` overrides, `azureml:` assets, `${{...}}` in commands.

The YAML is loaded with azure-ai-ml's `load_job` (its schema, defaults and errors are Azure's),
and the runner works on the entity's dictionary form, in which components are inlined and `code`
folders are absolute.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workshop.errors import WorkshopError
from workshop.jobspec.expressions import EXPRESSION as PLACEHOLDER
from workshop.jobspec.expressions import OPTIONAL
from workshop.jobspec.kinds import detect_kind, refuse_non_job
from workshop.jobspec.references import parse_asset
from workshop.jobspec.yamlread import SpecReadError, read_mapping
from workshop.paths import DEFAULT_DATA_CACHE, JOBS_DIR, data_cache, repo_relative
from workshop.runner import loadcache
from workshop.runner.mounts import Mounts
from workshop_common.errors import first_line

# Keys `--set` may add although the YAML leaves them out (they have service defaults).
OPTIONAL_KEYS = {
    "limits": {"max_total_trials", "max_concurrent_trials", "timeout", "trial_timeout"},
    "settings": {"continue_on_step_failure"},
}


@dataclass
class LoadedJob:
    """A job YAML after `--set`: what the runner uses of azure-ai-ml's load (see `loadcache`)."""

    path: Path
    spec: dict[str, Any]  # the SDK entity's dictionary form: components inlined, code absolute
    experiment_name: str | None = None
    conda_paths: dict[str, Path] = field(default_factory=dict)  # inline conda files (see below)

    @property
    def kind(self) -> str:
        return str(self.spec.get("type", "command"))

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def experiment(self) -> str:
        """The YAML's experiment_name; like the az CLI, the current folder's name without one."""
        return self.experiment_name or Path.cwd().name


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """`key=value` strings; values are read as YAML scalars (5 → int, true → bool, x → str)."""
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise WorkshopError(
                f"--set {pair!r} is not key=value", hint="write e.g. --set inputs.kmax=5"
            )
        try:
            parsed[key.strip()] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            parsed[key.strip()] = value
    return parsed


def load(path: Path, overrides: dict[str, Any]) -> LoadedJob:
    """Load a job YAML as azure-ai-ml does, with `--set` overrides (each must name a real key).

    A load of the same content is read from `loadcache` (no SDK import); anything else is the
    SDK's own load, checked, then stored for the next run.
    """
    if not path.is_file():
        what = "a folder, not a job YAML" if path.is_dir() else "no such file"
        raise WorkshopError(f"{path}: {what}", hint="pass a job YAML, e.g. jobs/train-knn.yml")
    refuse_non_job(path, "`workshop run` runs command, sweep and pipeline jobs")
    content_key = loadcache.key(path, overrides)
    cached = loadcache.read(content_key) if content_key else None
    if cached is not None:
        return LoadedJob(
            path.resolve(),
            cached["spec"],
            cached["experiment_name"],
            {k: Path(v) for k, v in cached["conda_paths"].items()},
        )
    job = load_with_sdk(path, overrides)
    if content_key:
        loadcache.write(content_key, job.spec, job.experiment_name, job.conda_paths)
    return job


def load_with_sdk(path: Path, overrides: dict[str, Any]) -> LoadedJob:
    """azure-ai-ml's `load_job`, `--set` keys checked, names checked: never cached."""
    from workshop.runner.folders import check_names

    entity = _load_job(path, [])
    spec = entity._to_dict()
    written = read_mapping(path) if overrides else {}  # the keys as the user sees them
    for key in overrides:
        _check_key(path, spec, key, written)
    if overrides:
        entity = _load_job(path, [{key: value} for key, value in overrides.items()])
        spec = entity._to_dict()
    _booleans_as_given(entity, spec)
    if spec.get("type") not in {"command", "sweep", "pipeline"}:
        raise WorkshopError(
            f"{path}: job type {spec.get('type')!r} cannot run locally",
            hint="workshop run handles command, sweep and pipeline jobs",
        )
    name = getattr(entity, "experiment_name", None)
    job = LoadedJob(path.resolve(), spec, str(name) if name else None, conda_paths(entity))
    check_names(job)  # azure-ai-ml's naming rules; a cached load passed them when stored
    return job


def _booleans_as_given(entity: Any, spec: dict[str, Any]) -> None:
    """Put back the boolean literal inputs that azure-ai-ml's `_to_dict` writes as 1/0.

    The entity keeps `flag: true` as True, and the REST body the SDK sends Azure holds 'True'
    (`load_job(...)._to_rest_object()`), which is what the command gets there; the dictionary
    form holds 1. For the job's own inputs (command, sweep, pipeline) and each pipeline step's.
    """
    pairs = [(getattr(entity, "inputs", None), spec.get("inputs"))]
    steps = spec.get("jobs") or {}
    for name, node in (getattr(entity, "jobs", None) or {}).items():
        pairs.append((getattr(node, "inputs", None), (steps.get(name) or {}).get("inputs")))
    for given, written in pairs:
        if not given or not isinstance(written, dict):
            continue
        for name, value in given.items():
            data = getattr(value, "_data", value)
            if isinstance(data, bool) and type(written.get(name)) is int:
                written[name] = data


def conda_paths(entity: Any) -> dict[str, Path]:
    """Inline conda files are inlined in the job's dictionary form; the SDK keeps their paths.

    Keyed by `environment_key` of the inlined content, so an environment value finds its file.
    """
    found: dict[str, Path] = {}
    stack = [(entity, 0)]
    while stack:
        item, depth = stack.pop()
        env = getattr(item, "environment", None)
        path, content = getattr(env, "_conda_file_path", None), getattr(env, "conda_file", None)
        if path and content:
            found[environment_key(content)] = Path(path)
        if depth >= 2:  # job -> step -> its component/trial; some SDK properties build anew
            continue
        for name in ("component", "trial"):
            child = getattr(item, name, None)
            if child is not None and not isinstance(child, str):
                stack.append((child, depth + 1))
        jobs = getattr(item, "jobs", None)
        if isinstance(jobs, dict):
            stack.extend((node, depth + 1) for node in jobs.values())
    return found


def environment_key(value: Any) -> str:
    """An environment value as a dictionary key (inline environments are dicts)."""
    return json.dumps(value, sort_keys=True, default=str)


def _load_job(path: Path, params_override: list[dict[str, Any]]) -> Any:
    from azure.ai.ml import load_job

    from workshop.sdk import quiet_azure_ml

    quiet_azure_ml()
    from azure.ai.ml.exceptions import MlException
    from marshmallow.exceptions import ValidationError

    try:
        return load_job(path, params_override=params_override)
    except (MlException, ValidationError, yaml.YAMLError) as exc:  # e.g. a binding to no step
        from workshop.validate.documents import sdk_problems

        # The SDK's text is a head line over nested JSON: name the keys and what is wrong with
        # them, as `workshop validate` does, not the head line alone.
        problems = sdk_problems(str(exc))
        shown = "; ".join(f"{k}: {m}" if k.strip() else m for k, m in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise WorkshopError(
            f"{path}: azure-ai-ml cannot load it: {shown + more if problems else first_line(exc)}",
            hint=f"fix the key(s) named; `workshop validate {path}` lists every problem with "
            "its fix",
        ) from None


def _check_key(path: Path, spec: dict[str, Any], key: str, written: dict[str, Any]) -> None:
    node: Any = spec
    parts = key.split(".")
    if _lookup(written, parts) is not None:
        return  # in the file as written (the SDK's form may move it, e.g. a command job's command)
    for depth, part in enumerate(parts):
        parent = parts[depth - 1] if depth else None
        if isinstance(node, dict) and part in node:
            node = node[part]
            continue
        if isinstance(node, dict) and depth == len(parts) - 1 and parent is not None:
            if part in OPTIONAL_KEYS.get(parent, set()):
                return
            component = spec_of_node(node_parent(spec, parts[:depth])) if parent == "inputs" else {}
            if part in component.get("inputs", {}):
                return
        where = ".".join(parts[:depth]) or "the top level"
        level = _lookup(written, parts[:depth])
        node = level if isinstance(level, dict) else node  # the file's keys, when it has that level
        names = sorted(node) if isinstance(node, dict) else []
        known = ", ".join(names) or "none (not a mapping)"
        example = ".".join([*parts[:depth], names[0]]) if names else None
        raise WorkshopError(
            f"--set {key}: {path.name} has no key {part!r} under {where} (keys there: {known})",
            hint="use a key the YAML has, as a dotted path"
            + (f", e.g. --set {example}=VALUE" if example else ""),
        )


def _lookup(data: Any, parts: list[str]) -> Any:
    for part in parts:
        data = data.get(part) if isinstance(data, dict) else None
    return data


def node_parent(spec: dict[str, Any], parts: list[str]) -> dict[str, Any]:
    """The mapping that holds `inputs` at the dotted path `parts` (minus the trailing 'inputs')."""
    node: Any = spec
    for part in parts[:-1]:
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def spec_of_node(node: dict[str, Any]) -> dict[str, Any]:
    """The component a pipeline node runs (a sweep node's trial), inlined by the SDK."""
    component = node.get("component") or node.get("trial") or {}
    return component if isinstance(component, dict) else {}


class Assets:
    """The data and environment YAMLs a job can name with `azureml:NAME@latest` or `:VERSION`.

    Looked up in the job's own folder first, then in jobs/, so test fixtures can bring their own.
    """

    def __init__(self, *folders: Path) -> None:
        self.found: dict[tuple[str, str], list[tuple[Path, dict[str, Any]]]] = {}
        seen: set[Path] = set()
        for folder in [*folders, JOBS_DIR]:
            for path in sorted(folder.glob("*.y*ml")):
                if path.resolve() in seen:
                    continue
                seen.add(path.resolve())
                try:
                    data = read_mapping(path)
                except SpecReadError:
                    continue
                if "name" in data:
                    kind = detect_kind(data)
                    if kind in {"data", "environment"}:
                        key = (kind, str(data["name"]))
                        self.found.setdefault(key, []).append((path.resolve(), data))

    def lookup(self, kind: str, ref: str) -> tuple[Path, dict[str, Any]] | None:
        parsed = parse_asset(ref)
        if parsed is None or not parsed.pinned:
            return None
        candidates = self.found.get((kind, parsed.name), [])
        version = parsed.version
        for path, data in candidates:
            if version is None or str(data.get("version")) == version:
                return path, data
        return None

    def data_path(self, ref: str, where: str) -> Path:
        """The local folder or file behind a data asset reference."""
        hit = self.lookup("data", ref)
        if hit is None:
            raise WorkshopError(
                f"{where}: no data asset YAML here defines {ref.removeprefix('azureml:')} "
                "(a data asset registered in the workspace lives in the cloud)",
                hint="add a data asset YAML (name, version, path) next to the job or in jobs/, "
                f"or pass a local copy: --set {where.split(': ', 1)[-1]}.path=PATH",
            )
        path, data = hit
        local = (path.parent / str(data.get("path", ""))).resolve()
        if local == DEFAULT_DATA_CACHE.resolve():
            local = data_cache().resolve()  # WORKSHOP_DATA_DIR moves the data cache
        if not local.exists():
            raise WorkshopError(
                f"{where}: data asset {ref.removeprefix('azureml:')} ({repo_relative(path)}) "
                f"points at {local}, which does not exist",
                hint="run `workshop data fetch` to download MNIST into the data cache",
            )
        return local


def resolve_input(
    value: Any, base: Path, assets: Assets, where: str, mounts: Mounts | None = None
) -> str:
    """One input as the command sees it: literals as text, data as a local path (with `mounts`,
    the run's read-only copy of it, as Azure mounts data for a job)."""
    if isinstance(value, dict):
        path = value.get("path")
        if path is None:
            if "default" in value:
                return resolve_input(value["default"], base, assets, where, mounts)
            raise WorkshopError(
                f"{where}: the input has no path or value", hint="give it `path:` or a literal"
            )
        local = resolve_path(str(path), base, assets, where, value.get("type"))
        return str(mounts.view(Path(local), value.get("mode"))) if mounts else local
    return literal(value)


def check_inputs(job: LoadedJob, assets: Assets) -> None:
    """Bind every data input the YAML gives (not those a step reads from another step) now, so
    a missing data cache or a cloud-only input fails before anything is built or started."""
    spec = job.spec
    given = [(f"inputs.{name}", value) for name, value in (spec.get("inputs") or {}).items()]
    for step, node in (spec.get("jobs") or {}).items():
        if isinstance(node, dict):
            inputs = node.get("inputs") or {}
            given += [(f"jobs.{step}.inputs.{name}", value) for name, value in inputs.items()]
    for where, value in given:
        path = value.get("path") if isinstance(value, dict) else None
        if isinstance(path, str) and "${{" not in path:
            resolve_path(path, job.folder, assets, f"{job.path.name}: {where}", value.get("type"))


def literal(value: Any) -> str:
    """A literal input as the command line gets it."""
    if isinstance(value, bool):
        return "True" if value else "False"  # how Azure ML renders a boolean input
    return str(value)


# The SDK writes a job's non-asset input path as `azureml:<path>`, URLs included.
_SDK_PREFIX = re.compile(r"^azureml:(?!//)")


def resolve_path(path: str, base: Path, assets: Assets, where: str, kind: str | None = None) -> str:
    from workshop.runner import download

    parsed = parse_asset(path)
    if parsed is not None and parsed.pinned:
        return str(assets.data_path(path, where))
    plain = _SDK_PREFIX.sub("", path)
    if plain.startswith(download.WEB):
        return str(download.fetch(plain, where, kind))
    if "://" in plain:
        raise download.cloud_only(plain, where)
    local = (base / plain).resolve()
    if not local.exists():
        raise WorkshopError(
            f"{where}: local path {local} does not exist",
            hint=f"a relative path is read from the YAML's folder ({base}); fix it, or pass "
            f"another: --set {where.split(': ', 1)[-1]}.path=PATH",
        )
    if kind == "uri_file" and local.is_dir():
        raise WorkshopError(
            f"{where}: a uri_file input, but {local} is a folder",
            hint="point it at one file, or declare the input `type: uri_folder`",
        )
    return str(local)


def render(command: str, values: dict[str, str], where: str) -> str:
    """Replace `${{inputs.x}}`, `${{outputs.y}}`, `${{search_space.k}}` with shell-quoted values.

    `$[[ ... ]]` segments are optional: kept (without the brackets) when every reference in them
    has a value, dropped otherwise, as Azure ML does.
    """

    def optional(match: re.Match[str]) -> str:
        refs = [m["ref"] for m in PLACEHOLDER.finditer(match["body"])]
        return match["body"] if all(ref in values for ref in refs) else ""

    def substitute(match: re.Match[str]) -> str:
        ref = match["ref"]
        if ref not in values:
            known = ", ".join(sorted(values)) or "none"
            raise WorkshopError(
                f"{where}: the command uses ${{{{{ref}}}}}, which has no value (known: {known})",
                hint="declare it under inputs/outputs/search_space, or fix the name",
            )
        return shlex.quote(values[ref])

    return PLACEHOLDER.sub(substitute, OPTIONAL.sub(optional, command))
