"""What a local run produced: one record per run, trial or step, nested like the MLflow runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# MLflow's terminal statuses, plus SKIPPED for steps and trials that never started.
FINISHED = "FINISHED"
FAILED = "FAILED"
KILLED = "KILLED"
SKIPPED = "SKIPPED"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM arrived; carries the records of what had run so far (children killed)."""

    def __init__(self, records: list[RunRecord]) -> None:
        super().__init__("interrupted")
        self.records = records


@dataclass
class RunRecord:
    """One run (job, trial or pipeline step) and its children."""

    name: str
    kind: str  # command | sweep | pipeline | trial | step
    status: str = SKIPPED
    run_id: str | None = None  # the MLflow run id
    folder: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    children: list[RunRecord] = field(default_factory=list)
    best: str | None = None  # sweeps: the name of the best trial
    experiment: str | None = None
    spans: list[tuple[float, float]] = field(default_factory=list, repr=False)
    """(start, end) monotonic seconds of this task's child process, if it ran one."""

    @property
    def process_seconds(self) -> float:
        """Wall time during which any process of this run (or of its trials/steps) ran; the rest
        of `seconds` is the runner's own time."""
        spans = sorted(span for record in self.walk() for span in record.spans)
        total, reach = 0.0, float("-inf")
        for start, end in spans:
            if end > reach:
                total += end - max(start, reach)
                reach = end
        return total

    def walk(self) -> list[RunRecord]:
        return [self, *(r for child in self.children for r in child.walk())]

    @property
    def ok(self) -> bool:
        return self.status == FINISHED

    def best_child(self) -> RunRecord | None:
        return next((c for c in self.children if c.name == self.best), None)

    def to_dict(self) -> dict[str, Any]:
        """The `--json` form: plain types only."""
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.kind,
            "status": self.status,
            "mlflow_run_id": self.run_id,
            "folder": self.folder,
            "seconds": round(self.seconds, 3),
            "process_seconds": round(self.process_seconds, 3),
            "metrics": self.metrics,
            "outputs": self.outputs,
        }
        if self.params:
            data["params"] = self.params
        if self.error:
            data["error"] = self.error
        if self.kind == "sweep":
            best = self.best_child()
            data["best_trial"] = (
                {"name": best.name, "params": best.params, "metrics": best.metrics}
                if best
                else None
            )
        if self.children:
            key = "trials" if self.kind == "sweep" else "steps"
            data[key] = [child.to_dict() for child in self.children]
        return data
