"""`workshop handout`: folders from a saved outputs JSON; malformed outputs name what is wrong."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from workshop.cli import app
from workshop.errors import WorkshopError
from workshop.handout import handouts_from_outputs, write_handouts

SAMPLE = Path(__file__).parent / "fixtures" / "handout" / "outputs.json"


def _sample() -> dict[str, Any]:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def test_one_folder_per_trainee_from_a_saved_outputs_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["handout", "--outputs", str(SAMPLE), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bj0p7", "obrien-k3m9q"]
    outputs = _sample()
    for folder in tmp_path.iterdir():
        assert sorted(p.name for p in folder.iterdir()) == [
            "README.md",
            "config.json",
            "index.html",
        ]
        assert json.loads((folder / "config.json").read_text()) == json.loads(outputs["configJson"])

    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential

    client = MLClient.from_config(DefaultAzureCredential(), path=str(tmp_path / "bj0p7"))
    assert client.workspace_name == outputs["workspaceName"]

    page = (tmp_path / "bj0p7" / "README.md").read_text(encoding="utf-8")
    assert "山田 花子" in page and "azureml:mnist:1" in page and "`cpu-cluster`" in page
    assert "https://ml.azure.com/compute/cix7k2q9-bj0p7/details?wsid=/subscriptions/" in page
    assert "2030-01-31T00:00:00Z" in page
    # Studio: the kernel the compute instance's creation script builds, and how to build it
    from workshop.kernel import KERNEL_DISPLAY_NAME, SCRIPT

    assert f"pick the kernel **{KERNEL_DISPLAY_NAME}**" in page
    assert "`bash notebooks/workshop-kernel.sh`" in page and SCRIPT.is_file()
    assert f"<strong>{KERNEL_DISPLAY_NAME}</strong>" in (
        tmp_path / "bj0p7" / "index.html"
    ).read_text(encoding="utf-8")
    for command in (
        "workshop run jobs/train-logreg.yml",
        "workshop submit jobs/train-knn.yml --config config.json --wait",
        "workshop submit jobs/sweep-knn.yml --config config.json --wait",
        # deployment.yml serves the model the pipeline registers: it must come before deploy
        "workshop submit jobs/pipeline.yml --config config.json --wait",
    ):
        assert command in page
        assert command in (tmp_path / "bj0p7" / "index.html").read_text(encoding="utf-8")
    assert page.index("jobs/pipeline.yml") < page.index("workshop deploy")
    # Each trainee deploys under their own endpoint name (unique per region), valid by Azure's rule.
    from workshop.azure.deploy import check_endpoint_name

    assert "workshop deploy --config config.json --endpoint-name mnist-bj0p7" in page
    assert "--endpoint-name mnist-obrien-k3m9q" in (
        tmp_path / "obrien-k3m9q" / "README.md"
    ).read_text(encoding="utf-8")
    check_endpoint_name("mnist-bj0p7")
    for job in ("train-logreg.yml", "train-knn.yml", "sweep-knn.yml", "pipeline.yml"):
        assert (Path(__file__).parents[1] / "jobs" / job).is_file()  # the commands name real files

    other = (tmp_path / "obrien-k3m9q" / "index.html").read_text(encoding="utf-8")
    assert "O&#x27;Brien &lt;Seán&gt; &amp; co" in other and "<Seán>" not in other
    assert "none (jobs use the cluster)" in other
    assert f'href="{outputs["studioUrl"].replace("&", "&amp;")}"' in other


def test_rerunning_replaces_folders_whole(tmp_path: Path) -> None:
    handouts = handouts_from_outputs(_sample(), "sample")
    write_handouts(handouts, tmp_path)
    (tmp_path / "bj0p7" / "stale.txt").write_text("old")
    write_handouts(handouts, tmp_path)
    assert not (tmp_path / "bj0p7" / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_failed_write_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workshop import handout

    def broken(_: Any) -> dict[str, str]:
        raise OSError("disk full")

    monkeypatch.setattr(handout, "render", broken)
    with pytest.raises(OSError):
        write_handouts(handouts_from_outputs(_sample(), "sample"), tmp_path)
    assert list(tmp_path.iterdir()) == []


def _broken(change: str) -> dict[str, Any]:
    data = copy.deepcopy(_sample())
    if change == "no workspace":
        del data["workspaceName"]
    elif change == "no trainees output":
        del data["trainees"]
    elif change == "empty trainees":
        data["trainees"] = []
    elif change == "trainees not a list":
        data["trainees"] = {"a": 1}
    elif change == "entry without key":
        del data["trainees"][1]["key"]
    elif change == "bad config json":
        data["trainees"][0]["configJson"] = "{not json"
    elif change == "config without workspace":
        data["trainees"][0]["configJson"] = json.dumps({"subscription_id": "s"})
    elif change == "duplicate key":
        data["trainees"][1]["key"] = data["trainees"][0]["key"]
    elif change == "unsafe key":
        data["trainees"][0]["key"] = "../../etc"
    return data


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("no workspace", "missing stack output workspaceName"),
        ("no trainees output", "missing stack output trainees"),
        ("empty trainees", "no trainees"),
        ("trainees not a list", "trainees must be a list"),
        ("entry without key", "trainees[1] has no key"),
        ("bad config json", "trainees[0].configJson is not JSON"),
        ("config without workspace", "needs subscription_id, resource_group, workspace_name"),
        ("duplicate key", "trainees[1].key 'bj0p7' is not a unique folder name"),
        ("unsafe key", "trainees[0].key '../../etc'"),
    ],
)
def test_malformed_outputs_name_what_is_wrong(change: str, words: str, tmp_path: Path) -> None:
    with pytest.raises(WorkshopError) as caught:
        handouts_from_outputs(_broken(change), "outputs.json")
    assert str(caught.value).startswith("outputs.json: ")
    assert words in str(caught.value)
    assert caught.value.hint


def test_cli_errors_are_one_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "outputs.json"
    bad.write_text("Current stack outputs (3):\n  OUTPUT  VALUE")
    runner = CliRunner()
    result = runner.invoke(app, ["handout", "--outputs", str(bad), "--out", str(tmp_path / "o")])
    assert isinstance(result.exception, WorkshopError)
    assert "not JSON" in str(result.exception) and "--json" in (result.exception.hint or "")
    both = runner.invoke(app, ["handout", "--out", "x", "--stack", "a", "--outputs", str(bad)])
    assert isinstance(both.exception, WorkshopError)
    assert not (tmp_path / "o").exists()


def test_out_that_is_a_file_is_one_clear_message(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(_sample()))
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    result = CliRunner().invoke(app, ["handout", "--outputs", str(outputs), "--out", str(taken)])
    assert isinstance(result.exception, WorkshopError)
    assert f"--out {taken}" in str(result.exception) and result.exception.hint
