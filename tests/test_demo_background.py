"""The demo's train-logreg runs as a `workshop run` process of its own beside the kNN jobs:
leaving the phase early stops it (and the job it started), and its JSON report becomes a record."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.test_runner_interrupt import alive
from workshop.commands import demo

FIXTURES = Path(__file__).parent / "fixtures" / "runner"


@pytest.mark.timeout(150)
def test_leaving_the_phase_early_stops_the_background_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))
    log = tmp_path / "job.log"
    pid = None
    with pytest.raises(KeyboardInterrupt), demo._job_process(FIXTURES / "sleep.yml", log):
        deadline = time.monotonic() + 120
        while pid is None and time.monotonic() < deadline:
            found = [p for p in (tmp_path / "runs").rglob("pid") if p.read_text().strip()]
            pid = int(found[0].read_text()) if found else None
            time.sleep(0.2)
        assert pid is not None and alive(pid), log.read_text()
        raise KeyboardInterrupt  # as Ctrl-C during train-knn ends the phase
    assert pid is not None and not alive(pid), "the background job outlived the demo's phase"
    document = log.with_name(log.name + ".json").read_text()
    record = demo._record_from_json(document, FIXTURES / "sleep.yml", log)
    assert record.status == "KILLED"


def test_the_json_report_after_the_log_becomes_a_record(tmp_path: Path) -> None:
    document = {
        "job_type": "command",
        "experiment": "amls-learn-experiment",
        "name": "train-logreg",
        "type": "command",
        "status": "FINISHED",
        "mlflow_run_id": "abc",
        "folder": "/runs/x",
        "seconds": 12.5,
        "metrics": {"accuracy": 0.9261},
        "outputs": {"model": "/runs/x/outputs/model"},
        "params": {},
    }
    envelope = {"command": "run", "ok": True, "exit_code": 0, "error": None, "result": document}
    output = json.dumps(envelope, indent=2) + "\n"
    record = demo._record_from_json(output, Path("jobs/train-logreg.yml"), tmp_path / "log")
    assert (record.status, record.metrics, record.outputs["model"]) == (
        "FINISHED",
        {"accuracy": 0.9261},
        "/runs/x/outputs/model",
    )
    with pytest.raises(Exception, match="without its JSON report"):
        demo._record_from_json("Traceback ...\n", Path("jobs/train-logreg.yml"), tmp_path / "log")
    failed = {**envelope, "ok": False, "result": None, "error": {"message": "no such file"}}
    with pytest.raises(Exception, match="without its JSON report: no such file"):
        demo._record_from_json(json.dumps(failed), Path("jobs/train-logreg.yml"), tmp_path / "log")
