"""The cloud path: preflight, submit, deploy, warmup and smoke against a real workspace.

Every command finds its workspace the same way (--stack, or --subscription/--resource-group/
--workspace, or --config) and signs in with DefaultAzureCredential; see workshop.azure.session.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from workshop import json_report
from workshop.errors import ExitCode, WorkshopError
from workshop.json_report import JsonFlag
from workshop.paths import JOBS_DIR

if TYPE_CHECKING:
    from workshop.azure.jobs import JobReport, PhaseClock
    from workshop.azure.preflight import Target
    from workshop.azure.session import Session

console = Console()

Stack = Annotated[
    str | None,
    typer.Option("--stack", help="Pulumi stack of infra/ whose outputs name the workspace."),
]
Subscription = Annotated[
    str | None, typer.Option(help="Azure subscription id (with --resource-group and --workspace).")
]
ResourceGroup = Annotated[str | None, typer.Option(help="Resource group of the workspace.")]
WorkspaceName = Annotated[str | None, typer.Option("--workspace", help="Azure ML workspace name.")]
ConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="A config.json as MLClient.from_config reads it."),
]
Poll = Annotated[float, typer.Option(help="Seconds between status polls (phase-time resolution).")]


def _session(
    stack: str | None,
    subscription: str | None,
    resource_group: str | None,
    workspace: str | None,
    config: Path | None,
) -> Session:
    from workshop.azure import session

    ref = session.resolve(
        stack=stack,
        subscription=subscription,
        resource_group=resource_group,
        workspace=workspace,
        config=config,
    )
    console.print(f"workspace [bold]{ref.name}[/] ({ref.resource_group}, from {ref.source})")
    json_report.record(
        workspace={"name": ref.name, "resource_group": ref.resource_group, "source": ref.source}
    )
    return session.connect(ref)


def _print_status(status: str, elapsed: float) -> None:
    console.print(f"  {elapsed:7.0f} s  {status}")


def _print_phases(phases: PhaseClock) -> None:
    from workshop.azure.jobs import PHASES

    table = Table(title="phases (from status polls)")
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    for phase in PHASES:
        table.add_row(phase, f"{phases.seconds.get(phase, 0.0):.0f}")
    table.add_row("total", f"{phases.total():.0f}", style="bold")
    console.print(table)


def _print_report(report: JobReport) -> None:
    if report.metrics:
        table = Table(title="metrics")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key in sorted(report.metrics):
            table.add_row(key, f"{report.metrics[key]:.4g}")
        console.print(table)
    if report.primary_metric is not None:
        if report.best_trial is None:
            console.print(f"no trial logged {report.primary_metric}")
        else:
            best = report.best_trial
            params = ", ".join(f"{k}={v}" for k, v in sorted(best.params.items()))
            console.print(
                f"best trial of {report.trials}: [bold]{best.run_id}[/] "
                f"{report.primary_metric}={best.metrics[report.primary_metric]:.4f} ({params})"
            )


def _job_json(created: Any) -> dict[str, Any]:
    return {"name": str(created.name), "studio_url": created.studio_url}


def _phases_json(phases: PhaseClock) -> dict[str, float]:
    return {phase: round(seconds, 1) for phase, seconds in phases.seconds.items()}


def _report_json(report: JobReport) -> dict[str, Any]:
    best = report.best_trial
    return {
        "metrics": report.metrics,
        "primary_metric": report.primary_metric,
        "trials": report.trials,
        "best_trial": None
        if best is None
        else {"run_id": best.run_id, "params": best.params, "metrics": best.metrics},
    }


def _github_summary(lines: list[str]) -> None:
    """Append markdown to the GitHub Actions job summary, when running there."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")


