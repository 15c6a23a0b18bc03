"""One source for every fact the Pulumi program and the `workshop` CLI share.

The program (infra/) imports nothing from the CLI package `workshop`; both take the contract
(stack outputs, config keys, resource names the tools reach, tags) from workshop_common.contract,
and the published MNIST files from mnist_trainer.published. These tests read the source (AST), so
they fail as soon as a module imports the CLI from infra/ or defines a copy of a shared name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from mnist_trainer import published
from workshop_infra.project_file import project_file

from workshop_common import contract
from workshop_common.paths import ROOT

INFRA = ROOT / "infra"
SOURCES = (ROOT / "src", INFRA)
CONTRACT_FILE = Path(contract.__file__).resolve()
PUBLISHED_FILE = Path(published.__file__).resolve()

SAME_VALUE_OTHER_FACT = {
    ("src/workshop_common/kernel.py", "KERNEL_NAME"): "the Jupyter kernel's name",
    ("infra/workshop_infra/naming.py", "CONTAINER_NAME"): "the blob container, not the tag",
    ("src/workshop/cli.py", "DISTRIBUTION"): "the Python distribution (pyproject), not the project",
}
"""Constants whose value equals a contract value by design or chance, and what they name."""


def _modules(*folders: Path) -> Iterator[tuple[Path, ast.Module]]:
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" not in path.parts:
                yield path.resolve(), ast.parse(path.read_text(encoding="utf-8"), str(path))


def _imported(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Every module an import statement (or importlib.import_module("...")) names."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            yield node.lineno, str(node.args[0].value)


def _is_under(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def _constants(tree: ast.Module) -> Iterator[tuple[str, ast.expr]]:
    """Module-level `NAME = value` assignments."""
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    yield target.id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            yield node.target.id, node.value


def _shared() -> dict[str, object]:
    return {k: v for k, v in vars(contract).items() if k.isupper() and not k.startswith("_")}


def test_the_program_imports_nothing_from_the_cli_package() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path, tree in _modules(INFRA)
        for line, module in _imported(tree)
        if _is_under(module, "workshop")
    ]
    assert found == [], "infra/ must not import the CLI package `workshop`:\n" + "\n".join(found)


def test_the_neutral_package_depends_on_neither_side() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path, tree in _modules(ROOT / "src" / "workshop_common")
        for line, module in _imported(tree)
        if _is_under(module, "workshop") or _is_under(module, "workshop_infra")
    ]
    assert found == []


def test_each_contract_name_is_defined_once() -> None:
    shared = _shared()
    values = {v: k for k, v in shared.items() if isinstance(v, str)}
    copies = []
    for path, tree in _modules(*SOURCES):
        if path == CONTRACT_FILE:
            continue
        where = str(path.relative_to(ROOT))
        for name, value in _constants(tree):
            literal = value.value if isinstance(value, ast.Constant) else None
            known = (where, name) in SAME_VALUE_OTHER_FACT
            if isinstance(literal, str) and literal in values and not known:
                copies.append(f"{where}: {name} = {literal!r} copies {values[literal]}")
            # The same name elsewhere is only allowed as the contract's own value, read from it.
            aliased = isinstance(value, ast.Attribute) and value.attr == name
            if name in shared and not aliased:
                copies.append(f"{where}: defines {name}, a contract name")
    assert copies == [], "\n".join(copies)


def test_the_contracts_config_keys_are_pulumi_yaml_settings() -> None:
    declared = project_file()
    assert declared.name == contract.PROJECT
    for name, key in _shared().items():
        # CONFIG_JSON is an output (a config.json document), not a stack config key.
        is_setting = name.startswith("CONFIG_") and not name.startswith("CONFIG_JSON")
        if is_setting and isinstance(key, str) and ":" not in key:
            assert key in declared.settings, f"contract.{name} = {key!r} is not in Pulumi.yaml"


def test_the_published_mnist_files_are_listed_once() -> None:
    facts = {f.name for f in published.PUBLISHED} | {f.md5 for f in published.PUBLISHED}
    copies = [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}"
        for path, tree in _modules(*SOURCES)
        if path != PUBLISHED_FILE
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in facts
    ]
    assert copies == [], "\n".join(copies)
    assert list(published.FILES.values()) == [f.name for f in published.PUBLISHED]
