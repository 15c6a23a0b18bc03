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
- `code-folder`: a `code` folder holds no tests, secrets, run records or data sets, under 1 MB;
- `cycle`: pipeline steps do not read each other's outputs in a cycle;
- `input-type`: a value bound to a step's input fits the input's type;
- `reference`: every `azureml:` compute, environment, data and model is created by this repo
  (files of this checkout only, unless asked for);
- conda files (`conda-file`) and environment versions (`env-version`): see conda.py.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workshop.jobspec.expressions import (
    expressions,
    find_cycle,
    is_expression,
    node_bindings,
    parse_parent,
    step_dependencies,
)
from workshop.jobspec.literals import PRIMITIVE_TYPES, bound_literal, out_of_bounds, problem
from workshop.jobspec.references import local_path, parse_asset
from workshop.paths import ROOT, repo_relative
from workshop.validate.documents import Document, read_yaml
from workshop.validate.findings import Finding
from workshop.validate.metrics import command_words, entry_module, logged_metrics, python_entry

CODE_FOLDER_LIMIT = 1_000_000  # bytes; a code folder is uploaded with every job
DATA_FILE_LIMIT = 100_000
"""A data file or notebook up to this size (a sample CSV, a small notebook) is no problem."""
DATA_SET_FILES = 20
"""More data files than this in a code folder is a data set, whatever their size."""
MAX_WALK_FILES = 20_000
"""Stop listing a code folder after this many files (`code: /`): it is far over the limit."""
DATA_SUFFIXES = {
    ".gz", ".zip", ".tar", ".npy", ".npz", ".csv", ".tsv", ".parquet", ".pkl", ".pickle",
    ".joblib", ".h5", ".idx", ".png", ".jpg", ".jpeg", ".ipynb",
}  # fmt: skip
SECRET_NAMES = {".env", "id_rsa", "id_ed25519", ".git-credentials", ".netrc", "credentials"}
SECRET_SUFFIXES = {".pem", ".key", ".pfx", ".p12", ".publishsettings"}
JUNK_FOLDERS = {"mlruns", ".workshop", ".ipynb_checkpoints", "__pycache__"}
TEST_FOLDERS = {"tests", "test"}
BUILT_IN_COMPUTES = {"local", "serverless"}
"""Compute names Azure ML provides itself (serverless: https://learn.microsoft.com/azure/
machine-learning/how-to-use-serverless-compute)."""
ASSET_TYPES = {"uri_folder", "uri_file", "mltable", "mlflow_model", "custom_model", "triton_model"}
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
    offline: bool = False
    references: bool | None = None
    """Check `azureml:` names: True always, False never, None for files of this checkout."""
    resolved: dict[Path, list[Finding]] = field(default_factory=dict)
    """Conda file -> what resolving it found (several environments may share one)."""

    def checks_references(self, doc: Document) -> bool:
        if self.references is not None:
            return self.references
        return doc.path.resolve().is_relative_to(ROOT)

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
        local = local_path(ref)
        if local is None:
            return None, base
        path = (base / local).resolve()
        if path in self.documents:
            return self.documents[path].data, path.parent
        if not path.is_file():
            return None, path.parent
        data, _ = read_yaml(path)
        return data, path.parent


