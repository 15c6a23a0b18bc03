"""What the SDK does not check offline, checked on the raw YAML mappings.

Each `check_*` function takes one document and the shared `Inventory` and yields findings; the
`check` name on each finding says which rule fired:

- `binding`: `${{inputs.X}}`, `${{outputs.Y}}`, `${{search_space.K}}` in a command are declared;
- `search-space`: grid sampling uses only `choice`, and a pipeline sweep's search-space keys are
  inputs of its trial component;
- `parent`: `${{parent.inputs.I}}`, `${{parent.outputs.O}}`, `${{parent.jobs.S.outputs.O}}` exist;
- `node-io`: a pipeline node's input and output keys are declared by its component;
- `metric`: a sweep's `objective.primary_metric` is logged by the trial's code (see metrics.py);
- `local-path`: `path`, `code`, `conda_file`, `scoring_script`, component and job files exist;
- `code-folder`: a `code` folder holds training code only, under 1 MB;
- `reference`: every `azureml:` compute, environment, data and model is created by this repo.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workshop.paths import repo_relative
from workshop.validate.documents import Document, read_yaml
from workshop.validate.findings import Finding
from workshop.validate.metrics import entry_module, logged_metrics

CODE_FOLDER_LIMIT = 1_000_000  # bytes; a code folder is uploaded with every job
DATA_SUFFIXES = {
    ".gz", ".zip", ".tar", ".npy", ".npz", ".csv", ".tsv", ".parquet", ".pkl", ".pickle",
    ".joblib", ".h5", ".idx", ".png", ".jpg", ".jpeg",
}  # fmt: skip
BINDING = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
FETCH_HINT = "run `workshop data fetch` (it fills the data cache this path points at)"


@dataclass
class Inventory:
    """Names this repository creates (from names.py and the YAMLs), and loaded documents."""

    computes: set[str]
    models: set[str]
    environments: dict[str, set[str]] = field(default_factory=dict)
    data: dict[str, set[str]] = field(default_factory=dict)
    endpoints: set[str] = field(default_factory=set)
    documents: dict[Path, Document] = field(default_factory=dict)

    def learn(self, doc: Document) -> None:
        """Record what `doc` creates: an environment, a data asset, an endpoint, a model name."""
        name, version = doc.data.get("name"), doc.data.get("version")
        if doc.kind == "environment" and name:
            self.environments.setdefault(str(name), set()).add(str(version))
        elif doc.kind == "data" and name:
            self.data.setdefault(str(name), set()).add(str(version))
        elif doc.kind == "online_endpoint" and name:
            self.endpoints.add(str(name))
        elif doc.kind == "component":
            default = _mapping(_mapping(doc.data.get("inputs")).get("model_name")).get("default")
            if default:
                self.models.add(str(default))

    def component(self, ref: Any, base: Path) -> tuple[dict[str, Any] | None, Path]:
        """A node's component (a local file or an inline mapping) and the folder it resolves in."""
        if isinstance(ref, dict):
            return ref, base
        if not isinstance(ref, str) or ref.startswith("azureml:"):
            return None, base
        path = (base / ref).resolve()
        if path in self.documents:
            return self.documents[path].data, path.parent
        if not path.is_file():
            return None, path.parent
        data, _ = read_yaml(path)
        return data, path.parent


def run_checks(doc: Document, known: Inventory) -> Iterator[Finding]:
    """Every check that applies to `doc`'s kind."""
    yield from check_references(doc, known)
    if doc.kind in {"command_job", "component"}:
        yield from check_command(doc, doc.data, "", _declared(doc.data), None)
        yield from check_code(doc, doc.data.get("code"), "code", doc.folder)
        yield from check_entry(doc, doc.data, "", doc.folder)
        yield from check_input_paths(doc, doc.data, "")
    elif doc.kind == "sweep_job":
        yield from check_sweep(doc, known, doc.data, "", doc.folder, standalone=True)
        yield from check_input_paths(doc, doc.data, "")
    elif doc.kind == "pipeline_job":
        yield from check_pipeline(doc, known)
        yield from check_input_paths(doc, doc.data, "")
    elif doc.kind == "online_deployment":
        yield from check_deployment(doc, known)
    elif doc.kind == "environment":
        yield from check_file(doc, doc.data.get("conda_file"), "conda_file", doc.folder)
    elif doc.kind == "data":
        yield from check_data_path(doc)
    elif doc.kind == "schedule":
        yield from check_file(doc, doc.data.get("create_job"), "create_job", doc.folder)


