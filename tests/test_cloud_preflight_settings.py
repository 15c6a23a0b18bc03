"""preflight reads a stack's settings with the program's reader, so it fails as preview would."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fakes.cloud import SUB, run_cli, use_fake_pulumi
from workshop.azure import stack as stack_module
from workshop.errors import ExitCode
from workshop.paths import ROOT


def _stack_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stack_yaml: str) -> None:
    """Pulumi.yaml as checked in and a Pulumi.trial.yaml with these lines, read by stack_config."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", checkout / "Pulumi.yaml")
    (checkout / "Pulumi.trial.yaml").write_text(stack_yaml, encoding="utf-8")
    real = stack_module.stack_config
    monkeypatch.setattr(stack_module, "stack_config", lambda name: real(name, root=checkout))


@pytest.mark.parametrize(
    ("stack_yaml", "words"),
    [
        ("  aml-workshop:computeMaxNodes: three\n", "computeMaxNodes = 'three': must be a whole"),
        ("  aml-workshop:computeMaxNodes: 0\n", "computeMaxNodes = 0: must be between 1 and 100"),
        ("  aml-workshop:computeMaxNode: 2\n", "did you mean aml-workshop:computeMaxNodes?"),
        ("  aml-workshop:purgeOnDestroy: maybe\n", "purgeOnDestroy = 'maybe': must be true or"),
    ],
)
def test_a_bad_setting_fails_preflight_with_the_programs_message(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    stack_yaml: str,
    words: str,
) -> None:
    use_fake_pulumi(monkeypatch, tmp_path, {})
    _stack_files(
        monkeypatch, tmp_path, "config:\n  azure-native:location: westeurope\n" + stack_yaml
    )
    code, _, err = run_cli(capsys, "preflight", "--stack", "trial", "--subscription", SUB)
    assert code == ExitCode.BAD_INPUT
    assert "stack trial: aml-workshop:" in err and words in err
    assert "Traceback" not in err


def test_yaml_typed_values_read_as_pulumi_passes_them() -> None:
    from workshop_infra.settings import settings_from_stack_file

    settings = settings_from_stack_file(
        {
            "azure-native:location": "japaneast",
            "computeMaxNodes": 5,  # a YAML integer in the stack file
            "purgeOnDestroy": False,
            "budgetEmails": ["ops@example.com"],
            "trainees": [{"name": "Hanako", "objectId": "66666666-6666-6666-6666-666666666666"}],
        }
    )
    assert (settings.location, settings.compute_max_nodes) == ("japaneast", 5)
    assert settings.purge_on_destroy is False
    assert settings.budget_emails == ("ops@example.com",)
    assert [t.name for t in settings.trainees] == ["Hanako"]
    # A deployed stack's location output stands in for an unset azure-native:location.
    assert settings_from_stack_file({}, "westeurope").location == "westeurope"