def run_checks(doc: Document, ctx: Inventory) -> Iterator[Finding]:
    """Every check that applies to `doc`'s kind."""
    from workshop.validate.conda import check_environment

    if ctx.checks_references(doc):
        yield from check_references(doc, ctx)
    else:
        yield from check_built_in_compute_typos(doc)
    inline = doc.data.get("environment")
    if doc.kind == "sweep_job" and isinstance(doc.data.get("trial"), dict):
        inline = doc.data["trial"].get("environment")
    conda = inline.get("conda_file") if isinstance(inline, dict) else None
    if isinstance(inline, dict) and isinstance(conda, str) and local_path(conda):
        # a job's inline environment: the same checks as an environment YAML's
        missing = list(check_file(doc, conda, "environment.conda_file", doc.folder))
        yield from missing
        if not missing:
            yield from check_environment(doc, ctx, inline)
    if doc.kind in {"command_job", "component"}:
        yield from check_command(doc, doc.data, "", _declared(doc.data), None)
        yield from check_code(doc, doc.data.get("code"), "code", doc.folder, doc.data)
        yield from check_entry(doc, doc.data, "", doc.folder)
        yield from check_input_paths(doc, doc.data, "")
    elif doc.kind == "sweep_job":
        yield from check_sweep(doc, ctx, doc.data, "", doc.folder, standalone=True)
        yield from check_input_paths(doc, doc.data, "")
    elif doc.kind in {"pipeline_job", "pipeline_component"}:
        yield from check_pipeline(doc, ctx)
        yield from check_input_paths(doc, doc.data, "")
    elif doc.kind in {"online_deployment", "batch_deployment"}:
        yield from check_deployment(doc, ctx)
    elif doc.kind == "environment":
        conda_file = doc.data.get("conda_file")
        missing = list(check_file(doc, conda_file, "conda_file", doc.folder))
        yield from missing
        if not missing and isinstance(conda_file, str) and local_path(conda_file):
            yield from check_environment(doc, ctx)
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
    for expression in expressions(command):
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
    command, code = spec.get("command"), local_path(spec.get("code"))
    if not isinstance(command, str) or code is None:
        return
    code_dir = (base / code).resolve()
    if not code_dir.is_dir() or python_entry(command) is None:
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
    ctx: Inventory,
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
        trial, trial_base = ctx.component(trial_ref, base)
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
        yield from check_space_bounds(doc, space, _mapping(trial.get("inputs")), prefix)
    if standalone and isinstance(trial_ref, dict):
        yield from check_command(doc, trial, f"{prefix}trial.", declared, search)
        yield from check_code(doc, trial.get("code"), f"{prefix}trial.code", base, trial)
        yield from check_entry(doc, trial, f"{prefix}trial.", base)
    yield from check_metric(doc, sweep, trial, trial_base, prefix)


def _space_values(spec: dict[str, Any]) -> tuple[list[Any], str] | None:
    """The values a search-space entry can take and the key that sets them; None if unbounded.

    Distributions as the sweep YAML reference defines them
    (https://learn.microsoft.com/azure/machine-learning/reference-yaml-job-sweep#search-space):
    `randint` draws from [0, upper); `uniform`/`quniform` from [min_value, max_value]; the
    log and normal distributions are unbounded or exponentiated and are not checked.
    """
    kind = spec.get("type")
    if kind == "choice" and isinstance(spec.get("values"), list):
        return [v for v in spec["values"] if not isinstance(v, dict | list)], "values"
    if kind == "randint" and isinstance(spec.get("upper"), int | float):
        return [0, spec["upper"] - 1], "upper"
    if kind in {"uniform", "quniform"}:
        bounds = [spec.get("min_value"), spec.get("max_value")]
        if all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds):
            return bounds, "min_value/max_value"
    return None


def check_space_bounds(
    doc: Document, space: dict[str, Any], inputs: dict[str, Any], prefix: str
) -> Iterator[Finding]:
    """Every value the search space can give lies within the trial input's `enum`/`min`/`max`."""
    for name, spec in space.items():
        declared = _mapping(inputs.get(name))
        found = _space_values(_mapping(spec))
        if not declared or found is None:
            continue
        values, where = found
        key = f"{prefix}search_space.{name}.{where.split('/')[0]}"
        broken = [(value, why) for value in values if (why := out_of_bounds(value, declared))]
        if broken:
            yield _error(
                "search-space",
                doc,
                key,
                f"the search space gives {_shown([value for value, _ in broken])}: "
                f"{broken[0][1]}, for the trial input `{name}`; those trials would fail",
                f"keep the search space within the input's min/max/enum, or change `inputs.{name}`",
            )


def check_metric(
    doc: Document, sweep: dict[str, Any], trial: dict[str, Any], base: Path, prefix: str
) -> Iterator[Finding]:
    """`objective.primary_metric` is a metric name the trial's command logs."""
    metric = _mapping(sweep.get("objective")).get("primary_metric")
    command, code = trial.get("command"), trial.get("code")
    if not isinstance(metric, str) or not isinstance(command, str) or not isinstance(code, str):
        return
    local = local_path(code)
    if local is None:
        return
    code_dir = (base / local).resolve()
    entry = entry_module(command, code_dir)
    key = f"{prefix}objective.primary_metric"
    if entry is None:
        return  # check_entry reports the missing module where the command is declared
    logged = logged_metrics(entry, code_dir)
    if logged.logs(metric):
        return
    if not logged.complete:
        why = (
            "the code calls mlflow autolog(), whose metric names come from the library"
            if logged.autolog
            else f"{logged.unreadable} metric name(s) there are computed, not literals"
        )
        yield Finding(
            "note",
            "metric",
            doc.path,
            key,
            f"`{metric}` could not be confirmed statically: {why} (literal names in "
            f"{entry.name} and its imports: {logged.describe()})",
            "check one trial's metrics in the studio (or `workshop run`) carry this exact name",
        )
        return
    yield _error(
        "metric",
        doc,
        key,
        f"`{metric}` is not a metric the trial logs (found in {entry.name} and its imports: "
        f"{logged.describe()}); Azure ML would show every trial as N/A",
        f"set primary_metric to a logged name{_did_you_mean(metric, logged.names)}, or log "
        f'`mlflow.log_metric("{metric}", value)` in the training code',
    )