# --- commands and their bindings --------------------------------------------------------------


def _declared(spec: dict[str, Any]) -> dict[str, set[str]]:
    return {
        "inputs": set(_mapping(spec.get("inputs"))),
        "outputs": set(_mapping(spec.get("outputs"))),
    }


def check_command(
    doc: Document,
    spec: dict[str, Any],
    prefix: str,
    declared: dict[str, set[str]],
    search_space: set[str] | None,
) -> Iterator[Finding]:
    """`${{inputs.X}}`, `${{outputs.Y}}` (and in a sweep trial `${{search_space.K}}`) exist."""
    command = spec.get("command")
    if not isinstance(command, str):
        return
    key = f"{prefix}command"
    roots = dict(declared)
    if search_space is not None:
        roots["search_space"] = search_space
    for expression in BINDING.findall(command):
        root, _, name = expression.partition(".")
        if root not in roots:
            allowed = ", ".join(f"${{{{{r}.NAME}}}}" for r in roots)
            yield _error(
                "binding",
                doc,
                key,
                f"`${{{{{expression}}}}}` is not a binding a command can use",
                f"use one of {allowed}",
            )
            continue
        if name not in roots[root]:
            section = "search_space" if root == "search_space" else f"{prefix}{root}"
            yield _error(
                "binding",
                doc,
                key,
                f"`${{{{{root}.{name}}}}}` is not declared under `{section}` "
                f"(declared: {_names(roots[root])})",
                f"declare `{section}.{name}` or correct the name{_did_you_mean(name, roots[root])}",
            )


def check_entry(doc: Document, spec: dict[str, Any], prefix: str, base: Path) -> Iterator[Finding]:
    """The module or script a command runs exists in the job's code folder."""
    command, code = spec.get("command"), spec.get("code")
    if not isinstance(command, str) or not isinstance(code, str) or _is_remote(code):
        return
    code_dir = (base / code).resolve()
    if not code_dir.is_dir() or not re.search(r"\bpython[0-9.]*\s", command + " "):
        return
    if entry_module(command, code_dir) is None:
        shown = " ".join(command.split())
        yield _error(
            "local-path",
            doc,
            f"{prefix}command",
            f"the command runs a module or script that is not in the code folder "
            f"{repo_relative(code_dir)}: {shown[:90]}",
            "run `python -m package.module` or `python file.py` with a path inside `code`",
        )


def check_sweep(
    doc: Document,
    known: Inventory,
    sweep: dict[str, Any],
    prefix: str,
    base: Path,
    *,
    standalone: bool,
) -> Iterator[Finding]:
    """Search space, trial bindings, the objective metric and the trial's code for one sweep."""
    space = _mapping(sweep.get("search_space"))
    if sweep.get("sampling_algorithm") == "grid" or (
        isinstance(sweep.get("sampling_algorithm"), dict)
        and sweep["sampling_algorithm"].get("type") == "grid"
    ):
        for name, spec in space.items():
            kind = _mapping(spec).get("type")
            if kind != "choice":
                yield _error(
                    "search-space",
                    doc,
                    f"{prefix}search_space.{name}.type",
                    f"grid sampling needs `type: choice`, found `{kind}`",
                    "list the values with `type: choice` / `values: [...]`, or use "
                    "`sampling_algorithm: random`",
                )
    trial_ref = sweep.get("trial")
    if standalone and isinstance(trial_ref, dict):
        trial, trial_base = trial_ref, base
        declared = _declared(sweep)
        search = set(space)
    else:
        trial, trial_base = known.component(trial_ref, base)
        if trial is None:
            yield from check_file(doc, trial_ref, f"{prefix}trial", base)
            return
        declared = _declared(trial)
        search = set()  # a component binds search-space values through its inputs
        for name in space:
            if name not in declared["inputs"]:
                yield _error(
                    "search-space",
                    doc,
                    f"{prefix}search_space.{name}",
                    f"`{name}` is not an input of the trial component "
                    f"(inputs: {_names(declared['inputs'])}); the value would bind to nothing",
                    f"name a trial input{_did_you_mean(name, declared['inputs'])}",
                )
    if standalone and isinstance(trial_ref, dict):
        yield from check_command(doc, trial, f"{prefix}trial.", declared, search)
        yield from check_code(doc, trial.get("code"), f"{prefix}trial.code", base)
        yield from check_entry(doc, trial, f"{prefix}trial.", base)
    yield from check_metric(doc, sweep, trial, trial_base, prefix)


