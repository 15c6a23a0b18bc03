"""Settings: Pulumi.yaml declares them, the program reads exactly those; bad values fail clearly."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pulumi
import pytest
import yaml
from workshop_infra import settings as rules
from workshop_infra.errors import ConfigError
from workshop_infra.job_specs import read_job_specs
from workshop_infra.naming import MAX_PREFIX_LENGTH
from workshop_infra.project_file import project_file, read_project_file
from workshop_infra.settings import Settings, load_settings, settings_from_stack

from workshop.paths import ROOT

PROJECT_FILE = ROOT / "Pulumi.yaml"
DEV_STACK = ROOT / "Pulumi.dev.yaml"


def _project() -> dict:
    return yaml.safe_load(PROJECT_FILE.read_text())


def _dev_values() -> tuple[dict[str, str], str]:
    config = yaml.safe_load(DEV_STACK.read_text())["config"]
    values = {
        k.split(":", 1)[1]: str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in config.items()
        if k.startswith("aml-workshop:")
    }
    return values, config["azure-native:location"]


def test_project_file_runs_infra_with_the_project_virtualenv() -> None:
    project = _project()
    assert project["name"] == "aml-workshop"
    assert project["main"] == "infra/"
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": ".venv"},
    }
    assert (ROOT / project["main"] / "__main__.py").is_file()


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _edited_project(tmp_path: Path, key: str, **changes: object) -> Path:
    """A copy of Pulumi.yaml with one declaration changed."""
    project = _project()
    project["config"][f"aml-workshop:{key}"].update(changes)
    path = tmp_path / "Pulumi.yaml"
    path.write_text(yaml.safe_dump(project, sort_keys=False))
    return path


def test_the_program_reads_exactly_the_settings_pulumi_yaml_declares() -> None:
    declared = project_file().settings
    assert project_file().path == PROJECT_FILE  # the checkout's, not the working directory's
    read = {f.name for f in dataclasses.fields(Settings)} - {"location", "region_is_known"}
    assert read == {_snake(key) for key in declared}
    for key, setting in declared.items():
        entry = _project()["config"][f"aml-workshop:{key}"]
        assert (setting.type, setting.default, setting.description) == (
            entry["type"],
            entry["default"],
            entry["description"],
        )


def test_defaults_come_from_pulumi_yaml(tmp_path: Path) -> None:
    edited = _edited_project(tmp_path, "computeMaxNodes", default=7)
    assert load_settings({}, "westeurope").compute_max_nodes == 3
    assert (
        load_settings({}, "westeurope", declared=read_project_file(edited)).compute_max_nodes == 7
    )


def test_the_project_file_is_found_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    project_file.cache_clear()
    try:
        assert project_file().path == ROOT / "Pulumi.yaml"
        assert (
            load_settings({}, "westeurope").prefix
            == _project()["config"]["aml-workshop:prefix"]["default"]
        )
    finally:
        project_file.cache_clear()


@pytest.mark.parametrize(
    ("key", "changes", "words"),
    [
        ("computeMaxNodes", {"type": "number"}, "must be one of string, integer, boolean, array"),
        ("computeMaxNodes", {"default": "3"}, "must be of type integer"),
        ("purgeOnDestroy", {"default": 1}, "must be of type boolean"),
        ("ttlDays", {"default": True}, "must be of type integer"),
        ("budgetEmails", {"items": None}, "an array needs `items"),
        ("owner", {"description": ""}, "must say what it does"),
    ],
)
def test_a_bad_declaration_names_the_file_and_key(
    tmp_path: Path, key: str, changes: dict[str, object], words: str
) -> None:
    edited = _edited_project(tmp_path, key, **changes)
    with pytest.raises(ConfigError) as caught:
        read_project_file(edited)
    assert f"{edited}: aml-workshop:{key}" in str(caught.value)
    assert words in str(caught.value)


def test_a_type_the_program_cannot_read_fails_before_any_value_is_used(tmp_path: Path) -> None:
    edited = _edited_project(tmp_path, "purgeOnDestroy", type="string", default="yes")
    with pytest.raises(ConfigError) as caught:
        load_settings({}, "westeurope", declared=read_project_file(edited))
    assert f"{edited}: aml-workshop:purgeOnDestroy.type" in str(caught.value)
    assert "reads this setting as boolean" in str(caught.value)


def test_a_setting_the_program_reads_but_pulumi_yaml_lacks_names_the_file(tmp_path: Path) -> None:
    project = _project()
    del project["config"]["aml-workshop:ttlDays"]
    path = tmp_path / "Pulumi.yaml"
    path.write_text(yaml.safe_dump(project, sort_keys=False))
    with pytest.raises(ConfigError) as caught:
        load_settings({}, "westeurope", declared=read_project_file(path))
    assert f"{path}: aml-workshop:ttlDays" in str(caught.value)
    assert "not declared" in str(caught.value)


def test_a_renamed_project_is_refused_with_the_name_to_keep(tmp_path: Path) -> None:
    project = _project()
    project["name"] = "my-copy"
    project["config"] = {
        k.replace("aml-workshop:", "my-copy:"): v for k, v in project["config"].items()
    }
    path = tmp_path / "Pulumi.yaml"
    path.write_text(yaml.safe_dump(project, sort_keys=False))
    with pytest.raises(ConfigError, match="--name aml-workshop"):
        load_settings({}, "westeurope", declared=read_project_file(path))


@pytest.mark.parametrize(
    ("key", "limits"),
    [
        ("prefix", f"2-{MAX_PREFIX_LENGTH}"),
        ("computeIdleSeconds", f"{rules.MIN_IDLE_SECONDS}-{rules.MAX_IDLE_SECONDS}"),
        (
            "traineeComputeIdleMinutes",
            f"{rules.MIN_INSTANCE_IDLE_MINUTES}-{rules.MAX_INSTANCE_IDLE_MINUTES}",
        ),
        ("ttlDays", f"1-{rules.MAX_TTL_DAYS}"),
    ],
)
def test_descriptions_quote_the_limits_the_program_enforces(key: str, limits: str) -> None:
    # The rule lives in Python, the sentence in Pulumi.yaml: this keeps the two in step.
    assert limits in project_file().settings[key].description


def test_defaults_and_the_dev_stack_are_valid() -> None:
    defaults = load_settings({}, "westeurope")
    assert defaults.compute_min_nodes == 0
    assert defaults.compute_max_nodes == 3
    assert defaults.idle_time_iso == "PT120S"
    assert defaults.compute_priority == "Dedicated"
    assert defaults.key_vault_purge_protection is False
    assert defaults.public_network_access is True
    assert defaults.managed_network == "Disabled"
    assert defaults.container_registry is True  # so Azure ML never makes one with admin on
    assert defaults.existing_resource_group is None
    assert defaults.handout_language == "ja"  # the course is Japanese first

    values, location = _dev_values()
    dev = load_settings(values, location)
    assert dev.location == location
    assert dev.prefix == values["prefix"]


def test_no_secrets_in_the_dev_stack() -> None:
    config = yaml.safe_load(DEV_STACK.read_text())["config"]
    for key, value in config.items():
        assert not any(w in key.lower() for w in ("secret", "password", "token", "clientid")), key
        assert not isinstance(value, dict), f"{key}: encrypted or structured values do not belong"


@pytest.mark.parametrize(
    ("key", "value", "rule_words"),
    [
        ("prefix", "Mnist", "lowercase"),
        ("prefix", "a", f"2-{MAX_PREFIX_LENGTH} characters"),
        ("prefix", "a" * (MAX_PREFIX_LENGTH + 1), f"2-{MAX_PREFIX_LENGTH} characters"),
        ("prefix", "1mnist", "starting with a letter"),
        ("prefix", "mnist-", "ending with a letter or digit"),
        ("prefix", "mn--ist", "single hyphens"),
        ("prefix", "mn_ist", "lowercase letters, digits and single hyphens"),
        ("nameSuffixSeed", "has space", "letters, digits"),
        ("existingResourceGroup", "rg-ends-with.", "resource group name"),
        ("workspaceFriendlyName", "   ", "printable"),
        ("workspaceDescription", "x" * 1025, "1-1024"),
        ("publicNetworkAccess", "yes", "true or false"),
        ("containerRegistry", "1", "true or false"),
        ("keyVaultPurgeProtection", "on", "true or false"),
        ("managedNetwork", "Enabled", "Disabled, AllowInternetOutbound, AllowOnlyApprovedOutbound"),
        ("computeVmSize", "DS3_v2", "VM size"),
        ("computeVmSize", "Standard DS3", "VM size"),
        ("computeMaxNodes", "0", "between 1 and"),
        ("computeMaxNodes", "three", "whole number"),
        ("computeMinNodes", "-1", "between 0 and computeMaxNodes"),
        ("computeMinNodes", "5", "between 0 and computeMaxNodes (3)"),
        ("computeIdleSeconds", "30", "between 60 and 86400"),
        ("computeIdleSeconds", "2.5", "whole number"),
        ("computePriority", "Spot", "Dedicated, LowPriority"),
        ("deployerPrincipalType", "Robot", "User, ServicePrincipal, Group"),
        ("handoutLanguage", "jp", "must be one of ja, en"),
        ("handoutLanguage", "日本語", "must be one of ja, en"),
    ],
)
def test_every_bad_value_names_key_value_and_rule(key: str, value: str, rule_words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({key: value}, "westeurope")
    message = str(caught.value)
    assert f"aml-workshop:{key}" in message
    assert repr(value.strip()) in message or repr(int(value)) in message
    assert rule_words in message
    assert isinstance(caught.value, pulumi.RunError)  # preview prints it without a traceback


@pytest.mark.parametrize(
    ("location", "words"),
    [(None, "is required"), ("West Europe", "westeurope"), ("eu", "region name")],
)
def test_bad_location_says_how_to_set_it(location: str | None, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({}, location)
    assert "azure-native:location" in str(caught.value)
    assert words in str(caught.value)


def test_unknown_region_with_a_good_format_is_accepted_but_flagged() -> None:
    assert load_settings({}, "westeurope").region_is_known
    assert not load_settings({}, "marsnorth").region_is_known


def test_misspelt_key_is_rejected_with_the_closest_setting() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"computeMaxNode": "2"}, "westeurope")
    assert "aml-workshop:computeMaxNode " in str(caught.value)
    assert "did you mean aml-workshop:computeMaxNodes?" in str(caught.value)


def test_choices_are_case_insensitive_and_normalised() -> None:
    settings = load_settings(
        {"computePriority": "lowpriority", "managedNetwork": "allowinternetoutbound"}, "eastus"
    )
    assert settings.compute_priority == "LowPriority"
    assert settings.managed_network == "AllowInternetOutbound"
    assert load_settings({"handoutLanguage": "EN"}, "eastus").handout_language == "en"


def test_stack_config_is_read_from_pulumi_config(monkeypatch: pytest.MonkeyPatch) -> None:
    stack = {
        "aml-workshop:prefix": "cistack",
        "aml-workshop:computeMaxNodes": "5",
        "azure-native:location": "eastus2",
    }
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(stack))
    pulumi.runtime.set_all_config({})
    settings = settings_from_stack()
    assert (settings.prefix, settings.compute_max_nodes, settings.location) == (
        "cistack",
        5,
        "eastus2",
    )
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({**stack, "aml-workshop:prefx": "x"}))
    with pytest.raises(ConfigError, match="did you mean aml-workshop:prefix"):
        settings_from_stack()


def test_job_specs_come_from_the_job_yamls() -> None:
    specs = read_job_specs(ROOT / "jobs")
    env = yaml.safe_load((ROOT / "jobs" / "environment.yml").read_text())
    data = yaml.safe_load((ROOT / "jobs" / "data-mnist.yml").read_text())
    assert (specs.environment.name, specs.environment.image) == (env["name"], env["image"])
    assert specs.environment.conda_file == (ROOT / "jobs" / env["conda_file"]).read_text()
    assert (specs.data.name, specs.data.version) == (data["name"], str(data["version"]))


@pytest.mark.parametrize(
    ("broken", "words"),
    [
        ({"data-mnist.yml": "name: [unclosed"}, "not valid YAML"),
        ({"data-mnist.yml": "- a list"}, "must be a YAML mapping"),
        ({"data-mnist.yml": "name: mnist\nversion: '1'\ntype: uri_file\n"}, "must be uri_folder"),
        ({"environment.yml": "name: e\nversion: '1'\nconda_file: nope.yml\nimage: i\n"}, "nope"),
        ({"environment.yml": "name: e\nversion: '1'\nconda_file: c.yml\n"}, "image"),
    ],
)
def test_bad_job_yaml_names_the_file_and_key(
    tmp_path: Path, broken: dict[str, str], words: str
) -> None:
    for name in ("data-mnist.yml", "environment.yml"):
        (tmp_path / name).write_text((ROOT / "jobs" / name).read_text())
    (tmp_path / "environment").mkdir()
    (tmp_path / "environment" / "conda.yml").write_text("name: x\n")
    (tmp_path / "c.yml").write_text("name: x\n")
    for name, text in broken.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError) as caught:
        read_job_specs(tmp_path)
    assert str(tmp_path / next(iter(broken))) in str(caught.value)
    assert words in str(caught.value)