# --- pipelines --------------------------------------------------------------------------------


def check_pipeline(doc: Document, ctx: Inventory) -> Iterator[Finding]:
    """Node components, node inputs/outputs, `${{parent...}}` bindings, cycles and input types."""
    data = doc.data
    jobs = _mapping(data.get("jobs"))
    pipeline_io = _declared(data)
    node_outputs: dict[str, set[str] | None] = {}
    components: dict[str, tuple[dict[str, Any] | None, Path]] = {}
    for name, node in jobs.items():
        node = _mapping(node)
        ref = node.get("trial") if node.get("type") == "sweep" else node.get("component")
        component, base = ctx.component(ref, doc.folder)
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
            yield from check_input_types(doc, node, component, _mapping(data.get("inputs")), prefix)
            if is_sweep:
                yield from check_sweep(doc, ctx, node, prefix, doc.folder, standalone=False)
        for section, key, ref in node_bindings(node):
            yield from _check_parent(
                doc, f"{prefix}{section}.{key}", ref, jobs, node_outputs, pipeline_io
            )

    cycle = find_cycle(step_dependencies(jobs))
    if cycle:
        yield _error(
            "cycle",
            doc,
            f"jobs.{cycle[0]}.inputs",
            f"the steps read each other's outputs in a cycle: {' -> '.join(cycle)}; Azure ML "
            "cannot start any of them",
            "remove one `${{parent.jobs.STEP.outputs.NAME}}` binding of the cycle",
        )


def _check_parent(
    doc: Document,
    key: str,
    expression: str,
    jobs: dict[str, Any],
    node_outputs: dict[str, set[str] | None],
    pipeline_io: dict[str, set[str]],
) -> Iterator[Finding]:
    if not expression.startswith("parent"):
        return
    parent = parse_parent(expression)
    if parent is None:
        yield _error(
            "parent",
            doc,
            key,
            f"`${{{{{expression}}}}}` is not a pipeline binding",
            "use ${{parent.inputs.NAME}}, ${{parent.outputs.NAME}} or "
            "${{parent.jobs.STEP.outputs.NAME}}",
        )
        return
    if parent.step is None:
        section, name = parent.section, parent.name
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
    if parent.section == "inputs":
        return  # another step's input: legal, rarely useful
    step, output = parent.step, parent.name
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


def _value_form(
    value: Any, pipeline_inputs: dict[str, Any], base: Path | None = None
) -> str | None:
    """`asset`, `literal` or None (unknown) for a value bound to a step's input."""
    if isinstance(value, dict):
        kind = value.get("type")
        if kind in ASSET_TYPES or ("path" in value and kind not in PRIMITIVE_TYPES):
            return "asset"
        if "value" in value or "default" in value:
            return _value_form(value.get("value", value.get("default")), pipeline_inputs, base)
        return None
    if is_expression(value):
        parent = parse_parent(expressions(str(value))[0])
        if parent is None:
            return None
        if parent.step is not None:
            return "asset" if parent.section == "outputs" else None  # step outputs are data
        if parent.section == "inputs" and parent.name in pipeline_inputs:
            return _value_form(pipeline_inputs[parent.name], {}, base)
        return None
    if isinstance(value, str) and base is not None and _names_data(value, base):
        return "asset"
    if isinstance(value, str | int | float | bool):
        return "literal"
    return None


def _names_data(text: str, base: Path) -> bool:
    """A string azure-ai-ml can take as a data input's path: it turns `training_data: ./data` into
    `{type: <the input's type>, path: ./data}`, so a short `azureml:` reference, a URL or an
    existing local path is data, other text is not."""
    if parse_asset(text) is not None or "://" in text:
        return True
    local = local_path(text)
    return local is not None and (base / local).exists()


