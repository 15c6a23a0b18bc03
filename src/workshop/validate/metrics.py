"""Which MLflow metric names a training command logs, read from its source without running it.

A sweep's `objective.primary_metric` must equal a logged metric key exactly, or Azure ML shows
every trial as N/A. The rule, so authors know what is understood:

- The command names the entry point as `python -m package.module` or `python path/to/file.py`
  (relative to the job's `code` folder). That module is scanned, then every module it imports from
  the same code folder (`from .x import y`, `from package.x import y`, `import package.x`),
  transitively.
- A metric name counts when it is a literal at the logging call: `log_metric("accuracy", v)`,
  `MlflowClient().log_metric(run_id, "accuracy", v)`, `log_metrics({"accuracy": v})`, or the keys
  of a dict literal assigned to the variable passed to `log_metrics` in the same module.
- A name built with an f-string (`f"accuracy_k{k}"`) is a pattern: each `{...}` matches any
  non-empty text, so `accuracy_k{k}` matches `accuracy_k5`.
Names the scanner cannot read (a plain variable as the key) are counted, and `mlflow.autolog()` (or
`mlflow.sklearn.autolog()`, ...) is noted: the library then logs names of its own
(`training_f1_score`, `valid_0-multi_logloss`), so an objective missing from the literals is
reported as a note, not an error.
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LoggedMetrics:
    """Literal metric names, f-string patterns and the count of unreadable keys."""

    names: set[str] = field(default_factory=set)
    patterns: set[str] = field(default_factory=set)
    unreadable: int = 0
    autolog: bool = False
    """The code calls `mlflow.autolog()` (or a flavour's): the library names the metrics."""
    modules: list[Path] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every metric name is known from the source (no autolog, no computed names)."""
        return not self.autolog and not self.unreadable

    def logs(self, metric: str) -> bool:
        return metric in self.names or any(re.fullmatch(p, metric) for p in self.patterns)

    def describe(self) -> str:
        shown = sorted(self.names) + sorted(_pattern_display(p) for p in self.patterns)
        return ", ".join(shown) if shown else "none"


_SEPARATORS = {"&&", "||", ";", "|", "&", "(", ")", "\n"}
_PYTHON = re.compile(r"python[0-9.]*")


def command_words(command: str) -> list[list[str]]:
    """The command's words, one list per shell command (split at `&&`, `;`, `|`, ...)."""
    lexer = shlex.shlex(
        command.replace("\\\n", " ").replace("\n", " ; "), posix=True, punctuation_chars=";&|()"
    )
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:  # an unclosed quote: read it word by word
        words = command.split()
    segments: list[list[str]] = [[]]
    for word in words:
        if word in _SEPARATORS:
            segments.append([])
        else:
            segments[-1].append(word)
    return [s for s in segments if s]


def python_entry(command: str) -> tuple[str, str] | None:
    """("module", "pkg.mod") for `python -m pkg.mod`, ("script", "x.py") for `python x.py`.

    `python` counts where it is the program of a shell command (after `VAR=value` words or a
    launcher such as `mpirun -n 2`), not where it is an option's value (`papermill ... -k
    python`). None when the command runs no Python entry point this can read (`python -c`, a
    notebook, a shell script).
    """
    for words in command_words(command):
        for i, word in enumerate(words):
            if not _PYTHON.fullmatch(Path(word).name):
                continue
            if i and words[i - 1].startswith("-"):
                continue  # the value of an option: `papermill nb.ipynb out.ipynb -k python`
            rest = [w for w in words[i + 1 :] if w not in {"-u", "-B", "-O", "-OO", "-E", "-s"}]
            if len(rest) >= 2 and rest[0] == "-m":
                return "module", rest[1]
            if rest and rest[0].endswith(".py"):
                return "script", rest[0]
            return None
    return None


def entry_module(command: str, code_dir: Path) -> Path | None:
    """The source file a `python -m pkg.mod` or `python file.py` command runs, if it exists."""
    entry = python_entry(command)
    if entry is None:
        return None
    form, name = entry
    if form == "module":
        base = code_dir.joinpath(*name.split("."))
        for candidate in (base.with_suffix(".py"), base / "__main__.py"):
            if candidate.is_file():
                return candidate
        return None
    candidate = code_dir / name
    return candidate if candidate.is_file() else None


def logged_metrics(entry: Path, code_dir: Path) -> LoggedMetrics:
    """Scan `entry` and the modules it imports from `code_dir` for logged metric names."""
    found = LoggedMetrics()
    queue = [entry.resolve()]
    seen: set[Path] = set()
    while queue:
        module = queue.pop()
        if module in seen:
            continue
        seen.add(module)
        found.modules.append(module)
        try:
            tree = ast.parse(module.read_text(encoding="utf-8"), filename=str(module))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        _scan(tree, found)
        queue.extend(_local_imports(tree, module, code_dir.resolve()))
    return found


def _scan(tree: ast.Module, found: LoggedMetrics) -> None:
    dicts = _dict_assignments(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _callee(node.func)
        if name == "autolog":
            found.autolog = True
        elif name == "log_metric":
            key = _keyword(node, "key")
            if key is None and node.args:
                # mlflow.log_metric(key, value) vs MlflowClient().log_metric(run_id, key, value)
                key = node.args[1] if len(node.args) >= 3 else node.args[0]
            _add_key(key, found)
        elif name == "log_metrics":
            arg = _keyword(node, "metrics") or (node.args[0] if node.args else None)
            if isinstance(arg, ast.Dict):
                for key in arg.keys:
                    _add_key(key, found)
            elif isinstance(arg, ast.DictComp):
                _add_key(arg.key, found)
            elif isinstance(arg, ast.Name) and arg.id in dicts:
                for key in dicts[arg.id]:
                    _add_key(key, found)
            else:
                found.unreadable += 1


def _dict_assignments(tree: ast.Module) -> dict[str, list[ast.expr | None]]:
    """Keys of dict literals assigned to a name (`m = {...}`, `m["k"] = v`) anywhere in a module."""
    keys: dict[str, list[ast.expr | None]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and isinstance(node.value, ast.Dict):
                    keys.setdefault(target.id, []).extend(node.value.keys)
                elif isinstance(target, ast.Name) and isinstance(node.value, ast.DictComp):
                    keys.setdefault(target.id, []).append(node.value.key)
                elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                    keys.setdefault(target.value.id, []).append(target.slice)
    return keys


def _add_key(key: ast.expr | None, found: LoggedMetrics) -> None:
    if isinstance(key, ast.Constant) and isinstance(key.value, str):
        found.names.add(key.value)
    elif isinstance(key, ast.JoinedStr):
        parts = [
            re.escape(str(v.value)) if isinstance(v, ast.Constant) else ".+"
            for v in key.values
            if not (isinstance(v, ast.Constant) and v.value == "")
        ]
        found.patterns.add("".join(parts))
    else:
        found.unreadable += 1


def _callee(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def _local_imports(tree: ast.Module, module: Path, code_dir: Path) -> list[Path]:
    """Source files under `code_dir` that `module` imports."""
    names: list[str] = []
    package = module.parent.relative_to(code_dir).parts if module.is_relative_to(code_dir) else ()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            stem = [*base, *(node.module.split(".") if node.module else [])]
            names.append(".".join(stem))
            names.extend(".".join([*stem, alias.name]) for alias in node.names)
    files: list[Path] = []
    for dotted in names:
        if not dotted:
            continue
        base = code_dir.joinpath(*dotted.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                files.append(candidate.resolve())
    return files


def _pattern_display(pattern: str) -> str:
    return pattern.replace(".+", "{...}").replace("\\", "")