def check_metric(
    doc: Document, sweep: dict[str, Any], trial: dict[str, Any], base: Path, prefix: str
) -> Iterator[Finding]:
    """`objective.primary_metric` is a metric name the trial's command logs."""
    metric = _mapping(sweep.get("objective")).get("primary_metric")
    command, code = trial.get("command"), trial.get("code")
    if not isinstance(metric, str) or not isinstance(command, str) or not isinstance(code, str):
        return
    code_dir = (base / code).resolve()
    entry = entry_module(command, code_dir)
    key = f"{prefix}objective.primary_metric"
    if entry is None:
        return  # check_entry reports the missing module where the command is declared
    logged = logged_metrics(entry, code_dir)
    if logged.logs(metric):
        return
    unreadable = (
        f"; {logged.unreadable} metric name(s) there are not literals and could not be read"
        if logged.unreadable
        else ""
    )
    yield _error(
        "metric",
        doc,
        key,
        f"`{metric}` is not a metric the trial logs (found in {entry.name} and its imports: "
        f"{logged.describe()}{unreadable}); Azure ML would show every trial as N/A",
        f"set primary_metric to a logged name{_did_you_mean(metric, logged.names)}, or log "
        f'`mlflow.log_metric("{metric}", value)` in the training code',
    )


# --- pipelines --------------------------------------------------------------------------------


def check_pipeline(doc: Document, known: Inventory) -> Iterator[Finding]:
    """Node components, node inputs/outputs and every `${{parent...}}` binding."""
    data = doc.data
    jobs = _mapping(data.get("jobs"))
    pipeline_io = _declared(data)
    node_outputs: dict[str, set[str] | None] = {}
    components: dict[str, tuple[dict[str, Any] | None, Path]] = {}
    for name, node in jobs.items():
        node = _mapping(node)
        ref = node.get("trial") if node.get("type") == "sweep" else node.get("component")
        component, base = known.component(ref, doc.folder)
        components[name] = (component, base)
        node_outputs[name] = _declared(component)["outputs"] if component is not None else None

    for name, node in jobs.items():
        node = _mapping(node)
        prefix = f"jobs.{name}."
        component, base = components[name]
        is_sweep = node.get("type") == "sweep"
        ref_key = "trial" if is_sweep else "component"
        if component is None:
            yield from check_file(doc, node.get(ref_key), f"{prefix}{ref_key}", doc.folder)
        else:
            declared = _declared(component)
            for section in ("inputs", "outputs"):
                for key in _mapping(node.get(section)):
                    if key not in declared[section]:
                        yield _error(
                            "node-io",
                            doc,
                            f"{prefix}{section}.{key}",
                            f"the component ({node.get(ref_key)}) declares no {section[:-1]} "
                            f"`{key}` ({section}: {_names(declared[section])}); Azure ML would "
                            "silently drop it",
                            f"use a declared name{_did_you_mean(key, declared[section])} or "
                            f"declare `{section}.{key}` in the component",
                        )
            if is_sweep:
                yield from check_sweep(doc, known, node, prefix, doc.folder, standalone=False)
        for key, value in _bindings(node, prefix):
            yield from _check_parent(doc, key, value, jobs, node_outputs, pipeline_io)