def check_input_types(
    doc: Document,
    node: dict[str, Any],
    component: dict[str, Any],
    pipeline_inputs: dict[str, Any],
    prefix: str,
) -> Iterator[Finding]:
    """Literals are not bound to data inputs, data to literal inputs, text to numbers.

    Input types as the component YAML reference defines them
    (https://learn.microsoft.com/azure/machine-learning/reference-yaml-component-command#inputs):
    `uri_file`, `uri_folder`, `mltable`, `mlflow_model`, `custom_model` take data given as
    `{type, path}`; `string`, `integer`, `number`, `boolean` take a literal.
    """
    declared = _mapping(component.get("inputs"))
    for name, value in _mapping(node.get("inputs")).items():
        spec = _mapping(declared.get(name))
        expected = spec.get("type")
        if expected not in ASSET_TYPES | PRIMITIVE_TYPES:
            continue
        form = _value_form(value, pipeline_inputs, doc.folder)
        key = f"{prefix}inputs.{name}"
        if expected in ASSET_TYPES and form == "literal":
            yield _error(
                "input-type",
                doc,
                key,
                f"{value!r} is bound to the {expected} input `{name}`: azure-ai-ml takes it as "
                "the data's path, and it names no local file, URL or `azureml:` data asset",
                f"write `{name}: {{type: {expected}, path: PATH_OR_azureml:NAME:VERSION}}`",
            )
        elif expected in PRIMITIVE_TYPES and form == "asset":
            yield _error(
                "input-type",
                doc,
                key,
                f"data is bound to the {expected} input `{name}`",
                f"give `{name}` a literal {expected} value, or declare the input as data "
                "(e.g. `type: uri_folder`) in the component",
            )
        elif expected in PRIMITIVE_TYPES and form == "literal":
            known, literal = bound_literal(value, pipeline_inputs)
            broken = problem(literal, spec) if known else None
            if broken is not None:
                shown = f"{value!r} (= {literal!r})" if literal is not value else repr(value)
                yield _error(
                    "input-type",
                    doc,
                    key,
                    f"{shown} is {broken}, for input `{name}` ({expected}): on Azure the job fails",
                    f"give `{name}` a value its component allows",
                )


# --- files and folders ------------------------------------------------------------------------


def check_file(doc: Document, value: Any, key: str, base: Path) -> Iterator[Finding]:
    """A local file or folder the YAML names exists (relative to the YAML's folder)."""
    local = local_path(value)
    if local is None or is_expression(local):
        return
    path = (base / local).resolve()
    if not path.exists():
        yield _error(
            "local-path",
            doc,
            key,
            f"`{value}` does not exist "
            f"(resolved against {repo_relative(base)}: {repo_relative(path)})",
            "correct the path; relative paths resolve against the YAML file's own folder",
        )


@dataclass
class _Walk:
    """What listing a code folder found, stopped as soon as the folder is over the limit."""

    files: list[tuple[Path, str, int]] = field(default_factory=list)
    total: int = 0
    unreadable: list[str] = field(default_factory=list)
    stopped: bool = False


def _walk_code(folder: Path, named: set[Path]) -> _Walk:
    """The files `az ml` would upload (azure-ai-ml's ignore rules), with their sizes."""
    from workshop.jobspec.upload import upload_files

    walk = _Walk()

    def unreadable(exc: OSError) -> None:
        walk.unreadable.append(f"{exc.filename}: {exc.strerror}")

    if folder.is_file():
        entries = iter([(folder, folder.name)])
    else:
        entries = upload_files(folder, onerror=unreadable)
    for path, relative in entries:
        if path.suffix == ".pyc":
            continue
        try:
            size = path.stat().st_size
        except OSError as exc:
            walk.unreadable.append(f"{relative}: {exc.strerror}")
            continue
        walk.files.append((path, relative, size))
        if path not in named:
            walk.total += size
        if walk.total > CODE_FOLDER_LIMIT or len(walk.files) >= MAX_WALK_FILES:
            walk.stopped = True
            break
    return walk


