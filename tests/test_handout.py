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
from workshop.handout import PHRASES, handouts_from_outputs, render, write_handouts

SAMPLE = Path(__file__).parent / "fixtures" / "handout" / "outputs.json"


def _sample() -> dict[str, Any]:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def test_one_folder_per_trainee_from_a_saved_outputs_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["handout", "--outputs", str(SAMPLE), "--out", str(tmp_path), "--language", "en"]
    )
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
    assert "(the environment expires on Thursday 31 January 2030, 00:00 UTC)" in page
    assert "2030-01-31" not in page  # written for people, not as an ISO timestamp
    # Studio: the kernel the compute instance's creation script builds, and how to build it
    from workshop_common.kernel import KERNEL_DISPLAY_NAME, SCRIPT

    assert f"pick the kernel `{KERNEL_DISPLAY_NAME}`" in page
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


def test_the_handout_is_japanese_unless_the_stack_or_the_command_says_english(
    tmp_path: Path,
) -> None:
    result = CliRunner().invoke(app, ["handout", "--outputs", str(SAMPLE), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "bj0p7" / "README.md").read_text(encoding="utf-8")
    assert page.startswith("# MNIST ハンズオン: 山田 花子\n")
    assert "山田 花子 さん、" in page and "（環境の有効期限: 2030年1月31日(木) 0:00 UTC）" in page
    assert "## ハンズオンを実行する" in page and "Hello" not in page
    assert "workshop deploy --config config.json --endpoint-name mnist-bj0p7" in page
    html_page = (tmp_path / "obrien-k3m9q" / "index.html").read_text(encoding="utf-8")
    assert '<html lang="ja">' in html_page and "なし（ジョブはクラスターで実行します）" in html_page
    assert "O&#x27;Brien &lt;Seán&gt; &amp; co さん" in html_page


def test_the_stack_setting_chooses_the_language(tmp_path: Path) -> None:
    from workshop.handout import stack_language

    (tmp_path / "Pulumi.yaml").write_text(
        (Path(__file__).parents[1] / "Pulumi.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    assert stack_language("dev", root=tmp_path) == "ja"  # no stack file: Pulumi.yaml's default
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text("config:\n  aml-workshop:handoutLanguage: en\n", encoding="utf-8")
    assert stack_language("dev", root=tmp_path) == "en"
    stack_file.write_text("config:\n  aml-workshop:handoutLanguage: fr\n", encoding="utf-8")
    with pytest.raises(WorkshopError) as caught:
        stack_language("dev", root=tmp_path)
    assert str(caught.value).splitlines()[0] == (
        "stack dev: aml-workshop:handoutLanguage = 'fr' is not a handout language: "
        "use one of ja, en"
    )
    assert "pulumi config set aml-workshop:handoutLanguage" in (caught.value.hint or "")


def test_a_bad_language_option_is_one_clear_message(tmp_path: Path) -> None:
    out = tmp_path / "o"
    result = CliRunner().invoke(
        app, ["handout", "--outputs", str(SAMPLE), "--out", str(out), "--language", "jp"]
    )
    assert isinstance(result.exception, WorkshopError)
    assert (
        str(result.exception).splitlines()[0]
        == "--language = 'jp' is not a handout language: use one of ja, en"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("iso", "ja", "en"),
    [
        (
            "2030-01-31T00:00:00Z",
            "2030年1月31日(木) 0:00 UTC",
            "Thursday 31 January 2030, 00:00 UTC",
        ),
        ("2026-12-06T09:05:00Z", "2026年12月6日(日) 9:05 UTC", "Sunday 6 December 2026, 09:05 UTC"),
        ("2027-03-01", "2027年3月1日(月) 0:00 UTC", "Monday 1 March 2027, 00:00 UTC"),
    ],
)
def test_the_expiry_is_written_for_people(iso: str, ja: str, en: str) -> None:
    from workshop.handout import expiry_for_people, parse_expiry

    moment = parse_expiry(iso, "outputs.json")
    assert (expiry_for_people(moment, "ja"), expiry_for_people(moment, "en")) == (ja, en)


def test_no_expiry_and_a_bad_expiry() -> None:
    data = _sample()
    del data["expiresOn"]
    (handout,) = handouts_from_outputs(data, "outputs.json", "en")[:1]
    assert (
        "(the environment expires on the date your trainer announced)"
        in (render(handout)["README.md"])
    )
    data["expiresOn"] = "next Friday"
    with pytest.raises(WorkshopError) as caught:
        handouts_from_outputs(data, "outputs.json")
    assert "outputs.json: output expiresOn 'next Friday' is not a UTC time" in str(caught.value)


@pytest.mark.parametrize("kind", ["md", "html"])
def test_every_language_has_both_pages_with_the_same_fields(kind: str) -> None:
    from string import Template

    from workshop.handout import template
    from workshop_common.languages import HANDOUT_LANGUAGES

    fields = {
        language: set(Template(template(language, kind).read_text("utf-8")).get_identifiers())
        for language in HANDOUT_LANGUAGES
    }
    assert len({frozenset(f) for f in fields.values()}) == 1, fields
    assert set(PHRASES) == set(HANDOUT_LANGUAGES)


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


# ------------------------------------------------------------------ hostile outputs (issue 13)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)//https://ml.azure.com/",
        "https://ml.azure.com.evil.example/?wsid=x",
        "https://evil.example/?https://ml.azure.com/",
        "http://ml.azure.com/?wsid=x",
        'https://ml.azure.com/?wsid=x" onmouseover="alert(1)',
        "https://ml.azure.com/?wsid=x)](javascript:alert(1)",
        "https://ml.azure.com/?wsid=x\n# owned",
    ],
)
def test_a_studio_url_that_is_not_azure_ml_studio_is_refused(url: str) -> None:
    data = _sample()
    data["trainees"][0]["studioUrl"] = url
    with pytest.raises(WorkshopError) as caught:
        handouts_from_outputs(data, "outputs.json")
    assert "trainees[0].studioUrl" in str(caught.value)
    assert "https://ml.azure.com/" in str(caught.value)


def test_a_compute_instance_name_cannot_steer_the_link() -> None:
    data = _sample()
    data["trainees"][0]["computeInstance"] = "../../evil.example/x"
    with pytest.raises(WorkshopError, match=r"trainees\[0\]\.computeInstance"):
        handouts_from_outputs(data, "outputs.json")


HOSTILE = "Eve\n# Owned\n<script>alert(1)</script> [click](javascript:alert(1)) | x | *y* &amp;"


def _hostile(tmp_path: Path, language: str = "en") -> Path:
    data = _sample()
    data["trainees"][0]["name"] = HOSTILE
    data["resourceGroup"] = "rg`|<b>x</b>"
    write_handouts(handouts_from_outputs(data, "outputs.json", language), tmp_path)
    return tmp_path / "bj0p7"


@pytest.mark.parametrize("language", ["ja", "en"])
def test_names_cannot_change_the_markdown_handout(tmp_path: Path, language: str) -> None:
    """Rendered by a CommonMark parser with GFM tables (markdown-it-py, which rich ships)."""
    from markdown_it import MarkdownIt

    text = (_hostile(tmp_path, language) / "README.md").read_text(encoding="utf-8")
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    kinds = [t.type for t in tokens]
    assert kinds.count("heading_open") == 3  # the title and the template's two sections, no more
    assert "html_block" not in kinds
    inline = [child for t in tokens for child in (t.children or [])]
    assert not [c for c in inline if c.type == "html_inline"]
    assert not [c for c in inline if c.type in ("em_open", "strong_open", "image")]
    hrefs = [str(c.attrs["href"]) for c in inline if c.type == "link_open"]
    assert hrefs and all(h.startswith("https://ml.azure.com/") for h in hrefs), hrefs
    assert kinds.count("tr_open") == 7  # header + the 6 rows of the template
    assert all(row.count("td_open") == 2 for row in _rows(kinds))
    title = tokens[kinds.index("heading_open") + 1]
    rendered_title = "".join(c.content for c in title.children or [])
    assert "\n" not in title.content
    assert rendered_title == PHRASES[language]["title"].format(name=HOSTILE.replace("\n", " "))
    codes = [c.content for c in inline if c.type == "code_inline"]
    assert "rg`\\|<b>x</b>" in codes or "rg`|<b>x</b>" in codes


def _rows(kinds: list[str]) -> list[list[str]]:
    rows: list[list[str]] = []
    for kind in kinds:
        if kind == "tr_open":
            rows.append([])
        elif rows and kind in ("td_open", "th_open"):
            rows[-1].append("td_open")
    return rows


@pytest.mark.parametrize("language", ["ja", "en"])
def test_names_cannot_change_the_html_handout(tmp_path: Path, language: str) -> None:
    from html.parser import HTMLParser

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []
            self.hrefs: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.append(tag)
            self.hrefs += [v or "" for k, v in attrs if k == "href"]

    page = Tags()
    page.feed((_hostile(tmp_path, language) / "index.html").read_text(encoding="utf-8"))
    assert "script" not in page.tags and "img" not in page.tags and "b" not in page.tags
    assert page.hrefs and all(h.startswith("https://ml.azure.com/") for h in page.hrefs)


def test_a_symlink_at_the_destination_is_a_clear_error(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("not yours")
    out = tmp_path / "out"
    out.mkdir()
    (out / "bj0p7").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(WorkshopError) as caught:
        write_handouts(handouts_from_outputs(_sample(), "sample"), out)
    assert "symbolic link" in str(caught.value) and str(out / "bj0p7") in str(caught.value)
    assert caught.value.hint
    assert (elsewhere / "keep.txt").read_text() == "not yours"
    assert sorted(p.name for p in out.iterdir()) == ["bj0p7"]  # nothing else written


def test_handout_folders_are_readable_by_the_people_they_are_for(tmp_path: Path) -> None:
    import os
    import stat

    previous = os.umask(0o022)
    try:
        write_handouts(handouts_from_outputs(_sample(), "sample"), tmp_path)
    finally:
        os.umask(previous)
    for folder in tmp_path.iterdir():
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755, folder
        for file in folder.iterdir():
            assert stat.S_IMODE(file.stat().st_mode) == 0o644, file