def _check_parent(
    doc: Document,
    key: str,
    expression: str,
    jobs: dict[str, Any],
    node_outputs: dict[str, set[str] | None],
    pipeline_io: dict[str, set[str]],
) -> Iterator[Finding]:
    parts = expression.split(".")
    if parts[0] != "parent":
        return
    if len(parts) == 3 and parts[1] in {"inputs", "outputs"}:
        section, name = parts[1], parts[2]
        if name not in pipeline_io[section]:
            yield _error(
                "parent",
                doc,
                key,
                f"`${{{{{expression}}}}}`: the pipeline declares no {section[:-1]} `{name}` "
                f"({section}: {_names(pipeline_io[section])})",
                f"declare `{section}.{name}` at the pipeline's top level or correct the "
                f"name{_did_you_mean(name, pipeline_io[section])}",
            )
        return
    if len(parts) == 5 and parts[1] == "jobs" and parts[3] == "outputs":
        step, output = parts[2], parts[4]
        if step not in jobs:
            yield _error(
                "parent",
                doc,
                key,
                f"`${{{{{expression}}}}}`: there is no step `{step}` (steps: {_names(set(jobs))})",
                f"name a step under `jobs`{_did_you_mean(step, set(jobs))}",
            )
            return
        outputs = node_outputs.get(step)
        if outputs is not None and output not in outputs:
            yield _error(
                "parent",
                doc,
                key,
                f"`${{{{{expression}}}}}`: step `{step}` has no output `{output}` "
                f"(outputs: {_names(outputs)})",
                f"name an output of `{step}`'s component{_did_you_mean(output, outputs)}",
            )
        return
    if parts[1:2] == ["jobs"] and len(parts) == 5 and parts[3] == "inputs":
        return  # another step's input: legal, rarely useful
    yield _error(
        "parent",
        doc,
        key,
        f"`${{{{{expression}}}}}` is not a pipeline binding",
        "use ${{parent.inputs.NAME}}, ${{parent.outputs.NAME}} or "
        "${{parent.jobs.STEP.outputs.NAME}}",
    )


def _bindings(node: dict[str, Any], prefix: str) -> Iterator[tuple[str, str]]:
    """(key path, expression) for every `${{...}}` in a node's inputs and outputs."""
    for section in ("inputs", "outputs"):
        for name, value in _mapping(node.get(section)).items():
            text = value.get("path") if isinstance(value, dict) else value
            if isinstance(text, str):
                for expression in BINDING.findall(text):
                    yield f"{prefix}{section}.{name}", expression


# --- files and folders ------------------------------------------------------------------------


def check_file(doc: Document, value: Any, key: str, base: Path) -> Iterator[Finding]:
    """A local file or folder the YAML names exists (relative to the YAML's folder)."""
    if not isinstance(value, str) or _is_remote(value):
        return
    path = (base / value).resolve()
    if not path.exists():
        yield _error(
            "local-path",
            doc,
            key,
            f"`{value}` does not exist "
            f"(resolved against {repo_relative(base)}: {repo_relative(path)})",
            "correct the path; relative paths resolve against the YAML file's own folder",
        )