def named_files(spec: dict[str, Any], folder: Path, base: Path) -> set[Path]:
    """Files of the code folder the job itself names: in its command, or as an input's path."""
    named: set[Path] = set()
    command = spec.get("command")
    words = [w for ws in command_words(command) for w in ws] if isinstance(command, str) else []
    for word in words:
        for part in word.split("="):
            candidate = folder / part
            if part and not part.startswith("-") and candidate.is_file():
                named.add(candidate.resolve())
    for value in _mapping(spec.get("inputs")).values():
        path = local_path(value.get("path") if isinstance(value, dict) else None)
        if path:
            named.add((base / path).resolve())
    return named


def check_code(
    doc: Document, value: Any, key: str, base: Path, spec: dict[str, Any] | None = None
) -> Iterator[Finding]:
    """The code folder exists and holds no tests, secrets, run records or data sets.

    It is uploaded with every job. Files the job names (the notebook papermill runs, a sample
    CSV given as an input) are never the problem; other data files and notebooks are fine up to
    DATA_FILE_LIMIT each and DATA_SET_FILES in all.
    """
    local = local_path(value)
    if local is None:
        return
    missing = list(check_file(doc, value, key, base))
    if missing:
        yield from missing
        return
    folder = (base / local).resolve()
    named = named_files(spec or {}, folder if folder.is_dir() else folder.parent, base)
    walk = _walk_code(folder, named)
    if walk.unreadable:
        yield _error(
            "code-folder",
            doc,
            key,
            f"`{value}` holds paths that cannot be read, so the upload would fail: "
            f"{', '.join(walk.unreadable[:3])}",
            "point `code` at the folder with the training code only",
        )
    top = folder.parent if folder.is_file() else folder
    data = [(r, s) for p, r, s in walk.files if p not in named and _is_data(Path(r))]
    offenders = [r for p, r, s in walk.files if p not in named and _never_code(Path(r))]
    offenders += [r for r, s in data if s > DATA_FILE_LIMIT]
    if len(data) > DATA_SET_FILES:
        offenders.append(f"{len(data)} data files (a data set)")
    if offenders:
        shown = ", ".join(offenders[:5])
        more = f" and {len(offenders) - 5} more" if len(offenders) > 5 else ""
        yield _error(
            "code-folder",
            doc,
            key,
            f"`{value}` holds files that do not belong in a code folder: {shown}{more}",
            "move tests, secrets, run records and data sets out of the code folder (it is "
            f"uploaded with every job), exclude them in {repo_relative(top)}/.amlignore, or point "
            "`code` at a folder with the training code only",
        )
    if walk.total > CODE_FOLDER_LIMIT or walk.stopped:
        size = f"over {walk.total / 1e6:.1f} MB" if walk.stopped else f"{walk.total / 1e6:.1f} MB"
        yield _error(
            "code-folder",
            doc,
            key,
            f"`{value}` is {size} ({len(walk.files)} files listed before stopping)"
            if walk.stopped
            else f"`{value}` is {size}, over the {CODE_FOLDER_LIMIT / 1e6:.0f} MB limit for a "
            "code folder",
            f"keep only the training code there (the limit is {CODE_FOLDER_LIMIT / 1e6:.0f} MB); "
            "data belongs in a data asset",
        )


def _is_data(relative: Path) -> bool:
    return relative.suffix.lower() in DATA_SUFFIXES or "-ubyte" in relative.name


def _never_code(relative: Path) -> bool:
    """Tests, secrets and run records: wrong in a code folder at any size."""
    name = relative.name
    return (
        any(part in TEST_FOLDERS | JUNK_FOLDERS for part in relative.parts[:-1])
        or (name.startswith("test_") and name.endswith(".py"))
        or name.endswith("_test.py")
        or name == "conftest.py"
        or name in SECRET_NAMES
        or relative.suffix.lower() in SECRET_SUFFIXES
    )


def check_input_paths(doc: Document, spec: dict[str, Any], prefix: str) -> Iterator[Finding]:
    """Local `path:` values of job inputs exist."""
    for name, value in _mapping(spec.get("inputs")).items():
        path = value.get("path") if isinstance(value, dict) else None
        if isinstance(path, str) and "${{" not in path:
            yield from check_file(doc, path, f"{prefix}inputs.{name}.path", doc.folder)


def check_data_path(doc: Document) -> Iterator[Finding]:
    """The data asset's local folder: missing before `workshop data fetch`, so only a warning."""
    local = local_path(doc.data.get("path"))
    if local is None:
        return
    path = (doc.folder / local).resolve()
    if not path.exists():
        yield Finding(
            "warning",
            "local-path",
            doc.path,
            "path",
            f"`{local}` ({repo_relative(path)}) does not exist yet; `az ml data create` and "
            "`workshop run` need it",
            FETCH_HINT,
        )


