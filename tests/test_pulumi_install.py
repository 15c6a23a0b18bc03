"""`pulumi install` builds the same .venv as `make setup`, from the pinned lock alone.

Pulumi's pip toolchain creates the `virtualenv` Pulumi.yaml names and runs
`pip install -r requirements.txt` in the program's folder (`main`), per
https://www.pulumi.com/docs/iac/languages-sdks/python/#pypi-packages; that it is the program's
folder, not the project root, is read from Pulumi's language host (sdk/python/toolchain/pip.go:
`InstallDependencies` is given `req.Info.ProgramDirectory`). The resolution is checked with the
real resolver, not by reading the file.
"""

from __future__ import annotations

import re
import subprocess
import tomllib

import yaml

from workshop.jobspec.conda import uv_binary
from workshop.paths import ROOT

PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))
PROGRAM_DIR = ROOT / PROJECT["main"]
REQUIREMENTS = PROGRAM_DIR / "requirements.txt"
LOCK = ROOT / "requirements" / "lock.txt"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] not in "# "]


def test_pulumi_installs_into_the_project_venv_from_the_program_folder() -> None:
    assert PROJECT["runtime"]["options"] == {"toolchain": "pip", "virtualenv": ".venv"}
    assert REQUIREMENTS.is_file()


def test_requirements_name_the_lock_and_the_project_and_no_addresses() -> None:
    assert _lines(REQUIREMENTS.read_text(encoding="utf-8")) == [
        "-r ../requirements/lock.txt",
        "-e ..",
    ]
    assert (PROGRAM_DIR / "../requirements/lock.txt").resolve() == LOCK
    assert (PROGRAM_DIR / "..").resolve() == ROOT
    for path in (REQUIREMENTS, LOCK):  # comments may cite pages; requirements name no address
        for line in _lines(path.read_text(encoding="utf-8")):
            assert "://" not in line and not line.startswith(("--index-url", "--find-links")), line


def test_the_editable_project_puts_the_program_and_the_cli_on_the_path() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dev_dirs = pyproject["tool"]["hatch"]["build"]["dev-mode-dirs"]
    assert {"src", "src/training", PROJECT["main"].rstrip("/")} <= set(dev_dirs)


def test_requirements_resolve_to_exactly_the_locks_pins() -> None:
    # Run where pip runs under Pulumi (the program's folder): `-e ..` is relative to it.
    flags = ["--universal", "--python-version", "3.11", "--no-header", "--no-annotate", "--quiet"]
    done = subprocess.run(
        [uv_binary(), "pip", "compile", "requirements.txt", *flags],
        cwd=PROGRAM_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    resolved = _lines(done.stdout)
    assert resolved[0] == "-e .."
    assert resolved[1:] == _lines(LOCK.read_text(encoding="utf-8"))


def test_make_setup_syncs_the_same_file_from_the_same_folder() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^\$\(STAMP\):.*?\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe is not None
    assert f"cd {PROJECT['main'].rstrip('/')} && " in recipe.group(1)
    assert re.search(r"pip sync --quiet (--\S+ )*requirements\.txt", recipe.group(1))


def test_pulumi_new_asks_only_for_what_has_no_default() -> None:
    # `template.config` is required in a template section and takes description/default/secret:
    # https://www.pulumi.com/docs/iac/concepts/projects/project-file/#template-options
    from workshop_infra.project_file import project_file

    from workshop_common.contract import CONFIG_LOCATION as LOCATION_KEY

    asked = PROJECT["template"]["config"]
    assert asked, "a template section needs config"
    assert LOCATION_KEY in asked  # required, and no default anywhere
    declared = project_file().settings
    for key, prompt in asked.items():
        assert set(prompt) <= {"description", "default", "secret"}, key
        assert prompt.get("description"), key
        short = key.removeprefix(f"{PROJECT['name']}:")
        assert key == LOCATION_KEY or short in declared, f"{key} is not a setting"
        assert "default" not in prompt, f"{key}: its default belongs in `config:` alone"