def check_code(doc: Document, value: Any, key: str, base: Path) -> Iterator[Finding]:
    """The code folder exists and holds training code only (it is uploaded with every job)."""
    if not isinstance(value, str) or _is_remote(value):
        return
    missing = list(check_file(doc, value, key, base))
    if missing:
        yield from missing
        return
    folder = (base / value).resolve()
    files = [folder] if folder.is_file() else _code_files(folder)
    total = sum(p.stat().st_size for p in files)
    offenders = [p for p in files if _not_training_code(p.relative_to(folder.parent))]
    if offenders:
        shown = ", ".join(str(p.relative_to(folder)) for p in offenders[:5])
        more = f" and {len(offenders) - 5} more" if len(offenders) > 5 else ""
        yield _error(
            "code-folder",
            doc,
            key,
            f"`{value}` holds files that are not training code: {shown}{more}",
            "move data, tests and notebooks out of the code folder (it is uploaded with every "
            "job), or point `code` at a folder with the training code only",
        )
    if total > CODE_FOLDER_LIMIT:
        yield _error(
            "code-folder",
            doc,
            key,
            f"`{value}` is {total / 1e6:.1f} MB, over the {CODE_FOLDER_LIMIT / 1e6:.0f} MB limit "
            "for a code folder",
            "keep only the training code there; data belongs in a data asset",
        )


def _code_files(folder: Path) -> list[Path]:
    """What Azure ML would upload: every file except __pycache__ and `.amlignore` matches."""
    ignored = _amlignore(folder)
    files = []
    for p in folder.rglob("*"):
        relative = p.relative_to(folder)
        if not p.is_file() or "__pycache__" in relative.parts or p.suffix == ".pyc":
            continue
        if not any(_ignores(pattern, relative) for pattern in ignored):
            files.append(p)
    return sorted(files)


def _amlignore(folder: Path) -> list[str]:
    """Patterns from the code folder's .amlignore (gitignore syntax; Azure ML honours it).

    Understood here: comments, `name` and `name/` (matched against every path component) and
    `dir/glob` (matched against the path from the folder). Negation (`!`) is not supported.
    """
    path = folder / ".amlignore"
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line.strip("/") for line in lines if line and not line.startswith(("#", "!"))]


def _ignores(pattern: str, relative: Path) -> bool:
    if "/" in pattern:
        text = relative.as_posix()
        return fnmatch.fnmatch(text, pattern) or fnmatch.fnmatch(text, pattern + "/*")
    return any(fnmatch.fnmatch(part, pattern) for part in relative.parts)