def preflight_target(stack: str, subscription: str | None) -> Target:
    """What the stack will create, from its config (and outputs, once it has been deployed)."""
    from workshop.azure.preflight import Target
    from workshop.azure.stack import stack_config, stack_outputs
    from workshop_common import contract

    config, has_file = stack_config(stack)
    if not has_file:
        console.print(f"[yellow]no Pulumi.{stack}.yaml: checking the declared defaults[/]")
    try:
        outputs: dict[str, Any] = stack_outputs(stack)
    except WorkshopError:
        outputs = {}  # not deployed yet (or no CLI): the config is enough
    sub = (
        subscription
        or outputs.get(contract.SUBSCRIPTION_ID)
        or config.get(contract.CONFIG_SUBSCRIPTION)
        or os.environ.get("AZURE_SUBSCRIPTION_ID")
    )
    if not sub:
        raise WorkshopError(
            "no subscription id: the stack has none and none was given",
            hint="pass --subscription ID, or set AZURE_SUBSCRIPTION_ID "
            "(`az account show --query id -o tsv`)",
        )
    location = config.get(contract.CONFIG_LOCATION) or outputs.get(contract.LOCATION)
    if not location:
        raise WorkshopError(
            f"stack {stack}: {contract.CONFIG_LOCATION} is not set",
            hint=f"pulumi config set {contract.CONFIG_LOCATION} westeurope --stack {stack}",
        )
    # The program's own settings reader: the same types, defaults and rules as `pulumi preview`.
    from workshop_infra.errors import ConfigError
    from workshop_infra.settings import settings_from_stack_file

    try:
        max_nodes = settings_from_stack_file(config, str(location)).compute_max_nodes
    except ConfigError as exc:
        raise WorkshopError(
            f"stack {stack}: {exc.key} = {exc.value!r}: {exc.rule}",
            hint=exc.fix or f"pulumi config set {exc.key} VALUE --stack {stack}",
        ) from None
    vm_size = config.get(contract.CONFIG_VM_SIZE)
    if not vm_size:
        raise WorkshopError(
            f"stack {stack}: {contract.PROJECT}:{contract.CONFIG_VM_SIZE} is not set",
            hint=f"pulumi config set {contract.CONFIG_VM_SIZE} Standard_DS3_v2 --stack {stack}",
        )
    trainees = _config_trainees(stack, config.get(contract.CONFIG_TRAINEES))
    with_instance = str(config.get(contract.CONFIG_INSTANCES, False)).lower() == "true"
    users = sum(
        1
        for t in trainees
        if t.get("principalType", "User") == contract.COMPUTE_INSTANCE_PRINCIPAL_TYPE
    )
    from workshop.azure.deploy import load_deployment

    deployment = load_deployment()  # the one place that says its instance type and count
    return Target(
        subscription_id=str(sub),
        location=str(location),
        vm_size=str(vm_size),
        max_nodes=max_nodes,
        low_priority=str(config.get(contract.CONFIG_PRIORITY, "")).lower() == "lowpriority",
        prefix=str(config.get(contract.CONFIG_PREFIX, "")),
        resource_group=outputs.get(contract.RESOURCE_GROUP),
        workspace_name=outputs.get(contract.WORKSPACE_NAME),
        key_vault_name=outputs.get(contract.KEY_VAULT_NAME),
        trainees=len(trainees),
        instances=users if with_instance else 0,
        instance_vm_size=str(config.get(contract.CONFIG_INSTANCE_VM_SIZE) or "") or None,
        deployment_vm_size=str(deployment.instance_type or "") or None,
        deployment_instances=int(deployment.instance_count or 0),
    )


def _config_trainees(stack: str, raw: Any) -> list[dict[str, Any]]:
    """The stack's trainee entries: a YAML list in Pulumi.<stack>.yaml, or a JSON string."""
    import json

    from workshop_common import contract

    key = f"{contract.PROJECT}:{contract.CONFIG_TRAINEES}"
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise WorkshopError(
                f"stack {stack}: {key} is not a list ({exc.msg})",
                hint=f"pulumi config set --path '{contract.CONFIG_TRAINEES}[0].name' NAME "
                f"--stack {stack} (and [0].objectId)",
            ) from None
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise WorkshopError(
            f"stack {stack}: {key} must be a list of {{name, objectId, principalType}} entries",
            hint="see the trainees setting in README.md",
        )
    return raw