def check_deployment(doc: Document, ctx: Inventory) -> Iterator[Finding]:
    """The deployment's code folder, scoring script and endpoint exist."""
    config = _mapping(doc.data.get("code_configuration"))
    code, script = config.get("code"), config.get("scoring_script")
    yield from check_code(doc, code, "code_configuration.code", doc.folder)
    local = local_path(code)
    if local is not None and isinstance(script, str):
        code_dir = doc.folder / local
        if code_dir.is_dir() and not (code_dir / script).is_file():
            yield _error(
                "local-path",
                doc,
                "code_configuration.scoring_script",
                f"`{script}` is not a file in the code folder {repo_relative(code_dir.resolve())}",
                "give the scoring script's path relative to `code_configuration.code`",
            )
    endpoint = doc.data.get("endpoint_name")
    if (
        ctx.checks_references(doc)
        and isinstance(endpoint, str)
        and ctx.endpoints
        and endpoint not in ctx.endpoints
    ):
        yield _error(
            "reference",
            doc,
            "endpoint_name",
            f"no endpoint YAML here is named `{endpoint}` (endpoints: {_names(ctx.endpoints)})",
            f"use the name from endpoint.yml{_did_you_mean(endpoint, ctx.endpoints)}",
        )


# --- azureml: references ----------------------------------------------------------------------


def check_references(doc: Document, ctx: Inventory) -> Iterator[Finding]:
    """Every `azureml:` compute, environment, data and model names something this repo creates."""
    for key, value in _walk(doc.data, ""):
        last = key.rsplit(".", 1)[-1]
        if last in {"compute", "default_compute"}:
            if is_expression(value):
                continue  # bound at run time, e.g. ${{parent.inputs.compute_name}}
            ref = parse_asset(value)
            name = ref.name if ref else value
            if name not in ctx.computes and name not in BUILT_IN_COMPUTES:
                yield _error(
                    "reference",
                    doc,
                    key,
                    f"compute `{name}` is not created by this repository "
                    f"(the Pulumi program creates: {_names(ctx.computes)}; built in: "
                    f"{_names(BUILT_IN_COMPUTES)})",
                    f"use `azureml:{sorted(ctx.computes)[0]}`{_did_you_mean(name, ctx.computes)}"
                    if ctx.computes
                    else "create the compute in infra/",
                )
            continue
        ref = parse_asset(value)
        if ref is None:
            continue
        if last == "environment":
            yield from _versioned(doc, key, "environment", ref.name, ref.version, ctx.environments)
        elif last == "path":
            yield from _versioned(doc, key, "data asset", ref.name, ref.version, ctx.data)
        elif last == "model" and ref.name not in ctx.models:
            yield _error(
                "reference",
                doc,
                key,
                f"model `{ref.name}` is not registered by this repository "
                f"(registered: {_names(ctx.models)})",
                "use a model the pipeline's register step creates"
                + _did_you_mean(ref.name, ctx.models),
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


def check_built_in_compute_typos(doc: Document) -> Iterator[Finding]:
    """Outside the checkout this repository's computes are unknown, so names are not checked;
    one a letter or two away from a built-in (`serverles`) is still almost surely a typo."""
    for key, value in _walk(doc.data, ""):
        if key.rsplit(".", 1)[-1] not in {"compute", "default_compute"} or is_expression(value):
            continue
        ref = parse_asset(value)
        name = ref.name if ref else str(value)
        close = difflib.get_close_matches(name, sorted(BUILT_IN_COMPUTES), n=1, cutoff=0.8)
        if name not in BUILT_IN_COMPUTES and close:
            yield Finding(
                "warning",
                "reference",
                doc.path,
                key,
                f"compute `{name}` is not a built-in compute, but close to `{close[0]}`",
                f"did you mean `{close[0]}`? (leave it if your workspace has a compute named "
                f"`{name}`)",
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


def _names(names: set[str]) -> str:
    return ", ".join(sorted(names)) if names else "none"


def _shown(values: list[Any]) -> str:
    return ", ".join(str(v) for v in values[:6]) + (" ..." if len(values) > 6 else "")


def _did_you_mean(name: str, options: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(options), n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


def _error(check: str, doc: Document, key: str, message: str, fix: str) -> Finding:
    return Finding("error", check, doc.path, key, message, fix)
