"""README.md quotes generated material verbatim: the settings table and the benchmark figures."""

from __future__ import annotations

import re

import pytest
from workshop_infra.config_doc import render_table as render_config

from benchmarks.readme_table import render_table as render_bench
from workshop.paths import ROOT

README = ROOT / "README.md"


def block(name: str) -> str:
    """The text between `<!-- name -->` and `<!-- /name -->` in README.md."""
    match = re.search(
        rf"<!-- {name} -->\n(.*?)\n<!-- /{name} -->", README.read_text(encoding="utf-8"), re.S
    )
    if match is None:
        pytest.fail(f"README.md has no <!-- {name} --> ... <!-- /{name} --> block")
    return match.group(1)


def test_settings_table_is_rendered_from_pulumi_yaml():
    assert block("config-table") == render_config(), (
        "README.md's settings table differs from Pulumi.yaml; "
        "paste the output of `python infra/workshop_infra/config_doc.py`"
    )


def test_performance_table_quotes_the_last_benchmark_run():
    assert block("bench-table") == render_bench(), (
        "README.md's performance table differs from benchmarks/results.json; "
        "paste the output of `python -m benchmarks.readme_table`"
    )


def test_readme_shows_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text
