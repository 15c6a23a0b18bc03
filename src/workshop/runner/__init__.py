"""`workshop run`: the job YAMLs under jobs/ run on this machine, unchanged.

The YAML is loaded with azure-ai-ml's own `load_job` (so it means what it means on Azure; a
warm run reads that load from `loadcache`), then `binding` turns `${{...}}` references into
values and local folders, `process` runs each command as a child process, `tracking` records
every run, trial and step as a nested MLflow run under `.workshop/`, and `report` prints the
outcome. `command`, `sweep` and `pipeline` hold the semantics of the three job types.
"""

from workshop.runner.jobs import RunOptions, run_job
from workshop.runner.records import RunRecord

__all__ = ["RunOptions", "RunRecord", "run_job"]