def _not_training_code(relative: Path) -> bool:
    name = relative.name
    return (
        relative.suffix.lower() in DATA_SUFFIXES
        or "-ubyte" in name
        or relative.suffix == ".ipynb"
        or ".ipynb_checkpoints" in relative.parts
        or any(part in {"tests", "test", "mlruns", ".workshop"} for part in relative.parts[:-1])
        or (name.startswith("test_") and name.endswith(".py"))
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def check_input_paths(doc: Document, spec: dict[str, Any], prefix: str) -> Iterator[Finding]:
    """Local `path:` values of job inputs exist."""
    for name, value in _mapping(spec.get("inputs")).items():
        path = value.get("path") if isinstance(value, dict) else None
        if isinstance(path, str) and "${{" not in path:
            yield from check_file(doc, path, f"{prefix}inputs.{name}.path", doc.folder)


def check_data_path(doc: Document) -> Iterator[Finding]:
    """The data asset's local folder: missing before `workshop data fetch`, so only a warning."""
    value = doc.data.get("path")
    if not isinstance(value, str) or _is_remote(value):
        return
    path = (doc.folder / value).resolve()
    if not path.exists():
        yield Finding(
            "warning",
            "local-path",
            doc.path,
            "path",
            f"`{value}` ({repo_relative(path)}) does not exist yet; `az ml data create` and "
            "`workshop run` need it",
            FETCH_HINT,
        )


def check_deployment(doc: Document, known: Inventory) -> Iterator[Finding]:
    """The deployment's code folder, scoring script and endpoint exist."""
    config = _mapping(doc.data.get("code_configuration"))
    code, script = config.get("code"), config.get("scoring_script")
    yield from check_code(doc, code, "code_configuration.code", doc.folder)
    if isinstance(code, str) and isinstance(script, str):
        code_dir = doc.folder / code
        if code_dir.is_dir() and not (code_dir / script).is_file():
            yield _error(
                "local-path",
                doc,
                "code_configuration.scoring_script",
                f"`{script}` is not a file in the code folder {repo_relative(code_dir.resolve())}",
                "give the scoring script's path relative to `code_configuration.code`",
            )
    endpoint = doc.data.get("endpoint_name")
    if isinstance(endpoint, str) and known.endpoints and endpoint not in known.endpoints:
        yield _error(
            "reference",
            doc,
            "endpoint_name",
            f"no endpoint YAML here is named `{endpoint}` (endpoints: {_names(known.endpoints)})",
            f"use the name from endpoint.yml{_did_you_mean(endpoint, known.endpoints)}",
        )


# --- azureml: references ----------------------------------------------------------------------


def check_references(doc: Document, known: Inventory) -> Iterator[Finding]:
    """Every `azureml:` compute, environment, data and model names something this repo creates."""
    for key, value in _walk(doc.data, ""):
        last = key.rsplit(".", 1)[-1]
        if last in {"compute", "default_compute"}:
            name = value.removeprefix("azureml:")
            if name not in known.computes and name != "local":
                yield _error(
                    "reference",
                    doc,
                    key,
                    f"compute `{name}` is not created by this repository "
                    f"(the Pulumi program creates: {_names(known.computes)})",
                    f"use `azureml:{min(known.computes)}`{_did_you_mean(name, known.computes)}"
                    if known.computes
                    else "create the compute in infra/",
                )
            continue
        if not value.startswith("azureml:") or value.startswith(("azureml://", "azureml:/")):
            continue
        ref = value.removeprefix("azureml:")
        name, version = _split_ref(ref)
        if last == "environment":
            yield from _versioned(doc, key, "environment", name, version, known.environments)
        elif last == "path":
            yield from _versioned(doc, key, "data asset", name, version, known.data)
        elif last == "model" and name not in known.models:
            yield _error(
                "reference",
                doc,
                key,
                f"model `{name}` is not registered by this repository "
                f"(registered: {_names(known.models)})",
                "use a model the pipeline's register step creates"
                + _did_you_mean(name, known.models),
            )
        elif last in {"component", "trial"}:
            yield _error(
                "reference",
                doc,
                key,
                f"`{value}` refers to a component registered in the workspace, which nothing "
                "here creates",
                "point at a component YAML file under jobs/components/",
            )


def _versioned(
    doc: Document,
    key: str,
    what: str,
    name: str,
    version: str | None,
    known: dict[str, set[str]],
) -> Iterator[Finding]:
    if name not in known:
        yield _error(
            "reference",
            doc,
            key,
            f"{what} `{name}` is not defined by any YAML here ({what}s: {_names(set(known))})",
            f"use `azureml:NAME:VERSION` of {'an' if what[0] in 'aeiou' else 'a'} {what} under "
            f"jobs/{_did_you_mean(name, set(known))}",
        )
    elif version is not None and version not in known[name]:
        yield _error(
            "reference",
            doc,
            key,
            f"{what} `{name}` has no version `{version}` here (versions: {_names(known[name])})",
            f"use `azureml:{name}:{sorted(known[name])[-1]}` or `azureml:{name}@latest`",
        )


def _split_ref(ref: str) -> tuple[str, str | None]:
    """`name:1` -> (name, "1"); `name@latest` and `name` -> (name, None)."""
    if "@" in ref:
        return ref.split("@", 1)[0], None
    name, _, version = ref.partition(":")
    return name, version or None


# --- helpers ----------------------------------------------------------------------------------


def _walk(node: Any, key: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for name, value in node.items():
            yield from _walk(value, f"{key}.{name}" if key else str(name))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{key}[{i}]")
    elif isinstance(node, str):
        yield key, node


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_remote(value: str) -> bool:
    return value.startswith(("azureml:", "http://", "https://", "git+", "wasbs://", "abfss://"))


def _names(names: set[str]) -> str:
    return ", ".join(sorted(names)) if names else "none"


def _did_you_mean(name: str, options: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(options), n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _error(check: str, doc: Document, key: str, message: str, fix: str) -> Finding:
    return Finding("error", check, doc.path, key, message, fix)