def register(app: typer.Typer) -> None:
    @app.command(rich_help_panel="Azure")
    def preflight(
        stack: Annotated[str, typer.Option(help="Pulumi stack to check (before or after up).")],
        subscription: Annotated[
            str | None,
            typer.Option(
                help="Azure subscription id (default: the stack's, else AZURE_SUBSCRIPTION_ID)."
            ),
        ] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Check a subscription before `pulumi up`: providers, VM size, vCPU quota, soft-deletes.

        Reads the stack's settings from `Pulumi.yaml` and `Pulumi.<stack>.yaml`, so it works before
        the stack is deployed. Prints a checklist, each failed check with its fix; any failed check
        exits CHECK_FAILED (exit codes: `workshop --help`).
        """
        from workshop.azure import session
        from workshop.azure.preflight import FAIL, run_checks

        json_report.record(stack=stack)
        target = preflight_target(stack, subscription)
        json_report.record(
            subscription_id=target.subscription_id,
            location=target.location,
            vm_size=target.vm_size,
            max_nodes=target.max_nodes,
            low_priority=target.low_priority,
        )
        console.print(
            f"subscription {target.subscription_id}, {target.location}, {target.max_nodes} x "
            f"{target.vm_size}{' (low priority)' if target.low_priority else ''}"
        )
        credential = session.make_credential()
        with session.azure_errors("preflight"):
            ml = session.make_ml_client(
                credential, session.Workspace(target.subscription_id, "", "", source="preflight")
            )
            checks = run_checks(target, ml, session.make_arm(credential))
        styles = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
        table = Table(title=f"preflight: stack {stack}")
        for column in ("check", "result", "detail", "fix"):
            table.add_column(column, overflow="fold")
        for check in checks:
            style = styles[check.outcome]
            table.add_row(check.name, f"[{style}]{check.outcome}[/]", check.detail, check.fix)
        console.print(table)
        json_report.record(
            checks=[
                {"name": c.name, "outcome": c.outcome, "detail": c.detail, "fix": c.fix}
                for c in checks
            ]
        )
        _github_summary(
            [f"### preflight: stack `{stack}`", "", "| check | result | detail |", "|---|---|---|"]
            + [f"| {c.name} | {c.outcome} | {c.detail} |" for c in checks]
        )
        failed = [c for c in checks if c.outcome == FAIL]
        if failed:
            raise WorkshopError(
                f"{len(failed)} preflight check(s) failed: {', '.join(c.name for c in failed)}",
                hint="apply the fixes in the table, then run preflight again",
                exit_code=ExitCode.CHECK_FAILED,
            )
        console.print("[green]ready for `pulumi up`[/]")

    @app.command(rich_help_panel="Azure")
    def submit(
        job_file: Annotated[
            Path, typer.Argument(metavar="JOB.yml", help="A job YAML under jobs/.")
        ],
        stack: Stack = None,
        subscription: Subscription = None,
        resource_group: ResourceGroup = None,
        workspace: WorkspaceName = None,
        config: ConfigFile = None,
        wait: Annotated[
            bool, typer.Option("--wait", help="Stream the logs and end with the metrics.")
        ] = False,
        as_json: JsonFlag = False,
    ) -> None:
        """Submit a job YAML to Azure ML and print its Studio URL.

        The same as `az ml job create -f JOB_FILE`. With --wait, streams the job's logs until
        it ends, then prints its metrics (a sweep: the best trial by its objective); a job that
        does not complete exits JOB_FAILED (exit codes: `workshop --help`).
        """
        from workshop.azure import jobs, session

        job = jobs.load_job_file(job_file)
        ses = _session(stack, subscription, resource_group, workspace, config)
        with session.azure_errors(f"submit {job_file}"):
            created = jobs.create(ses.ml, job)
            console.print(f"job [bold]{created.name}[/] submitted: {created.studio_url}")
            json_report.record(job=_job_json(created))
            if not wait:
                return
            final = jobs.stream(ses.ml, str(created.name))
            _finish(ses, final)

    @app.command(rich_help_panel="Azure")
    def deploy(
        stack: Stack = None,
        subscription: Subscription = None,
        resource_group: ResourceGroup = None,
        workspace: WorkspaceName = None,
        config: ConfigFile = None,
        endpoint_file: Annotated[
            Path,
            typer.Option(help="Endpoint YAML [default: jobs/endpoint.yml].", show_default=False),
        ] = JOBS_DIR / "endpoint.yml",
        deployment_file: Annotated[
            Path,
            typer.Option(
                help="Deployment YAML [default: jobs/deployment.yml].", show_default=False
            ),
        ] = JOBS_DIR / "deployment.yml",
        samples: Annotated[int, typer.Option(min=1, max=100, help="Test digits to send.")] = 5,
        endpoint_name: Annotated[
            str | None,
            typer.Option(
                help="Endpoint name instead of the YAML's (names are unique per region: "
                "give each trainee their own, e.g. mnist-hanako)."
            ),
        ] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Deploy the model: the online endpoint and deployment from jobs/, all traffic to it.

        Waits for both, prints the scoring URI, then scores a few test digits (from the local
        data cache, or synthetic ones) and prints the predictions beside the labels.
        """
        from workshop.azure import deploy as deploying
        from workshop.azure import session

        ses = _session(stack, subscription, resource_group, workspace, config)
        with session.azure_errors("deploy"):
            done = deploying.deploy(
                ses.ml,
                endpoint_file=endpoint_file,
                deployment_file=deployment_file,
                samples=samples,
                endpoint_name=endpoint_name,
                progress=console.print,
            )
        console.print(f"scoring URI: [bold]{done.scoring_uri}[/]")
        json_report.record(
            endpoint=done.endpoint,
            deployment=done.deployment,
            scoring_uri=done.scoring_uri,
            predictions=done.predictions,
            labels=done.labels,
        )
        table = Table(title=f"{done.endpoint}/{done.deployment}: sample predictions")
        table.add_column("digit #", justify="right")
        table.add_column("predicted", justify="right")
        table.add_column("label", justify="right")
        for i, predicted in enumerate(done.predictions):
            label = "synthetic" if done.labels is None else str(done.labels[i])
            table.add_row(str(i), str(predicted), label)
        console.print(table)

    @app.command(rich_help_panel="Azure")
    def warmup(
        stack: Stack = None,
        subscription: Subscription = None,
        resource_group: ResourceGroup = None,
        workspace: WorkspaceName = None,
        config: ConfigFile = None,
        poll: Poll = 10.0,
        as_json: JsonFlag = False,
    ) -> None:
        """Build the training environment's image ahead of the workshop.

        Runs a one-line import job on cpu-cluster, so the first trainee does not wait 5-15
        minutes for the image; reports how long each phase took. A job that does not complete
        exits JOB_FAILED (exit codes: `workshop --help`).
        """
        from workshop.azure import jobs, session
        from workshop.azure.warmup import warmup_job

        ses = _session(stack, subscription, resource_group, workspace, config)
        with session.azure_errors("warmup"):
            created = jobs.create(ses.ml, warmup_job())
            console.print(f"warm-up job [bold]{created.name}[/]: {created.studio_url}")
            json_report.record(job=_job_json(created))
            final, phases = jobs.wait(
                ses.ml, str(created.name), poll_seconds=poll, on_status=_print_status
            )
        _print_phases(phases)
        json_report.record(
            status=str(final.status), phases=_phases_json(phases), seconds=round(phases.total(), 1)
        )
        if final.status != "Completed":
            raise WorkshopError(
                f"warm-up job {created.name} ended {final.status}",
                hint=f"read its logs in Studio: {created.studio_url}",
                exit_code=ExitCode.JOB_FAILED,
            )
        console.print(f"[green]environment image ready[/] after {phases.total():.0f} s")

    @app.command(rich_help_panel="Azure")
    def smoke(
        stack: Stack = None,
        subscription: Subscription = None,
        resource_group: ResourceGroup = None,
        workspace: WorkspaceName = None,
        config: ConfigFile = None,
        job_file: Annotated[
            Path,
            typer.Option(
                help="The job to run [default: jobs/train-logreg.yml].", show_default=False
            ),
        ] = JOBS_DIR / "train-logreg.yml",
        min_accuracy: Annotated[
            float, typer.Option(min=0.0, max=1.0, help="Fail below this test accuracy.")
        ] = 0.9,
        poll: Poll = 10.0,
        as_json: JsonFlag = False,
    ) -> None:
        """Acceptance test of a fresh environment: train-logreg on the cluster.

        Submits jobs/train-logreg.yml, waits, requires accuracy >= --min-accuracy, and reports
        the time spent queued, building the image and running. A job that does not complete exits
        JOB_FAILED, an accuracy below the bar (or none logged) CHECK_FAILED (exit codes:
        `workshop --help`).
        """
        from workshop.azure import jobs, session

        job = jobs.load_job_file(job_file)
        ses = _session(stack, subscription, resource_group, workspace, config)
        started = time.monotonic()
        json_report.record(min_accuracy=min_accuracy)
        with session.azure_errors("smoke"):
            created = jobs.create(ses.ml, job)
            console.print(f"smoke job [bold]{created.name}[/]: {created.studio_url}")
            json_report.record(job=_job_json(created))
            final, phases = jobs.wait(
                ses.ml, str(created.name), poll_seconds=poll, on_status=_print_status
            )
            _print_phases(phases)
            json_report.record(status=str(final.status), phases=_phases_json(phases))
            if final.status != "Completed":
                raise WorkshopError(
                    f"smoke job {created.name} ended {final.status}",
                    hint=f"read its logs in Studio: {created.studio_url}",
                    exit_code=ExitCode.JOB_FAILED,
                )
            result = jobs.report(final, jobs.metrics_reader(ses))
        _print_report(result)
        accuracy = result.metrics.get("accuracy")
        json_report.record(
            **_report_json(result),
            accuracy=accuracy,
            wall_seconds=round(time.monotonic() - started, 1),
        )
        _github_summary(
            [
                f"### smoke: `{created.name}` {final.status}",
                "",
                "| phase | seconds |",
                "|---|---|",
                *(f"| {p} | {s:.0f} |" for p, s in phases.seconds.items()),
                f"| wall clock | {time.monotonic() - started:.0f} |",
                "",
                f"accuracy: {accuracy if accuracy is not None else 'not logged'} "
                f"(threshold {min_accuracy})",
            ]
        )
        if accuracy is None:
            raise WorkshopError(
                f"smoke job {created.name} logged no metric 'accuracy'",
                hint="the training script must log `accuracy` through MLflow",
                exit_code=ExitCode.CHECK_FAILED,
            )
        if accuracy < min_accuracy:
            raise WorkshopError(
                f"smoke job {created.name}: accuracy {accuracy:.4f} is below {min_accuracy}",
                hint="check the data asset and the training code; --min-accuracy sets the bar",
                exit_code=ExitCode.CHECK_FAILED,
            )
        console.print(f"[green]smoke test passed[/]: accuracy {accuracy:.4f} >= {min_accuracy}")


def _finish(ses: Session, final: Any) -> None:
    """After --wait: the status, the metrics, and exit 1 unless the job completed."""
    from workshop.azure import jobs

    console.print(f"job {final.name} ended [bold]{final.status}[/]")
    json_report.record(status=str(final.status))
    if final.status != "Completed":
        raise WorkshopError(
            f"job {final.name} ended {final.status}",
            hint=f"read its logs in Studio: {final.studio_url}",
            exit_code=ExitCode.JOB_FAILED,
        )
    result = jobs.report(final, jobs.metrics_reader(ses))
    json_report.record(**_report_json(result))
    _print_report(result)
