"""Pipeline jobs: steps in dependency order, each step's outputs wired to the inputs that use them.

Steps run one after another (a sweep step runs its trials side by side). When a step fails, the
steps that need its outputs are skipped; the others still run only when
`settings.continue_on_step_failure` is true. The pipeline fails if any step failed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

from workshop.errors import ExitCode, WorkshopError
from workshop.jobspec.expressions import PARENT_OUTPUT, PARENT_REF
from workshop.jobspec.literals import bound_literal, problem
from workshop.runner import binding
from workshop.runner.command import RunContext, Task, component_task, job_timeout, run_tasks
from workshop.runner.records import FAILED, FINISHED, KILLED, Interrupted, RunRecord
from workshop.runner.sweep import run_sweep

console = Console(stderr=True)


def _reference(value: Any) -> str | None:
    text = value.get("path") if isinstance(value, dict) else value
    return text if isinstance(text, str) and PARENT_REF.match(text.strip()) else None


def check_literals(steps: dict[str, Any], parent_inputs: dict[str, Any], where: str) -> None:
    """Every literal a step's typed input gets, checked before the first step runs: on Azure a
    value of the wrong type, or outside the component's min/max/enum, fails the job (the rules
    and their sources: workshop.jobspec.literals); here it would run, or fail steps later."""
    for step_name, node in steps.items():
        declared = binding.spec_of_node(node).get("inputs") or {}
        for input_name, value in (node.get("inputs") or {}).items():
            spec = declared.get(input_name)
            known, literal = bound_literal(value, parent_inputs)
            broken = problem(literal, spec) if known and isinstance(spec, dict) else None
            if broken is not None:
                key = f"{where}: jobs.{step_name}.inputs.{input_name}"
                raise WorkshopError(
                    f"{key}: {literal!r} is {broken}, as the step's component declares "
                    f"input {input_name!r}; on Azure the job fails",
                    hint="give it a value the component allows (`workshop validate` lists "
                    "every such binding)",
                )


def dependencies(steps: dict[str, Any]) -> dict[str, set[str]]:
    """Step name -> the steps whose outputs it reads."""
    needs: dict[str, set[str]] = {}
    for name, node in steps.items():
        needs[name] = set()
        for value in (node.get("inputs") or {}).values():
            ref = _reference(value)
            match = PARENT_REF.match(ref.strip()) if ref else None
            if match and match["step"]:
                if match["step"] not in steps:
                    raise WorkshopError(
                        f"step {name}: an input reads step {match['step']!r}, which does not exist",
                        hint=f"steps: {', '.join(steps)}",
                    )
                needs[name].add(match["step"])
    return needs


def order(steps: dict[str, Any]) -> list[str]:
    """Steps so that every step comes after the ones it reads from (YAML order among equals)."""
    needs = dependencies(steps)
    done: list[str] = []
    while len(done) < len(steps):
        ready = [s for s in steps if s not in done and needs[s] <= set(done)]
        if not ready:
            cycle = ", ".join(s for s in steps if s not in done)
            raise WorkshopError(f"the steps {cycle} depend on each other in a cycle")
        done.append(ready[0])
    return done


class StepCannotStart(WorkshopError):
    """A step whose input another step did not make: it fails without running, as on Azure,
    and `continue_on_step_failure` decides whether the others still run."""

    def __init__(self, message: str, *, hint: str) -> None:
        super().__init__(message, hint=hint, exit_code=ExitCode.JOB_FAILED)


def run_pipeline(ctx: RunContext) -> RunRecord:
    spec = ctx.job.spec
    steps: dict[str, Any] = spec.get("jobs") or {}
    settings = spec.get("settings") or {}
    keep_going = bool(settings.get("continue_on_step_failure", False))
    sequence = order(steps)
    needs = dependencies(steps)
    parent_inputs = spec.get("inputs") or {}
    check_literals(steps, parent_inputs, ctx.job.path.name)

    record = RunRecord(ctx.job.path.stem, "pipeline", folder=str(ctx.folder))
    record.run_id = ctx.tracker.start(record.name, None, {"workshop.kind": "pipeline"})
    by_name: dict[str, RunRecord] = {}
    started = time.monotonic()
    stop = False

    def resolve(value: Any, where: str) -> str:
        ref = _reference(value)
        if ref is None:
            return ctx.resolve_input(value, where)
        match = PARENT_REF.match(ref.strip())
        assert match is not None
        if match["input"]:
            if match["input"] not in parent_inputs:
                raise WorkshopError(f"{where}: the pipeline has no input {match['input']!r}")
            return resolve(parent_inputs[match["input"]], f"inputs.{match['input']}")
        source = by_name[match["step"]]
        if match["output"] not in source.outputs:
            raise WorkshopError(
                f"{where}: step {match['step']} has no output {match['output']!r}",
                hint=f"its outputs: {', '.join(source.outputs) or 'none'}",
            )
        made = Path(source.outputs[match["output"]])
        if not made.exists():  # a folder output always exists; a uri_file one once written
            raise StepCannotStart(
                f"{where}: step {match['step']} finished without writing its output "
                f"{match['output']!r} ({made})",
                hint=f"a uri_file output is the file its command writes (`... > "
                f"${{{{outputs.{match['output']}}}}}`): make step {match['step']} write it",
            )
        # Another step's output is data like any other: Azure mounts it read-only for the step
        # that reads it (ro_mount, the default input mode), so it gets the run's copy here too.
        mode = value.get("mode") if isinstance(value, dict) else None
        return str(ctx.mounts.view(made, mode))

    try:
        for name in sequence:
            node = steps[name]
            failed_inputs = [d for d in needs[name] if not by_name[d].ok]
            if stop or failed_inputs:
                skipped = RunRecord(name, "step")
                skipped.error = (
                    f"skipped: needs {', '.join(sorted(failed_inputs))}, which did not finish"
                    if failed_inputs
                    else "skipped: an earlier step failed (continue_on_step_failure is false)"
                )
                by_name[name] = skipped
                record.children.append(skipped)
                continue
            try:
                step = _run_step(
                    ctx, name, node, resolve, ctx.folder / "steps" / name, record.run_id
                )
            except StepCannotStart as exc:  # failed as Azure fails it: the other steps go on
                console.print(f"[red]{name}[/]: {exc}", highlight=False, soft_wrap=True)
                step = RunRecord(name, "step", status=FAILED, error=f"{exc.args[0]}; {exc.hint}")
            by_name[name] = step
            record.children.append(step)
            if not step.ok and not keep_going:
                stop = True
    except Interrupted as exc:
        record.children.extend(r for r in exc.records if r not in record.children)
        record.status = KILLED
        record.seconds = time.monotonic() - started
        ctx.tracker.end(record.run_id, KILLED)
        raise Interrupted([record]) from None
    except Exception:  # a step that cannot start (WorkshopError): the pipeline's run ends too
        ctx.tracker.end(record.run_id, FAILED)
        raise
    record.seconds = time.monotonic() - started
    record.status = FINISHED if all(s.ok for s in record.children) else FAILED
    failed = [s.name for s in record.children if s.status == FAILED]
    if failed:
        record.error = f"step(s) failed: {', '.join(failed)}"
    for step_name, node in steps.items():
        for output, value in (node.get("outputs") or {}).items():
            text = value.get("path") if isinstance(value, dict) else value
            match = PARENT_OUTPUT.match(str(text or "").strip())
            step = by_name.get(step_name)
            if match and step and output in step.outputs:
                record.outputs[match["name"]] = step.outputs[output]
    ctx.tracker.end(record.run_id, record.status)
    return record


def _run_step(
    ctx: RunContext,
    name: str,
    node: dict[str, Any],
    resolve: Any,
    folder: Path,
    parent: str,
) -> RunRecord:
    kind = node.get("type", "command")
    where = f"{ctx.job.path.name}: jobs.{name}"
    component = binding.spec_of_node(node)
    given = dict(node.get("inputs") or {})
    env = {k: str(v) for k, v in (node.get("environment_variables") or {}).items()}
    if kind == "command":
        task = component_task(name, "step", component, given, resolve, f"{where}.inputs")
        task.env.update(env)
        task.timeout = job_timeout(node)
        [step] = run_tasks(ctx, [task], [folder], parent=parent)
        return step
    if kind == "sweep":

        def trial(params: dict[str, Any]) -> Task:
            # A pipeline sweep binds search-space values to the trial component's inputs.
            task = component_task(
                name, "trial", component, {**given, **params}, resolve, f"{where}.inputs"
            )
            task.values.update({f"search_space.{k}": binding.literal(v) for k, v in params.items()})
            task.env.update(env)
            return task

        step = run_sweep(ctx, name, node, trial, folder, parent, kind="sweep")
        return step
    raise WorkshopError(
        f"{where}: step type {kind!r} cannot run locally", hint="use command or sweep steps"
    )
